"""What a provider error means: retry, look it up, or stop — and what to do about the person.

Two doors lead here: the provider refusing a send (``classify_exception``, then
``apply_permanent_error``) and the status callback reporting a message as failed or
undelivered (``dripper.sms.status.apply_status``, which calls ``apply_permanent_error``).
"""

from __future__ import annotations

import enum
import logging

import requests
from celery.exceptions import SoftTimeLimitExceeded
from sqlalchemy import select
from twilio.base.exceptions import TwilioException, TwilioRestException, TwilioServiceException
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError

from dripper.clock import now
from dripper.extensions import db
from dripper.logs import mask_phone, mask_text
from dripper.models import Direction, Message, Subscriber, SubscriberStatus
from dripper.sms.base import (
    AmbiguousSendError,
    PermanentSendError,
    RetryableSendError,
    SendError,
)
from dripper.subscriptions import states

log = logging.getLogger(__name__)

TOO_MANY_REQUESTS = 20429
QUEUE_FULL = 21611  # the sender's ~10 hours of queue are full: later, it takes more
OPTED_OUT = 21610

#: Codes worth retrying even though Twilio answered 4xx.
RETRYABLE_CODES = frozenset({TOO_MANY_REQUESTS, QUEUE_FULL})

#: The number can never receive our texts: stop texting it.
UNREACHABLE_CODES: dict[int, str] = {
    21211: "invalid phone number",
    21614: "not a mobile number",
    30005: "unknown or inactive handset",
    30006: "landline or unreachable carrier",
}

#: The handset is off or out of coverage: one failure says little, several in a row do.
HANDSET_UNREACHABLE = 30003
HANDSET_UNREACHABLE_STREAK = 3

#: Our account or sender is misconfigured; every message fails the same way until fixed.
CONFIGURATION_CODES = frozenset({20003, 20404, 21212, 21408, 21606, 21659, 21701, 21703})


class PermanentAction(enum.StrEnum):
    """What ``apply_permanent_error`` did about the person."""

    OPTED_OUT = "opted_out"
    UNREACHABLE = "unreachable"
    RECORDED = "recorded"  # the message carries the code; the person is left as they were


def classify_exception(error: BaseException) -> SendError:
    """Turn what the twilio client (or the network under it) raised into a SendError type.

    Only a request that surely never reached Twilio, or that Twilio surely refused, is
    retryable as such; anything that may have been accepted is ambiguous, and is looked
    up before it is sent again (the REST API has no idempotency key).
    """
    if isinstance(error, SendError):
        return error
    if isinstance(error, TwilioRestException | TwilioServiceException):
        return _classify_answer(error)
    if isinstance(error, requests.exceptions.ConnectTimeout):
        return RetryableSendError("could not connect to the provider (timeout)")
    if isinstance(error, requests.exceptions.ConnectionError) and _never_connected(error):
        return RetryableSendError(f"could not connect to the provider: {type(error).__name__}")
    if isinstance(
        error,
        requests.exceptions.Timeout
        | requests.exceptions.ConnectionError
        | requests.exceptions.ChunkedEncodingError
        | SoftTimeLimitExceeded,
    ):
        return AmbiguousSendError(f"no answer from the provider: {type(error).__name__}")
    if isinstance(error, TwilioException | ValueError):
        # An answer we could not read (a page that failed, a body that is not JSON): the
        # provider may have acted on the request.
        return AmbiguousSendError(f"unreadable answer from the provider: {type(error).__name__}")
    return AmbiguousSendError(f"provider call failed: {type(error).__name__}")


def _classify_answer(error: TwilioRestException | TwilioServiceException) -> SendError:
    status = int(error.status) if error.status is not None else None
    code = int(error.code) if error.code is not None else None
    text = _error_text(error)
    if status == 429 or code in RETRYABLE_CODES:
        return RetryableSendError(text, code=code, status=status)
    if status is not None and status >= 500:
        return RetryableSendError(text, code=code, status=status)
    return PermanentSendError(text, code=code, status=status)


def _error_text(error: TwilioRestException | TwilioServiceException) -> str:
    if isinstance(error, TwilioRestException):
        return str(error.msg or f"HTTP {error.status}")
    return str(error.detail or error.title or f"HTTP {error.status}")


def _never_connected(error: requests.exceptions.ConnectionError) -> bool:
    """True when the connection was refused or never opened, so nothing was sent."""
    reason = getattr(error.args[0], "reason", None) if error.args else None
    return isinstance(reason, NewConnectionError | NameResolutionError | ConnectTimeoutError)


def apply_permanent_error(message: Message, code: int | None, text: str | None) -> PermanentAction:
    """Record a permanent error on ``message`` and act on what it says about the person.

    21610 opts the subscriber out at once (everywhere); an invalid, landline or unknown
    number makes them unreachable; anything else is recorded on the message only.
    Flushes, never commits: the caller owns the transaction.
    """
    message.error_code = code
    message.error_message = text
    action = PermanentAction.RECORDED
    subscriber = _subscriber_of(message)
    if code == OPTED_OUT:
        if subscriber is not None:
            _opt_out(subscriber)
        action = PermanentAction.OPTED_OUT
    elif code in UNREACHABLE_CODES:
        if subscriber is not None:
            _mark_unreachable(subscriber, f"{code}: {UNREACHABLE_CODES[code]}")
        action = PermanentAction.UNREACHABLE
    elif code == HANDSET_UNREACHABLE and subscriber is not None:
        if _handset_unreachable_streak(subscriber):
            _mark_unreachable(subscriber, f"{code}: unreachable {HANDSET_UNREACHABLE_STREAK} times")
            action = PermanentAction.UNREACHABLE
    elif code in CONFIGURATION_CODES:
        log.error(
            "message %s refused by configuration error %s: %s",
            message.id,
            code,
            mask_text(text or ""),
        )
    db.session.flush()
    if action is not PermanentAction.RECORDED:
        log.info("%s is now %s (error %s)", mask_phone(message.phone), action.value, code)
    return action


def _opt_out(subscriber: Subscriber) -> None:
    # The carrier refusing again (21610) keeps the first opt-out's time.
    if subscriber.status is not SubscriberStatus.OPTED_OUT:
        states.opt_out(subscriber, now())


def _mark_unreachable(subscriber: Subscriber, reason: str) -> None:
    # An opt-out is the stronger fact (it is what the person asked for); it stays.
    if subscriber.status is SubscriberStatus.ACTIVE:
        states.mark_unreachable(subscriber, reason[:200])


def _subscriber_of(message: Message) -> Subscriber | None:
    if message.subscriber is not None:
        return message.subscriber
    return db.session.scalar(select(Subscriber).where(Subscriber.phone == message.phone))


def _handset_unreachable_streak(subscriber: Subscriber) -> bool:
    db.session.flush()  # the message at hand carries its code already
    recent = db.session.scalars(
        select(Message.error_code)
        .where(Message.phone == subscriber.phone, Message.direction == Direction.OUTBOUND)
        .order_by(Message.created_at.desc(), Message.id.desc())
        .limit(HANDSET_UNREACHABLE_STREAK)
    ).all()
    return len(recent) == HANDSET_UNREACHABLE_STREAK and all(
        code == HANDSET_UNREACHABLE for code in recent
    )


def describe(error: SendError) -> str:
    """A one-line account of an error, safe for a log line (numbers masked)."""
    parts = [type(error).__name__]
    if error.status is not None:
        parts.append(f"HTTP {error.status}")
    if error.code is not None:
        parts.append(f"code {error.code}")
    return f"{' '.join(parts)}: {mask_text(str(error))}"
