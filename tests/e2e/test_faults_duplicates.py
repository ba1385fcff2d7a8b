"""Faults: the same inbound webhook delivered three times at once, and status callbacks
that arrive out of order.

Three threads post the same signed webhook (one MessageSid) at the same moment, on
PostgreSQL (where the requests really run in parallel). The text is stored and acted on
once, and the reply a worker sends for it reaches the local Twilio-compatible server
once. Status callbacks in the wrong order never move a message back.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from faults_support import expected_outbound, reconcile, sandbox_offset, text_in
from flask import Flask

from dripper.extensions import db
from dripper.models import Course, Direction, Message, MessageStatus, Subscriber, Subscription
from dripper_testkit.builders import add_person, new_sid
from dripper_testkit.twilio_fake import FakeTwilio
from dripper_testkit.workers import BrokerSpace, Worker, drain, start_worker

MEMBER = "+12015550140"
STRANGER = "+12015550141"


pytestmark = pytest.mark.usefixtures("no_sending_state_left")


@pytest.fixture
def worker_settings(twilio_server: FakeTwilio) -> dict[str, Any]:
    # The worker signs its status callback URLs with the app's public URL.
    return twilio_server.settings(SEND_RATE=1000.0, PUBLIC_URL="https://dripper.test")


@pytest.fixture
def app_config(drip_config: dict[str, Any]) -> dict[str, Any]:
    return drip_config


def three_at_once(app: Flask, fake: FakeTwilio, phone: str, body: str) -> list[int]:
    """The same signed webhook (one MessageSid) posted by three threads at the same moment."""
    sid, barrier = new_sid(), threading.Barrier(3)
    statuses: list[int] = []

    def post() -> None:
        client = app.test_client()
        barrier.wait(10)
        statuses.append(text_in(client, fake, phone, body, sid).status_code)

    threads = [threading.Thread(target=post) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return statuses


def inbound_rows(phone: str) -> int:
    db.session.rollback()
    return (
        db.session.scalar(
            sa.select(sa.func.count())
            .select_from(Message)
            .join(Subscriber, Subscriber.id == Message.subscriber_id)
            .where(Subscriber.phone == phone, Message.direction == Direction.INBOUND)
        )
        or 0
    )


@pytest.mark.database("postgresql")
def test_the_same_webhook_three_times_at_once_is_acted_on_and_answered_once(
    app: Flask,
    course: Course,
    broker: BrokerSpace,
    workers: list[Worker],
    twilio_server: FakeTwilio,
    worker_settings: dict[str, Any],
    app_config: dict[str, Any],
    tmp_path: Path,
) -> None:
    add_person(course, MEMBER, due=datetime.now(UTC) + timedelta(days=1))
    db.session.commit()
    workers.append(start_worker(app_config, broker, tmp_path, overrides=worker_settings))

    # A subscriber's command, and a stranger's join (which creates their rows).
    assert three_at_once(app, twilio_server, MEMBER, "PAUSE") == [200, 200, 200]
    assert three_at_once(app, twilio_server, STRANGER, course.keyword) == [200, 200, 200]
    drain(broker, timeout=60)

    assert inbound_rows(MEMBER) == inbound_rows(STRANGER) == 1
    db.session.rollback()
    assert (
        db.session.scalar(
            sa.select(sa.func.count()).select_from(Subscriber).where(Subscriber.phone == STRANGER)
        )
        == 1
    )
    assert (
        db.session.scalar(
            sa.select(sa.func.count())
            .select_from(Subscription)
            .join(Subscriber)
            .where(Subscriber.phone == STRANGER)
        )
        == 1
    )
    expected = expected_outbound([MEMBER, STRANGER])
    assert expected[MEMBER] and expected[STRANGER], "each text was answered"
    reconcile(twilio_server, expected, sandbox_offset=sandbox_offset()).check()


def test_status_callbacks_out_of_order_never_move_a_message_back(
    app: Flask,
    client: Any,
    course: Course,
    broker: BrokerSpace,
    workers: list[Worker],
    twilio_server: FakeTwilio,
    worker_settings: dict[str, Any],
    app_config: dict[str, Any],
    tmp_path: Path,
) -> None:
    add_person(course, MEMBER, due=datetime.now(UTC) + timedelta(days=1))
    db.session.commit()
    workers.append(start_worker(app_config, broker, tmp_path, overrides=worker_settings))
    assert text_in(client, twilio_server, MEMBER, "PAUSE").status_code == 200
    drain(broker, timeout=60)
    [sent] = twilio_server.sent_to(MEMBER)

    # Twilio posts each callback once, in any order: delivered arrives first.
    for status in ("delivered", "sent", "queued", "sending"):
        response = twilio_server.callback(sent.sid, status, to=client)
        assert response.status_code in (200, 204)
    db.session.rollback()
    row = db.session.scalar(sa.select(Message).where(Message.provider_sid == sent.sid))
    assert row is not None and row.status == MessageStatus.DELIVERED
    reconcile(twilio_server, expected_outbound([MEMBER]), sandbox_offset=sandbox_offset()).check()
