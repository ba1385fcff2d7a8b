"""Builders of the rows tests and benchmarks start from: people, courses, messages, admins.

Each adds what it builds to the session and flushes (so ids are set); the caller commits.
``bulk_due`` writes many due subscriptions with core INSERTs on a connection instead.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import UTC, datetime, time
from typing import Any, cast

import sqlalchemy as sa

from dripper.admin.passwords import hash_password
from dripper.courses.spec import MESSAGE_PLACEHOLDERS
from dripper.extensions import db
from dripper.models import (
    Admin,
    Course,
    Direction,
    Lesson,
    Message,
    MessageKind,
    MessageStatus,
    Subscriber,
    SubscriberStatus,
    Subscription,
    SubscriptionState,
)
from dripper.subscriptions.states import NextAction

#: The password of every admin ``make_admin`` creates.
PASSWORD = "correct horse battery staple"


def new_sid() -> str:
    """A fresh message SID of Twilio's shape."""
    return "SM" + uuid.uuid4().hex


def subscriber(
    phone: str,
    *,
    zones: Iterable[str] = ("America/New_York",),
    send_time: time = time(9, 0),
    course: Course | None = None,
) -> Subscriber:
    """A subscriber; with ``course``, also an active subscription to it (nothing scheduled)."""
    person = Subscriber(phone=phone, time_zones=list(zones), send_time=send_time)
    db.session.add(person)
    if course is not None:
        db.session.add(
            Subscription(subscriber=person, course=course, state=SubscriptionState.ACTIVE)
        )
    db.session.flush()
    return person


def add_person(
    course: Course,
    phone: str,
    *,
    zones: Iterable[str] = ("America/New_York",),
    send_time: time = time(9, 0),
    state: SubscriptionState = SubscriptionState.ACTIVE,
    action: str | None = NextAction.LESSON,
    due: datetime | None = None,
) -> Subscription:
    """A confirmed subscriber with their next send scheduled; the caller commits."""
    subscriber = Subscriber(phone=phone, time_zones=list(zones), send_time=send_time)
    subscription = Subscription(
        subscriber=subscriber,
        course=course,
        state=state,
        next_action=action,
        next_send_at=due,
        confirmed_at=datetime(2026, 1, 1, tzinfo=UTC),
    )
    db.session.add_all([subscriber, subscription])
    db.session.flush()
    return subscription


def small_course(lessons: int = 3, slug: str = "tiny") -> Course:
    """A short course with every system message, for tests that reach the end."""
    messages = {name: f"[{name}]" for name in MESSAGE_PLACEHOLDERS}
    messages["completion"] = "That's the end. Take care."
    course = Course(slug=slug, title="Tiny", keyword=slug.upper(), pacing={}, messages=messages)
    db.session.add(course)
    db.session.flush()
    for position in range(1, lessons + 1):
        db.session.add(
            Lesson(
                course_id=course.id,
                key=f"l{position}",
                position=position,
                title=f"Lesson {position}",
                text=f"Lesson {position} text.",
                question=f"Question {position}?",
            )
        )
    db.session.flush()
    db.session.expire(course, ["lessons"])
    return course


#: Sending hours over the whole day, so the hour a test or bench runs at never holds a send.
ALL_DAY = {"window_start": "00:00", "window_end": "23:59", "send_time": "09:00"}


def all_day_course(lessons: int = 3, slug: str = "allday") -> Course:
    """``small_course`` with a sending window that spans the whole day (``ALL_DAY``)."""
    course = small_course(lessons, slug=slug)
    course.pacing = dict(ALL_DAY)
    return course


#: When the rows ``bulk_due`` writes were created and confirmed.
BULK_CREATED = datetime(2026, 1, 1, tzinfo=UTC)


def due_subscriber_values() -> dict[str, Any]:
    """The columns of a subscriber ``bulk_due`` writes, all but its phone."""
    return {
        "time_zones": ["America/New_York"],
        "send_time": time(9, 0),
        "status": SubscriberStatus.ACTIVE,
        "created_at": BULK_CREATED,
    }


def due_subscription_values(course_id: int, due: datetime) -> dict[str, Any]:
    """The columns of an active subscription due at ``due``, all but its subscriber."""
    return {
        "course_id": course_id,
        "state": SubscriptionState.ACTIVE,
        "source": "sms",
        "lessons_sent": 0,
        "next_action": NextAction.LESSON,
        "next_send_at": due,
        "extra_count": 0,
        "readiness": 0.0,
        "resistant_streak": 0,
        "unanswered_questions": 0,
        "unanswered_check_ins": 0,
        "confirmed_at": BULK_CREATED,
        "created_at": BULK_CREATED,
    }


def bulk_due(
    connection: sa.Connection, course_id: int, count: int, due: datetime, *, start: int = 0
) -> None:
    """``count`` active subscriptions due at ``due``, written with core INSERTs in chunks."""
    subscriber = cast(sa.Table, Subscriber.__table__)
    subscription = cast(sa.Table, Subscription.__table__)
    person = due_subscriber_values()
    place = due_subscription_values(course_id, due)
    chunk = 5000
    for first in range(start, start + count, chunk):
        numbers = range(first, min(first + chunk, start + count))
        ids = (
            connection.execute(
                subscriber.insert().returning(subscriber.c.id, sort_by_parameter_order=True),
                [{"phone": f"+1202{n:07d}", **person} for n in numbers],
            )
            .scalars()
            .all()
        )
        connection.execute(subscription.insert(), [{"subscriber_id": i, **place} for i in ids])


def outbound_message(
    phone: str,
    *,
    kind: MessageKind = MessageKind.LESSON,
    body: str = "lesson text",
    status: MessageStatus = MessageStatus.QUEUED,
    provider_sid: str | None = None,
    subscriber: Subscriber | None = None,
    error_code: int | None = None,
) -> Message:
    """A message sent to ``phone`` (by default a lesson the provider accepted)."""
    message = Message(
        direction=Direction.OUTBOUND,
        kind=kind,
        phone=phone,
        subscriber=subscriber,
        body=body,
        status=status,
        provider_sid=provider_sid,
        error_code=error_code,
    )
    db.session.add(message)
    db.session.flush()
    return message


def reply_from(subscription: Subscription, body: str = "a reply") -> Message:
    """An inbound reply from the subscription's person, received."""
    message = Message(
        direction=Direction.INBOUND,
        kind=MessageKind.REPLY,
        phone=subscription.subscriber.phone,
        subscriber=subscription.subscriber,
        subscription=subscription,
        body=body,
        status=MessageStatus.RECEIVED,
    )
    db.session.add(message)
    db.session.flush()
    return message


def make_admin(email: str = "owner@example.org", role: str = "owner") -> Admin:
    """An admin with ``PASSWORD``, committed (the console reads it from its own session)."""
    admin = Admin(email=email, password_hash=hash_password(PASSWORD), role=role)
    db.session.add(admin)
    db.session.commit()
    return admin
