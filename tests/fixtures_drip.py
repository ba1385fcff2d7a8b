"""Fixtures for tests with real Celery workers (a pytest plugin, see conftest.py).

``broker`` is a broker space of the test's own on the workers' Redis; ``drip_config``
the app's settings for it (a module uses it as its ``app_config``); ``worker`` one real
worker on them. A module puts what the app and the worker must share (Twilio settings,
the alert webhook) in its own ``worker_settings``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import make_config
from flask import Flask

from dripper_testkit.workers import WORKER_REDIS_URL, BrokerSpace, Worker, start_worker


@pytest.fixture
def broker() -> Iterator[BrokerSpace]:
    space = BrokerSpace(WORKER_REDIS_URL)
    yield space
    space.close()


@pytest.fixture
def worker_settings() -> dict[str, Any]:
    """Settings the app and its workers share; a module overrides this."""
    return {}


@pytest.fixture
def drip_config(
    database_url: str, tmp_path: Path, broker: BrokerSpace, worker_settings: dict[str, Any]
) -> dict[str, Any]:
    # SEND_RATE high: the shared limiter is not what these tests are about.
    settings = {
        "REDIS_URL": WORKER_REDIS_URL,
        "SEND_RATE": 1000.0,
        "CELERY": broker.celery(),
        **worker_settings,
    }
    return make_config(database_url, tmp_path, **settings)


@pytest.fixture
def worker(
    app: Flask,
    app_config: dict[str, Any],
    broker: BrokerSpace,
    tmp_path: Path,
    worker_settings: dict[str, Any],
) -> Iterator[Worker]:
    running = start_worker(app_config, broker, tmp_path, overrides=worker_settings or None)
    yield running
    running.stop()
