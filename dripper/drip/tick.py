"""The tick: find the subscriptions whose next text is due and claim them for a worker.

A claim is a token and a time written on the row in one short transaction, so two
ticks (or beat plus an operator's ``drip tick``) never hand the same subscription to
two workers. PostgreSQL claims with ``FOR UPDATE SKIP LOCKED``; SQLite serialises
writers, so a conditional ``UPDATE … WHERE claim_token IS NULL`` is enough there.
A claim older than DRIP_CLAIM_TIMEOUT (a worker died) may be taken again.

Rows are claimed with bulk ``UPDATE … RETURNING`` in batches of DRIP_BATCH_SIZE, never
loaded as ORM objects, and the send tasks are queued only after each batch commits,
one task per chunk of ids (publishing 100k single tasks would cost more than the
claim itself). A batch's tasks go to the broker through one producer in one pipelined
round trip (see ``_queue_sends``).

The send task is queued by its name, ``dripper.drip.send_batch``: the tasks module
(dripper/drip/tasks.py) runs the tick and imports it, so the tick does not import the
tasks module back.
"""

from __future__ import annotations

import logging
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import ColumnElement, Select, and_, or_, select, update

from dripper import metrics
from dripper.clock import now as clock_now
from dripper.extensions import db
from dripper.models import Subscription, subscription_table
from dripper.subscriptions.states import SCHEDULED_STATES

log = logging.getLogger(__name__)

#: Subscriptions per queued send task. Small enough that several workers share a
#: batch, large enough that queueing 100k claims costs a few thousand publishes.
CHUNK_SIZE = 50

#: The task that sends one chunk of claims (``send_batch`` in dripper/drip/tasks.py).
SEND_BATCH_TASK = "dripper.drip.send_batch"

_table = subscription_table
_c = _table.c


@dataclass
class TickResult:
    """What one pass claimed and queued."""

    claimed: int = 0
    tasks: int = 0
    batches: int = 0
    by_action: Counter[str] = field(default_factory=Counter)

    def summary(self) -> str:
        """``queued 3 (lesson 2, question 1) in 1 task(s)`` or ``nothing due``."""
        if not self.claimed:
            return "nothing due"
        actions = ", ".join(f"{name} {count}" for name, count in sorted(self.by_action.items()))
        return f"queued {self.claimed} ({actions}) in {self.tasks} task(s)"


def _due(now: datetime, expired: datetime) -> list[ColumnElement[bool]]:
    """Conditions for a subscription that is due and not held by a live claim."""
    return [
        _c.state.in_([state.value for state in SCHEDULED_STATES]),
        _c.next_send_at.is_not(None),
        _c.next_send_at <= now,
        _c.next_action.is_not(None),
        or_(_c.claim_token.is_(None), _c.claimed_at.is_(None), _c.claimed_at < expired),
    ]


def _candidates(now: datetime, expired: datetime, after_id: int, limit: int) -> Select[tuple[int]]:
    return (
        select(_c.id)
        .where(_c.id > after_id, *_due(now, expired))
        # Walking the primary key keeps every batch's scan short: rows claimed by an
        # earlier batch are behind the cursor, not re-read and skipped each time.
        .order_by(_c.id)
        .limit(limit)
    )


def claim_batch(
    now: datetime, expired: datetime, after_id: int, limit: int
) -> list[tuple[int, str, str]]:
    """Claim up to ``limit`` due subscriptions with ids above ``after_id``.

    Returns (id, next_action, claim_token) for each, in the caller's transaction.
    """
    token = str(uuid.uuid4())
    candidates = _candidates(now, expired, after_id, limit)
    if db.engine.dialect.name == "postgresql":
        # Rows another tick is claiming right now are skipped, not waited for. The
        # locking CTE runs once; as "IN (subquery)" PostgreSQL may re-run it per row
        # and claim far more than the limit.
        batch = candidates.with_for_update(skip_locked=True).cte("batch")
        where = [_c.id == batch.c.id]
    else:
        # SQLite has one writer at a time: the statement below is atomic as it is.
        where = [_c.id.in_(candidates.scalar_subquery())]
    statement = (
        update(_table)
        # The conditions are repeated on the row being updated so that a row whose
        # claim changed after it was selected (PostgreSQL re-checks the newest row
        # version) is not taken twice.
        .where(*where, *_due(now, expired))
        .values(claim_token=token, claimed_at=now)
        .returning(_c.id, _c.next_action)
    )
    rows = db.session.execute(statement).all()
    return [(row.id, row.next_action, token) for row in rows]


def _chunks(ids: list[int], size: int) -> Iterator[list[int]]:
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


def _send_options(chunk: list[int], token: str) -> dict[str, Any]:
    return {
        "args": (chunk, token),
        "ignore_result": True,
        # Run by beat's task, a million-row tick would otherwise keep a result object
        # per task it queued among that task's children until it ends.
        "add_to_parent": False,
        # What the worker logs for the task; the default, a repr of every id, costs
        # more than publishing the task.
        "argsrepr": f"({len(chunk)} ids from {chunk[0]}, {token!r})",
        "kwargsrepr": "{}",
    }


def _queue_sends(chunks: list[list[int]], token: str) -> None:
    """Hand one send task per chunk to the broker; called once the claims are committed.

    One producer and one pipelined round trip for all of a batch's tasks, instead of a
    producer from the pool and a round trip per task. If that fails (the broker went
    away, a stale connection), each task is published again on its own with Celery's
    publish retries: a task sent twice is harmless (a send acts only while its claim
    token is on the row), and one that still cannot be sent leaves its claims to be
    taken again after DRIP_CLAIM_TIMEOUT.
    """
    celery = current_app.extensions["celery"]
    try:
        with celery.producer_or_acquire() as producer, producer.batch():
            for chunk in chunks:
                celery.send_task(SEND_BATCH_TASK, producer=producer, **_send_options(chunk, token))
        return
    except Exception as error:  # noqa: BLE001 - published again one by one below
        log.info("drip tick: pipelined publish failed (%s); one at a time", type(error).__name__)
    for chunk in chunks:
        try:
            celery.send_task(SEND_BATCH_TASK, **_send_options(chunk, token))
        except Exception:
            log.warning(
                "could not queue %s; its claims are taken again after DRIP_CLAIM_TIMEOUT",
                SEND_BATCH_TASK,
                exc_info=True,
            )


@metrics.timed_tick
def tick(
    *,
    now: datetime | None = None,
    batch_size: int | None = None,
    limit: int | None = None,
    chunk_size: int = CHUNK_SIZE,
) -> TickResult:
    """Claim every due subscription in batches and queue its send after each commit."""
    config = current_app.config
    now = now or clock_now()
    batch_size = batch_size or int(config["DRIP_BATCH_SIZE"])
    expired = now - timedelta(seconds=int(config["DRIP_CLAIM_TIMEOUT"]))
    # End whatever transaction reading the clock opened, so each batch is its own.
    db.session.commit()

    result = TickResult()
    after_id = 0
    while limit is None or result.claimed < limit:
        size = batch_size if limit is None else min(batch_size, limit - result.claimed)
        claimed = claim_batch(now, expired, after_id, size)
        if not claimed:
            db.session.rollback()
            break
        ids = sorted(subscription_id for subscription_id, _, _ in claimed)
        token = claimed[0][2]
        chunks = list(_chunks(ids, chunk_size))
        db.session.commit()
        # Only now: a worker must never look for a claim that is not committed yet.
        _queue_sends(chunks, token)
        result.tasks += len(chunks)
        result.batches += 1
        result.claimed += len(claimed)
        result.by_action.update(action for _, action, _ in claimed)
        after_id = ids[-1]
        if len(claimed) < size:
            break
    if result.claimed:
        log.info("drip tick: %s", result.summary())
    return result


def claim_one(subscription_id: int, now: datetime | None = None) -> str | None:
    """Claim one subscription if it is due and unclaimed; returns the token, or None.

    Runs in the caller's transaction (the caller commits).
    """
    config = current_app.config
    now = now or clock_now()
    expired = now - timedelta(seconds=int(config["DRIP_CLAIM_TIMEOUT"]))
    token = str(uuid.uuid4())
    db.session.flush()
    statement = (
        update(_table)
        .where(and_(_c.id == subscription_id, *_due(now, expired)))
        .values(claim_token=token, claimed_at=now)
    )
    result = db.session.execute(statement)
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return None
    # The ORM copy (if the caller holds one) must not write the old claim back.
    for obj in db.session.identity_map.values():
        if isinstance(obj, Subscription) and obj.id == subscription_id:
            db.session.expire(obj, ["claim_token", "claimed_at"])
    return token
