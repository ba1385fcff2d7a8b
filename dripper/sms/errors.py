"""What a provider error means: retry, look it up, or stop — and what it says about the person.

Two doors lead here: the provider refusing a send (``classify_exception``, then
``record_permanent_error``) and the status callback reporting a message as failed or
undelivered (``dripper.sms.status.apply_status``, which calls ``record_permanent_error``).

The sending side only sends and records. When an error says something about the person
(21610: they opted out with the carrier; an invalid or landline number: unreachable),
it names that as a ``Refusal`` and hands it, with the message, to the one refusal
handler the app registered at start (``on_refusal``; ``dripper.create_app`` registers
``dripper.subscriptions.refusals.apply_refusal``), in the same transaction as the
message's own record. A hook rather than a return value because the Celery tasks that
send (``dripper.sms.tasks``) and the status callback's ``apply_status`` must stay here,
below the subscriptions they would otherwise have to import; a registry on the app
rather than a blinker signal because there is exactly one handler and its absence is an
error (``RefusalHandlerMissing``), not a signal nobody hears.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable, Container

import requests
from celery.exceptions import SoftTimeLimitExceeded
from flask import Flask, current_app
from sqlalchemy import select
from twilio.base.exceptions import TwilioException, TwilioRestException, TwilioServiceException
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError

from dripper.extensions import db
from dripper.logs import mask_phone, mask_text
from dripper.models import Direction, Message
from dripper.sms.base import (
    AmbiguousSendError,
    PermanentSendError,
    RetryableSendError,
    SendError,
)

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

#: Our texts to the number are stopped on the way: the carrier filters them, or the number's
#: region is not one the account may send to. One such failure may be a passing filter;
#: several in a row mean every further lesson would fail the same way (and, when a carrier
#: filters, sending more of them harms the sender's standing with it).
BLOCKED_CODES: dict[int, str] = {
    21408: "the number's region is not enabled for sending",
    21612: "the carrier cannot route our texts to this number",
    30007: "filtered by the carrier",
}
BLOCKED_STREAK = 3

#: Our account or sender is misconfigured; every message fails the same way until fixed.
CONFIGURATION_CODES = frozenset({20003, 20404, 21212, 21408, 21606, 21659, 21701, 21703})


class Refusal(enum.StrEnum):
    """What a permanent error says about the person it was sent to."""

    OPTED_OUT = "opted_out"  # 21610: they opted out with the carrier; text them no more
    UNREACHABLE = "unreachable"  # the number can never receive our texts
    BLOCKED = "blocked"  # our texts to it keep being stopped on the way (BLOCKED_CODES)


#: Acts on a refusal: (the message, what it says, a short reason). Runs inside the
#: caller's transaction, which the caller commits; it flushes at most.
RefusalHandler = Callable[[Message, Refusal, str], None]
_HANDLER = "dripper.sms.refusal_handler"


class RefusalHandlerMissing(RuntimeError):
    """The app registered nothing to act on refusals (see ``on_refusal``)."""


def on_refusal(app: Flask, handler: RefusalHandler) -> None:
    """Make ``handler`` the one that acts on this app's refusals (set at app start)."""
    app.extensions[_HANDLER] = handler


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


def record_permanent_error(message: Message, code: int | None, text: str | None) -> Refusal | None:
    """Record a permanent error on ``message``; return what it says about the person.

    21610 is an opt-out (everywhere); an invalid, landline or unknown number, or a
    handset unreachable several times running, is unreachable; texts stopped on the way
    several times running (carrier filtering, a region we may not send to) are blocked;
    anything else is recorded on the message only (None). A refusal goes to the app's
    refusal handler before this returns. Flushes, never commits: the caller owns the
    transaction.
    """
    message.error_code = code
    message.error_message = text
    refusal: Refusal | None = None
    reason = ""
    if code == OPTED_OUT:
        refusal, reason = Refusal.OPTED_OUT, f"{code}: opted out with the carrier"
    elif code in UNREACHABLE_CODES:
        refusal, reason = Refusal.UNREACHABLE, f"{code}: {UNREACHABLE_CODES[code]}"
    elif code == HANDSET_UNREACHABLE and _streak(
        message.phone, {HANDSET_UNREACHABLE}, HANDSET_UNREACHABLE_STREAK
    ):
        refusal = Refusal.UNREACHABLE
        reason = f"{code}: unreachable {HANDSET_UNREACHABLE_STREAK} times"
    if code in CONFIGURATION_CODES:
        log.error(
            "message %s refused by configuration error %s: %s",
            message.id,
            code,
            mask_text(text or ""),
        )
    if code in BLOCKED_CODES and _streak(message.phone, BLOCKED_CODES, BLOCKED_STREAK):
        refusal = Refusal.BLOCKED
        reason = f"{code}: {BLOCKED_CODES[code]}, {BLOCKED_STREAK} times running"
    if refusal is not None:
        handler: RefusalHandler | None = current_app.extensions.get(_HANDLER)
        if handler is None:
            raise RefusalHandlerMissing("no refusal handler registered (dripper.create_app)")
        handler(message, refusal, reason)
        log.info("%s refused: %s (error %s)", mask_phone(message.phone), refusal.value, code)
    db.session.flush()
    return refusal


def _streak(phone: str, codes: Container[int | None], length: int) -> bool:
    """Whether the number's last ``length`` outbound messages all failed with one of ``codes``."""
    db.session.flush()  # the message at hand carries its code already
    recent = db.session.scalars(
        select(Message.error_code)
        .where(Message.phone == phone, Message.direction == Direction.OUTBOUND)
        .order_by(Message.created_at.desc(), Message.id.desc())
        .limit(length)
    ).all()
    return len(recent) == length and all(code in codes for code in recent)


def describe(error: SendError) -> str:
    """A one-line account of an error, safe for a log line (numbers masked)."""
    parts = [type(error).__name__]
    if error.status is not None:
        parts.append(f"HTTP {error.status}")
    if error.code is not None:
        parts.append(f"code {error.code}")
    return f"{' '.join(parts)}: {mask_text(str(error))}"
