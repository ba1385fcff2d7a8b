"""What an inbound text means, and doing it.

``handle_inbound`` reads a stored inbound message as an exact keyword (docs/INTERFACE.md:
SMS keywords) or as free text and hands it to one small handler. Handlers move
subscriptions only through ``dripper.subscriptions.states`` and answer only through
``replies.send`` (the outbox). The caller commits.

Two rules sit above the dispatch: an opted-out number hears nothing except for
START/UNSTOP (opt back in), HELP (CTIA expects HELP to work whatever the status,
and it is the person's own request, not marketing) and, when its words read as
danger, the crisis lines (with an alert for the team; the opt-out stands); and
nothing is said twice to one inbound message (the outbox dedupes the answer). A number
forgotten after it opted out (``dripper.suppression``) counts as opted out again,
unless it texts START or JOIN.

Free text from a subscriber goes through the reply classifier (``reply``): a
plain-language command ("please stop texting me", "can we take a break for a week")
is acted on like its keyword, and a readiness label goes to the pacing policy, which
decides what happens next and whether a short acknowledgement is due; ``apply`` does it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import func, select, update

from dripper import metrics, suppression
from dripper.clock import now
from dripper.conversation import apply, context, replies
from dripper.conversation.live_courses import course_keywords, live_courses
from dripper.conversation.subscribers import find_subscriber, get_or_create_subscriber
from dripper.drip.tasks import kick
from dripper.extensions import db
from dripper.keywords import Command, Keyword, keyword_form, parse_command
from dripper.labels import ReplyLabel
from dripper.logs import mask_phone
from dripper.models import (
    AlertKind,
    Course,
    Direction,
    Message,
    MessageKind,
    Subscriber,
    SubscriberStatus,
    Subscription,
    UTCDateTime,
)
from dripper.models import SubscriptionState as State
from dripper.readiness.classifier import CLARIFICATION
from dripper.readiness.opt_out import opt_out_rule
from dripper.readiness.service import classify
from dripper.subscriptions import schedule, states

if TYPE_CHECKING:
    from dripper.readiness.classifier import Classification

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
    #: Set once a plain-language command was tried, so that one that does not apply
    #: (PAUSE while held) comes back as a plain reply, not as the command again.
    tried_as_command: bool = False
    #: Set once the team was asked to review this text, so a second reading (the same
    #: text back as a plain reply) does not raise a second alert.
    review_raised: bool = False

    @property
    def phone(self) -> str:
        return self.message.phone

    @property
    def default_course(self) -> Course | None:
        return self.courses[0] if self.courses else None


#: A stored inbound text left unhandled this long is the inbound sweep's to handle: its
#: webhook died, or its handling failed. Long enough that a webhook still at work on it
#: is not overtaken.
UNHANDLED_AFTER = timedelta(seconds=10)
#: After a failed try, the next waits this long, doubled per failure, up to the maximum.
RETRY_AFTER = timedelta(seconds=30)
RETRY_AFTER_MAX = timedelta(hours=1)


def handle_stored(message_id: int, *, skip_locked: bool = False) -> Message | None:
    """Claim the stored inbound message ``message_id`` and act on it; the caller commits.

    ``handled_at`` is set first, by a conditional UPDATE in the same transaction as the
    handling, so a message is handled exactly once whoever races for it (the webhook,
    Twilio's retry, two sweeps): the loser's UPDATE waits for the winner's commit and
    then matches nothing. ``None`` when it was handled already. With ``skip_locked``
    (the sweep) a row someone is handling right now is passed over, not waited for.
    """
    if skip_locked:
        locked = db.session.scalar(
            select(Message.id)
            .where(Message.id == message_id, Message.handled_at.is_(None))
            .with_for_update(skip_locked=True)
        )
        if locked is None:
            return None
    # The claim returns the row itself: one statement, not an UPDATE and a read. By the
    # primary key alone: with ``direction`` in the condition too, PostgreSQL's generic plan
    # took the (direction, handled_at) index and walked every unhandled text for each
    # claim, a quarter of a core with a few thousand queued. The direction is checked on
    # the row instead: an outbound id here is a bug, and the caller's rollback undoes it.
    message = db.session.scalar(
        update(Message)
        .where(Message.id == message_id, Message.handled_at.is_(None))
        .values(handled_at=now())
        .returning(Message),
        execution_options={"synchronize_session": False, "populate_existing": True},
    )
    if message is None:
        return None
    if message.direction is not Direction.INBOUND:
        raise ValueError(f"message {message_id} is not an inbound text")
    handle_inbound(message)
    return message


def handling_failed(message_id: int, error: Exception) -> None:
    """After a failed try at handling ``message_id``: roll it back, log it without the
    body, and count the try. Still unhandled, the inbound sweep tries again."""
    db.session.rollback()
    # The error's text may quote SQL parameters (the body): its type only, and the
    # traceback at debug level.
    log.error("inbound message %s not handled: %s", message_id, type(error).__name__)
    log.debug("inbound message %s not handled", message_id, exc_info=error)
    note_not_handled(message_id)


def note_not_handled(message_id: int) -> None:
    """Count a failed try at handling ``message_id``, in a transaction of its own."""
    db.session.execute(
        update(Message)
        .where(Message.id == message_id, Message.handled_at.is_(None))
        .values(attempts=Message.attempts + 1, status_at=now())
        .execution_options(synchronize_session=False)
    )
    db.session.commit()


def unhandled_message_ids(limit: int = 100) -> list[int]:
    """Stored inbound texts nobody acted on, oldest try first, each once its wait is over.

    The wait is compared with the clock the rows were stamped with (``now``), so the
    sandbox clock and the real one are never mixed.
    """
    at = now()
    # The last try (or the arrival): a row from before status_at was written has none.
    tried_at = func.coalesce(Message.status_at, Message.created_at, type_=UTCDateTime)
    rows = db.session.execute(
        select(Message.id, Message.attempts, tried_at)
        .where(
            Message.direction == Direction.INBOUND,
            Message.handled_at.is_(None),
            tried_at < at - UNHANDLED_AFTER,
        )
        .order_by(tried_at, Message.id)
        .limit(limit)
    )
    due = []
    for message_id, attempts, last_try in rows:
        wait = UNHANDLED_AFTER
        if attempts:
            wait = min(RETRY_AFTER * 2 ** (attempts - 1), RETRY_AFTER_MAX)
        if last_try <= at - wait:
            due.append(message_id)
    return due


def handle_inbound(message: Message) -> None:
    """Act on an inbound text that is already stored; the caller commits."""
    courses = live_courses()  # kept per process (dripper/conversation/live_courses.py)
    keywords = course_keywords()
    command = parse_command(message.body or "", keywords)
    subscriber = find_subscriber(message.phone, lock=True)
    if subscriber is None and not _rejoins(command):
        subscriber = _restore_opt_out(message.phone)
    message.subscriber = subscriber
    inbound = Inbound(message, command, subscriber, courses, now())
    log.info(
        "message %s from %s: %s",
        message.id,
        mask_phone(message.phone),
        command.keyword.value if command else "free text",
    )
    if _opted_out(subscriber) and (command is None or command.keyword not in HEARD_AFTER_OPT_OUT):
        if command is None:
            # Read for danger all the same: the crisis lines are owed to anyone.
            return crisis_only(inbound)
        log.info("message %s: the number opted out, so no answer", message.id)
        return
    if subscriber is not None and subscriber.status is SubscriberStatus.UNREACHABLE:
        # They just texted us, so the number takes texts after all (ported, or fixed).
        states.mark_reachable(subscriber, inbound.now)
        log.info("%s texted in: reachable again", mask_phone(message.phone))
    if subscriber is not None and states.unpark(subscriber, inbound.now):
        # Parked after its sends kept failing; a text from them is worth another try.
        log.info("%s texted in: parked course resumed", mask_phone(message.phone))
    handler = HANDLERS[command.keyword] if command else free_text
    handler(inbound)


def reply(inbound: Inbound, subscription: Subscription) -> None:
    """A reply in the person's own words: classify it, then act on what it means.

    The one place free text goes. The reply is read as the answer to the question the
    course had sent last when it arrived (``context``), which is stored with it. The
    label, its confidence and whether a person should review it are stored on the
    message (the review queue reads them). Possible danger that reads as a worry or a
    plan (``crisis_review``) alerts the team for review and is otherwise paced by its
    label: no crisis lines, lessons go on.
    """
    message = inbound.message
    message.subscription = subscription
    message.lesson = subscription.last_lesson
    # What we had sent when the text arrived: a worker or the sweep may act on it later,
    # after the next question went out, and it does not answer that one.
    answers = context.answered(subscription, message.created_at or inbound.now)
    message.answers = answers
    result = _classify(message, context.question_text(answers))
    label = result.label
    if label is ReplyLabel.CRISIS:
        _crisis(inbound, subscription, message)
        return
    if result.crisis_review:
        _review(inbound, subscription)
    if result.rule == CLARIFICATION:
        # "what do you mean by that?": a short answer, the team reads it (needs_review), and
        # the pace is left as it is: it is a question about the lesson, not an answer yet.
        return _send(inbound, "clarify", subscription)
    if label in COMMAND_LABELS and inbound.command is None and not inbound.tried_as_command:
        # A plain-language command: acted on like its keyword.
        inbound.tried_as_command = True
        return _plain_command(inbound, subscription, label, result.days, result.at)
    if label in COMMAND_LABELS:
        # A command that did not apply here (PAUSE while held, YES when nothing is
        # pending): an answer like any other, with nothing to read into it.
        label = ReplyLabel.NEUTRAL
    apply.pace(subscription, message, label, needs_review=result.needs_review, now=inbound.now)


#: Labels that ask for something, rather than say how ready a person is.
COMMAND_LABELS = frozenset(
    {
        ReplyLabel.OPT_OUT,
        ReplyLabel.HELP,
        ReplyLabel.PAUSE,
        ReplyLabel.MORE,
        ReplyLabel.RESCHEDULE,
    }
)


def _plain_command(
    inbound: Inbound,
    subscription: Subscription,
    label: ReplyLabel,
    days: int | None,
    at: time | None,
) -> None:
    if label is ReplyLabel.OPT_OUT:
        return stop(inbound)
    if label is ReplyLabel.HELP:
        return help_(inbound)
    # Not counted as an answer to the lesson: its question still comes.
    if subscription.state not in states.LIVE_STATES:
        return None  # pending or finished: nothing to pause, speed up or move
    if label is ReplyLabel.PAUSE:
        return _pause(inbound, subscription, days or _default_pause_days(subscription))
    if label is ReplyLabel.MORE:
        return _more(inbound, subscription)
    return _change_time(inbound, subscription, at)


def _crisis(inbound: Inbound, subscription: Subscription, message: Message) -> None:
    """The crisis response at once, lessons held, the team alerted (as pacing decides).

    A crisis reply that also asks us to stop ("stop texting me, I have pills saved
    up") gets the crisis response and is then opted out, as asked.
    """
    apply.pace(subscription, message, ReplyLabel.CRISIS, needs_review=True, now=inbound.now)
    if _asks_to_stop(message.body or ""):
        current = _current_subscription(inbound.subscriber)
        assert inbound.subscriber is not None
        states.opt_out(inbound.subscriber, inbound.now)
        log.info("%s opted out (with a crisis reply)", mask_phone(inbound.phone))
        _send(inbound, "stop_confirmation", current, course=subscription.course)


def _review(inbound: Inbound, subscription: Subscription | None) -> None:
    """Possible danger read as a worry or a plan: the team reads it, once per text.

    Nothing is sent to the person for it and lessons are not held (the reply is paced
    by its label, at the gentlest pace since it needs review).
    """
    if inbound.review_raised:
        return
    inbound.review_raised = True
    apply.raise_alert(inbound.message, subscription, inbound.now, kind=AlertKind.REVIEW)


def _classify(message: Message, question: str | None = None) -> Classification:
    """The reply's label, read as the answer to ``question`` when there is one, stored on
    it with its confidence and whether to review it."""
    result = classify(message.body or "", question)
    message.label = result.label
    message.confidence = round(result.confidence, 4)
    message.needs_review = result.needs_review
    metrics.inbound(result.label.value)
    log.info(
        "message %s: %s (%.2f, %s layer%s%s)",
        message.id,
        result.label.value,
        result.confidence,
        result.layer,
        ", with its question" if question else "",
        ", for review" if result.crisis_review else "",
    )
    return result


def _asks_to_stop(text: str) -> bool:
    return opt_out_rule(text) is not None


# --- handlers: one per keyword, each small -------------------------------------------


def join(inbound: Inbound) -> None:
    """JOIN, SUBSCRIBE, START or a course keyword: a confirmation request (double opt-in)."""
    suppression.lift(inbound.phone)  # their own consent, even after they were forgotten
    course = _course_asked_for(inbound)
    if course is None:
        log.warning("message %s asks to join, but there is no course", inbound.message.id)
        return
    subscriber = _subscriber(inbound, course)
    subscription = states.subscribe(subscriber, course, inbound.now)
    if subscription.state is State.PENDING:
        _send(inbound, "confirmation_request", subscription)
    elif subscription.state is State.COMPLETED:
        _send(inbound, "already_completed", subscription, title=course.title)
    elif subscription.state in states.LIVE_STATES:
        _send(inbound, "already_subscribed", subscription, title=course.title)


def start(inbound: Inbound) -> None:
    """START/UNSTOP: back in after an opt-out; otherwise the same as JOIN."""
    suppression.lift(inbound.phone)  # their own consent, even after they were forgotten
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
    if keyword_form(inbound.message.body) == "PAUSE":
        days = _default_pause_days(subscription)
    _pause(inbound, subscription, days)


def _default_pause_days(subscription: Subscription) -> int:
    return schedule.pacing_count(subscription.course, "pause_days")


def _pause(inbound: Inbound, subscription: Subscription, days: int) -> None:
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
    _more(inbound, subscription)


def _more(inbound: Inbound, subscription: Subscription) -> None:
    try:
        at = states.request_more(subscription, inbound.now)
    except states.TransitionError:
        # HELD after a crisis reply: lessons wait for RESUME or the team.
        return free_text(inbound)
    if at is None:
        return _send(inbound, "more_limit", subscription)
    kick(subscription.id)  # now, not at the next tick (if the window is open)
    return None


def change_time(inbound: Inbound) -> None:
    """TIME 7pm: the daily lesson time, within the course's sending window."""
    subscription = _live_subscription(inbound.subscriber)
    if subscription is None or inbound.command is None:
        return free_text(inbound)
    _change_time(inbound, subscription, inbound.command.at)


def _change_time(inbound: Inbound, subscription: Subscription, at: time | None) -> None:
    if at is None:
        return _send(inbound, "time_format", subscription)
    opens, closes = schedule.window(subscription.course)
    if not opens <= at < closes:
        opens_at, closes_at = schedule.describe_time(opens), schedule.describe_time(closes)
        return _send(inbound, "time_window", subscription, opens=opens_at, closes=closes_at)
    states.change_time(subscription.subscriber, at, inbound.now)
    _send(inbound, "time_confirmation", subscription, send_time=schedule.describe_time(at))
    return None


def free_text(inbound: Inbound) -> None:
    """Anything else: a reply to the current lesson, or a join hint from a stranger."""
    subscription = _current_subscription(inbound.subscriber)
    if subscription is None:
        return stranger(inbound)
    reply(inbound, subscription)


def stranger(inbound: Inbound) -> None:
    """Text from a number in no course: a join hint, unless it reads as a crisis.

    Someone in danger may text any number they find; they get the crisis lines
    (never a sign-up pitch) and the team is alerted, as for a subscriber.
    """
    result = _classify(inbound.message)
    if result.label is not ReplyLabel.CRISIS:
        if result.crisis_review:
            _review(inbound, None)
        return join_hint(inbound)
    return _crisis_lines(inbound, None)


def crisis_only(inbound: Inbound) -> None:
    """Free text from a number that opted out: the crisis lines if it reads as danger,
    and otherwise nothing (no acknowledgement, no lesson, no join hint).

    The opt-out stands; the team is alerted as for anyone else.
    """
    result = _classify(inbound.message)
    last = _newest(inbound.subscriber, frozenset(State))
    if result.label is not ReplyLabel.CRISIS:
        if result.crisis_review:
            _review(inbound, last)
        log.info("message %s: the number opted out, so no answer", inbound.message.id)
        return None
    if last is not None:
        inbound.message.subscription = last
    return _crisis_lines(inbound, last)


def _crisis_lines(inbound: Inbound, subscription: Subscription | None) -> None:
    """The crisis lines and an alert, with nothing about the course: for a number in none
    (a stranger) or one that opted out (``subscription`` then names its last course)."""
    course = subscription.course if subscription is not None else inbound.default_course
    if course is None:
        return None
    _subscriber(inbound, course)
    apply.raise_alert(inbound.message, subscription, inbound.now)
    return _send(inbound, "crisis_response", course=course)


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


#: Keywords by which a person who opted out and was forgotten consents again.
REJOIN_KEYWORDS = frozenset({Keyword.JOIN, Keyword.START, Keyword.UNSTOP})


def _rejoins(command: Command | None) -> bool:
    return command is not None and command.keyword in REJOIN_KEYWORDS


def _restore_opt_out(phone: str) -> Subscriber | None:
    """A number forgotten after it opted out: its opt-out is on record again.

    Only START or JOIN from the person lifts it (they never reach here); anything else
    is answered as after a STOP, which needs the number's row back.
    """
    entry = suppression.find(phone)
    if entry is None:
        return None
    subscriber = get_or_create_subscriber(phone)
    states.opt_out(subscriber, entry.created_at)
    log.info("%s is on the suppression list: opted out again", mask_phone(phone))
    return subscriber


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
