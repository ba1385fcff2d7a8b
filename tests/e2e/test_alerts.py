"""Crisis alerts reach the team even when the alert webhook is down for a while, exactly
once, and an admin can list and close them from the command line.

A crisis text comes in through the signed webhook, a real Celery worker POSTs the alert
to a small local HTTP endpoint that answers what the test says, and the beat sweep is
run by hand on the sandbox clock.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from inbound_support import AUTH_TOKEN, NUMBER, confirmed_handset, webhook_config

from dripper.clock import sandbox_clock
from dripper.extensions import db
from dripper.models import Alert, AlertStatus, AuditEntry, SubscriptionState
from dripper_testkit.workers import BrokerSpace, Worker, drain

NEW_YORK = ZoneInfo("America/New_York")
AFTERNOON = datetime(2026, 6, 2, 14, 0, tzinfo=NEW_YORK)
CRISIS = "i took all my pills and i want to die tonight"


class AlertWebhook:
    """The team's alert endpoint: answers ``status`` and keeps every POST it got."""

    def __init__(self) -> None:
        self.status = 204
        self.received: list[tuple[int, dict[str, Any]]] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                status = hook.status
                hook.received.append((status, json.loads(self.rfile.read(length))))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/alerts"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def delivered(self, alert_id: int) -> int:
        """How many POSTs of this alert the endpoint accepted."""
        return sum(
            1 for status, body in self.received if status < 300 and body["alert"] == alert_id
        )

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hook() -> Iterator[AlertWebhook]:
    endpoint = AlertWebhook()
    yield endpoint
    endpoint.close()


@pytest.fixture
def worker_settings(hook: AlertWebhook) -> dict[str, Any]:
    return {"TWILIO_AUTH_TOKEN": AUTH_TOKEN, "ADMIN_ALERT_WEBHOOK": hook.url}


@pytest.fixture
def app_config(drip_config: dict[str, Any]) -> dict[str, Any]:
    return drip_config


def the_alert() -> Alert:
    db.session.rollback()  # see what the worker committed
    [alert] = db.session.scalars(sa.select(Alert)).all()
    return alert


def sweep() -> int:
    from dripper.readiness.tasks import sweep_alerts

    return int(sweep_alerts())


def test_an_alert_the_webhook_refused_is_delivered_exactly_once_by_the_sweep_when_it_is_back(
    client: FlaskClient, course: Any, worker: Worker, broker: BrokerSpace, hook: AlertWebhook
) -> None:
    hook.status = 500
    handset = confirmed_handset(client, AFTERNOON)
    handset.text(CRISIS)
    drain(broker)

    alert = the_alert()
    assert alert.notified_at is None  # the webhook answered 500: not delivered
    assert [status for status, _ in hook.received] == [500]

    # Within the pause after a failure the sweep leaves it alone: a webhook that is
    # down is not hammered.
    assert sweep() == 0
    sandbox_clock().advance(timedelta(seconds=61))
    assert sweep() == 1
    drain(broker)
    assert the_alert().notified_at is None
    assert the_alert().notify_attempts == 2
    sandbox_clock().advance(timedelta(seconds=61))
    assert sweep() == 0  # the pause doubled
    assert len(hook.received) == 2

    hook.status = 204
    sandbox_clock().advance(timedelta(minutes=2))
    # Two sweeps race, and the alert's own task turns up late twice over.
    assert sweep() + sweep() == 1
    from dripper.readiness.tasks import notify_admins

    notify_admins.apply_async(args=[alert.id])
    notify_admins.apply_async(args=[alert.id])
    drain(broker)

    assert the_alert().notified_at is not None
    assert hook.delivered(alert.id) == 1
    sandbox_clock().advance(timedelta(hours=2))
    assert sweep() == 0
    drain(broker)
    assert hook.delivered(alert.id) == 1
    posted = json.dumps([body for _, body in hook.received])
    assert NUMBER not in posted and "pills" not in posted


def test_an_alert_whose_task_never_reached_the_broker_is_delivered_by_the_sweep(
    client: FlaskClient,
    course: Any,
    worker: Worker,
    broker: BrokerSpace,
    hook: AlertWebhook,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from dripper.readiness.tasks import notify_admins

    handset = confirmed_handset(client, AFTERNOON)

    def broker_down(*args: Any, **kwargs: Any) -> None:
        raise ConnectionError("the broker is down")

    monkeypatch.setattr(notify_admins, "apply_async", broker_down)
    handset.text(CRISIS)  # the alert is stored; queueing its notification fails
    monkeypatch.undo()
    drain(broker)
    alert = the_alert()
    assert alert.notified_at is None and hook.received == []

    assert sweep() == 0  # its own task may still be on its way
    sandbox_clock().advance(timedelta(minutes=2, seconds=1))
    assert sweep() == 1
    drain(broker)
    assert the_alert().notified_at is not None
    assert hook.delivered(alert.id) == 1


class TestTheCommandLine:
    @pytest.fixture
    def app_config(self, database_url: str, tmp_path: Path) -> dict[str, Any]:
        return webhook_config(database_url, tmp_path)

    @pytest.fixture
    def alert(self, app: Flask, client: FlaskClient, course: Any) -> Alert:
        handset = confirmed_handset(client, AFTERNOON)
        handset.text(CRISIS)
        return the_alert()

    def test_alert_list_shows_open_alerts_without_their_words_or_the_whole_number(
        self, runner: FlaskCliRunner, alert: Alert, course: Any
    ) -> None:
        sandbox_clock().advance(timedelta(hours=3, minutes=5))

        result = runner.invoke(args=["alert", "list"])

        assert result.exit_code == 0, result.output
        [row] = [
            line for line in result.output.splitlines() if line.strip().startswith(str(alert.id))
        ]
        assert "3h 5m" in row
        assert " crisis " in row and "kind" in result.output.splitlines()[0]
        assert course.slug in row
        assert row.rstrip().endswith("no")  # the team was not notified (no webhook set)
        assert "0123" in row and NUMBER not in result.output
        assert "pills" not in result.output and "die" not in result.output

    def test_alert_resolve_closes_it_with_a_note_and_an_audit_entry_but_lessons_stay_held(
        self, runner: FlaskCliRunner, alert: Alert
    ) -> None:
        result = runner.invoke(
            args=["alert", "resolve", str(alert.id), "--note", "called back; safe", "--by", "sam"]
        )

        assert result.exit_code == 0, result.output
        closed = the_alert()
        assert closed.status is AlertStatus.RESOLVED
        assert closed.note == "called back; safe" and closed.resolved_by == "sam"
        assert closed.resolved_at is not None
        assert closed.subscription is not None
        assert closed.subscription.state is SubscriptionState.HELD
        [entry] = db.session.scalars(
            sa.select(AuditEntry).where(AuditEntry.action == "alert.resolve")
        ).all()
        assert entry.actor == "sam" and entry.target == f"alert:{alert.id}"
        assert entry.detail == {"note": "called back; safe"}
        assert "no open alerts" in runner.invoke(args=["alert", "list"]).output

        again = runner.invoke(args=["alert", "resolve", str(alert.id)])
        assert again.exit_code != 0 and "already resolved" in again.output

    def test_alert_resolve_help_says_it_does_not_resume_lessons(
        self, runner: FlaskCliRunner
    ) -> None:
        result = runner.invoke(args=["alert", "resolve", "--help"])
        assert "does not resume lessons" in result.output
        assert "subscriber resume" in result.output
