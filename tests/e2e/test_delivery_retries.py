"""An outage of the provider, through real workers, the real twilio client and the sandbox
clock: lessons wait on their rows through hours of refusals and through the night, go out
once when the provider is back, and a lesson that finally failed is sent again at the next
daily slot."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from drip_support import SandboxRun
from flask import Flask

from dripper.clock import now, sandbox_clock
from dripper.drip.tasks import perform_many
from dripper.drip.tick import claim_batch, tick
from dripper.extensions import db
from dripper.models import (
    Course,
    DeliveryFailure,
    Message,
    MessageKind,
    MessageStatus,
    Subscription,
)
from dripper.sms.tasks import retry_due
from dripper_testkit.builders import add_person
from dripper_testkit.twilio_fake import FakeTwilio
from dripper_testkit.workers import BrokerSpace, Worker, drain, start_worker

NEW_YORK = ZoneInfo("America/New_York")
NINE_AM = datetime(2026, 3, 9, 9, 0, tzinfo=NEW_YORK)
FIVE_TO_NINE_PM = datetime(2026, 3, 9, 20, 55, tzinfo=NEW_YORK)
NEXT_MORNING = datetime(2026, 3, 10, 8, 0, tzinfo=NEW_YORK)  # the course's window opens at 8
PHONE = "+12125550100"


@pytest.fixture
def worker_settings(request: pytest.FixtureRequest, twilio_server: FakeTwilio) -> dict[str, Any]:
    # A first wait of 5-10 minutes: every retry waits on its row (none in the broker),
    # so the sandbox clock, not the wall clock, decides when it comes.
    marker = request.node.get_closest_marker("sms_settings")
    extra = marker.kwargs if marker else {}
    return twilio_server.settings(SEND_RATE=1000.0, DELIVERY_RETRY_BASE=600.0, **extra)


@pytest.fixture
def app_config(drip_config: dict[str, Any]) -> dict[str, Any]:
    return drip_config


def lessons(phone: str = PHONE) -> list[Message]:
    db.session.rollback()  # read what the workers committed
    return list(
        db.session.scalars(
            sa.select(Message)
            .where(Message.phone == phone, Message.kind == MessageKind.LESSON)
            .order_by(Message.id)
        )
    )


def retry_when_due(message: Message, broker: BrokerSpace) -> None:
    """Move the clock to the message's next attempt and run the retry sweep, as beat would."""
    assert message.retry_at is not None, "the message waits on its row"
    sandbox_clock().set(message.retry_at + timedelta(seconds=1))
    assert retry_due.apply().get() == 1
    drain(broker)


def local(when: datetime | None) -> datetime:
    assert when is not None
    return when.astimezone(NEW_YORK)


def test_a_lesson_refused_for_hours_goes_out_once_when_the_provider_is_back(
    app: Flask, course: Course, twilio_server: FakeTwilio, worker: Worker, broker: BrokerSpace
) -> None:
    sandbox_clock().set(NINE_AM)
    add_person(course, PHONE, due=NINE_AM)
    db.session.commit()
    twilio_server.outage(500)

    assert tick().claimed == 1
    drain(broker)
    for _ in range(4):  # most of an hour of refusals (5xx, then 429), each retried later
        [lesson] = lessons()
        assert lesson.status is MessageStatus.PENDING
        retry_when_due(lesson, broker)
        twilio_server.outage(429)
    [lesson] = lessons()
    assert lesson.status is MessageStatus.PENDING
    assert now() - NINE_AM > timedelta(minutes=40)  # the old give-up came after ~5 minutes
    assert lesson.attempts == len(twilio_server.sends()) == 5

    twilio_server.recover()
    retry_when_due(lesson, broker)

    [lesson] = lessons()
    [sent] = twilio_server.sent_to(PHONE)
    assert lesson.provider_sid == sent.sid
    assert lesson.status in {MessageStatus.QUEUED, MessageStatus.SENT}
    assert db.session.scalars(sa.select(DeliveryFailure)).all() == []
    assert retry_due.apply().get() == 0  # nothing left waiting


@pytest.mark.sms_settings(DELIVERY_RETRY_FOR=3600)
def test_a_lesson_whose_retries_ran_out_is_sent_again_at_the_next_daily_slot(
    app: Flask, course: Course, twilio_server: FakeTwilio, worker: Worker, broker: BrokerSpace
) -> None:
    sandbox_clock().set(NINE_AM)
    subscription = add_person(course, PHONE, due=NINE_AM)
    db.session.commit()
    first, second = course.lessons[0], course.lessons[1]
    twilio_server.outage(500)

    tick()
    drain(broker)
    while (lesson := lessons()[0]).status is MessageStatus.PENDING:
        retry_when_due(lesson, broker)
    assert lesson.status is MessageStatus.FAILED
    assert lesson.lesson_id == first.id
    twilio_server.recover()

    # The day goes on: no question about a lesson that never arrived; the next morning's
    # slot sends the same lesson again, once.
    SandboxRun(broker).until(NINE_AM + timedelta(days=1, minutes=30))

    [lesson] = lessons()
    [sent] = twilio_server.messages
    assert (sent.to, sent.body) == (PHONE, first.text)
    assert lesson.provider_sid == sent.sid
    assert local(lesson.sent_at).date() == (NINE_AM + timedelta(days=1)).date()
    assert not db.session.scalars(
        sa.select(Message).where(Message.kind == MessageKind.QUESTION)
    ).all()
    refreshed = db.session.get(Subscription, subscription.id)
    assert refreshed is not None and refreshed.last_lesson_id == first.id
    assert second.id not in {m.lesson_id for m in lessons()}
    [failure] = db.session.scalars(sa.select(DeliveryFailure)).all()
    assert failure.replayed_at is not None  # sent again: no longer listed as failed


def test_a_lesson_refused_at_8_55_pm_waits_for_the_next_morning_not_the_night(
    app: Flask, course: Course, twilio_server: FakeTwilio, worker: Worker, broker: BrokerSpace
) -> None:
    sandbox_clock().set(FIVE_TO_NINE_PM)
    add_person(course, PHONE, due=FIVE_TO_NINE_PM)
    db.session.commit()
    twilio_server.outage(500)  # until 21:10

    tick()
    drain(broker)
    sandbox_clock().set(FIVE_TO_NINE_PM + timedelta(minutes=15))
    twilio_server.recover()
    for _ in range(10):  # beat sweeps all night: nothing is due before the morning
        assert retry_due.apply().get() == 0
        sandbox_clock().advance(timedelta(hours=1))
    drain(broker)
    assert twilio_server.messages == []
    [lesson] = lessons()
    assert local(lesson.retry_at) == NEXT_MORNING

    retry_when_due(lesson, broker)

    [lesson] = lessons()
    [sent] = twilio_server.messages
    assert lesson.provider_sid == sent.sid
    assert NEXT_MORNING <= local(lesson.sent_at) < NEXT_MORNING + timedelta(minutes=5)


def test_lessons_whose_worker_only_runs_after_the_window_closed_wait_for_the_morning(
    app: Flask,
    app_config: dict[str, Any],
    course: Course,
    twilio_server: FakeTwilio,
    worker_settings: dict[str, Any],
    broker: BrokerSpace,
    tmp_path: Path,
) -> None:
    phones = [PHONE, "+12125550101"]  # two: the chunk delivery path
    sandbox_clock().set(FIVE_TO_NINE_PM)
    for phone in phones:
        add_person(course, phone, due=FIVE_TO_NINE_PM)
    db.session.commit()
    # The drip writes both lessons at 20:55 and queues their delivery, but no worker runs.
    claimed = claim_batch(now(), now() - timedelta(minutes=10), 0, 10)
    db.session.commit()
    assert perform_many([row[0] for row in claimed], claimed[0][2]) == {"lesson": 2}

    sandbox_clock().set(FIVE_TO_NINE_PM + timedelta(minutes=15))
    late = start_worker(app_config, broker, tmp_path, overrides=worker_settings)
    try:
        drain(broker)
        assert twilio_server.sends() == []
        held = [m for phone in phones for m in lessons(phone)]
        assert len(held) == 2
        assert {m.status for m in held} == {MessageStatus.PENDING}
        assert {local(m.retry_at) for m in held} == {NEXT_MORNING}
        assert {m.sent_at for m in held} == {None}

        sandbox_clock().set(NEXT_MORNING + timedelta(seconds=30))
        assert retry_due.apply().get() == 2
        drain(broker)
    finally:
        late.stop()

    for phone in phones:
        [lesson] = lessons(phone)
        [sent] = twilio_server.sent_to(phone)
        assert lesson.provider_sid == sent.sid
        assert NEXT_MORNING <= local(lesson.sent_at) < NEXT_MORNING + timedelta(minutes=5)
