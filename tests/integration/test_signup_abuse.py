"""The signup form cannot be turned against strangers or against the service: the address
limit counts the real client behind a proxy, the form texts only the countries the
course serves, and its answer never tells anyone what we know about a number."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import redis as redis_lib
import sqlalchemy as sa
from flask.testing import FlaskClient
from inbound_support import Handset, set_clock, webhook_config

from dripper.extensions import db
from dripper.models import Direction, Message, Subscriber, SubscriberStatus

NEW_YORK = ZoneInfo("America/New_York")
AFTERNOON = datetime(2026, 6, 2, 14, 0, tzinfo=NEW_YORK)
UK_MOBILE = "+44 7400 123456"
TORONTO = "+1 416 555 0199"


@pytest.fixture(autouse=True)
def _afternoon(app: Any) -> None:
    set_clock(AFTERNOON)


def submit(client: FlaskClient, course: Any, phone: str, **headers: str) -> Any:
    form = {"course": str(course.id), "phone": phone, "send_time": "09:00", "consent": "y"}
    return client.post("/signup", data=form, headers=headers)


def texts() -> list[Message]:
    db.session.expire_all()
    return list(
        db.session.scalars(sa.select(Message).where(Message.direction == Direction.OUTBOUND))
    )


def subscribers() -> int:
    return int(db.session.scalar(sa.select(sa.func.count()).select_from(Subscriber)) or 0)


class ProxySetup:
    """Two people behind one proxy (one client address as the app sees it)."""

    hops = 0

    @pytest.fixture
    def app_config(self, database_url: str, tmp_path: Path) -> dict[str, Any]:
        return webhook_config(
            database_url,
            tmp_path,
            RATELIMIT_ENABLED=True,
            SIGNUP_IP_LIMIT="2/hour",
            PROXY_FIX_HOPS=self.hops,
        )

    @pytest.fixture(autouse=True)
    def _empty_redis(self, redis_client: redis_lib.Redis) -> None:
        """Flushes the test Redis before and after, through the redis_client fixture."""

    def statuses(self, client: FlaskClient, course: Any, address: str, first: int) -> list[int]:
        return [
            submit(
                client, course, f"(312) 555-01{first + n:02d}", **{"X-Forwarded-For": address}
            ).status_code
            for n in range(3)
        ]


class TestBehindAProxy(ProxySetup):
    hops = 1

    def test_clients_behind_a_proxy_are_limited_each_by_their_own_address(
        self, client: FlaskClient, course: Any
    ) -> None:
        assert self.statuses(client, course, "203.0.113.5", 0) == [200, 200, 429]
        assert self.statuses(client, course, "198.51.100.7", 10) == [200, 200, 429]


class TestWithoutAProxy(ProxySetup):
    hops = 0

    def test_x_forwarded_for_is_ignored_when_no_proxy_is_configured(
        self, client: FlaskClient, course: Any
    ) -> None:
        assert self.statuses(client, course, "203.0.113.5", 0) == [200, 200, 429]
        # A made-up header does not buy a fresh allowance.
        assert self.statuses(client, course, "198.51.100.7", 10) == [429, 429, 429]


class TestCountries:
    @pytest.fixture
    def app_config(self, database_url: str, tmp_path: Path) -> dict[str, Any]:
        return webhook_config(database_url, tmp_path)

    def test_a_number_outside_the_courses_countries_is_refused_and_nothing_is_sent(
        self, client: FlaskClient, course: Any
    ) -> None:
        for number in (UK_MOBILE, TORONTO, "+234 803 123 4567"):
            response = submit(client, course, number)

            assert response.status_code == 400, number
            page = response.get_data(as_text=True)
            assert "we can only text numbers in the United States" in page
            assert 'aria-invalid="true"' in page
        assert texts() == [] and subscribers() == 0

    def test_a_country_the_course_words_its_crisis_lines_for_may_sign_up(
        self, client: FlaskClient, course: Any
    ) -> None:
        course.messages = {
            **course.messages,
            "crisis_response_GB": "If you are in danger call 999, or Samaritans on 116 123.",
        }
        db.session.commit()

        assert submit(client, course, UK_MOBILE).status_code == 200
        assert submit(client, course, TORONTO).status_code == 400
        assert [message.phone for message in texts()] == ["+447400123456"]


class TestCountriesSetting:
    @pytest.fixture
    def app_config(self, database_url: str, tmp_path: Path) -> dict[str, Any]:
        return webhook_config(database_url, tmp_path, SIGNUP_COUNTRIES="us, ca")

    def test_signup_countries_decides_which_numbers_the_form_texts(
        self, client: FlaskClient, course: Any
    ) -> None:
        assert submit(client, course, TORONTO).status_code == 200
        refused = submit(client, course, UK_MOBILE)
        assert refused.status_code == 400
        assert "United States and Canada" in refused.get_data(as_text=True)
        assert [message.phone for message in texts()] == ["+14165550199"]


class TestOneAnswerForEveryone:
    @pytest.fixture
    def app_config(self, database_url: str, tmp_path: Path) -> dict[str, Any]:
        return webhook_config(database_url, tmp_path)

    @staticmethod
    def answer(response: Any) -> str:
        """The page, without the masked number it echoes back (+1 ••• 0123)."""
        assert response.status_code == 200
        return re.sub(r"\+1 ••• \d{4}", "+1 ••• NNNN", response.get_data(as_text=True))

    def test_the_answer_is_the_same_whether_a_number_is_new_subscribed_opted_out_or_unreachable(
        self, client: FlaskClient, course: Any
    ) -> None:
        subscribed = Handset(client, "+12015550111")
        subscribed.text("JOIN")
        subscribed.text("YES")
        opted_out = Handset(client, "+12015550122")
        opted_out.text("JOIN")
        opted_out.text("STOP")
        db.session.add(
            Subscriber(
                phone="+12015550133",
                time_zones=["America/New_York"],
                status=SubscriberStatus.UNREACHABLE,
                unreachable_reason="21614",
            )
        )
        db.session.commit()
        before = len(texts())

        new = self.answer(submit(client, course, "(201) 555-0144"))
        assert "If <strong>+1 ••• NNNN</strong> can receive our texts" in new
        assert len(texts()) == before + 1
        for number in ("(201) 555-0111", "(201) 555-0122", "(201) 555-0133"):
            assert self.answer(submit(client, course, number)) == new, number
        assert len(texts()) == before + 1  # nothing to the subscribed, opted-out or unreachable
