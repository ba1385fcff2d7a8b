"""A pooled connection is pinged before use only when it rested in the pool: one that was
in use a moment ago goes straight to work, and one the database dropped while it rested
is replaced without the request seeing an error (dripper.pool)."""

from __future__ import annotations

import time

import pytest
import sqlalchemy as sa
from flask import Flask
from sql_support import counted_pings

from dripper.extensions import db
from dripper.pool import ping_when_idle


def test_a_connection_back_from_a_moment_ago_is_not_pinged(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    with app.app_context():
        pings = counted_pings(db.engine, monkeypatch)
        for _ in range(5):
            with db.engine.connect() as connection:
                assert connection.scalar(sa.text("SELECT 1")) == 1
        assert pings == []


def test_a_connection_that_rested_in_the_pool_is_pinged_first(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = sa.create_engine(database_url)
    ping_when_idle(engine, after=0.05)
    pings = counted_pings(engine, monkeypatch)
    try:
        with engine.connect() as connection:
            connection.scalar(sa.text("SELECT 1"))
        assert pings == []  # a new connection: just opened
        time.sleep(0.1)
        with engine.connect() as connection:
            connection.scalar(sa.text("SELECT 1"))
        assert len(pings) == 1
    finally:
        engine.dispose()


def backend_pid(connection: sa.Connection) -> int:
    return int(connection.scalar(sa.text("SELECT pg_backend_pid()")))


def drop_connection(database_url: str, pid: int) -> None:
    """What a database restart or a proxy's idle timeout does to a pooled connection."""
    admin = sa.create_engine(database_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        assert connection.scalar(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    admin.dispose()


@pytest.mark.database("postgresql")
@pytest.mark.parametrize("rested", [True, False], ids=["rested", "in-use-a-moment-ago"])
def test_a_connection_the_database_dropped_while_it_rested_is_replaced(
    database_url: str, rested: bool
) -> None:
    engine = sa.create_engine(database_url, pool_size=1, max_overflow=0)
    ping_when_idle(engine, after=0.05 if rested else 60)
    try:
        with engine.connect() as connection:
            dropped = backend_pid(connection)
        drop_connection(database_url, dropped)
        time.sleep(0.1)
        if not rested:
            # Not pinged: the statement meets the dropped connection, as the module says,
            # and the pool lets go of it, so the next request is served again.
            with pytest.raises(sa.exc.OperationalError), engine.connect() as connection:
                connection.scalar(sa.text("SELECT 1"))
        with engine.connect() as connection:
            assert backend_pid(connection) != dropped
    finally:
        engine.dispose()
