"""The Redis transport keeps one client per channel: a publish or an acknowledgement does
not build a new redis-py client (dripper.broker), and a replaced pool gets a new one; the
stall watchdog reads the queues' lengths through it (dripper.stall)."""

from __future__ import annotations

from pathlib import Path

from conftest import TEST_REDIS_URL
from faults_support import RedisServer
from kombu import Connection

from dripper import create_app
from dripper.broker import TRANSPORT, Transport
from dripper.jobs import DEFAULT_QUEUE, REPLY_QUEUE
from dripper.stall import broker_waiting
from dripper_testkit.workers import BrokerSpace


def test_a_redis_broker_url_uses_the_transport_that_keeps_its_client() -> None:
    app = create_app({"SECRET_KEY": "x", "CELERY": {"broker_url": TEST_REDIS_URL}})
    celery = app.extensions["celery"]
    assert celery.conf.broker_transport == TRANSPORT
    with celery.connection_for_write() as connection:
        assert isinstance(connection.transport, Transport)


def test_other_broker_urls_keep_kombus_own_transport() -> None:
    app = create_app({"SECRET_KEY": "x", "CELERY": {"broker_url": "memory://"}})
    celery = app.extensions["celery"]
    with celery.connection_for_write() as connection:
        assert not isinstance(connection.transport, Transport)


def test_one_client_serves_every_command_until_the_pool_is_replaced() -> None:
    with Connection(TEST_REDIS_URL, transport=TRANSPORT) as connection:
        channel = connection.default_channel
        first = channel._create_client()
        assert channel._create_client() is first
        with channel.conn_or_acquire() as client:
            assert client is first
            assert client.ping()
        channel._disconnect_pools()  # what kombu does after a connection error
        fresh = channel._create_client()
        assert fresh is not first and fresh.connection_pool is channel.pool
        assert fresh.ping()
        # The consumer's blocking client stays kombu's own, on its own pool.
        assert channel._create_client(asynchronous=True) is not fresh


def test_the_stall_watchdog_counts_waiting_tasks_and_reads_nothing_while_redis_is_down(
    tmp_path: Path,
) -> None:
    """The watchdog's own connection: a count per queue, None (an outage, not a stall)
    while Redis is down, and counts again once a fresh Redis answers."""
    server = RedisServer(tmp_path).start()
    try:
        space = BrokerSpace(server.url)
        app = create_app(
            {"SECRET_KEY": "x", "CELERY": {"broker_url": server.url, **space.celery()}}
        )
        celery = app.extensions["celery"]
        waiting = broker_waiting(celery)
        for _ in range(3):
            celery.send_task("tests.hold", args=[0], queue=DEFAULT_QUEUE)
        assert waiting([DEFAULT_QUEUE, REPLY_QUEUE]) == {DEFAULT_QUEUE: 3, REPLY_QUEUE: 0}
        server.stop()
        assert waiting([DEFAULT_QUEUE, REPLY_QUEUE]) is None
        server.start()  # empty
        celery.send_task("tests.hold", args=[0], queue=REPLY_QUEUE)
        assert waiting([DEFAULT_QUEUE, REPLY_QUEUE]) == {DEFAULT_QUEUE: 0, REPLY_QUEUE: 1}
    finally:
        server.stop()
