"""Choosing and building senders: console for development, Twilio's client otherwise."""

from __future__ import annotations

from datetime import datetime

import pytest

from dripper.config import ConfigError
from dripper.sms.console import ConsoleSender
from dripper.sms.senders import build_sender
from dripper.sms.twilio_sender import TwilioSender

PHONE = "+15005550123"
TWILIO = {
    "SMS_BACKEND": "twilio",
    "TWILIO_ACCOUNT_SID": "AC" + "1" * 32,
    "TWILIO_AUTH_TOKEN": "secret",
    "TWILIO_FROM_NUMBER": "+15005550006",
    "PUBLIC_URL": "https://dripper.example",
}


def test_console_sender_never_has_a_lost_outcome() -> None:
    assert ConsoleSender().find_sent(PHONE, "hi", datetime.now().astimezone()) is None


def test_twilio_backend_needs_credentials_and_a_sender() -> None:
    with pytest.raises(ConfigError, match="TWILIO_AUTH_TOKEN"):
        build_sender({**TWILIO, "TWILIO_AUTH_TOKEN": None})
    with pytest.raises(ConfigError, match="TWILIO_FROM_NUMBER or TWILIO_MESSAGING_SERVICE_SID"):
        build_sender({**TWILIO, "TWILIO_FROM_NUMBER": None})


def test_official_client_is_pointed_at_the_configured_api_url(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Region/edge in the environment would make the library rewrite the host.
    monkeypatch.setenv("TWILIO_REGION", "ie1")
    sender = build_sender({**TWILIO, "TWILIO_API_URL": "http://127.0.0.1:9/"})

    assert isinstance(sender, TwilioSender)
    assert sender.client.api.base_url == "http://127.0.0.1:9"
    url = sender.client.api.absolute_url("/2010-04-01/Accounts/AC1/Messages.json")
    assert sender.client.get_hostname(url) == url
    assert sender.status_callback == "https://dripper.example/sms/status"


def test_rate_key_is_the_sending_identity() -> None:
    assert build_sender(TWILIO).rate_key == "+15005550006"
    service = "MG" + "2" * 32
    both = build_sender({**TWILIO, "TWILIO_MESSAGING_SERVICE_SID": service})
    assert both.rate_key == service
    assert build_sender({"SMS_BACKEND": "console"}).rate_key == "console"
