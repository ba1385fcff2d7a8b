"""A subscription's states and the events that move it, in one place.

Each transition is one function that sets the state and what the tick does next
(``next_action`` at ``next_send_at``). Views, tasks and commands call these; none of
them sets a state by hand. The caller commits and sends any reply.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from enum import StrEnum

from sqlalchemy import select

from dripper.extensions import db
from dripper.models import (
    Course,
    Subscriber,
    SubscriberStatus,
    Subscription,
    SubscriptionSource,
)
from dripper.models import SubscriptionState as State
from dripper.subscriptions import schedule

#: States in which the tick may send something on its own.
SCHEDULED_STATES = frozenset({State.ACTIVE, State.PAUSED, State.WAITING})
#: States a person is "in" a course (not ended, not waiting for YES).
LIVE_STATES = frozenset(
    {State.ACTIVE, State.PAUSED, State.WAITING, State.HELD, State.DORMANT, State.PARKED}
)


class NextAction(StrEnum):
    """What the tick does when ``next_send_at`` comes (stored in ``next_action``)."""

    LESSON = "lesson"
    QUESTION = "question"
    CHECK_IN = "check_in"
    OFFER = "offer"
    OFFER_EXPIRES = "offer_expires"


class TransitionError(ValueError):
    """An event that does not apply to the subscription's state (e.g. YES when active)."""


def _schedule(subscription: Subscription, action: str | None, at: datetime | None) -> None:
    subscription.next_action = action
    subscription.next_send_at = at
    release(subscription)


def release(subscription: Subscription) -> None:
    """The tick is done with this subscription: its claim is let go, its schedule kept."""
    subscription.claim_token = None
    subscription.claimed_at = None


def lesson_at(subscription: Subscription, at: datetime) -> None:
    """The next lesson at ``at``, unless the person paused: a pause they asked for outlasts
    anything a reply implies."""
    if subscription.state is not State.PAUSED:
        _schedule(subscription, NextAction.LESSON, at)


def offer_next(subscription: Subscription, at: datetime) -> None:
    """At ``at``, offer the next lesson ("reply NEXT") rather than send it (not while paused)."""
    if subscription.state is not State.PAUSED:
        _schedule(subscription, NextAction.OFFER, at)


def check_in_at(subscription: Subscription, at: datetime) -> None:
    """Lessons held; at ``at``, one gentle check-in instead (not while paused)."""
    if subscription.state is not State.PAUSED:
        _schedule(subscription, NextAction.CHECK_IN, at)


def question_at(subscription: Subscription, at: datetime) -> None:
    """The reflection question of the last lesson at ``at``."""
    _schedule(subscription, NextAction.QUESTION, at)


def defer_to_window(subscription: Subscription, at: datetime) -> None:
    """Due outside the person's sending window: the same step when the window opens at ``at``."""
    _schedule(subscription, subscription.next_action, at)


def unschedule(subscription: Subscription) -> None:
    """The number cannot be texted now: nothing is scheduled until something changes."""
    _schedule(subscription, None, None)


def next_lesson_slot(subscription: Subscription, now: datetime, *, days: int = 1) -> datetime:
    """The daily slot ``days`` local days from today (or today's, if days=0 and not past)."""
    return schedule.next_daily_slot(subscription.subscriber, subscription.course, now, days=days)


def subscribe(
    subscriber: Subscriber,
    course: Course,
    now: datetime,
    *,
    source: SubscriptionSource = SubscriptionSource.SMS,
) -> Subscription:
    """A person asks to join a course: pending until they reply YES."""
    subscription = db.session.scalar(
        select(Subscription).where(
            Subscription.subscriber_id == subscriber.id, Subscription.course_id == course.id
        )
    )
    if subscription is None:
        subscription = Subscription(
            subscriber=subscriber, course=course, state=State.PENDING, source=source,
            created_at=now,
        )  # fmt: skip
        db.session.add(subscription)
    elif subscription.state in (State.OPTED_OUT, State.COMPLETED) and not subscription.confirmed_at:
        subscription.state = State.PENDING
    _ensure_defaults(subscription)
    db.session.flush()
    return subscription


def _ensure_defaults(subscription: Subscription) -> None:
    # Python-side defaults apply at flush; transitions read these before that.
    for name, value in (
        ("lessons_sent", 0), ("extra_count", 0), ("readiness", 0.0), ("resistant_streak", 0),
        ("unanswered_questions", 0), ("unanswered_check_ins", 0),
    ):  # fmt: skip
        if getattr(subscription, name) is None:
            setattr(subscription, name, value)


def confirm(subscription: Subscription, now: datetime) -> datetime:
    """YES: the first lesson comes at the next daily slot. Returns when."""
    if subscription.state is not State.PENDING:
        raise TransitionError(f"cannot confirm a subscription that is {subscription.state}")
    subscription.state = State.ACTIVE
    subscription.confirmed_at = now
    first = next_lesson_slot(subscription, now, days=0)
    _schedule(subscription, NextAction.LESSON, first)
    return first


def opt_out(subscriber: Subscriber, now: datetime) -> None:
    """STOP (or a plain-language request, or carrier error 21610): nothing more, at once."""
    subscriber.status = SubscriberStatus.OPTED_OUT
    subscriber.opted_out_at = now
    for subscription in subscriber.subscriptions:
        if subscription.state is not State.COMPLETED:
            subscription.state = State.OPTED_OUT
            _schedule(subscription, None, None)


def opt_in(subscriber: Subscriber, now: datetime) -> list[Subscription]:
    """START/UNSTOP after an opt-out. Confirmed courses pick up where they left off;
    never-confirmed ones go back to pending (a new confirmation is due). Returns the
    subscriptions that came back."""
    subscriber.status = SubscriberStatus.ACTIVE
    subscriber.opted_out_at = None
    back = []
    for subscription in subscriber.subscriptions:
        if subscription.state is not State.OPTED_OUT:
            continue
        if subscription.confirmed_at is None:
            subscription.state = State.PENDING
            _schedule(subscription, None, None)
        else:
            subscription.state = State.ACTIVE
            _reset_quiet_counters(subscription)
            _schedule(subscription, NextAction.LESSON, next_lesson_slot(subscription, now, days=0))
        back.append(subscription)
    return back


def mark_unreachable(subscriber: Subscriber, reason: str) -> None:
    """The carrier says the number cannot get texts (invalid, landline)."""
    subscriber.status = SubscriberStatus.UNREACHABLE
    subscriber.unreachable_reason = reason
    for subscription in subscriber.subscriptions:
        if subscription.state in LIVE_STATES:
            _schedule(subscription, None, None)


def mark_reachable(subscriber: Subscriber, now: datetime) -> None:
    """An unreachable number texted in: it takes texts after all; courses carry on."""
    subscriber.status = SubscriberStatus.ACTIVE
    subscriber.unreachable_reason = None
    for subscription in subscriber.subscriptions:
        if subscription.state in SCHEDULED_STATES and subscription.next_send_at is None:
            _schedule(subscription, NextAction.LESSON, next_lesson_slot(subscription, now, days=0))


def pause(subscription: Subscription, days: int, now: datetime) -> datetime:
    """PAUSE n: lessons held for n days; returns when they resume.

    Not while held after a crisis reply: a pause would end the hold when it runs out."""
    if subscription.state not in LIVE_STATES - {State.HELD}:
        raise TransitionError(f"cannot pause a subscription that is {subscription.state}")
    resume_at = next_lesson_slot(subscription, now, days=days)
    subscription.state = State.PAUSED
    subscription.paused_until = resume_at
    _schedule(subscription, NextAction.LESSON, resume_at)
    return resume_at


def resume(subscription: Subscription, now: datetime) -> datetime:
    """RESUME (or an admin): lessons start again at the next daily slot; returns when."""
    if subscription.state not in LIVE_STATES:
        raise TransitionError(f"cannot resume a subscription that is {subscription.state}")
    subscription.state = State.ACTIVE
    subscription.paused_until = None
    _reset_quiet_counters(subscription)
    _clear_parked(subscription)
    at = next_lesson_slot(subscription, now, days=0)
    _schedule(subscription, NextAction.LESSON, at)
    return at


def park(subscription: Subscription, now: datetime, reason: str) -> None:
    """Its sends kept failing: stop trying until the person texts or an admin resumes."""
    subscription.state = State.PARKED
    subscription.parked_at = now
    subscription.parked_reason = reason[:200]
    _schedule(subscription, None, None)


def unpark(subscriber: Subscriber, now: datetime) -> list[Subscription]:
    """The person texted: their parked courses start again at the next daily slot."""
    back = [s for s in subscriber.subscriptions if s.state is State.PARKED]
    for subscription in back:
        resume(subscription, now)
    return back


def _clear_parked(subscription: Subscription) -> None:
    subscription.failure_count = 0
    subscription.parked_at = None
    subscription.parked_reason = None


def request_more(subscription: Subscription, now: datetime) -> datetime | None:
    """MORE/NEXT: the next lesson now (or when the window opens), at most
    ``more_per_day`` extra a local day. Returns when it goes, or None over the limit."""
    if subscription.state not in LIVE_STATES - {State.HELD}:
        raise TransitionError(f"cannot send more to a subscription that is {subscription.state}")
    today = schedule.local_today(subscription.subscriber, now)
    if subscription.extra_on != today:
        subscription.extra_on, subscription.extra_count = today, 0
    if subscription.extra_count >= schedule.pacing_count(subscription.course, "more_per_day"):
        return None
    subscription.extra_count += 1
    subscription.state = State.ACTIVE
    subscription.paused_until = None
    _reset_quiet_counters(subscription)
    at = schedule.soonest(subscription.subscriber, subscription.course, now)
    _schedule(subscription, NextAction.LESSON, at)
    return at


def change_time(subscriber: Subscriber, at: time, now: datetime) -> datetime | None:
    """TIME 7pm: the daily time changes from the next day on. Returns the first lesson
    at the new time, if one is scheduled."""
    subscriber.send_time = at
    first: datetime | None = None
    for subscription in subscriber.subscriptions:
        if subscription.state not in SCHEDULED_STATES:
            continue
        if subscription.next_action != NextAction.LESSON or subscription.next_send_at is None:
            continue
        today = schedule.local_today(subscriber, now)
        due_day = schedule.local_today(subscriber, subscription.next_send_at)
        if due_day <= today:
            continue  # today's lesson keeps today's time; the change applies from tomorrow
        moved = schedule.daily_slot(subscriber, subscription.course, due_day)
        _schedule(subscription, NextAction.LESSON, moved)
        first = moved if first is None else min(first, moved)
    return first


def hold(subscription: Subscription) -> None:
    """A crisis reply: everything held until an admin or the person resumes."""
    subscription.state = State.HELD
    _schedule(subscription, None, None)


def complete(subscription: Subscription, now: datetime) -> None:
    """The last lesson was sent (and its question answered or due): the course is done."""
    subscription.state = State.COMPLETED
    subscription.completed_at = now
    _schedule(subscription, None, None)


def go_dormant(subscription: Subscription) -> None:
    """Quiet after check-ins: nothing more until they text."""
    subscription.state = State.DORMANT
    _schedule(subscription, None, None)


def wait_for_reply(subscription: Subscription, until: datetime, action: str) -> None:
    """A lesson or check-in was offered: wait for NEXT (or any reply) until then."""
    subscription.state = State.WAITING
    _schedule(subscription, action, until)


def reply_received(subscription: Subscription, now: datetime) -> None:
    """Any free-text reply: the person is here. Wakes a dormant or waiting course."""
    subscription.last_reply_at = now
    _reset_quiet_counters(subscription)
    if subscription.state in (State.DORMANT, State.WAITING):
        subscription.state = State.ACTIVE
        _schedule(subscription, NextAction.LESSON, next_lesson_slot(subscription, now, days=1))


def _reset_quiet_counters(subscription: Subscription) -> None:
    subscription.unanswered_questions = 0
    subscription.unanswered_check_ins = 0


def replied_since(subscription: Subscription, when: datetime | None) -> bool:
    return bool(when and subscription.last_reply_at and subscription.last_reply_at >= when)


def lesson_sent(subscription: Subscription, lesson_id: int, now: datetime) -> None:
    """A lesson went out: its reflection question follows after the course's delay."""
    subscription.lessons_sent = (subscription.lessons_sent or 0) + 1
    subscription.last_lesson_id = lesson_id
    subscription.last_lesson_at = now
    delay = timedelta(hours=float(schedule.pacing(subscription.course, "question_delay_hours")))  # type: ignore[arg-type]
    at = schedule.next_opening(
        now + delay,
        schedule.zones_of(subscription.subscriber),
        *schedule.window(subscription.course),
    )
    _schedule(subscription, NextAction.QUESTION, at)


def question_done(subscription: Subscription, now: datetime, *, gap_days: int = 1) -> datetime:
    """The question went out (or was not needed): the next lesson ``gap_days`` after the
    lesson's local day. Returns when."""
    lesson_day_start = subscription.last_lesson_at or now
    at = schedule.next_daily_slot(
        subscription.subscriber, subscription.course, lesson_day_start, days=gap_days
    )
    _schedule(subscription, NextAction.LESSON, max(at, now))
    return at
