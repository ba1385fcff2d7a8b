"""Forgetting a person who said STOP keeps their STOP: the web form and every send path
refuse the number (kept only as a keyed hash), until the person texts START or JOIN."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from inbound_support import NUMBER, Handset, set_clock, webhook_config

from dripper.extensions import db
from dripper.models import (
    Direction,
    Message,
    MessageKind,
    MessageStatus,
    Subscriber,
    SubscriberStatus,
    Suppression,
)

NEW_YORK = ZoneInfo("America/New_York")
AFTERNOON = datetime(2026, 6, 2, 14, 0, tzinfo=NEW_YORK)


@pytest.fixture
def app_config(database_url: str, tmp_path: Path) -> dict[str, Any]:
    return webhook_config(database_url, tmp_path)


@pytest.fixture(autouse=True)
def _afternoon(app: Any) -> None:
    set_clock(AFTERNOON)


def submit(client: FlaskClient, course: Any, phone: str = "(201) 555-0123") -> Any:
    form = {"course": str(course.id), "phone": phone, "send_time": "09:00", "consent": "y"}
    return client.post("/signup", data=form)


def texts_to(phone: str = NUMBER) -> list[Message]:
    db.session.expire_all()
    return list(
        db.session.scalars(
            sa.select(Message)
            .where(Message.phone == phone, Message.direction == Direction.OUTBOUND)
            .order_by(Message.id)
        )
    )


def suppressed() -> list[Suppression]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(Suppression)))


def forget(runner: FlaskCliRunner, phone: str = NUMBER) -> str:
    result = runner.invoke(args=["subscriber", "forget", phone, "--yes"])
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture
def forgotten_after_stop(client: FlaskClient, course: Any, runner: FlaskCliRunner) -> Handset:
    """A person who joined, said STOP, and asked to be forgotten; their new phone view."""
    phone = Handset(client)
    phone.text("JOIN")
    phone.text("YES")
    phone.text("STOP")
    output = forget(runner)
    assert "suppression list" in output
    return Handset(client)


def test_the_web_form_does_not_text_a_forgotten_number_that_said_stop(
    client: FlaskClient, course: Any, forgotten_after_stop: Handset
) -> None:
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Subscriber)) == 0
    [entry] = suppressed()
    assert "2015550123" not in entry.phone_hash  # a keyed hash, not the number

    response = submit(client, course, "+1 201 555 0123")

    assert response.status_code == 200
    assert "can receive our texts" in response.get_data(as_text=True)  # the neutral answer
    assert texts_to() == []
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Subscriber)) == 0


def test_a_forgotten_number_that_texts_start_is_asked_to_confirm_and_taken_off_the_list(
    client: FlaskClient, course: Any, forgotten_after_stop: Handset
) -> None:
    phone = forgotten_after_stop

    phone.text("START")

    assert [m.kind for m in phone.new_replies()] == [MessageKind.CONFIRMATION_REQUEST]
    assert suppressed() == []
    phone.text("YES")
    assert [m.kind for m in phone.new_replies()] == [MessageKind.WELCOME]


def test_a_forgotten_number_that_texts_join_re_consents(
    client: FlaskClient, course: Any, forgotten_after_stop: Handset
) -> None:
    forgotten_after_stop.text("JOIN")

    assert [m.kind for m in forgotten_after_stop.new_replies()] == [
        MessageKind.CONFIRMATION_REQUEST
    ]
    assert suppressed() == []
    # The number is an ordinary one again: the form may text it.
    assert submit(client, course).status_code == 200


def test_anything_else_from_a_forgotten_number_is_answered_as_after_a_stop(
    client: FlaskClient, course: Any, forgotten_after_stop: Handset
) -> None:
    phone = forgotten_after_stop

    phone.text("hello, what is this?")
    assert phone.new_replies() == []  # no join hint: they said STOP
    subscriber = phone.subscriber()
    assert subscriber is not None and subscriber.status is SubscriberStatus.OPTED_OUT
    phone.text("HELP")
    assert [m.kind for m in phone.new_replies()] == [MessageKind.HELP]  # HELP always works

    submit(client, course)
    assert phone.new_replies() == []
    assert len(suppressed()) == 1


def test_no_send_path_texts_a_suppressed_number(
    app: Flask, course: Any, forgotten_after_stop: Handset
) -> None:
    from dripper.sms.delivery import DeliveryOutcome, deliver_message
    from dripper.sms.outbox import queue_message

    lesson = queue_message(NUMBER, MessageKind.LESSON, course.lessons[0].text)
    db.session.commit()

    assert deliver_message(lesson.id) is DeliveryOutcome.CANCELED
    db.session.expire_all()
    assert db.session.get(Message, lesson.id).status is MessageStatus.CANCELED  # type: ignore[union-attr]


def test_forgetting_someone_who_never_said_stop_keeps_nothing(
    client: FlaskClient, course: Any, runner: FlaskCliRunner
) -> None:
    phone = Handset(client)
    phone.text("JOIN")
    forget(runner)

    assert suppressed() == []
    assert submit(client, course).status_code == 200
    assert [m.kind for m in texts_to()] == [MessageKind.CONFIRMATION_REQUEST]


def test_the_list_survives_a_key_change_while_the_old_key_is_listed(
    app: Flask, client: FlaskClient, course: Any, forgotten_after_stop: Handset
) -> None:
    app.config["SUPPRESSION_KEY"] = "a-new-suppression-key"
    app.config["SUPPRESSION_OLD_KEYS"] = "test-secret"  # the SECRET_KEY it was derived from
    submit(client, course)
    assert texts_to() == []

    before = suppressed()[0].phone_hash
    forgotten_after_stop.text("hello")  # the number comes by: re-keyed to the new key
    assert suppressed()[0].phone_hash != before

    from dripper.suppression import is_suppressed

    app.config["SUPPRESSION_OLD_KEYS"] = None
    assert is_suppressed(NUMBER)
