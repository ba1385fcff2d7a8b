"""A worker that has stopped taking tasks from its queues stops itself, to be started again.

Celery's consumer reconnects after the broker was away. Now and then it comes back
connected but takes nothing more (celery/celery#8030, #8091, #10205 over the 5.x
releases), and stays like that until someone restarts it: beat keeps queueing the drip's
ticks, replies pile up behind them, nothing goes out and nothing says why.

The watchdog is a thread in the worker's main process. A queue the worker consumes from
counts as stalled while, all along, tasks wait in it, the worker holds none (nothing
running, nothing reserved) and it has received nothing from that queue. Once that has
lasted WORKER_STALL_AFTER seconds the watchdog logs an error and stops the worker with
exit code 1: a warm shutdown, quick since it holds nothing. Its supervisor starts a new
one (compose's ``restart: unless-stopped``, systemd's ``Restart=on-failure``). Should the
worker's own loop be wedged too, so that it never gets to shut down, the process exits
outright a while later; its pool's processes end when their pipe to it closes.

A busy worker is never stalled: whatever it holds resets the clock, so a long task, or
one waiting on the send-rate limiter, does not count. Nor is one the broker cannot be
asked about (an outage it will reconnect after). A worker told by remote control to
cancel a queue it was started with does count: set WORKER_STALL_AFTER=0 (off) before
doing that.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from celery.signals import task_received
from celery.worker import state

from dripper.broker import queue_lengths

log = logging.getLogger(__name__)

#: The exit code of a worker that stopped itself (Celery's EX_FAILURE).
EXIT_STALLED = 1
#: Seconds a stopping worker gets to shut down before the process exits outright.
SHUTDOWN_GRACE = 60.0


@dataclass
class StallClock:
    """For each queue, since when it has looked stalled (see the module's docstring)."""

    after: float
    since: dict[str, float] = field(default_factory=dict)
    last_received: dict[str, int] = field(default_factory=dict)

    def observe(
        self,
        now: float,
        waiting: Mapping[str, int] | None,
        received: Mapping[str, int],
        holding: int,
    ) -> list[str]:
        """Take one look; the queues stalled for ``after`` seconds or more.

        ``waiting``: tasks waiting in each queue watched (None: the broker could not be
        asked); ``received``: tasks received from each queue so far (a running count);
        ``holding``: tasks the worker holds now, running or reserved.
        """
        if waiting is None:
            self.since.clear()
            return []
        stalled: list[str] = []
        for queue, count in waiting.items():
            seen = received.get(queue, 0)
            moved = seen != self.last_received.get(queue, seen)
            self.last_received[queue] = seen
            if count <= 0 or holding > 0 or moved:
                self.since.pop(queue, None)
                continue
            started = self.since.setdefault(queue, now)
            if now - started >= self.after:
                stalled.append(queue)
        return stalled


class Receipts:
    """Tasks received per queue, counted from Celery's ``task_received`` signal."""

    def __init__(self, routing_keys: Mapping[str, str]) -> None:
        self._queues = dict(routing_keys)  # routing key: queue name
        self._counts: Counter[str] = Counter()
        self._unknown = 0
        self._lock = threading.Lock()

    def record(self, routing_key: str | None) -> None:
        with self._lock:
            queue = self._queues.get(routing_key or "")
            if queue is None:
                self._unknown += 1  # counts as movement on every queue
            else:
                self._counts[queue] += 1

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return {queue: self._counts[queue] + self._unknown for queue in self._queues.values()}


class StallWatchdog(threading.Thread):
    """The watchdog's thread; ``stop_worker`` is called once, when a queue stalled."""

    def __init__(
        self,
        *,
        after: float,
        queues: Iterable[str],
        waiting: Callable[[list[str]], dict[str, int] | None],
        received: Callable[[], Mapping[str, int]],
        holding: Callable[[], int],
        stop_worker: Callable[[list[str], dict[str, int]], None],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(name="dripper-stall-watchdog", daemon=True)
        self.queues = sorted(set(queues))
        self.stall_clock = StallClock(after)
        self.period = check_period(after)
        self._waiting = waiting
        self._received = received
        self._holding = holding
        self._stop_worker = stop_worker
        self._clock = clock

    def check(self) -> list[str]:
        """One look; the stalled queues (the worker is stopped when there are any)."""
        # Counted before the queues are read: a task taken in between shows as movement.
        received = dict(self._received())
        holding = self._holding()
        waiting = self._waiting(self.queues)
        stalled = self.stall_clock.observe(self._clock(), waiting, received, holding)
        if stalled:
            self._stop_worker(stalled, waiting or {})
        return stalled

    def run(self) -> None:
        while True:
            time.sleep(self.period)
            try:
                if self.check():
                    return
            except Exception:  # the watchdog must never take the worker down by mistake
                log.exception("the stall watchdog's check failed; it keeps watching")


def check_period(after: float) -> float:
    """Seconds between two looks: a sixth of WORKER_STALL_AFTER, between 0.5 and 10."""
    return min(max(after / 6, 0.5), 10.0)


def broker_waiting(celery: Any) -> Callable[[list[str]], dict[str, int] | None]:
    """Reads how many tasks wait in each queue, over a connection the watchdog's thread
    keeps for itself (kombu's connections are not shared between threads) and opens again
    after an error; None when the broker does not answer."""
    held: list[Any] = []

    def waiting(queues: list[str]) -> dict[str, int] | None:
        try:
            if not held:
                held.append(celery.connection_for_read())
            return queue_lengths(held[0], queues)
        except Exception as error:  # noqa: BLE001 - an outage is not a stall
            log.debug("stall watchdog: queue lengths unavailable (%s)", type(error).__name__)
            for connection in held:
                try:
                    connection.release()
                except Exception:  # noqa: BLE001 - it is being dropped anyway
                    pass
            held.clear()
            return None

    return waiting


def stop_this_worker(
    after: float, grace: float = SHUTDOWN_GRACE
) -> Callable[[list[str], dict[str, int]], None]:
    """Asks this worker for a warm shutdown with exit code 1; exits the process outright
    after ``grace`` seconds if its loop never got to it."""

    def stop(stalled: list[str], waiting: dict[str, int]) -> None:
        for queue in stalled:
            log.error(
                "this worker has taken nothing from queue %s for %.0f s while %d tasks "
                "wait there (WORKER_STALL_AFTER); stopping it (exit code %d) to be started again",
                queue,
                after,
                waiting.get(queue, 0),
                EXIT_STALLED,
            )
        state.should_stop = EXIT_STALLED
        timer = threading.Timer(grace, _exit_outright)
        timer.daemon = True
        timer.start()

    return stop


def _exit_outright() -> None:
    log.error("this worker did not shut down after stalling; exiting (exit code %d)", EXIT_STALLED)
    logging.shutdown()
    os._exit(EXIT_STALLED)


def watch_worker(consumer: Any, after: float) -> StallWatchdog | None:
    """Start the watchdog in this worker's main process (from Celery's ``worker_ready``),
    over the queues the worker was started to consume; None when ``after`` is 0 (off)."""
    if after <= 0:
        return None
    app = consumer.app
    queues = dict(app.amqp.queues.consume_from)
    receipts = Receipts({queue.routing_key or name: name for name, queue in queues.items()})

    def on_received(sender: Any = None, request: Any = None, **_: Any) -> None:
        receipts.record((getattr(request, "delivery_info", None) or {}).get("routing_key"))

    task_received.connect(on_received, weak=False, dispatch_uid="dripper.stall.received")
    watchdog = StallWatchdog(
        after=after,
        queues=queues,
        waiting=broker_waiting(app),
        received=receipts.snapshot,
        holding=lambda: len(state.reserved_requests),
        stop_worker=stop_this_worker(after),
    )
    watchdog.start()
    log.info("stall watchdog on: %s, after %.0f s", ", ".join(watchdog.queues), after)
    return watchdog
