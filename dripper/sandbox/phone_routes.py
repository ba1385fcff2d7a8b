"""``/sandbox/phone``: the dev phone page and its JSON API (sandbox only, see routes.py)."""

from __future__ import annotations

from datetime import timedelta

import phonenumbers
from flask import abort, jsonify, render_template, request
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from dripper.clock import sandbox_clock
from dripper.extensions import db
from dripper.models import Course
from dripper.sandbox import phone
from dripper.sandbox.blueprint import bp

_STEPS = {"hour": timedelta(hours=1), "day": timedelta(days=1)}


def _phone(digits: str) -> str:
    """The pretend number named in the URL (digits, without the +); 404 if not one."""
    e164 = "+" + digits.lstrip("+")
    try:
        valid = phonenumbers.is_possible_number(phonenumbers.parse(e164, None))
    except phonenumbers.NumberParseException:
        valid = False
    if not valid or not phone.is_pretend(e164):
        abort(404)
    return e164


def _courses() -> list[Course]:
    return list(db.session.scalars(select(Course).order_by(Course.title)))


@bp.get("/phone")
def dev_phone() -> ResponseReturnValue:
    """The dev phone: pretend numbers texting the service, and the clock to live through it.

    ``?course=<slug>`` picks the course its JOIN buttons ask for (the hook an admin's
    "try this draft" link uses).
    """
    courses = _courses()
    wanted = request.args.get("course")
    course = next((c for c in courses if c.slug == wanted), courses[0] if courses else None)
    return render_template(
        "sandbox/phone.html",
        courses=courses,
        course=course,
        countries=phone.countries(),
        default_country=request.args.get("country", "US").upper(),
    )


@bp.get("/phone/api/phones")
def phones_api() -> ResponseReturnValue:
    """Every pretend number and the sandbox time."""
    return jsonify(
        phones=[phone.describe_number(p) for p in phone.pretend_numbers()],
        now_utc=sandbox_clock().now().isoformat(),
    )


@bp.post("/phone/api/phones")
def new_phone_api() -> ResponseReturnValue:
    """Make a pretend number in a country (``{"country": "GB"}``)."""
    data = request.get_json(silent=True) or request.form
    try:
        number = phone.create(str(data.get("country") or "US"))
    except ValueError as error:
        return jsonify(error=str(error)), 400
    return jsonify(phone.state(number)), 201


@bp.get("/phone/api/phones/<digits>")
def phone_state_api(digits: str) -> ResponseReturnValue:
    """One phone: its local time, every text to and from it, and what comes next."""
    return jsonify(phone.state(_phone(digits)))


@bp.post("/phone/api/phones/<digits>/messages")
def text_api(digits: str) -> ResponseReturnValue:
    """Text the service from this phone, through the signed inbound webhook."""
    number = _phone(digits)
    data = request.get_json(silent=True) or request.form
    body = str(data.get("body") or "")
    if not body.strip():
        return jsonify(error="type a message first"), 400
    status = phone.text(number, body[:1600])
    if status != 200:
        return jsonify(error=f"the webhook answered {status}", **phone.state(number)), 502
    return jsonify(phone.state(number))


@bp.post("/phone/api/phones/<digits>/reset")
def reset_api(digits: str) -> ResponseReturnValue:
    """Forget everything about this pretend number (it stays on the page)."""
    number = _phone(digits)
    phone.reset(number)
    return jsonify(phone.state(number))


@bp.post("/phone/api/clock")
def clock_api() -> ResponseReturnValue:
    """Move the sandbox clock (``hour``, ``day``, or ``next`` send of ``phone``), living
    through the sends of every pretend number on the way."""
    data = request.get_json(silent=True) or request.form
    step = str(data.get("step") or "")
    numbers = phone.pretend_numbers()
    note = ""
    try:
        if step in _STEPS:
            phone.advance(_STEPS[step], numbers)
        elif step == "next":
            digits = str(data.get("phone") or "")
            if phone.advance_to_next(_phone(digits), numbers) is None:
                note = "nothing is scheduled for this number"
        else:
            return jsonify(error="step must be hour, day or next"), 400
    except phone.SendsNotRecorded as error:
        # The clock stays where that send was due; the page shows what is still pending.
        return jsonify(error=str(error), now_utc=sandbox_clock().now().isoformat()), 504
    return jsonify(now_utc=sandbox_clock().now().isoformat(), note=note)
