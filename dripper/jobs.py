"""Celery, wired the way Flask documents it, and queueing only after a commit.

Tasks run inside an app context. A task queued during a transaction is sent to the
broker only once that transaction commits, and forgotten if it rolls back, so a
worker never looks for a row that is not there yet.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from celery import Celery, Task
from celery.signals import (
    after_setup_logger,
    after_setup_task_logger,
    worker_init,
    worker_ready,
)
from flask import Flask
from kombu import Exchange, Queue
from sqlalchemy import event
from sqlalchemy.orm import Session

from dripper.broker import TRANSPORT
from dripper.extensions import db
from dripper.logs import mask_celery_handlers
from dripper.stall import watch_worker

log = logging.getLogger(__name__)
_PENDING = "dripper.after_commit"

#: The queue of everything but replies: the drip's tick and sends, sweeps, alerts.
DEFAULT_QUEUE = "dripper"
#: Replies to a person's own text (crisis lines, HELP, STOP confirmations…): a queue of
#: their own, so that a worker of their own never finds them behind the day's lessons.
REPLY_QUEUE = "dripper.replies"

#: Modules whose tasks the worker registers.
TASK_MODULES = [
    "dripper.drip.tasks",
    "dripper.sms.tasks",
    "dripper.readiness.tasks",
    "dripper.conversation.tasks",
]

#: Beat's schedule: the drip tick every minute (a short, idempotent sweep).
BEAT_SCHEDULE = {
    "drip-tick": {"task": "dripper.drip.tick", "schedule": 60.0, "options": {"expires": 55}},
    # Messages stored but never handed to a worker (the broker was down at commit).
    "sms-sweep": {"task": "dripper.sms.sweep", "schedule": 60.0, "options": {"expires": 55}},
    # Crisis alerts the team was never told about (webhook down, task lost).
    "alert-sweep": {
        "task": "dripper.readiness.sweep_alerts",
        "schedule": 60.0,
        "options": {"expires": 55},
    },
    # Inbound texts stored but never acted on (the webhook died, or its handling failed).
    "inbound-sweep": {
        "task": "dripper.conversation.sweep_inbound",
        "schedule": 30.0,
        "options": {"expires": 25},
    },
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
    # Worker and beat replace the log handlers the app set up: mask numbers in theirs too.
    after_setup_logger.connect(mask_celery_handlers, dispatch_uid="dripper.mask")
    after_setup_task_logger.connect(mask_celery_handlers, dispatch_uid="dripper.mask-task")
    celery_app.config_from_object(app.config["CELERY"])
    broker_url = celery_app.conf.broker_url
    if isinstance(broker_url, str) and broker_url.startswith("redis://"):
        # One redis-py client per channel (dripper.broker), not one per publish.
        celery_app.conf.broker_transport = celery_app.conf.broker_transport or TRANSPORT
    celery_app.conf.dripper_cpu_policy = app.config.get("WORKER_CPU_POLICY", "normal")
    celery_app.conf.dripper_stall_after = float(app.config.get("WORKER_STALL_AFTER") or 0)
    celery_app.set_default()
    app.extensions["celery"] = celery_app
    return celery_app


@worker_init.connect
def _worker_cpu_policy(sender: Any = None, **_: Any) -> None:
    # In the worker's main process, before its pool forks: the pool's processes inherit it.
    conf = getattr(getattr(sender, "app", None), "conf", None)
    if conf is not None:
        apply_cpu_policy(conf.get("dripper_cpu_policy", "normal"))


@worker_ready.connect
def _stall_watchdog(sender: Any = None, **_: Any) -> None:
    # In the worker's main process, once its consumer is ready (dripper/stall.py).
    conf = getattr(getattr(sender, "app", None), "conf", None)
    if conf is not None:
        watch_worker(sender, conf.get("dripper_stall_after", 0.0))


def apply_cpu_policy(policy: str) -> bool:
    """Put this process (and the processes it forks) under WORKER_CPU_POLICY; whether
    it changed anything.

    "idle" is Linux's SCHED_IDLE: the process runs only when no other process on the host
    wants the CPU, and any process that wakes up takes the CPU from it at once. A process
    needs no privilege to lower itself to it. Its database queries are served at the
    database's own priority.
    """
    if policy != "idle":
        return False
    if not hasattr(os, "SCHED_IDLE"):
        log.warning("WORKER_CPU_POLICY=idle needs Linux; this worker runs as scheduled")
        return False
    try:
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    except OSError as error:
        # A sandbox that forbids the call: run as scheduled rather than not at all.
        log.warning("WORKER_CPU_POLICY=idle refused (%s); this worker runs as scheduled", error)
        return False
    log.info("this worker runs on CPU nothing else wants (WORKER_CPU_POLICY=idle)")
    return True


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
        "task_default_queue": DEFAULT_QUEUE,
        # Both declared, so a plain ``celery -A worker worker`` consumes both (one worker
        # is enough); ``-Q dripper.replies`` starts a worker that only answers people.
        # Each with its own routing key: by default both would share the default one, and
        # every task would be delivered to both.
        "task_queues": [
            Queue(name, Exchange(name, type="direct"), routing_key=name)
            for name in (DEFAULT_QUEUE, REPLY_QUEUE)
        ],
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
        except Exception as error:
            # One line per task while the broker is down; the traceback at debug only.
            log.warning(
                "could not queue %s (%s); the next sweep retries it",
                task.name,
                type(error).__name__,
            )
            log.debug("could not queue %s", task.name, exc_info=True)


@event.listens_for(Session, "after_rollback")
def _drop_pending(session: Session) -> None:
    session.info.pop(_PENDING, None)
