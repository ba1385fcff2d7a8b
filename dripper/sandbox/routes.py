"""``/sandbox/clock``: see and move the sandbox clock every process shares."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import func, select

from dripper.clock import parse_duration, sandbox_clock
from dripper.drip.tick import tick
from dripper.extensions import db
from dripper.models import Subscription
from dripper.sandbox.blueprint import bp
from dripper.subscriptions.states import SCHEDULED_STATES


@bp.before_request
def sandbox_only() -> None:
    # Not "forbidden": outside the sandbox these pages do not exist at all.
    if not current_app.config.get("DRIPPER_SANDBOX"):
        abort(404)


@bp.get("/clock")
def clock() -> ResponseReturnValue:
    """The sandbox clock, the next scheduled send, and buttons to move time."""
    sandbox = sandbox_clock()
    next_due = db.session.scalar(
        select(func.min(Subscription.next_send_at)).where(
            Subscription.state.in_(SCHEDULED_STATES), Subscription.next_send_at.is_not(None)
        )
    )
    return render_template(
        "sandbox/clock.html", now=sandbox.now(), offset=sandbox.offset(), next_due=next_due
    )


@bp.post("/clock")
def move_clock() -> ResponseReturnValue:
    """Advance or set the sandbox clock, or run a drip tick now."""
    sandbox = sandbox_clock()
    action = request.form.get("action", "")
    try:
        if action == "advance":
            moved = sandbox.advance(parse_duration(request.form.get("duration", "")))
            flash(f"Clock moved to {moved:%Y-%m-%d %H:%M} UTC.")
        elif action == "set":
            when = datetime.fromisoformat(
                request.form.get("when", "").strip().replace("Z", "+00:00")
            )
            moved = sandbox.set(when if when.tzinfo else when.replace(tzinfo=UTC))
            flash(f"Clock set to {moved:%Y-%m-%d %H:%M} UTC.")
        elif action == "reset":
            sandbox.reset()
            flash("Clock back to real time.")
        elif action == "tick":
            flash(f"Drip tick: {tick().summary()}.")
        else:
            abort(400)
    except ValueError as error:
        flash(f"Not changed: {error}", "error")
        return redirect(url_for("sandbox.clock")), 303
    return redirect(url_for("sandbox.clock")), 303
