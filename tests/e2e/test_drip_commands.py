"""PAUSE, RESUME, MORE and TIME acting through the tick and real workers, to the end."""

from __future__ import annotations

from datetime import datetime, time
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from drip_support import SandboxRun
from flask import Flask

from dripper.clock import now, sandbox_clock
from dripper.drip.tasks import kick
from dripper.extensions import db
from dripper.models import Message, MessageKind, Subscriber, Subscription, SubscriptionState
from dripper.subscriptions import states
from dripper_testkit.builders import small_course
from dripper_testkit.workers import BrokerSpace, Worker

NEW_YORK = ZoneInfo("America/New_York")


def ny(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=NEW_YORK)


@pytest.fixture
def app_config(drip_config: dict[str, Any]) -> dict[str, Any]:
    return drip_config


def test_more_pause_resume_and_time_change_the_drip_until_the_course_ends(
    app: Flask, worker: Worker, broker: BrokerSpace
) -> None:
    course = small_course(5)
    sandbox_clock().set(ny(9, 7))  # Monday 7:00
    subscriber = Subscriber(
        phone="+12125550199", time_zones=["America/New_York"], send_time=time(9)
    )
    db.session.add(subscriber)
    subscription = states.subscribe(subscriber, course, now())
    states.confirm(subscription, now())
    db.session.commit()
    sub_id = subscription.id
    run = SandboxRun(broker)

    def act(at: datetime, change: Any) -> None:
        """Run the drip up to ``at``, then do what a text from them would do."""
        run.until(at)
        sandbox_clock().set(at)
        sub = db.session.get(Subscription, sub_id)
        assert sub is not None
        change(sub)
        db.session.commit()
        run.settle(at)

    # Monday: lesson 1 at 9:00, its question at 12:00; MORE at 13:00 comes at once.
    act(ny(9, 13), lambda sub: (states.request_more(sub, now()), kick(sub.id)))
    # Tuesday: lesson 3 at 9:00, then PAUSE 3 at 10:00 (held until Friday 9:00)...
    act(ny(10, 10), lambda sub: states.pause(sub, 3, now()))
    # ...and RESUME on Wednesday at 8:00: the lesson comes at 9:00 that day.
    act(ny(11, 8), lambda sub: states.resume(sub, now()))
    # Wednesday 11:00: TIME 7pm; the change applies from the next lesson on.
    act(ny(11, 11), lambda sub: states.change_time(sub.subscriber, time(19), now()))
    run.until(ny(16, 12))  # well past the end of the course

    messages = list(
        db.session.scalars(
            sa.select(Message).where(Message.subscription_id == sub_id).order_by(Message.id)
        )
    )
    lesson_number = {lesson.id: lesson.position for lesson in course.lessons}
    story = [
        (
            m.kind.value,
            lesson_number.get(m.lesson_id or 0),
            run.sent_at[m.id].astimezone(NEW_YORK).strftime("%a %H:%M"),
        )
        for m in messages
    ]
    assert story == [
        ("lesson", 1, "Mon 09:00"),
        ("question", 1, "Mon 12:00"),
        ("lesson", 2, "Mon 13:00"),  # MORE: at once, not at the next tick
        ("question", 2, "Mon 16:00"),
        ("lesson", 3, "Tue 09:00"),
        # PAUSE at 10:00: the question is dropped, nothing on Tuesday or Wednesday...
        ("lesson", 4, "Wed 09:00"),  # ...until RESUME
        ("question", 4, "Wed 12:00"),
        ("lesson", 5, "Thu 19:00"),  # TIME 7pm
        ("question", 5, "Fri 08:00"),  # 22:00 is quiet hours: the next morning
        ("completion", None, "Fri 19:00"),
    ]
    db.session.expire_all()
    ended = db.session.get(Subscription, sub_id)
    assert ended is not None and ended.state is SubscriptionState.COMPLETED
    assert ended.next_send_at is None
    assert sum(1 for m in messages if m.kind is MessageKind.COMPLETION) == 1


def test_more_through_kick_does_not_wait_for_the_tick(
    app: Flask, worker: Worker, broker: BrokerSpace
) -> None:
    course = small_course(3)
    sandbox_clock().set(ny(9, 9, 30))
    subscriber = Subscriber(
        phone="+12125550198", time_zones=["America/New_York"], send_time=time(9)
    )
    db.session.add(subscriber)
    subscription = states.subscribe(subscriber, course, now())
    states.confirm(subscription, now())  # 9:30: today's 9:00 is past
    db.session.commit()
    assert subscription.next_send_at is not None
    assert subscription.next_send_at.astimezone(NEW_YORK) == ny(10, 9)
    states.request_more(subscription, now())
    assert kick(subscription.id)
    db.session.commit()
    SandboxRun(broker).settle()  # no tick at all
    lessons = [
        m.body
        for m in db.session.scalars(
            sa.select(Message).where(Message.kind == MessageKind.LESSON).order_by(Message.id)
        )
    ]
    assert lessons == ["Lesson 1 text."]
