"""kombu's Redis transport, with one redis-py client per channel rather than one per command.

kombu builds a new ``redis.Redis`` for each publish and each acknowledgement (over the same
connection pool), and a new client copies redis-py's table of ~170 response callbacks:
about a seventh of what queueing a task costs the inbound webhook. The client holds no
state of its own beyond the pool it borrows connections from, and is safe to share
between threads, so the channel keeps one, and makes a new one only when its pool is
replaced (kombu drops the pools after a connection error).

Used for ``redis://`` broker URLs (``jobs.celery_init_app``); every other URL keeps
kombu's own transport. ``queue_lengths`` counts the tasks waiting in queues (``/metrics``
and the worker's stall watchdog, ``dripper.stall``). ``publish`` queues one task the way
``apply_async`` would, for about two fifths of its CPU, where that cost is paid per request
(the inbound webhook).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from celery.utils import uuid
from kombu import Producer
from kombu.transport import redis as kombu_redis

#: Celery's ``broker_transport`` for it.
TRANSPORT = "dripper.broker:Transport"


class Channel(kombu_redis.Channel):  # type: ignore[misc]
    _shared_client: Any = None

    def _create_client(self, asynchronous: bool = False) -> Any:
        if asynchronous:
            # The consumer's BRPOP client, on a pool of its own: kombu's as it is.
            return super()._create_client(asynchronous=True)
        pool = self.pool
        client = self._shared_client
        if client is None or client.connection_pool is not pool:
            client = self._shared_client = super()._create_client()
        return client


class Transport(kombu_redis.Transport):  # type: ignore[misc]
    Channel = Channel


def queue_lengths(connection: Any, queues: Iterable[str]) -> dict[str, int]:
    """How many messages wait in each of ``queues``, over all its priority lists, read
    over ``connection`` (connected first, one try: raises when the broker does not answer).

    kombu's Redis channel counts them itself (``_size``); its passive ``queue_declare``
    would be the public way, but it misses queues under a ``global_keyprefix``.
    """
    connection.ensure_connection(max_retries=1)
    channel = connection.default_channel
    return {queue: int(channel._size(queue)) for queue in queues}


_producers = threading.local()


def publish(task: Any, args: tuple[Any, ...], queue: str) -> str:
    """Queue ``task(*args)`` on ``queue`` and return the task's id; raise when the broker
    does not take it.

    The message is the one ``task.apply_async(args, queue=queue)`` sends: built by
    Celery's own protocol-2 builder with the task's time limits and ``ignore_result``,
    published on the anonymous exchange straight to the queue. What it leaves out costs
    more than half of ``apply_async``'s CPU (docs/BENCHMARKS.md): the router, the merging
    of options, the producer pool's acquire and release, and a retry wrapper built for
    every call. Each thread keeps its own producer, on a connection of its own (a kombu
    channel is not shared between threads); a forked process opens new ones. When that
    one try fails (Redis restarted or down), the producer is dropped and the task is
    queued by ``apply_async`` itself, with the app's ``task_publish_retry_policy``: a
    failure takes one round of retries, as it always did. The publish signals are not
    sent on the fast path: nothing in this project listens to them.
    """
    task = task._get_current_object() if hasattr(task, "_get_current_object") else task
    app = task.app
    conf = app.conf
    task_id = uuid()
    message = app.amqp.as_task_v2(
        task_id,
        task.name,
        args,
        {},
        argsrepr=repr(args),
        kwargsrepr="{}",
        # What apply_async takes from the task itself into its message.
        time_limit=task.time_limit,
        soft_time_limit=task.soft_time_limit,
        ignore_result=bool(task.ignore_result),
    )
    try:
        producer = _producer(app, queue)
        producer.publish(
            message.body,
            retry=False,
            exchange="",
            routing_key=queue,
            serializer=conf.task_serializer,
            compression=conf.task_compression,
            delivery_mode=conf.task_default_delivery_mode,
            headers=message.headers,
            **message.properties,
        )
    except Exception:  # noqa: BLE001 - Celery's own path below retries, and raises
        _drop_producer(app)
        fallback = task.apply_async(args=args, queue=queue, argsrepr=repr(args), kwargsrepr="{}")
        return str(fallback.id)
    return str(task_id)


@dataclass
class _ThreadProducer:
    """A thread's producer for one app, in the process that opened its connection."""

    app: Any
    pid: int
    producer: Any
    declared: set[str] = field(default_factory=set)


def _producer(app: Any, queue: str) -> Any:
    """This thread's producer for ``app``, its queue ``queue`` declared once."""
    cache = _producer_cache()
    entry = cache.get(id(app))
    if entry is None or entry.app is not app or entry.pid != os.getpid():
        entry = cache[id(app)] = _ThreadProducer(
            app, os.getpid(), Producer(app.connection_for_write())
        )
    if queue not in entry.declared:
        # As Celery does on a connection's first publish: the queue and its binding exist
        # before a worker starts, so a worker started later finds the task.
        # Not retried here: a failure falls back to apply_async, which retries.
        entry.producer.maybe_declare(app.amqp.queues[queue])
        entry.declared.add(queue)
    return entry.producer


def _drop_producer(app: Any) -> None:
    entry = _producer_cache().pop(id(app), None)
    if entry is not None and entry.pid == os.getpid():
        try:
            entry.producer.connection.release()
        except Exception:  # noqa: BLE001 - a broken connection closes as it can
            pass


def _producer_cache() -> dict[int, _ThreadProducer]:
    cache: dict[int, _ThreadProducer] | None = getattr(_producers, "cache", None)
    if cache is None:
        cache = _producers.cache = {}
    return cache
