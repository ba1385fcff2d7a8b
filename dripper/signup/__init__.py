"""The public landing page and web signup form (double opt-in by SMS)."""

from flask import Blueprint

bp = Blueprint("signup", __name__, template_folder="templates")

from dripper.signup import routes  # noqa: E402, F401 - registers the views on bp
