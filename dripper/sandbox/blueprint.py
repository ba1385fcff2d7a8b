"""The ``sandbox`` blueprint; its views register themselves on it."""

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
