"""The dev phone with a real worker running (as under ``make run``): the request and the
worker both try to deliver what a dev phone's texts and clock moves queue; each text
still reaches the provider once."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from dripper.clock import sandbox_clock
from dripper.extensions import db
from dripper.models import Direction, Message, MessageKind
from dripper.phones import time_zones_for
from dripper_testkit.twilio_fake import FakeTwilio
from dripper_testkit.workers import BrokerSpace, Worker, drain


@pytest.fixture
def worker_settings(twilio_server: FakeTwilio) -> dict[str, Any]:
    # The fake Twilio on loopback: allowed beside the sandbox (real Twilio is refused).
    return twilio_server.settings(SEND_RATE=1000.0)


@pytest.fixture
def app_config(drip_config: dict[str, Any]) -> dict[str, Any]:
    return drip_config


def test_with_a_worker_running_each_dev_phone_text_reaches_the_provider_once(
    app: Flask,
    client: FlaskClient,
    course: Any,
    twilio_server: FakeTwilio,
    worker: Worker,
    broker: BrokerSpace,
) -> None:
    created = client.post("/sandbox/phone/api/phones", json={"country": "US"})
    phone = created.get_json()["phone"]
    sandbox_clock().set(datetime(2026, 3, 2, 7, 0, tzinfo=ZoneInfo(time_zones_for(phone)[0])))
    api = f"/sandbox/phone/api/phones/{phone[1:]}"

    # Signed with the app's own TWILIO_AUTH_TOKEN here (the fake's), as Twilio would.
    for body in ("JOIN", "YES"):
        assert client.post(f"{api}/messages", json={"body": body}).status_code == 200
    for _ in range(2):
        assert client.post("/sandbox/phone/api/clock", json={"step": "day"}).status_code == 200
        reply = {"body": "I asked my dad what he worries about and he talked for an hour"}
        assert client.post(f"{api}/messages", json=reply).status_code == 200
    drain(broker, timeout=120)

    db.session.rollback()
    outbound = list(
        db.session.scalars(
            sa.select(Message)
            .where(Message.phone == phone, Message.direction == Direction.OUTBOUND)
            .order_by(Message.id)
        )
    )
    assert [m.kind for m in outbound].count(MessageKind.LESSON) == 2
    sent = twilio_server.sent_to(phone)
    assert sorted(m.sid for m in sent) == sorted(str(m.provider_sid) for m in outbound)
    assert len(twilio_server.sends()) == len(outbound)
