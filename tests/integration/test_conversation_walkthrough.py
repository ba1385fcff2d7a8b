"""A person's whole conversation by SMS, as they would live it."""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from inbound_support import NUMBER, Handset, set_clock, webhook_config

from dripper.extensions import db
from dripper.models import (
    MessageKind,
    MessageStatus,
    SubscriberStatus,
    SubscriptionState,
)

NEW_YORK = ZoneInfo("America/New_York")
# Tuesday afternoon in New Jersey: today's 9:00 slot has gone, so lessons start tomorrow.
AFTERNOON = datetime(2026, 6, 2, 14, 0, tzinfo=NEW_YORK)


@pytest.fixture
def app_config(database_url: str, tmp_path: Path) -> dict[str, Any]:
    return webhook_config(database_url, tmp_path)


@pytest.fixture
def phone(client: FlaskClient, course: Any) -> Handset:
    set_clock(AFTERNOON)
    return Handset(client)


def kinds(messages: list[Any]) -> list[MessageKind]:
    return [m.kind for m in messages]


def test_join_confirm_help_stop_silence_and_start_again(phone: Handset, course: Any) -> None:
    phone.text("JOIN")
    [request] = phone.new_replies()
    assert request.kind is MessageKind.CONFIRMATION_REQUEST
    assert request.body == course.message("confirmation_request")
    assert request.status is MessageStatus.PENDING  # stored, queued for a worker
    subscriber = phone.subscriber()
    assert subscriber is not None
    assert subscriber.time_zones == ["America/New_York"]
    assert phone.subscription().state is SubscriptionState.PENDING  # type: ignore[union-attr]
    assert phone.subscription().source == "sms"  # type: ignore[union-attr]

    phone.text("yes")
    [welcome] = phone.new_replies()
    assert welcome.kind is MessageKind.WELCOME
    assert "starts tomorrow at 9:00 AM" in welcome.body
    assert phone.subscription().state is SubscriptionState.ACTIVE  # type: ignore[union-attr]

    phone.text("HELP")
    [help_reply] = phone.new_replies()
    assert help_reply.kind is MessageKind.HELP
    assert help_reply.body == course.message("help")

    phone.text("STOP")
    [goodbye] = phone.new_replies()
    assert goodbye.kind is MessageKind.STOP_CONFIRMATION
    assert phone.subscriber().status is SubscriberStatus.OPTED_OUT  # type: ignore[union-attr]
    assert phone.subscription().state is SubscriptionState.OPTED_OUT  # type: ignore[union-attr]

    for anything in ["are you still there?", "JOIN", "YES", "MORE", "PAUSE", "STOP", "RESIST"]:
        phone.text(anything)
    assert phone.new_replies() == []

    phone.text("START")
    [rejoin] = phone.new_replies()
    assert rejoin.kind is MessageKind.REJOIN
    assert phone.subscriber().status is SubscriberStatus.ACTIVE  # type: ignore[union-attr]
    assert phone.subscription().state is SubscriptionState.ACTIVE  # type: ignore[union-attr]


def test_every_inbound_text_is_kept_whatever_it_did(phone: Handset) -> None:
    for body in ["JOIN", "YES", "thanks!", "STOP", "hello?"]:
        phone.text(body)
    from dripper.models import Direction, Message

    db.session.expire_all()
    stored = db.session.scalars(
        sa.select(Message.body).where(Message.direction == Direction.INBOUND).order_by(Message.id)
    )
    assert list(stored) == ["JOIN", "YES", "thanks!", "STOP", "hello?"]


def test_logs_hold_no_full_numbers_and_no_message_text(
    app: Flask, phone: Handset, caplog: pytest.LogCaptureFixture
) -> None:
    secret_words = "my brother drinks too much"
    with caplog.at_level(logging.DEBUG, logger="dripper.webhooks"), caplog.at_level(logging.INFO):
        for body in ["JOIN", "YES", secret_words, "HELP", "TIME 7pm", "STOP", "START"]:
            phone.text(body)

    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert logged  # something was logged
    assert NUMBER not in logged and NUMBER[2:] not in logged
    assert secret_words not in logged
    for record in caplog.records:
        if record.levelno >= logging.INFO:
            for reply in phone.all_replies():
                assert reply.body not in record.getMessage()
