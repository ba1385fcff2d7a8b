"""The sandbox: tools for demos and tests, only served with DRIPPER_SANDBOX=1."""

from flask import Blueprint

bp = Blueprint(
    "sandbox",
    __name__,
    url_prefix="/sandbox",
    template_folder="templates",
    # The dev phone's CSS and JS ship with the package: no CDN, works offline.
    static_folder="static",
    static_url_path="/static",
)

from dripper.sandbox import phone_routes, routes  # noqa: E402, F401 - registers the views on bp
