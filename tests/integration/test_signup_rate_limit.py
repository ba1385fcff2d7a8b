"""The signup form cannot be used to text strangers over and over: limits per client
address and per number, on the real Redis, that reformatting a number does not dodge."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import redis as redis_lib
import sqlalchemy as sa
from flask.testing import FlaskClient
from inbound_support import NUMBER, Handset, set_clock, webhook_config

from dripper.extensions import db
from dripper.models import Direction, Message

NEW_YORK = ZoneInfo("America/New_York")


@pytest.fixture
def app_config(database_url: str, tmp_path: Path) -> dict[str, Any]:
    # A generous per-address limit, so the per-number limit is what these tests meet.
    return webhook_config(
        database_url, tmp_path, RATELIMIT_ENABLED=True, SIGNUP_IP_LIMIT="100/hour"
    )


@pytest.fixture(autouse=True)
def _setup(app: Any, redis_client: redis_lib.Redis) -> None:
    """Flushes the test Redis (db 15) before and after, through the redis_client fixture."""
    set_clock(datetime(2026, 6, 2, 14, 0, tzinfo=NEW_YORK))


def submit(client: FlaskClient, course: Any, phone: str) -> Any:
    form = {"course": str(course.id), "phone": phone, "send_time": "09:00", "consent": "y"}
    return client.post("/signup", data=form)


def texts_to(phone: str) -> int:
    db.session.expire_all()
    query = sa.select(sa.func.count()).where(
        Message.phone == phone, Message.direction == Direction.OUTBOUND
    )
    return int(db.session.scalar(query) or 0)


def test_a_number_is_texted_at_most_three_times_a_day_however_it_is_written(
    client: FlaskClient, course: Any
) -> None:
    for written in ["(201) 555-0123", "201.555.0123", "+1 201 555 0123"]:
        assert submit(client, course, written).status_code == 200

    for written in ["12015550123", "+12015550123", "001 201 555 0123", "1-201-555-0123"]:
        response = submit(client, course, written)
        assert response.status_code == 429, written
        assert "entered here several times today" in response.get_data(as_text=True)

    assert texts_to(NUMBER) == 3


def test_the_limit_meets_a_number_that_said_stop_as_it_meets_any_other(
    client: FlaskClient, course: Any
) -> None:
    Handset(client).text("STOP")
    assert texts_to(NUMBER) == 1  # the stop confirmation

    # Hitting the limit sooner or later than a new number would tell that it said STOP.
    statuses = [submit(client, course, NUMBER).status_code for _ in range(4)]

    assert statuses == [200, 200, 200, 429]
    assert texts_to(NUMBER) == 1


def test_the_per_number_limit_does_not_hold_back_other_numbers(
    client: FlaskClient, course: Any
) -> None:
    for _ in range(3):
        submit(client, course, NUMBER)
    assert submit(client, course, NUMBER).status_code == 429

    assert submit(client, course, "(212) 555-0199").status_code == 200
    assert texts_to("+12125550199") == 1


def test_mistakes_do_not_use_up_a_numbers_limit(client: FlaskClient, course: Any) -> None:
    for _ in range(4):
        response = client.post(
            "/signup", data={"course": str(course.id), "phone": NUMBER, "send_time": "09:00"}
        )  # no consent: nothing is texted
        assert response.status_code == 400

    assert submit(client, course, NUMBER).status_code == 200
    assert texts_to(NUMBER) == 1


def test_the_numbers_are_not_kept_in_redis(
    client: FlaskClient, course: Any, redis_client: redis_lib.Redis
) -> None:
    submit(client, course, NUMBER)

    keys = [key.decode() for key in redis_client.keys("*")]
    assert keys, "the limiter wrote its counters to Redis"
    assert not any("2015550123" in key for key in keys)


class TestPerAddress:
    @pytest.fixture
    def app_config(self, database_url: str, tmp_path: Path) -> dict[str, Any]:
        return webhook_config(database_url, tmp_path, RATELIMIT_ENABLED=True)

    def test_one_address_may_try_five_times_an_hour(self, client: FlaskClient, course: Any) -> None:
        numbers = [f"(312) 555-01{n:02d}" for n in range(6)]
        statuses = [submit(client, course, number).status_code for number in numbers]

        assert statuses == [200, 200, 200, 200, 200, 429]
        assert "Please wait a bit" in submit(client, course, "(312) 555-0190").get_data(
            as_text=True
        )
        assert texts_to("+13125550105") == 0
