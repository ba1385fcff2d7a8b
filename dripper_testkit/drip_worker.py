"""A Celery worker for end-to-end tests and the bench: ``celery -A dripper_testkit.drip_worker worker``.

Like ``worker.py``, but built with overrides a test needs that the environment cannot
carry (a short broker visibility timeout), and it says when it is ready. With
DRIP_WORKER_STOP_CONSUMING set to a queue's name, it stops consuming that queue once ready
(a stalled consumer), unless the file DRIP_WORKER_STOP_CONSUMING_MARK exists, which it
then writes.
"""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path
from typing import Any

from celery.signals import worker_ready
from celery.utils.log import get_task_logger

from dripper import create_app

overrides: dict[str, Any] = json.loads(os.environ.get("DRIP_WORKER_OVERRIDES", "{}"))
celery = create_app(overrides).extensions["celery"]


@worker_ready.connect
def _say_ready(sender: Any = None, **_: Any) -> None:
    # A fault: the worker stops consuming this queue while it stays up and connected, as
    # a consumer that came back from a broker outage idle does (dripper/stall.py).
    # Only the first worker started with it (the mark file says it happened), so the
    # one started again in its place consumes as it should.
    deaf_to = os.environ.get("DRIP_WORKER_STOP_CONSUMING")
    if deaf_to:
        mark = Path(os.environ["DRIP_WORKER_STOP_CONSUMING_MARK"])
        if not mark.exists():
            mark.write_text(deaf_to)
            sender.cancel_task_queue(deaf_to)
    path = os.environ.get("DRIP_WORKER_READY_FILE")
    if path:
        Path(path).write_text("ready")


@celery.task(name="tests.log_a_number")
def log_a_number(phone: str) -> None:
    """Logs a number raw through both loggers and fails with it, as careless code would."""
    logging.getLogger("dripper.tests").warning("app logger says texting %s", phone)
    get_task_logger(__name__).warning("task logger says texting %s", phone)
    raise RuntimeError(f"could not reach {phone}")


@celery.task(name="tests.hold")
def hold(seconds: float) -> None:
    """Keeps a pool process busy for ``seconds``, as a long task would."""
    time.sleep(seconds)
