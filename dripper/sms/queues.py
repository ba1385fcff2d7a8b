"""Which Celery queue delivers a message: answers to a person go ahead of the drip."""

from __future__ import annotations

from dripper.jobs import DEFAULT_QUEUE, REPLY_QUEUE
from dripper.models import MessageKind

#: What the drip sends on its own schedule, within the person's sending window (the
#: course's completion message too). Every other outbound kind answers a person's own
#: text (or their signup) and goes ahead of the drip: a queue of its own, and a share of
#: the send rate the drip leaves free.
DRIP_KINDS = frozenset(
    {
        MessageKind.LESSON,
        MessageKind.QUESTION,
        MessageKind.CHECK_IN,
        MessageKind.OFFER,
        MessageKind.COMPLETION,
    }
)


def is_reply(kind: MessageKind) -> bool:
    """Whether a message of this kind answers a person rather than drips a lesson."""
    return kind not in DRIP_KINDS


def delivery_queue(kind: MessageKind) -> str:
    """The Celery queue a message of this kind is delivered from."""
    return REPLY_QUEUE if is_reply(kind) else DEFAULT_QUEUE
