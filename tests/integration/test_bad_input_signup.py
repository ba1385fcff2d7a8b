"""The web signup form answers whatever is posted to it without a server error, and
never stores a number twice: fuzzed with hypothesis, with the signup limits on."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient
from hypothesis import given
from hypothesis import strategies as st
from inbound_support import webhook_config
from test_bad_input import BAD_PHONES, any_text, extra_fields

from dripper.extensions import db
from dripper.models import Message, Subscriber, Subscription

typed_numbers = st.one_of(
    st.sampled_from(
        ["(201) 555-0123", "201.555.0187", "+44 7700 900123", "0044 7700 900124", "+1 202 555 0111"]
    ),
    st.from_regex(r"\(?20[12]\)? ?555[-. ]?01\d\d", fullmatch=True),
)
odd_numbers = st.one_of(
    st.sampled_from(BAD_PHONES),
    st.sampled_from(["911", "12345", "1-800-555-0199", "+1900555012", "0" * 41, "٢٠١٥٥٥٠١٢٣"]),
    any_text,
)


@pytest.fixture
def app_config(database_url: str, tmp_path: Path, redis_client: Any) -> dict[str, Any]:
    """The signup limits on (generous ones), so the per-number key is computed too."""
    return webhook_config(
        database_url,
        tmp_path,
        RATELIMIT_ENABLED=True,
        SIGNUP_IP_LIMIT="100000/hour",
        SIGNUP_PHONE_LIMIT="1000/day",
    )


@given(
    phone=st.one_of(typed_numbers, odd_numbers),
    course_field=st.one_of(st.just("course-id"), any_text, st.none()),
    send_time=st.one_of(st.sampled_from(["09:00", "18:30", "03:00", "9", "25:00"]), any_text),
    consent=st.one_of(st.just("y"), any_text, st.none()),
    extra=extra_fields,
)
def test_any_signup_form_is_answered_without_a_server_error_and_stores_each_number_once(
    client: FlaskClient,
    course: Any,
    redis_client: Any,
    phone: str,
    course_field: str | None,
    send_time: str,
    consent: str | None,
    extra: dict[str, str],
) -> None:
    form = {**extra, "phone": phone, "send_time": send_time}
    if course_field is not None:
        form["course"] = str(course.id) if course_field == "course-id" else course_field
    if consent is not None:
        form["consent"] = consent
    people_before = _people()

    response = client.post("/signup", data=form)

    assert response.status_code in (200, 400, 429), response.get_data(as_text=True)[:500]
    if response.status_code != 200:
        assert _people() == people_before
    db.session.rollback()
    # Each number is one subscriber with at most one subscription per course, however
    # often and however it was written.
    rows = db.session.execute(
        sa.select(Subscriber.phone, sa.func.count(Subscription.id))
        .join(Subscription, Subscription.subscriber_id == Subscriber.id)
        .group_by(Subscriber.phone, Subscription.course_id)
    ).all()
    assert all(subscriptions == 1 for _, subscriptions in rows)
    # The limiter counted in Redis, under hashed keys only.
    digits = "".join(c for c in phone if c.isascii() and c.isdigit())
    if len(digits) >= 7:
        assert not any(digits[-7:].encode() in key for key in redis_client.keys("*"))


def _people() -> tuple[int, int]:
    db.session.rollback()
    subscribers = db.session.scalar(sa.select(sa.func.count()).select_from(Subscriber)) or 0
    messages = db.session.scalar(sa.select(sa.func.count()).select_from(Message)) or 0
    return subscribers, messages
