"""Fault: Redis (broker, send limiter, send locks) stopped during a dispatch and during a
burst of inbound webhooks, then started again, empty.

The test runs a redis-server of its own and kills it (SIGKILL) once the dispatch is under
way, posts a burst of signed inbound webhooks while it is down, and starts it again
after 10 s with nothing in it (no queue, no locks, no limiter state). 10 s instead of
30 s: what matters is that Redis is gone while tasks are taken, sent and queued and
webhooks arrive; every path that touches Redis fails at once on a refused connection,
so a longer outage only adds more of the same failures (the sweeps' pauses are set
to a few seconds here). Nothing may be lost: a webhook either answers an error (Twilio
retries it, which the test does) or stores the text for the inbound sweep, and the
dispatch resumes by itself through the restarted broker. Should the worker's consumer
come back connected but idle (celery/celery#8030 and its kin; one CI run here saw the
tick queue the same tasks for 3 minutes with none taken), the worker stops itself after
WORKER_STALL_AFTER and is started again, as its supervisor would. Duration: about 1
minute.
"""

from __future__ import annotations

import time as wall
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from conftest import make_config
from faults_support import (
    Beat,
    RedisServer,
    expected_lessons,
    expected_outbound,
    reconcile,
    sandbox_offset,
    text_in,
    unfinished_outbound,
    wait_until,
)
from flask import Flask

from dripper.clock import sandbox_clock
from dripper.extensions import db
from dripper.models import Course, Direction, Message
from dripper_testkit.builders import add_person, bulk_due, new_sid
from dripper_testkit.twilio_fake import FakeTwilio
from dripper_testkit.workers import BrokerSpace, Worker, start_worker

NINE_AM = datetime(2026, 3, 9, 9, 0, tzinfo=ZoneInfo("America/New_York"))
TOTAL = 300
OUTAGE = 10.0  # seconds Redis stays down (see the module's docstring)
STALL_AFTER = 20  # WORKER_STALL_AFTER: a worker that came back idle stops within it
TEXTERS = [f"+1201555{n:04d}" for n in range(20)]
TEXTS = ["PAUSE", "HELP", "I tried it today and it helped", "MORE"]


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path).start()
    yield server
    server.stop()


@pytest.fixture
def broker(redis_server: RedisServer) -> Iterator[BrokerSpace]:
    space = BrokerSpace(redis_server.url)
    yield space
    try:
        space.close()
    except Exception:  # noqa: BLE001 - the test may end with its Redis stopped
        pass


@pytest.fixture
def worker_settings(twilio_server: FakeTwilio, redis_server: RedisServer) -> dict[str, Any]:
    return twilio_server.settings(
        REDIS_URL=redis_server.url,
        SEND_RATE=1000.0,
        DRIP_CLAIM_TIMEOUT=20,
        DELIVERY_STALE_AFTER=10,
        TWILIO_LOOKUP_DELAY=1.0,
        WORKER_STALL_AFTER=STALL_AFTER,
    )


@pytest.fixture
def app_config(
    database_url: str, tmp_path: Path, broker: BrokerSpace, worker_settings: dict[str, Any]
) -> dict[str, Any]:
    return make_config(database_url, tmp_path, CELERY=broker.celery(), **worker_settings)


@pytest.mark.database("postgresql")
def test_redis_down_during_dispatch_and_inbound_loses_nothing_and_dispatch_resumes(
    app: Flask,
    course: Course,
    app_config: dict[str, Any],
    broker: BrokerSpace,
    redis_server: RedisServer,
    workers: list[Worker],
    twilio_server: FakeTwilio,
    worker_settings: dict[str, Any],
    tmp_path: Path,
) -> None:
    with db.engine.begin() as connection:
        bulk_due(connection, course.id, TOTAL, NINE_AM)
    for phone in TEXTERS:  # subscribers not due today, who text in during the outage
        add_person(course, phone, due=datetime.now(UTC) + timedelta(days=30))
    db.session.commit()
    sandbox_clock().set(NINE_AM)
    # Started again whenever it exits with an error, as compose's restart policy does: a
    # worker whose consumer came back from the outage idle stops itself (dripper/stall.py).
    worker = start_worker(
        app_config, broker, tmp_path, overrides=worker_settings, restart_on_failure=True
    )
    workers.append(worker)

    client = app.test_client()
    answers: dict[str, tuple[str, str, int]] = {}  # sid: (phone, body, status)
    with Beat(app, period=2.0):
        wait_until(lambda: len(twilio_server.messages) >= 30, 60, "the dispatch never started")
        redis_server.stop()
        for n, phone in enumerate(TEXTERS):
            sid, body = new_sid(), TEXTS[n % len(TEXTS)]
            answers[sid] = (
                phone,
                body,
                text_in(client, twilio_server, phone, body, sid).status_code,
            )
        during = sorted(status for _, _, status in answers.values())
        wall.sleep(OUTAGE)
        redis_server.start()
        # Twilio retries a webhook that answered an error (5xx) or timed out.
        for sid, (phone, body, status) in list(answers.items()):
            if status >= 500:
                retried = text_in(client, twilio_server, phone, body, sid).status_code
                answers[sid] = (phone, body, retried)
        assert {status for _, _, status in answers.values()} == {200}

        try:
            wait_until(
                lambda: (
                    len({m.to for m in twilio_server.messages} - set(TEXTERS)) >= TOTAL
                    and unfinished_outbound() == 0
                    and unhandled_inbound() == 0
                    # A lesson whose claim was taken while Redis was down goes out only
                    # after DRIP_CLAIM_TIMEOUT: wait for it rather than call it lost.
                    and nothing_lost(twilio_server)
                ),
                180,
                "the dispatch or the replies did not catch up",
            )
        except TimeoutError as error:
            tail = worker.log_path.read_text(errors="replace")[-6000:]
            raise AssertionError(f"{error}; the worker's log ends:\n{tail}") from None

    print(f"\nwebhooks during the outage answered: {during}")
    print(f"worker runs that stopped by themselves (exit codes): {worker.failures}")
    db.session.rollback()
    assert inbound_count() == len(TEXTERS)  # each text stored once
    expected = expected_lessons()
    assert len(set(expected) - set(TEXTERS)) == TOTAL  # (MORE sends a texter a lesson too)
    expected.update(expected_outbound(TEXTERS))
    reconcile(twilio_server, expected, sandbox_offset=sandbox_offset()).check()


def nothing_lost(twilio_server: FakeTwilio) -> bool:
    """Whether every message the database holds for anyone has reached the fake (the
    final check also looks for doubles, quiet hours and extras)."""
    expected = expected_lessons()
    expected.update(expected_outbound(TEXTERS))
    problems = reconcile(twilio_server, expected, sandbox_offset=sandbox_offset()).problems
    return not any(problem.startswith("lost:") for problem in problems)


def unhandled_inbound() -> int:
    db.session.rollback()
    return (
        db.session.scalar(
            sa.select(sa.func.count())
            .select_from(Message)
            .where(Message.direction == Direction.INBOUND, Message.handled_at.is_(None))
        )
        or 0
    )


def inbound_count() -> int:
    return (
        db.session.scalar(
            sa.select(sa.func.count())
            .select_from(Message)
            .where(Message.direction == Direction.INBOUND)
        )
        or 0
    )
