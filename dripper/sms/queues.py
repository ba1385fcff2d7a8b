"""Which Celery queue delivers a message (answers to a person go ahead of the drip), and
the delivery tasks by name."""

from __future__ import annotations

from celery.canvas import Signature
from flask import current_app

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


#: The names of the delivery tasks (dripper.sms.tasks). The delivery code below them
#: queues a single delivery by name, so that it need not import the tasks that call it.
DELIVER_TASK = "dripper.sms.deliver"
DELIVER_BATCH_TASK = "dripper.sms.deliver_batch"


def single_delivery() -> Signature:
    """The single delivery task (``deliver(message_id)``), to queue with ``apply_async``."""
    return current_app.extensions["celery"].signature(DELIVER_TASK)  # type: ignore[no-any-return]
