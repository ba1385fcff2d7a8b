"""People (owners only: numbers and replies are personal data): the list, a person's
page and the actions on it. Actions go through the same transitions as the SMS
commands (:mod:`dripper.subscriptions.states`, :mod:`dripper.people`)."""

from __future__ import annotations

import json
from datetime import time
from typing import Any

import phonenumbers
from flask import Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import select
from sqlalchemy.orm import contains_eager

from dripper import people
from dripper.admin import charts
from dripper.admin.auth import admin_required, audit, me
from dripper.admin.blueprint import bp
from dripper.admin.forms import PlainForm, TimeForm
from dripper.clock import now
from dripper.drip import tasks
from dripper.extensions import db
from dripper.logs import mask_phone
from dripper.models import (
    Alert,
    AlertStatus,
    Course,
    Direction,
    Message,
    Subscriber,
    Subscription,
    SubscriptionState,
)
from dripper.readiness.pacing import DECAY, LABEL_VALUE
from dripper.subscriptions import schedule, states

#: Readiness bands for the filter: (label, low, high).
READINESS_BANDS = {
    "leaning-away": ("Leaning away (below −0.25)", -10.0, -0.25),
    "unsure": ("Unsure (−0.25 to 0.25)", -0.25, 0.25),
    "leaning-in": ("Leaning in (above 0.25)", 0.25, 10.0),
}


def _search(query: Any, text: str) -> Any:
    """By number: a whole number exactly, or the start of one ("+1202", "202555")."""
    digits = "".join(ch for ch in text if ch.isdigit())
    if not digits:
        return query
    try:
        parsed = phonenumbers.parse(text, "US")
        if phonenumbers.is_possible_number(parsed):
            e164 = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
            return query.where(Subscriber.phone == e164)
    except phonenumbers.NumberParseException:
        pass
    prefix = digits if text.strip().startswith("+") or len(digits) > 10 else "1" + digits
    return query.where(Subscriber.phone.like(f"+{prefix}%"))


@bp.get("/subscribers")
@admin_required("owner")
def subscriber_list() -> ResponseReturnValue:
    """Everyone in a course, newest first: search by number, filter by course, state and
    readiness; paged by the last id seen (keyset), so every page is as fast as the first."""
    size = int(current_app.config["ADMIN_PAGE_SIZE"])
    args = request.args
    query = (
        select(Subscription)
        .join(Subscription.subscriber)
        .options(contains_eager(Subscription.subscriber))
        .order_by(Subscription.id.desc())
        .limit(size + 1)
    )
    course_id = args.get("course", type=int)
    if course_id:
        query = query.where(Subscription.course_id == course_id)
    state = args.get("state", "")
    if state in {s.value for s in SubscriptionState}:
        query = query.where(Subscription.state == SubscriptionState(state))
    band = READINESS_BANDS.get(args.get("readiness", ""))
    if band:
        query = query.where(Subscription.readiness > band[1], Subscription.readiness <= band[2])
    query = _search(query, args.get("q", ""))
    after = args.get("after", type=int)
    if after:
        query = query.where(Subscription.id < after)
    rows = list(db.session.scalars(query))
    more = len(rows) > size
    rows = rows[:size]
    courses = {c.id: c for c in db.session.scalars(select(Course))}
    filters = {k: v for k, v in args.items() if k != "after" and v}
    return render_template(
        "admin/subscribers.html",
        rows=rows,
        courses=courses,
        states=[s.value for s in SubscriptionState],
        bands=READINESS_BANDS,
        filters=filters,
        next_after=rows[-1].id if more and rows else None,
    )


def _subscriber(subscriber_id: int) -> Subscriber:
    subscriber = db.session.get(Subscriber, subscriber_id)
    if subscriber is None:
        abort(404)
    return subscriber


def readiness_points(messages: list[Message]) -> list[tuple[str, float]]:
    """Readiness after each labelled reply, replayed the way pacing keeps it."""
    score, points = 0.0, []
    for message in messages:
        label = message.reviewed_label or message.label
        if message.direction is not Direction.INBOUND or label not in LABEL_VALUE:
            continue
        score = DECAY * score + (1 - DECAY) * LABEL_VALUE[label]
        points.append((f"{message.created_at:%b %d}", round(score, 3)))
    return points


@bp.get("/subscribers/<int:subscriber_id>")
@admin_required("owner")
def subscriber_page(subscriber_id: int) -> ResponseReturnValue:
    """A person: the whole conversation, readiness over time, what is sent next, actions."""
    subscriber = _subscriber(subscriber_id)
    messages = list(
        db.session.scalars(
            select(Message).where(Message.phone == subscriber.phone).order_by(Message.id)
        )
    )
    at = now()
    upcoming = {
        s.id: schedule.describe_when(s.next_send_at, subscriber, at)
        for s in subscriber.subscriptions
        if s.next_send_at is not None
    }
    return render_template(
        "admin/subscriber.html",
        subscriber=subscriber,
        masked=mask_phone(subscriber.phone),
        messages=messages,
        chart=charts.line(readiness_points(messages), title="Readiness after each reply"),
        upcoming=upcoming,
        form=PlainForm(),
        time_form=TimeForm(send_time=subscriber.send_time.strftime("%H:%M")),
    )


def _subscription(subscription_id: int) -> Subscription:
    subscription = db.session.get(Subscription, subscription_id)
    if subscription is None:
        abort(404)
    if not PlainForm().validate_on_submit():
        abort(400)
    return subscription


def _back(subscription: Subscription) -> ResponseReturnValue:
    return redirect(url_for("admin.subscriber_page", subscriber_id=subscription.subscriber_id),
                    code=303)  # fmt: skip


@bp.post("/subscriptions/<int:subscription_id>/pause")
@admin_required("owner")
def subscription_pause(subscription_id: int) -> ResponseReturnValue:
    """PAUSE n on the person's behalf (the same transition as the SMS command)."""
    subscription = _subscription(subscription_id)
    days = request.form.get("days", type=int) or int(
        schedule.pacing_count(subscription.course, "pause_days")
    )
    if not 1 <= days <= 60:
        abort(400)
    before = subscription.state.value
    try:
        until = states.pause(subscription, days, now())
    except states.TransitionError as error:
        flash(f"Not paused: {error}.")
        return _back(subscription)
    audit("subscription.pause", f"subscription:{subscription.id}", before, "paused", days=days)
    db.session.commit()
    flash(f"Paused until {schedule.describe_when(until, subscription.subscriber, now())}.")
    return _back(subscription)


@bp.post("/subscriptions/<int:subscription_id>/resume")
@admin_required("owner")
def subscription_resume(subscription_id: int) -> ResponseReturnValue:
    """RESUME on the person's behalf (closes an open crisis alert too)."""
    subscription = _subscription(subscription_id)
    admin = me()
    before = subscription.state.value
    try:
        at = states.resume(subscription, now())
    except states.TransitionError as error:
        flash(f"Not resumed: {error}.")
        return _back(subscription)
    # As ``subscriber resume`` does: resuming closes the person's open crisis alerts.
    for alert in db.session.scalars(
        select(Alert).where(
            Alert.subscription_id == subscription.id, Alert.status == AlertStatus.OPEN
        )
    ):
        alert.status, alert.resolved_at, alert.resolved_by_id = (
            AlertStatus.RESOLVED,
            now(),
            admin.id,
        )
    audit("subscription.resume", f"subscription:{subscription.id}", before, "active")
    db.session.commit()
    flash(f"Resumed; next lesson {schedule.describe_when(at, subscription.subscriber, now())}.")
    return _back(subscription)


@bp.post("/subscriptions/<int:subscription_id>/send-next")
@admin_required("owner")
def subscription_send_next(subscription_id: int) -> ResponseReturnValue:
    """MORE on the person's behalf: the next lesson now (or when their window opens)."""
    subscription = _subscription(subscription_id)
    before = subscription.state.value
    try:
        at = states.request_more(subscription, now())
    except states.TransitionError as error:
        flash(f"Not sent: {error}.")
        return _back(subscription)
    if at is None:
        flash("Not sent: today's extra lessons are used up.")
        return _back(subscription)
    db.session.flush()
    sent_now = tasks.kick(subscription.id)
    audit("subscription.send_next", f"subscription:{subscription.id}", before, "active")
    db.session.commit()
    flash("The next lesson is on its way." if sent_now else
          f"The next lesson goes when their window opens "
          f"({schedule.describe_when(at, subscription.subscriber, now())}).")  # fmt: skip
    return _back(subscription)


@bp.post("/subscribers/<int:subscriber_id>/time")
@admin_required("owner")
def subscriber_time(subscriber_id: int) -> ResponseReturnValue:
    """TIME on the person's behalf: the daily time from the next day on."""
    subscriber = _subscriber(subscriber_id)
    form = TimeForm()
    if not form.validate_on_submit():
        flash("Give the time as HH:MM, 24-hour (like 19:30).")
        return redirect(url_for("admin.subscriber_page", subscriber_id=subscriber.id), code=303)
    hours, minutes = (int(part) for part in form.send_time.data.split(":"))
    before = subscriber.send_time.strftime("%H:%M")
    states.change_time(subscriber, time(hours, minutes), now())
    audit("subscriber.time", f"subscriber:{subscriber.id}", before, form.send_time.data)
    db.session.commit()
    flash(f"Daily time is now {form.send_time.data}.")
    return redirect(url_for("admin.subscriber_page", subscriber_id=subscriber.id), code=303)


@bp.post("/subscribers/<int:subscriber_id>/export")
@admin_required("owner")
def subscriber_export(subscriber_id: int) -> ResponseReturnValue:
    """Everything stored about the person, as JSON (the same as ``subscriber export``)."""
    subscriber = _subscriber(subscriber_id)
    if not PlainForm().validate_on_submit():
        abort(400)
    audit("subscriber.export", f"subscriber:{subscriber.id}")
    db.session.commit()
    return Response(
        json.dumps(people.export(subscriber), indent=2, ensure_ascii=False),
        mimetype="application/json",
        headers={"Content-Disposition": f'attachment; filename="subscriber-{subscriber.id}.json"'},
    )


@bp.post("/subscribers/<int:subscriber_id>/forget")
@admin_required("owner")
def subscriber_forget(subscriber_id: int) -> ResponseReturnValue:
    """Erase the person and everything they sent or were sent; needs the last four digits."""
    subscriber = _subscriber(subscriber_id)
    if not PlainForm().validate_on_submit():
        abort(400)
    if request.form.get("confirm", "").strip() != subscriber.phone[-4:]:
        flash("Not erased: type the number's last four digits to confirm.")
        return redirect(url_for("admin.subscriber_page", subscriber_id=subscriber.id), code=303)
    count = people.forget(subscriber, actor=me().email)
    db.session.commit()
    flash(f"Erased the subscriber and {count} messages.")
    return redirect(url_for("admin.subscriber_list"), code=303)
