"""Celery tasks of the sending side: deliver one message or a chunk; sweep up lost ones."""

from __future__ import annotations

import logging
import random
from datetime import timedelta

from celery import Task, shared_task
from flask import current_app

from dripper.sms.base import RetryableSendError
from dripper.sms.delivery import (
    Outcome,
    being_sent,
    deliver_message,
    deliver_messages,
    give_up,
    replay_failure,
    stale_messages,
)
from dripper.sms.outbox import delivery_queue
from dripper.sms.ratelimit import redis_client

log = logging.getLogger(__name__)

MAX_RETRIES = 6
BACKOFF_BASE = 5.0  # seconds before the first retry; doubled each time
# Well under the broker's visibility timeout (1 h): a longer countdown would be
# delivered again before it is due.
BACKOFF_MAX = 600.0

#: How long a swept message is left alone before the sweep may queue it again.
SWEEP_QUIET = 900
#: Rows read per query, and messages queued at most per sweep (the rest wait a minute).
SWEEP_PAGE = 500
SWEEP_MAX = 2000


def retry_delay(retries: int, retry_after: float | None = None) -> float:
    """Exponential backoff with jitter, never sooner than the provider asked."""
    ceiling = min(BACKOFF_MAX, BACKOFF_BASE * 2**retries)
    # Jitter spreads a burst of throttled tasks so they do not come back together.
    delay = random.uniform(ceiling / 2, ceiling)
    return max(delay, retry_after or 0.0)


# Retries are handled in the body rather than with autoretry_for, so that giving up
# (recording the failure) happens inside the task, in the app context, like the rest.
@shared_task(
    bind=True,
    name="dripper.sms.deliver",
    acks_late=True,
    reject_on_worker_lost=True,
    max_retries=MAX_RETRIES,
    # Above the limiter's longest wait plus a send and two lookups; below the send lock.
    soft_time_limit=120,
    time_limit=150,
)
def deliver(self: Task, message_id: int) -> str:
    """Send one stored outbound message through the provider, exactly once."""
    try:
        return deliver_message(message_id).value
    except RetryableSendError as error:
        if self.request.retries >= self.max_retries:
            return give_up(message_id, error).value
        raise self.retry(
            exc=error, countdown=retry_delay(self.request.retries, error.retry_after)
        ) from error


@shared_task(
    name="dripper.sms.deliver_batch",
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
    # As deliver's: slots are only reserved within the limiter's longest wait, the locks
    # (taken after the task starts) outlive the hard limit.
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


__all__ = [
    "Outcome",
    "deliver",
    "deliver_batch",
    "replay_failure",
    "retry_delay",
    "sweep_unsent",
]
