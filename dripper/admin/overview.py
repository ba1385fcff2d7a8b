"""The review queue (crisis alerts first, then low-confidence labels), the dashboard
and the audit log."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import case, func, select
from sqlalchemy.orm import joinedload

from dripper import people
from dripper.admin import charts
from dripper.admin.auth import admin_required, audit, me
from dripper.admin.blueprint import bp
from dripper.admin.forms import NoteForm, PlainForm
from dripper.clock import now
from dripper.extensions import db
from dripper.labels import READINESS_LABELS, ReplyLabel
from dripper.models import (
    Alert,
    AlertStatus,
    AuditEntry,
    Course,
    Direction,
    Lesson,
    Message,
    MessageKind,
    MessageStatus,
    Subscription,
    SubscriptionState,
    TrainingExample,
)
from dripper.subscriptions.states import SCHEDULED_STATES

REVIEW_PAGE = 50
LEFT_STATES = (
    SubscriptionState.PAUSED,
    SubscriptionState.DORMANT,
    SubscriptionState.OPTED_OUT,
    SubscriptionState.HELD,
)
DELIVERED = (MessageStatus.DELIVERED, MessageStatus.READ)


def waiting_corrections() -> int:
    """Corrections made since the reply model file was last written (by ``classifier train``)."""
    path = current_app.config.get("CLASSIFIER_MODEL_PATH")
    query = select(func.count(TrainingExample.id))
    if path and os.path.isfile(path):
        trained = datetime.fromtimestamp(os.path.getmtime(path), UTC)
        query = query.where(TrainingExample.created_at > trained)
    return int(db.session.scalar(query) or 0)


@bp.get("/review")
@admin_required("owner")
def review() -> ResponseReturnValue:
    """Open crisis alerts, oldest first; then replies whose label needs a person."""
    alerts = list(
        db.session.scalars(
            select(Alert)
            .where(Alert.status == AlertStatus.OPEN)
            .options(joinedload(Alert.message), joinedload(Alert.subscription))
            .order_by(Alert.created_at)
        )
    )
    replies = list(
        db.session.scalars(
            select(Message)
            .where(
                Message.needs_review.is_(True),
                Message.direction == Direction.INBOUND,
                Message.label != ReplyLabel.CRISIS,
            )
            .order_by(Message.id.desc())
            .limit(REVIEW_PAGE)
        )
    )
    return render_template(
        "admin/review.html",
        alerts=alerts,
        replies=replies,
        labels=[label.value for label in ReplyLabel],
        waiting=waiting_corrections(),
        form=PlainForm(),
        note_form=NoteForm(),
    )


@bp.post("/alerts/<int:alert_id>/acknowledge")
@admin_required("owner")
def alert_acknowledge(alert_id: int) -> ResponseReturnValue:
    """Close a crisis alert with a note of what was done (kept in the audit log).
    The person's lessons stay held until they or an admin resume them."""
    alert = db.session.get(Alert, alert_id)
    if alert is None:
        abort(404)
    form = NoteForm()
    if not form.validate_on_submit():
        flash("Write a note of what was done before acknowledging.")
        return redirect(url_for("admin.review"), code=303)
    if alert.status is AlertStatus.OPEN:
        alert.status = AlertStatus.RESOLVED
        alert.resolved_at = now()
        alert.resolved_by_id = me().id
        audit("alert.acknowledge", f"alert:{alert.id}", "open", "resolved", note=form.note.data)
        db.session.commit()
        flash("Alert acknowledged.")
    return redirect(url_for("admin.review"), code=303)


@bp.post("/replies/<int:message_id>/relabel")
@admin_required("owner")
def reply_relabel(message_id: int) -> ResponseReturnValue:
    """One click: the reply's right label (kept as a training example)."""
    if not PlainForm().validate_on_submit():
        abort(400)
    try:
        label = ReplyLabel(request.form.get("label", ""))
        people.relabel(message_id, label, actor=me().email)
    except (ValueError, people.NotFound):
        abort(400)
    db.session.commit()
    flash(f"Reply {message_id} is now {label.value}.")
    return redirect(url_for("admin.review"), code=303)


def funnel(course: Course) -> list[dict[str, object]]:
    """Per lesson: sent, delivered, and of the people whose latest lesson it is, how many
    replied to it and how many stopped there (paused, quiet, held or left)."""
    lessons = list(
        db.session.scalars(
            select(Lesson)
            .where(Lesson.course_id == course.id, Lesson.archived_at.is_(None))
            .order_by(Lesson.position)
        )
    )
    ids = [lesson.id for lesson in lessons] or [0]
    sent: dict[int | None, int] = {}
    delivered: dict[int | None, int] = {}
    for lesson_id, status, count in db.session.execute(
        select(Message.lesson_id, Message.status, func.count())
        .where(Message.lesson_id.in_(ids), Message.kind == MessageKind.LESSON)
        .group_by(Message.lesson_id, Message.status)
    ):
        sent[lesson_id] = sent.get(lesson_id, 0) + count
        if status in DELIVERED:
            delivered[lesson_id] = delivered.get(lesson_id, 0) + count
    # One pass over the subscriptions for where people are now (not three).
    here: dict[int | None, int] = {}
    left: dict[int | None, int] = {}
    replied: dict[int | None, int] = {}
    for lesson_id, count, stopped, answered in db.session.execute(
        select(
            Subscription.last_lesson_id,
            func.count(),
            func.count().filter(Subscription.state.in_(LEFT_STATES)),
            func.count().filter(Subscription.last_reply_at >= Subscription.last_lesson_at),
        )
        .where(Subscription.last_lesson_id.in_(ids))
        .group_by(Subscription.last_lesson_id)
    ):
        here[lesson_id], left[lesson_id], replied[lesson_id] = count, stopped, answered
    return [
        {
            "lesson": lesson,
            "sent": sent.get(lesson.id, 0),
            "delivered": delivered.get(lesson.id, 0),
            "here": here.get(lesson.id, 0),
            "replied": replied.get(lesson.id, 0),
            "left": left.get(lesson.id, 0),
        }
        for lesson in lessons
    ]


def readiness_mix(weeks: int = 8) -> list[tuple[str, dict[str, int]]]:
    """How replies were labelled, week by week (readiness labels only): one range scan."""
    end = now()
    starts = [end - timedelta(days=7 * (back + 1)) for back in range(weeks)]  # newest first
    week = case(
        *((Message.created_at >= start, index) for index, start in enumerate(starts)),
        else_=weeks,
    )
    counts: dict[int, dict[str, int]] = {index: {} for index in range(weeks)}
    for index, label, count in db.session.execute(
        select(week, Message.label, func.count())
        .where(
            Message.direction == Direction.INBOUND,
            Message.created_at >= starts[-1],
            Message.created_at < end,
            Message.label.in_(list(READINESS_LABELS)),
        )
        .group_by(week, Message.label)
    ):
        if index in counts and label is not None:
            counts[index][str(label)] = count
    return [(f"{starts[i]:%b %d}", counts[i]) for i in range(weeks - 1, -1, -1)]


@bp.get("/dashboard")
@admin_required()
def dashboard() -> ResponseReturnValue:
    """The drop-off funnel, readiness mix, delivery failures and today's backlog
    (counts only: editors see this too)."""
    courses = list(db.session.scalars(select(Course).order_by(Course.title)))
    chosen = request.args.get("course", type=int)
    course = next((c for c in courses if c.id == chosen), courses[0] if courses else None)
    rows = funnel(course) if course else []
    failures = [
        (str(code), count)
        for code, count in db.session.execute(
            select(Message.error_code, func.count())
            .where(Message.error_code.is_not(None))
            .group_by(Message.error_code)
            .order_by(func.count().desc())
            .limit(12)
        )
    ]
    at = now()
    end_of_day = at.replace(hour=23, minute=59, second=59)
    due_now, due_today = db.session.execute(
        select(
            func.count().filter(Subscription.next_send_at <= at),
            func.count(),
        ).where(
            Subscription.state.in_(list(SCHEDULED_STATES)),
            Subscription.next_send_at <= end_of_day,
        )
    ).one()
    pending = int(
        db.session.scalar(
            select(func.count(Message.id)).where(Message.status == MessageStatus.PENDING)
        )
        or 0
    )
    series = sorted(str(label) for label in READINESS_LABELS)
    return render_template(
        "admin/dashboard.html",
        courses=courses,
        course=course,
        rows=rows,
        funnel_chart=charts.stacked_bars(
            [
                (str(i), {"replied": r["replied"], "stopped": r["left"]})  # type: ignore[dict-item]
                for i, r in enumerate(rows, start=1)
            ],
            ["replied", "stopped"],
            title="People at each lesson: replied to it, stopped there",
        ),
        mix_chart=charts.stacked_bars(readiness_mix(), series, title="Reply labels by week"),
        failure_chart=charts.bars(failures, title="Delivery failures by error code"),
        due_now=due_now,
        due_today=due_today,
        pending=pending,
    )


@bp.get("/audit")
@admin_required("owner")
def audit_log() -> ResponseReturnValue:
    """Who changed what, newest first (keyset paged)."""
    query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(100)
    before = request.args.get("before", type=int)
    if before:
        query = query.where(AuditEntry.id < before)
    entries = list(db.session.scalars(query))
    return render_template("admin/audit.html", entries=entries)
