"""``flask --app web delivery …``: messages that finally failed, and sending one again."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from dripper.extensions import db
from dripper.logs import mask_phone
from dripper.sms.delivery import ReplayError, failures, replay_failure

delivery_cli = AppGroup("delivery", help="Messages that finally failed, and sending one again.")


@delivery_cli.command("failures")
@click.option("--limit", type=click.IntRange(min=1), default=100, show_default=True)
def delivery_failures(limit: int) -> None:
    """List messages that finally failed and were not sent again (never their text)."""
    found = failures(limit)
    if not found:
        click.echo("no failed messages")
        return
    for failure in found:
        message = failure.message
        code = message.error_code if message.error_code is not None else "-"
        click.echo(
            f"{failure.id}\t{failure.created_at.isoformat(timespec='seconds')}\t"
            f"{message.kind.value}\t{mask_phone(message.phone)}\t{code}\t{failure.reason}"
        )


@delivery_cli.command("replay")
@click.argument("failure_id", type=int)
def delivery_replay(failure_id: int) -> None:
    """Send a finally-failed message again (once; ID from ``delivery failures``)."""
    try:
        message = replay_failure(failure_id)
    except ReplayError as error:
        db.session.rollback()
        raise click.ClickException(str(error)) from None
    click.echo(f"message {message.id} to {mask_phone(message.phone)} queued again")
