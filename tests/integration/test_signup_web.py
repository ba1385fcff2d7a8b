"""The landing page and web signup: clear disclosure, explicit consent, double opt-in."""

from __future__ import annotations

import re
from datetime import datetime, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient
from inbound_support import NUMBER, Handset, set_clock, webhook_config

from dripper.extensions import db
from dripper.models import (
    Message,
    MessageKind,
    Subscriber,
    SubscriberStatus,
    Subscription,
    SubscriptionState,
)

NEW_YORK = ZoneInfo("America/New_York")
AFTERNOON = datetime(2026, 6, 2, 14, 0, tzinfo=NEW_YORK)


@pytest.fixture
def app_config(database_url: str, tmp_path: Path) -> dict[str, Any]:
    return webhook_config(database_url, tmp_path)


@pytest.fixture(autouse=True)
def _pages(app: Any) -> None:
    set_clock(AFTERNOON)


def submit(client: FlaskClient, course: Any, **fields: str) -> Any:
    form = {"course": str(course.id), "phone": "(201) 555-0123", "send_time": "09:00"}
    form.update(fields)
    if "consent" not in fields:
        form["consent"] = "y"
    form = {name: value for name, value in form.items() if value is not None}
    return client.post("/signup", data=form)


def outbound() -> list[Message]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(Message).where(Message.direction == "outbound")))


def test_the_landing_page_says_what_you_get_how_often_and_how_to_stop(
    client: FlaskClient, course: Any
) -> None:
    page = client.get("/").get_data(as_text=True)

    assert course.title in page
    assert "hear pushback as a message" in page  # the description
    assert "18 in all" in page
    for disclosure in [
        "about 2 msgs/day",
        "Msg &amp; data rates may apply",
        "Reply HELP for help",
        "STOP to cancel",
        "Consent is not a condition of purchase",
    ]:
        assert disclosure in page
    assert "never before 8:00 AM or after 9:00 PM" in page


def test_the_consent_box_starts_unticked_and_the_time_defaults_to_nine(
    client: FlaskClient, course: Any
) -> None:
    page = client.get("/").get_data(as_text=True)

    consent = re.search(r"<input[^>]*name=\"consent\"[^>]*>", page)
    assert consent is not None and "checked" not in consent.group(0)
    assert re.search(r"<option selected value=\"09:00\">|<option value=\"09:00\" selected", page)
    times = re.findall(r"<option[^>]*value=\"(\d\d:\d\d)\"", page)
    assert times[0] == "08:00" and times[-1] == "20:30"


def test_signing_up_texts_a_confirmation_request_and_waits_for_yes(
    client: FlaskClient, course: Any
) -> None:
    response = submit(client, course, phone="201.555.0123", send_time="19:30")

    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "If <strong>+1 ••• 0123</strong> can receive our texts, a confirmation text" in page
    assert "Reply <strong>YES</strong>" in page
    assert NUMBER not in page
    [request] = outbound()
    assert request.kind is MessageKind.CONFIRMATION_REQUEST
    assert request.phone == NUMBER
    subscriber = db.session.scalar(sa.select(Subscriber))
    assert subscriber is not None
    assert subscriber.send_time == time(19, 30)
    assert subscriber.time_zones == ["America/New_York"]
    [subscription] = subscriber.subscriptions
    assert subscription.state is SubscriptionState.PENDING
    assert subscription.source == "web"


@pytest.mark.parametrize(
    ("written", "message"),
    [
        ("", "Please enter your mobile number."),
        ("hello", "doesn&#39;t look like a phone number"),
        ("555-0123", "Include the area code"),
        ("+44 20 7946 0018", "looks like a landline"),
        ("+1 800 555 0123", "toll-free numbers"),
        ("33669", "Short codes"),
    ],
)
def test_a_number_we_cannot_text_is_refused_inline_and_nothing_is_stored(
    client: FlaskClient, course: Any, written: str, message: str
) -> None:
    response = submit(client, course, phone=written)

    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert message in page
    assert 'aria-invalid="true"' in page
    assert outbound() == []
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Subscriber)) == 0


def test_consent_must_be_given(client: FlaskClient, course: Any) -> None:
    response = submit(client, course, consent=None)  # type: ignore[arg-type]

    assert response.status_code == 400
    assert "Please tick the box" in response.get_data(as_text=True)
    assert outbound() == []


def test_a_time_outside_the_sending_window_is_refused(client: FlaskClient, course: Any) -> None:
    response = submit(client, course, send_time="23:00")

    assert response.status_code == 400
    assert outbound() == []


def test_someone_already_in_the_course_is_not_texted_again(
    client: FlaskClient, course: Any
) -> None:
    phone = Handset(client)
    phone.text("JOIN")
    phone.text("YES")
    texted = len(outbound())

    response = submit(client, course, phone="+1 201 555 0123", send_time="20:00")

    assert "can receive our texts" in response.get_data(as_text=True)  # the one neutral answer
    assert len(outbound()) == texted
    # Whoever typed the number cannot move the lessons of the person who owns it.
    assert phone.subscriber().send_time == time(9, 0)  # type: ignore[union-attr]


def test_a_number_that_said_stop_is_not_texted_from_the_form(
    client: FlaskClient, course: Any
) -> None:
    phone = Handset(client)
    phone.text("STOP")
    texted = len(outbound())

    response = submit(client, course)

    page = response.get_data(as_text=True)
    assert "can receive our texts" in page and "text START" in page  # the one neutral answer
    assert len(outbound()) == texted
    assert phone.subscriber().status is SubscriberStatus.OPTED_OUT  # type: ignore[union-attr]


def test_a_number_the_carrier_could_not_reach_is_not_texted(
    client: FlaskClient, course: Any
) -> None:
    db.session.add(
        Subscriber(
            phone=NUMBER,
            time_zones=["America/New_York"],
            status=SubscriberStatus.UNREACHABLE,
            unreachable_reason="21614",
        )
    )
    db.session.commit()

    response = submit(client, course)

    assert response.status_code == 200
    assert "can receive our texts" in response.get_data(as_text=True)  # the one neutral answer
    assert outbound() == []


def test_the_web_signup_then_the_whole_conversation_by_sms(
    client: FlaskClient, course: Any
) -> None:
    submit(client, course, send_time="18:00")
    phone = Handset(client)
    assert [m.kind for m in phone.new_replies()] == [MessageKind.CONFIRMATION_REQUEST]

    phone.text("Yes")
    [welcome] = phone.new_replies()
    assert welcome.kind is MessageKind.WELCOME
    assert "today at 6:00 PM" in welcome.body  # their chosen time, still ahead today

    phone.text("HELP")
    assert [m.kind for m in phone.new_replies()] == [MessageKind.HELP]
    phone.text("STOP")
    assert [m.kind for m in phone.new_replies()] == [MessageKind.STOP_CONFIRMATION]
    phone.text("please answer")
    assert phone.new_replies() == []
    phone.text("START")
    assert [m.kind for m in phone.new_replies()] == [MessageKind.REJOIN]
    subscription = db.session.scalar(sa.select(Subscription))
    assert subscription is not None and subscription.state is SubscriptionState.ACTIVE


class TestWithCsrfOn:
    @pytest.fixture
    def app_config(self, database_url: str, tmp_path: Path) -> dict[str, Any]:
        return webhook_config(database_url, tmp_path, WTF_CSRF_ENABLED=True)

    def test_a_post_without_the_form_token_is_refused(
        self, client: FlaskClient, course: Any
    ) -> None:
        response = submit(client, course)

        assert response.status_code == 400
        assert outbound() == []

    def test_a_post_from_the_page_goes_through(self, client: FlaskClient, course: Any) -> None:
        page = client.get("/").get_data(as_text=True)
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
        assert token is not None

        response = submit(client, course, csrf_token=token.group(1))

        assert response.status_code == 200
        assert [m.kind for m in outbound()] == [MessageKind.CONFIRMATION_REQUEST]
