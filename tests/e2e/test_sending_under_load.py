"""Sending under load and after faults, through real workers, the real twilio client and
the local Twilio-compatible server: replies ahead of the day's burst, a timeout that
must not send twice, and lost deliveries found by the sandbox clock."""

from __future__ import annotations

import time as wall
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from inbound_support import inbound_params, post_signed, sign

from dripper.clock import sandbox_clock
from dripper.drip.tick import tick
from dripper.extensions import db
from dripper.models import (
    Course,
    DeliveryFailure,
    Direction,
    Message,
    MessageKind,
    MessageStatus,
    Subscriber,
)
from dripper.sms.delivery import replay_failure
from dripper.sms.outbox import queue_message
from dripper.sms.tasks import sweep_unsent
from dripper_testkit.builders import ALL_DAY, bulk_due
from dripper_testkit.twilio_fake import FakeTwilio
from dripper_testkit.workers import BrokerSpace, Worker, drain

STRANGER = "+12125550188"
STALE_AFTER = 120  # seconds: DELIVERY_STALE_AFTER in this module


@pytest.fixture
def worker_settings(request: pytest.FixtureRequest, twilio_server: FakeTwilio) -> dict[str, Any]:
    marker = request.node.get_closest_marker("sms_settings")
    extra = marker.kwargs if marker else {}
    return twilio_server.settings(
        **{"SEND_RATE": 1000.0, "DELIVERY_STALE_AFTER": STALE_AFTER, **extra}
    )


@pytest.fixture
def app_config(drip_config: dict[str, Any]) -> dict[str, Any]:
    return drip_config


@pytest.fixture(autouse=True)
def _no_sending_state_left(broker: BrokerSpace) -> None:
    """Send locks and sweep marks are keyed by message id: none from an earlier test."""
    keys = list(broker.client.scan_iter("dripper:sms:*"))
    if keys:
        broker.client.delete(*keys)


def text_in(client: FlaskClient, fake: FakeTwilio, phone: str, body: str) -> str:
    """An inbound SMS through the webhook, signed with the account's token, as Twilio does;
    returns the webhook's TwiML answer."""
    params = inbound_params(phone, body)
    signature = sign("/sms/inbound", params, token=fake.auth_token)
    response = post_signed(client, "/sms/inbound", params, signature=signature)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_data(as_text=True)


def wait_for(condition: Any, timeout: float = 60.0) -> None:
    deadline = wall.monotonic() + timeout
    while not condition():
        if wall.monotonic() > deadline:
            raise TimeoutError("the condition never held")
        wall.sleep(0.05)


@pytest.mark.sms_settings(SEND_RATE=5.0, SEND_RATE_REPLY_SHARE=0.2)
def test_replies_go_out_before_the_days_burst_has_finished(
    app: Flask,
    client: FlaskClient,
    course: Course,
    twilio_server: FakeTwilio,
    worker: Worker,
    broker: BrokerSpace,
) -> None:
    burst = 40  # eight seconds of lessons at 5 a second
    now = datetime.now(UTC)
    course.pacing = dict(ALL_DAY)
    db.session.commit()
    with db.engine.begin() as connection:
        bulk_due(connection, course.id, burst, now - timedelta(minutes=1))
    sandbox_clock().set(now)
    assert tick().claimed == burst
    wait_for(lambda: len(twilio_server.messages) >= 1)  # the burst has begun

    # HELP is answered in the webhook's own TwiML answer: no worker, no queue at all.
    answer = text_in(client, twilio_server, STRANGER, "HELP")
    assert "<Message" in answer, answer
    # A reply that goes through a worker (the JOIN's confirmation request) takes the
    # replies' queue and their share of the send rate, not a place behind the lessons.
    assert "<Message" not in text_in(client, twilio_server, STRANGER, "JOIN")
    drain(broker, timeout=120)

    sends = [request.params["To"] for request in twilio_server.sends()]
    assert len(sends) == burst + 1
    assert sends.count(STRANGER) == 1
    db.session.rollback()
    replies = {
        row.kind: row
        for row in db.session.scalars(
            sa.select(Message).where(
                Message.phone == STRANGER, Message.direction == Direction.OUTBOUND
            )
        )
    }
    assert set(replies) == {MessageKind.HELP, MessageKind.CONFIRMATION_REQUEST}
    assert replies[MessageKind.HELP].status is MessageStatus.TWIML
    assert replies[MessageKind.CONFIRMATION_REQUEST].provider_sid is not None
    # Ahead of the lessons still waiting: not the last, and not behind the burst.
    assert sends.index(STRANGER) < burst - 5, sends.index(STRANGER)


@pytest.mark.sms_settings(TWILIO_LOOKUP_DELAY=5.0)
def test_a_send_answered_after_the_timeout_and_listed_late_goes_out_once(
    app: Flask, twilio_server: FakeTwilio, worker: Worker, broker: BrokerSpace
) -> None:
    subscriber = Subscriber(phone=STRANGER, time_zones=["America/New_York"])
    db.session.add(subscriber)
    # Twilio takes the message but answers after the client's 1 s timeout, and its list
    # shows the message only 8 s later.
    twilio_server.delay_next(2.0, listed_after=8.0)
    message = queue_message(STRANGER, MessageKind.NOTICE, "Your lesson time is now 7pm.")
    db.session.commit()

    drain(broker, timeout=90)

    assert len(twilio_server.messages) == 1
    db.session.rollback()
    stored = db.session.get(Message, message.id)
    assert stored is not None
    assert stored.provider_sid == twilio_server.messages[0].sid
    # It was looked up twice before anything could have been sent again.
    assert len(twilio_server.lookups()) >= 3


@pytest.mark.sms_settings(TWILIO_LOOKUP_DELAY=5.0, DELIVERY_RETRY_FOR=0)
def test_a_replay_of_a_send_whose_answer_was_lost_is_looked_up_before_it_goes_again(
    app: Flask, twilio_server: FakeTwilio, worker: Worker, broker: BrokerSpace
) -> None:
    subscriber = Subscriber(phone=STRANGER, time_zones=["America/New_York"])
    db.session.add(subscriber)
    # Twilio takes the message but answers after the client's timeout, and lists it only
    # 4 s later; no retry time is left, so the message is given up at once.
    twilio_server.delay_next(2.0, listed_after=4.0)
    message = queue_message(STRANGER, MessageKind.NOTICE, "Your lesson time is now 7pm.")
    db.session.commit()
    drain(broker, timeout=60)
    db.session.rollback()
    [failure] = db.session.scalars(sa.select(DeliveryFailure)).all()
    assert failure.message.status is MessageStatus.FAILED

    # The admin replays it: the replay clears its error, not what is known of its last
    # attempt, so it is looked up (again, a lookup delay later) instead of sent twice.
    replay_failure(failure.id)
    drain(broker, timeout=60)

    assert len(twilio_server.messages) == 1
    db.session.rollback()
    stored = db.session.get(Message, message.id)
    assert stored is not None
    assert stored.provider_sid == twilio_server.messages[0].sid


def test_in_sandbox_mode_a_lost_delivery_is_swept_by_the_sandbox_clock(
    app: Flask, twilio_server: FakeTwilio, worker: Worker, broker: BrokerSpace
) -> None:
    # The sandbox clock is days ahead of the real one; rows carry its time.
    sandbox_clock().set(datetime.now(UTC) + timedelta(days=3))
    lesson_time = sandbox_clock().now()
    # A lesson whose delivery task was lost (a worker killed, a broker that lost it).
    db.session.add(
        Message(
            direction=Direction.OUTBOUND,
            kind=MessageKind.LESSON,
            phone=STRANGER,
            body="Day 2: notice one thing you resist today.",
            status=MessageStatus.PENDING,
            created_at=lesson_time,
        )
    )
    db.session.commit()
    assert sweep_unsent.apply().get() == 0  # not stale yet

    sandbox_clock().advance(timedelta(seconds=STALE_AFTER + 60))
    assert sweep_unsent.apply().get() == 1
    assert sweep_unsent.apply().get() == 0  # queued once
    drain(broker)

    assert [m.to for m in twilio_server.messages] == [STRANGER]
    db.session.rollback()
    [row] = db.session.scalars(sa.select(Message)).all()
    assert row.provider_sid == twilio_server.messages[0].sid
