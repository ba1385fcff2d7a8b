"""Helpers for the drip tests: what was sent, tasks recorded instead of sent, and a
sandbox run that moves the clock from one due send to the next with real workers.

Rows to start from are in dripper_testkit/builders.py, the workers in
dripper_testkit/workers.py.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from dripper.extensions import db
from dripper.models import Direction, Message, MessageKind, MessageStatus, Subscription
from dripper_testkit.workers import BrokerSpace, drain


def outbound(subscription_id: int | None = None, kind: MessageKind | None = None) -> list[Message]:
    query = sa.select(Message).where(Message.direction == Direction.OUTBOUND).order_by(Message.id)
    if subscription_id is not None:
        query = query.where(Message.subscription_id == subscription_id)
    if kind is not None:
        query = query.where(Message.kind == kind)
    return list(db.session.scalars(query))


def record_sent(app: Flask, monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, tuple[Any, ...]]]:
    """Tasks handed to the broker (after commit), recorded instead of sent."""
    calls: list[tuple[str, tuple[Any, ...]]] = []

    def send_task(name: str, args: Any = None, kwargs: Any = None, **options: Any) -> None:
        calls.append((name, tuple(args or ())))

    monkeypatch.setattr(app.extensions["celery"], "send_task", send_task)
    return calls


def pending_messages() -> int:
    return (
        db.session.scalar(
            sa.select(sa.func.count())
            .select_from(Message)
            .where(Message.status == MessageStatus.PENDING)
        )
        or 0
    )


class SandboxRun:
    """Moves the sandbox clock from one due send to the next, ticking and draining,
    and remembers the sandbox time at which each message was written."""

    def __init__(self, broker: BrokerSpace) -> None:
        self.broker = broker
        self.sent_at: dict[int, datetime] = {}

    def until(self, end: datetime, *, run_tick: Any = None) -> int:
        """Every send due before ``end``; returns how many steps it took."""
        from dripper.clock import sandbox_clock
        from dripper.drip.tick import tick

        steps = 0
        while (due := next_due()) is not None and due < end:
            db.session.rollback()  # read nothing stale across the workers' commits
            sandbox_clock().set(due + timedelta(seconds=1))
            (run_tick or tick)()
            self.settle(due)
            steps += 1
        db.session.rollback()
        if end > self.now():
            sandbox_clock().set(end)
        return steps

    def settle(self, at: datetime | None = None) -> None:
        """Wait for the workers, then note what they wrote as sent at ``at`` (now)."""
        drain(self.broker)
        at = at or self.now()
        db.session.rollback()
        for message_id in db.session.scalars(
            sa.select(Message.id).where(Message.id.not_in(list(self.sent_at) or [0]))
        ):
            self.sent_at[message_id] = at

    @staticmethod
    def now() -> datetime:
        from dripper.clock import now

        return now()


def next_due() -> datetime | None:
    from dripper.subscriptions.states import SCHEDULED_STATES

    return db.session.scalar(
        sa.select(sa.func.min(Subscription.next_send_at)).where(
            Subscription.state.in_(SCHEDULED_STATES)
        )
    )
