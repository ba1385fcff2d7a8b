"""Fault: PostgreSQL unreachable during a dispatch (a TCP proxy between the app, its
workers and the server is cut; the server itself keeps running).

While it is cut, ``/healthz`` answers 503 and an inbound webhook answers an error, so
Twilio retries it (the test retries it as Twilio would); workers fail and retry; once it
is restored everything catches up, each lesson once. 10 s instead of 30 s: every
database call fails at once on a reset or refused connection, so a longer cut adds
more of the same failures. Duration: about 1.5 minutes.
"""

from __future__ import annotations

import time as wall
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from conftest import make_config
from faults_support import (
    Beat,
    TcpProxy,
    expected_lessons,
    expected_outbound,
    forget_earlier_sweeps,
    reconcile,
    sandbox_offset,
    text_in,
    unfinished_outbound,
    wait_until,
)
from flask import Flask

from dripper.clock import sandbox_clock
from dripper.extensions import db
from dripper.models import Course, Direction, Message
from dripper_testkit.builders import add_person, bulk_due, new_sid
from dripper_testkit.twilio_fake import FakeTwilio
from dripper_testkit.workers import BrokerSpace, Worker, start_worker

NINE_AM = datetime(2026, 3, 9, 9, 0, tzinfo=ZoneInfo("America/New_York"))
TOTAL = 300
TEXTER = "+12015550177"
OUTAGE = 10.0


@pytest.fixture
def proxy(database: str, request: pytest.FixtureRequest) -> Iterator[TcpProxy]:
    url = sa.make_url(str(request.getfixturevalue("_postgres_schema")))
    with TcpProxy(url.host or "127.0.0.1", url.port or 5432) as running:
        yield running


@pytest.fixture
def worker_settings(twilio_server: FakeTwilio) -> dict[str, Any]:
    return twilio_server.settings(
        SEND_RATE=1000.0, DRIP_CLAIM_TIMEOUT=20, DELIVERY_STALE_AFTER=10, TWILIO_LOOKUP_DELAY=1.0
    )


@pytest.fixture
def app_config(
    database_url: str,
    tmp_path: Path,
    broker: BrokerSpace,
    worker_settings: dict[str, Any],
    proxy: TcpProxy,
) -> dict[str, Any]:
    through_proxy = sa.make_url(database_url).set(host="127.0.0.1", port=proxy.port)
    return make_config(
        through_proxy.render_as_string(hide_password=False),
        tmp_path,
        REDIS_URL=broker.url,
        CELERY=broker.celery(),
        # An unhandled error answers 500, as under gunicorn, instead of reaching the test.
        PROPAGATE_EXCEPTIONS=False,
        **worker_settings,
    )


@pytest.fixture
def workers(app: Flask, request: pytest.FixtureRequest) -> Iterator[list[Worker]]:
    forget_earlier_sweeps(str(app.config["REDIS_URL"]))
    started: list[Worker] = []
    yield started
    for worker in started:
        worker.stop()
    # The app fixture's TRUNCATE next waits for every lock on the tables: no connection of
    # this test may still be in a transaction by then.
    drop_session()
    db.engine.dispose()
    release_backends(str(request.getfixturevalue("_postgres_schema")))


def release_backends(url: str, timeout: float = 15.0) -> None:
    """Wait until no other backend is connected to the test's own database; end those
    still there after ``timeout`` (a connection that lost its client) and fail, naming
    them. Asked directly, not through the proxy."""
    direct = sa.make_url(url)
    admin = sa.create_engine(direct, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    others = sa.text(
        "SELECT pid, state, left(query, 60) AS query FROM pg_stat_activity "
        "WHERE datname = :name AND pid <> pg_backend_pid()"
    )
    try:
        with admin.connect() as connection:
            deadline = wall.monotonic() + timeout
            while left := connection.execute(others, {"name": direct.database}).all():
                if wall.monotonic() > deadline:
                    connection.execute(
                        sa.text("SELECT pg_terminate_backend(pid) FROM unnest(:pids) AS pid"),
                        {"pids": [row.pid for row in left]},
                    )
                    pytest.fail(f"connections left open after the test: {left}")
                wall.sleep(0.2)
    finally:
        admin.dispose()


def drop_session() -> None:
    """The test's own session lost its connection with the cut: start a fresh one."""
    try:
        db.session.remove()
    except sa.exc.OperationalError:
        pass  # the connection is gone; the pool pings before handing out the next


@pytest.mark.database("postgresql")
def test_postgresql_unreachable_answers_errors_then_everything_catches_up_once(
    app: Flask,
    course: Course,
    app_config: dict[str, Any],
    broker: BrokerSpace,
    proxy: TcpProxy,
    workers: list[Worker],
    twilio_server: FakeTwilio,
    worker_settings: dict[str, Any],
    tmp_path: Path,
) -> None:
    with db.engine.begin() as connection:
        bulk_due(connection, course.id, TOTAL, NINE_AM)
    add_person(course, TEXTER, due=datetime.now(UTC) + timedelta(days=30))
    db.session.commit()
    sandbox_clock().set(NINE_AM)
    workers.append(start_worker(app_config, broker, tmp_path, overrides=worker_settings))
    client = app.test_client()

    with Beat(app, period=2.0):
        wait_until(lambda: len(twilio_server.messages) >= 30, 60, "the dispatch never started")
        proxy.cut()
        drop_session()
        health = client.get("/healthz")
        sid = new_sid()
        during = text_in(client, twilio_server, TEXTER, "PAUSE", sid).status_code
        wall.sleep(OUTAGE)
        proxy.restore()
        drop_session()
        # Twilio retries the webhook that answered an error.
        after = text_in(client, twilio_server, TEXTER, "PAUSE", sid).status_code
        wait_until(
            lambda: (
                len({m.to for m in twilio_server.messages} - {TEXTER}) >= TOTAL
                and unfinished_outbound() == 0
            ),
            180,
            "the dispatch did not catch up",
        )
        healthy = client.get("/healthz").status_code

    print(f"\nduring the cut: /healthz {health.status_code}, webhook {during}; after: {after}")
    assert health.status_code == 503
    assert health.get_json()["database"] != "ok"
    assert during >= 500
    assert after == 200 and healthy == 200
    db.session.rollback()
    inbound = db.session.scalar(
        sa.select(sa.func.count())
        .select_from(Message)
        .where(Message.direction == Direction.INBOUND)
    )
    assert inbound == 1
    expected = expected_lessons()
    assert len(set(expected) - {TEXTER}) == TOTAL
    expected.update(expected_outbound([TEXTER]))
    assert expected[TEXTER], "the PAUSE was answered"
    reconcile(twilio_server, expected, sandbox_offset=sandbox_offset()).check()
