"""Real Celery workers for the tests and the bench: a broker space of one's own, a worker.

``BrokerSpace`` is a corner of the worker Redis database (its keys prefixed), ``Worker`` a
``celery worker`` subprocess on it running dripper_testkit/drip_worker.py, ``start_worker``
one on a test's (or a bench run's) database and broker space, ``drain`` waits until the
workers are idle.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time as wall
import uuid
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import redis as redis_lib

ROOT = Path(__file__).resolve().parent.parent
QUEUE = "dripper"
#: Every queue a plain ``celery -A worker worker`` consumes: the drip's and the replies'.
ALL_QUEUES = (QUEUE, "dripper.replies")
#: The Redis database the workers' broker lives on (TEST_WORKER_REDIS_URL).
WORKER_REDIS_URL = os.environ.get("TEST_WORKER_REDIS_URL", "redis://127.0.0.1:6379/14")


def worker_env(database_url: str, redis_url: str, **extra: str) -> dict[str, str]:
    """The environment a test worker runs with (see dripper_testkit/drip_worker.py)."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "DRIPPER_SANDBOX": "1",
        "SECRET_KEY": "test-secret",
        "SMS_BACKEND": "console",
        "SEND_RATE": "1000",
        "LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(ROOT),
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
        restart_on_failure: bool = False,
    ) -> None:
        self.env = dict(env)
        self.concurrency = concurrency
        self.log_path = log_path
        self.queues = ",".join(queues)
        self.process: subprocess.Popen[bytes] | None = None
        #: Start it again whenever it exits with an error, as compose's
        #: ``restart: unless-stopped`` does (not after ``stop`` or ``kill``).
        self.restart_on_failure = restart_on_failure
        #: The exit codes of the runs that ended by themselves, in order.
        self.failures: list[int] = []
        self._stopping = threading.Event()
        self._supervisor: threading.Thread | None = None

    def start(self, timeout: float = 30.0) -> Worker:
        self._stopping.clear()
        self._spawn(timeout)
        if self.restart_on_failure and not (self._supervisor and self._supervisor.is_alive()):
            self._supervisor = threading.Thread(target=self._supervise, daemon=True)
            self._supervisor.start()
        return self

    def _supervise(self) -> None:
        while not self._stopping.is_set():
            process = self.process
            assert process is not None
            code = process.wait()
            if self._stopping.is_set() or process is not self.process:
                return
            self.failures.append(code)
            if code == 0:
                return
            try:
                self._spawn(30.0)
            except RuntimeError:
                return

    def _spawn(self, timeout: float) -> None:
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
                "dripper_testkit.drip_worker",
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
        self._stopping.set()
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        self._stopping.set()
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


def start_worker(
    app_config: Mapping[str, Any],
    broker: BrokerSpace,
    log_dir: Path,
    *,
    concurrency: int = 2,
    visibility_timeout: int = 3600,
    overrides: Mapping[str, Any] | None = None,
    queues: Iterable[str] = ALL_QUEUES,
    restart_on_failure: bool = False,
    **env: str,
) -> Worker:
    """A real worker on the test's database and broker space, with the sandbox clock on."""
    settings = {"CELERY": broker.celery(visibility_timeout=visibility_timeout), **(overrides or {})}
    environment = worker_env(
        str(app_config["DATABASE_URL"]),
        broker.url,
        DRIP_WORKER_OVERRIDES=json.dumps(settings),
        **env,
    )
    return Worker(
        environment,
        concurrency=concurrency,
        log_path=log_dir / "worker.log",
        queues=queues,
        restart_on_failure=restart_on_failure,
    ).start()
