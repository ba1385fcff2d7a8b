"""Helpers for the webhook, conversation and signup tests: a phone that texts the
service through a signed webhook, exactly as Twilio would, and reads what came back."""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from conftest import make_config
from flask import current_app
from flask.testing import FlaskClient
from twilio.request_validator import RequestValidator
from werkzeug.test import TestResponse

from dripper.extensions import db
from dripper.jobs import REPLY_QUEUE
from dripper.models import Direction, Message, Subscriber, Subscription
from dripper_testkit.builders import new_sid

PUBLIC_URL = "https://dripper.test"
AUTH_TOKEN = "test-auth-token-0123456789abcdef"
NUMBER = "+12015550123"  # New Jersey: America/New_York


def webhook_config(database_url: str, tmp_path: Path, **overrides: Any) -> dict[str, Any]:
    """The test settings plus an auth token; tasks go to an in-memory broker (no worker)."""
    settings: dict[str, Any] = {
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "CELERY": {"broker_url": "memory://"},
        **overrides,
    }
    return make_config(database_url, tmp_path, **settings)


def sign(
    path: str, params: dict[str, str], *, url: str | None = None, token: str = AUTH_TOKEN
) -> str:
    """X-Twilio-Signature as Twilio computes it: over the public URL and the sorted params."""
    return RequestValidator(token).compute_signature(url or PUBLIC_URL + path, params)


def post_signed(
    client: FlaskClient,
    path: str,
    params: dict[str, str],
    *,
    signature: str | None = None,
    headers: dict[str, str] | None = None,
) -> TestResponse:
    signature = sign(path, params) if signature is None else signature
    return client.post(
        path, data=params, headers={"X-Twilio-Signature": signature, **(headers or {})}
    )


def inbound_params(phone: str, body: str, sid: str | None = None) -> dict[str, str]:
    """The form Twilio posts for an inbound SMS (the fields that matter, plus a few more)."""
    return {
        "MessageSid": sid or new_sid(),
        "SmsSid": sid or "",
        "AccountSid": "AC" + "0" * 32,
        "From": phone,
        "To": "+15005550006",
        "Body": body,
        "NumMedia": "0",
        "FromCountry": "US",
    }


class Handset:
    """A person's phone: texts the service and reads the replies it was sent."""

    def __init__(self, client: FlaskClient, phone: str = NUMBER) -> None:
        self.client = client
        self.phone = phone
        self._seen = 0

    def text(self, body: str, *, sid: str | None = None) -> TestResponse:
        """Text ``body``; when its webhook left it to a worker, return once one acted on it."""
        params = inbound_params(self.phone, body, sid)
        response = post_signed(self.client, "/sms/inbound", params)
        assert response.status_code == 200, response.get_data(as_text=True)
        if current_app.config["CELERY"]["broker_url"].startswith("memory://"):
            work_queued_texts()
        else:
            wait_until_acted_on(params["MessageSid"])
        return response

    def all_replies(self) -> list[Message]:
        db.session.expire_all()
        return list(
            db.session.scalars(
                sa.select(Message)
                .where(Message.phone == self.phone, Message.direction == Direction.OUTBOUND)
                .order_by(Message.id)
            )
        )

    def new_replies(self) -> list[Message]:
        """Replies since the last call."""
        replies = self.all_replies()
        fresh, self._seen = replies[self._seen :], len(replies)
        return fresh

    def subscriber(self) -> Subscriber | None:
        db.session.expire_all()
        return db.session.scalar(sa.select(Subscriber).where(Subscriber.phone == self.phone))

    def subscription(self) -> Subscription | None:
        subscriber = self.subscriber()
        return subscriber.subscriptions[0] if subscriber and subscriber.subscriptions else None


def wait_until_acted_on(sid: str, timeout: float = 30.0) -> None:
    """Wait for a real worker to act on the stored text ``sid`` (at once when its webhook did)."""
    deadline = time.monotonic() + timeout
    while True:
        handled = db.session.scalar(
            sa.select(Message.handled_at).where(Message.provider_sid == sid)
        )
        db.session.commit()  # the next look sees the worker's commit
        if handled is not None:
            return
        assert time.monotonic() < deadline, f"no worker acted on {sid} in {timeout:g} s"
        time.sleep(0.02)


def work_queued_texts() -> int:
    """Do what a replies worker does with the texts webhooks queued for it (these tests
    run none): take each task from the in-memory broker's queue and run it. Returns how
    many texts it acted on. The queue's other tasks (deliveries) are dropped: no worker
    would have run them here either."""
    from dripper.conversation.tasks import handle_inbound

    acted = 0
    with current_app.extensions["celery"].connection_for_read() as connection:
        queue = connection.SimpleQueue(REPLY_QUEUE)
        while True:
            try:
                message = queue.get(block=False)
            except queue.Empty:
                break
            message.ack()
            if message.headers.get("task") == handle_inbound.name:
                args, kwargs, _ = message.decode()
                acted += bool(handle_inbound.run(*args, **kwargs))
        queue.close()
    return acted


def set_clock(when: datetime) -> None:
    from dripper.clock import sandbox_clock

    sandbox_clock().set(when)


def confirmed_handset(
    client: FlaskClient, at: datetime, phone: str = NUMBER, *, join: str = "JOIN"
) -> Handset:
    """A phone that texted ``join`` (JOIN) and YES at ``at`` (sandbox clock), its replies
    read. START joins too, and is acted on in its webhook even with no worker about."""
    set_clock(at)
    handset = Handset(client, phone)
    handset.text(join)
    handset.text("YES")
    handset.new_replies()
    return handset
