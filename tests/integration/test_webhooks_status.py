"""POST /sms/status: Twilio's signed status callbacks move our outbound messages along."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from inbound_support import NUMBER, post_signed, sign, webhook_config

from dripper.extensions import db
from dripper.models import Message, MessageKind, MessageStatus
from dripper_testkit.builders import new_sid, outbound_message

PATH = "/sms/status"


@pytest.fixture
def app_config(database_url: str, tmp_path: Path) -> dict[str, Any]:
    return webhook_config(database_url, tmp_path)


@pytest.fixture
def sent(app: Any) -> Message:
    """A message the provider accepted and is now reporting on."""
    message = outbound_message(
        NUMBER, kind=MessageKind.HELP, body="help text", provider_sid=new_sid()
    )
    db.session.commit()
    return message


def callback(message: Message, status: str, **extra: str) -> dict[str, str]:
    return {
        "MessageSid": message.provider_sid or "",
        "SmsSid": message.provider_sid or "",
        "MessageStatus": status,
        "SmsStatus": status,
        "AccountSid": "AC" + "0" * 32,
        "To": NUMBER,
        "From": "+15005550006",
        **extra,
    }


def status_of(message: Message) -> MessageStatus:
    db.session.expire_all()
    return db.session.get(Message, message.id).status  # type: ignore[union-attr]


def test_a_signed_delivery_report_moves_the_message_to_delivered(
    client: FlaskClient, sent: Message
) -> None:
    response = post_signed(client, PATH, callback(sent, "delivered"))

    assert response.status_code in (200, 204)
    assert status_of(sent) is MessageStatus.DELIVERED


def test_a_failure_report_keeps_the_error_code(client: FlaskClient, sent: Message) -> None:
    params = callback(sent, "undelivered", ErrorCode="30003", ErrorMessage="Unreachable")
    assert post_signed(client, PATH, params).status_code in (200, 204)

    db.session.expire_all()
    message = db.session.get(Message, sent.id)
    assert message is not None
    assert message.status is MessageStatus.UNDELIVERED
    assert message.error_code == 30003


def test_an_unsigned_status_report_is_refused_and_changes_nothing(
    client: FlaskClient, sent: Message
) -> None:
    response = client.post(PATH, data=callback(sent, "delivered"))

    assert response.status_code == 403
    assert status_of(sent) is MessageStatus.QUEUED


def test_a_status_report_signed_for_the_inbound_url_is_refused(
    client: FlaskClient, sent: Message
) -> None:
    params = callback(sent, "delivered")
    wrong = sign(PATH, params, url="https://dripper.test/sms/inbound")

    assert post_signed(client, PATH, params, signature=wrong).status_code == 403
    assert status_of(sent) is MessageStatus.QUEUED


def test_a_report_for_a_message_we_do_not_know_is_acknowledged(
    client: FlaskClient, app: Any
) -> None:
    params = {"MessageSid": new_sid(), "MessageStatus": "delivered"}
    assert post_signed(client, PATH, params).status_code in (200, 204)


def test_a_report_without_a_sid_or_status_is_a_bad_request(
    client: FlaskClient, sent: Message
) -> None:
    assert post_signed(client, PATH, {"MessageStatus": "delivered"}).status_code == 400
    params = {"MessageSid": sent.provider_sid or ""}
    assert post_signed(client, PATH, params).status_code == 400
    assert status_of(sent) is MessageStatus.QUEUED
