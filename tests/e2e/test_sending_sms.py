"""Sending, end to end: the delivery task drives the real twilio client over HTTP against
the local Twilio-compatible server, with real Redis and each database under test."""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import redis as redis_lib
import sqlalchemy as sa
from conftest import make_config
from drip_support import record_sent
from fixtures_twilio import SMS_REDIS_URL
from flask import Flask
from flask.testing import FlaskClient

from dripper.clock import now, sandbox_clock
from dripper.extensions import db
from dripper.logs import mask_phone
from dripper.models import (
    Course,
    DeliveryFailure,
    Direction,
    Message,
    MessageKind,
    MessageStatus,
    Subscriber,
    SubscriberStatus,
    SubscriptionState,
)
from dripper.sms.delivery import ReplayError, replay_failure
from dripper.sms.outbox import queue_message
from dripper.sms.tasks import deliver, retry_due, sweep_unsent
from dripper.window import SendWindow
from dripper_testkit import builders
from dripper_testkit.twilio_fake import FakeTwilio

PHONE = "+15005550123"
SERVICE_SID = "MG" + "5" * 32
NY = "America/New_York"


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
def queued(app: Flask, monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, tuple[Any, ...]]]:
    """Tasks handed to the broker after commit, recorded instead of sent."""
    return record_sent(app, monkeypatch)


def person(phone: str = PHONE, course: Course | None = None) -> Subscriber:
    person = builders.subscriber(phone, course=course)
    db.session.commit()
    return person


def stored(
    body: str = "Day 1: notice one thing you resist today.",
    *,
    subscriber: Subscriber | None = None,
    kind: MessageKind = MessageKind.LESSON,
    phone: str = PHONE,
) -> int:
    message = queue_message(phone, kind, body, subscriber=subscriber)
    db.session.commit()
    return message.id


def run(message_id: int) -> str:
    """One delivery task, its retries run at once (eager), as a worker would run it."""
    return str(deliver.apply(args=[message_id]).get())


def fresh(message_id: int) -> Message:
    db.session.expire_all()
    message = db.session.get(Message, message_id)
    assert message is not None
    return message


def failures(message_id: int) -> list[DeliveryFailure]:
    return list(
        db.session.scalars(
            sa.select(DeliveryFailure).where(DeliveryFailure.message_id == message_id)
        )
    )


def test_lesson_is_sent_through_twilio_with_a_status_callback(
    app: Flask, twilio_server: FakeTwilio
) -> None:
    message_id = stored("Day 1: breathe.", subscriber=person())

    assert run(message_id) == "sent"

    [sent] = twilio_server.messages
    assert (sent.to, sent.from_, sent.body) == (PHONE, "+15005550006", "Day 1: breathe.")
    assert sent.status_callback == "https://dripper.test/sms/status"
    message = fresh(message_id)
    assert message.provider_sid == sent.sid
    assert message.status is MessageStatus.QUEUED
    assert message.attempts == 1
    assert message.sent_at is not None


@pytest.mark.sms_settings(TWILIO_MESSAGING_SERVICE_SID=SERVICE_SID)
def test_messaging_service_wins_over_from_number(app: Flask, twilio_server: FakeTwilio) -> None:
    assert app.config["TWILIO_FROM_NUMBER"]  # both are set
    message_id = stored(subscriber=person())

    run(message_id)

    [request] = twilio_server.sends()
    assert request.params["MessagingServiceSid"] == SERVICE_SID
    assert "From" not in request.params
    assert fresh(message_id).status is MessageStatus.ACCEPTED


def test_redelivered_task_sends_nothing_more(app: Flask, twilio_server: FakeTwilio) -> None:
    message_id = stored(subscriber=person())

    assert run(message_id) == "sent"
    assert run(message_id) == "already_done"

    assert len(twilio_server.sends()) == 1


def test_429_is_retried_then_delivered(app: Flask, twilio_server: FakeTwilio) -> None:
    twilio_server.throttle_next(2)
    message_id = stored(subscriber=person())

    assert run(message_id) == "sent"

    assert [r.method for r in twilio_server.sends()] == ["POST"] * 3
    assert len(twilio_server.messages) == 1
    message = fresh(message_id)
    assert message.provider_sid == twilio_server.messages[0].sid
    assert message.attempts == 3
    assert message.error_code is None


def test_server_error_and_full_queue_are_retried(app: Flask, twilio_server: FakeTwilio) -> None:
    twilio_server.server_error_next()
    twilio_server.fail_next(21611)
    message_id = stored(subscriber=person())

    assert run(message_id) == "sent"
    assert len(twilio_server.messages) == 1


def test_a_send_refused_for_minutes_waits_on_its_row_not_in_the_broker(
    app: Flask, twilio_server: FakeTwilio
) -> None:
    twilio_server.outage(500)
    message_id = stored(subscriber=person())

    # The first retries come within seconds; once the wait grows past a few minutes the
    # row is parked for the retry sweep instead of a long broker ETA.
    assert run(message_id) == "deferred"

    message = fresh(message_id)
    assert message.status is MessageStatus.PENDING
    assert message.retry_at is not None and message.retry_at > now() + timedelta(minutes=4)
    assert message.attempts == len(twilio_server.sends()) > 1
    assert failures(message_id) == []
    assert retry_due.apply().get() == 0  # not due yet


def test_a_send_refused_past_the_retry_period_fails_and_an_admin_can_replay_it(
    app: Flask, twilio_server: FakeTwilio, queued: list[tuple[str, tuple[Any, ...]]]
) -> None:
    twilio_server.outage(429)
    message_id = stored(subscriber=person())
    assert run(message_id) == "deferred"

    sandbox_clock().advance(timedelta(seconds=app.config["DELIVERY_RETRY_FOR"] + 60))
    queued.clear()
    assert retry_due.apply().get() == 1
    assert queued == [("dripper.sms.deliver", (message_id,))]
    assert run(message_id) == "failed"

    assert twilio_server.messages == []
    message = fresh(message_id)
    assert message.status is MessageStatus.FAILED
    assert message.error_code == 20429
    [failure] = failures(message_id)
    assert "gave up" in failure.reason

    twilio_server.recover()
    queued.clear()
    replay_failure(failure.id)

    assert queued == [("dripper.sms.deliver", (message_id,))]
    assert fresh(message_id).status is MessageStatus.PENDING
    db.session.expire_all()
    assert db.session.get(DeliveryFailure, failure.id).replayed_at is not None  # type: ignore[union-attr]
    assert run(message_id) == "sent"
    assert len(twilio_server.messages) == 1


def test_opted_out_number_error_marks_subscriber_opted_out(
    app: Flask, twilio_server: FakeTwilio, course: Course
) -> None:
    twilio_server.opt_out(PHONE)
    subscriber = person(course=course)
    message_id = stored(subscriber=subscriber)

    assert run(message_id) == "failed"

    message = fresh(message_id)
    assert (message.status, message.error_code) == (MessageStatus.FAILED, 21610)
    assert len(failures(message_id)) == 1
    subscriber = db.session.get(Subscriber, subscriber.id)  # type: ignore[assignment]
    assert subscriber.status is SubscriberStatus.OPTED_OUT
    assert subscriber.opted_out_at is not None
    assert [s.state for s in subscriber.subscriptions] == [SubscriptionState.OPTED_OUT]

    # Nothing more goes out: the next lesson is canceled before the provider is asked.
    next_id = stored("Day 2", subscriber=subscriber)
    assert run(next_id) == "canceled"
    assert fresh(next_id).status is MessageStatus.CANCELED
    assert len(twilio_server.sends()) == 1


@pytest.mark.parametrize("code", [21211, 21614, 30006])
def test_invalid_or_landline_number_marks_subscriber_unreachable(
    app: Flask, twilio_server: FakeTwilio, code: int
) -> None:
    twilio_server.fail_next(code)
    subscriber = person()
    message_id = stored(subscriber=subscriber)

    assert run(message_id) == "failed"

    assert fresh(message_id).error_code == code
    subscriber = db.session.get(Subscriber, subscriber.id)  # type: ignore[assignment]
    assert subscriber.status is SubscriberStatus.UNREACHABLE
    assert str(code) in (subscriber.unreachable_reason or "")


def test_landline_refused_by_twilio_itself_marks_subscriber_unreachable(
    app: Flask, twilio_server: FakeTwilio
) -> None:
    twilio_server.landline(PHONE)
    subscriber = person()

    assert run(stored(subscriber=subscriber)) == "failed"

    db.session.expire_all()
    assert db.session.get(Subscriber, subscriber.id).status is SubscriberStatus.UNREACHABLE  # type: ignore[union-attr]


def test_other_permanent_error_is_recorded_on_the_message_only(
    app: Flask, twilio_server: FakeTwilio
) -> None:
    twilio_server.fail_next(21408)
    subscriber = person()
    message_id = stored(subscriber=subscriber)

    assert run(message_id) == "failed"

    message = fresh(message_id)
    assert message.error_code == 21408
    assert "region" in (message.error_message or "")
    assert db.session.get(Subscriber, subscriber.id).status is SubscriberStatus.ACTIVE  # type: ignore[union-attr]
    assert len(twilio_server.sends()) == 1  # permanent: never retried


def test_ambiguous_timeout_is_reconciled_without_a_duplicate(
    app: Flask, twilio_server: FakeTwilio
) -> None:
    # Twilio records the message, but its answer comes after the client's 1 s timeout.
    twilio_server.delay_next(2.0)
    message_id = stored(subscriber=person())

    assert run(message_id) == "reconciled"

    assert len(twilio_server.sends()) == 1
    [sent] = twilio_server.messages
    assert twilio_server.lookups()[0].params["To"] == PHONE
    assert "DateSent>" in twilio_server.lookups()[0].params
    message = fresh(message_id)
    assert message.provider_sid == sent.sid
    assert message.status is MessageStatus.SENT


def test_ambiguous_send_still_queued_at_twilio_is_found(
    app: Flask, twilio_server: FakeTwilio
) -> None:
    # Not sent yet at Twilio: no date_sent, so the DateSent filter cannot see it.
    twilio_server.auto_send = False
    twilio_server.delay_next(2.0)
    message_id = stored(subscriber=person())

    assert run(message_id) == "reconciled"

    [sent] = twilio_server.messages
    assert fresh(message_id).provider_sid == sent.sid
    assert len(twilio_server.sends()) == 1


def test_dropped_connection_is_reconciled_without_a_duplicate(
    app: Flask, twilio_server: FakeTwilio
) -> None:
    twilio_server.drop_next()
    message_id = stored(subscriber=person())

    assert run(message_id) == "reconciled"

    assert len(twilio_server.messages) == 1
    assert fresh(message_id).provider_sid == twilio_server.messages[0].sid


def test_worker_killed_mid_send_is_looked_up_before_sending_again(
    app: Flask, twilio_server: FakeTwilio
) -> None:
    message_id = stored(subscriber=person())
    # A worker started the attempt (committed), called Twilio, and died before storing
    # the answer: Twilio has the message, the row has no sid.
    db.session.execute(
        sa.update(Message).where(Message.id == message_id).values(attempts=1, outcome_unknown=True)
    )
    db.session.commit()
    twilio_server.auto_send = True
    _post_directly(twilio_server, PHONE, fresh(message_id).body)

    assert run(message_id) == "reconciled"

    assert len(twilio_server.messages) == 1


def test_attempt_that_never_reached_twilio_is_sent_once(
    app: Flask, twilio_server: FakeTwilio
) -> None:
    message_id = stored(subscriber=person())
    # What an attempt writes as it starts; the worker then died before any answer.
    db.session.execute(
        sa.update(Message).where(Message.id == message_id).values(attempts=1, outcome_unknown=True)
    )
    db.session.commit()

    assert run(message_id) == "sent"

    assert len(twilio_server.messages) == 1
    # Looked up twice before sending again (each lookup: sent ones by day, then the
    # newest few), since the attempt's outcome was unknown.
    assert len(twilio_server.lookups()) == 4


def test_identical_text_sent_earlier_is_not_adopted(app: Flask, twilio_server: FakeTwilio) -> None:
    subscriber = person()
    first = stored("Reply YES to confirm.", subscriber=subscriber, kind=MessageKind.NOTICE)
    assert run(first) == "sent"
    second = stored("Reply YES to confirm.", subscriber=subscriber, kind=MessageKind.NOTICE)
    db.session.execute(sa.update(Message).where(Message.id == second).values(attempts=1))
    db.session.commit()

    assert run(second) == "sent"

    assert len(twilio_server.messages) == 2
    assert fresh(first).provider_sid != fresh(second).provider_sid


def test_opted_out_person_gets_only_the_stop_confirmation(
    app: Flask, twilio_server: FakeTwilio
) -> None:
    subscriber = person()
    lesson = stored("Day 3", subscriber=subscriber)
    subscriber.status = SubscriberStatus.OPTED_OUT
    db.session.commit()
    confirmation = stored(
        "You're unsubscribed. No more messages.",
        subscriber=subscriber,
        kind=MessageKind.STOP_CONFIRMATION,
    )

    assert run(lesson) == "canceled"
    assert run(confirmation) == "sent"

    assert [m.body for m in twilio_server.messages] == ["You're unsubscribed. No more messages."]


def test_after_an_opt_out_only_help_and_crisis_lines_they_ask_for_are_sent(
    app: Flask, twilio_server: FakeTwilio
) -> None:
    from dripper.clock import now
    from dripper.subscriptions import states

    subscriber = person()
    help_before = stored("Help text", subscriber=subscriber, kind=MessageKind.HELP)
    states.opt_out(subscriber, now())
    db.session.commit()
    help_after = stored("Help text, asked again", subscriber=subscriber, kind=MessageKind.HELP)
    crisis = stored("Call or text 988.", subscriber=subscriber, kind=MessageKind.CRISIS_RESPONSE)
    notice = stored("Some notice", subscriber=subscriber, kind=MessageKind.NOTICE)

    # What was queued before the STOP does not follow its confirmation.
    assert run(help_before) == "canceled"
    assert run(help_after) == "sent"
    assert run(crisis) == "sent"
    assert run(notice) == "canceled"
    assert [m.body for m in twilio_server.messages] == [
        "Help text, asked again",
        "Call or text 988.",
    ]


def test_number_without_subscriber_is_checked_by_phone(
    app: Flask, twilio_server: FakeTwilio
) -> None:
    person(phone="+15005550199").status = SubscriberStatus.UNREACHABLE
    db.session.commit()

    assert run(stored("Text JOIN to start", phone="+15005550199")) == "canceled"
    assert twilio_server.sends() == []


def test_status_callbacks_through_the_webhook_move_the_message_forward_only(
    app: Flask, client: FlaskClient, twilio_server: FakeTwilio
) -> None:
    message_id = stored(subscriber=person())
    run(message_id)
    sid = fresh(message_id).provider_sid
    assert sid is not None

    assert twilio_server.callback(sid, "delivered", to=client).status_code < 300
    assert twilio_server.callback(sid, "sent", to=client).status_code < 300  # late, older

    assert fresh(message_id).status is MessageStatus.DELIVERED


def test_undelivered_callback_with_opt_out_code_opts_the_person_out(
    app: Flask, client: FlaskClient, twilio_server: FakeTwilio, course: Course
) -> None:
    subscriber = person(course=course)
    message_id = stored(subscriber=subscriber)
    run(message_id)
    sid = fresh(message_id).provider_sid
    assert sid is not None

    response = twilio_server.callback(sid, "undelivered", to=client, error_code=21610)

    assert response.status_code < 300
    message = fresh(message_id)
    assert (message.status, message.error_code) == (MessageStatus.UNDELIVERED, 21610)
    subscriber = db.session.get(Subscriber, subscriber.id)  # type: ignore[assignment]
    assert subscriber.status is SubscriberStatus.OPTED_OUT
    assert [s.state for s in subscriber.subscriptions] == [SubscriptionState.OPTED_OUT]


def test_unsigned_status_callback_changes_nothing(
    app: Flask, client: FlaskClient, twilio_server: FakeTwilio
) -> None:
    message_id = stored(subscriber=person())
    run(message_id)
    sid = fresh(message_id).provider_sid
    assert sid is not None
    _, params, _ = twilio_server.callback_request(sid, "delivered")

    response = client.post("/sms/status", data=params, base_url="https://dripper.test")

    assert response.status_code == 403
    assert fresh(message_id).status is MessageStatus.QUEUED


def test_logs_mask_the_number_and_never_show_the_body(
    app: Flask, twilio_server: FakeTwilio, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    twilio_server.throttle_next()
    twilio_server.fail_next(21211)
    body = "A private reflection about my week"

    run(stored(body, subscriber=person()))

    shown = [r for r in caplog.records if r.levelno >= logging.INFO]
    assert shown, "delivery logs what it does"
    assert not [r for r in shown if body in r.getMessage()]
    assert not [r for r in shown if PHONE in r.getMessage()]


@pytest.mark.sms_settings(SEND_RATE=5.0)
def test_rate_limit_holds_across_workers(app: Flask, twilio_server: FakeTwilio) -> None:
    subscriber = person()
    ids = [stored(f"Lesson {n}", subscriber=subscriber) for n in range(12)]
    errors: list[Exception] = []

    def worker(share: list[int]) -> None:
        try:
            for message_id in share:
                deliver.apply(args=[message_id]).get()
        except Exception as error:  # noqa: BLE001 - handed to the test thread below
            errors.append(error)

    threads = [threading.Thread(target=worker, args=(ids[n::3],)) for n in range(3)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    arrivals = sorted(r.at for r in twilio_server.sends())
    assert len(arrivals) == 12
    # 5 a second: at most 5 in any one-second window (one more for scheduling jitter),
    # and the twelve take at least (12 - 1) / 5 s.
    assert max(_in_window(arrivals, at, 1.0) for at in arrivals) <= 6
    assert time.monotonic() - started >= 11 / 5 * 0.9


@pytest.mark.sms_settings(SEND_RATE=0.1, SEND_RATE_REPLY_SHARE=0.0)
def test_a_three_segment_message_takes_three_send_slots(
    app: Flask, twilio_server: FakeTwilio
) -> None:
    from dripper.gsm import count_segments
    from dripper.sms.ratelimit import get_limiter

    body = ("Notice what you push away today, and how it feels to hold it. " * 6).strip()
    assert count_segments(body).segments == 3
    assert run(stored(body, subscriber=person())) == "sent"  # its first slot is now

    # One slot every 10 s: the next message waits for the other two segments' slots.
    next_wait = get_limiter(app, twilio_server.from_number).reserve()
    assert 20 < next_wait <= 30


def _in_window(arrivals: list[float], start: float, width: float) -> int:
    return sum(1 for at in arrivals if start <= at < start + width)


def _post_directly(fake: FakeTwilio, to: str, body: str) -> None:
    import requests

    response = requests.post(
        f"{fake.url}/2010-04-01/Accounts/{fake.account_sid}/Messages.json",
        data={"To": to, "From": fake.from_number, "Body": body},
        auth=(fake.account_sid, fake.auth_token),
        timeout=5,
    )
    assert response.status_code == 201


def test_message_another_worker_is_sending_is_left_to_it(
    app: Flask, twilio_server: FakeTwilio, sms_redis: redis_lib.Redis
) -> None:
    message_id = stored(subscriber=person())
    sms_redis.set(f"dripper:sms:sending:{message_id}", "another-worker", ex=60)

    assert run(message_id) == "busy"

    assert twilio_server.sends() == []
    message = fresh(message_id)
    assert (message.status, message.attempts) == (MessageStatus.PENDING, 0)
    assert failures(message_id) == []


def test_sweep_queues_lost_deliveries_once(
    app: Flask, queued: list[tuple[str, tuple[Any, ...]]]
) -> None:
    lost = stored(subscriber=person())
    recent = stored("Day 2", subscriber=person("+15005550124"))
    db.session.execute(
        sa.update(Message)
        .where(Message.id == lost)
        .values(created_at=datetime.now(UTC) - timedelta(minutes=30))
    )
    db.session.commit()
    queued.clear()

    assert sweep_unsent.apply().get() == 1
    assert sweep_unsent.apply().get() == 0  # left alone for a while once queued

    assert queued == [("dripper.sms.deliver", (lost,))]
    assert recent != lost


def test_a_retry_the_retry_sweep_just_queued_is_not_queued_again_as_lost(
    app: Flask, twilio_server: FakeTwilio, queued: list[tuple[str, tuple[Any, ...]]]
) -> None:
    twilio_server.outage(429)
    message_id = stored(subscriber=person())
    assert run(message_id) == "deferred"
    due = fresh(message_id).retry_at
    assert due is not None
    # Beat was away for a while: the row was last touched long before the retry is queued.
    sandbox_clock().set(due + timedelta(seconds=app.config["DELIVERY_STALE_AFTER"] + 60))
    queued.clear()

    assert retry_due.apply().get() == 1
    assert sweep_unsent.apply().get() == 0  # its task is in the broker: not lost

    assert queued == [("dripper.sms.deliver", (message_id,))]


def test_sweep_pages_past_stuck_messages_it_already_queued(
    app: Flask, sms_redis: redis_lib.Redis, queued: list[tuple[str, tuple[Any, ...]]]
) -> None:
    from dripper.clock import now

    long_ago = now() - timedelta(hours=1)
    db.session.execute(
        sa.insert(Message),
        [
            {
                "direction": Direction.OUTBOUND,
                "kind": MessageKind.LESSON,
                "phone": f"+1202555{n:04d}",
                "body": f"Lesson for {n}",
                "status": MessageStatus.PENDING,
                "attempts": 0,
                "created_at": long_ago,
            }
            for n in range(600)
        ],
    )
    db.session.commit()
    ids = list(db.session.scalars(sa.select(Message.id).order_by(Message.id)))
    # The oldest 500 are taken care of: 250 queued by an earlier sweep, 250 being sent.
    for message_id in ids[:250]:
        sms_redis.set(f"dripper:sms:swept:{message_id}", 1, ex=900)
    for message_id in ids[250:500]:
        sms_redis.set(f"dripper:sms:sending:{message_id}", "a-worker", ex=180)
    queued.clear()

    assert sweep_unsent.apply().get() == 100

    assert [args[0] for _, args in queued] == ids[500:]


def test_a_failure_is_replayed_once(
    app: Flask, twilio_server: FakeTwilio, queued: list[tuple[str, tuple[Any, ...]]]
) -> None:
    twilio_server.fail_next(21408)
    message_id = stored(subscriber=person())
    run(message_id)
    [failure] = failures(message_id)

    replay_failure(failure.id)
    with pytest.raises(ReplayError):
        replay_failure(failure.id)
    with pytest.raises(ReplayError):
        replay_failure(failure.id + 1000)


def test_delivery_failures_lists_failed_messages_and_replay_sends_one_once(
    app: Flask, twilio_server: FakeTwilio, queued: list[tuple[str, tuple[Any, ...]]]
) -> None:
    body = "Day 1: something private about resistance."
    twilio_server.fail_next(21408)  # the region is not enabled on the account
    message_id = stored(body, subscriber=person())
    assert run(message_id) == "failed"
    [failure] = failures(message_id)
    runner = app.test_cli_runner()

    listing = runner.invoke(args=["delivery", "failures"])

    assert listing.exit_code == 0, listing.output
    [line] = listing.output.splitlines()
    assert line.split("\t")[:3] == [str(failure.id), line.split("\t")[1], "lesson"]
    assert "21408" in line
    assert body not in listing.output and PHONE not in listing.output  # never the text
    assert mask_phone(PHONE) in line

    queued.clear()
    replayed = runner.invoke(args=["delivery", "replay", str(failure.id)])
    assert replayed.exit_code == 0, replayed.output
    assert queued == [("dripper.sms.deliver", (message_id,))]
    assert run(message_id) == "sent"
    assert [m.body for m in twilio_server.messages] == [body]

    assert "no failed messages" in runner.invoke(args=["delivery", "failures"]).output
    again = runner.invoke(args=["delivery", "replay", str(failure.id)])
    assert again.exit_code != 0 and "already replayed" in again.output
    assert len(twilio_server.messages) == 1


def test_a_lesson_is_held_outside_its_window_but_an_answer_to_help_goes_at_once(
    app: Flask, twilio_server: FakeTwilio
) -> None:
    eleven_pm = datetime(2026, 3, 9, 23, 0, tzinfo=ZoneInfo(NY))
    sandbox_clock().set(eleven_pm)
    subscriber = person()
    window = SendWindow.from_json({"zones": [NY], "opens": "08:00", "closes": "21:00"})
    lesson = queue_message(PHONE, MessageKind.LESSON, "Day 1", subscriber=subscriber, window=window)
    help_answer = stored("Reply STOP to stop.", subscriber=subscriber, kind=MessageKind.HELP)
    db.session.commit()

    assert run(lesson.id) == "deferred"
    assert run(help_answer) == "sent"

    assert [m.body for m in twilio_server.messages] == ["Reply STOP to stop."]
    held = fresh(lesson.id)
    assert (held.status, held.attempts, held.sent_at) == (MessageStatus.PENDING, 0, None)
    assert held.retry_at == datetime(2026, 3, 10, 8, 0, tzinfo=ZoneInfo(NY))


def test_a_course_completion_held_for_its_window_goes_out_with_the_drip_not_the_replies(
    app: Flask, twilio_server: FakeTwilio, queued: list[tuple[str, tuple[Any, ...]]]
) -> None:
    # The drip writes the completion on its own schedule, within the person's window: held
    # overnight, it must not take the replies' queue and their share of the send rate.
    eleven_pm = datetime(2026, 3, 9, 23, 0, tzinfo=ZoneInfo(NY))
    sandbox_clock().set(eleven_pm)
    window = SendWindow.from_json({"zones": [NY], "opens": "08:00", "closes": "21:00"})
    completion = queue_message(
        PHONE, MessageKind.COMPLETION, "You finished!", subscriber=person(), window=window
    )
    db.session.commit()
    assert run(completion.id) == "deferred"

    sandbox_clock().set(datetime(2026, 3, 10, 8, 1, tzinfo=ZoneInfo(NY)))
    queued.clear()
    assert retry_due.apply().get() == 1

    assert queued == [("dripper.sms.deliver_batch", ([completion.id],))]
