"""Only Twilio gets in: forged, missing and replayed signatures, signatures for another
URL, and requests through a proxy, on both webhooks (``/sms/inbound``, ``/sms/status``).

Twilio signs the URL it called (PUBLIC_URL + path) and the form; the service never
trusts the URL the request arrived on, nor the ``X-Forwarded-*`` headers in front of it.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient
from inbound_support import (
    AUTH_TOKEN,
    NUMBER,
    Handset,
    inbound_params,
    post_signed,
    sign,
    webhook_config,
)

from dripper.extensions import db
from dripper.models import (
    Message,
    MessageStatus,
    SubscriberStatus,
)
from dripper_testkit.builders import new_sid, outbound_message

INBOUND = "/sms/inbound"
STATUS = "/sms/status"

# The signature check reads no database; one is enough.
pytestmark = pytest.mark.database("sqlite")


@pytest.fixture
def app_config(database_url: str, tmp_path: Path) -> dict[str, Any]:
    return webhook_config(database_url, tmp_path)


@pytest.fixture
def sent(app: Any) -> Message:
    """A lesson the provider accepted; Twilio reports on it."""
    message = outbound_message(NUMBER, body="lesson text", provider_sid=new_sid())
    db.session.commit()
    return message


def status_params(message: Message, status: str, **extra: str) -> dict[str, str]:
    sid = message.provider_sid or ""
    return {"MessageSid": sid, "SmsSid": sid, "MessageStatus": status, "To": NUMBER, **extra}


def messages() -> list[tuple[str, str, str]]:
    db.session.rollback()
    return [
        (m.direction.value, m.status.value, m.body)
        for m in db.session.scalars(sa.select(Message).order_by(Message.id))
    ]


def forgeries(path: str, params: dict[str, str]) -> dict[str, str | None]:
    """Signatures an attacker could try, each with the reason it must fail."""
    genuine = sign(path, params)
    return {
        "missing": None,
        "empty": "",
        "another token": sign(path, params, token="not-" + AUTH_TOKEN),
        "random": base64.b64encode(b"\x00" * 20).decode(),
        "not base64": "%%%not-a-signature%%%",
        "truncated": genuine[:-4],
        "other case": genuine.swapcase(),
        "doubled": genuine + genuine,
        "another form": sign(path, {**params, "Body": "something else"}),
    }


@pytest.mark.parametrize("path", [INBOUND, STATUS])
def test_a_forged_or_missing_signature_is_refused_and_changes_nothing(
    client: FlaskClient, course: Any, sent: Message, path: str
) -> None:
    params = inbound_params(NUMBER, "STOP") if path == INBOUND else status_params(sent, "delivered")
    before = messages()
    for name, signature in forgeries(path, params).items():
        headers = {} if signature is None else {"X-Twilio-Signature": signature}
        response = client.post(path, data=params, headers=headers)
        assert response.status_code == 403, name
    assert messages() == before


def test_a_replayed_message_is_answered_but_acted_on_only_once(
    client: FlaskClient, course: Any
) -> None:
    """Twilio signatures carry no timestamp, so a captured request stays valid: the
    MessageSid makes a replay harmless, even after the person has moved on."""
    phone = Handset(client)
    join = inbound_params(NUMBER, "JOIN")
    captured = sign(INBOUND, join)
    assert post_signed(client, INBOUND, join, signature=captured).status_code == 200
    phone.text("YES")
    phone.text("STOP")
    phone.new_replies()
    stored = messages()

    for _ in range(3):
        assert post_signed(client, INBOUND, join, signature=captured).status_code == 200

    assert messages() == stored  # nothing stored twice, nothing sent
    subscriber = phone.subscriber()
    assert subscriber is not None and subscriber.status is SubscriberStatus.OPTED_OUT


def test_a_signature_replayed_onto_another_message_is_refused(
    client: FlaskClient, course: Any
) -> None:
    captured_params = inbound_params(NUMBER, "JOIN")
    captured = sign(INBOUND, captured_params)
    assert post_signed(client, INBOUND, captured_params, signature=captured).status_code == 200
    before = messages()

    for forged in (
        {**captured_params, "MessageSid": new_sid()},  # a new sid to get past the dedupe
        {**captured_params, "Body": "STOP"},
        {**captured_params, "From": "+12025550187"},
    ):
        assert post_signed(client, INBOUND, forged, signature=captured).status_code == 403

    assert messages() == before


def test_a_replayed_status_callback_never_moves_a_message_back(
    client: FlaskClient, sent: Message
) -> None:
    earlier = status_params(sent, "sent")
    captured = sign(STATUS, earlier)
    assert post_signed(client, STATUS, earlier, signature=captured).status_code == 204
    assert post_signed(client, STATUS, status_params(sent, "delivered")).status_code == 204

    assert post_signed(client, STATUS, earlier, signature=captured).status_code == 204

    db.session.rollback()
    assert db.session.get(Message, sent.id).status is MessageStatus.DELIVERED  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "signed_url",
    [
        "http://dripper.test/sms/inbound",  # the scheme a proxy strips
        "https://evil.example/sms/inbound",  # another host
        "https://dripper.test/sms/status",  # the other webhook
        "https://dripper.test/sms/inbound/",
        "https://dripper.test/sms/inbound?retry=1",
        "https://dripper.test.evil.example/sms/inbound",
        "http://localhost/sms/inbound",  # the URL the request arrived on
    ],
)
def test_a_request_signed_for_another_url_is_refused(
    client: FlaskClient, course: Any, signed_url: str
) -> None:
    params = inbound_params(NUMBER, "JOIN")
    signature = sign(INBOUND, params, url=signed_url)
    assert post_signed(client, INBOUND, params, signature=signature).status_code == 403
    assert messages() == []


PROXY = {
    "X-Forwarded-Proto": "https",
    "X-Forwarded-Host": "dripper.test",
    "X-Forwarded-For": "54.172.60.1",
    "X-Forwarded-Port": "443",
}


@pytest.mark.parametrize("path", [INBOUND, STATUS])
def test_behind_a_proxy_a_request_signed_for_the_public_url_gets_in(
    client: FlaskClient, course: Any, sent: Message, path: str
) -> None:
    params = inbound_params(NUMBER, "JOIN") if path == INBOUND else status_params(sent, "delivered")
    # The proxy called the app on plain HTTP at an internal address.
    response = client.post(
        path,
        data=params,
        base_url="http://10.0.0.5:8000",
        headers={"X-Twilio-Signature": sign(path, params), **PROXY},
    )
    assert response.status_code in (200, 204)


@pytest.mark.parametrize(
    ("headers", "signed_url"),
    [
        # Whoever can reach the app directly may claim any host: it does not move the URL
        # the signature is checked against.
        ({**PROXY, "X-Forwarded-Host": "evil.example"}, "https://evil.example/sms/inbound"),
        ({**PROXY, "X-Forwarded-Proto": "http"}, "http://dripper.test/sms/inbound"),
        (
            {**PROXY, "X-Forwarded-Prefix": "/other"},
            "https://dripper.test/other/sms/inbound",
        ),
        ({**PROXY, "X-Forwarded-Port": "8443"}, "https://dripper.test:8443/sms/inbound"),
    ],
)
def test_forwarded_headers_never_change_the_url_a_signature_must_match(
    client: FlaskClient, course: Any, headers: dict[str, str], signed_url: str
) -> None:
    params = inbound_params(NUMBER, "JOIN")
    response = client.post(
        INBOUND,
        data=params,
        base_url="http://10.0.0.5:8000",
        headers={"X-Twilio-Signature": sign(INBOUND, params, url=signed_url), **headers},
    )
    assert response.status_code == 403
    assert messages() == []
