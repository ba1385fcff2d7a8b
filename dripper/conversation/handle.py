"""What an inbound text means, and doing it.

``handle_inbound`` reads a stored inbound message as an exact keyword (INTERFACE.md:
SMS keywords) or as free text and hands it to one small handler. Handlers move
subscriptions only through ``dripper.conversation.states`` and answer only through
``replies.send`` (the outbox). The caller commits.

Two rules sit above the dispatch: an opted-out number hears nothing except for
START/UNSTOP (opt back in) and HELP (CTIA expects HELP to work whatever the status,
and it is the person's own request, not marketing); and nothing is said twice to one
inbound message (the outbox dedupes the answer).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from dripper.clock import now
from dripper.conversation import replies, states
from dripper.conversation.keywords import Command, Keyword, normalise, parse_command
from dripper.conversation.subscribers import find_subscriber, get_or_create_subscriber
from dripper.drip import schedule
from dripper.extensions import db
from dripper.logs import mask_phone
from dripper.models import (
    Course,
    Message,
    MessageKind,
    Subscriber,
    SubscriberStatus,
    Subscription,
)
from dripper.models import SubscriptionState as State

log = logging.getLogger(__name__)

_KINDS = frozenset(kind.value for kind in MessageKind)

#: What an opted-out number may still be answered for.
HEARD_AFTER_OPT_OUT = frozenset({Keyword.START, Keyword.UNSTOP, Keyword.HELP})


@dataclass
class Inbound:
    """One inbound text being handled, and what we know about its sender."""

    message: Message
    command: Command | None
    subscriber: Subscriber | None
    courses: list[Course]  # by id; the first is the default course
    now: datetime

    @property
    def phone(self) -> str:
        return self.message.phone

    @property
    def default_course(self) -> Course | None:
        return self.courses[0] if self.courses else None


def handle_inbound(message: Message) -> None:
    """Act on an inbound text that is already stored; the caller commits."""
    courses = list(db.session.scalars(select(Course).order_by(Course.id)))
    keywords = frozenset(course.keyword.upper() for course in courses)
    command = parse_command(message.body or "", keywords)
    subscriber = find_subscriber(message.phone, lock=True)
    message.subscriber = subscriber
    inbound = Inbound(message, command, subscriber, courses, now())
    log.info(
        "message %s from %s: %s",
        message.id,
        mask_phone(message.phone),
        command.keyword.value if command else "free text",
    )
    if _opted_out(subscriber) and (command is None or command.keyword not in HEARD_AFTER_OPT_OUT):
        log.info("message %s: the number opted out, so no answer", message.id)
        return
    handler = HANDLERS[command.keyword] if command else free_text
    handler(inbound)


def on_free_text(message: Message, subscription: Subscription) -> None:
    """A reply that is no keyword: file it under the current lesson; the person is here.

    The one place free text goes, so the reply classifier is wired in here.
    """
    message.subscription = subscription
    message.lesson = subscription.last_lesson
    states.reply_received(subscription, now())


# --- handlers: one per keyword, each small -------------------------------------------


def join(inbound: Inbound) -> None:
    """JOIN, SUBSCRIBE, START or a course keyword: a confirmation request (double opt-in)."""
    course = _course_asked_for(inbound)
    if course is None:
        log.warning("message %s asks to join, but there is no course", inbound.message.id)
        return
    subscriber = _subscriber(inbound, course)
    subscription = states.subscribe(subscriber, course, inbound.now, source="sms")
    if subscription.state is State.PENDING:
        _send(inbound, "confirmation_request", subscription)
    elif subscription.state is State.COMPLETED:
        _send(inbound, "already_completed", subscription, title=course.title)
    elif subscription.state in states.LIVE_STATES:
        _send(inbound, "already_subscribed", subscription, title=course.title)


def start(inbound: Inbound) -> None:
    """START/UNSTOP: back in after an opt-out; otherwise the same as JOIN."""
    subscriber = inbound.subscriber
    if subscriber is None or not _opted_out(subscriber):
        return join(inbound)
    back = states.opt_in(subscriber, inbound.now)
    log.info("%s opted back in (%d courses)", mask_phone(inbound.phone), len(back))
    if not back:
        # Opted out without ever joining (STOP from a stranger): START is a fresh join.
        return join(inbound)
    for subscription in back:
        pending = subscription.state is State.PENDING
        _send(inbound, "confirmation_request" if pending else "rejoin", subscription)


def yes(inbound: Inbound) -> None:
    """YES while a confirmation is pending: confirmed, and told when the first lesson comes.

    Any other YES is an answer to a lesson, i.e. free text.
    """
    pending = _newest(inbound.subscriber, {State.PENDING})
    if pending is None:
        return free_text(inbound)
    first = states.confirm(pending, inbound.now)
    when = schedule.describe_when(first, pending.subscriber, inbound.now)
    _send(inbound, "welcome", pending, first_lesson=when)


def stop(inbound: Inbound) -> None:
    """A stop word: opted out at once, whatever the state, and one confirmation."""
    course = _current_course(inbound)
    # Strangers too: on record, so the web form cannot text them later.
    subscriber = _subscriber(inbound, course)
    current = _current_subscription(subscriber)
    states.opt_out(subscriber, inbound.now)
    log.info("%s opted out", mask_phone(inbound.phone))
    _send(inbound, "stop_confirmation", current, course=course)


def help_(inbound: Inbound) -> None:
    """HELP/INFO: the program, what it sends, how to stop, the support contact."""
    current = _current_subscription(inbound.subscriber)
    _send(inbound, "help", current, course=_current_course(inbound))


def pause(inbound: Inbound) -> None:
    """PAUSE / PAUSE n: lessons held for n days (the course's default without a number)."""
    subscription = _live_subscription(inbound.subscriber)
    if subscription is None or inbound.command is None:
        return free_text(inbound)
    if inbound.command.error:
        return _send(inbound, "pause_format", subscription)
    days = inbound.command.days or 1
    if normalise(inbound.message.body) == "PAUSE":
        days = int(schedule.pacing(subscription.course, "pause_days"))  # type: ignore[call-overload]
    try:
        resume_at = states.pause(subscription, days, inbound.now)
    except states.TransitionError:
        return free_text(inbound)
    resume_on = schedule.describe_day(resume_at, subscription.subscriber)
    _send(inbound, "pause_confirmation", subscription, resume_on=resume_on)


def resume(inbound: Inbound) -> None:
    """RESUME: lessons again from the next daily slot."""
    subscription = _live_subscription(inbound.subscriber)
    if subscription is None:
        return free_text(inbound)
    at = states.resume(subscription, inbound.now)
    when = schedule.describe_when(at, subscription.subscriber, inbound.now)
    _send(inbound, "resume_confirmation", subscription, next_lesson=when)


def more(inbound: Inbound) -> None:
    """MORE/NEXT: the next lesson now; the lesson itself is the answer (or the daily limit)."""
    subscription = _live_subscription(inbound.subscriber)
    if subscription is None:
        return free_text(inbound)
    try:
        at = states.request_more(subscription, inbound.now)
    except states.TransitionError:
        # HELD after a crisis reply: lessons wait for RESUME or the team.
        return free_text(inbound)
    if at is None:
        _send(inbound, "more_limit", subscription)


def change_time(inbound: Inbound) -> None:
    """TIME 7pm: the daily lesson time, within the course's sending window."""
    subscription = _live_subscription(inbound.subscriber)
    if subscription is None or inbound.command is None:
        return free_text(inbound)
    at = inbound.command.at
    if at is None:
        return _send(inbound, "time_format", subscription)
    opens, closes = schedule.window(subscription.course)
    if not opens <= at < closes:
        opens_at, closes_at = schedule.describe_time(opens), schedule.describe_time(closes)
        return _send(inbound, "time_window", subscription, opens=opens_at, closes=closes_at)
    states.change_time(subscription.subscriber, at, inbound.now)
    _send(inbound, "time_confirmation", subscription, send_time=schedule.describe_time(at))


def free_text(inbound: Inbound) -> None:
    """Anything else: a reply to the current lesson, or a join hint from a stranger."""
    subscription = _current_subscription(inbound.subscriber)
    if subscription is None:
        return join_hint(inbound)
    on_free_text(inbound.message, subscription)


def join_hint(inbound: Inbound) -> None:
    """A stranger's text: how to join, at most once a (local) day per number.

    Remembered on the Subscriber row (``join_hint_on``) rather than in Redis: it is
    written in the same transaction as the inbound message and survives a Redis flush.
    """
    course = inbound.default_course
    if course is None:
        return
    subscriber = _subscriber(inbound, course)
    today = schedule.local_today(subscriber, inbound.now)
    if subscriber.join_hint_on == today:
        log.info("message %s: join hint already sent today", inbound.message.id)
        return
    subscriber.join_hint_on = today
    _send(inbound, "join_hint", course=course)


HANDLERS: dict[Keyword, Callable[[Inbound], None]] = {
    Keyword.JOIN: join,
    Keyword.START: start,
    Keyword.UNSTOP: start,
    Keyword.YES: yes,
    Keyword.STOP: stop,
    Keyword.HELP: help_,
    Keyword.PAUSE: pause,
    Keyword.RESUME: resume,
    Keyword.MORE: more,
    Keyword.TIME: change_time,
}


# --- helpers --------------------------------------------------------------------------


def _send(
    inbound: Inbound,
    name: str,
    subscription: Subscription | None = None,
    *,
    course: Course | None = None,
    **values: str,
) -> None:
    """Answer with the course's message ``name`` (its own MessageKind, or a NOTICE)."""
    course = course or (subscription.course if subscription else inbound.default_course)
    if course is None:
        log.warning("message %s: no course to word the %s answer", inbound.message.id, name)
        return
    kind = MessageKind(name) if name in _KINDS else MessageKind.NOTICE
    replies.send(
        inbound.message,
        kind,
        course,
        name,
        subscriber=inbound.subscriber,
        subscription=subscription,
        **values,
    )
    log.info("message %s answered with %s", inbound.message.id, name)


def _opted_out(subscriber: Subscriber | None) -> bool:
    return subscriber is not None and subscriber.status is SubscriberStatus.OPTED_OUT


def _subscriber(inbound: Inbound, course: Course | None) -> Subscriber:
    """The sender as a Subscriber, created (E.164, time zones, course send time) if new."""
    if inbound.subscriber is None:
        send_time = (
            schedule.parse_clock(str(schedule.pacing(course, "send_time"))) if course else None
        )
        inbound.subscriber = get_or_create_subscriber(inbound.phone, send_time=send_time)
        inbound.message.subscriber = inbound.subscriber
    return inbound.subscriber


def _course_asked_for(inbound: Inbound) -> Course | None:
    """The course a JOIN names by its keyword, else the default course."""
    word = inbound.command.word if inbound.command else ""
    for course in inbound.courses:
        if course.keyword.upper() == word:
            return course
    return inbound.default_course


def _newest(
    subscriber: Subscriber | None, among: set[State] | frozenset[State]
) -> Subscription | None:
    if subscriber is None:
        return None
    found = [s for s in subscriber.subscriptions if s.state in among]
    return max(found, key=_recency, default=None)


def _recency(subscription: Subscription) -> tuple[datetime, datetime, int]:
    floor = datetime.min.replace(tzinfo=schedule.UTC_ZONE)
    return (
        subscription.last_lesson_at or floor,
        subscription.created_at or floor,
        subscription.id or 0,
    )


def _live_subscription(subscriber: Subscriber | None) -> Subscription | None:
    """The course a person is in now (the one most recently sent a lesson)."""
    return _newest(subscriber, states.LIVE_STATES)


def _current_subscription(subscriber: Subscriber | None) -> Subscription | None:
    """The course a message is most likely about: a live one, else pending, else finished."""
    return (
        _live_subscription(subscriber)
        or _newest(subscriber, {State.PENDING})
        or _newest(subscriber, {State.COMPLETED})
    )


def _current_course(inbound: Inbound) -> Course | None:
    current = _current_subscription(inbound.subscriber)
    return current.course if current is not None else inbound.default_course
