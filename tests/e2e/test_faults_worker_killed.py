"""Fault: a worker killed with SIGKILL in the middle of a 2,000-subscriber dispatch.

Real PostgreSQL, real Redis, real Celery workers (separate processes) sending through
the real twilio client to the local Twilio-compatible server. The broker keeps its
production visibility timeout (an hour), so nothing comes back by redelivery within the
test: what the killed worker held is recovered by the sweeps alone (claims that expire
after ``DRIP_CLAIM_TIMEOUT``, pending lessons re-queued after ``DELIVERY_STALE_AFTER``,
each looked up at the provider before any resend). The test prints how long after the
kill the last lesson went out. Duration: about 2 minutes.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from faults_support import (
    Beat,
    expected_lessons,
    reconcile,
    sandbox_offset,
    unfinished_outbound,
    wait_until,
)
from flask import Flask

from dripper.clock import sandbox_clock
from dripper.drip.tick import tick
from dripper.extensions import db
from dripper.models import Course, Message, MessageKind, MessageStatus
from dripper_testkit.builders import bulk_due
from dripper_testkit.twilio_fake import FakeTwilio
from dripper_testkit.workers import BrokerSpace, Worker, start_worker

NINE_AM = datetime(2026, 3, 9, 9, 0, tzinfo=ZoneInfo("America/New_York"))
TOTAL = 2000
ACCEPTED = {MessageStatus.QUEUED, MessageStatus.SENT, MessageStatus.DELIVERED}
#: The settings this test documents the recovery bound with (docs/RELIABILITY.md, Faults).
CLAIM_TIMEOUT = 20  # DRIP_CLAIM_TIMEOUT, seconds
STALE_AFTER = 20  # DELIVERY_STALE_AFTER, seconds
LOOKUP_DELAY = 2.0  # TWILIO_LOOKUP_DELAY, seconds
TIMEOUT = 10.0  # TWILIO_TIMEOUT, seconds
MAX_WAIT = 5.0  # SEND_RATE_MAX_WAIT, seconds (at 1,000 a second, waits are far shorter)
#: The send locks the killed worker's wave still holds live SEND_LOCK_SECONDS, derived
#: from the two above: a lookup, the longest wait for a slot and a send.
LOCK = 2 * TIMEOUT + MAX_WAIT


@pytest.fixture
def worker_settings(twilio_server: FakeTwilio) -> dict[str, Any]:
    return twilio_server.settings(
        SEND_RATE=1000.0,
        DRIP_CLAIM_TIMEOUT=CLAIM_TIMEOUT,
        DELIVERY_STALE_AFTER=STALE_AFTER,
        TWILIO_LOOKUP_DELAY=LOOKUP_DELAY,
        # Long enough that the calls in flight are still waiting when the worker dies.
        TWILIO_TIMEOUT=TIMEOUT,
        SEND_RATE_MAX_WAIT=MAX_WAIT,
    )


@pytest.fixture
def app_config(drip_config: dict[str, Any]) -> dict[str, Any]:
    return drip_config


@pytest.fixture(autouse=True)
def _no_sending_state_left(broker: BrokerSpace) -> None:
    """Send locks and sweep marks are keyed by message id: none from an earlier test."""
    keys = list(broker.client.scan_iter("dripper:sms:*"))
    if keys:
        broker.client.delete(*keys)


@pytest.mark.database("postgresql")
def test_a_worker_killed_mid_dispatch_sends_every_lesson_once_within_the_recovery_bound(
    app: Flask,
    course: Course,
    app_config: dict[str, Any],
    broker: BrokerSpace,
    workers: list[Worker],
    twilio_server: FakeTwilio,
    worker_settings: dict[str, Any],
    tmp_path: Path,
) -> None:
    with db.engine.begin() as connection:
        bulk_due(connection, course.id, TOTAL, NINE_AM)
    sandbox_clock().set(NINE_AM)
    workers.append(start_worker(app_config, broker, tmp_path, overrides=worker_settings))
    assert tick().claimed == TOTAL

    # SIGKILL once some lessons are out and most are not, with provider calls in flight
    # (the worst moment: the fake has taken those messages, no answer came back, and
    # the wave's send locks are held).
    wait_until(lambda: len(twilio_server.messages) >= TOTAL // 5, 120, "no lesson went out")
    calls = len(twilio_server.sends())
    twilio_server.delay_next(60, count=2)
    wait_until(lambda: len(twilio_server.sends()) >= calls + 2, 30, "no call in flight")
    workers[0].kill()
    killed_at = datetime.now(UTC)
    out_at_kill = len(twilio_server.messages)
    assert out_at_kill < TOTAL, "the kill came too late to test anything"

    workers.append(start_worker(app_config, broker, tmp_path, overrides=worker_settings))
    with Beat(app, period=2.0) as beat:
        wait_until(
            lambda: (
                len({m.to for m in twilio_server.messages}) >= TOTAL and unfinished_outbound() == 0
            ),
            420,
            "the killed worker's lessons never all went out",
        )
    assert not beat.errors, beat.errors

    settled_after = (datetime.now(UTC) - killed_at).total_seconds()
    last_out = max(m.date_created for m in twilio_server.messages)
    print(
        f"\nworker killed after {out_at_kill}/{TOTAL} lessons; the last lesson went out "
        f"{(last_out - killed_at).total_seconds():.1f} s after the kill, every row settled "
        f"after {settled_after:.1f} s "
        f"(DRIP_CLAIM_TIMEOUT={CLAIM_TIMEOUT}, DELIVERY_STALE_AFTER={STALE_AFTER}, "
        f"TWILIO_LOOKUP_DELAY={LOOKUP_DELAY}, SEND_LOCK_SECONDS={LOCK:g}, beat every 2 s)"
    )

    expected = expected_lessons()
    assert len(expected) == TOTAL and all(len(bodies) == 1 for bodies in expected.values())
    reconcile(twilio_server, expected, sandbox_offset=sandbox_offset()).check()
    # Every row carries the sid of the one message the provider took for it.
    sids = {m.sid for m in twilio_server.messages}
    rows = db.session.execute(
        sa.select(Message.status, Message.provider_sid).where(Message.kind == MessageKind.LESSON)
    ).all()
    assert {status for status, _ in rows} <= ACCEPTED
    assert {sid for _, sid in rows} == sids
