"""The dev phone (``/sandbox/phone``): only in the sandbox, texting through the real,
signed webhook, and living through the schedule when the clock moves."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import phonenumbers
import pytest
from conftest import make_config
from flask import Flask
from flask.testing import FlaskClient
from inbound_support import inbound_params, post_signed, sign

from dripper import create_app
from dripper.config import ConfigError, load
from dripper.extensions import db
from dripper.models import Message, MessageKind, MessageStatus, Subscriber
from dripper.phones import time_zones_for
from dripper.sandbox import phone as dev_phone

SANDBOX_TOKEN = "sandbox-token-for-tests-0123456789"


@pytest.fixture
def app_config(database_url: str, tmp_path: Path) -> dict[str, Any]:
    # No TWILIO_AUTH_TOKEN: the dev phone signs with the sandbox's own token.
    return make_config(database_url, tmp_path, SANDBOX_AUTH_TOKEN=SANDBOX_TOKEN, SEND_RATE=1000.0)


def _new_phone(client: FlaskClient, country: str = "US") -> str:
    response = client.post("/sandbox/phone/api/phones", json={"country": country})
    assert response.status_code == 201, response.get_data(as_text=True)
    return str(response.get_json()["phone"])


def _text(client: FlaskClient, phone: str, body: str) -> dict[str, Any]:
    response = client.post(f"/sandbox/phone/api/phones/{phone[1:]}/messages", json={"body": body})
    assert response.status_code == 200, response.get_data(as_text=True)
    return dict(response.get_json())


def _step(client: FlaskClient, step: str, phone: str = "") -> None:
    response = client.post("/sandbox/phone/api/clock", json={"step": step, "phone": phone[1:]})
    assert response.status_code == 200, response.get_data(as_text=True)


def _state(client: FlaskClient, phone: str) -> dict[str, Any]:
    return dict(client.get(f"/sandbox/phone/api/phones/{phone[1:]}").get_json())


# -- only in the sandbox -----------------------------------------------------------------


def test_the_dev_phone_and_its_api_do_not_exist_outside_the_sandbox(
    database_url: str, tmp_path: Path
) -> None:
    app = create_app(make_config(database_url, tmp_path, DRIPPER_SANDBOX=False))
    with app.app_context():
        db.create_all()
        client = app.test_client()
        for path in (
            "/sandbox/phone",
            "/sandbox/phone/api/phones",
            "/sandbox/phone/api/phones/12015550123",
            "/sandbox/static/phone.js",
        ):
            assert client.get(path).status_code == 404, path
        for path in (
            "/sandbox/phone/api/phones",
            "/sandbox/phone/api/phones/12015550123/messages",
            "/sandbox/phone/api/phones/12015550123/reset",
            "/sandbox/phone/api/clock",
        ):
            assert client.post(path, json={"body": "JOIN", "step": "day"}).status_code == 404, path
        db.session.remove()
        db.engine.dispose()


def test_the_dev_phone_page_is_served_in_the_sandbox(client: FlaskClient, course: Any) -> None:
    page = client.get("/sandbox/phone?course=working-with-resistance")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Dev phone" in html and "RESIST" in html
    # Its CSS and JS ship with the package: nothing is fetched from a CDN.
    assert re.findall(r'(?:src|href)="([^"]+)"', html) == [
        "/sandbox/static/phone.css",
        "/sandbox/static/phone.js",
    ]
    assert client.get("/sandbox/static/phone.js").status_code == 200
    assert client.get("/sandbox/static/phone.css").status_code == 200


# -- production safety -------------------------------------------------------------------


def test_settings_refuse_the_sandbox_with_real_twilio(tmp_path: Path) -> None:
    environ = {
        "DRIPPER_SANDBOX": "1",
        "SMS_BACKEND": "twilio",
        "TWILIO_ACCOUNT_SID": "AC" + "1" * 32,
        "TWILIO_AUTH_TOKEN": "secret",
        "TWILIO_FROM_NUMBER": "+15005550006",
    }
    with pytest.raises(ConfigError, match="DRIPPER_SANDBOX=1 cannot run with SMS_BACKEND=twilio"):
        load(tmp_path, environ)
    # Credentials alone pick Twilio too: still refused.
    without_backend = {k: v for k, v in environ.items() if k != "SMS_BACKEND"}
    with pytest.raises(ConfigError):
        load(tmp_path, without_backend)
    assert load(tmp_path, {**environ, "DRIPPER_SANDBOX": "0", "SECRET_KEY": "s"})


def test_the_sandbox_token_is_kept_in_the_instance_folder(tmp_path: Path) -> None:
    first = load(tmp_path, {"DRIPPER_SANDBOX": "1"})["SANDBOX_AUTH_TOKEN"]
    assert first and (tmp_path / "sandbox_auth_token").read_text().strip() == first
    assert load(tmp_path, {"DRIPPER_SANDBOX": "1"})["SANDBOX_AUTH_TOKEN"] == first
    assert "SANDBOX_AUTH_TOKEN" not in load(tmp_path, {"SECRET_KEY": "s"})


# -- the signature -----------------------------------------------------------------------


def test_a_dev_phone_text_is_signed_as_twilio_signs_it(app: Flask, client: FlaskClient) -> None:
    phone = _new_phone(client)
    with app.test_request_context():
        path, form, signature = dev_phone.signed_inbound(phone, "JOIN")
    assert signature == sign(path, form, token=SANDBOX_TOKEN)
    assert post_signed(client, path, form, signature=signature).status_code == 200
    forged = dict(form, Body="STOP", MessageSid="SM" + "f" * 32)
    assert post_signed(client, path, forged, signature=signature).status_code == 403
    assert (
        post_signed(
            client, path, inbound_params(phone, "JOIN"), signature="bm90IGEgc2lnbmF0dXJl"
        ).status_code
        == 403
    )


def test_the_sandbox_token_is_refused_outside_the_sandbox(
    database_url: str, tmp_path: Path
) -> None:
    app = create_app(
        make_config(database_url, tmp_path, DRIPPER_SANDBOX=False, SANDBOX_AUTH_TOKEN=SANDBOX_TOKEN)
    )
    with app.app_context():
        db.create_all()
        params = inbound_params("+12015550123", "JOIN")
        signature = sign("/sms/inbound", params, token=SANDBOX_TOKEN)
        response = app.test_client().post(
            "/sms/inbound", data=params, headers={"X-Twilio-Signature": signature}
        )
        assert response.status_code == 403
        assert db.session.query(Message).count() == 0
        db.session.remove()
        db.engine.dispose()


# -- numbers -----------------------------------------------------------------------------


@pytest.mark.parametrize("country", ["US", "GB", "IN", "BR", "DE", "AU", "JP"])
def test_a_pretend_number_is_a_mobile_number_of_its_country(
    client: FlaskClient, country: str
) -> None:
    phone = _new_phone(client, country)
    number = phonenumbers.parse(phone, None)
    assert phonenumbers.region_code_for_number(number) == country
    assert phonenumbers.is_valid_number(number)
    assert phonenumbers.number_type(number) in dev_phone._MOBILE
    assert _state(client, phone)["zone"] == time_zones_for(phone)[0]


def test_only_pretend_numbers_can_be_texted_from_or_reset(client: FlaskClient) -> None:
    assert client.get("/sandbox/phone/api/phones/12015550123").status_code == 404
    assert client.post("/sandbox/phone/api/phones/12015550123/reset").status_code == 404
    assert (
        client.post(
            "/sandbox/phone/api/phones/12015550123/messages", json={"body": "JOIN"}
        ).status_code
        == 404
    )


# -- living through the course ------------------------------------------------------------


def test_join_yes_and_a_day_bring_the_first_lesson_then_its_question(
    app: Flask, client: FlaskClient, course: Any
) -> None:
    phone = _new_phone(client, "US")
    zone = ZoneInfo(time_zones_for(phone)[0])
    dev_phone.sandbox_clock().set(datetime(2026, 3, 2, 7, 0, tzinfo=zone))  # a Monday morning

    state = _text(client, phone, "JOIN")
    assert [m["kind"] for m in state["messages"]] == ["reply", "confirmation_request"]
    assert state["messages"][1]["status"] == "sent"  # delivered by the console sender
    state = _text(client, phone, "YES")
    assert "next lesson 1 of" in state["schedule"][0]["summary"]

    _step(client, "day")
    kinds = [m["kind"] for m in _state(client, phone)["messages"] if m["direction"] == "outbound"]
    assert kinds[-2:] == ["lesson", "question"]
    lesson, question = (
        db.session.query(Message)
        .filter(
            Message.phone == phone, Message.kind.in_([MessageKind.LESSON, MessageKind.QUESTION])
        )
        .order_by(Message.id)
        .all()
    )
    # Each sent at its own time, as beat would have: the lesson at 9:00, the question later.
    assert lesson.created_at.astimezone(zone).hour == 9
    assert question.created_at > lesson.created_at
    assert {lesson.status, question.status} == {MessageStatus.SENT}

    state = _text(client, phone, "This made me think about how I talk to my brother, really useful")
    reply = (
        state["messages"][-1]
        if state["messages"][-1]["direction"] == "inbound"
        else next(m for m in reversed(state["messages"]) if m["direction"] == "inbound")
    )
    assert reply["label"] == "engaged" and reply["confidence"] is not None
    assert state["schedule"][0]["days_out"] == 1
    assert "engaged" in state["schedule"][0]["summary"]


def test_a_resistant_reply_puts_the_next_lesson_two_days_out(
    app: Flask, client: FlaskClient, course: Any
) -> None:
    phone = _new_phone(client, "GB")
    zone = ZoneInfo(time_zones_for(phone)[0])
    dev_phone.sandbox_clock().set(datetime(2026, 3, 2, 7, 0, tzinfo=zone))
    _text(client, phone, "JOIN")
    _text(client, phone, "YES")
    _step(client, "next", phone)  # the first lesson
    _step(client, "next", phone)  # its question
    state = _text(client, phone, "not for me, this won't work on my dad")
    inbound = [m for m in state["messages"] if m["direction"] == "inbound"]
    assert inbound[-1]["label"] == "resistant"
    schedule = state["schedule"][0]
    assert schedule["action"] == "lesson" and schedule["days_out"] == 2
    assert "two days after the last lesson" in schedule["summary"]
    assert "resistant" in schedule["summary"]


def test_a_second_resistant_reply_in_a_row_turns_the_next_lesson_into_an_offer(
    app: Flask, client: FlaskClient, course: Any
) -> None:
    phone = _new_phone(client, "GB")
    zone = ZoneInfo(time_zones_for(phone)[0])
    dev_phone.sandbox_clock().set(datetime(2026, 3, 2, 7, 0, tzinfo=zone))
    _text(client, phone, "JOIN")
    _text(client, phone, "YES")
    for _ in range(2):
        _step(client, "next", phone)  # a lesson
        _step(client, "next", phone)  # its question
        state = _text(client, phone, "not for me, this won't work on my dad")
    schedule = state["schedule"][0]
    assert schedule["action"] == "offer"
    assert "2 resistant replies in a row" in schedule["summary"]
    assert "offered (reply NEXT), not pushed" in schedule["summary"]


def test_the_clock_stops_with_a_clear_message_when_no_worker_takes_a_due_send(
    app: Flask, client: FlaskClient, course: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    phone = _new_phone(client, "US")
    zone = ZoneInfo(time_zones_for(phone)[0])
    dev_phone.sandbox_clock().set(datetime(2026, 3, 2, 7, 0, tzinfo=zone))  # a Monday morning
    _text(client, phone, "JOIN")
    _text(client, phone, "YES")

    # A worker that answers pings but takes no task: the lesson stays unsent.
    app.config["SANDBOX_SEND_WAIT"] = 0.3
    monkeypatch.setattr(dev_phone, "worker_answers", lambda: True)
    response = client.post("/sandbox/phone/api/clock", json={"step": "day"})
    assert response.status_code == 504
    assert "not sent" in response.get_json()["error"]
    db.session.expire_all()
    # The clock stayed at the lesson's time instead of passing its window unsent.
    assert dev_phone.sandbox_clock().now().astimezone(zone).hour == 9
    kinds = [m.kind for m in db.session.query(Message).filter_by(phone=phone)]
    assert MessageKind.LESSON in kinds and MessageKind.QUESTION not in kinds
    lesson = db.session.query(Message).filter_by(phone=phone, kind=MessageKind.LESSON).one()
    assert lesson.status is MessageStatus.PENDING

    # Sent in the request once no worker answers; the step then goes on to the question.
    monkeypatch.undo()
    _step(client, "day")
    db.session.expire_all()
    sent = db.session.query(Message).filter(
        Message.phone == phone, Message.kind.in_([MessageKind.LESSON, MessageKind.QUESTION])
    )
    assert {m.kind: m.status for m in sent} == {
        MessageKind.LESSON: MessageStatus.SENT,
        MessageKind.QUESTION: MessageStatus.SENT,
    }


def test_reset_forgets_a_pretend_number(app: Flask, client: FlaskClient, course: Any) -> None:
    phone = _new_phone(client)
    _text(client, phone, "JOIN")
    assert client.post(f"/sandbox/phone/api/phones/{phone[1:]}/reset").status_code == 200
    db.session.expire_all()
    assert db.session.query(Subscriber).filter_by(phone=phone).count() == 0
    assert db.session.query(Message).filter_by(phone=phone).count() == 0
    # The number stays, empty, ready to JOIN again.
    assert _state(client, phone)["messages"] == []
    assert phone in dev_phone.pretend_numbers()
