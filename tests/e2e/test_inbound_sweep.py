"""An inbound text is acted on exactly once, even when its webhook failed or died:
``handled_at`` is set in the handling transaction, and a beat sweep handles what is
stored but was never handled (Twilio does not retry a 500 by default)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from inbound_support import (
    AUTH_TOKEN,
    NUMBER,
    Handset,
    inbound_params,
    post_signed,
    set_clock,
    webhook_config,
)

from dripper.conversation import handle
from dripper.conversation.tasks import sweep_inbound
from dripper.extensions import db
from dripper.models import Direction, Message, MessageKind, SubscriberStatus
from dripper.webhooks.inbound import read_inbound, store_inbound
from dripper_testkit.twilio_fake import FakeTwilio
from dripper_testkit.workers import BrokerSpace, Worker, drain

PATH = "/sms/inbound"
NEW_YORK = ZoneInfo("America/New_York")
AFTERNOON = datetime(2026, 6, 2, 14, 0, tzinfo=NEW_YORK)


@pytest.fixture
def app_config(database_url: str, tmp_path: Path) -> dict[str, Any]:
    return webhook_config(database_url, tmp_path)


@pytest.fixture
def phone(client: FlaskClient, course: Any) -> Handset:
    set_clock(AFTERNOON)
    return Handset(client)


def inbound(phone: Handset) -> list[Message]:
    db.session.expire_all()
    return list(
        db.session.scalars(
            sa.select(Message)
            .where(Message.phone == phone.phone, Message.direction == Direction.INBOUND)
            .order_by(Message.id)
        )
    )


def later(seconds: float = 60) -> None:
    set_clock(AFTERNOON + timedelta(seconds=seconds))


def sweep() -> int:
    return int(sweep_inbound.apply().get())


def fail_handling_once(monkeypatch: pytest.MonkeyPatch) -> None:
    real = handle.handle_inbound

    def broken_once(message: Message) -> None:
        monkeypatch.setattr(handle, "handle_inbound", real)
        raise RuntimeError("the database went away")

    monkeypatch.setattr(handle, "handle_inbound", broken_once)


def test_a_text_whose_handling_failed_is_handled_by_the_sweep_exactly_once(
    phone: Handset, monkeypatch: pytest.MonkeyPatch
) -> None:
    fail_handling_once(monkeypatch)
    response = post_signed(phone.client, PATH, inbound_params(NUMBER, "START"))

    assert response.status_code == 500  # Twilio retries it where it is told to
    [stored] = inbound(phone)
    assert stored.handled_at is None and stored.attempts == 1
    assert phone.new_replies() == []

    later(seconds=5)
    assert sweep() == 0  # not yet: a failed try waits before the next
    later(seconds=60)
    assert sweep() == 1
    assert sweep() == 0

    assert [m.kind for m in phone.new_replies()] == [MessageKind.CONFIRMATION_REQUEST]
    [stored] = inbound(phone)
    assert stored.handled_at is not None


def test_a_text_stored_by_a_webhook_that_died_before_handling_it_is_handled_by_the_sweep(
    app: Flask, phone: Handset
) -> None:
    # The process died right after the commit that stored it: no mark of any failure.
    with app.test_request_context():
        store_inbound(read_inbound(inbound_params(NUMBER, "STOP")))
    [stored] = inbound(phone)
    assert stored.handled_at is None and stored.attempts == 0

    assert sweep() == 0  # a webhook may still be at work on it
    later()
    assert sweep() == 1

    assert [m.kind for m in phone.new_replies()] == [MessageKind.STOP_CONFIRMATION]
    assert phone.subscriber().status is SubscriberStatus.OPTED_OUT  # type: ignore[union-attr]
    assert sweep() == 0


def test_a_twilio_retry_after_the_sweep_handled_it_does_nothing(
    phone: Handset, monkeypatch: pytest.MonkeyPatch
) -> None:
    params = inbound_params(NUMBER, "START")
    fail_handling_once(monkeypatch)
    assert post_signed(phone.client, PATH, params).status_code == 500
    later()
    assert sweep() == 1
    phone.new_replies()

    retry = post_signed(phone.client, PATH, params)

    assert retry.status_code == 200
    assert retry.get_data(as_text=True).replace(" ", "").endswith("<Response/>")
    assert phone.new_replies() == []
    assert len(inbound(phone)) == 1


def test_a_twilio_retry_before_the_sweep_handles_it_and_the_sweep_finds_nothing(
    phone: Handset, monkeypatch: pytest.MonkeyPatch
) -> None:
    params = inbound_params(NUMBER, "START")
    fail_handling_once(monkeypatch)
    assert post_signed(phone.client, PATH, params).status_code == 500

    assert post_signed(phone.client, PATH, params).status_code == 200
    later()
    assert sweep() == 0

    assert [m.kind for m in phone.new_replies()] == [MessageKind.CONFIRMATION_REQUEST]


def test_a_text_that_keeps_failing_is_tried_again_less_and_less_often(
    phone: Handset, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(message: Message) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(handle, "handle_inbound", broken)
    # HELP is acted on in its webhook, so the webhook's try is the first.
    assert post_signed(phone.client, PATH, inbound_params(NUMBER, "HELP")).status_code == 500
    tries = []
    for minute in range(1, 11):
        later(seconds=60 * minute)
        sweep()
        tries.append(inbound(phone)[0].attempts)

    # The webhook's try, then the sweep's after 30 s, 1 min, 2 min, 4 min…: fewer and
    # fewer tries (not one a minute), and never given up.
    assert tries == sorted(tries) and tries[0] == 2
    assert 4 <= tries[-1] <= 6
    monkeypatch.undo()
    later(seconds=60 * 20)
    assert sweep() == 1


@pytest.mark.database("postgresql")
def test_the_sweep_passes_over_a_text_someone_is_handling_right_now(
    app: Flask, phone: Handset
) -> None:
    with app.test_request_context():
        stored = store_inbound(read_inbound(inbound_params(NUMBER, "START")))
        assert stored is not None
        message_id = stored.id
    later()
    # Another process (a webhook retry, a second sweep) holds the row, mid-handling.
    engine = sa.create_engine(app.config["SQLALCHEMY_DATABASE_URI"])
    other = engine.connect()
    transaction = other.begin()
    other.execute(sa.text("SELECT id FROM message WHERE id = :id FOR UPDATE"), {"id": message_id})

    done = threading.Event()
    results: list[int] = []

    def run_sweep() -> None:
        with app.app_context():
            results.append(sweep())
        done.set()

    threading.Thread(target=run_sweep, daemon=True).start()
    finished = done.wait(timeout=30)
    transaction.rollback()
    other.close()
    engine.dispose()

    assert finished, "the sweep waited for a row another process holds"
    assert results == [0]
    assert sweep() == 1  # once the other let go without handling it
    assert [m.kind for m in phone.new_replies()] == [MessageKind.CONFIRMATION_REQUEST]


@pytest.mark.database("postgresql")
def test_a_sweep_racing_a_webhook_retry_handles_the_text_once(
    app: Flask, phone: Handset, monkeypatch: pytest.MonkeyPatch
) -> None:
    params = inbound_params(NUMBER, "START")
    fail_handling_once(monkeypatch)
    assert post_signed(phone.client, PATH, params).status_code == 500
    later()
    # The sweep is mid-handling (it holds the claim, uncommitted) when Twilio retries.
    engine = sa.create_engine(app.config["SQLALCHEMY_DATABASE_URI"])
    with engine.connect() as other:
        transaction = other.begin()
        other.execute(sa.text("UPDATE message SET handled_at = now() WHERE direction = 'inbound'"))
        answered: list[int] = []

        def retry() -> None:
            with app.app_context():
                answered.append(post_signed(app.test_client(), PATH, params).status_code)

        thread = threading.Thread(target=retry, daemon=True)
        thread.start()
        thread.join(timeout=2)
        assert thread.is_alive()  # waiting for the sweep's transaction, not handling it too
        transaction.commit()
        thread.join(timeout=30)
    engine.dispose()

    assert answered == [200]
    assert phone.new_replies() == []  # the sweep (here: the other connection) had it


def test_the_sweep_runs_on_beat(app: Flask) -> None:
    from dripper.jobs import BEAT_SCHEDULE

    tasks = {entry["task"]: entry["schedule"] for entry in BEAT_SCHEDULE.values()}
    assert tasks["dripper.conversation.sweep_inbound"] <= 60


class TestThroughARealWorker:
    """The sweep as beat runs it: a task on a real worker, whose answer goes out through
    the REST API (a local Twilio-compatible server) exactly once."""

    @pytest.fixture
    def fake_twilio(self) -> Iterator[FakeTwilio]:
        fake = FakeTwilio(auth_token=AUTH_TOKEN).start()
        yield fake
        fake.stop()

    @pytest.fixture
    def worker_settings(self, fake_twilio: FakeTwilio) -> dict[str, Any]:
        return fake_twilio.settings()

    @pytest.fixture
    def app_config(self, drip_config: dict[str, Any]) -> dict[str, Any]:
        return drip_config

    def test_a_text_whose_handling_failed_is_answered_once_by_the_sweep(
        self,
        phone: Handset,
        worker: Worker,
        broker: BrokerSpace,
        fake_twilio: FakeTwilio,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        params = inbound_params(NUMBER, "START")
        fail_handling_once(monkeypatch)
        assert post_signed(phone.client, PATH, params).status_code == 500
        drain(broker)
        assert fake_twilio.sent_to(NUMBER) == []

        later()
        sweep_inbound.delay()
        drain(broker)
        sweep_inbound.delay()  # a second sweep (or beat firing twice) finds nothing
        drain(broker)
        assert post_signed(phone.client, PATH, params).status_code == 200  # Twilio's retry
        drain(broker)

        [sent] = fake_twilio.sent_to(NUMBER)
        [reply] = phone.new_replies()
        assert reply.kind is MessageKind.CONFIRMATION_REQUEST
        assert reply.provider_sid == sent.sid
