"""Fault: the Twilio side misbehaving during a dispatch: 500s, then 429s, then calls that
time out after Twilio accepted the message, and 21610 (opted out at the carrier) for
some numbers.

The minute of errors is compressed to 8 s of 500s and 8 s of 429s: a refused send is
retried after 5 s, 10 s, 20 s… whatever the length of the outage, so a longer one only
adds more refused tries of the same kind. Duration: about 1.5 minutes.
"""

from __future__ import annotations

import time as wall
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from faults_support import (
    Beat,
    expected_lessons,
    reconcile,
    sandbox_offset,
    unfinished_outbound,
    wait_until,
)
from flask import Flask

from dripper.clock import sandbox_clock
from dripper.drip.tick import tick
from dripper.extensions import db
from dripper.models import Course, Message, MessageKind, MessageStatus, Subscriber
from dripper_testkit.builders import bulk_due
from dripper_testkit.twilio_fake import FakeTwilio
from dripper_testkit.workers import BrokerSpace, Worker, start_worker

NINE_AM = datetime(2026, 3, 9, 9, 0, tzinfo=ZoneInfo("America/New_York"))
TOTAL = 200
OPTED_OUT = [f"+1202{n:07d}" for n in range(0, TOTAL, 20)]  # 10 numbers: 21610


pytestmark = pytest.mark.usefixtures("no_sending_state_left")


@pytest.fixture
def worker_settings(twilio_server: FakeTwilio) -> dict[str, Any]:
    return twilio_server.settings(
        SEND_RATE=1000.0, DELIVERY_STALE_AFTER=10, TWILIO_LOOKUP_DELAY=1.0, TWILIO_TIMEOUT=1.0
    )


@pytest.fixture
def app_config(drip_config: dict[str, Any]) -> dict[str, Any]:
    return drip_config


@pytest.mark.database("postgresql")
def test_twilio_errors_timeouts_and_opt_outs_during_a_dispatch_send_each_lesson_once(
    app: Flask,
    course: Course,
    app_config: dict[str, Any],
    broker: BrokerSpace,
    workers: list[Worker],
    twilio_server: FakeTwilio,
    worker_settings: dict[str, Any],
    tmp_path: Path,
) -> None:
    for number in OPTED_OUT:
        twilio_server.opt_out(number)
    with db.engine.begin() as connection:
        bulk_due(connection, course.id, TOTAL, NINE_AM)
    sandbox_clock().set(NINE_AM)
    workers.append(start_worker(app_config, broker, tmp_path, overrides=worker_settings))
    assert tick().claimed == TOTAL

    with Beat(app, period=2.0):
        wait_until(lambda: len(twilio_server.messages) >= 20, 60, "the dispatch never started")
        twilio_server.outage(500)
        wall.sleep(8)
        twilio_server.outage(429)
        wall.sleep(8)
        twilio_server.recover()
        # Accepted, but the answer comes after the client gave up.
        twilio_server.delay_next(3, count=5)
        wait_until(
            lambda: unfinished_outbound() == 0, 240, "the lessons did not all go out or fail"
        )

    refused = [r for r in twilio_server.sends() if r.at]  # every POST, accepted or not
    print(f"\n{len(refused)} send requests for {TOTAL} lessons")
    expected = {
        phone: bodies for phone, bodies in expected_lessons().items() if phone not in OPTED_OUT
    }
    assert len(expected) == TOTAL - len(OPTED_OUT)
    reconcile(twilio_server, expected, sandbox_offset=sandbox_offset()).check()
    # The carrier's opt-outs: nothing accepted, the lesson failed with 21610.
    db.session.rollback()
    failed = db.session.execute(
        sa.select(Subscriber.phone, Message.status, Message.error_code)
        .join(Subscriber, Subscriber.id == Message.subscriber_id)
        .where(Message.kind == MessageKind.LESSON, Subscriber.phone.in_(OPTED_OUT))
    ).all()
    assert sorted(failed) == [(phone, MessageStatus.FAILED, 21610) for phone in OPTED_OUT]
    assert not [m for m in twilio_server.messages if m.to in OPTED_OUT]
