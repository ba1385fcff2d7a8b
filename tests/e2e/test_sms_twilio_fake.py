"""The fake Twilio server answers like Twilio, so the sending tests mean something."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import requests
from twilio.base.exceptions import TwilioRestException
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from dripper_testkit.twilio_fake import FakeTwilio

PHONE = "+15005550123"


def post(fake: FakeTwilio, auth: tuple[str, str] | None = None, **params: str) -> requests.Response:
    return requests.post(
        f"{fake.url}/2010-04-01/Accounts/{fake.account_sid}/Messages.json",
        data=params,
        auth=auth or (fake.account_sid, fake.auth_token),
        timeout=5,
    )


def client_for(fake: FakeTwilio) -> Client:
    client = Client(fake.account_sid, fake.auth_token)
    client.api.base_url = fake.url
    return client


def test_wrong_credentials_answer_401_in_twilios_error_shape(twilio_server: FakeTwilio) -> None:
    response = post(twilio_server, auth=(twilio_server.account_sid, "wrong"), To=PHONE, Body="x")

    assert response.status_code == 401
    assert set(response.json()) == {"code", "message", "more_info", "status"}
    assert response.json()["code"] == 20003
    assert twilio_server.messages == []


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"From": "+15005550006", "Body": "x"}, 21604),
        ({"To": "555-0123", "From": "+15005550006", "Body": "x"}, 21211),
        ({"To": PHONE, "Body": "x"}, 21603),
        ({"To": PHONE, "From": "+15005550006"}, 21602),
        ({"To": PHONE, "From": "+15005550006", "Body": "x" * 1601}, 21617),
        ({"To": PHONE, "MessagingServiceSid": "MGnope", "Body": "x"}, 21701),
    ],
)
def test_sends_are_validated_like_twilio(
    twilio_server: FakeTwilio, params: dict[str, str], code: int
) -> None:
    response = post(twilio_server, **params)

    assert response.status_code == 400
    assert response.json()["code"] == code


def test_the_official_client_sends_and_reads_twilio_errors(twilio_server: FakeTwilio) -> None:
    client = client_for(twilio_server)
    message = client.messages.create(to=PHONE, from_="+15005550006", body="hello")
    assert message.sid.startswith("SM") and message.status == "queued"
    assert message.body == "hello"

    twilio_server.opt_out(PHONE)
    with pytest.raises(TwilioRestException) as refused:
        client.messages.create(to=PHONE, from_="+15005550006", body="again")
    assert (refused.value.status, refused.value.code) == (400, 21610)


def test_messages_are_listed_by_recipient_and_day_with_paging(twilio_server: FakeTwilio) -> None:
    client = client_for(twilio_server)
    for n in range(5):
        client.messages.create(to=PHONE, from_="+15005550006", body=f"m{n}")
    client.messages.create(to="+15005550999", from_="+15005550006", body="other")

    today = datetime.now(UTC).strftime("%Y-%m-%d")
    listed = client.messages.list(to=PHONE, date_sent_after=today, page_size=2)

    assert sorted(m.body for m in listed) == [f"m{n}" for n in range(5)]
    assert len([r for r in twilio_server.lookups() if r.params.get("Page")]) == 2
    assert client.messages.list(to=PHONE, date_sent_after="2999-01-01") == []


def test_status_callback_is_signed_like_twilio(twilio_server: FakeTwilio) -> None:
    client = client_for(twilio_server)
    sid = client.messages.create(
        to=PHONE, from_="+15005550006", body="x", status_callback="https://app.test/sms/status"
    ).sid

    url, params, headers = twilio_server.callback_request(sid, "delivered")

    assert url == "https://app.test/sms/status"
    assert params["MessageSid"] == sid and params["MessageStatus"] == "delivered"
    validator = RequestValidator(twilio_server.auth_token)
    assert validator.validate(url, params, headers["X-Twilio-Signature"])
    assert twilio_server.message(sid).status == "delivered"


def test_faults_apply_in_order_and_only_to_sends(twilio_server: FakeTwilio) -> None:
    twilio_server.throttle_next()
    twilio_server.server_error_next()

    assert client_for(twilio_server).messages.list(to=PHONE) == []
    assert post(twilio_server, To=PHONE, From="+15005550006", Body="x").status_code == 429
    assert post(twilio_server, To=PHONE, From="+15005550006", Body="x").status_code == 500
    assert post(twilio_server, To=PHONE, From="+15005550006", Body="x").status_code == 201
