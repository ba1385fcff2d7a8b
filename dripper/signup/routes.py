"""``GET /`` (what the course is, and the form) and ``POST /signup`` (double opt-in by SMS).

The form can text a number its user does not own, so it is rate limited twice: per
client address (every POST counts; behind a proxy, the address the trusted proxies
report, see PROXY_FIX_HOPS), and per number (every accepted submission counts, whether
or not it texted, so that hitting the limit says nothing about the number). The
per-number key is the normalised E.164 number, so writing the same number another way
counts the same; it is hashed so that numbers are neither stored in Redis nor written
into the limiter's log line.

Whoever types a number is not necessarily its owner, so the answer to an accepted
number is always the same page: it never says whether the number is subscribed, said
STOP, was forgotten after STOP, or could not be reached.
"""

from __future__ import annotations

import hashlib
import hmac
import logging

from flask import Response, current_app, g, make_response, render_template, request
from flask.typing import ResponseReturnValue
from flask_limiter import RequestLimit
from flask_limiter.util import get_remote_address
from sqlalchemy import select
from wtforms import Field

from dripper.clock import now
from dripper.config import DEFAULTS
from dripper.extensions import db, limiter
from dripper.logs import mask_phone
from dripper.models import Course
from dripper.phones import PhoneError, display, textable_e164
from dripper.signup.blueprint import bp
from dripper.signup.forms import SignupForm
from dripper.signup.service import SignupOutcome, sign_up
from dripper.subscriptions import schedule

log = logging.getLogger(__name__)


def _ip_limit() -> str:
    return str(current_app.config.get("SIGNUP_IP_LIMIT", DEFAULTS["SIGNUP_IP_LIMIT"]))


def _phone_limit() -> str:
    return str(current_app.config.get("SIGNUP_PHONE_LIMIT", DEFAULTS["SIGNUP_PHONE_LIMIT"]))


def phone_key() -> str:
    """The per-number limit's key: a keyed hash of the E.164 number ("" skips the limit)."""
    try:
        e164 = textable_e164(request.form.get("phone", ""))
    except PhoneError:
        return ""  # not a number we would text, so nothing to limit
    secret = str(current_app.config["SECRET_KEY"]).encode()
    return "phone:" + hmac.new(secret, e164.encode(), hashlib.sha256).hexdigest()[:32]


def _accepted(response: Response) -> bool:
    return bool(g.get("signup_accepted"))


def _too_many_from_here(limit: RequestLimit) -> Response:
    log.info("signup refused: too many attempts from one address")
    return _page_with_notice(
        "You've tried a few times in a short while. Please wait a bit and try again."
    )


def _too_many_for_number(limit: RequestLimit) -> Response:
    log.info("signup refused: that number was entered enough today")
    return _page_with_notice(
        "That number was entered here several times today. If it can receive our texts, "
        "please look for our message and reply YES, or try again tomorrow."
    )


def _page_with_notice(notice: str) -> Response:
    courses = _courses()
    form = SignupForm(courses, formdata=None)
    page = render_template("signup/index.html", courses=courses, form=form, notice=notice)
    return make_response(page, 429)


@bp.context_processor
def _template_helpers() -> dict[str, object]:
    return {"window": _window_words, "field_aria": _field_aria}


def _window_words(course: Course) -> tuple[str, str]:
    opens, closes = schedule.window(course)
    return schedule.describe_time(opens), schedule.describe_time(closes)


def _field_aria(field: Field, *, hint: bool = False) -> dict[str, str]:
    """Tie a field to its hint and errors for screen readers."""
    described = ([f"{field.id}-hint"] if hint else []) + (
        [f"{field.id}-error"] if field.errors else []
    )
    attrs = {"aria-describedby": " ".join(described)} if described else {}
    if field.errors:
        attrs["aria-invalid"] = "true"
    return attrs


def _courses() -> list[Course]:
    return list(db.session.scalars(select(Course).order_by(Course.id)))


@bp.get("/")
def index() -> ResponseReturnValue:
    """The landing page: what each course is, what you'll get and how often, and the form."""
    courses = _courses()
    return render_template("signup/index.html", courses=courses, form=SignupForm(courses))


@bp.post("/signup")
@limiter.limit(_ip_limit, key_func=get_remote_address, on_breach=_too_many_from_here)
@limiter.limit(
    _phone_limit, key_func=phone_key, deduct_when=_accepted, on_breach=_too_many_for_number
)
def signup() -> ResponseReturnValue:
    """Web signup: a pending subscription and the same SMS confirmation request as JOIN."""
    courses = _courses()
    form = SignupForm(courses)
    if not courses or not form.validate_on_submit() or form.parsed_phone is None:
        return render_template("signup/index.html", courses=courses, form=form), 400
    phone, course = form.parsed_phone, form.chosen_course
    outcome = sign_up(phone, course, form.chosen_time, now())
    if outcome is SignupOutcome.TEXTED:
        db.session.commit()
    else:
        db.session.rollback()  # nothing to keep: nothing was sent
    g.signup_accepted = True
    log.info("web signup for %s: %s", mask_phone(phone.e164), outcome.value)
    # The same page whatever the outcome (see the module's docstring).
    return render_template(
        "signup/done.html",
        course=course,
        shown_phone=display(phone.e164),
        our_number=current_app.config.get("TWILIO_FROM_NUMBER"),
        send_time=schedule.describe_time(form.chosen_time),
    )
