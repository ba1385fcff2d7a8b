"""Status callbacks: what the carrier did with a message we sent.

The webhook (``POST /sms/status``, signature checked there) calls ``apply_status``.
Callbacks arrive late, twice, or out of order; a message only ever moves forward.
"""

from __future__ import annotations

import logging

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from dripper import metrics
from dripper.clock import now
from dripper.extensions import db
from dripper.models import Direction, Message, MessageStatus
from dripper.sms.errors import record_permanent_error

log = logging.getLogger(__name__)

_FAILURES = frozenset({MessageStatus.FAILED, MessageStatus.UNDELIVERED, MessageStatus.CANCELED})
_NOT_FROM_CALLBACKS = frozenset({MessageStatus.PENDING, MessageStatus.RECEIVED})


def apply_status(sid: str, status: str, error_code: int | None, error_message: str | None) -> bool:
    """Move the message with provider sid ``sid`` to ``status``; True if it changed.

    Unknown sids and statuses, repeats and steps backwards change nothing. A failed or
    undelivered message with an error code goes through ``record_permanent_error`` (21610
    is an opt-out, an invalid number is unreachable: the app's refusal handler acts on
    the person). Commits.
    """
    try:
        new = MessageStatus(status.strip().lower())
    except ValueError:
        log.info("status callback for %s with unknown status %r ignored", sid, status)
        return False
    if new in _NOT_FROM_CALLBACKS or new is MessageStatus.TWIML:
        return False  # our own words, never Twilio's
    message_id = db.session.scalar(
        select(Message.id).where(
            Message.provider_sid == sid, Message.direction == Direction.OUTBOUND
        )
    )
    if message_id is None:
        log.info("status callback for unknown message %s ignored", sid)
        return False

    values: dict[str, object] = {"status": new, "status_at": now()}
    if new in _FAILURES:
        values["error_code"] = error_code
        values["error_message"] = error_message
    # One conditional UPDATE, so two callbacks racing (sent and delivered at once)
    # cannot leave the earlier status on top.
    changed = db.session.execute(
        update(Message)
        .where(Message.id == message_id, Message.status.in_(_earlier_than(new)))
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if changed.rowcount != 1:  # type: ignore[attr-defined]
        db.session.rollback()
        return False
    if new in (MessageStatus.FAILED, MessageStatus.UNDELIVERED) and error_code is not None:
        message = db.session.get(Message, message_id, populate_existing=True)
        assert message is not None
        record_permanent_error(message, error_code, error_message)
    db.session.commit()
    metrics.status_reported(new.value, error_code)
    log.info("message %s is %s", message_id, new.value)
    return True


def adopt_answer_sid(message_id: int, sid: str) -> bool:
    """Give a reply handed over in TwiML the sid Twilio created for it (from the first
    status callback its ``action`` URL brings); True if it took it. Commits."""
    try:
        adopted = db.session.execute(
            update(Message)
            .where(
                Message.id == message_id,
                Message.direction == Direction.OUTBOUND,
                Message.status == MessageStatus.TWIML,
                Message.provider_sid.is_(None),
            )
            .values(provider_sid=sid)
            .execution_options(synchronize_session=False)
        )
        db.session.commit()
    except IntegrityError:
        # The sid is another row's already (not the one Twilio created for this reply).
        db.session.rollback()
        log.warning("status callback for answer %s names sid %s, which is taken", message_id, sid)
        return False
    return adopted.rowcount == 1  # type: ignore[attr-defined]


def _earlier_than(new: MessageStatus) -> list[MessageStatus]:
    """The statuses a message may move to ``new`` from."""
    earlier = [s for s in MessageStatus if s.rank < new.rank and s not in _NOT_FROM_CALLBACKS]
    if new is MessageStatus.READ:
        # Read only follows a delivery; a failed message is never read.
        earlier = [s for s in earlier if s not in _FAILURES]
    return earlier
