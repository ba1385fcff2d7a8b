"""Twilio's request signature, checked against the public URL Twilio called.

Behind a proxy or TLS terminator ``request.url`` is not the URL Twilio signed, so the
URL is rebuilt from PUBLIC_URL. Requests signed with a Webhooks SharedKey (they carry
``X-Twilio-Webhooks-Signature-Settings``) are checked with that key's secret and
algorithm instead of the Auth Token.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any, TypeVar

from flask import abort, current_app, request
from twilio.request_validator import (
    SIGNATURE_HEADER,
    SIGNATURE_SETTINGS_HEADER,
    RequestValidator,
    get_signature_algorithm,
)

log = logging.getLogger(__name__)

View = TypeVar("View", bound=Callable[..., Any])


def public_url() -> str:
    """The URL Twilio requested: PUBLIC_URL, the path and any query string it was given."""
    url = current_app.config["PUBLIC_URL"].rstrip("/") + request.path
    if request.query_string:
        url += "?" + request.query_string.decode("latin-1")
    return url


def is_signed_by_twilio() -> bool:
    """Whether the current request carries a valid Twilio signature."""
    signature = request.headers.get(SIGNATURE_HEADER)
    if not signature:
        return False
    settings = request.headers.get(SIGNATURE_SETTINGS_HEADER)
    if settings:
        secret = current_app.config.get("TWILIO_WEBHOOK_SHARED_KEY")
        if not secret:
            log.error(
                "a webhook signed with a Twilio SharedKey arrived, "
                "but TWILIO_WEBHOOK_SHARED_KEY is not set: refused"
            )
            return False
    else:
        secret = current_app.config.get("TWILIO_AUTH_TOKEN")
        if not secret and current_app.config.get("DRIPPER_SANDBOX"):
            # The dev phone's token (dripper.sandbox.phone): never honoured outside
            # the sandbox, whatever the settings carry.
            secret = current_app.config.get("SANDBOX_AUTH_TOKEN")
        if not secret:
            # Fail closed: without the token nobody can prove the request is Twilio's.
            log.error("TWILIO_AUTH_TOKEN is not set: every webhook is refused")
            return False
    validator = RequestValidator(secret)
    return bool(
        validator.validate(public_url(), request.form, signature, get_signature_algorithm(settings))
    )


def twilio_signed(view: View) -> View:
    """Refuse (403) a request without a valid Twilio signature, before reading anything."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if not is_signed_by_twilio():
            log.warning("webhook %s refused: missing or wrong signature", request.path)
            abort(403)
        return view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]
