"""A worker that stays connected but stops taking tasks (as Celery's consumer now and then
does after a broker outage) stops itself with exit code 1, and the worker its supervisor
starts again does the work; a busy or idle worker is left alone (dripper/stall.py).

The stall is made in the test worker (DRIP_WORKER_STOP_CONSUMING): once ready, it cancels
its consumer of the drip's queue, so it stays up and connected, holds nothing and takes
nothing from it. Only the first run does: the one started again consumes as it should.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from faults_support import wait_until
from flask import Flask

from dripper_testkit.workers import QUEUE, BrokerSpace, drain, start_worker

# The watchdog asks only the broker; one database is enough.
pytestmark = pytest.mark.database("sqlite")

STALL_AFTER = 3


@pytest.fixture
def app_config(drip_config: dict[str, Any]) -> dict[str, Any]:
    return drip_config  # the app queues where the workers consume


def hold(app: Flask, seconds: float, count: int) -> None:
    """Queue ``count`` tasks on the drip's queue that each keep a pool process busy."""
    celery = app.extensions["celery"]
    for _ in range(count):
        celery.send_task("tests.hold", args=[seconds], queue=QUEUE)


def test_a_worker_that_stopped_taking_tasks_stops_itself_and_its_restart_does_the_work(
    app: Flask, drip_config: dict[str, Any], broker: BrokerSpace, tmp_path: Path
) -> None:
    worker = start_worker(
        drip_config,
        broker,
        tmp_path,
        concurrency=1,
        overrides={"WORKER_STALL_AFTER": STALL_AFTER},
        restart_on_failure=True,
        DRIP_WORKER_STOP_CONSUMING=QUEUE,
        DRIP_WORKER_STOP_CONSUMING_MARK=str(tmp_path / "stopped-consuming"),
    )
    try:
        hold(app, 0.1, 3)
        started = time.monotonic()
        wait_until(lambda: bool(worker.failures), 30, "the stalled worker did not stop")
        stopped_after = time.monotonic() - started
        assert worker.failures == [1]
        assert STALL_AFTER <= stopped_after < STALL_AFTER + 10
        log = worker.log_path.read_text()
        assert (
            f"this worker has taken nothing from queue {QUEUE} for {STALL_AFTER} s "
            "while 3 tasks wait there" in log
        )
        drain(broker, timeout=60)  # the worker started again took them
        assert worker.failures == [1]
    finally:
        worker.stop()


def test_a_worker_busy_with_long_tasks_or_idle_is_left_running(
    app: Flask, drip_config: dict[str, Any], broker: BrokerSpace, tmp_path: Path
) -> None:
    worker = start_worker(
        drip_config, broker, tmp_path, concurrency=1, overrides={"WORKER_STALL_AFTER": 1}
    )
    try:
        # Each task holds the one pool process for 2 s while the others wait: 1 s
        # without taking anything from a queue with tasks in it, but never holding none.
        hold(app, 2.0, 4)
        drain(broker, timeout=60)
        time.sleep(3)  # idle, nothing waiting
        assert worker.process is not None and worker.process.poll() is None
        assert "has taken nothing" not in worker.log_path.read_text()
    finally:
        worker.stop()
