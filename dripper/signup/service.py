"""Signing up from the web: the same pending subscription and confirmation request as JOIN."""

from __future__ import annotations

import enum
from collections.abc import Iterable
from datetime import datetime, time

import phonenumbers
from flask import current_app
from phonenumbers import geocoder

from dripper import suppression
from dripper.conversation.subscribers import find_subscriber, get_or_create_subscriber
from dripper.courses.spec import COUNTRY_MESSAGES, base_message
from dripper.models import (
    Course,
    MessageKind,
    Subscriber,
    SubscriberStatus,
    Subscription,
    SubscriptionSource,
)
from dripper.models import SubscriptionState as State
from dripper.phones import DEFAULT_REGION, Phone
from dripper.sms.outbox import queue_message
from dripper.subscriptions import states


class SignupOutcome(enum.StrEnum):
    """What a web signup did, for the page to say."""

    TEXTED = "texted"  # a confirmation request is on its way
    ALREADY = "already"  # already in this course: nothing sent
    COMPLETED = "completed"  # finished this course before: nothing sent
    OPTED_OUT = "opted_out"  # the number said STOP: only the person can undo that, by text
    UNREACHABLE = "unreachable"  # the carrier said this number cannot get texts


def sign_up(phone: Phone, course: Course, send_time: time, now: datetime) -> SignupOutcome:
    """Ask ``phone`` to confirm ``course`` by SMS, unless it is in it or said STOP; no commit."""
    if suppression.is_suppressed(phone.e164):
        return SignupOutcome.OPTED_OUT  # said STOP and was forgotten: only START undoes it
    subscriber = find_subscriber(phone.e164, lock=True)
    if subscriber is not None:
        blocked = _blocked(subscriber, course)
        if blocked is not None:
            return blocked
        # Someone else may type this number: they may not move lessons already running.
        if _live(subscriber) is None:
            subscriber.send_time = send_time
    else:
        subscriber = get_or_create_subscriber(
            phone.e164, send_time=send_time, time_zones=phone.time_zones
        )
    subscription = states.subscribe(subscriber, course, now, source=SubscriptionSource.WEB)
    if subscription.state is not State.PENDING:  # pragma: no cover - _blocked covers these
        return SignupOutcome.ALREADY
    queue_message(
        subscriber.phone,
        MessageKind.CONFIRMATION_REQUEST,
        course.message("confirmation_request"),
        subscriber=subscriber,
        subscription=subscription,
    )
    return SignupOutcome.TEXTED


def _blocked(subscriber: Subscriber, course: Course) -> SignupOutcome | None:
    if subscriber.status is SubscriberStatus.OPTED_OUT:
        return SignupOutcome.OPTED_OUT
    if subscriber.status is SubscriberStatus.UNREACHABLE:
        return SignupOutcome.UNREACHABLE
    existing = next((s for s in subscriber.subscriptions if s.course_id == course.id), None)
    if existing is None:
        return None
    if existing.state in states.LIVE_STATES:
        return SignupOutcome.ALREADY
    if existing.state is State.COMPLETED:
        return SignupOutcome.COMPLETED
    return None


def _live(subscriber: Subscriber) -> Subscription | None:
    return next((s for s in subscriber.subscriptions if s.state in states.LIVE_STATES), None)


def signup_countries(course: Course) -> list[str]:
    """The countries (ISO codes) whose numbers the web form may text for ``course``.

    ``SIGNUP_COUNTRIES`` when set; otherwise the course's countries: those it can answer
    a crisis reply in (``course_countries``). The form can be used to text a stranger
    anywhere, and international texts cost many times a domestic one (SMS pumping).
    """
    configured = current_app.config.get("SIGNUP_COUNTRIES")
    if isinstance(configured, str):
        configured = configured.split(",")
    codes = [code.strip().upper() for code in configured or [] if code.strip()]
    return list(dict.fromkeys(codes)) or course_countries(course)


def course_countries(course: Course) -> list[str]:
    """The default country (whose crisis line a course's plain ``crisis_response`` names)
    and every country the course words its own crisis lines for (``crisis_response_GB``)."""
    countries = [DEFAULT_REGION]
    for name in sorted(course.messages or {}):
        base = base_message(name)
        if base in COUNTRY_MESSAGES and name != base:
            countries.append(name[len(base) + 1 :])
    return list(dict.fromkeys(countries))


def country_names(codes: Iterable[str]) -> str:
    """``the United States and Canada``: the countries as a sentence says them."""
    names = []
    for code in codes:
        example = phonenumbers.example_number(code)
        name = geocoder.country_name_for_number(example, "en") if example else ""
        name = name or code
        names.append(f"the {name}" if name.startswith(_WITH_ARTICLE) else name)
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]


_WITH_ARTICLE = ("United ", "Netherlands", "Philippines", "Czech", "Dominican", "Bahamas")
