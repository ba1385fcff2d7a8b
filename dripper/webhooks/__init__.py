"""Twilio's webhooks: inbound messages and delivery status callbacks (``/sms/…``)."""

from dripper.webhooks import routes  # noqa: F401 - registers the views on bp
from dripper.webhooks.blueprint import bp

__all__ = ["bp"]
