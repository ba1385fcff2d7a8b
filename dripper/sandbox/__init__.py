"""The sandbox: tools for demos and tests, only served with DRIPPER_SANDBOX=1."""

from flask import Blueprint

bp = Blueprint("sandbox", __name__, url_prefix="/sandbox", template_folder="templates")

from dripper.sandbox import routes  # noqa: E402, F401 - registers the views on bp
