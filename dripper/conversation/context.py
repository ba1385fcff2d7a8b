"""Which of our messages a reply answers, so the classifier reads it in its conversation.

A reply is taken to answer the last question (an outbound ``question`` message) that went
out to that subscription within the course's ``question_context_hours`` (pacing; 72 by
default). When the lesson went out after that question and its own question has not yet
(someone replies to the morning lesson before the afternoon question), the reply answers
the lesson: it is stored as the reference, but the classifier reads the reply without a
question, because a lesson's text is not a question and the one they have not been asked
is not what they answer. Only messages that actually went out count (``sent_at`` set):
a question still waiting for the sending window was never seen.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select

from dripper.extensions import db
from dripper.models import Direction, Message, MessageKind, Subscription, UTCDateTime
from dripper.subscriptions import schedule

#: What a reply can answer: the question, or the lesson before its question came.
ANSWERABLE = (MessageKind.QUESTION, MessageKind.LESSON)


def window(subscription: Subscription) -> timedelta:
    """How far back a reply may answer a question (the course's ``question_context_hours``)."""
    return timedelta(hours=float(schedule.pacing(subscription.course, "question_context_hours")))  # type: ignore[arg-type]


def answered(subscription: Subscription, at: datetime) -> Message | None:
    """The question (or lesson) sent to ``subscription`` last, within its window before ``at``."""
    sent = func.coalesce(Message.sent_at, Message.created_at, type_=UTCDateTime)
    query = (
        select(Message)
        .where(
            Message.subscription_id == subscription.id,
            Message.direction == Direction.OUTBOUND,
            Message.kind.in_(ANSWERABLE),
            Message.sent_at.is_not(None),
            sent >= at - window(subscription),
            sent <= at,
        )
        .order_by(sent.desc(), Message.id.desc())
        .limit(1)
    )
    # Sent messages only: nothing the handling has pending could change the answer, so
    # nothing is flushed for it (the reply's own changes are written once, later).
    with db.session.no_autoflush:
        return db.session.scalars(query).first()


def question_text(answers: Message | None) -> str | None:
    """The question the classifier should read the reply with: only a question's own text."""
    if answers is None or answers.kind is not MessageKind.QUESTION:
        return None
    return answers.body or None
