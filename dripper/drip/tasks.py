"""The drip's Celery tasks: the tick beat runs, and the send that acts on a claim.

Every task is safe to run twice (``acks_late``: a worker killed mid-task gets its
message redelivered). A send acts only while its claim token is still on the row:
any transition (pause, stop, MORE…) clears the claim, which turns an in-flight send
into a no-op. The unique ``Message.dedupe_key`` is the backstop when two runs race.

A lesson counts as received once the provider has it or while it is still on its way;
one that finally failed does not, so the course sends it again at the next slot (the
same row, so never twice). A subscription whose send keeps raising is parked after
DRIP_MAX_FAILURES tries in a row instead of being tried every claim timeout forever.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime, timedelta

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from flask import current_app
from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import joinedload

from dripper.clock import now as clock_now
from dripper.drip.tick import claim_one, tick
from dripper.extensions import db
from dripper.jobs import enqueue_after_commit
from dripper.logs import mask_phone
from dripper.models import (
    Direction,
    Lesson,
    LessonSkip,
    Message,
    MessageKind,
    MessageStatus,
    Subscription,
    subscription_table,
)
from dripper.models import SubscriptionState as State
from dripper.sms.outbox import (
    DeliveryState,
    collect_deliveries,
    collected,
    lesson_key,
    queue_deliveries,
    queue_message,
    state_of,
)
from dripper.subscriptions import schedule, silence, states
from dripper.subscriptions.states import SCHEDULED_STATES, NextAction

log = logging.getLogger(__name__)


class StepOutcome(enum.StrEnum):
    """What acting on one due subscription did; counted by the tests and the bench, logged at debug."""

    LESSON = "lesson"
    QUESTION = "question"
    QUESTION_SKIPPED = "question_skipped"  # they replied since the lesson
    COMPLETED = "completed"
    STALE = "stale"  # the claim was released or taken over: nothing to do
    NOT_TEXTABLE = "not_textable"
    NOT_SCHEDULED = "not_scheduled"
    QUIET_HOURS = "quiet_hours"  # moved to the next opening of the window
    DUPLICATE = "duplicate"  # a racing run wrote it first
    UNKNOWN_ACTION = "unknown_action"
    CHECK_IN = "check_in"  # asked whether to go on (after overwhelm or silence)
    OFFER = "offer"  # the next lesson offered, not pushed
    DORMANT = "dormant"  # no answer: nothing more until they text
    LESSON_PENDING = "lesson_pending"  # the question waits: its lesson has not gone out yet
    LESSON_FAILED = "lesson_failed"  # no question: the lesson failed and goes again next slot


def completion_key(subscription_id: int) -> str:
    return f"sub:{subscription_id}:completion"


def received_lesson_ids(subscription_id: int) -> set[int]:
    """Lessons this subscription was sent: the cursor (not a position, so edits are safe).

    A lesson still on its way counts; one that finally failed without the provider ever
    taking it does not (it is sent again).
    """
    chunk = collected()
    if chunk is not None and subscription_id in chunk.covered:
        return set(chunk.lessons.get(subscription_id, ()))  # read with the chunk's rows
    rows = db.session.scalars(
        select(Message.lesson_id).where(
            Message.subscription_id == subscription_id,
            Message.direction == Direction.OUTBOUND,
            Message.kind == MessageKind.LESSON,
            Message.lesson_id.is_not(None),
            or_(Message.status != MessageStatus.FAILED, Message.provider_sid.is_not(None)),
        )
    )
    return {lesson_id for lesson_id in rows if lesson_id is not None}


#: The skipped lessons of a chunk's subscriptions, read once for the chunk (``perform_many``).
_chunk_skips: ContextVar[dict[int, set[int]] | None] = ContextVar("chunk_skips", default=None)


def skipped_lesson_ids(subscription_ids: list[int]) -> dict[int, set[int]]:
    """The lessons published before each subscription's place (``LessonSkip``), in one query.

    Read without an autoflush: a chunk's pending writes are flushed once, at its end.
    """
    skips: dict[int, set[int]] = {subscription_id: set() for subscription_id in subscription_ids}
    if not subscription_ids:
        return skips
    with db.session.no_autoflush:
        rows = db.session.execute(
            select(LessonSkip.subscription_id, LessonSkip.lesson_id).where(
                LessonSkip.subscription_id.in_(subscription_ids)
            )
        )
        for subscription_id, lesson_id in rows:
            skips[subscription_id].add(lesson_id)
    return skips


@contextmanager
def _skips_read_for(subscription_ids: list[int]) -> Iterator[None]:
    token = _chunk_skips.set(skipped_lesson_ids(subscription_ids))
    try:
        yield
    finally:
        _chunk_skips.reset(token)


def next_lesson(subscription: Subscription) -> Lesson | None:
    """The first lesson in the course's current order that this subscription has not had,
    leaving out lessons published before its place (``LessonSkip``)."""
    received = received_lesson_ids(subscription.id)
    chunk = _chunk_skips.get()
    if chunk is not None and subscription.id in chunk:
        skipped = chunk[subscription.id]
    else:
        skipped = skipped_lesson_ids([subscription.id])[subscription.id]
    for lesson in subscription.course.lessons:
        if lesson.id not in received and lesson.id not in skipped:
            return lesson
    return None


def _question_went_unanswered(subscription: Subscription) -> bool:
    # The question is only sent when no reply came after the lesson, so "no reply
    # since the question" is "no reply since the lesson" once the question exists.
    if subscription.last_lesson_id is None:
        return False
    key = lesson_key(subscription.id, subscription.last_lesson_id, "question")
    asked = state_of(key, subscription.id) not in (None, DeliveryState.FAILED)
    return asked and not states.replied_since(subscription, subscription.last_lesson_at)


def _send_lesson(subscription: Subscription, now: datetime) -> StepOutcome:
    subscriber = subscription.subscriber
    if subscription.state is State.PAUSED:
        states.resume(subscription, now)  # the pause ran out
    lesson = next_lesson(subscription)
    if lesson is None:
        course = subscription.course
        queue_message(
            subscriber.phone,
            MessageKind.COMPLETION,
            course.message("completion"),
            subscriber=subscriber,
            subscription=subscription,
            dedupe_key=completion_key(subscription.id),
            window=schedule.send_window(subscriber, course),
        )
        states.complete(subscription, now)
        return StepOutcome.COMPLETED
    if _question_went_unanswered(subscription):
        subscription.unanswered_questions = (subscription.unanswered_questions or 0) + 1
    if silence.silent_too_long(subscription):
        # Several questions in a row went unanswered: ask once, then leave them be.
        _queue_check_in(subscription, now)
        states.go_dormant(subscription)
        return StepOutcome.CHECK_IN
    queue_message(
        subscriber.phone,
        MessageKind.LESSON,
        lesson.text,
        subscriber=subscriber,
        subscription=subscription,
        lesson=lesson,
        dedupe_key=lesson_key(subscription.id, lesson.id, "lesson"),
        window=schedule.send_window(subscriber, subscription.course),
    )
    states.lesson_sent(subscription, lesson.id, now)
    return StepOutcome.LESSON


def _send_question(subscription: Subscription, now: datetime) -> StepOutcome:
    lesson = subscription.last_lesson
    outcome = StepOutcome.QUESTION_SKIPPED
    sent = (
        state_of(lesson_key(subscription.id, lesson.id, "lesson"), subscription.id)
        if lesson is not None
        else None
    )
    if sent is DeliveryState.RETRYING:
        # Refused so far, or held for the window: the question follows it, never leads.
        delay = float(schedule.pacing(subscription.course, "question_delay_hours"))  # type: ignore[arg-type]
        at = schedule.soonest(
            subscription.subscriber, subscription.course, now + timedelta(hours=delay)
        )
        states.question_at(subscription, at)
        return StepOutcome.LESSON_PENDING
    if sent is DeliveryState.FAILED:
        # Not received: no question about it; the next lesson slot sends it again.
        subscription.lessons_sent = max(0, (subscription.lessons_sent or 0) - 1)
        states.question_done(subscription, now, gap_days=1)
        return StepOutcome.LESSON_FAILED
    if (
        lesson is not None
        and lesson.question
        and not states.replied_since(subscription, subscription.last_lesson_at)
    ):
        queue_message(
            subscription.subscriber.phone,
            MessageKind.QUESTION,
            lesson.question,
            subscriber=subscription.subscriber,
            subscription=subscription,
            lesson=lesson,
            dedupe_key=lesson_key(subscription.id, lesson.id, "question"),
            window=schedule.send_window(subscription.subscriber, subscription.course),
        )
        outcome = StepOutcome.QUESTION
    # Silence is information too: after unanswered questions, lessons come less often.
    states.question_done(subscription, now, gap_days=silence.gap_after_question(subscription))
    return outcome


def _occasion_key(subscription: Subscription, kind: str) -> str:
    """One message per scheduled occasion: the same claim run twice writes it once."""
    due = subscription.next_send_at
    stamp = due.strftime("%Y%m%dT%H%M%S") if due else "now"
    return f"sub:{subscription.id}:{kind}:{stamp}"


def _queue_course_message(subscription: Subscription, kind: MessageKind, name: str) -> None:
    """The course's message ``name``, once for this scheduled occasion."""
    subscriber = subscription.subscriber
    queue_message(
        subscriber.phone,
        kind,
        subscription.course.message(name),
        subscriber=subscriber,
        subscription=subscription,
        dedupe_key=_occasion_key(subscription, kind.value),
        window=schedule.send_window(subscriber, subscription.course),
    )


def _queue_check_in(subscription: Subscription, now: datetime) -> None:
    _queue_course_message(subscription, MessageKind.CHECK_IN, "check_in")
    subscription.unanswered_check_ins = (subscription.unanswered_check_ins or 0) + 1


def _send_check_in(subscription: Subscription, now: datetime) -> StepOutcome:
    """Lessons were held after an overwhelmed reply: ask whether to go on (NEXT) or pause.

    Unanswered, it is asked once more a week later; after that, nothing until they
    text. Never two check-ins waiting unanswered at once.
    """
    if subscription.state is State.PAUSED:
        states.resume(subscription, now)  # a pause ran out meanwhile: lessons, not a check-in
        return _send_lesson(subscription, now)
    _queue_check_in(subscription, now)
    if subscription.unanswered_check_ins >= 2:
        states.go_dormant(subscription)
    else:
        repeat = schedule.pacing_count(subscription.course, "check_in_repeat_days")
        at = schedule.next_daily_slot(
            subscription.subscriber, subscription.course, now, days=repeat
        )
        states.wait_for_reply(subscription, at, NextAction.CHECK_IN)
    return StepOutcome.CHECK_IN


def _send_offer(subscription: Subscription, now: datetime) -> StepOutcome:
    """After pushback twice in a row: the next lesson is offered ("reply NEXT"), not sent."""
    if subscription.state is State.PAUSED:
        states.resume(subscription, now)
    _queue_course_message(subscription, MessageKind.OFFER, "next_offer")
    wait = schedule.pacing_count(subscription.course, "offer_wait_days")
    until = schedule.next_daily_slot(subscription.subscriber, subscription.course, now, days=wait)
    states.wait_for_reply(subscription, until, NextAction.OFFER_EXPIRES)
    return StepOutcome.OFFER


def _offer_expires(subscription: Subscription, now: datetime) -> StepOutcome:
    """No NEXT (and no reply) within the wait: nothing more until they text."""
    states.go_dormant(subscription)
    return StepOutcome.DORMANT


#: What the send does for each ``next_action``.
ACTIONS: dict[str, Callable[[Subscription, datetime], StepOutcome]] = {
    NextAction.LESSON: _send_lesson,
    NextAction.QUESTION: _send_question,
    NextAction.CHECK_IN: _send_check_in,
    NextAction.OFFER: _send_offer,
    NextAction.OFFER_EXPIRES: _offer_expires,
}


def _act(subscription_id: int, claim_token: str, now: datetime) -> StepOutcome:
    """Do what a claimed subscription is due for, in the caller's transaction.

    Raises IntegrityError when a racing run wrote the same dedupe key first.
    """
    # Taking the row (PostgreSQL: its lock; SQLite: the write lock) before reading it
    # means a transition committed meanwhile is seen, and one that comes later waits.
    touched = db.session.execute(
        update(subscription_table)
        .where(
            subscription_table.c.id == subscription_id,
            subscription_table.c.claim_token == claim_token,
        )
        .values(claimed_at=now)
    )
    if touched.rowcount != 1:  # type: ignore[attr-defined]
        return StepOutcome.STALE
    subscription = db.session.get(
        Subscription,
        subscription_id,
        populate_existing=True,
        # One query, not three: every send reads who it goes to and the course.
        options=[joinedload(Subscription.subscriber), joinedload(Subscription.course)],
    )
    assert subscription is not None  # the row was just updated
    return _act_on(subscription, now)


def _take_many(
    subscription_ids: list[int], claim_token: str, now: datetime
) -> dict[int, Subscription]:
    """``_act``'s first half for a whole chunk: take the rows whose claim is still
    ``claim_token`` (one UPDATE), then read them with subscriber and course (one query)."""
    table = subscription_table
    taken = list(
        db.session.scalars(
            update(table)
            .where(table.c.id.in_(subscription_ids), table.c.claim_token == claim_token)
            .values(claimed_at=now)
            .returning(table.c.id)
        )
    )
    if not taken:
        return {}
    rows = db.session.scalars(
        select(Subscription)
        .where(Subscription.id.in_(taken))
        .options(joinedload(Subscription.subscriber), joinedload(Subscription.course))
        .execution_options(populate_existing=True)
    )
    return {subscription.id: subscription for subscription in rows}


def _act_on(subscription: Subscription, now: datetime, *, flush: bool = True) -> StepOutcome:
    """``_act``'s second half, on a subscription taken and read in this transaction.

    ``flush=False`` leaves the flush to the caller (a chunk flushes once)."""
    subscription_id = subscription.id
    subscriber = subscription.subscriber
    course = subscription.course

    if not subscriber.may_be_texted:
        states.unschedule(subscription)
        return StepOutcome.NOT_TEXTABLE
    if subscription.state not in SCHEDULED_STATES:
        states.release(subscription)
        return StepOutcome.NOT_SCHEDULED
    action = ACTIONS.get(subscription.next_action or "")
    if action is None:
        # Keep the claim (its time now renewed): it expires after DRIP_CLAIM_TIMEOUT and
        # is tried again then, rather than every minute, until a handler exists.
        log.warning(
            "subscription %s: no handler for next_action %r",
            subscription_id,
            subscription.next_action,
        )
        return StepOutcome.UNKNOWN_ACTION
    zones = schedule.zones_of(subscriber)
    opens, closes = schedule.window(course)
    if not schedule.in_window(now, zones, opens, closes):
        # Late (a backlog, a restart overnight): the same action at the next opening.
        at = schedule.next_opening(now, zones, opens, closes)
        states.defer_to_window(subscription, at)
        return StepOutcome.QUIET_HOURS
    outcome = action(subscription, now)
    if subscription.failure_count:
        subscription.failure_count = 0  # it went through: the failures were not in a row
    if flush:
        db.session.flush()  # a racing run's dedupe key fails here, not at commit
    log.info(
        "subscription %s (%s): %s", subscription_id, mask_phone(subscriber.phone), outcome.value
    )
    return outcome


def perform(subscription_id: int, claim_token: str) -> StepOutcome:
    """Do what a claimed subscription is due for, once; commits. Safe to call twice."""
    try:
        outcome = _act(subscription_id, claim_token, clock_now())
        db.session.commit()
    except IntegrityError:
        # Another run of this claim wrote the same dedupe key first and did the work;
        # rolling back drops this run's changes and the delivery it had queued.
        db.session.rollback()
        log.info("subscription %s: already sent by a concurrent run", subscription_id)
        return StepOutcome.DUPLICATE
    except (OperationalError, SoftTimeLimitExceeded):
        raise  # the database itself, or a task out of time: not this subscription's fault
    except Exception as error:
        db.session.rollback()
        note_failure(subscription_id, claim_token, error)
        raise
    return outcome


def note_failure(subscription_id: int, claim_token: str, error: BaseException) -> None:
    """Count a send of this subscription that raised; park it after DRIP_MAX_FAILURES in a
    row, so that it is not tried every claim timeout forever. Commits."""
    try:
        subscription = db.session.get(Subscription, subscription_id, populate_existing=True)
        if subscription is None or subscription.claim_token != claim_token:
            db.session.rollback()
            return  # another run moved it meanwhile (a transition, a newer claim)
        subscription.failure_count = (subscription.failure_count or 0) + 1
        limit = int(current_app.config["DRIP_MAX_FAILURES"])
        if subscription.failure_count >= limit:
            # The error's name, never its text (it may quote a body or a number).
            reason = (
                f"its send failed {subscription.failure_count} times in a row "
                f"({type(error).__name__})"
            )
            states.park(subscription, clock_now(), reason)
            log.warning("subscription %s parked: %s", subscription_id, reason)
        db.session.commit()
    except Exception:  # noqa: BLE001 - counting must not hide the send's own error
        db.session.rollback()
        log.warning("subscription %s: could not count its failure", subscription_id)


def perform_many(subscription_ids: list[int], claim_token: str) -> dict[str, int]:
    """``perform`` for a chunk of claims, in one transaction; commits.

    One commit (one WAL flush on PostgreSQL) for the chunk instead of one per
    subscription, and one chunk delivery task (``dripper.sms.deliver_batch``) for the
    messages it wrote instead of one per message. If anything in it fails, the whole
    chunk is rolled back (with the deliveries it had queued) and done again one
    subscription at a time, so a bad row or a race costs only itself.
    """
    counts: dict[str, int] = {}
    try:
        now = clock_now()
        with collect_deliveries(subscription_ids) as chunk:
            taken = _take_many(subscription_ids, claim_token, now)
            with _skips_read_for(list(taken)):
                seen: set[int] = set()
                for subscription_id in subscription_ids:
                    subscription = taken.get(subscription_id)
                    if subscription is None:
                        outcome = StepOutcome.STALE.value
                    else:
                        if subscription.subscriber_id in seen:
                            # Read again after what the chunk did to the same person.
                            db.session.flush()
                            db.session.refresh(subscription)
                        seen.add(subscription.subscriber_id)
                        outcome = _act_on(subscription, now, flush=False).value
                    counts[outcome] = counts.get(outcome, 0) + 1
            # One flush for the chunk (a racing run's dedupe key fails here, and the
            # chunk is done again one by one).
            queue_deliveries(chunk.message_ids())
        db.session.commit()
        return counts
    except Exception as error:  # noqa: BLE001 - any failure: fall back to one at a time
        db.session.rollback()
        log.info("chunk of %d rolled back (%s)", len(subscription_ids), type(error).__name__)
    counts = {}
    for subscription_id in subscription_ids:
        try:
            outcome = perform(subscription_id, claim_token).value
        except Exception as error:  # one bad row must not hold up the rest
            # Its claim stays; it expires after DRIP_CLAIM_TIMEOUT and the tick retries.
            db.session.rollback()
            # The exception's text may quote SQL parameters (a body): name it only.
            log.error("subscription %s: send failed: %s", subscription_id, type(error).__name__)
            log.debug("subscription %s: send failed", subscription_id, exc_info=True)
            outcome = "error"
        counts[outcome] = counts.get(outcome, 0) + 1
    return counts


def kick(subscription_id: int) -> bool:
    """Claim one due subscription now and queue its send when the caller commits.

    For MORE/NEXT: call it after ``states.request_more`` in the same transaction;
    the lesson goes out right away instead of at the next tick. Returns whether it
    was due (False when the window is closed: the tick sends it when it opens).
    """
    token = claim_one(subscription_id)
    if token is None:
        return False
    enqueue_after_commit(send_due, subscription_id, token)
    return True


@shared_task(name="dripper.drip.tick", acks_late=True, ignore_result=True)
def tick_task() -> dict[str, object]:
    """Claim every due subscription and queue its send (beat runs this every minute)."""
    result = tick()
    return {"claimed": result.claimed, "by_action": dict(result.by_action)}


@shared_task(
    name="dripper.drip.send_due",
    acks_late=True,
    ignore_result=True,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    retry_jitter=True,
    max_retries=5,
    soft_time_limit=60,
)
def send_due(subscription_id: int, claim_token: str) -> str:
    """Send what one claimed subscription is due for (no-op if the claim is stale)."""
    return perform(subscription_id, claim_token).value


@shared_task(
    name="dripper.drip.send_batch",
    acks_late=True,
    ignore_result=True,
    soft_time_limit=600,
)
def send_batch(subscription_ids: list[int], claim_token: str) -> dict[str, int]:
    """Send what each subscription of one claimed chunk is due for."""
    return perform_many(subscription_ids, claim_token)
