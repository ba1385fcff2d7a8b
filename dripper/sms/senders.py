"""Which sender this app uses: chosen by SMS_BACKEND, built once per app."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask, current_app

from dripper.config import DEFAULTS, ConfigError
from dripper.sms.base import Sender
from dripper.sms.console import ConsoleSender
from dripper.sms.twilio_sender import DEFAULT_API_URL, TwilioSender

_EXTENSION = "dripper.sms.sender"

#: The path Twilio POSTs status callbacks to (docs/INTERFACE.md: HTTP).
STATUS_CALLBACK_PATH = "/sms/status"


def get_sender(app: Flask | None = None) -> Sender:
    """The app's sender, built on first use and kept in ``app.extensions``.

    ``SMS_SENDER`` in the app's configuration, when given, is used as is: that is how a
    caller (a test, a staging script) plugs in a sender object of its own.
    """
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    sender = app.extensions.get(_EXTENSION)
    if sender is None:
        sender = app.config.get("SMS_SENDER") or build_sender(app.config)
        app.extensions[_EXTENSION] = sender
    return sender


def build_sender(config: Mapping[str, Any]) -> Sender:
    """A new sender for these settings (``SMS_BACKEND``: ``console`` or ``twilio``)."""
    backend = config.get("SMS_BACKEND") or "console"
    if backend == "console":
        return ConsoleSender()
    if backend == "twilio":
        missing = [
            name for name in ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN") if not config.get(name)
        ]
        if not (config.get("TWILIO_FROM_NUMBER") or config.get("TWILIO_MESSAGING_SERVICE_SID")):
            missing.append("TWILIO_FROM_NUMBER or TWILIO_MESSAGING_SERVICE_SID")
        if missing:
            raise ConfigError(f"SMS_BACKEND=twilio needs {', '.join(missing)}")
        return TwilioSender(
            config["TWILIO_ACCOUNT_SID"],
            config["TWILIO_AUTH_TOKEN"],
            from_number=config.get("TWILIO_FROM_NUMBER"),
            messaging_service_sid=config.get("TWILIO_MESSAGING_SERVICE_SID"),
            api_url=config.get("TWILIO_API_URL") or DEFAULT_API_URL,
            status_callback=status_callback_url(config),
            timeout=float(config.get("TWILIO_TIMEOUT") or DEFAULTS["TWILIO_TIMEOUT"]),
        )
    raise ConfigError(f"SMS_BACKEND must be twilio or console, not {backend!r}")


def status_callback_url(config: Mapping[str, Any]) -> str:
    """Where Twilio reports on our messages: PUBLIC_URL + /sms/status."""
    return str(config.get("PUBLIC_URL") or "").rstrip("/") + STATUS_CALLBACK_PATH
