"""The ``signup`` blueprint; its views register themselves on it."""

from flask import Blueprint

bp = Blueprint("signup", __name__, template_folder="templates")
