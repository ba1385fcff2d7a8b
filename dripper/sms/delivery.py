"""Delivering stored messages exactly once, and what happens when that fails.

The row exists before the provider is called. Each attempt is committed as started
(``attempts`` + 1) before the call; an attempt whose answer was lost leaves the row
without a provider sid, and the next run looks the message up at the provider before
it sends anything again. A per-message lock in Redis (``SEND_LOCK_SECONDS``) keeps two
workers (a task and its redelivered twin) from calling the provider for the same row at
the same time.

There is one way to send: ``_send_held`` takes messages whose send locks are held and
whose send slots are reserved, reads them again under the locks, commits their attempts
as started (one transaction), makes the provider calls (a few at a time, in threads, each
at its slot) and stores the answers (one transaction). ``deliver_messages`` feeds it a
chunk (the drip's lessons) wave by wave: one query to read them, one Redis call for
their send slots, one pipeline per wave for their locks. ``deliver_message`` feeds it one
message, after what only a single delivery does: looking up an earlier attempt whose
answer was lost. Whatever a chunk cannot finish with one plain attempt (a lookup, a
retry, a busy lock) is handed to ``deliver``, one task per message; a single delivery
raises it, for the task to retry with the same backoff.

A refused send (429, 5xx, a timeout) is retried with capped exponential backoff for
DELIVERY_RETRY_FOR (12 h) after the first refusal. A retry due within a few minutes waits
in the broker (a countdown); a later one waits on the row (``retry_at``) and the retry
sweep queues it when it is due, because Redis delivers a task whose ETA is past the
visibility timeout a second time. A message the drip wrote carries the person's sending
window and is held, not sent, while it is closed, right up to the provider call.
"""

from __future__ import annotations

import enum
import logging
import os
import random
import time
import uuid
from collections import Counter
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_for
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import redis
from celery.exceptions import SoftTimeLimitExceeded
from flask import Flask, current_app, has_app_context
from sqlalchemy import func, select, update
from sqlalchemy.orm import joinedload

from dripper import config as configuration
from dripper import metrics, suppression
from dripper.clock import now
from dripper.config import DEFAULTS
from dripper.extensions import db
from dripper.gsm import count_segments
from dripper.jobs import enqueue_after_commit
from dripper.logs import mask_phone
from dripper.models import (
    DeliveryFailure,
    Direction,
    Message,
    MessageKind,
    MessageStatus,
    Subscriber,
    SubscriberStatus,
)
from dripper.sms.base import (
    AmbiguousSendError,
    PermanentSendError,
    RetryableSendError,
    Sender,
    SendError,
    SendResult,
)
from dripper.sms.errors import describe, record_permanent_error
from dripper.sms.queues import delivery_queue, is_reply, single_delivery
from dripper.sms.ratelimit import Lane, SendRateWaitTooLong, get_limiter, redis_client
from dripper.sms.senders import get_sender
from dripper.window import SendWindow

log = logging.getLogger(__name__)

_LOCK_PREFIX = "dripper:sms:sending:"

#: Sids already stored for the number within this window are never adopted by a lookup.
_LOOKUP_WINDOW = timedelta(days=2)

#: An attempt whose outcome is unknown is looked up this many times, TWILIO_LOOKUP_DELAY
#: apart, before it is sent again: Twilio may list a message only a while after taking it.
LOOKUPS_BEFORE_RESEND = 2
DEFAULT_LOOKUP_DELAY = float(DEFAULTS["TWILIO_LOOKUP_DELAY"])
_LOOKUPS_PREFIX = "dripper:sms:lookups:"

#: A retry due sooner than this waits in the broker (a countdown); a later one waits on
#: the row (``retry_at``) for the retry sweep. Well under the broker's visibility
#: timeout (1 h), past which Redis would deliver the task twice.
COUNTDOWN_LIMIT = 300.0
#: Rounds a task waits for another worker's send lock before leaving the message to it.
MAX_BUSY_RETRIES = 6

#: Defaults of DELIVERY_RETRY_BASE and DELIVERY_RETRY_MAX_DELAY (outside an app).
BACKOFF_BASE = float(DEFAULTS["DELIVERY_RETRY_BASE"])  # before the first retry; doubled each time
BACKOFF_MAX = float(DEFAULTS["DELIVERY_RETRY_MAX_DELAY"])

#: Messages whose send slots start within this span are started, sent and recorded
#: together. At a high SEND_RATE a whole chunk is one wave; at a low one each wave is
#: a message or a few, and the "may they still be texted?" check stays as close to
#: each send as for a single message.
WAVE_SECONDS = 0.5
#: Provider calls in flight at once per delivery task (SMS_SEND_CONCURRENCY).
DEFAULT_SEND_CONCURRENCY = int(DEFAULTS["SMS_SEND_CONCURRENCY"])

_RELEASE_MANY = """
local released = 0
for _, key in ipairs(KEYS) do
  if redis.call('GET', key) == ARGV[1] then released = released + redis.call('DEL', key) end
end
return released
"""


class DeliveryOutcome(enum.StrEnum):
    """What one delivery run did with a message."""

    SENT = "sent"  # the provider accepted it now
    RECONCILED = "reconciled"  # an earlier attempt had got through; its sid was adopted
    ALREADY_DONE = "already_done"  # a sid or a final status already: a redelivered task
    CANCELED = "canceled"  # the person may not be texted any more
    FAILED = "failed"  # a permanent error, or retries given up
    MISSING = "missing"  # no such outbound message
    BUSY = "busy"  # another worker still holds the message's send lock
    HANDED_OFF = "handed_off"  # a chunk gave it to a single delivery task (retry, lookup)
    DEFERRED = "deferred"  # waits on the row (retry_at): a later retry, or the window's opening


class SendInProgress(RetryableSendError):
    """Another worker holds this message's send lock; look again once it is done."""


class NotListedYet(RetryableSendError):
    """An attempt whose outcome is unknown is not in the provider's list yet: look again
    (``retry_after``) before sending it again."""


class LookUpFirst(RetryableSendError):
    """An earlier attempt's outcome is unknown: a single delivery looks it up before
    anything is sent again (a chunk hands the message over at once)."""


def lookup_delay(app: object) -> float:
    """Seconds from an unanswered attempt to its first lookup, and between lookups."""
    config = getattr(app, "config", {})
    return float(config.get("TWILIO_LOOKUP_DELAY") or DEFAULT_LOOKUP_DELAY)


def send_lock_seconds(app: object) -> float:
    """How long a send lock lives unless released (SEND_LOCK_SECONDS)."""
    config = getattr(app, "config", {})
    return float(config.get("SEND_LOCK_SECONDS") or configuration.send_lock_seconds(config))


def retry_delay(retries: int, retry_after: float | None = None) -> float:
    """Exponential backoff with jitter, never sooner than the provider asked.

    Waits past a few minutes are not broker countdowns: ``plan_retry`` parks them.
    """
    base, cap = BACKOFF_BASE, BACKOFF_MAX
    if has_app_context():
        base = float(current_app.config.get("DELIVERY_RETRY_BASE") or base)
        cap = float(current_app.config.get("DELIVERY_RETRY_MAX_DELAY") or cap)
    ceiling = min(cap, base * 2 ** min(retries, 32))
    # Jitter spreads a burst of throttled tasks so they do not come back together.
    delay = random.uniform(ceiling / 2, ceiling)
    return max(delay, retry_after or 0.0)


def deliver_message(message_id: int) -> DeliveryOutcome:
    """Send the stored message ``message_id`` once; raise RetryableSendError to be retried.

    A chunk of one (``_send_held``), after a lookup at the provider when an earlier
    attempt's answer was lost.
    """
    message = db.session.get(Message, message_id)
    if message is None or message.direction is not Direction.OUTBOUND:
        log.warning("no outbound message %s to deliver", message_id)
        return DeliveryOutcome.MISSING
    if _done(message):
        return DeliveryOutcome.ALREADY_DONE
    if not may_send(message):
        _mark_canceled(message)
        db.session.commit()
        return DeliveryOutcome.CANCELED
    if _parked(message):
        # A stray run (a sweep, a redelivery): the retry sweep owns it.
        return DeliveryOutcome.DEFERRED

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    lock = _SendLocks(redis_client(app), [message_id], send_lock_seconds(app))
    if not lock.acquire():
        raise SendInProgress(
            "another worker is sending this message", retry_after=lock.ttl(message_id)
        )
    report = DeliveryReport()
    try:
        # Read the row again under the lock: the holder before us may just have finished.
        db.session.refresh(message)
        if _done(message):
            return DeliveryOutcome.ALREADY_DONE
        sender = get_sender(app)
        if message.attempts > 0:
            try:
                found = _look_up(message)
            except PermanentSendError as error:  # e.g. credentials revoked: sending fails too
                _fail(message, error, reason=f"lookup refused: {error}")
                db.session.commit()
                log.warning("message %s: lookup refused: %s", message_id, describe(error))
                return DeliveryOutcome.FAILED
            if found is not None:
                _accepted(message, found)
                db.session.commit()
                log.info("message %s had been accepted before: adopted", message.id)
                return DeliveryOutcome.RECONCILED
            if _outcome_unknown(message) and _lookups_so_far(app, message) < LOOKUPS_BEFORE_RESEND:
                db.session.commit()
                raise NotListedYet(
                    "not listed by the provider yet; looking again before sending again",
                    retry_after=lookup_delay(app),
                )
        to, seen, size = message.phone, message.attempts, segments(message.body)
        lane = Lane.REPLY if is_reply(message.kind) else Lane.DRIP
        # No transaction stays open while waiting for a slot or for the provider.
        db.session.commit()
        [wait] = get_limiter(app, sender.rate_key).reserve_slots([size], lane)
        _send_held(
            app, sender, {message_id: time.monotonic() + wait}, report, seen={message_id: seen}
        )
    except SoftTimeLimitExceeded as error:
        db.session.rollback()
        if message_id in report.started:
            raise AmbiguousSendError(
                "out of time during the provider call", retry_after=lookup_delay(app)
            ) from error
        # Out of time in a lookup or waiting for a slot: nothing was sent by this run.
        raise RetryableSendError("out of time before the provider call") from error
    except BaseException:
        db.session.rollback()
        raise
    finally:
        lock.release()
    if message_id in report.retries:
        raise report.retries[message_id]
    outcome = report.outcome_of[message_id]
    if outcome is DeliveryOutcome.SENT:
        log.info(
            "message %s to %s accepted as %s",
            message_id,
            mask_phone(to),
            report.sids.get(message_id),
        )
    return outcome


def give_up(message_id: int, error: SendError) -> DeliveryOutcome:
    """Retries are exhausted: fail the message and leave a replayable DeliveryFailure."""
    message = db.session.get(Message, message_id)
    if message is None:
        return DeliveryOutcome.MISSING
    if _done(message):
        return DeliveryOutcome.ALREADY_DONE
    if isinstance(error, SendInProgress):
        # Someone else is sending it right now: failing it here would race them.
        return DeliveryOutcome.BUSY
    if message.attempts > 0:
        # The last answer may have been lost rather than refused: one more look.
        try:
            found = _look_up(message)
        except SendError:
            found = None
        if found is not None:
            _accepted(message, found)
            db.session.commit()
            return DeliveryOutcome.RECONCILED
    reason = f"gave up after {message.attempts} attempt(s): {error}"
    _fail(message, error, reason=reason)
    db.session.commit()
    log.warning("message %s given up: %s", message.id, describe(error))
    return DeliveryOutcome.FAILED


@dataclass
class NextStep:
    """What follows a retryable failure: a countdown in the broker, or ``outcome`` now."""

    outcome: DeliveryOutcome
    countdown: float | None = None


def plan_retry(message_id: int, error: RetryableSendError, retries: int) -> NextStep:
    """After a retryable failure: retry soon, park the row until later, or give up.

    The provider refusing (``failing_since`` on the row) is retried for DELIVERY_RETRY_FOR,
    each wait twice the last (capped, with jitter), moved to the window's next opening
    for a message that has one. Waiting for the limiter or a lock never gives up.
    """
    if isinstance(error, SendInProgress):
        # Bounded by the lock's lifetime: never a long ETA.
        if retries >= MAX_BUSY_RETRIES:
            return NextStep(DeliveryOutcome.BUSY)
        return NextStep(
            DeliveryOutcome.BUSY, min(retry_delay(retries, error.retry_after), COUNTDOWN_LIMIT)
        )
    message = db.session.get(Message, message_id, populate_existing=True)
    if message is None:
        return NextStep(DeliveryOutcome.MISSING)
    if _done(message):
        db.session.commit()
        return NextStep(DeliveryOutcome.ALREADY_DONE)
    moment = now()
    if message.failing_since is not None and moment - message.failing_since >= retry_budget():
        return NextStep(give_up(message_id, error))
    if isinstance(error, NotListedYet):
        # Not a refusal: the next lookup is due one lookup delay on, whatever the backoff.
        delay = error.retry_after or 0.0
    else:
        # The row's attempts carry the backoff across parked rounds (each a new task).
        delay = retry_delay(max(retries, message.attempts - 1, 0), error.retry_after)
    due = moment + timedelta(seconds=delay)
    window = SendWindow.from_json(message.send_window)
    if window is not None:
        due = window.next_opening(due)  # a retry at night waits for the morning
    wait = (due - moment).total_seconds()
    if wait < COUNTDOWN_LIMIT:
        db.session.commit()
        return NextStep(DeliveryOutcome.DEFERRED, wait)
    _park(message, due)
    db.session.commit()
    log.info("message %s: next attempt at %s", message_id, due.isoformat(timespec="seconds"))
    return NextStep(DeliveryOutcome.DEFERRED)


def retry_budget() -> timedelta:
    """How long after the first refusal a message is still retried (DELIVERY_RETRY_FOR)."""
    return timedelta(seconds=float(current_app.config["DELIVERY_RETRY_FOR"]))


def claim_due_retries(limit: int = 5000) -> list[tuple[int, int, MessageKind]]:
    """Take the parked messages whose retry is due (their ``retry_at`` cleared); returns
    (id, attempts, kind) of each, for the caller to queue after it commits.

    A message taken here whose task is then lost has no ``retry_at`` any more: the
    lost-delivery sweep finds it like any other pending message, DELIVERY_STALE_AFTER
    after it was taken.
    """
    moment = now()
    due = list(
        db.session.scalars(
            select(Message.id)
            .where(
                Message.direction == Direction.OUTBOUND,
                Message.status == MessageStatus.PENDING,
                Message.provider_sid.is_(None),
                Message.retry_at <= moment,
            )
            .order_by(Message.retry_at, Message.id)
            .limit(limit)
        )
    )
    if not due:
        return []
    # A compare-and-set: two sweeps at once take each message once. Touched now, so the
    # lost-delivery sweep does not queue it a second time while its task is in the
    # broker (two runs would also take the two lookups of an unanswered attempt at once).
    taken = db.session.execute(
        update(Message)
        .where(Message.id.in_(due), Message.retry_at <= moment)
        .values(retry_at=None, status_at=moment)
        .returning(Message.id, Message.attempts, Message.kind)
        .execution_options(synchronize_session=False)
    )
    return sorted((row.id, row.attempts, row.kind) for row in taken)


def failures(limit: int = 100) -> list[DeliveryFailure]:
    """Messages that finally failed and were not sent again since, newest first."""
    return list(
        db.session.scalars(
            select(DeliveryFailure)
            .join(DeliveryFailure.message)
            .where(
                DeliveryFailure.replayed_at.is_(None),
                Message.status == MessageStatus.FAILED,
                Message.provider_sid.is_(None),
            )
            .options(joinedload(DeliveryFailure.message))
            .order_by(DeliveryFailure.created_at.desc(), DeliveryFailure.id.desc())
            .limit(limit)
        )
    )


def revive(message: Message) -> None:
    """Make a finally-failed message pending again (the same row, so it goes once) and
    queue it after commit. Its open failures count as replayed.

    ``attempts`` and ``outcome_unknown`` are kept: if the last attempt's outcome was
    never known, the message is looked up at the provider (twice, spaced) before it is
    sent again; if it was plainly refused, it goes at once.
    """
    moment = now()
    message.status = MessageStatus.PENDING
    message.error_code = None
    message.error_message = None
    message.retry_at = None
    message.failing_since = None
    message.status_at = moment
    db.session.execute(
        update(DeliveryFailure)
        .where(DeliveryFailure.message_id == message.id, DeliveryFailure.replayed_at.is_(None))
        .values(replayed_at=moment)
        .execution_options(synchronize_session=False)
    )
    enqueue_after_commit(single_delivery(), message.id, queue=delivery_queue(message.kind))


def may_revive(message: Message) -> bool:
    """Whether a message finally failed without the provider ever accepting it."""
    return message.status is MessageStatus.FAILED and not message.provider_sid


class ReplayError(Exception):
    """This failure cannot be replayed (unknown, already replayed, or no longer failed)."""


def replay_failure(failure_id: int) -> Message:
    """Put a failed message back in the queue (the admin's replay) and commit.

    ``attempts`` is kept: if an earlier attempt's outcome was never known, the replay
    looks the message up at the provider before sending it again.
    """
    failure = db.session.get(DeliveryFailure, failure_id)
    if failure is None:
        raise ReplayError(f"no delivery failure {failure_id}")
    if failure.replayed_at is not None:
        raise ReplayError(f"delivery failure {failure_id} was already replayed")
    message = failure.message
    if not may_revive(message):
        raise ReplayError(f"message {message.id} is {message.status.value}, not failed")
    revive(message)
    db.session.commit()
    log.info("message %s replayed (failure %s)", message.id, failure.id)
    return message


def stale_messages(older_than: timedelta, limit: int = 500, *, after_id: int = 0) -> list[Any]:
    """Outbound messages still pending and untouched for ``older_than``: their task was lost.

    Rows are stamped with the app's clock (the sandbox clock in sandbox mode), so they
    are compared with it. A page of (id, kind) rows with ids above ``after_id``, in order.
    """
    cutoff = now() - older_than
    touched = func.coalesce(Message.status_at, Message.created_at)
    return list(
        db.session.execute(
            select(Message.id, Message.kind)
            .where(
                Message.direction == Direction.OUTBOUND,
                Message.status == MessageStatus.PENDING,
                Message.provider_sid.is_(None),
                Message.id > after_id,
                Message.retry_at.is_(None),  # parked: the retry sweep queues it when due
                touched < cutoff,
            )
            .order_by(Message.id)
            .limit(limit)
        )
    )


def stale_message_ids(older_than: timedelta, limit: int = 500) -> list[int]:
    """The ids of the first ``limit`` stale messages (see ``stale_messages``)."""
    return [row.id for row in stale_messages(older_than, limit)]


def being_sent(client: redis.Redis, message_ids: list[int]) -> set[int]:
    """Which of these messages a worker holds the send lock of right now."""
    pipe = client.pipeline(transaction=False)
    for message_id in message_ids:
        pipe.exists(f"{_LOCK_PREFIX}{message_id}")
    return {mid for mid, held in zip(message_ids, pipe.execute(), strict=True) if held}


#: Answers an opted-out person still gets when they ask after opting out: HELP must work
#: whatever the status (CTIA), and a crisis reply always gets the crisis lines.
ANSWERS_AFTER_OPT_OUT = frozenset({MessageKind.HELP, MessageKind.CRISIS_RESPONSE})


def may_send(message: Message) -> bool:
    """Whether this person may get this message.

    An opt-out gets its one confirmation and nothing after it, except the answers to
    HELP or a crisis reply they send after opting out (or in the same text).
    """
    subscriber = message.subscriber or db.session.scalar(
        select(Subscriber).where(Subscriber.phone == message.phone)
    )
    if subscriber is None:
        # Forgotten after a STOP: only a keyed hash of the number is left to refuse it by.
        return message.kind in ANSWERS_AFTER_OPT_OUT or not suppression.is_suppressed(message.phone)
    if subscriber.may_be_texted:
        return True
    if subscriber.status is not SubscriberStatus.OPTED_OUT:
        return False
    if message.kind is MessageKind.STOP_CONFIRMATION:
        return True
    opted_out_at = subscriber.opted_out_at
    return (
        message.kind in ANSWERS_AFTER_OPT_OUT
        and opted_out_at is not None
        and message.created_at is not None
        and message.created_at >= opted_out_at
    )


def provider_status(value: str) -> MessageStatus:
    """The MessageStatus for a status word from the provider (queued when unknown)."""
    try:
        status = MessageStatus(value.lower())
    except ValueError:
        return MessageStatus.QUEUED
    if status in (MessageStatus.PENDING, MessageStatus.RECEIVED):
        return MessageStatus.QUEUED
    return status


def _outcome_unknown(message: Message) -> bool:
    """Whether the last attempt may have reached the provider: a timeout, a dropped
    connection, a worker killed mid-call. A refusal (429, 21611, 5xx, a refused
    connection) sent nothing. Recorded on the row, not read from its error code: a
    replay clears the error but not what is known about the last attempt."""
    return bool(message.outcome_unknown)


def _lookups_so_far(app: object, message: Message) -> int:
    """Count this lookup of the message's latest attempt; return how many there were."""
    # The row's creation time too: a database started afresh reuses ids.
    created = message.created_at.timestamp() if message.created_at else 0
    key = f"{_LOOKUPS_PREFIX}{message.id}:{created:.6f}:{message.attempts}"
    try:
        pipe = redis_client(app).pipeline(transaction=False)  # type: ignore[arg-type]
        pipe.incr(key)
        pipe.expire(key, 86_400)
        count, _ = pipe.execute()
    except redis.RedisError as error:
        raise RetryableSendError(f"lookup count unavailable: {error}") from error
    return int(count)


def segments(body: str) -> int:
    """The send slots a text takes: the provider's throughput counts segments."""
    return max(1, count_segments(body).segments)


def _done(message: Message) -> bool:
    return bool(message.provider_sid) or message.status is not MessageStatus.PENDING


def _mark_canceled(message: Message) -> None:
    # Canceled with no provider sid: this side never sent it (the provider's own
    # "canceled" always names a message it had). No error: nothing was refused.
    message.status = MessageStatus.CANCELED
    message.error_code = None
    message.error_message = None
    message.status_at = now()
    log.info("message %s to %s canceled: not textable", message.id, mask_phone(message.phone))


def _parked(message: Message, moment: datetime | None = None) -> bool:
    return message.retry_at is not None and message.retry_at > (moment or now())


def _window_opening(message: Message, moment: datetime | None = None) -> datetime | None:
    """When the message's sending window next opens, if it is closed at ``moment`` (now,
    by default), else None."""
    window = SendWindow.from_json(message.send_window)
    if window is None:
        return None  # a reply to the person's own text: no window
    moment = moment or now()
    return None if window.is_open(moment) else window.next_opening(moment)


def _park(message: Message, due: datetime) -> None:
    message.retry_at = due
    message.status_at = now()


def _defer(message: Message, opening: datetime) -> None:
    """Hold the message (not sent, not counted as sent) until its window opens."""
    _park(message, opening)
    log.info(
        "message %s to %s held until %s: outside the sending window",
        message.id,
        mask_phone(message.phone),
        opening.isoformat(timespec="minutes"),
    )


def _look_up(message: Message) -> SendResult | None:
    sender = get_sender()
    # The row's created_at is real time (the provider's clock), never the sandbox clock's.
    since = min(message.created_at, datetime.now(UTC))
    known = {
        sid
        for sid in db.session.scalars(
            select(Message.provider_sid).where(
                Message.phone == message.phone,
                Message.provider_sid.is_not(None),
                Message.created_at >= since - _LOOKUP_WINDOW,
            )
        )
        if sid
    }
    return sender.find_sent(message.phone, message.body, since, exclude=known)


def _accepted_values(result: SendResult, at: datetime) -> dict[str, Any]:
    """The columns of a message the provider accepted (now, or in an earlier attempt)."""
    return {
        "provider_sid": result.sid,
        "status": provider_status(result.status),
        "error_code": None,
        "error_message": None,
        "outcome_unknown": False,
        "sent_at": at,
        "status_at": at,
    }


def _accepted(message: Message, result: SendResult) -> None:
    for name, value in _accepted_values(result, now()).items():
        setattr(message, name, value)
    metrics.sent()


def _note_error(message: Message, error: RetryableSendError) -> None:
    # The last error stays visible on the row while retries go on; it is cleared when
    # the next attempt starts.
    message.error_code = error.code
    message.error_message = str(error)
    # A refusal is an answer: nothing went out. A timeout or a dropped line is not.
    message.outcome_unknown = isinstance(error, AmbiguousSendError)
    if message.failing_since is None:
        message.failing_since = now()  # retries go on for DELIVERY_RETRY_FOR from here


def _fail(message: Message, error: SendError, *, reason: str) -> None:
    message.status = MessageStatus.FAILED
    message.status_at = now()
    if isinstance(error, PermanentSendError):
        record_permanent_error(message, error.code, str(error))
    else:
        message.error_code = error.code
        message.error_message = str(error)
    db.session.add(DeliveryFailure(message=message, reason=reason, created_at=now()))
    metrics.failed(message.error_code)


# -- the one way to send: held locks, reserved slots ---------------------------------


@dataclass(frozen=True)
class Handoff:
    """A message a chunk leaves to ``deliver`` (one task), after ``countdown`` seconds."""

    message_id: int
    countdown: float = 0.0
    retries: int = 0  # the retries already spent, as the single task counts them


@dataclass
class DeliveryReport:
    """What one delivery run did with each message."""

    outcomes: Counter[str] = field(default_factory=Counter)
    outcome_of: dict[int, DeliveryOutcome] = field(default_factory=dict)
    handoffs: list[Handoff] = field(default_factory=list)
    #: Stopped short of an answer this run (a retryable refusal, a lookup first, an
    #: unexpected error): a single delivery raises it, a chunk hands the message over.
    retries: dict[int, BaseException] = field(default_factory=dict)
    #: Messages whose attempt this run committed as started.
    started: set[int] = field(default_factory=set)
    sids: dict[int, str] = field(default_factory=dict)

    def note(self, message_id: int, outcome: DeliveryOutcome) -> None:
        self.outcomes[outcome.value] += 1
        self.outcome_of[message_id] = outcome

    def retry(self, message_id: int, error: BaseException) -> None:
        self.retries[message_id] = error

    def hand_off(self, message_id: int, countdown: float = 0.0, retries: int = 0) -> None:
        self.retries.pop(message_id, None)
        self.handoffs.append(Handoff(message_id, countdown, retries))
        self.note(message_id, DeliveryOutcome.HANDED_OFF)


def _send_held(
    app: Flask,
    sender: Sender,
    slot_of: dict[int, float],
    report: DeliveryReport,
    *,
    seen: dict[int, int] | None = None,
) -> None:
    """Send messages whose send locks this run holds, each at its slot (a monotonic time).

    Reads them again under the locks and commits their attempts as started (a
    compare-and-set on ``attempts``, which ``seen`` gives per message: none by default),
    then calls the provider and stores the answers; commits. Each message ends in
    ``report``: an outcome, or a retry (``report.retries``).
    """
    held = list(slot_of)
    _sleep_until(slot_of[held[0]])
    jobs = _start_attempts(held, report, seen or {})
    if not jobs:
        return
    results = _call_all(sender, jobs, slot_of, _concurrency(app, sender))
    _record(app, results, report)


def _start_attempts(
    held: list[int], report: DeliveryReport, seen: dict[int, int]
) -> list[tuple[int, str, str]]:
    """Read the messages again under their locks and commit their attempts as started
    (one transaction); returns (id, to, body) of the messages to send now."""
    messages = _load(held)
    moment = now()  # one reading for the wave (the sandbox clock's is a query)
    fresh: dict[int, list[Message]] = {}
    for message_id in held:
        message = messages.get(message_id)
        expected = seen.get(message_id, 0)
        if message is None:
            report.note(message_id, DeliveryOutcome.MISSING)
        elif _done(message):
            report.note(message_id, DeliveryOutcome.ALREADY_DONE)
        elif not may_send(message):  # a STOP may have come in while it waited for a slot
            _mark_canceled(message)
            report.note(message_id, DeliveryOutcome.CANCELED)
        elif _parked(message, moment):
            report.note(message_id, DeliveryOutcome.DEFERRED)
        elif (opening := _window_opening(message, moment)) is not None:
            # Quiet hours are checked here, not only when the drip wrote the message: an
            # outage or a backlog must not carry a lesson into the night.
            _defer(message, opening)
            report.note(message_id, DeliveryOutcome.DEFERRED)
        elif message.attempts != expected:
            if expected == 0:  # an earlier attempt's outcome is unknown: look it up first
                report.retry(message_id, LookUpFirst("an earlier attempt may have gone"))
            else:  # moved since it was read under this lock: someone else's now
                report.note(message_id, DeliveryOutcome.ALREADY_DONE)
        else:
            fresh.setdefault(expected, []).append(message)
    jobs = []
    for expected, group in fresh.items():
        # A compare-and-set: a row that moved since it was read is someone else's.
        started = set(
            db.session.scalars(
                update(Message)
                .where(
                    Message.id.in_([message.id for message in group]),
                    Message.attempts == expected,
                    Message.status == MessageStatus.PENDING,
                    Message.provider_sid.is_(None),
                )
                .values(
                    attempts=expected + 1,
                    status_at=moment,
                    error_code=None,
                    error_message=None,
                    outcome_unknown=True,  # until the provider answers
                )
                .returning(Message.id)
                .execution_options(synchronize_session=False)
            )
        )
        report.started |= started
        for message in group:
            if message.id in started:
                jobs.append((message.id, message.phone, message.body))
            else:
                report.note(message.id, DeliveryOutcome.ALREADY_DONE)
    db.session.commit()
    return jobs


def _call_all(
    sender: Sender,
    jobs: list[tuple[int, str, str]],
    slot_of: dict[int, float],
    concurrency: int,
) -> dict[int, SendResult | BaseException]:
    """Each job's provider call at (not before) its slot; the answer or the error."""
    results: dict[int, SendResult | BaseException] = {}
    if concurrency <= 1 or len(jobs) == 1:
        for message_id, to, body in jobs:
            try:
                results[message_id] = _call(sender, to, body, slot_of[message_id])
            except SoftTimeLimitExceeded:
                raise  # the rest is handed over; this one is looked up there
            except Exception as error:  # noqa: BLE001 - recorded per message
                results[message_id] = error
        return results
    pool = _executor(concurrency)
    futures: dict[int, Future[SendResult]] = {
        message_id: pool.submit(_call, sender, to, body, slot_of[message_id])
        for message_id, to, body in jobs
    }
    try:
        for message_id, future in futures.items():
            try:
                results[message_id] = future.result()
            except SoftTimeLimitExceeded:
                raise
            except Exception as error:  # noqa: BLE001 - recorded per message
                results[message_id] = error
    except BaseException:
        # Out of time: calls not begun are dropped; those in flight are waited for, so
        # the send locks are released only once no call of this run is still going.
        for future in futures.values():
            future.cancel()
        wait_for(list(futures.values()))
        raise
    return results


def _call(sender: Sender, to: str, body: str, at: float) -> SendResult:
    _sleep_until(at)
    return sender.send(to, body)


def _record(
    app: Flask, results: dict[int, SendResult | BaseException], report: DeliveryReport
) -> None:
    """Store every answer of one wave in one transaction."""
    # The accepted ones (nearly all) in one executemany by primary key; the rest need
    # their rows (and maybe their subscriber) loaded.
    at = now()
    accepted = [
        {"id": message_id, **_accepted_values(result, at)}
        for message_id, result in results.items()
        if isinstance(result, SendResult)
    ]
    if accepted:
        db.session.execute(update(Message), accepted)
        metrics.sent(len(accepted))
        for values in accepted:
            report.note(values["id"], DeliveryOutcome.SENT)
            report.sids[values["id"]] = values["provider_sid"]
            log.debug("message %s accepted as %s", values["id"], values["provider_sid"])
    refused = {k: v for k, v in results.items() if not isinstance(v, SendResult)}
    messages = _load(refused) if refused else {}
    for message_id, result in refused.items():
        message = messages[message_id]
        if isinstance(result, PermanentSendError):
            message.outcome_unknown = False  # refused: nothing went out
            _fail(message, result, reason=f"refused: {result.code or result.status}: {result}")
            report.note(message_id, DeliveryOutcome.FAILED)
            log.warning("message %s failed for good: %s", message_id, describe(result))
        elif isinstance(result, RetryableSendError):
            _note_error(message, result)
            if isinstance(result, AmbiguousSendError):
                # Looked up first, once the provider may list what it took.
                result.retry_after = max(result.retry_after or 0.0, lookup_delay(app))
            report.retry(message_id, result)
            log.info("message %s not sent yet: %s", message_id, describe(result))
        else:  # not a provider answer: the outcome is unknown, a lookup comes first
            report.retry(message_id, result)
            log.warning("message %s: send raised %s", message_id, type(result).__name__)
    db.session.commit()


class _SendLocks:
    """The send locks of some messages: one Redis key each, released only by their
    holder, taken and released in one round trip."""

    def __init__(self, client: redis.Redis, message_ids: list[int], seconds: float) -> None:
        self.client = client
        self.message_ids = message_ids
        self.seconds = max(1, round(seconds))
        self.token = uuid.uuid4().hex
        self.held: list[int] = []

    @staticmethod
    def _key(message_id: int) -> str:
        return f"{_LOCK_PREFIX}{message_id}"

    def acquire(self) -> list[int]:
        """Take every lock that is free; returns the messages held (in order)."""
        try:
            pipe = self.client.pipeline(transaction=False)
            for message_id in self.message_ids:
                pipe.set(self._key(message_id), self.token, nx=True, ex=self.seconds)
            taken = pipe.execute()
        except redis.RedisError as error:
            raise RetryableSendError(f"send lock unavailable: {error}") from error
        self.held = [mid for mid, ok in zip(self.message_ids, taken, strict=True) if ok]
        return self.held

    def ttl(self, message_id: int) -> float:
        """Seconds until another worker's lock on this message expires (a guess if unknown)."""
        try:
            remaining = self.client.ttl(self._key(message_id))
        except redis.RedisError:
            return 5.0
        return float(remaining) + 1 if isinstance(remaining, int) and remaining > 0 else 5.0

    def release(self) -> None:
        held, self.held = self.held, []
        if not held:
            return
        try:
            self.client.eval(_RELEASE_MANY, len(held), *map(self._key, held), self.token)
        except redis.RedisError:
            # The locks expire on their own; the rows' state is what matters.
            log.warning("could not release %d send locks", len(held))


# -- a chunk of messages at once -----------------------------------------------------


def deliver_messages(message_ids: Iterable[int]) -> DeliveryReport:
    """Send a chunk of stored messages, each once; commits.

    Wave by wave through ``_send_held``, as a single message goes: each attempt is
    committed as started before its call, under the message's send lock, within the
    shared send rate; the answers are stored after. Anything that needs more (a lookup
    of an attempt whose answer was lost, a retry after a refusal, a lock someone else
    holds, no slot within the wait limit) is handed to ``deliver`` for that message
    alone. If the run itself fails (out of time, database gone), every message it had
    not finished is handed over.
    """
    ids = list(dict.fromkeys(message_ids))
    report = DeliveryReport()
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    try:
        ready = _screen(ids, report)
        if ready:
            sender = get_sender(app)
            limiter = get_limiter(app, sender.rate_key)
            try:
                # The drip's lane: a chunk is the drip's lessons and questions.
                waits = limiter.reserve_slots([size for _, size in ready], Lane.DRIP)
            except SendRateWaitTooLong as error:
                for message_id, _ in ready:
                    report.hand_off(message_id, retry_delay(0, error.retry_after))
                return report
            except RetryableSendError as error:  # the limiter is unreachable
                log.info("chunk of %d not sent yet: %s", len(ready), describe(error))
                for message_id, _ in ready:
                    report.hand_off(message_id, retry_delay(0), retries=1)
                return report
            start = time.monotonic()
            slots = [start + wait for wait in waits]
            # Beyond the wait limit: a task of their own each, once their slots are near.
            later = waits[-1] + limiter.interval - limiter.max_wait
            for message_id, _ in ready[len(waits) :]:
                report.hand_off(message_id, retry_delay(0, later))
            sending = [message_id for message_id, _ in ready]
            for wave in _waves(list(zip(sending, slots, strict=False))):
                _deliver_wave(app, sender, wave, report)
                _publish(report)
    except BaseException as error:
        db.session.rollback()
        # An attempt started but not recorded is looked up by the single path.
        _hand_over(app, report)
        for message_id in ids:
            if message_id not in report.outcome_of:
                report.hand_off(message_id)
        log.warning(
            "chunk delivery stopped (%s); %d message(s) handed to single delivery",
            type(error).__name__,
            len(report.handoffs),
        )
        log.debug("chunk delivery stopped", exc_info=True)
        if not isinstance(error, Exception):
            raise  # KeyboardInterrupt, SystemExit: the handoffs are still queued below
    finally:
        _publish(report)
    log.info("chunk of %d delivered: %s", len(ids), dict(report.outcomes))
    return report


def _screen(ids: list[int], report: DeliveryReport) -> list[tuple[int, int]]:
    """Read the chunk's states in one query; skip or hand over what is not plainly due.

    Returns the ids of the messages to send now, each with its segment count.

    Whether the person may still be texted is checked under the locks, just before the
    attempts start (``_start_attempts``).
    """
    rows = db.session.execute(
        select(
            Message.id,
            Message.direction,
            Message.status,
            Message.provider_sid,
            Message.attempts,
            Message.body,
        ).where(Message.id.in_(ids))
    ).all()
    db.session.commit()  # no transaction stays open while waiting for a slot
    state = {row.id: row for row in rows}
    ready = []
    for message_id in ids:
        row = state.get(message_id)
        if row is None or row.direction is not Direction.OUTBOUND:
            log.warning("no outbound message %s to deliver", message_id)
            report.note(message_id, DeliveryOutcome.MISSING)
        elif row.provider_sid or row.status is not MessageStatus.PENDING:
            report.note(message_id, DeliveryOutcome.ALREADY_DONE)
        elif row.attempts > 0:
            report.hand_off(message_id)  # an earlier attempt's outcome is unknown: look it up
        else:
            ready.append((message_id, segments(row.body)))
    return ready


def _load(ids: Iterable[int]) -> dict[int, Message]:
    rows = db.session.scalars(
        select(Message)
        .where(Message.id.in_(list(ids)))
        .options(joinedload(Message.subscriber))
        .execution_options(populate_existing=True)
    )
    return {message.id: message for message in rows}


def _waves(slotted: list[tuple[int, float]]) -> list[list[tuple[int, float]]]:
    waves: list[list[tuple[int, float]]] = []
    for item in slotted:
        if waves and item[1] - waves[-1][0][1] <= WAVE_SECONDS:
            waves[-1].append(item)
        else:
            waves.append([item])
    return waves


def _deliver_wave(
    app: Flask, sender: Sender, wave: list[tuple[int, float]], report: DeliveryReport
) -> None:
    slot_of = dict(wave)
    lock = _SendLocks(redis_client(app), list(slot_of), send_lock_seconds(app))
    try:
        held = lock.acquire()
    except RetryableSendError as error:
        for message_id in slot_of:
            report.hand_off(message_id, retry_delay(0, error.retry_after), retries=1)
        return
    try:
        for message_id in slot_of:
            if message_id not in held:  # another worker is sending it: look again later
                report.hand_off(message_id, retry_delay(0, lock.ttl(message_id)), retries=1)
        if held:
            _send_held(app, sender, {mid: slot_of[mid] for mid in held}, report)
            _hand_over(app, report)
    finally:
        lock.release()


def _hand_over(app: Flask, report: DeliveryReport) -> None:
    """Turn the retries a wave ended with into hand-offs to single deliveries."""
    for message_id, error in list(report.retries.items()):
        if isinstance(error, LookUpFirst):
            report.hand_off(message_id)
        elif isinstance(error, RetryableSendError):  # ambiguous ones are looked up there
            report.hand_off(message_id, retry_delay(0, error.retry_after), retries=1)
        else:  # the outcome is unknown: the single path looks it up first
            report.hand_off(message_id, retry_delay(0, lookup_delay(app)), retries=1)


def _publish(report: DeliveryReport) -> None:
    """Queue the single deliveries handed over so far (their locks are released)."""
    handoffs, report.handoffs = report.handoffs, []
    later = [handoff for handoff in handoffs if handoff.countdown >= COUNTDOWN_LIMIT]
    if later:
        # Too far off for a broker ETA: they wait on the row for the retry sweep (or,
        # if that write fails, in the broker for as long as is safe, then wait again).
        parked = _park_many(later)
        handoffs = [
            h if h.countdown < COUNTDOWN_LIMIT else replace(h, countdown=COUNTDOWN_LIMIT - 1)
            for h in handoffs
            if not (parked and h.countdown >= COUNTDOWN_LIMIT)
        ]
    if not handoffs:
        return
    task = single_delivery()
    for handoff in handoffs:
        try:
            task.apply_async(
                args=[handoff.message_id],
                countdown=handoff.countdown or None,
                retries=handoff.retries,
            )
        except Exception:  # noqa: BLE001 - the sweep finds it later
            log.warning("could not queue delivery of %s; the sweep retries it", handoff.message_id)


def _park_many(handoffs: list[Handoff]) -> bool:
    """Park hand-offs whose wait is too long for a broker ETA; False if that failed."""
    moment = now()
    try:
        db.session.execute(
            update(Message),
            [
                {"id": h.message_id, "retry_at": moment + timedelta(seconds=h.countdown)}
                for h in handoffs
            ],
        )
        db.session.commit()
    except Exception:  # noqa: BLE001 - queued with a shorter countdown instead
        db.session.rollback()
        log.warning("could not park %d deliveries; queued for later", len(handoffs))
        return False
    return True


def _sleep_until(moment: float) -> None:
    delay = moment - time.monotonic()
    if delay > 0:
        time.sleep(delay)


def _concurrency(app: object, sender: Sender) -> int:
    if not getattr(sender, "thread_safe", False):
        return 1
    config = getattr(app, "config", {})
    return max(1, int(config.get("SMS_SEND_CONCURRENCY") or DEFAULT_SEND_CONCURRENCY))


_pool: tuple[int, int, ThreadPoolExecutor] | None = None


def _executor(size: int) -> ThreadPoolExecutor:
    """This process's threads for provider calls (made after a fork, kept across tasks)."""
    global _pool
    if _pool is None or _pool[:2] != (os.getpid(), size):
        _pool = (os.getpid(), size, ThreadPoolExecutor(size, thread_name_prefix="sms-send"))
    return _pool[2]
