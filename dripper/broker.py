"""kombu's Redis transport, with one redis-py client per channel rather than one per command.

kombu builds a new ``redis.Redis`` for each publish and each acknowledgement (over the same
connection pool), and a new client copies redis-py's table of ~170 response callbacks:
about a seventh of what queueing a task costs the inbound webhook. The client holds no
state of its own beyond the pool it borrows connections from, and is safe to share
between threads, so the channel keeps one, and makes a new one only when its pool is
replaced (kombu drops the pools after a connection error).

Used for ``redis://`` broker URLs (``jobs.celery_init_app``); every other URL keeps
kombu's own transport. ``queue_lengths`` counts the tasks waiting in queues (``/metrics``
and the worker's stall watchdog, ``dripper.stall``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

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
