"""The Redis transport keeps one client per channel: a publish or an acknowledgement does
not build a new redis-py client (dripper.broker), and a replaced pool gets a new one."""

from __future__ import annotations

from conftest import TEST_REDIS_URL
from kombu import Connection

from dripper import create_app
from dripper.broker import TRANSPORT, Transport


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
