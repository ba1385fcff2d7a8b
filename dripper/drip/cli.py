"""``flask --app web drip …``: run the drip by hand (what beat runs every minute)."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from dripper.drip.tick import tick

drip_cli = AppGroup("drip", help="The daily drip: claim what is due and queue its sends.")


@drip_cli.command("tick")
@click.option("--limit", type=click.IntRange(min=1), help="claim at most this many")
def drip_tick(limit: int | None) -> None:
    """Run one scheduling pass now and print what it queued."""
    result = tick(limit=limit)
    click.echo(result.summary())
