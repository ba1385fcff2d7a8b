"""``flask --app web …`` commands (docs/INTERFACE.md: Command line)."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path

import click
from flask import Flask
from flask.cli import AppGroup
from sqlalchemy import select

from dripper import people
from dripper.admin.passwords import hash_password
from dripper.clock import SandboxDisabled, now, parse_duration, sandbox_clock
from dripper.courses.check import check_paths
from dripper.courses.spec import CourseFileError, course_files, dump, load
from dripper.courses.store import export_course, import_course
from dripper.drip.cli import drip_cli
from dripper.extensions import db
from dripper.labels import ReplyLabel
from dripper.logs import mask_phone
from dripper.models import Admin, AuditEntry, SubscriberStatus
from dripper.readiness.alerts import alert_cli
from dripper.readiness.cli import classifier_cli, classify_command
from dripper.readiness.service import retrain
from dripper.sms.cli import delivery_cli

course_cli = AppGroup("course", help="Load, write out and validate course files.")
admin_cli = AppGroup("admin", help="Manage admins.")
clock_cli = AppGroup("clock", help="The sandbox clock (DRIPPER_SANDBOX=1 only).")
subscriber_cli = AppGroup("subscriber", help="A subscriber's data and lessons.")
reply_cli = AppGroup("reply", help="Replies and their labels.")


@course_cli.command("check")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
def course_check(paths: tuple[str, ...]) -> None:
    """Validate course files: encoding, segment counts, consent wording, shape."""
    files = course_files(list(paths))
    if not files:
        raise click.ClickException("no course files (*.yaml) found")
    problems = check_paths(files)
    for problem in problems:
        click.echo(str(problem), err=True)
    errors = [p for p in problems if not p.warning]
    if errors:
        click.echo(f"{len(errors)} error(s) in {len(files)} file(s)", err=True)
        sys.exit(1)
    click.echo(f"{len(files)} course file(s) OK")


@course_cli.command("import")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
def course_import(paths: tuple[str, ...]) -> None:
    """Load course files into the database; importing twice changes nothing."""
    files = course_files(list(paths))
    problems = [p for p in check_paths(files) if not p.warning]
    if problems:
        for problem in problems:
            click.echo(str(problem), err=True)
        raise click.ClickException("fix the problems above first (nothing was imported)")
    try:
        specs = [load(path) for path in files]
    except CourseFileError as error:  # pragma: no cover - check_paths reports these first
        raise click.ClickException(str(error)) from None
    results = [import_course(spec) for spec in specs]
    db.session.commit()
    for result in results:
        click.echo(result.summary())


@course_cli.command("export")
@click.argument("slug")
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False, writable=True), help="file to write"
)
def course_export(slug: str, output: str | None) -> None:
    """Write a course back out in the course file format."""
    spec = export_course(slug)
    if spec is None:
        raise click.ClickException(f"no course {slug!r}")
    text = dump(spec)
    if output:
        Path(output).write_text(text, encoding="utf-8")
        click.echo(f"wrote {output}")
    else:
        click.echo(text, nl=False)


@admin_cli.command("create")
@click.argument("email")
@click.option("--password-stdin", is_flag=True, help="read the password from standard input")
@click.option(
    "--role",
    type=click.Choice(["editor", "owner"]),
    default=None,
    help="editor (courses) or owner (also subscribers' data and admins); new admins: editor",
)
def admin_create(email: str, password_stdin: bool, role: str | None) -> None:
    """Create an admin (or reset an existing admin's password, and role if given)."""
    email = email.strip().lower()
    if "@" not in email or email.startswith("@") or email.endswith("@"):
        raise click.BadParameter(f"{email!r} is not an email address", param_hint="EMAIL")
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    if len(password) < 12:
        raise click.ClickException("the password must be at least 12 characters")
    admin = db.session.scalar(select(Admin).where(Admin.email == email))
    action = "admin.password" if admin else "admin.create"
    if admin is None:
        admin = Admin(email=email, role=role or "editor")
        db.session.add(admin)
    elif role:
        admin.role = role
    admin.password_hash = hash_password(password)
    db.session.add(
        AuditEntry(actor="cli", action=action, target=f"admin:{email}", detail={"role": admin.role})
    )
    db.session.commit()
    done = "password reset for" if action == "admin.password" else "created admin"
    click.echo(f"{done} {email} ({admin.role})")


def _clock_or_fail():  # type: ignore[no-untyped-def]
    try:
        return sandbox_clock()
    except SandboxDisabled as error:
        raise click.ClickException(str(error)) from None


@clock_cli.command("show")
def clock_show() -> None:
    """Print the sandbox clock's time."""
    clock = _clock_or_fail()
    click.echo(f"{clock.now().isoformat(timespec='seconds')} (offset {clock.offset()})")


@clock_cli.command("set")
@click.argument("when")
def clock_set(when: str) -> None:
    """Set the sandbox clock to an ISO 8601 time (UTC when no offset is given)."""
    clock = _clock_or_fail()
    try:
        parsed = datetime.fromisoformat(when.replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(
            f"{when!r} is not an ISO 8601 time", param_hint="ISO8601"
        ) from None
    if parsed.tzinfo is None:
        from datetime import UTC

        parsed = parsed.replace(tzinfo=UTC)
    click.echo(clock.set(parsed).isoformat(timespec="seconds"))


@clock_cli.command("advance")
@click.argument("duration")
def clock_advance(duration: str) -> None:
    """Move the sandbox clock forward by 1d, 3h, 90m, 1d12h…"""
    clock = _clock_or_fail()
    try:
        by = parse_duration(duration)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="DURATION") from None
    click.echo(clock.advance(by).isoformat(timespec="seconds"))


def _subscriber(phone: str):  # type: ignore[no-untyped-def]
    try:
        return people.lookup(phone)
    except people.NotFound as error:
        raise click.ClickException(str(error)) from None


@subscriber_cli.command("export")
@click.argument("phone")
def subscriber_export(phone: str) -> None:
    """Print everything stored about a subscriber as JSON."""
    click.echo(json.dumps(people.export(_subscriber(phone)), indent=2, ensure_ascii=False))


@subscriber_cli.command("forget")
@click.argument("phone")
@click.option("--yes", is_flag=True, help="do not ask for confirmation")
def subscriber_forget(phone: str, yes: bool) -> None:
    """Erase a subscriber and everything they sent or were sent."""
    subscriber = _subscriber(phone)
    if not yes:
        click.confirm(f"Erase {mask_phone(subscriber.phone)} and all their messages?", abort=True)
    opted_out = subscriber.status is SubscriberStatus.OPTED_OUT
    in_reply_model = people.has_corrections(subscriber)
    count = people.forget(subscriber, at=now())
    db.session.commit()
    click.echo(f"erased the subscriber and {count} messages")
    if opted_out:
        click.echo("the number stays on the suppression list (it opted out) until it texts START")
    if in_reply_model:
        # The model learnt their corrected replies and remembers them word for word: train it
        # again without them. Every process loads the new file at its next reply.
        retrain()
        click.echo("retrained the reply model without their replies")


@subscriber_cli.command("resume")
@click.argument("phone")
def subscriber_resume(phone: str) -> None:
    """Resume lessons held by a pause, a crisis alert (closing it) or repeated failures."""
    subscriber = _subscriber(phone)
    resumed = people.resume_lessons(subscriber, now())
    db.session.commit()
    if not resumed:
        raise click.ClickException("nothing to resume: no paused, held or parked course")
    for at in resumed:
        click.echo(f"resumed; next lesson {at.isoformat(timespec='minutes')}")


@subscriber_cli.command("parked")
def subscriber_parked() -> None:
    """List subscriptions parked because their sends kept failing, with the reason."""
    found = people.parked()
    if not found:
        click.echo("no parked subscriptions")
        return
    for subscription in found:
        parked_at = (
            subscription.parked_at.isoformat(timespec="seconds") if subscription.parked_at else "-"
        )
        click.echo(
            f"{mask_phone(subscription.subscriber.phone)}\t{subscription.course.slug}\t"
            f"{parked_at}\t{subscription.parked_reason or ''}"
        )


@reply_cli.command("relabel")
@click.argument("message_id", type=int)
@click.argument("label", type=click.Choice([label.value for label in ReplyLabel]))
def reply_relabel(message_id: int, label: str) -> None:
    """Correct a reply's label; the correction becomes a training example."""
    try:
        message = people.relabel(message_id, ReplyLabel(label))
    except people.NotFound as error:
        raise click.ClickException(str(error)) from None
    db.session.commit()
    click.echo(f"reply {message.id} is now {label}")


def register_commands(app: Flask) -> None:
    groups = (course_cli, admin_cli, clock_cli, drip_cli, subscriber_cli, reply_cli, delivery_cli)
    for group in groups:
        app.cli.add_command(group)
    app.cli.add_command(classifier_cli)
    app.cli.add_command(classify_command)
    app.cli.add_command(alert_cli)
