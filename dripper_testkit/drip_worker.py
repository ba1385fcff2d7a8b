"""A Celery worker for end-to-end tests and the bench: ``celery -A dripper_testkit.drip_worker worker``.

Like ``worker.py``, but built with overrides a test needs that the environment cannot
carry (a short broker visibility timeout), and it says when it is ready.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

from celery.signals import worker_ready
from celery.utils.log import get_task_logger

from dripper import create_app

overrides: dict[str, Any] = json.loads(os.environ.get("DRIP_WORKER_OVERRIDES", "{}"))
celery = create_app(overrides).extensions["celery"]


@worker_ready.connect
def _say_ready(**_: Any) -> None:
    path = os.environ.get("DRIP_WORKER_READY_FILE")
    if path:
        Path(path).write_text("ready")


@celery.task(name="tests.log_a_number")
def log_a_number(phone: str) -> None:
    """Logs a number raw through both loggers and fails with it, as careless code would."""
    logging.getLogger("dripper.tests").warning("app logger says texting %s", phone)
    get_task_logger(__name__).warning("task logger says texting %s", phone)
    raise RuntimeError(f"could not reach {phone}")
