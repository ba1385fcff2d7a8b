"""A week of sandbox days through real Celery workers: one lesson a day, at local time.

The sandbox clock is moved from one due time to the next; beat's task
(``dripper.drip.tick``) runs through the broker like in production, and the test
waits for the workers to finish before looking.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from drip_support import next_due
from flask import Flask

from dripper.clock import now, sandbox_clock
from dripper.drip.tasks import tick_task
from dripper.extensions import db
from dripper.models import (
    Course,
    Lesson,
    Message,
    MessageKind,
    MessageStatus,
    Subscriber,
    Subscription,
)
from dripper.phones import time_zones_for
from dripper.subscriptions import schedule, states
from dripper_testkit.workers import BrokerSpace, Worker, drain

START = datetime(2026, 3, 5, 0, 0, tzinfo=UTC)  # Thursday; US clocks change on Sunday the 8th
END = START + timedelta(days=7)


@pytest.fixture
def app_config(drip_config: dict[str, Any]) -> dict[str, Any]:
    return drip_config


#: name -> (time zones, daily send time, expected local time of the lesson, of the question)
PEOPLE: dict[str, tuple[list[str], time, time, time]] = {
    "new_york": (["America/New_York"], time(9), time(9), time(12)),
    "los_angeles": (["America/Los_Angeles"], time(9), time(9), time(12)),
    "london": (["Europe/London"], time(8, 30), time(8, 30), time(11, 30)),
    # 19:00 + 3 h is past 21:00: the question waits for the next morning's opening.
    "kolkata": (["Asia/Kolkata"], time(19), time(19), time(8)),
    # Two zones set directly: 9:00 in New York is 6:00 in Los Angeles, so 11:00.
    "two_zones": (["America/New_York", "America/Los_Angeles"], time(9), time(11), time(14)),
    # An Idaho number spans Mountain and Pacific time: 8:00 Boise is 7:00 Pacific.
    "idaho": (time_zones_for("+12085550100"), time(8), time(9), time(12)),
    # Quiet hours: 22:30 is outside the window; the lesson comes at 8:00 each morning.
    "night_owl": (["America/Chicago"], time(22, 30), time(8), time(11)),
}


def test_a_week_in_several_zones_is_one_lesson_a_day_at_local_time_then_its_question(
    app: Flask, course: Course, worker: Worker, broker: BrokerSpace
) -> None:
    # Nobody replies in this test, and unanswered questions slow the pace (that has tests
    # of its own); here the course keeps one lesson a day whatever happens.
    course.pacing = {**course.pacing, "silent_slowdown_after": 99, "silent_check_in_after": 99}
    sandbox_clock().set(START)
    subscriptions: dict[str, int] = {}
    for n, (name, (zones, send_time, _, _)) in enumerate(PEOPLE.items()):
        subscriber = Subscriber(phone=f"+1208555{n:04d}", time_zones=zones, send_time=send_time)
        db.session.add(subscriber)
        subscription = states.subscribe(subscriber, course, now())
        states.confirm(subscription, now())
        subscriptions[name] = subscription.id
    db.session.commit()
    assert PEOPLE["idaho"][0] == ["America/Boise", "America/Los_Angeles"]

    # Each message, with the sandbox time of the step that sent it.
    sent_at: dict[int, datetime] = {}
    steps = 0
    while (due := next_due()) is not None and due < END:
        db.session.rollback()  # read nothing stale across the workers' commits
        sandbox_clock().set(due + timedelta(seconds=1))
        tick_task.delay()  # what beat does every minute
        drain(broker)
        steps += 1
        for message_id in db.session.scalars(
            sa.select(Message.id).where(Message.id.not_in(sent_at or [0]))
        ):
            sent_at[message_id] = due
    assert steps <= 7 * 2 * len(PEOPLE)

    order = [lesson.id for lesson in course.lessons]
    for name, subscription_id in subscriptions.items():
        zones, _, lesson_time, question_time = PEOPLE[name]
        zone = ZoneInfo(zones[0])
        messages = list(
            db.session.scalars(
                sa.select(Message)
                .where(Message.subscription_id == subscription_id)
                .order_by(Message.id)
            )
        )
        lessons = [m for m in messages if m.kind is MessageKind.LESSON]
        questions = [m for m in messages if m.kind is MessageKind.QUESTION]
        # To the minute: a question is due 3 h after the instant its lesson went out.
        local = {
            m.id: sent_at[m.id].astimezone(zone).replace(second=0, microsecond=0) for m in messages
        }

        # Seven days, seven lessons, in the course's order, one per local day.
        assert [m.lesson_id for m in lessons] == order[:7], name
        days = [local[m.id].date() for m in lessons]
        assert len(set(days)) == 7 and days == sorted(days), (name, days)
        assert {local[m.id].time() for m in lessons} == {lesson_time}, name
        # Each question follows its own lesson, at its expected local time.
        assert [m.lesson_id for m in questions] == [m.lesson_id for m in lessons][: len(questions)]
        assert len(questions) >= 6, name
        assert {local[m.id].time() for m in questions} == {question_time}, name
        for lesson, question in zip(lessons, questions, strict=False):
            assert sent_at[question.id] > sent_at[lesson.id]
        # Never outside 8:00-21:00 in any of their zones.
        window = [ZoneInfo(z) for z in zones]
        for m in messages:
            assert schedule.in_window(sent_at[m.id], window, time(8), time(21)), (name, m.kind)
        # Delivered by the worker (console backend), none left pending.
        assert {m.status for m in messages} <= {MessageStatus.SENT, MessageStatus.DELIVERED}

    # Across the DST change New York kept 9:00: 14:00 UTC before, 13:00 UTC after.
    ny = [
        sent_at[m.id]
        for m in db.session.scalars(
            sa.select(Message).where(
                Message.subscription_id == subscriptions["new_york"],
                Message.kind == MessageKind.LESSON,
            )
        )
    ]
    assert {t.hour for t in ny if t < datetime(2026, 3, 8, 7, tzinfo=UTC)} == {14}
    assert {t.hour for t in ny if t > datetime(2026, 3, 8, 7, tzinfo=UTC)} == {13}
    # No claim is left behind and every subscription waits for its next send.
    leftovers = db.session.scalar(
        sa.select(sa.func.count())
        .select_from(Subscription)
        .where(Subscription.claim_token.is_not(None))
    )
    assert leftovers == 0
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Lesson)) == len(order)
