"""WORKER_CPU_POLICY=idle: a worker, and every process of its pool, runs only on CPU
nothing else on the host wants (docker-compose.yml sets it for both workers), and still
does its work."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from dripper_testkit.workers import BrokerSpace, Worker, drain, start_worker

pytestmark = pytest.mark.skipif(not hasattr(os, "SCHED_IDLE"), reason="Linux only")


@pytest.fixture
def app_config(drip_config: dict[str, Any]) -> dict[str, Any]:
    return drip_config


def worker_processes(worker: Worker) -> list[int]:
    """The worker's main process and its pool's processes."""
    assert worker.process is not None
    group = os.getpgid(worker.process.pid)
    pids = [int(name) for name in os.listdir("/proc") if name.isdigit()]
    found = []
    for pid in pids:
        try:
            if os.getpgid(pid) == group:
                found.append(pid)
        except ProcessLookupError:
            continue
    return found


def until_pool_started(worker: Worker, size: int) -> list[int]:
    deadline = time.monotonic() + 20
    while len(pids := worker_processes(worker)) < size + 1:
        assert time.monotonic() < deadline, f"the pool did not start: {pids}"
        time.sleep(0.1)
    return pids


def test_an_idle_policy_worker_and_its_pool_run_only_on_spare_cpu_and_still_work(
    app: Flask, app_config: dict[str, Any], broker: BrokerSpace, tmp_path: Path
) -> None:
    from dripper.drip.tasks import tick_task

    worker = start_worker(
        app_config, broker, tmp_path, concurrency=2, overrides={"WORKER_CPU_POLICY": "idle"}
    )
    try:
        pids = until_pool_started(worker, 2)
        assert {os.sched_getscheduler(pid) for pid in pids} == {os.SCHED_IDLE}
        with app.app_context():
            tick_task.apply_async()
        drain(broker)
    finally:
        worker.stop()


def test_a_worker_runs_as_scheduled_by_default(
    app: Flask, app_config: dict[str, Any], broker: BrokerSpace, tmp_path: Path
) -> None:
    worker = start_worker(app_config, broker, tmp_path, concurrency=1)
    try:
        pids = until_pool_started(worker, 1)
        assert {os.sched_getscheduler(pid) for pid in pids} == {os.SCHED_OTHER}
    finally:
        worker.stop()
