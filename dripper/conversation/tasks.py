"""Celery tasks of the conversation: the sweep that handles inbound texts left unhandled."""

from __future__ import annotations

import logging

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded

from dripper.conversation.handle import handle_stored, note_not_handled, unhandled_message_ids
from dripper.extensions import db

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
        except Exception as error:
            db.session.rollback()
            # The error's text may quote SQL parameters (the body): its type only.
            log.error("inbound message %s still not handled: %s", message_id, type(error).__name__)
            log.debug("inbound message %s not handled", message_id, exc_info=True)
            note_not_handled(message_id)
            continue
        if message is not None:
            handled += 1
            log.info("inbound message %s handled by the sweep", message_id)
    if handled:
        log.warning("handled %d inbound messages their webhook had left unhandled", handled)
    return handled
