"""Crashes and races: a worker killed mid-batch, lost tasks, ticks running at once.

Whatever happens, every subscriber ends the day with exactly one lesson: claims that
were not finished expire and are taken again, redelivered tasks find their work done,
and the unique dedupe key catches the rest.
"""

from __future__ import annotations

import multiprocessing
import time as wall
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from flask import Flask

from dripper.clock import sandbox_clock
from dripper.drip.tick import CHUNK_SIZE, tick
from dripper.extensions import db
from dripper.models import Course, Message, MessageKind, MessageStatus, Subscription
from dripper.sms.delivery import stale_message_ids
from dripper.sms.tasks import deliver
from dripper.subscriptions.states import NextAction
from dripper_testkit.builders import bulk_due
from dripper_testkit.workers import BrokerSpace, Worker, drain, start_worker

NEW_YORK = ZoneInfo("America/New_York")
NINE_AM = datetime(2026, 3, 9, 9, 0, tzinfo=NEW_YORK)


@pytest.fixture
def app_config(drip_config: dict[str, Any]) -> dict[str, Any]:
    return drip_config


def lessons_per_subscription() -> dict[int, int]:
    db.session.rollback()
    rows = db.session.execute(
        sa.select(Message.subscription_id, sa.func.count())
        .where(Message.kind == MessageKind.LESSON)
        .group_by(Message.subscription_id)
    )
    return {row[0]: row[1] for row in rows}


def lesson_count() -> int:
    db.session.rollback()
    return (
        db.session.scalar(
            sa.select(sa.func.count())
            .select_from(Message)
            .where(Message.kind == MessageKind.LESSON)
        )
        or 0
    )


def kill_mid_batch(worker: Worker, total: int) -> int:
    """SIGKILL the worker once some, but not all, lessons are written."""
    deadline = wall.monotonic() + 60
    while wall.monotonic() < deadline:
        if (written := lesson_count()) >= total // 10:
            worker.kill()
            return written
        wall.sleep(0.01)
    raise TimeoutError("the worker wrote nothing")


def deliver_lost_messages(broker: BrokerSpace) -> None:
    """What the sending side's sweep does with messages whose task was lost (it waits
    ten real minutes first; the test cannot)."""
    for message_id in stale_message_ids(timedelta(0), limit=10_000):
        deliver.delay(message_id)
    drain(broker)


def assert_exactly_one_lesson_each(total: int) -> None:
    per_subscription = lessons_per_subscription()
    assert len(per_subscription) == total, f"{total - len(per_subscription)} lost"
    assert set(per_subscription.values()) == {1}, "duplicates"
    left = db.session.execute(
        sa.select(Subscription.next_action, Subscription.claim_token).distinct()
    ).all()
    assert left == [(NextAction.QUESTION, None)]
    statuses = set(
        db.session.scalars(sa.select(Message.status).where(Message.kind == MessageKind.LESSON))
    )
    assert statuses == {MessageStatus.SENT}


@pytest.mark.parametrize("total", [400])
def test_a_worker_killed_mid_batch_is_made_good_by_redelivery(
    app: Flask,
    course: Course,
    app_config: dict[str, Any],
    broker: BrokerSpace,
    workers: list[Worker],
    tmp_path: Path,
    total: int,
) -> None:
    with db.engine.begin() as connection:
        bulk_due(connection, course.id, total, NINE_AM)
    workers.append(start_worker(app_config, broker, tmp_path, visibility_timeout=5))
    sandbox_clock().set(NINE_AM)
    assert tick().claimed == total

    written = kill_mid_batch(workers[0], total)
    assert written < total, "the kill came too late to test anything"

    workers.append(start_worker(app_config, broker, tmp_path, visibility_timeout=5))
    drain(broker, timeout=90)  # after the visibility timeout they are delivered again
    deliver_lost_messages(broker)
    # Redelivery covers every task the killed worker had recorded as taken. kombu takes a
    # task from Redis (BRPOP) before it records it as unacknowledged, so a kill between the
    # two loses that task: at most the worker's prefetch (2 tasks), whose claims are taken
    # again after DRIP_CLAIM_TIMEOUT like those of any task the broker lost.
    missing = total - len(lessons_per_subscription())
    assert missing <= 2 * CHUNK_SIZE, f"{missing} not redelivered"
    if missing:
        sandbox_clock().advance(timedelta(seconds=app.config["DRIP_CLAIM_TIMEOUT"] + 60))
        assert tick().claimed == missing
        drain(broker, timeout=90)
        deliver_lost_messages(broker)
    assert_exactly_one_lesson_each(total)
    # Nothing is left for the sweep: the claims were all finished.
    sandbox_clock().advance(timedelta(minutes=11))
    assert tick().claimed == 0


@pytest.mark.parametrize("total", [400])
def test_claims_whose_tasks_were_lost_are_taken_again_after_the_timeout(
    app: Flask,
    course: Course,
    app_config: dict[str, Any],
    broker: BrokerSpace,
    workers: list[Worker],
    tmp_path: Path,
    total: int,
) -> None:
    with db.engine.begin() as connection:
        bulk_due(connection, course.id, total, NINE_AM)
    workers.append(start_worker(app_config, broker, tmp_path))
    sandbox_clock().set(NINE_AM)
    assert tick().claimed == total
    written = kill_mid_batch(workers[0], total)
    assert written < total
    broker.lose_everything()  # the broker lost every task: only the database knows

    workers.append(start_worker(app_config, broker, tmp_path))
    # Within the claim timeout nothing is taken twice...
    sandbox_clock().advance(timedelta(minutes=5))
    assert tick().claimed == 0
    # ...after it, exactly the unfinished ones are.
    sandbox_clock().advance(timedelta(minutes=6))
    swept = tick()
    assert 0 < swept.claimed <= total - written + 2 * 2  # in flight when killed, at most
    assert set(swept.by_action) == {NextAction.LESSON}
    drain(broker, timeout=90)
    deliver_lost_messages(broker)
    assert_exactly_one_lesson_each(total)


def _tick_in_a_process(
    config: dict[str, Any], barrier: Any, results: Any, batch_size: int
) -> None:  # pragma: no cover - runs in a child process
    from dripper import create_app
    from dripper.drip import tick as tick_module

    app = create_app(config)
    claimed: list[int] = []
    real = tick_module.claim_batch

    def recording(*args: Any, **kwargs: Any) -> list[tuple[int, str, str]]:
        rows = real(*args, **kwargs)
        claimed.extend(row[0] for row in rows)
        return rows

    tick_module.claim_batch = recording  # type: ignore[assignment]
    with app.app_context():
        barrier.wait(30)
        tick_module.tick(batch_size=batch_size)
    results.put(claimed)


def test_two_ticks_in_two_processes_claim_disjoint_sets_and_send_once(
    app: Flask,
    course: Course,
    app_config: dict[str, Any],
    broker: BrokerSpace,
    workers: list[Worker],
    tmp_path: Path,
) -> None:
    total = 600
    with db.engine.begin() as connection:
        bulk_due(connection, course.id, total, NINE_AM)
    sandbox_clock().set(NINE_AM)
    db.session.commit()

    spawn = multiprocessing.get_context("spawn")
    barrier, results = spawn.Barrier(2), spawn.Queue()
    processes = [
        spawn.Process(target=_tick_in_a_process, args=(app_config, barrier, results, 10))
        for _ in range(2)
    ]
    for process in processes:
        process.start()
    claimed = [results.get(timeout=60) for _ in processes]
    for process in processes:
        process.join(30)
    first, second = (set(ids) for ids in claimed)
    assert not first & second
    assert len(first | second) == total == len(claimed[0]) + len(claimed[1])

    workers.append(start_worker(app_config, broker, tmp_path))
    drain(broker, timeout=90)
    assert_exactly_one_lesson_each(total)
