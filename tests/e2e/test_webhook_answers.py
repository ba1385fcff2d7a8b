"""Replies that must not wait for a worker go back in the webhook's own TwiML answer:
the crisis lines, STOP's confirmation and HELP. Each is an outbox row like any other
(kind, dedupe key, status ``twiml``) and is sent once: never again by a worker or a
sweep, and a Twilio retry of the same MessageSid does not add a second one."""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient
from inbound_support import (
    AUTH_TOKEN,
    PUBLIC_URL,
    Handset,
    confirmed_handset,
    inbound_params,
    post_signed,
    set_clock,
    webhook_config,
)
from werkzeug.test import TestResponse

from dripper.extensions import db
from dripper.models import Alert, Message, MessageKind, MessageStatus
from dripper_testkit.builders import new_sid
from dripper_testkit.twilio_fake import FakeTwilio
from dripper_testkit.workers import BrokerSpace, drain, start_worker

NEW_YORK = ZoneInfo("America/New_York")
AFTERNOON = datetime(2026, 6, 2, 14, 0, tzinfo=NEW_YORK)
CRISIS = "i took all my pills and i want to die tonight"


@pytest.fixture
def app_config(database_url: str, tmp_path: Path) -> dict[str, Any]:
    # No worker at all: tasks go to an in-memory broker nobody reads.
    return webhook_config(database_url, tmp_path)


@pytest.fixture
def phone(client: FlaskClient, course: Any) -> Handset:
    return confirmed_handset(client, AFTERNOON)


def twiml(response: TestResponse) -> list[tuple[str, str]]:
    """The (text, action URL) of each <Message> in a webhook's TwiML answer."""
    assert response.mimetype == "text/xml"
    root = ET.fromstring(response.get_data(as_text=True))
    assert root.tag == "Response"
    return [(element.text or "", element.get("action", "")) for element in root]


def outbound(phone: Handset, kind: MessageKind | None = None) -> list[Message]:
    return [m for m in phone.all_replies() if kind is None or m.kind is kind]


def callback(client: FlaskClient, action: str, sid: str, status: str) -> TestResponse:
    """Twilio's status callback to a <Message> verb's action URL, signed as Twilio signs it."""
    from inbound_support import sign

    parts = urlsplit(action)
    params = {"MessageSid": sid, "MessageStatus": status, "SmsSid": sid, "SmsStatus": status}
    return client.post(
        f"{parts.path}?{parts.query}",
        data=params,
        headers={"X-Twilio-Signature": sign(parts.path, params, url=action)},
    )


def test_a_crisis_text_gets_the_crisis_lines_in_the_webhooks_own_answer_with_no_worker(
    phone: Handset, course: Any
) -> None:
    started = time.perf_counter()
    response = phone.text(CRISIS)
    took = time.perf_counter() - started

    [crisis] = outbound(phone, MessageKind.CRISIS_RESPONSE)
    assert twiml(response) == [(crisis.body, f"{PUBLIC_URL}/sms/status?answer={crisis.id}")]
    assert crisis.body == course.message("crisis_response")
    assert crisis.status is MessageStatus.TWIML
    assert crisis.dedupe_key is not None and crisis.sent_at is not None
    assert len(db.session.scalars(sa.select(Alert)).all()) == 1
    print(f"crisis lines in the webhook's answer after {took:.3f} s, no worker running")


def test_a_reply_in_the_webhooks_answer_is_never_handed_to_a_worker(phone: Handset) -> None:
    from datetime import timedelta

    from dripper.sms.delivery import DeliveryOutcome, deliver_message, stale_message_ids

    phone.text(CRISIS)
    [crisis] = outbound(phone, MessageKind.CRISIS_RESPONSE)

    assert deliver_message(crisis.id) is DeliveryOutcome.ALREADY_DONE  # a stray task sends nothing
    assert crisis.id not in stale_message_ids(timedelta(0))  # nor does the lost-task sweep


def test_stop_and_help_are_answered_in_the_webhooks_answer(phone: Handset, course: Any) -> None:
    stop = phone.text("STOP")
    [confirmation] = phone.new_replies()
    assert confirmation.kind is MessageKind.STOP_CONFIRMATION
    assert confirmation.status is MessageStatus.TWIML
    assert [text for text, _ in twiml(stop)] == [confirmation.body]

    help_ = phone.text("HELP")
    [answer] = phone.new_replies()
    assert answer.kind is MessageKind.HELP and answer.status is MessageStatus.TWIML
    assert [text for text, _ in twiml(help_)] == [course.message("help")]


def test_a_crisis_reply_that_asks_to_stop_gets_both_answers_in_order(phone: Handset) -> None:
    response = phone.text("stop texting me. i have pills saved up and im done")

    replies = phone.new_replies()
    assert [m.kind for m in replies] == [
        MessageKind.CRISIS_RESPONSE,
        MessageKind.STOP_CONFIRMATION,
    ]
    assert [text for text, _ in twiml(response)] == [m.body for m in replies]


def test_other_replies_still_go_through_the_outbox_and_a_worker(
    client: FlaskClient, course: Any
) -> None:
    set_clock(AFTERNOON)
    phone = Handset(client)
    response = phone.text("JOIN")

    assert twiml(response) == []
    [request] = phone.new_replies()
    assert request.kind is MessageKind.CONFIRMATION_REQUEST
    assert request.status is MessageStatus.PENDING


def test_a_retry_after_twilio_confirmed_the_answer_answers_nothing_more(phone: Handset) -> None:
    sid = new_sid()
    first = phone.text(CRISIS, sid=sid)
    [(_, action)] = twiml(first)
    # Twilio acted on the answer: its callback to the action URL brings the new sid.
    assert callback(phone.client, action, "SM" + "a" * 32, "sent").status_code == 204

    retry = phone.text(CRISIS, sid=sid)

    assert twiml(retry) == []
    [crisis] = outbound(phone, MessageKind.CRISIS_RESPONSE)
    assert crisis.provider_sid == "SM" + "a" * 32
    assert crisis.status is MessageStatus.SENT
    assert len(db.session.scalars(sa.select(Alert)).all()) == 1


def test_a_retry_of_an_answer_twilio_never_got_carries_the_same_crisis_lines_once_more(
    phone: Handset,
) -> None:
    # Twilio repeats a webhook only when it did not get the answer (a timeout, a dropped
    # connection): the replies it never confirmed go back in the repeat, from the same row.
    sid = new_sid()
    first = phone.text(CRISIS, sid=sid)

    retry = phone.text(CRISIS, sid=sid)

    assert twiml(retry) == twiml(first)
    assert len(outbound(phone, MessageKind.CRISIS_RESPONSE)) == 1
    assert len(phone.new_replies()) == 1
    assert len(db.session.scalars(sa.select(Alert)).all()) == 1


def test_the_answers_status_follows_twilios_callbacks(phone: Handset) -> None:
    [(_, action)] = twiml(phone.text(CRISIS))

    callback(phone.client, action, "SM" + "b" * 32, "sent")
    callback(phone.client, action, "SM" + "b" * 32, "delivered")

    [crisis] = outbound(phone, MessageKind.CRISIS_RESPONSE)
    assert crisis.provider_sid == "SM" + "b" * 32
    assert crisis.status is MessageStatus.DELIVERED


def test_the_crisis_lines_in_the_answer_follow_the_country_of_the_number(
    client: FlaskClient, course: Any
) -> None:
    course.messages = {
        **course.messages,
        "crisis_response_GB": "If you are in danger call 999. Samaritans: call 116 123, free.",
    }
    db.session.commit()
    london = confirmed_handset(client, AFTERNOON, "+447700900123")

    response = london.text("I have pills saved up")

    [(text, _)] = twiml(response)
    assert text == "If you are in danger call 999. Samaritans: call 116 123, free."


def test_a_crisis_text_after_stop_gets_the_crisis_lines_in_the_answer(phone: Handset) -> None:
    phone.text("STOP")
    phone.new_replies()

    response = phone.text(CRISIS)

    [crisis] = phone.new_replies()
    assert crisis.kind is MessageKind.CRISIS_RESPONSE
    assert [text for text, _ in twiml(response)] == [crisis.body]


def test_a_crisis_text_handled_by_the_inbound_sweep_goes_out_through_the_outbox(
    phone: Handset, monkeypatch: pytest.MonkeyPatch
) -> None:
    from datetime import timedelta

    from dripper.conversation import handle
    from dripper.conversation.tasks import sweep_inbound

    real = handle.handle_inbound

    def broken_once(message: Message) -> None:
        monkeypatch.setattr(handle, "handle_inbound", real)
        raise RuntimeError("the database went away")

    monkeypatch.setattr(handle, "handle_inbound", broken_once)
    assert (
        post_signed(phone.client, "/sms/inbound", inbound_params(phone.phone, CRISIS)).status_code
        == 500
    )
    set_clock(AFTERNOON + timedelta(minutes=2))
    assert sweep_inbound.apply().get() == 1

    [crisis] = phone.new_replies()
    assert crisis.kind is MessageKind.CRISIS_RESPONSE
    # No webhook answer to put it in: a worker sends it, like any other reply.
    assert crisis.status is MessageStatus.PENDING


class TestAWorkerStartedAfterwards:
    """The webhook answered while no worker ran; then one starts, with a stray delivery
    task for the answer and the lost-delivery sweep: neither sends it again."""

    @pytest.fixture
    def fake_twilio(self) -> Iterator[FakeTwilio]:
        # Signs and checks with the same token the test handset signs its webhooks with.
        fake = FakeTwilio(auth_token=AUTH_TOKEN).start()
        yield fake
        fake.stop()

    @pytest.fixture
    def worker_settings(self, fake_twilio: FakeTwilio) -> dict[str, Any]:
        return fake_twilio.settings()

    @pytest.fixture
    def app_config(self, drip_config: dict[str, Any]) -> dict[str, Any]:
        return drip_config

    def test_does_not_send_the_crisis_lines_again(
        self,
        client: FlaskClient,
        course: Any,
        app_config: dict[str, Any],
        broker: BrokerSpace,
        worker_settings: dict[str, Any],
        fake_twilio: FakeTwilio,
        tmp_path: Path,
    ) -> None:
        from dripper.sms.tasks import deliver, sweep_unsent

        # No worker yet: START, not JOIN, which would wait for one.
        phone = confirmed_handset(client, AFTERNOON, join="START")
        response = phone.text(CRISIS)
        [crisis] = outbound(phone, MessageKind.CRISIS_RESPONSE)
        assert [text for text, _ in twiml(response)] == [crisis.body]
        assert fake_twilio.sends() == []  # nothing went through the REST API yet

        worker = start_worker(app_config, broker, tmp_path, overrides=worker_settings)
        try:
            deliver.delay(crisis.id)
            sweep_unsent.delay()
            drain(broker)
        finally:
            worker.stop()

        bodies = [m.body for m in fake_twilio.sent_to(phone.phone)]
        # The worker did run: the confirmation and the welcome it had waiting went out.
        assert len(bodies) == 2
        assert crisis.body not in bodies
        [crisis] = outbound(phone, MessageKind.CRISIS_RESPONSE)
        assert crisis.status is MessageStatus.TWIML
