"""POST /sms/inbound: only Twilio's signed requests get in, each message is stored
once before it is acted on, and the answer is a fast, empty TwiML response."""

from __future__ import annotations

import base64
import hashlib
import hmac
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any, ClassVar

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from inbound_support import (
    NUMBER,
    PUBLIC_URL,
    inbound_params,
    post_signed,
    set_clock,
    sign,
    webhook_config,
    work_queued_texts,
)

from dripper.clock import now
from dripper.extensions import db
from dripper.models import Direction, Message, MessageKind, MessageStatus
from dripper_testkit.builders import new_sid

PATH = "/sms/inbound"


@pytest.fixture
def app_config(database_url: str, tmp_path: Path) -> dict[str, Any]:
    return webhook_config(database_url, tmp_path)


def inbound_messages() -> list[Message]:
    db.session.expire_all()
    return list(
        db.session.scalars(
            sa.select(Message).where(Message.direction == Direction.INBOUND).order_by(Message.id)
        )
    )


def outbound_messages() -> list[Message]:
    db.session.expire_all()
    return list(
        db.session.scalars(
            sa.select(Message).where(Message.direction == Direction.OUTBOUND).order_by(Message.id)
        )
    )


def test_a_signed_message_is_stored_and_answered_with_empty_twiml(
    client: FlaskClient, course: Any
) -> None:
    params = inbound_params(NUMBER, "hello there")
    response = post_signed(client, PATH, params)

    assert response.status_code == 200
    assert response.mimetype == "text/xml"
    assert response.get_data(as_text=True).replace(" ", "").endswith("<Response/>")
    [stored] = inbound_messages()
    assert stored.provider_sid == params["MessageSid"]
    assert stored.phone == NUMBER
    assert stored.body == "hello there"
    assert stored.kind is MessageKind.REPLY
    assert stored.status is MessageStatus.RECEIVED


def test_the_signature_is_checked_against_the_public_url_not_the_request_url(
    client: FlaskClient, course: Any
) -> None:
    # The test client calls http://localhost/sms/inbound, as a proxy would; Twilio signed
    # the public URL.
    params = inbound_params(NUMBER, "JOIN")
    assert post_signed(client, PATH, params).status_code == 200
    forged = inbound_params(NUMBER, "JOIN")
    localhost = sign(PATH, forged, url="http://localhost" + PATH)
    assert post_signed(client, PATH, forged, signature=localhost).status_code == 403


def test_a_message_without_a_signature_is_refused_and_nothing_is_stored(
    client: FlaskClient, course: Any
) -> None:
    response = client.post(PATH, data=inbound_params(NUMBER, "STOP"))

    assert response.status_code == 403
    assert inbound_messages() == [] and outbound_messages() == []


def test_a_message_with_a_wrong_signature_is_refused_and_nothing_is_stored(
    client: FlaskClient, course: Any
) -> None:
    params = inbound_params(NUMBER, "JOIN")
    wrong = sign(PATH, params, token="not-the-auth-token")

    assert post_signed(client, PATH, params, signature=wrong).status_code == 403
    assert post_signed(client, PATH, params, signature="").status_code == 403
    assert post_signed(client, PATH, params, signature="x" * 28).status_code == 403
    assert inbound_messages() == []


def test_a_signature_for_another_url_is_refused(client: FlaskClient, course: Any) -> None:
    params = inbound_params(NUMBER, "JOIN")
    for url in [
        PUBLIC_URL + "/sms/status",
        "https://evil.example" + PATH,
        PUBLIC_URL + PATH + "?x=1",
    ]:
        response = post_signed(client, PATH, params, signature=sign(PATH, params, url=url))
        assert response.status_code == 403, url
    assert inbound_messages() == []


def test_a_signature_for_other_params_is_refused(client: FlaskClient, course: Any) -> None:
    signed = inbound_params(NUMBER, "hello")
    tampered = {**signed, "Body": "STOP"}
    extra = {**signed, "Extra": "1"}

    assert post_signed(client, PATH, tampered, signature=sign(PATH, signed)).status_code == 403
    assert post_signed(client, PATH, extra, signature=sign(PATH, signed)).status_code == 403
    assert inbound_messages() == []


def test_a_query_string_twilio_was_given_is_part_of_the_signed_url(
    client: FlaskClient, course: Any
) -> None:
    params = inbound_params(NUMBER, "hello")
    signature = sign(PATH, params, url=PUBLIC_URL + PATH + "?source=console")
    response = client.post(
        PATH + "?source=console", data=params, headers={"X-Twilio-Signature": signature}
    )
    assert response.status_code == 200
    assert len(inbound_messages()) == 1


def test_the_same_message_sid_twice_is_stored_once_and_answered_once(
    client: FlaskClient, course: Any
) -> None:
    params = inbound_params(NUMBER, "JOIN")
    first = post_signed(client, PATH, params)
    again = post_signed(client, PATH, params)
    # Both webhooks queued it (the first was not acted on yet): a worker acts on it once.
    assert work_queued_texts() == 1

    assert first.status_code == again.status_code == 200
    assert again.get_data(as_text=True).replace(" ", "").endswith("<Response/>")
    assert len(inbound_messages()) == 1
    assert [m.kind for m in outbound_messages()] == [MessageKind.CONFIRMATION_REQUEST]


def test_a_repeat_racing_past_the_check_meets_the_unique_sid_and_is_ignored(
    client: FlaskClient, course: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    params = inbound_params(NUMBER, "JOIN")
    assert post_signed(client, PATH, params).status_code == 200
    work_queued_texts()
    # The twin arrives before the first commit is visible: the pre-check sees nothing.
    real_scalar = db.session.scalar

    def blind_to_the_first(statement: Any, *args: Any, **kwargs: Any) -> Any:
        if "provider_sid" in str(statement) and "message.id" in str(statement):
            return None
        return real_scalar(statement, *args, **kwargs)

    monkeypatch.setattr(db.session, "scalar", blind_to_the_first)
    again = post_signed(client, PATH, params)
    monkeypatch.undo()
    work_queued_texts()

    assert again.status_code == 200
    assert len(inbound_messages()) == 1
    assert len(outbound_messages()) == 1


def test_a_message_whose_handling_failed_is_handled_when_twilio_retries_it(
    client: FlaskClient, course: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dripper.conversation import handle

    real_handle = handle.handle_inbound

    def broken(message: Any) -> None:
        raise RuntimeError("the database went away")

    # HELP is acted on in its webhook (its answer goes back in the TwiML).
    params = inbound_params(NUMBER, "HELP")
    monkeypatch.setattr(handle, "handle_inbound", broken)
    assert post_signed(client, PATH, params).status_code == 500
    assert len(inbound_messages()) == 1  # stored all the same
    assert outbound_messages() == []

    monkeypatch.setattr(handle, "handle_inbound", real_handle)
    retried = post_signed(client, PATH, params)
    again = post_signed(client, PATH, params)  # and only once
    assert retried.status_code == again.status_code == 200
    assert "<Message" in retried.get_data(as_text=True)

    assert len(inbound_messages()) == 1
    assert [m.kind for m in outbound_messages()] == [MessageKind.HELP]


def test_a_text_that_can_wait_is_answered_at_once_and_acted_on_by_a_worker(
    client: FlaskClient, course: Any
) -> None:
    response = post_signed(client, PATH, inbound_params(NUMBER, "JOIN"))

    assert response.status_code == 200
    assert response.get_data(as_text=True).replace(" ", "").endswith("<Response/>")
    [stored] = inbound_messages()
    assert stored.handled_at is None and outbound_messages() == []

    assert work_queued_texts() == 1
    [stored] = inbound_messages()
    assert stored.handled_at is not None
    assert [m.kind for m in outbound_messages()] == [MessageKind.CONFIRMATION_REQUEST]


def test_a_text_the_broker_could_not_take_waits_for_the_inbound_sweep(
    client: FlaskClient, course: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dripper.conversation import tasks
    from dripper.conversation.handle import UNHANDLED_AFTER

    def broker_down(*args: Any, **kwargs: Any) -> None:
        raise ConnectionRefusedError("redis is down")

    monkeypatch.setattr(tasks, "publish", broker_down)
    # Stored, so Twilio need not retry: 200, not an error.
    assert post_signed(client, PATH, inbound_params(NUMBER, "JOIN")).status_code == 200
    monkeypatch.undo()
    assert work_queued_texts() == 0
    assert outbound_messages() == []

    set_clock(now() + UNHANDLED_AFTER + timedelta(seconds=1))
    assert tasks.sweep_inbound.run() == 1
    assert [m.kind for m in outbound_messages()] == [MessageKind.CONFIRMATION_REQUEST]


def test_a_message_missing_from_is_a_bad_request_and_nothing_is_stored(
    client: FlaskClient, course: Any
) -> None:
    params = inbound_params(NUMBER, "JOIN")
    del params["From"]
    assert post_signed(client, PATH, params).status_code == 400
    assert inbound_messages() == []


def test_a_message_missing_its_sid_is_a_bad_request(client: FlaskClient, course: Any) -> None:
    params = inbound_params(NUMBER, "JOIN")
    params["MessageSid"] = params["SmsSid"] = ""
    assert post_signed(client, PATH, params).status_code == 400
    assert inbound_messages() == []


@pytest.mark.parametrize(
    "sender", ["2015550123", "whatsapp:+12015550123", "+1555", "VERIFY", "+1 201 555 0123"]
)
def test_a_sender_that_is_not_e164_is_a_bad_request(
    client: FlaskClient, course: Any, sender: str
) -> None:
    assert post_signed(client, PATH, inbound_params(sender, "JOIN")).status_code == 400
    assert inbound_messages() == []


def test_a_forged_malformed_request_is_refused_before_it_is_read(
    client: FlaskClient, course: Any
) -> None:
    assert client.post(PATH, data={"Body": "JOIN"}).status_code == 403


def test_an_empty_body_is_stored_as_an_empty_message(client: FlaskClient, course: Any) -> None:
    params = inbound_params(NUMBER, "")
    del params["Body"]  # an MMS with only a picture has no Body at all
    assert post_signed(client, PATH, params).status_code == 200
    [stored] = inbound_messages()
    assert stored.body == ""


def test_a_1600_character_body_is_stored_whole(client: FlaskClient, course: Any) -> None:
    body = ("I tried again today and she said no. " * 50)[:1600]
    assert post_signed(client, PATH, inbound_params(NUMBER, body)).status_code == 200
    [stored] = inbound_messages()
    assert stored.body == body and len(stored.body) == 1600


@pytest.mark.parametrize(
    "body",
    ["🙏💛 thank you", "Gracias, mañana lo intento otra vez", "谢谢你", "شكرا لك", "🙂" * 400],
)
def test_emoji_and_any_language_are_stored_intact(
    client: FlaskClient, course: Any, body: str
) -> None:
    assert post_signed(client, PATH, inbound_params(NUMBER, body)).status_code == 200
    [stored] = inbound_messages()
    assert stored.body == body


def test_a_message_that_fails_to_be_handled_is_still_on_record(
    client: FlaskClient, course: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(message: Message) -> None:
        raise RuntimeError("bug")

    monkeypatch.setattr("dripper.conversation.handle.handle_inbound", broken)
    response = post_signed(client, PATH, inbound_params(NUMBER, "STOP"))

    assert response.status_code == 500
    assert [m.body for m in inbound_messages()] == ["STOP"]


class TestWithoutAnAuthToken:
    @pytest.fixture
    def app_config(self, database_url: str, tmp_path: Path) -> dict[str, Any]:
        return webhook_config(database_url, tmp_path, TWILIO_AUTH_TOKEN=None)

    def test_every_webhook_is_refused(self, client: FlaskClient, course: Any) -> None:
        params = inbound_params(NUMBER, "JOIN")
        assert post_signed(client, PATH, params).status_code == 403
        assert inbound_messages() == []


SHARED_KEY = "shared-key-secret"


def sha256_signature(url: str, params: dict[str, str], secret: str) -> str:
    payload = url + "".join(name + params[name] for name in sorted(params))
    digest = hmac.new(secret.encode(), payload.encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


class TestWebhooksSignedWithASharedKey:
    SETTINGS: ClassVar[dict[str, str]] = {
        "X-Twilio-Webhooks-Signature-Settings": "key=KY123,algorithm=HMAC_SHA256"
    }

    @pytest.fixture
    def app_config(self, database_url: str, tmp_path: Path) -> dict[str, Any]:
        return webhook_config(database_url, tmp_path, TWILIO_WEBHOOK_SHARED_KEY=SHARED_KEY)

    def test_are_checked_with_the_shared_key_and_its_algorithm(
        self, client: FlaskClient, course: Any
    ) -> None:
        params = inbound_params(NUMBER, "hello")
        signature = sha256_signature(PUBLIC_URL + PATH, params, SHARED_KEY)
        response = post_signed(client, PATH, params, signature=signature, headers=self.SETTINGS)
        assert response.status_code == 200

    def test_signed_with_the_auth_token_instead_are_refused(
        self, client: FlaskClient, course: Any
    ) -> None:
        params = inbound_params(NUMBER, "hello")
        response = post_signed(client, PATH, params, headers=self.SETTINGS)
        assert response.status_code == 403
        assert inbound_messages() == []


class TestWhenCsrfAndDefaultRateLimitsAreOn:
    @pytest.fixture
    def app_config(self, database_url: str, tmp_path: Path) -> dict[str, Any]:
        return webhook_config(
            database_url,
            tmp_path,
            WTF_CSRF_ENABLED=True,
            RATELIMIT_ENABLED=True,
            RATELIMIT_DEFAULT="2/hour",
        )

    def test_twilio_is_neither_asked_for_a_csrf_token_nor_rate_limited(
        self, app: Flask, client: FlaskClient, course: Any, redis_client: Any
    ) -> None:
        for _ in range(4):
            assert post_signed(client, PATH, inbound_params(NUMBER, "hi")).status_code == 200
        assert len(inbound_messages()) == 4
        # The same default limit does apply elsewhere.
        statuses = [client.get("/").status_code for _ in range(3)]
        assert statuses == [200, 200, 429]


def test_a_new_message_sid_is_a_new_message(client: FlaskClient, course: Any) -> None:
    for _ in range(2):
        post_signed(client, PATH, inbound_params(NUMBER, "hi", sid=new_sid()))
    assert len(inbound_messages()) == 2


@pytest.mark.database("postgresql")
def test_a_text_is_stored_at_once_while_that_persons_last_text_is_being_acted_on(
    app: Flask, client: FlaskClient, course: Any
) -> None:
    from dripper.conversation.subscribers import find_subscriber

    assert post_signed(client, PATH, inbound_params(NUMBER, "JOIN")).status_code == 200
    assert work_queued_texts() == 1
    held, done = threading.Event(), threading.Event()

    def worker_acting_on_their_text() -> None:
        with app.app_context():  # a session and connection of its own
            assert find_subscriber(NUMBER, lock=True) is not None
            held.set()
            done.wait(5)
            db.session.rollback()

    worker = threading.Thread(target=worker_acting_on_their_text)
    worker.start()
    try:
        assert held.wait(5)
        started = time.monotonic()
        params = inbound_params(NUMBER, "she smiled at the offer this time")
        # The INSERT's foreign key check reads the locked row: it must not wait for it.
        assert post_signed(client, PATH, params).status_code == 200
        assert time.monotonic() - started < 2.0
    finally:
        done.set()
        worker.join()
