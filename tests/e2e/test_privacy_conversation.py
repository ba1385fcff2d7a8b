"""What the service keeps of a person: nothing of theirs in the logs, nothing left
anywhere once they are forgotten.

A whole conversation runs through the real components (signed webhooks, a real Celery
worker, the real twilio client against the local Twilio-compatible server): signup by
SMS and on the web, lessons, free-text replies, a crisis reply, STOP and a send that
fails. Every log line the web process and the worker print at INFO and above is read
back and scanned for secrets and personal data.
"""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from drip_support import SandboxRun
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from inbound_support import inbound_params, post_signed, sign

from dripper.clock import sandbox_clock
from dripper.extensions import db
from dripper.models import Admin, Direction, Message, MessageStatus
from dripper_testkit.twilio_fake import FakeTwilio
from dripper_testkit.workers import BrokerSpace, Worker, start_worker

NEW_YORK = ZoneInfo("America/New_York")
MONDAY_MORNING = datetime(2026, 6, 1, 8, 0, tzinfo=NEW_YORK)

BY_SMS = "+12015550143"  # texts JOIN
BY_WEB = "+12025550187"  # signs up on the web page, typed as below
TYPED_ON_THE_WEB = "(202) 555-0187"
UNREACHABLE = "+12125550161"  # a web signup whose confirmation the carrier refuses
PASSWORD = "correct horse battery staple"

#: What the person at BY_SMS writes back: words only they could have written.
REPLIES = [
    "my brother Tobias keeps cancelling on me and I feel useless",
    "I asked Tobias what he needs and he actually answered, first time in months",
    "i have pills saved up and i dont see the point anymore",
]


@pytest.fixture
def worker_settings(twilio_server: FakeTwilio) -> dict[str, Any]:
    # The worker builds the status callback URL from PUBLIC_URL, as the web checks it.
    return twilio_server.settings(SEND_RATE=1000.0, PUBLIC_URL="https://dripper.test")


@pytest.fixture
def app_config(drip_config: dict[str, Any]) -> dict[str, Any]:
    return drip_config


@pytest.fixture
def worker_at_info(
    app: Flask,
    app_config: dict[str, Any],
    broker: BrokerSpace,
    tmp_path: Path,
    worker_settings: dict[str, Any],
) -> Iterator[Worker]:
    """A real worker that logs at INFO, as in production (compose runs it so)."""
    running = start_worker(
        app_config, broker, tmp_path, overrides=worker_settings, LOG_LEVEL="INFO"
    )
    yield running
    running.stop()


@pytest.fixture
def web_log() -> Iterator[io.StringIO]:
    """Every line the web process's own log handlers print (INFO and above)."""
    root = logging.getLogger()
    assert root.getEffectiveLevel() == logging.INFO
    # The handlers the app installed (not pytest's capture), pointed at a buffer: what
    # they print here is what they would print to the terminal or the log collector.
    handlers = [
        h
        for h in root.handlers
        if isinstance(h, logging.StreamHandler) and not type(h).__module__.startswith("_pytest")
    ]
    assert handlers, "the app installed no log handler"
    buffer = io.StringIO()
    previous = [h.setStream(buffer) for h in handlers]
    yield buffer
    for handler, stream in zip(handlers, previous, strict=True):
        handler.setStream(stream)


def text(client: FlaskClient, fake: FakeTwilio, phone: str, body: str) -> None:
    params = inbound_params(phone, body)
    signature = sign("/sms/inbound", params, token=fake.auth_token)
    response = post_signed(client, "/sms/inbound", params, signature=signature)
    assert response.status_code == 200, response.get_data(as_text=True)


def report_delivered(client: FlaskClient, fake: FakeTwilio) -> None:
    """Twilio's status callbacks for everything it accepted."""
    for message in fake.messages:
        response = fake.callback(message.sid, "delivered", to=client)
        assert response.status_code in (200, 204)


def conversation(
    client: FlaskClient, runner: FlaskCliRunner, fake: FakeTwilio, broker: BrokerSpace
) -> None:
    run = SandboxRun(broker)
    clock = sandbox_clock()
    clock.set(MONDAY_MORNING)
    admin = runner.invoke(
        args=["admin", "create", "ops@example.org", "--password-stdin"], input=PASSWORD + "\n"
    )
    assert admin.exit_code == 0, admin.output

    text(client, fake, BY_SMS, "JOIN")
    text(client, fake, BY_SMS, "YES")
    run.settle()
    form = {"phone": TYPED_ON_THE_WEB, "send_time": "09:00", "consent": "y"}
    assert client.post("/signup", data={**form, "course": "1"}).status_code == 200
    run.settle()
    # The carrier refuses this one, and says why in the words real Twilio uses.
    fake.fail_next(21211, message=f"The 'To' number {UNREACHABLE} is not a valid phone number.")
    unreachable = {**form, "phone": UNREACHABLE, "course": "1"}
    assert client.post("/signup", data=unreachable).status_code == 200
    run.settle()
    text(client, fake, BY_WEB, "YES")

    run.until(MONDAY_MORNING + timedelta(days=1, hours=6))  # lessons and questions
    text(client, fake, BY_SMS, REPLIES[0])
    text(client, fake, BY_WEB, "thanks, this one landed")
    run.until(MONDAY_MORNING + timedelta(days=2, hours=6))
    text(client, fake, BY_SMS, REPLIES[1])
    text(client, fake, BY_SMS, REPLIES[2])  # crisis
    run.settle()
    text(client, fake, BY_WEB, "STOP")
    run.settle()
    report_delivered(client, fake)


def forms_of(e164: str) -> list[str]:
    """The ways a log could spell a US number in full."""
    national = e164[2:]
    return [
        e164,
        e164[1:],
        national,
        f"({national[:3]}) {national[3:6]}-{national[6:]}",
        f"{national[:3]}-{national[3:6]}-{national[6:]}",
        f"{national[:3]}.{national[3:6]}.{national[6:]}",
    ]


def digits_only(line: str) -> str:
    """The line with the separators between digits taken out ("201 555 0143" -> digits)."""
    return re.sub(r"(?<=\d)[\s().+-]+(?=\d)", "", line)


def leaks(log: str, secrets: dict[str, str], phones: list[str], bodies: list[str]) -> list[str]:
    found = []
    for line in log.splitlines():
        for name, secret in secrets.items():
            if secret and secret in line:
                found.append(f"{name}: {line}")
        squeezed = digits_only(line)
        for phone in phones:
            national = phone[2:]
            if any(form in line for form in forms_of(phone)) or national in squeezed:
                found.append(f"full number: {line}")
        for body in bodies:
            if body in line or (len(body) > 30 and body[:30] in line):
                found.append(f"message body: {line}")
    return found


@pytest.mark.database("sqlite")  # what is logged does not depend on the database
def test_no_secret_number_or_message_text_reaches_the_logs_at_info(
    app: Flask,
    client: FlaskClient,
    runner: FlaskCliRunner,
    course: Any,
    twilio_server: FakeTwilio,
    broker: BrokerSpace,
    worker_at_info: Worker,
    web_log: io.StringIO,
) -> None:
    conversation(client, runner, twilio_server, broker)
    worker_at_info.stop()

    db.session.rollback()
    bodies = [
        body
        for body in db.session.scalars(sa.select(Message.body).distinct())
        if len(body) >= 12  # keywords (JOIN, YES, STOP) are commands, not anyone's words
    ]
    assert all(reply in bodies for reply in REPLIES)
    statuses = set(db.session.scalars(sa.select(Message.status)))
    assert {MessageStatus.FAILED, MessageStatus.DELIVERED} <= statuses
    admin = db.session.scalar(sa.select(Admin))
    assert admin is not None
    secrets = {
        "auth token": twilio_server.auth_token,
        "password": PASSWORD,
        "password hash": admin.password_hash,
        "password hash digest": admin.password_hash.rsplit("$", 1)[-1],
        "secret key": app.config["SECRET_KEY"],
    }
    logs = {
        "web": web_log.getvalue(),
        "worker": worker_at_info.log_path.read_text(errors="replace"),
    }
    assert "INFO" in logs["web"] and "INFO" in logs["worker"]  # both logged at INFO
    for process, log in logs.items():
        found = leaks(log, secrets, [BY_SMS, BY_WEB, UNREACHABLE], bodies)
        assert not found, f"{process} log:\n" + "\n".join(found[:20])


def test_a_forgotten_subscriber_leaves_nothing_that_identifies_them_in_any_table(
    app: Flask,
    client: FlaskClient,
    runner: FlaskCliRunner,
    course: Any,
    twilio_server: FakeTwilio,
    broker: BrokerSpace,
    worker: Worker,
) -> None:
    conversation(client, runner, twilio_server, broker)
    db.session.rollback()
    theirs = [
        body
        for body in db.session.scalars(
            sa.select(Message.body).where(
                Message.phone == BY_SMS, Message.direction == Direction.INBOUND
            )
        )
        if len(body) >= 8
    ]
    assert set(REPLIES) <= set(theirs)
    assert _cells_mentioning(BY_SMS, theirs), "the scan finds them before they are forgotten"

    assert _cells_mentioning(UNREACHABLE, [])  # in the carrier's error, on the failure too

    for typed in ("(201) 555-0143", UNREACHABLE):
        result = runner.invoke(args=["subscriber", "forget", typed, "--yes"])
        assert result.exit_code == 0, result.output
    worker.stop()  # nothing more is written behind the scan's back

    assert _cells_mentioning(BY_SMS, theirs) == []
    assert _cells_mentioning(UNREACHABLE, []) == []
    # The others are still there.
    assert _cells_mentioning(BY_WEB, [])


def _cells_mentioning(phone: str, bodies: list[str]) -> list[str]:
    """Every string cell of every table that holds the number (in any spelling) or one of
    the bodies. A keyed hash of the number (a suppression list) is not the number."""
    db.session.rollback()
    national = phone[2:]
    found = []
    for table in db.metadata.sorted_tables:
        for row in db.session.execute(sa.select(table)).mappings():
            for column, value in row.items():
                if value is None or isinstance(value, (int, float, bool, datetime)):
                    continue
                cell = value if isinstance(value, str) else json.dumps(value, default=str)
                if (
                    phone[1:] in cell
                    or national in digits_only(cell)
                    or any(body and body in cell for body in bodies)
                ):
                    found.append(f"{table.name}.{column}: {cell[:80]!r}")
    return found
