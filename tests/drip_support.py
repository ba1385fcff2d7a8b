"""Helpers for the drip tests and the bench: people, due rows in bulk, real workers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time as wall
import uuid
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest
import redis as redis_lib
import sqlalchemy as sa
from flask import Flask

from dripper.extensions import db
from dripper.models import (
    Course,
    Direction,
    Lesson,
    Message,
    MessageKind,
    MessageStatus,
    Subscriber,
    SubscriberStatus,
    Subscription,
    SubscriptionState,
)
from dripper.subscriptions.states import NextAction

ROOT = Path(__file__).resolve().parent.parent
QUEUE = "dripper"
#: Every queue a plain ``celery -A worker worker`` consumes: the drip's and the replies'.
ALL_QUEUES = (QUEUE, "dripper.replies")


def add_person(
    course: Course,
    phone: str,
    *,
    zones: Iterable[str] = ("America/New_York",),
    send_time: time = time(9, 0),
    state: SubscriptionState = SubscriptionState.ACTIVE,
    action: str | None = NextAction.LESSON,
    due: datetime | None = None,
) -> Subscription:
    """A confirmed subscriber with their next send scheduled; the caller commits."""
    subscriber = Subscriber(phone=phone, time_zones=list(zones), send_time=send_time)
    subscription = Subscription(
        subscriber=subscriber,
        course=course,
        state=state,
        next_action=action,
        next_send_at=due,
        confirmed_at=datetime(2026, 1, 1, tzinfo=UTC),
    )
    db.session.add_all([subscriber, subscription])
    db.session.flush()
    return subscription


def small_course(lessons: int = 3, slug: str = "tiny") -> Course:
    """A short course with every system message, for tests that reach the end."""
    from dripper.courses.spec import MESSAGE_PLACEHOLDERS

    messages = {name: f"[{name}]" for name in MESSAGE_PLACEHOLDERS}
    messages["completion"] = "That's the end. Take care."
    course = Course(slug=slug, title="Tiny", keyword=slug.upper(), pacing={}, messages=messages)
    db.session.add(course)
    db.session.flush()
    for position in range(1, lessons + 1):
        db.session.add(
            Lesson(
                course_id=course.id,
                key=f"l{position}",
                position=position,
                title=f"Lesson {position}",
                text=f"Lesson {position} text.",
                question=f"Question {position}?",
            )
        )
    db.session.flush()
    db.session.expire(course, ["lessons"])
    return course


def bulk_due(
    connection: sa.Connection, course_id: int, count: int, due: datetime, *, start: int = 0
) -> None:
    """``count`` active subscriptions due at ``due``, written with core INSERTs in chunks."""
    subscriber, subscription = Subscriber.__table__, Subscription.__table__
    created = datetime(2026, 1, 1, tzinfo=UTC)
    chunk = 5000
    for first in range(start, start + count, chunk):
        numbers = range(first, min(first + chunk, start + count))
        ids = (
            connection.execute(
                subscriber.insert().returning(subscriber.c.id, sort_by_parameter_order=True),
                [
                    {
                        "phone": f"+1202{n:07d}",
                        "time_zones": ["America/New_York"],
                        "send_time": time(9, 0),
                        "status": SubscriberStatus.ACTIVE,
                        "created_at": created,
                    }
                    for n in numbers
                ],
            )
            .scalars()
            .all()
        )
        connection.execute(
            subscription.insert(),
            [
                {
                    "subscriber_id": subscriber_id,
                    "course_id": course_id,
                    "state": SubscriptionState.ACTIVE,
                    "source": "sms",
                    "lessons_sent": 0,
                    "next_action": NextAction.LESSON,
                    "next_send_at": due,
                    "extra_count": 0,
                    "readiness": 0.0,
                    "resistant_streak": 0,
                    "unanswered_questions": 0,
                    "unanswered_check_ins": 0,
                    "confirmed_at": created,
                    "created_at": created,
                }
                for subscriber_id in ids
            ],
        )


def outbound(subscription_id: int | None = None, kind: MessageKind | None = None) -> list[Message]:
    query = sa.select(Message).where(Message.direction == Direction.OUTBOUND).order_by(Message.id)
    if subscription_id is not None:
        query = query.where(Message.subscription_id == subscription_id)
    if kind is not None:
        query = query.where(Message.kind == kind)
    return list(db.session.scalars(query))


def record_sent(app: Flask, monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, tuple[Any, ...]]]:
    """Tasks handed to the broker (after commit), recorded instead of sent."""
    calls: list[tuple[str, tuple[Any, ...]]] = []

    def send_task(name: str, args: Any = None, kwargs: Any = None, **options: Any) -> None:
        calls.append((name, tuple(args or ())))

    monkeypatch.setattr(app.extensions["celery"], "send_task", send_task)
    return calls


# --- real Celery workers -------------------------------------------------------------


def worker_env(database_url: str, redis_url: str, **extra: str) -> dict[str, str]:
    """The environment a test worker runs with (see tests/e2e/drip_worker.py)."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "DRIPPER_SANDBOX": "1",
        "SECRET_KEY": "test-secret",
        "SMS_BACKEND": "console",
        "SEND_RATE": "1000",
        "LOG_LEVEL": "WARNING",
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "tests" / "e2e")]),
        **extra,
    }
    return env


class Worker:
    """``celery worker`` as a subprocess, started and stopped by the test."""

    def __init__(
        self,
        env: Mapping[str, str],
        *,
        concurrency: int = 2,
        log_path: Path,
        queues: Iterable[str] = ALL_QUEUES,
    ) -> None:
        self.env = dict(env)
        self.concurrency = concurrency
        self.log_path = log_path
        self.queues = ",".join(queues)
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30.0) -> Worker:
        ready = self.log_path.with_suffix(f".ready{wall.monotonic_ns()}")
        self.env["DRIP_WORKER_READY_FILE"] = str(ready)
        hostname = f"drip{os.getpid()}-{wall.monotonic_ns()}@localhost"
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "drip_worker",
                "worker",
                f"--loglevel={self.env.get('LOG_LEVEL', 'WARNING')}",
                f"--concurrency={self.concurrency}",
                "--pool=prefork",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "-Q",
                self.queues,
                "-n",
                hostname,
            ],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: SIGKILL reaches the children
        )
        self._wait_ready(timeout)
        return self

    def _wait_ready(self, timeout: float) -> None:
        # drip_worker.py writes this file from Celery's worker_ready signal.
        ready = Path(self.env["DRIP_WORKER_READY_FILE"])
        deadline = wall.monotonic() + timeout
        while wall.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"worker exited: {self.log_path.read_text()[-3000:]}")
            if ready.exists():
                return
            wall.sleep(0.1)
        raise RuntimeError(f"worker not ready: {self.log_path.read_text()[-3000:]}")

    def kill(self) -> None:
        """SIGKILL the whole worker (parent and pool children), as a crash would."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()


class BrokerSpace:
    """A test's own corner of the worker Redis database.

    Every broker key (queue, unacked messages…) gets a prefix of its own, so test runs
    that share the machine's Redis (several developers, or CI next to a session)
    neither take each other's tasks nor flush each other's queues.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self.prefix = f"drip-test-{uuid.uuid4().hex[:12]}:"
        self.client = redis_lib.Redis.from_url(url)

    def celery(self, *, visibility_timeout: int = 3600) -> dict[str, Any]:
        """The CELERY override that puts a Celery app in this space."""
        return {
            "broker_transport_options": {
                "global_keyprefix": self.prefix,
                "visibility_timeout": visibility_timeout,
                # kombu looks for unacknowledged messages to give back every 10th
                # 10 s round (100 s); a test with a short visibility wants it every second.
                "unacked_restore_interval": 1,
                "unacked_restore_throttle": 1,
            }
        }

    def idle(self) -> bool:
        """No task waiting in the queue and none taken but unacknowledged."""
        # The queue is a list per priority ("dripper", "dripper\x06\x163"…).
        waiting = sum(
            self.client.llen(key)
            for key in self.client.scan_iter(f"{self.prefix}{QUEUE}*")
            if self.client.type(key) == b"list"
        )
        return waiting == 0 and self.client.hlen(f"{self.prefix}unacked") == 0

    def lose_everything(self) -> None:
        """Delete every task and broker key of this space (a broker that lost its data)."""
        keys = list(self.client.scan_iter(f"{self.prefix}*"))
        if keys:
            self.client.delete(*keys)

    def close(self) -> None:
        self.lose_everything()
        self.client.close()


def drain(broker: BrokerSpace, timeout: float = 60.0) -> None:
    """Wait until the workers have done everything queued (idle for a moment)."""
    deadline = wall.monotonic() + timeout
    idle_since: float | None = None
    while wall.monotonic() < deadline:
        if broker.idle():
            idle_since = idle_since or wall.monotonic()
            if wall.monotonic() - idle_since >= 0.15:
                return
        else:
            idle_since = None
        wall.sleep(0.03)
    raise TimeoutError("the queue did not drain")


def pending_messages() -> int:
    return (
        db.session.scalar(
            sa.select(sa.func.count())
            .select_from(Message)
            .where(Message.status == MessageStatus.PENDING)
        )
        or 0
    )


WORKER_REDIS_URL = os.environ.get("TEST_WORKER_REDIS_URL", "redis://127.0.0.1:6379/14")


def start_worker(
    app_config: Mapping[str, Any],
    broker: BrokerSpace,
    log_dir: Path,
    *,
    concurrency: int = 2,
    visibility_timeout: int = 3600,
    overrides: Mapping[str, Any] | None = None,
    queues: Iterable[str] = ALL_QUEUES,
    **env: str,
) -> Worker:
    """A real worker on the test's database and broker space, with the sandbox clock on."""
    import json

    settings = {"CELERY": broker.celery(visibility_timeout=visibility_timeout), **(overrides or {})}
    environment = worker_env(
        str(app_config["DATABASE_URL"]),
        broker.url,
        DRIP_WORKER_OVERRIDES=json.dumps(settings),
        **env,
    )
    return Worker(
        environment, concurrency=concurrency, log_path=log_dir / "worker.log", queues=queues
    ).start()


class SandboxRun:
    """Moves the sandbox clock from one due send to the next, ticking and draining,
    and remembers the sandbox time at which each message was written."""

    def __init__(self, broker: BrokerSpace) -> None:
        self.broker = broker
        self.sent_at: dict[int, datetime] = {}

    def until(self, end: datetime, *, run_tick: Any = None) -> int:
        """Every send due before ``end``; returns how many steps it took."""
        from dripper.clock import sandbox_clock
        from dripper.drip.tick import tick

        steps = 0
        while (due := next_due()) is not None and due < end:
            db.session.rollback()  # read nothing stale across the workers' commits
            sandbox_clock().set(due + timedelta(seconds=1))
            (run_tick or tick)()
            self.settle(due)
            steps += 1
        db.session.rollback()
        if end > self.now():
            sandbox_clock().set(end)
        return steps

    def settle(self, at: datetime | None = None) -> None:
        """Wait for the workers, then note what they wrote as sent at ``at`` (now)."""
        drain(self.broker)
        at = at or self.now()
        db.session.rollback()
        for message_id in db.session.scalars(
            sa.select(Message.id).where(Message.id.not_in(list(self.sent_at) or [0]))
        ):
            self.sent_at[message_id] = at

    @staticmethod
    def now() -> datetime:
        from dripper.clock import now

        return now()


def next_due() -> datetime | None:
    from dripper.subscriptions.states import SCHEDULED_STATES

    return db.session.scalar(
        sa.select(sa.func.min(Subscription.next_send_at)).where(
            Subscription.state.in_(SCHEDULED_STATES)
        )
    )
