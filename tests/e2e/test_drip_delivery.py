"""The day's lessons through real workers and the real twilio client, against a
Twilio-compatible server that throttles, fails and answers too late."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from flask import Flask

from dripper.clock import sandbox_clock
from dripper.drip.tick import tick
from dripper.extensions import db
from dripper.models import Course, Message, MessageKind, MessageStatus
from dripper_testkit.builders import add_person
from dripper_testkit.twilio_fake import FakeTwilio
from dripper_testkit.workers import BrokerSpace, Worker, drain

NEW_YORK = ZoneInfo("America/New_York")
NINE_AM = datetime(2026, 3, 9, 9, 0, tzinfo=NEW_YORK)
PHONES = [f"+1212555{n:04d}" for n in range(6)]


@pytest.fixture
def worker_settings(twilio_server: FakeTwilio) -> dict[str, Any]:
    # SEND_RATE high: the shared limiter is not what this test is about.
    return twilio_server.settings(SEND_RATE=1000.0)


@pytest.fixture
def app_config(drip_config: dict[str, Any]) -> dict[str, Any]:
    return drip_config


def test_throttling_errors_and_an_ambiguous_timeout_still_send_each_lesson_once(
    app: Flask, course: Course, twilio_server: FakeTwilio, worker: Worker, broker: BrokerSpace
) -> None:
    sandbox_clock().set(NINE_AM)
    for phone in PHONES:
        add_person(course, phone, due=NINE_AM)
    db.session.commit()
    twilio_server.throttle_next(2)  # 429 / 20429
    twilio_server.server_error_next(1)  # 500
    twilio_server.delay_next(2.0)  # accepted, but answered after the client's timeout

    assert tick().claimed == len(PHONES)
    drain(broker, timeout=120)  # retries wait a few seconds each (backoff)

    for phone in PHONES:
        assert len(twilio_server.sent_to(phone)) == 1, phone
    db.session.rollback()
    lessons = list(db.session.scalars(sa.select(Message).where(Message.kind == MessageKind.LESSON)))
    assert len(lessons) == len(PHONES)
    # Accepted by the provider (a create answers "queued"; a reconciled lookup, "sent").
    assert {m.status for m in lessons} <= {MessageStatus.QUEUED, MessageStatus.SENT}
    assert {m.provider_sid for m in lessons} == {m.sid for m in twilio_server.messages}
    # Three refusals were tried again; the ambiguous one was looked up, not re-sent.
    assert len(twilio_server.sends()) == len(PHONES) + 3
    assert twilio_server.lookups()
