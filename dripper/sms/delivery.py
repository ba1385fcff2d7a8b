"""Delivering one stored message exactly once, and what happens when that fails.

The row exists before the provider is called. Each attempt is committed as started
(``attempts`` + 1) before the call; an attempt whose answer was lost leaves the row
without a provider sid, and the next run looks the message up at the provider before
it sends anything again. A per-message lock in Redis keeps two workers (a task and its
redelivered twin) from calling the provider for the same row at the same time.
"""

from __future__ import annotations

import enum
import logging
import uuid
from datetime import UTC, datetime, timedelta

import redis
from celery.exceptions import SoftTimeLimitExceeded
from flask import current_app
from sqlalchemy import select, update

from dripper.clock import now
from dripper.extensions import db
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
    SendError,
    SendResult,
)
from dripper.sms.errors import apply_permanent_error, describe
from dripper.sms.ratelimit import get_limiter, redis_client
from dripper.sms.senders import get_sender

log = logging.getLogger(__name__)

#: Longer than a delivery task may live (its hard time limit), so a lock held by a
#: worker that died frees itself only once that worker is surely gone.
SEND_LOCK_SECONDS = 180
_LOCK_PREFIX = "dripper:sms:sending:"

#: Sids already stored for the number within this window are never adopted by a lookup.
_LOOKUP_WINDOW = timedelta(days=2)

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class Outcome(enum.StrEnum):
    """What one delivery run did."""

    SENT = "sent"  # the provider accepted it now
    RECONCILED = "reconciled"  # an earlier attempt had got through; its sid was adopted
    ALREADY_DONE = "already_done"  # a sid or a final status already: a redelivered task
    CANCELED = "canceled"  # the person may not be texted any more
    FAILED = "failed"  # a permanent error, or retries given up
    MISSING = "missing"  # no such outbound message
    BUSY = "busy"  # another worker still holds the message's send lock


class SendInProgress(RetryableSendError):
    """Another worker holds this message's send lock; look again once it is done."""


def deliver_message(message_id: int) -> Outcome:
    """Send the stored message ``message_id`` once; raise RetryableSendError to be retried."""
    message = db.session.get(Message, message_id)
    if message is None or message.direction is not Direction.OUTBOUND:
        log.warning("no outbound message %s to deliver", message_id)
        return Outcome.MISSING
    if _done(message):
        return Outcome.ALREADY_DONE
    if not may_send(message):
        return _cancel(message)

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    lock = _SendLock(redis_client(app), message_id)
    if not lock.acquire():
        raise SendInProgress("another worker is sending this message", retry_after=lock.ttl())
    try:
        # Read the row again under the lock: the holder before us may just have finished.
        db.session.refresh(message)
        if _done(message):
            return Outcome.ALREADY_DONE
        sender = get_sender(app)
        if message.attempts > 0:
            try:
                found = _look_up(message)
            except PermanentSendError as error:  # e.g. credentials revoked: sending fails too
                _fail(message, error, reason=f"lookup refused: {error}")
                db.session.commit()
                log.warning("message %s: lookup refused: %s", message_id, describe(error))
                return Outcome.FAILED
            if found is not None:
                _accepted(message, found)
                db.session.commit()
                log.info("message %s had been accepted before: adopted", message.id)
                return Outcome.RECONCILED
        to, body, seen_attempts = message.phone, message.body, message.attempts
        # No transaction stays open while waiting for a slot or for the provider.
        db.session.commit()
        get_limiter(app, sender.rate_key).acquire()
        # A STOP may have come in while this task waited for its slot.
        message = _reload(message_id)
        if not may_send(message):
            return _cancel(message)
        if not _start_attempt(message_id, seen_attempts):
            return Outcome.ALREADY_DONE
        try:
            result = sender.send(to, body)
        except PermanentSendError as error:
            message = _reload(message_id)
            _fail(message, error, reason=f"refused: {error.code or error.status}: {error}")
            db.session.commit()
            log.warning("message %s failed for good: %s", message_id, describe(error))
            return Outcome.FAILED
        except RetryableSendError as error:
            _note_error(_reload(message_id), error)
            db.session.commit()
            log.info("message %s not sent yet: %s", message_id, describe(error))
            raise
        except SoftTimeLimitExceeded as error:
            raise AmbiguousSendError("out of time during the provider call") from error
        _accepted(_reload(message_id), result)
        db.session.commit()
        log.info("message %s to %s accepted as %s", message_id, mask_phone(to), result.sid)
        return Outcome.SENT
    except SoftTimeLimitExceeded as error:
        # Out of time in a lookup or waiting for a slot: nothing was sent by this run.
        db.session.rollback()
        raise RetryableSendError("out of time before the provider call") from error
    except BaseException:
        db.session.rollback()
        raise
    finally:
        lock.release()


def give_up(message_id: int, error: SendError) -> Outcome:
    """Retries are exhausted: fail the message and leave a replayable DeliveryFailure."""
    message = db.session.get(Message, message_id)
    if message is None:
        return Outcome.MISSING
    if _done(message):
        return Outcome.ALREADY_DONE
    if isinstance(error, SendInProgress):
        # Someone else is sending it right now: failing it here would race them.
        return Outcome.BUSY
    if message.attempts > 0:
        # The last answer may have been lost rather than refused: one more look.
        try:
            found = _look_up(message)
        except SendError:
            found = None
        if found is not None:
            _accepted(message, found)
            db.session.commit()
            return Outcome.RECONCILED
    reason = f"gave up after {message.attempts} attempt(s): {error}"
    _fail(message, error, reason=reason)
    db.session.commit()
    log.warning("message %s given up: %s", message.id, describe(error))
    return Outcome.FAILED


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
    if message.status is not MessageStatus.FAILED or message.provider_sid:
        raise ReplayError(f"message {message.id} is {message.status.value}, not failed")
    message.status = MessageStatus.PENDING
    message.error_code = None
    message.error_message = None
    message.status_at = now()
    failure.replayed_at = now()
    from dripper.sms.tasks import deliver

    enqueue_after_commit(deliver, message.id)
    db.session.commit()
    log.info("message %s replayed (failure %s)", message.id, failure.id)
    return message


def stale_message_ids(older_than: timedelta, limit: int = 500) -> list[int]:
    """Outbound messages still pending after ``older_than``: their task was lost."""
    cutoff = datetime.now(UTC) - older_than
    return list(
        db.session.scalars(
            select(Message.id)
            .where(
                Message.direction == Direction.OUTBOUND,
                Message.status == MessageStatus.PENDING,
                Message.provider_sid.is_(None),
                Message.created_at < cutoff,
            )
            .order_by(Message.id)
            .limit(limit)
        )
    )


def may_send(message: Message) -> bool:
    """Whether this person may get this message (an opt-out still gets its one confirmation)."""
    subscriber = message.subscriber or db.session.scalar(
        select(Subscriber).where(Subscriber.phone == message.phone)
    )
    if subscriber is None or subscriber.may_be_texted:
        return True
    return (
        message.kind is MessageKind.STOP_CONFIRMATION
        and subscriber.status is SubscriberStatus.OPTED_OUT
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


def _done(message: Message) -> bool:
    return bool(message.provider_sid) or message.status is not MessageStatus.PENDING


def _cancel(message: Message) -> Outcome:
    message.status = MessageStatus.CANCELED
    message.error_message = "not sent: the person may not be texted any more"
    message.status_at = now()
    db.session.commit()
    log.info("message %s to %s canceled: not textable", message.id, mask_phone(message.phone))
    return Outcome.CANCELED


def _start_attempt(message_id: int, seen_attempts: int) -> bool:
    """Commit that an attempt starts, so a lost answer is known to need a lookup.

    A compare-and-set on ``attempts``: if the row moved since we read it, someone else
    is on it, and this run stops.
    """
    started = db.session.execute(
        update(Message)
        .where(
            Message.id == message_id,
            Message.attempts == seen_attempts,
            Message.status == MessageStatus.PENDING,
            Message.provider_sid.is_(None),
        )
        .values(attempts=seen_attempts + 1, status_at=now(), error_code=None, error_message=None)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return started.rowcount == 1  # type: ignore[attr-defined,no-any-return]


def _reload(message_id: int) -> Message:
    message = db.session.get(Message, message_id, populate_existing=True)
    assert message is not None  # rows are never deleted while being sent
    return message


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


def _accepted(message: Message, result: SendResult) -> None:
    message.provider_sid = result.sid
    message.status = provider_status(result.status)
    message.error_code = None
    message.error_message = None
    message.sent_at = message.status_at = now()


def _note_error(message: Message, error: RetryableSendError) -> None:
    # The last error stays visible on the row while retries go on; it is cleared when
    # the next attempt starts.
    message.error_code = error.code
    message.error_message = str(error)


def _fail(message: Message, error: SendError, *, reason: str) -> None:
    message.status = MessageStatus.FAILED
    message.status_at = now()
    if isinstance(error, PermanentSendError):
        apply_permanent_error(message, error.code, str(error))
    else:
        message.error_code = error.code
        message.error_message = str(error)
    db.session.add(DeliveryFailure(message=message, reason=reason, created_at=now()))


class _SendLock:
    """A Redis lock on one message's provider call, released only by its holder."""

    def __init__(self, client: redis.Redis, message_id: int) -> None:
        self.client = client
        self.key = f"{_LOCK_PREFIX}{message_id}"
        self.token = uuid.uuid4().hex
        self._held = False

    def acquire(self) -> bool:
        try:
            taken = self.client.set(self.key, self.token, nx=True, ex=SEND_LOCK_SECONDS)
        except redis.RedisError as error:
            raise RetryableSendError(f"send lock unavailable: {error}") from error
        self._held = bool(taken)
        return self._held

    def ttl(self) -> float:
        remaining = self.client.ttl(self.key)
        return float(remaining) + 1 if isinstance(remaining, int) and remaining > 0 else 5.0

    def release(self) -> None:
        if not self._held:
            return
        self._held = False
        try:
            self.client.eval(_RELEASE, 1, self.key, self.token)
        except redis.RedisError:
            # The lock expires on its own; the row's state is what matters.
            log.warning("could not release %s", self.key)
