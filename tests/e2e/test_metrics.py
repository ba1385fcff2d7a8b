"""GET /metrics: what an operator's Prometheus scrapes, behind a bearer token.

The counts come from every process: the lessons here are sent by a real Celery worker
(a separate process) through the real twilio client, and the web process's page adds
the worker's counts to its own (prometheus_client's multiprocess mode; the test
session points PROMETHEUS_MULTIPROC_DIR at a directory of its own, see conftest.py).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from conftest import make_config
from flask import Flask
from flask.testing import FlaskClient
from inbound_support import inbound_params, post_signed, sign, wait_until_acted_on
from prometheus_client.parser import text_string_to_metric_families

from dripper.clock import sandbox_clock
from dripper.drip.tick import tick
from dripper.extensions import db
from dripper.models import Course
from dripper_testkit.builders import add_person
from dripper_testkit.twilio_fake import FakeTwilio
from dripper_testkit.workers import BrokerSpace, Worker, drain

# What is counted does not depend on the database; one is enough.
pytestmark = pytest.mark.database("sqlite")

TOKEN = "metrics-token-7f3a9c"
NEW_YORK = ZoneInfo("America/New_York")
NINE_AM = datetime(2026, 3, 9, 9, 0, tzinfo=NEW_YORK)
PHONES = ["+12125550101", "+12125550102"]


def scrape(client: FlaskClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """The page's samples: (name, sorted labels) -> value."""
    response = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "text/plain"
    samples = {}
    for family in text_string_to_metric_families(response.get_data(as_text=True)):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples: dict[Any, float], name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


class TestTheToken:
    @pytest.fixture
    def app_config(self, database_url: str, tmp_path: Path) -> dict[str, Any]:
        return make_config(database_url, tmp_path, METRICS_TOKEN=TOKEN)

    @pytest.mark.parametrize(
        "authorization",
        [
            None,
            "",
            "Bearer",
            "Bearer ",
            "Bearer wrong-token",
            f"Bearer {TOKEN}x",
            f"Bearer {TOKEN[:-1]}",
            f"Basic {TOKEN}",
            TOKEN,
            "Bearer " + "é" * 10,
        ],
    )
    def test_a_missing_or_wrong_token_is_refused(
        self, client: FlaskClient, authorization: str | None
    ) -> None:
        headers = {} if authorization is None else {"Authorization": authorization}
        response = client.get("/metrics", headers=headers)
        assert response.status_code == 401
        assert "dripper_" not in response.get_data(as_text=True)

    def test_with_the_token_the_page_is_prometheus_text(self, client: FlaskClient) -> None:
        response = client.get("/metrics", headers={"Authorization": f"bearer {TOKEN}"})
        assert response.status_code == 200
        assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        names = {f.name for f in text_string_to_metric_families(response.get_data(as_text=True))}
        # The labelled ones (failed by code, inbound by label) appear with their first count.
        assert {
            "dripper_messages_sent",
            "dripper_messages_delivered",
            "dripper_tick_duration_seconds",
            "dripper_send_rate_wait_seconds",
            "dripper_send_rate_refused",
            "dripper_queue_length",
        } <= names


@pytest.mark.parametrize("token", [None, ""])
def test_without_a_token_configured_there_is_no_metrics_page(
    database_url: str, tmp_path: Path, token: str | None
) -> None:
    from dripper import create_app

    app = create_app(make_config(database_url, tmp_path, METRICS_TOKEN=token))
    client = app.test_client()
    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", headers={"Authorization": "Bearer "}).status_code == 404


class TestThroughARealWorker:
    @pytest.fixture
    def worker_settings(self, twilio_server: FakeTwilio) -> dict[str, Any]:
        return twilio_server.settings(
            SEND_RATE=1000.0, PUBLIC_URL="https://dripper.test", METRICS_TOKEN=TOKEN
        )

    @pytest.fixture
    def app_config(self, drip_config: dict[str, Any]) -> dict[str, Any]:
        return drip_config

    def test_a_lesson_sent_by_a_worker_and_delivered_is_counted(
        self,
        app: Flask,
        client: FlaskClient,
        course: Course,
        twilio_server: FakeTwilio,
        worker: Worker,
        broker: BrokerSpace,
    ) -> None:
        before = scrape(client)
        sandbox_clock().set(NINE_AM)
        for phone in PHONES:
            add_person(course, phone, due=NINE_AM)
        db.session.commit()
        twilio_server.fail_next(21211)  # one of them cannot be reached

        assert tick().claimed == len(PHONES)
        drain(broker)
        [accepted] = twilio_server.messages
        assert twilio_server.callback(accepted.sid, "delivered", to=client).status_code == 204
        params = inbound_params(accepted.to, "this one made me think about my sister")
        signature = sign("/sms/inbound", params, token=twilio_server.auth_token)
        assert post_signed(client, "/sms/inbound", params, signature=signature).status_code == 200
        wait_until_acted_on(params["MessageSid"])  # by the worker: a reply that can wait

        after = scrape(client)
        grew = {
            name: value(after, name, **labels) - value(before, name, **labels)
            for name, labels in [
                ("dripper_messages_sent_total", {}),
                ("dripper_messages_delivered_total", {}),
                ("dripper_messages_failed_total", {"error_code": "21211"}),
                ("dripper_tick_duration_seconds_count", {}),
                ("dripper_send_rate_wait_seconds_count", {}),
            ]
        }
        assert grew == {
            "dripper_messages_sent_total": 1,  # counted in the worker's pool process
            "dripper_messages_delivered_total": 1,  # counted here, by the status callback
            "dripper_messages_failed_total": 1,
            "dripper_tick_duration_seconds_count": 1,
            "dripper_send_rate_wait_seconds_count": 1,  # one chunk, one reservation
        }
        inbound = sum(
            v - before.get(key, 0.0)
            for key, v in after.items()
            if key[0] == "dripper_inbound_messages_total"
        )
        assert inbound == 1
        assert value(after, "dripper_queue_length", queue="dripper") == 0


class TestQueueLength:
    @pytest.fixture
    def app_config(self, drip_config: dict[str, Any]) -> dict[str, Any]:
        return {**drip_config, "METRICS_TOKEN": TOKEN}

    def test_tasks_waiting_for_a_worker_show_as_queue_length(
        self, app: Flask, client: FlaskClient, course: Course, broker: BrokerSpace
    ) -> None:
        sandbox_clock().set(NINE_AM)
        for phone in PHONES:
            add_person(course, phone, due=NINE_AM)
        db.session.commit()
        assert value(scrape(client), "dripper_queue_length", queue="dripper") == 0

        result = tick()  # no worker runs: the tasks wait

        assert value(scrape(client), "dripper_queue_length", queue="dripper") == result.tasks > 0
