"""The Redis transport keeps one client per channel: a publish or an acknowledgement does
not build a new redis-py client (dripper.broker), and a replaced pool gets a new one; the
stall watchdog reads the queues' lengths through it (dripper.stall). A task the webhook
queues goes out as apply_async's message, and over a new connection after Redis restarted."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from conftest import TEST_REDIS_URL
from faults_support import RedisServer
from flask import Flask
from kombu import Connection
from kombu.exceptions import OperationalError
from redis.exceptions import ConnectionError as RedisConnectionError

from dripper import create_app
from dripper.broker import TRANSPORT, Transport, publish
from dripper.conversation.tasks import handle_inbound
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


@dataclass
class LocalBroker:
    """A Redis of the test's own (stopped and started by the test) and its key space."""

    server: RedisServer
    space: BrokerSpace

    def app(self, **celery: Any) -> Flask:
        """An app whose Celery publishes to this Redis, with ``celery`` settings added."""
        settings = {"broker_url": self.server.url, **celery, **self.space.celery()}
        return create_app({"SECRET_KEY": "x", "CELERY": settings})

    def queued(self, queue: str) -> list[dict[str, Any]]:
        """The messages waiting in ``queue``, oldest first, as the Redis transport keeps them."""
        raw = self.space.client.lrange(self.space.prefix + queue, 0, -1)
        return [json.loads(message) for message in reversed(raw)]


@pytest.fixture
def local_broker(tmp_path: Path) -> Iterator[LocalBroker]:
    server = RedisServer(tmp_path).start()
    try:
        yield LocalBroker(server, BrokerSpace(server.url))
    finally:
        server.stop()


def test_the_stall_watchdog_counts_waiting_tasks_and_reads_nothing_while_redis_is_down(
    local_broker: LocalBroker,
) -> None:
    """The watchdog's own connection: a count per queue, None (an outage, not a stall)
    while Redis is down, and counts again once a fresh Redis answers."""
    server = local_broker.server
    celery = local_broker.app().extensions["celery"]
    waiting = broker_waiting(celery)
    for _ in range(3):
        celery.send_task("tests.hold", args=[0], queue=DEFAULT_QUEUE)
    assert waiting([DEFAULT_QUEUE, REPLY_QUEUE]) == {DEFAULT_QUEUE: 3, REPLY_QUEUE: 0}
    server.stop()
    assert waiting([DEFAULT_QUEUE, REPLY_QUEUE]) is None
    server.start()  # empty
    celery.send_task("tests.hold", args=[0], queue=REPLY_QUEUE)
    assert waiting([DEFAULT_QUEUE, REPLY_QUEUE]) == {DEFAULT_QUEUE: 0, REPLY_QUEUE: 1}


#: What a publish raises when Redis does not answer: kombu's error once its retries are
#: spent, redis-py's when it gives up first.
BROKER_DOWN = (OperationalError, RedisConnectionError)


def test_a_task_queued_for_a_webhook_is_the_message_apply_async_sends(
    local_broker: LocalBroker,
) -> None:
    """Same task, headers, body and routing as Celery's own; only the ids differ."""
    with local_broker.app().app_context():
        handle_inbound.apply_async(args=(7,), queue=REPLY_QUEUE, argsrepr="(7,)", kwargsrepr="{}")
        task_id = publish(handle_inbound, (7,), REPLY_QUEUE)
    theirs, ours = local_broker.queued(REPLY_QUEUE)
    assert ours["headers"]["id"] == task_id
    assert ours["body"] == theirs["body"]  # the arguments, encoded alike
    ids = {"id", "root_id"}
    assert {k: v for k, v in ours["headers"].items() if k not in ids} == {
        k: v for k, v in theirs["headers"].items() if k not in ids
    }
    assert ours["headers"]["task"] == "dripper.conversation.handle"
    assert ours["headers"]["timelimit"] == [55, 50]
    assert ours["headers"]["ignore_result"] is True
    for key in ("content-type", "content-encoding"):
        assert ours[key] == theirs[key]
    for key in ("delivery_mode", "priority", "body_encoding", "delivery_info"):
        assert ours["properties"].get(key) == theirs["properties"].get(key)
    assert ours["properties"]["delivery_info"] == {"exchange": "", "routing_key": REPLY_QUEUE}


def test_each_thread_publishes_over_a_producer_of_its_own(local_broker: LocalBroker) -> None:
    app = local_broker.app()
    ids: list[str] = []

    def queue_some(first: int) -> None:
        with app.app_context():
            ids.extend(publish(handle_inbound, (n,), REPLY_QUEUE) for n in range(first, first + 50))

    threads = [threading.Thread(target=queue_some, args=(100 * i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    queued = local_broker.queued(REPLY_QUEUE)
    assert len(queued) == 200 and len({m["headers"]["id"] for m in queued}) == 200
    # Each id publish returned is the id of a message it queued.
    assert sorted(ids) == sorted(m["headers"]["id"] for m in queued)
    assert sorted(m["headers"]["argsrepr"] for m in queued) == sorted(
        f"({100 * i + n},)" for i in range(4) for n in range(50)
    )


def test_a_publish_after_redis_restarted_goes_out_over_a_new_connection(
    local_broker: LocalBroker,
) -> None:
    """While Redis is down, publishing raises (the webhook leaves the text to the sweep);
    once it answers again, the next publish reconnects by itself."""
    server = local_broker.server
    retry = {"max_retries": 1, "interval_start": 0, "interval_step": 0.1, "interval_max": 0.1}
    app = local_broker.app(task_publish_retry_policy=retry, broker_connection_timeout=1)
    with app.app_context():
        publish(handle_inbound, (1,), REPLY_QUEUE)
        server.stop()
        with pytest.raises(BROKER_DOWN):
            publish(handle_inbound, (2,), REPLY_QUEUE)
        server.start()  # empty
        publish(handle_inbound, (3,), REPLY_QUEUE)
    assert [m["headers"]["argsrepr"] for m in local_broker.queued(REPLY_QUEUE)] == ["(3,)"]


def test_a_thread_that_never_published_gives_up_on_a_stopped_redis(
    local_broker: LocalBroker,
) -> None:
    """Its first publish connects and declares the queue first: that gives up too, so the
    webhook answers and the inbound sweep takes the text."""
    local_broker.server.stop()
    retry = {"max_retries": 2, "interval_start": 0, "interval_step": 0.1, "interval_max": 0.1}
    app = local_broker.app(task_publish_retry_policy=retry)
    outcome: list[object] = []

    def first_publish() -> None:
        with app.app_context():
            try:
                publish(handle_inbound, (1,), REPLY_QUEUE)
                outcome.append("published")
            except BROKER_DOWN as error:
                outcome.append(error)

    thread = threading.Thread(target=first_publish, daemon=True)
    thread.start()
    thread.join(timeout=20)
    assert not thread.is_alive(), "the publish was still retrying after 20 s"
    assert len(outcome) == 1 and isinstance(outcome[0], BROKER_DOWN)
