"""Senders in an app: the console backend records a send, one sender per app, SMS_SENDER."""

from __future__ import annotations

import logging
from collections.abc import Container
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from conftest import make_config
from fixtures_twilio import SMS_REDIS_URL
from flask import Flask

from dripper import create_app
from dripper.extensions import db
from dripper.models import Message, MessageKind, MessageStatus
from dripper.sms.base import SendResult
from dripper.sms.outbox import queue_message
from dripper.sms.senders import get_sender
from dripper.sms.tasks import deliver

PHONE = "+15005550123"
TWILIO = {
    "SMS_BACKEND": "twilio",
    "TWILIO_ACCOUNT_SID": "AC" + "1" * 32,
    "TWILIO_AUTH_TOKEN": "secret",
    "TWILIO_FROM_NUMBER": "+15005550006",
    "PUBLIC_URL": "https://dripper.example",
}


@pytest.fixture
def app_config(database_url: str, tmp_path: Path, sms_redis: Any) -> dict[str, Any]:
    return make_config(database_url, tmp_path, REDIS_URL=SMS_REDIS_URL, SEND_RATE=1000.0)


class RecordingSender:
    """A sender of the test's own, plugged in through SMS_SENDER."""

    rate_key = "recording"

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    def send(self, to: str, body: str, *, status_callback: str | None = None) -> SendResult:
        self.sent.append((to, body))
        return SendResult(sid=f"SM{len(self.sent):032d}", status="queued")

    def find_sent(
        self, to: str, body: str, since: datetime, *, exclude: Container[str] = ()
    ) -> SendResult | None:
        return None


def test_console_backend_records_message_as_sent(
    app: Flask,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    assert app.config["SMS_BACKEND"] == "console"
    message = queue_message(PHONE, MessageKind.HELP, "dripper: daily lessons. STOP to end.")
    db.session.commit()

    assert deliver.apply(args=[message.id]).get() == "sent"

    db.session.expire_all()
    stored = db.session.get(Message, message.id)
    assert stored is not None
    assert stored.status is MessageStatus.SENT
    assert stored.provider_sid is not None and stored.provider_sid.startswith("CO")
    assert len(stored.provider_sid) == 34
    printed = capsys.readouterr().out
    assert "to •••0123: dripper: daily lessons. STOP to end." in printed
    assert PHONE not in printed
    assert not [r for r in caplog.records if "daily lessons" in r.getMessage()]


def test_sender_is_built_once_per_app(app: Flask) -> None:
    assert get_sender(app) is get_sender()


def test_a_sender_given_in_the_configuration_is_used(tmp_path: Path, sms_redis: Any) -> None:
    sender = RecordingSender()
    app = create_app(
        {
            "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
            "SECRET_KEY": "x",
            "REDIS_URL": SMS_REDIS_URL,
            "SEND_RATE": 1000.0,
            "SMS_SENDER": sender,
        }
    )
    with app.app_context():
        db.create_all()
        message = queue_message(PHONE, MessageKind.NOTICE, "hello")
        db.session.commit()
        assert get_sender() is sender
        assert deliver.apply(args=[message.id]).get() == "sent"
    assert sender.sent == [(PHONE, "hello")]
