"""How much database work one inbound webhook does: SQL statements and commits counted
per request (a count is deterministic where a timing is not). The ceilings are today's
counts, the same on SQLite and PostgreSQL; a change that adds a statement to every
webhook shows up here first. Issue 13's figures
are in docs/BENCHMARKS.md."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from inbound_support import (
    Handset,
    confirmed_handset,
    inbound_params,
    post_signed,
    webhook_config,
)
from sql_support import counted_pings, counting

from dripper.extensions import db

AFTERNOON = datetime(2026, 6, 2, 14, 0, tzinfo=ZoneInfo("America/New_York"))  # a Tuesday


@pytest.fixture
def app_config(database_url: str, tmp_path: Path) -> dict[str, Any]:
    return webhook_config(database_url, tmp_path)


def test_a_reply_from_a_subscriber_runs_few_statements(
    app: Flask, client: FlaskClient, course: Any
) -> None:
    phone = confirmed_handset(client, AFTERNOON)
    phone.text("I tried it this morning and it felt calmer")  # every cache warm
    with counting() as counted:
        phone.text("Did it twice today, easier the second time")
    print(f"\n{len(counted.statements)} statements, {counted.commits} commits")
    assert len(counted.statements) <= 8
    assert counted.commits <= 2


def test_a_join_from_a_new_number_runs_few_statements(
    app: Flask, client: FlaskClient, course: Any
) -> None:
    confirmed_handset(client, AFTERNOON)
    with counting() as counted:
        Handset(client, "+12015550188").text("JOIN")
    print(f"\n{len(counted.statements)} statements, {counted.commits} commits")
    assert len(counted.statements) <= 13
    assert counted.commits <= 2


def test_a_reply_left_to_a_worker_costs_one_statement_in_autocommit(
    app: Flask, client: FlaskClient, course: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Stored in autocommit (no BEGIN or COMMIT to wait for), and no ping of a connection
    # that was in use a moment ago (dripper.pool).
    phone = confirmed_handset(client, AFTERNOON)
    phone.text("I tried it this morning and it felt calmer")
    pings = counted_pings(db.engine, monkeypatch)
    isolation: list[str | None] = []

    def before(conn: sa.Connection, *_: Any) -> None:
        isolation.append(conn.get_execution_options().get("isolation_level"))

    sa.event.listen(db.engine, "before_cursor_execute", before)
    try:
        with counting() as counted:
            # The webhook alone: Handset.text would also play the worker.
            params = inbound_params(phone.phone, "Did it twice today, easier the second time")
            assert post_signed(client, "/sms/inbound", params).status_code == 200
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", before)
    assert [s.split()[0] for s in counted.statements] == ["INSERT"]
    assert "AUTOCOMMIT" in isolation
    assert (counted.commits, len(pings)) == (0, 0)
