"""Queue an outbound message: store it first, then hand it to a worker after commit."""

from __future__ import annotations

from sqlalchemy import select

from dripper.extensions import db
from dripper.jobs import enqueue_after_commit
from dripper.models import (
    Direction,
    Lesson,
    Message,
    MessageKind,
    MessageStatus,
    Subscriber,
    Subscription,
)


def queue_message(
    phone: str,
    kind: MessageKind,
    body: str,
    *,
    subscriber: Subscriber | None = None,
    subscription: Subscription | None = None,
    lesson: Lesson | None = None,
    dedupe_key: str | None = None,
) -> Message:
    """Store an outbound message as pending and queue its delivery once the caller commits.

    With a ``dedupe_key`` the message is written at most once: asking again returns
    the row already written (and queues nothing), which is what makes the drip
    exactly-once when a task runs twice.
    """
    if dedupe_key is not None:
        existing = db.session.scalar(select(Message).where(Message.dedupe_key == dedupe_key))
        if existing is not None:
            return existing
    message = Message(
        direction=Direction.OUTBOUND,
        kind=kind,
        phone=phone,
        subscriber=subscriber,
        subscription=subscription,
        lesson=lesson,
        body=body,
        status=MessageStatus.PENDING,
        dedupe_key=dedupe_key,
    )
    db.session.add(message)
    db.session.flush()
    from dripper.sms.tasks import deliver

    enqueue_after_commit(deliver, message.id)
    return message
