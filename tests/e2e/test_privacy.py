"""People's numbers and words stay out of logs and tracebacks, in the web process and in
real workers; the admin session cookie is only sent the way a session cookie should be."""

from __future__ import annotations

import io
import logging
import time as wall
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from conftest import make_config
from flask import Flask

from dripper import create_app
from dripper.extensions import db
from dripper.logs import mask_handlers
from dripper.models import Direction, Message, MessageKind, MessageStatus
from dripper_testkit.workers import Worker

NUMBER = "+14155550123"
BODY = "my sister hides her bottles in the garage"


@pytest.fixture
def app_config(drip_config: dict[str, Any]) -> dict[str, Any]:
    return drip_config


def _inbound(sid: str) -> Message:
    return Message(
        direction=Direction.INBOUND,
        kind=MessageKind.REPLY,
        phone=NUMBER,
        body=BODY,
        status=MessageStatus.RECEIVED,
        provider_sid=sid,
    )


def test_a_failing_statement_shows_neither_the_number_nor_the_body(
    app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    db.session.add(_inbound("SM-same"))
    db.session.commit()
    db.session.add(_inbound("SM-same"))  # the same provider SID again: refused

    try:
        db.session.commit()
    except sa.exc.IntegrityError as error:
        db.session.rollback()
        logging.getLogger("dripper.test").exception("storing the reply failed")
        raised = error
    else:
        pytest.fail("a second message with the same provider SID was stored")

    shown = str(raised) + "\n" + caplog.text
    assert "INSERT INTO message" in shown  # the statement itself is still there to debug
    assert "Traceback" in caplog.text
    assert NUMBER not in shown and NUMBER[2:] not in shown
    assert BODY not in shown


@pytest.mark.database("postgresql")
def test_a_row_postgresql_refuses_is_logged_without_its_values(app: Flask) -> None:
    # PostgreSQL quotes a refused row in its own error text, which hide_parameters cannot hide;
    # a handler masked the way the app and Celery's signals mask theirs leaves the values out.
    # (Its own logger: which handlers the root has depends on what ran before in this process.)
    written = io.StringIO()
    logger = logging.getLogger("dripper.test.postgresql")
    logger.propagate = False
    logger.addHandler(logging.StreamHandler(written))
    mask_handlers(logger)
    try:
        db.session.add(_inbound("SM-no-status"))
        db.session.flush()
        db.session.execute(sa.update(Message).values(status=None))  # NOT NULL: refused
    except sa.exc.IntegrityError as error:
        db.session.rollback()
        assert "Failing row contains" in str(error) and BODY in str(error)
        logger.exception("updating the reply failed")
    else:
        pytest.fail("PostgreSQL stored a message without a status")
    finally:
        logger.handlers.clear()

    logged = written.getvalue()
    assert "Failing row contains (…)" in logged
    assert NUMBER not in logged and NUMBER[2:] not in logged
    assert BODY not in logged


def _wait_for(path: Path, *needles: str, timeout: float = 60.0) -> str:
    deadline = wall.monotonic() + timeout
    while wall.monotonic() < deadline:
        text = path.read_text(errors="replace")
        if all(needle in text for needle in needles):
            return text
        wall.sleep(0.2)
    raise AssertionError(f"{needles} not in the worker's log:\n{path.read_text()[-3000:]}")


def test_a_workers_log_masks_numbers_in_messages_and_tracebacks(app: Flask, worker: Worker) -> None:
    app.extensions["celery"].send_task("tests.log_a_number", args=[NUMBER], queue="dripper")

    logged = _wait_for(
        worker.log_path, "app logger says", "task logger says", "raised unexpected", "Traceback"
    )

    assert NUMBER[2:] not in logged
    assert "5550123" not in logged
    assert "app logger says texting •••0123" in logged
    assert "task logger says texting •••0123" in logged


def _session_cookie(database_url: str, tmp_path: Path, **settings: Any) -> str:
    config = make_config(database_url, tmp_path, WTF_CSRF_ENABLED=True, **settings)
    app = create_app(config)
    with app.app_context():
        db.create_all()
        try:
            response = app.test_client().get("/")  # the signup form puts its CSRF token in it
        finally:
            db.session.remove()
            db.engine.dispose()
    assert response.status_code == 200
    cookies = [c for c in response.headers.getlist("Set-Cookie") if c.startswith("session=")]
    assert len(cookies) == 1, response.headers
    return cookies[0]


def test_the_session_cookie_is_secure_httponly_and_same_site_in_production(
    database_url: str, tmp_path: Path
) -> None:
    cookie = _session_cookie(database_url, tmp_path, DRIPPER_SANDBOX=False)
    attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")}
    assert {"secure", "httponly"} <= attributes
    assert "SameSite=Lax" in cookie


def test_the_sandbox_session_cookie_works_over_plain_http(
    database_url: str, tmp_path: Path
) -> None:
    cookie = _session_cookie(database_url, tmp_path, DRIPPER_SANDBOX=True)
    attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")}
    assert "secure" not in attributes
    assert "httponly" in attributes
    assert "SameSite=Lax" in cookie
