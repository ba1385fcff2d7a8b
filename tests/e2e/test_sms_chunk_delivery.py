"""Delivering a chunk of messages in one task (the drip's lessons): each exactly once,
through the real twilio client against the local Twilio-compatible server, with the
shared rate limit, and whatever needs more than one plain attempt handed to ``deliver``."""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import redis as redis_lib
import sqlalchemy as sa
from conftest import make_config
from fixtures_twilio import SMS_REDIS_URL
from flask import Flask

from dripper.clock import sandbox_clock
from dripper.drip.tasks import send_batch
from dripper.drip.tick import claim_batch
from dripper.extensions import db
from dripper.models import (
    DeliveryFailure,
    Message,
    MessageKind,
    MessageStatus,
    Subscriber,
    SubscriberStatus,
)
from dripper.sms.outbox import queue_message
from dripper.sms.ratelimit import SendRateLimiter, SendRateWaitTooLong
from dripper.sms.tasks import deliver, deliver_batch
from dripper_testkit import builders
from dripper_testkit.builders import add_person, small_course
from dripper_testkit.twilio_fake import FakeTwilio

NEW_YORK = ZoneInfo("America/New_York")
MONDAY_9AM = datetime(2026, 3, 9, 9, 0, tzinfo=NEW_YORK)


@pytest.fixture
def app_config(
    request: pytest.FixtureRequest,
    database_url: str,
    tmp_path: Path,
    twilio_server: FakeTwilio,
    sms_redis: redis_lib.Redis,
) -> dict[str, Any]:
    marker = request.node.get_closest_marker("sms_settings")
    extra = marker.kwargs if marker else {}
    settings = twilio_server.settings(**{"SEND_RATE": 1000.0, "REDIS_URL": SMS_REDIS_URL, **extra})
    return make_config(database_url, tmp_path, **settings)


@pytest.fixture
def queued(app: Flask, monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, tuple[Any, ...], dict]]:
    """Tasks handed to the broker, recorded (name, args, options) instead of sent."""
    calls: list[tuple[str, tuple[Any, ...], dict]] = []

    def send_task(name: str, args: Any = None, kwargs: Any = None, **options: Any) -> None:
        calls.append((name, tuple(args or ()), options))

    monkeypatch.setattr(app.extensions["celery"], "send_task", send_task)
    return calls


def people(count: int) -> list[Subscriber]:
    subscribers = [builders.subscriber(f"+1212555{n:04d}") for n in range(count)]
    db.session.commit()
    return subscribers


def stored(subscribers: list[Subscriber], body: str = "Lesson {n}") -> list[int]:
    messages = [
        queue_message(s.phone, MessageKind.LESSON, body.format(n=n), subscriber=s)
        for n, s in enumerate(subscribers)
    ]
    db.session.commit()
    return [m.id for m in messages]


def chunk(message_ids: list[int]) -> dict[str, int]:
    return dict(deliver_batch.apply(args=[message_ids]).get())


def rows(message_ids: list[int]) -> list[Message]:
    db.session.expire_all()
    found = {
        m.id: m for m in db.session.scalars(sa.select(Message).where(Message.id.in_(message_ids)))
    }
    return [found[i] for i in message_ids]


def handed_off(queued: list[tuple[str, tuple[Any, ...], dict]]) -> list[int]:
    return [args[0] for name, args, _ in queued if name == "dripper.sms.deliver"]


def test_a_chunk_sends_each_message_exactly_once(app: Flask, twilio_server: FakeTwilio) -> None:
    ids = stored(people(7))

    assert chunk(ids) == {"sent": 7}
    assert chunk(ids) == {"already_done": 7}  # a redelivered task

    assert sorted(m.to for m in twilio_server.messages) == sorted(m.phone for m in rows(ids))
    assert len(twilio_server.sends()) == 7
    sids = {m.sid for m in twilio_server.messages}
    for message in rows(ids):
        assert message.provider_sid in sids
        assert (message.status, message.attempts) == (MessageStatus.QUEUED, 1)
        assert message.sent_at is not None
        assert twilio_server.message(message.provider_sid).body == message.body
    sent = twilio_server.sends()[0]
    assert sent.params["StatusCallback"] == "https://dripper.test/sms/status"


def test_a_permanently_failed_number_does_not_stop_the_rest(
    app: Flask, twilio_server: FakeTwilio
) -> None:
    subscribers = people(5)
    twilio_server.opt_out(subscribers[2].phone)
    ids = stored(subscribers)

    assert chunk(ids) == {"sent": 4, "failed": 1}

    messages = rows(ids)
    assert [m.status for m in messages] == [MessageStatus.QUEUED] * 2 + [MessageStatus.FAILED] + [
        MessageStatus.QUEUED
    ] * 2
    assert messages[2].error_code == 21610
    [failure] = db.session.scalars(sa.select(DeliveryFailure)).all()
    assert failure.message_id == ids[2] and "21610" in failure.reason
    assert db.session.get(Subscriber, subscribers[2].id).status is SubscriberStatus.OPTED_OUT  # type: ignore[union-attr]
    assert len(twilio_server.messages) == 4


def test_refusals_worth_retrying_are_handed_to_single_delivery(
    app: Flask, twilio_server: FakeTwilio, queued: list[tuple[str, tuple[Any, ...], dict]]
) -> None:
    ids = stored(people(4))
    queued.clear()  # their single deliveries, queued by the outbox: not run here
    twilio_server.throttle_next(1)  # one of the four answers 429

    assert chunk(ids) == {"sent": 3, "handed_off": 1}

    [(name, (retried,), options)] = queued
    assert name == "dripper.sms.deliver"
    assert options["retries"] == 1  # its first attempt counts, as on the single path
    assert 2.5 <= options["countdown"] <= 5.0  # backoff with jitter
    message = rows([retried])[0]
    assert (message.status, message.attempts, message.error_code) == (
        MessageStatus.PENDING,
        1,
        20429,
    )
    assert deliver.apply(args=[retried]).get() == "sent"
    assert len(twilio_server.messages) == 4
    assert {m.provider_sid for m in rows(ids)} == {m.sid for m in twilio_server.messages}


def test_an_unknown_outcome_in_a_chunk_is_looked_up_not_sent_again(
    app: Flask, twilio_server: FakeTwilio, queued: list[tuple[str, tuple[Any, ...], dict]]
) -> None:
    ids = stored(people(3))
    queued.clear()
    twilio_server.delay_next(2.0)  # recorded, answered after the client's 1 s timeout

    assert chunk(ids) == {"sent": 2, "handed_off": 1}

    [retried] = handed_off(queued)
    assert deliver.apply(args=[retried]).get() == "reconciled"
    assert len(twilio_server.sends()) == 3
    assert len(twilio_server.messages) == 3
    assert {m.provider_sid for m in rows(ids)} == {m.sid for m in twilio_server.messages}


def test_busy_started_and_unsendable_messages_are_left_to_the_single_path(
    app: Flask,
    twilio_server: FakeTwilio,
    sms_redis: redis_lib.Redis,
    queued: list[tuple[str, tuple[Any, ...], dict]],
) -> None:
    subscribers = people(5)
    ids = stored(subscribers)
    sms_redis.set(f"dripper:sms:sending:{ids[0]}", "another-worker", ex=60)
    # An earlier attempt whose answer was lost: it needs a lookup first.
    db.session.execute(sa.update(Message).where(Message.id == ids[1]).values(attempts=1))
    subscribers[2].status = SubscriberStatus.OPTED_OUT  # texted STOP since
    db.session.commit()
    queued.clear()

    assert chunk(ids) == {"handed_off": 2, "canceled": 1, "sent": 2}

    assert sorted(handed_off(queued)) == sorted(ids[:2])
    busy = next(options for _, args, options in queued if args == (ids[0],))
    assert busy["countdown"] >= 50  # after the other worker's lock expires
    assert {m.to for m in twilio_server.messages} == {s.phone for s in subscribers[3:]}
    assert [m.status for m in rows(ids)][2] is MessageStatus.CANCELED
    assert sms_redis.get(f"dripper:sms:sending:{ids[0]}") == b"another-worker"
    assert not [
        k
        for k in sms_redis.keys("dripper:sms:sending:*")
        if k != f"dripper:sms:sending:{ids[0]}".encode()
    ]


@pytest.mark.sms_settings(SEND_RATE=5.0)
def test_the_rate_limit_holds_across_a_chunk(app: Flask, twilio_server: FakeTwilio) -> None:
    ids = stored(people(12))
    started = time.monotonic()

    assert chunk(ids) == {"sent": 12}

    arrivals = sorted(r.at for r in twilio_server.sends())
    assert len(arrivals) == 12
    # 5 a second: at most 5 in any one-second window, plus two for a loaded machine's
    # jitter (a call that starts late lands closer to the next one); and the twelve take
    # at least (12 - 1) / 5 s, so the rate holds on average.
    assert max(sum(1 for t in arrivals if at <= t < at + 1.0) for at in arrivals) <= 7
    assert time.monotonic() - started >= 11 / 5 * 0.9


@pytest.mark.sms_settings(SEND_RATE=2.0, SEND_RATE_MAX_WAIT=1.0)
def test_slots_beyond_the_wait_limit_go_to_single_delivery_later(
    app: Flask, twilio_server: FakeTwilio, queued: list[tuple[str, tuple[Any, ...], dict]]
) -> None:
    ids = stored(people(5))
    queued.clear()

    # Slots at 0, 0.5 and 1 s are within the 1 s limit; the last two come later.
    assert chunk(ids) == {"sent": 3, "handed_off": 2}

    assert handed_off(queued) == ids[3:]
    assert all(options["countdown"] > 0 for *_, options in queued)
    assert [m.status for m in rows(ids)[3:]] == [MessageStatus.PENDING] * 2
    assert [m.attempts for m in rows(ids)] == [1, 1, 1, 0, 0]


def test_the_limiter_reserves_a_run_of_slots_in_one_call(sms_redis: redis_lib.Redis) -> None:
    limiter = SendRateLimiter(sms_redis, 10.0, "chunk-test", max_wait=1.0)

    first = limiter.reserve_slots([1] * 5)  # now, 0.1 s … 0.4 s
    assert first == pytest.approx([0.0, 0.1, 0.2, 0.3, 0.4], abs=0.02)
    waits = limiter.reserve_slots([1] * 10)  # the next free slot is 0.5 s away
    assert 0.3 < waits[0] <= 0.5
    # Only the slots that start within the 1 s limit: 0.5 s … 1.0 s (6 of them).
    assert len(waits) == 6 or (len(waits) == 7 and waits[0] < 0.4)
    assert waits[-1] <= 1.0 + 1e-6
    with pytest.raises(SendRateWaitTooLong):
        limiter.reserve_slots([1] * 3)  # the next one is beyond the limit: nothing reserved


def test_the_drip_queues_one_delivery_task_per_chunk(
    app: Flask, queued: list[tuple[str, tuple[Any, ...], dict]]
) -> None:
    course = small_course(3)
    sandbox_clock().set(MONDAY_9AM)
    subscriptions = [add_person(course, f"+1212555{n:04d}", due=MONDAY_9AM) for n in range(4)]
    db.session.commit()
    claimed = claim_batch(MONDAY_9AM, MONDAY_9AM, 0, 10)
    db.session.commit()

    assert send_batch.run([s.id for s in subscriptions], claimed[0][2]) == {"lesson": 4}

    lessons = list(db.session.scalars(sa.select(Message.id).order_by(Message.id)))
    assert [(name, args) for name, args, _ in queued] == [("dripper.sms.deliver_batch", (lessons,))]
    # The same claim again: stale, nothing written or queued twice.
    assert send_batch.run([s.id for s in subscriptions], claimed[0][2]) == {"stale": 4}
    assert len(queued) == 1
