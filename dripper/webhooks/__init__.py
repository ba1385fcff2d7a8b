"""Twilio's webhooks: inbound messages and delivery status callbacks (``/sms/…``)."""

from flask import Blueprint

bp = Blueprint("webhooks", __name__, url_prefix="/sms")

from dripper.webhooks import routes  # noqa: E402, F401 - registers the views on bp
