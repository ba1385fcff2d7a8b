"""The sandbox clock page: see and move the clock every process shares."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import make_config
from drip_support import record_sent
from flask import Flask
from flask.testing import FlaskClient

from dripper import create_app
from dripper.clock import now, sandbox_clock
from dripper.extensions import db
from dripper.models import Course
from dripper_testkit.builders import add_person


def test_the_clock_page_is_not_there_outside_the_sandbox(database_url: str, tmp_path: Path) -> None:
    app = create_app(make_config(database_url, tmp_path, DRIPPER_SANDBOX=False))
    client = app.test_client()
    assert client.get("/sandbox/clock").status_code == 404
    assert (
        client.post("/sandbox/clock", data={"action": "advance", "duration": "1d"}).status_code
        == 404
    )


def test_the_clock_page_shows_the_sandbox_time(app: Flask, client: FlaskClient) -> None:
    sandbox_clock().set(datetime(2026, 3, 8, 6, 0, tzinfo=UTC))
    page = client.get("/sandbox/clock")
    assert page.status_code == 200
    assert "2026-03-08 06:00" in page.text


def test_advancing_moves_the_clock_forward(app: Flask, client: FlaskClient) -> None:
    before = now()
    response = client.post("/sandbox/clock", data={"action": "advance", "duration": "1d3h"})
    assert response.status_code == 303
    moved = now() - before
    assert timedelta(days=1, hours=3) <= moved < timedelta(days=1, hours=3, minutes=1)
    assert "Clock moved to" in client.get("/sandbox/clock").text


def test_setting_the_clock_takes_an_iso_time(app: Flask, client: FlaskClient) -> None:
    client.post("/sandbox/clock", data={"action": "set", "when": "2026-03-08T09:00:00-04:00"})
    assert abs(now() - datetime(2026, 3, 8, 13, 0, tzinfo=UTC)) < timedelta(seconds=30)


def test_a_bad_duration_changes_nothing_and_says_why(app: Flask, client: FlaskClient) -> None:
    before = now()
    response = client.post(
        "/sandbox/clock", data={"action": "advance", "duration": "soon"}, follow_redirects=True
    )
    assert "Not changed" in response.text
    assert now() - before < timedelta(minutes=1)


def test_the_page_can_run_a_tick(
    app: Flask, client: FlaskClient, course: Course, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent: list[Any] = record_sent(app, monkeypatch)
    add_person(course, "+12025550001", due=now() - timedelta(minutes=1))
    db.session.commit()
    response = client.post("/sandbox/clock", data={"action": "tick"}, follow_redirects=True)
    assert "Drip tick: queued 1 (lesson 1)" in response.text
    assert [name for name, _ in sent] == ["dripper.drip.send_batch"]
