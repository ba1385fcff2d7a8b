"""Fault: a STOP arrives while that person's lesson is already on its way in a chunk.

Two moments, both before any worker runs: the drip's chunk task is queued (the person is
claimed, their lesson not yet written), and the lesson is written and its chunk delivery
queued. Then a real worker runs everything queued. Neither person's lesson is sent, and
everyone else's goes out once (reconciled against the local Twilio-compatible server).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from faults_support import expected_lessons, reconcile, sandbox_offset, text_in
from flask import Flask
from flask.testing import FlaskClient

from dripper.clock import now, sandbox_clock
from dripper.drip.tasks import perform_many
from dripper.drip.tick import tick
from dripper.extensions import db
from dripper.models import Course, Message, MessageKind, MessageStatus, Subscriber, Subscription
from dripper_testkit.builders import bulk_due
from dripper_testkit.twilio_fake import FakeTwilio
from dripper_testkit.workers import BrokerSpace, Worker, drain, start_worker

NINE_AM = datetime(2026, 3, 9, 9, 0, tzinfo=ZoneInfo("America/New_York"))
TOTAL = 30
CLAIMED_ONLY = "+12020000000"  # says STOP while claimed, before the lesson is written
WRITTEN = "+12020000001"  # says STOP after the lesson was written and its chunk queued


pytestmark = pytest.mark.usefixtures("no_sending_state_left")


@pytest.fixture
def worker_settings(twilio_server: FakeTwilio) -> dict[str, Any]:
    return twilio_server.settings(SEND_RATE=1000.0)


@pytest.fixture
def app_config(drip_config: dict[str, Any]) -> dict[str, Any]:
    return drip_config


def lesson_of(phone: str) -> Message | None:
    db.session.rollback()
    return db.session.scalar(
        sa.select(Message)
        .join(Subscriber, Subscriber.id == Message.subscriber_id)
        .where(Subscriber.phone == phone, Message.kind == MessageKind.LESSON)
    )


def test_a_stop_while_the_lesson_is_queued_in_a_chunk_means_the_lesson_is_not_sent(
    app: Flask,
    client: FlaskClient,
    course: Course,
    app_config: dict[str, Any],
    broker: BrokerSpace,
    workers: list[Worker],
    twilio_server: FakeTwilio,
    worker_settings: dict[str, Any],
    tmp_path: Path,
) -> None:
    with db.engine.begin() as connection:
        bulk_due(connection, course.id, TOTAL, NINE_AM)
    sandbox_clock().set(NINE_AM)
    assert tick().claimed == TOTAL  # the drip's chunk tasks wait in the broker

    stopped_at = {}
    response = text_in(client, twilio_server, CLAIMED_ONLY, "STOP")
    assert response.status_code == 200
    stopped_at[CLAIMED_ONLY] = now()

    # Everyone else's lessons written and their chunk deliveries queued (what the drip's
    # chunk task does), still no worker: then the second person says STOP.
    db.session.rollback()
    token = db.session.scalar(
        sa.select(Subscription.claim_token).where(Subscription.claim_token.is_not(None))
    )
    assert token is not None
    others = list(
        db.session.scalars(
            sa.select(Subscription.id)
            .join(Subscriber)
            .where(Subscriber.phone != CLAIMED_ONLY)
            .order_by(Subscription.id)
        )
    )
    perform_many(others, token)
    queued = lesson_of(WRITTEN)
    assert queued is not None and queued.status == MessageStatus.PENDING
    response = text_in(client, twilio_server, WRITTEN, "STOP")
    assert response.status_code == 200
    stopped_at[WRITTEN] = now()

    workers.append(start_worker(app_config, broker, tmp_path, overrides=worker_settings))
    drain(broker, timeout=90)

    assert lesson_of(CLAIMED_ONLY) is None
    not_sent = lesson_of(WRITTEN)
    assert not_sent is not None and not_sent.status != MessageStatus.SENT
    assert twilio_server.sent_to(CLAIMED_ONLY) == twilio_server.sent_to(WRITTEN) == []

    expected = {
        phone: bodies
        for phone, bodies in expected_lessons().items()
        if phone not in (CLAIMED_ONLY, WRITTEN)
    }
    assert len(expected) == TOTAL - 2
    reconcile(
        twilio_server, expected, sandbox_offset=sandbox_offset(), stopped_at=stopped_at
    ).check()
