"""How much database work one inbound webhook does: SQL statements and commits counted
per request (a count is deterministic where a timing is not). The ceilings are today's
counts, the same on SQLite and PostgreSQL; a change that adds a statement to every
webhook shows up here first. Issue 13's figures
are in docs/BENCHMARKS.md."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from inbound_support import Handset, confirmed_handset, webhook_config

from dripper.clock import OFFSET_KEY
from dripper.extensions import db

AFTERNOON = datetime(2026, 6, 2, 14, 0, tzinfo=ZoneInfo("America/New_York"))  # a Tuesday


@pytest.fixture
def app_config(database_url: str, tmp_path: Path) -> dict[str, Any]:
    return webhook_config(database_url, tmp_path)


@dataclass
class Counted:
    statements: list[str] = field(default_factory=list)
    commits: int = 0


@contextmanager
def counting(app: Flask) -> Iterator[Counted]:
    """Every statement the app's engine runs, and every commit, while in the block."""
    counted = Counted()
    engine = db.engine

    def statement(conn: Any, cursor: Any, text: str, parameters: Any, *args: Any) -> None:
        if "FROM setting" in text and OFFSET_KEY in str(parameters):
            return  # the sandbox clock's offset: production reads the system clock
        counted.statements.append(" ".join(text.split())[:100])

    def commit(conn: Any) -> None:
        counted.commits += 1

    sa.event.listen(engine, "before_cursor_execute", statement)
    sa.event.listen(engine, "commit", commit)
    try:
        yield counted
    finally:
        sa.event.remove(engine, "before_cursor_execute", statement)
        sa.event.remove(engine, "commit", commit)


def test_a_reply_from_a_subscriber_runs_few_statements(
    app: Flask, client: FlaskClient, course: Any
) -> None:
    phone = confirmed_handset(client, AFTERNOON)
    phone.text("I tried it this morning and it felt calmer")  # every cache warm
    with counting(app) as counted:
        phone.text("Did it twice today, easier the second time")
    print(f"\n{len(counted.statements)} statements, {counted.commits} commits")
    assert len(counted.statements) <= 11
    assert counted.commits <= 2


def test_a_join_from_a_new_number_runs_few_statements(
    app: Flask, client: FlaskClient, course: Any
) -> None:
    confirmed_handset(client, AFTERNOON)
    with counting(app) as counted:
        Handset(client, "+12015550188").text("JOIN")
    print(f"\n{len(counted.statements)} statements, {counted.commits} commits")
    assert len(counted.statements) <= 15
    assert counted.commits <= 2
