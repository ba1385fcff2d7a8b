"""Counting the SQL an app runs: statements and commits are deterministic where timings
are not, so a change that adds a statement per message shows up in a test."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from dripper.clock import OFFSET_KEY
from dripper.extensions import db


@dataclass
class Counted:
    statements: list[str] = field(default_factory=list)
    commits: int = 0


@contextmanager
def counting() -> Iterator[Counted]:
    """Every statement the app's engine runs, and every commit, while in the block."""
    counted = Counted()
    engine = db.engine

    def statement(conn: Any, cursor: Any, text: str, parameters: Any, *args: Any) -> None:
        if "FROM setting" in text and OFFSET_KEY in str(parameters):
            return  # the sandbox clock's offset: production reads the system clock
        counted.statements.append(" ".join(text.split())[:100])

    def commit(conn: Any) -> None:
        counted.commits += 1

    sa.event.listen(engine, "before_cursor_execute", statement)
    sa.event.listen(engine, "commit", commit)
    try:
        yield counted
    finally:
        sa.event.remove(engine, "before_cursor_execute", statement)
        sa.event.remove(engine, "commit", commit)


def counted_pings(engine: sa.Engine, monkeypatch: Any) -> list[Any]:
    """Every ping of a pooled connection on ``engine`` from now on (``dripper.pool``), each
    still made."""
    pings: list[Any] = []
    real = engine.dialect.do_ping
    monkeypatch.setattr(engine.dialect, "do_ping", lambda c: pings.append(c) or real(c))
    return pings
