"""Celery tasks of the sending side: deliver one message or a chunk; sweep up lost ones
and queue the retries that are due."""

from __future__ import annotations

import logging
from datetime import timedelta

from celery import Task, shared_task
from flask import current_app

from dripper.extensions import db
from dripper.jobs import enqueue_after_commit
from dripper.sms.base import RetryableSendError
from dripper.sms.delivery import (
    being_sent,
    claim_due_retries,
    deliver_message,
    deliver_messages,
    plan_retry,
    stale_messages,
)
from dripper.sms.queues import DELIVER_BATCH_TASK, DELIVER_TASK, delivery_queue, is_reply
from dripper.sms.ratelimit import redis_client

log = logging.getLogger(__name__)

#: Messages per chunk delivery task when the retry sweep queues never-tried messages.
RETRY_CHUNK = 50

#: How long a swept message is left alone before the sweep may queue it again.
SWEEP_QUIET = 900
#: Rows read per query, and messages queued at most per sweep (the rest wait a minute).
SWEEP_PAGE = 500
SWEEP_MAX = 2000


# Retries are handled in the body rather than with autoretry_for, so that parking the
# row or giving up (recording the failure) happens inside the task, in the app context.
# The task's own retries are only the short ones; plan_retry bounds them all.
@shared_task(
    bind=True,
    name=DELIVER_TASK,
    acks_late=True,
    reject_on_worker_lost=True,
    max_retries=None,
    # Above the limiter's longest wait plus a send and a lookup (the send lock's span,
    # SEND_LOCK_SECONDS); below DELIVERY_STALE_AFTER, after which the sweep queues a
    # twin, which looks the message up before sending it again.
    soft_time_limit=120,
    time_limit=150,
)
def deliver(self: Task, message_id: int) -> str:
    """Send one stored outbound message through the provider, exactly once."""
    try:
        return deliver_message(message_id).value
    except RetryableSendError as error:
        step = plan_retry(message_id, error, self.request.retries)
        if step.countdown is None:
            return step.outcome.value
        raise self.retry(exc=error, countdown=step.countdown) from error


@shared_task(
    name=DELIVER_BATCH_TASK,
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
    # As deliver's: slots are only reserved within the limiter's longest wait.
    soft_time_limit=120,
    time_limit=150,
)
def deliver_batch(message_ids: list[int]) -> dict[str, int]:
    """Send a chunk of stored outbound messages, each exactly once (see deliver_messages).

    Messages that need a retry or a lookup are handed to ``deliver``, one task each.
    """
    return dict(deliver_messages(message_ids).outcomes)


@shared_task(name="dripper.sms.sweep", acks_late=True, soft_time_limit=50, time_limit=55)
def sweep_unsent() -> int:
    """Queue again the outbound messages whose delivery task was lost."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    client = redis_client(app)
    stale_after = timedelta(seconds=float(app.config["DELIVERY_STALE_AFTER"]))
    queued, after_id = 0, 0
    # Page by id past what was queued recently or is being sent right now: a long stuck
    # backlog must not hide the rows behind it.
    while queued < SWEEP_MAX:
        page = stale_messages(stale_after, SWEEP_PAGE, after_id=after_id)
        if not page:
            break
        after_id = page[-1].id
        busy = being_sent(client, [row.id for row in page])
        waiting = [row for row in page if row.id not in busy]
        pipe = client.pipeline(transaction=False)
        for row in waiting:
            # Once per quiet period each: a long backlog must not be queued over and over.
            pipe.set(f"dripper:sms:swept:{row.id}", 1, nx=True, ex=SWEEP_QUIET)
        for row, fresh in zip(waiting, pipe.execute(), strict=True):
            if fresh:
                deliver.apply_async(args=[row.id], queue=delivery_queue(row.kind))
                queued += 1
    if queued:
        log.info("queued %d lost deliveries again", queued)
    return queued


@shared_task(name="dripper.sms.retry_due", acks_late=True, soft_time_limit=50, time_limit=55)
def retry_due() -> int:
    """Queue the deliveries whose retry (or sending window) is due now."""
    due = claim_due_retries()
    # Held for the window and never tried (a morning's lessons): in chunks, as the drip
    # queues them; one whose earlier attempt may have gone through is looked up alone.
    # Answers to a person go one by one on their own queue, ahead of the drip.
    fresh = [
        message_id for message_id, attempts, kind in due if not attempts and not is_reply(kind)
    ]
    for start in range(0, len(fresh), RETRY_CHUNK):
        enqueue_after_commit(deliver_batch, fresh[start : start + RETRY_CHUNK])
    for message_id, attempts, kind in due:
        if attempts or is_reply(kind):
            enqueue_after_commit(deliver, message_id, queue=delivery_queue(kind))
    db.session.commit()
    if due:
        log.info("queued %d due retries", len(due))
    return len(due)


__all__ = ["deliver", "deliver_batch", "retry_due", "sweep_unsent"]
