"""Celery, wired the way Flask documents it, and queueing only after a commit.

Tasks run inside an app context. A task queued during a transaction is sent to the
broker only once that transaction commits, and forgotten if it rolls back, so a
worker never looks for a row that is not there yet.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import Celery, Task
from flask import Flask
from sqlalchemy import event
from sqlalchemy.orm import Session

from dripper.extensions import db

log = logging.getLogger(__name__)
_PENDING = "dripper.after_commit"

#: Modules whose tasks the worker registers.
TASK_MODULES = ["dripper.drip.tasks", "dripper.sms.tasks", "dripper.readiness.tasks"]

#: Beat's schedule: the drip tick every minute (a short, idempotent sweep).
BEAT_SCHEDULE = {
    "drip-tick": {"task": "dripper.drip.tick", "schedule": 60.0, "options": {"expires": 55}},
    # Messages stored but never handed to a worker (the broker was down at commit).
    "sms-sweep": {"task": "dripper.sms.sweep", "schedule": 60.0, "options": {"expires": 55}},
    # Retries and windows that wait on the row (no broker ETA past its visibility timeout).
    "sms-retries": {"task": "dripper.sms.retry_due", "schedule": 60.0, "options": {"expires": 55}},
}


def celery_init_app(app: Flask) -> Celery:
    """Build the Celery app from the Flask config and keep it in ``app.extensions``."""

    class FlaskTask(Task):  # type: ignore[misc]
        def __call__(self, *args: object, **kwargs: object) -> object:
            with app.app_context():
                return self.run(*args, **kwargs)

    celery_app = Celery(app.name, task_cls=FlaskTask)
    celery_app.config_from_object(app.config["CELERY"])
    celery_app.set_default()
    app.extensions["celery"] = celery_app
    return celery_app


def celery_config(settings: dict[str, Any]) -> dict[str, Any]:
    """Celery's settings, derived from the app's so both processes agree."""
    return {
        "broker_url": settings["REDIS_URL"],
        "task_ignore_result": True,
        "result_backend": None,
        # A worker killed mid-task leaves the message unacknowledged; it is redelivered
        # and every task is safe to run twice.
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        "broker_connection_retry_on_startup": True,
        "broker_transport_options": {"visibility_timeout": 3600},
        "task_default_queue": "dripper",
        "beat_schedule": BEAT_SCHEDULE,
        "timezone": "UTC",
        "include": TASK_MODULES,
    }


def enqueue_after_commit(task: Any, *args: Any, **options: Any) -> None:
    """Queue ``task(*args)`` once the current transaction commits."""
    db.session.info.setdefault(_PENDING, []).append((task, args, options))


@event.listens_for(Session, "after_commit")
def _send_pending(session: Session) -> None:
    pending = session.info.pop(_PENDING, [])
    for task, args, options in pending:
        try:
            task.apply_async(args=args, **options)
        except Exception:
            log.warning("could not queue %s; the next sweep retries it", task.name, exc_info=True)


@event.listens_for(Session, "after_rollback")
def _drop_pending(session: Session) -> None:
    session.info.pop(_PENDING, None)
