"""Celery tasks of the conversation: acting on a text its webhook left to a worker, and the
sweep that handles inbound texts left unhandled."""

from __future__ import annotations

import logging

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded

from dripper.broker import publish
from dripper.conversation.handle import handle_stored, handling_failed, unhandled_message_ids
from dripper.extensions import db
from dripper.jobs import REPLY_QUEUE

log = logging.getLogger(__name__)

#: Texts one sweep handles at most; the next sweep takes the rest.
SWEEP_BATCH = 100


@shared_task(
    name="dripper.conversation.sweep_inbound", acks_late=True, soft_time_limit=50, time_limit=55
)
def sweep_inbound() -> int:
    """Handle the stored inbound texts whose webhook died or whose handling failed, once each."""
    handled = 0
    for message_id in unhandled_message_ids(SWEEP_BATCH):
        try:
            message = handle_stored(message_id, skip_locked=True)
            db.session.commit()
        except SoftTimeLimitExceeded:
            # Out of time, not a failure of this text: the next sweep goes on from here.
            db.session.rollback()
            log.info("inbound sweep out of time after %d texts", handled)
            break
        except Exception as error:  # noqa: BLE001 - handling_failed logs it
            handling_failed(message_id, error)
            continue
        if message is not None:
            handled += 1
            log.info("inbound message %s handled by the sweep", message_id)
    if handled:
        log.warning("handled %d inbound messages their webhook had left unhandled", handled)
    return handled


@shared_task(
    name="dripper.conversation.handle",
    acks_late=True,
    ignore_result=True,
    soft_time_limit=50,
    time_limit=55,
)
def handle_inbound(message_id: int) -> bool:
    """Act on a text its webhook stored and left to a worker (``conversation.triage``),
    once: a text acted on meanwhile (a retry, the sweep) is passed over."""
    try:
        message = handle_stored(message_id)
        db.session.commit()
    except Exception as error:  # noqa: BLE001 - handling_failed logs it
        handling_failed(message_id, error)
        return False
    return message is not None


def leave_to_worker(message_id: int) -> bool:
    """Queue the stored text ``message_id`` for a worker that answers people; False when the
    broker could not take it (the inbound sweep acts on it instead)."""
    try:
        # apply_async's message, for a third of its cost (dripper.broker.publish).
        publish(handle_inbound, (message_id,), REPLY_QUEUE)
    except Exception as error:
        log.warning(
            "inbound message %s not queued (%s); the inbound sweep handles it",
            message_id,
            type(error).__name__,
        )
        log.debug("inbound message %s not queued", message_id, exc_info=True)
        return False
    return True
