"""The ``webhooks`` blueprint; its views register themselves on it."""

from flask import Blueprint

bp = Blueprint("webhooks", __name__, url_prefix="/sms")
