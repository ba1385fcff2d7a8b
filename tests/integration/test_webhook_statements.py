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
from flask import Flask
from flask.testing import FlaskClient
from inbound_support import Handset, confirmed_handset, webhook_config
from sql_support import counting

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
