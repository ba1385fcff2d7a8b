"""Whatever arrives at the public doors, the service answers it without a server error:
signed inbound webhooks, status callbacks and the signup form, fuzzed with hypothesis.

Each property runs a fixed, modest set of examples (the ``dripper`` profile in
conftest.py) against one app per test, so the examples also pile up on each other:
every example uses its own MessageSid, and repeats are sent on purpose.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient
from hypothesis import example, given
from hypothesis import strategies as st
from inbound_support import NUMBER, post_signed, webhook_config

from dripper.extensions import db
from dripper.models import (
    Direction,
    Message,
    MessageKind,
    MessageStatus,
)
from dripper_testkit.builders import new_sid

INBOUND = "/sms/inbound"
STATUS = "/sms/status"

#: Numbers Twilio could post as ``From`` (E.164, several countries).
GOOD_PHONES = ["+12015550123", "+12025550187", "+447700900123", "+61412345678", "+5511912345678"]
#: ``From`` values that are not a number we can store: a clear 400.
BAD_PHONES = [
    "",
    " ",
    "+",
    "2015550123",
    "+1 201 555 0123",
    "whatsapp:+12015550123",
    "+0123456789",
    "+1201555012\x00",
    "+" + "9" * 20,
    "+1" + "5" * 300,
    "VERIFY",
    "\u202e+12015550123",
    "+１２０１５５５０１２３",  # full-width digits
]
#: Bodies that drive the conversation (commands with odd arguments, a crisis reply).
COMMANDS = [
    "JOIN",
    "YES",
    "STOP",
    "START",
    "HELP",
    "PAUSE",
    "PAUSE 3",
    "PAUSE 99999999999999999999999",
    "PAUSE -1",
    "RESUME",
    "MORE",
    "TIME 7pm",
    "TIME 25:99",
    "TIME \x00",
    "TIME 99999999999999999999pm",
    "I don't want to be alive anymore",
    "stop texting me",
]

#: Any text: every plane, control characters and NUL included (hypothesis leaves out
#: only surrogates, which a form cannot carry).
any_text = st.text(st.characters(codec=None, exclude_categories=["Cs"]), max_size=200)
control_text = st.text(st.characters(max_codepoint=0x1F), min_size=1, max_size=20)
long_text = st.builds(
    lambda unit, times: (unit * times)[: 1600 + times],
    st.text(min_size=1, max_size=8),
    st.integers(min_value=200, max_value=2400),
)
bodies = st.one_of(
    any_text,
    control_text,
    long_text,
    st.sampled_from(COMMANDS),
    st.builds(lambda c, t: f"{c} {t}", st.sampled_from(COMMANDS), any_text),
    st.sampled_from(["🙏💛", "🙂" * 400, "谢谢你", "شكرا لك", "a\x00b", "\x00", "\r\n\t"]),
)
extra_fields = st.dictionaries(
    st.text(min_size=1, max_size=20).filter(lambda k: k not in {"MessageSid", "SmsSid", "From"}),
    any_text,
    max_size=4,
)


@pytest.fixture
def app_config(database_url: str, tmp_path: Path) -> dict[str, Any]:
    return webhook_config(database_url, tmp_path)


def count(*where: Any) -> int:
    db.session.rollback()
    return db.session.scalar(sa.select(sa.func.count()).select_from(Message).where(*where)) or 0


def inbound_with(sid: str) -> int:
    return count(Message.direction == Direction.INBOUND, Message.provider_sid == sid)


# --- POST /sms/inbound --------------------------------------------------------------


@given(phone=st.sampled_from(GOOD_PHONES), body=st.one_of(bodies, st.none()), extra=extra_fields)
@example(phone=NUMBER, body="a\x00b", extra={})
@example(phone=NUMBER, body="x" * 1601, extra={})
@example(phone=NUMBER, body=None, extra={"NumMedia": "1", "MediaUrl0": "https://x.test/1.jpg"})
def test_any_signed_message_from_a_real_number_is_stored_once_and_answered(
    client: FlaskClient, course: Any, phone: str, body: str | None, extra: dict[str, str]
) -> None:
    sid = new_sid()
    params = {"MessageSid": sid, "SmsSid": sid, "From": phone, **extra}
    if body is not None:  # an MMS with only a picture has no Body at all
        params["Body"] = body
    outbound_before = count(Message.direction == Direction.OUTBOUND)

    first = post_signed(client, INBOUND, params)
    assert first.status_code == 200, first.get_data(as_text=True)
    assert inbound_with(sid) == 1
    acted = count(Message.direction == Direction.OUTBOUND) - outbound_before

    # Twilio retries on a timeout: the same request again is answered, not acted on.
    again = post_signed(client, INBOUND, params)
    assert again.status_code == 200
    assert inbound_with(sid) == 1
    assert count(Message.direction == Direction.OUTBOUND) - outbound_before == acted


@given(
    sid=st.one_of(
        st.just(""),
        any_text.filter(lambda s: not s.strip().isalnum()),
        st.just("SM" + "a" * 80),
        st.just("SM\x00" + "a" * 32),
        st.just("SM12"),
    ),
    phone=st.sampled_from(GOOD_PHONES),
    body=bodies,
)
def test_a_signed_message_without_a_usable_sid_is_a_bad_request_and_nothing_is_stored(
    client: FlaskClient, course: Any, sid: str, phone: str, body: str
) -> None:
    before = count()
    response = post_signed(client, INBOUND, {"MessageSid": sid, "From": phone, "Body": body})
    assert response.status_code == 400
    assert count() == before


@given(phone=st.one_of(st.sampled_from(BAD_PHONES), any_text), body=bodies, extra=extra_fields)
def test_a_signed_message_from_no_real_number_is_a_bad_request_or_stored_once(
    client: FlaskClient, course: Any, phone: str, body: str, extra: dict[str, str]
) -> None:
    sid = new_sid()
    params = {"MessageSid": sid, "From": phone, "Body": body, **extra}
    before = count()
    response = post_signed(client, INBOUND, params)
    if phone in BAD_PHONES:
        assert response.status_code == 400
    assert response.status_code in (200, 400), response.get_data(as_text=True)
    if response.status_code == 400:
        assert count() == before
    else:  # random text that happens to be a number
        assert inbound_with(sid) == 1


@given(fields=st.dictionaries(st.text(min_size=1, max_size=30), any_text, max_size=8))
def test_any_signed_form_at_all_gets_a_4xx_or_a_200_never_a_server_error(
    client: FlaskClient, course: Any, fields: dict[str, str]
) -> None:
    for path in (INBOUND, STATUS):
        response = post_signed(client, path, fields)
        assert response.status_code < 500, (path, response.get_data(as_text=True))


def test_a_request_too_large_for_any_sms_is_refused_with_413(
    client: FlaskClient, course: Any
) -> None:
    sid = new_sid()
    params = {"MessageSid": sid, "From": NUMBER, "Body": "x" * 1_000_000}
    response = post_signed(client, INBOUND, params)
    assert response.status_code == 413
    assert count() == 0


# --- POST /sms/status ----------------------------------------------------------------

STATUS_WORDS = [s.value for s in MessageStatus]


@pytest.fixture
def sent_sids(app: Any) -> list[str]:
    """Three messages the provider accepted, reported on below."""
    sids = []
    for kind in (MessageKind.LESSON, MessageKind.QUESTION, MessageKind.HELP):
        sid = new_sid()
        db.session.add(
            Message(
                direction=Direction.OUTBOUND,
                kind=kind,
                phone=NUMBER,
                body=f"{kind.value} text",
                status=MessageStatus.QUEUED,
                provider_sid=sid,
            )
        )
        sids.append(sid)
    db.session.commit()
    return sids


@given(
    pick=st.integers(min_value=0, max_value=3),
    status=st.one_of(
        st.sampled_from(STATUS_WORDS),
        st.sampled_from([w.upper() + " " for w in STATUS_WORDS]),
        any_text,
    ),
    error_code=st.one_of(
        st.none(),
        st.integers(min_value=-(2**70), max_value=2**70).map(str),
        st.sampled_from(["21610", "30006", "3000.5", "0x10", "١٢٣", "99999999999", "-1"]),
        any_text,
    ),
    error_message=st.one_of(st.none(), any_text, long_text),
    other_sid=st.one_of(any_text, st.just("SM\x00" + "b" * 32)),
)
@example(pick=0, status="failed", error_code="99999999999", error_message=None, other_sid="")
@example(pick=0, status="undelivered", error_code="30006", error_message="a\x00b", other_sid="")
@example(pick=3, status="delivered", error_code=None, error_message=None, other_sid="SM\x00")
def test_any_signed_status_callback_is_answered_and_only_moves_a_message_forward(
    client: FlaskClient,
    sent_sids: list[str],
    pick: int,
    status: str,
    error_code: str | None,
    error_message: str | None,
    other_sid: str,
) -> None:
    sid = sent_sids[pick] if pick < len(sent_sids) else other_sid
    params = {"MessageSid": sid, "MessageStatus": status}
    if error_code is not None:
        params["ErrorCode"] = error_code
    if error_message is not None:
        params["ErrorMessage"] = error_message
    before = _statuses(sent_sids)

    response = post_signed(client, STATUS, params)

    if pick < len(sent_sids) and status.strip():
        assert response.status_code == 204, response.get_data(as_text=True)
    else:  # a sid that is not ours is acknowledged; one that is no sid at all is refused
        assert response.status_code in (204, 400), response.get_data(as_text=True)
    after = _statuses(sent_sids)
    for old, new in zip(before, after, strict=True):
        assert new.rank >= old.rank
    assert count(Message.direction == Direction.OUTBOUND) == len(sent_sids)


def _statuses(sids: list[str]) -> list[MessageStatus]:
    db.session.rollback()
    found = dict(
        db.session.execute(
            sa.select(Message.provider_sid, Message.status).where(Message.provider_sid.in_(sids))
        ).all()
    )
    return [found[sid] for sid in sids]
