"""Crisis alerts for the team: which are open, which the team has not been told about,
and closing one with a note (``flask --app web alert list|resolve``).

The alert webhook may be down when a crisis reply comes in. The sweep
(``dripper.readiness.sweep_alerts``, run by beat) hands every open alert that was never
delivered back to ``notify_admins``, with a growing pause between tries so a webhook
that is down is not hammered. Every time here is the clock the alert rows are stamped
with (``dripper.clock.now``: the sandbox clock in sandbox mode).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import click
from flask.cli import AppGroup
from sqlalchemy import and_, or_, select

from dripper.clock import now
from dripper.extensions import db
from dripper.logs import mask_phone
from dripper.models import Alert, AlertKind, AlertStatus, AuditEntry

#: How long a new alert's own notification task has before the sweep takes over.
FIRST_TRY_GRACE = timedelta(minutes=2)
#: The pause after the first failed POST; doubled after each further one, up to the cap.
RETRY_BASE = timedelta(minutes=1)
RETRY_MAX = timedelta(minutes=30)
#: Alerts handed back per sweep (a sweep is short; the next one takes the rest).
SWEEP_BATCH = 50


def retry_delay(attempts: int) -> timedelta:
    """How long to leave an alert after its ``attempts``-th failed POST."""
    return min(RETRY_MAX, RETRY_BASE * 2 ** max(attempts - 1, 0))


def claim_unnotified(at: datetime, limit: int = SWEEP_BATCH) -> list[int]:
    """Open alerts the team was never told about and whose pause is over; claimed.

    The claim moves each alert's next try past the pause its POST would earn if it
    failed, so a second sweep (racing this one, or the next minute's) does not pick it
    again. ``SKIP LOCKED`` lets two sweeps on PostgreSQL split a batch rather than
    wait for each other. The caller commits, then queues ``notify_admins`` for each.
    """
    due = or_(
        and_(Alert.next_notify_at.is_(None), Alert.created_at <= at - FIRST_TRY_GRACE),
        Alert.next_notify_at <= at,
    )
    alerts = list(
        db.session.scalars(
            select(Alert)
            .where(Alert.notified_at.is_(None), Alert.status == AlertStatus.OPEN, due)
            .order_by(Alert.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )
    for alert in alerts:
        alert.next_notify_at = at + retry_delay((alert.notify_attempts or 0) + 1)
    return [alert.id for alert in alerts]


def record_failed_notification(alert: Alert, at: datetime) -> None:
    """One more failed POST: the sweep tries again after a longer pause."""
    alert.notify_attempts = (alert.notify_attempts or 0) + 1
    alert.next_notify_at = at + retry_delay(alert.notify_attempts)


@dataclass(frozen=True)
class OpenAlert:
    """What ``alert list`` shows of an alert: never the words of the message."""

    id: int
    kind: AlertKind  # crisis, or review (possible danger read as a worry or a plan)
    created_at: datetime
    phone: str  # masked
    course: str | None
    notified: bool


def open_alerts() -> list[OpenAlert]:
    """Every open alert, oldest first."""
    alerts = db.session.scalars(
        select(Alert).where(Alert.status == AlertStatus.OPEN).order_by(Alert.created_at, Alert.id)
    )
    return [
        OpenAlert(
            id=alert.id,
            kind=alert.kind,
            created_at=alert.created_at,
            phone=mask_phone(alert.message.phone if alert.message else None),
            course=alert.subscription.course.slug if alert.subscription else None,
            notified=alert.notified_at is not None,
        )
        for alert in alerts
    ]


class AlertError(LookupError):
    """No such open alert; ``str(error)`` says which."""


def resolve(alert_id: int, note: str | None, actor: str, at: datetime) -> Alert:
    """Close an open alert with a note and an audit entry; the caller commits.

    Lessons stay held: only RESUME from the person or ``subscriber resume`` restarts them.
    """
    alert = db.session.get(Alert, alert_id, with_for_update=True)
    if alert is None:
        raise AlertError(f"no alert {alert_id}")
    if alert.status is AlertStatus.RESOLVED:
        raise AlertError(f"alert {alert_id} is already resolved")
    alert.status, alert.resolved_at = AlertStatus.RESOLVED, at
    alert.resolved_by, alert.note = actor, note
    db.session.add(
        AuditEntry(
            actor=actor,
            action="alert.resolve",
            target=f"alert:{alert.id}",
            detail={"note": note} if note else {},
            created_at=at,
        )
    )
    return alert


def describe_age(delta: timedelta) -> str:
    """``3d 4h``, ``2h 5m``, ``7m``: how long an alert has been open."""
    minutes = max(int(delta.total_seconds() // 60), 0)
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    return f"{minutes}m"


alert_cli = AppGroup(
    "alert",
    help="Alerts for the team (crisis, and review: possible danger read as a worry): "
    "the open ones, and closing one.",
)


@alert_cli.command("list")
def alert_list() -> None:
    """Open alerts: id, kind, age, masked number, course, and whether the team was notified."""
    alerts = open_alerts()
    if not alerts:
        click.echo("no open alerts")
        return
    at = now()
    click.echo(f"{'id':>6}  {'kind':<6}  {'age':>7}  {'number':<16}  {'course':<28}  notified")
    for alert in alerts:
        click.echo(
            f"{alert.id:>6}  {alert.kind:<6}  {describe_age(at - alert.created_at):>7}  "
            f"{alert.phone:<16}  "
            f"{alert.course or '-':<28}  {'yes' if alert.notified else 'no'}"
        )


@alert_cli.command(
    "resolve",
    help="Close an open alert with a note; the audit log records who and why.\n\n"
    "Resolving does not resume lessons: they stay held until the person texts RESUME "
    "or an admin runs `subscriber resume PHONE`.",
)
@click.argument("alert_id", metavar="ID", type=int)
@click.option("--note", default=None, help="what was done (kept with the alert and audited)")
@click.option("--by", "actor", default="cli", show_default=True, help="who resolved it")
def alert_resolve(alert_id: int, note: str | None, actor: str) -> None:
    """Close an open alert with a note (lessons stay held)."""
    try:
        alert = resolve(alert_id, note, actor, now())
    except AlertError as error:
        raise click.ClickException(str(error)) from None
    db.session.commit()
    click.echo(f"alert {alert.id} resolved; lessons stay held until RESUME or subscriber resume")
