"""The one clock every process reads: the system clock, or the sandbox clock.

The sandbox clock is the real clock plus an offset kept in the database, so web,
tick and workers see the same time and it keeps running between commands.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Protocol

from flask import current_app, has_app_context
from sqlalchemy import select

from dripper.extensions import db
from dripper.models import Setting

OFFSET_KEY = "sandbox_clock_offset"
_DURATION = re.compile(r"(\d+)\s*([wdhms])")
_UNITS = {"w": "weeks", "d": "days", "h": "hours", "m": "minutes", "s": "seconds"}


class SandboxDisabled(RuntimeError):
    """The sandbox clock was asked to move in a deployment without DRIPPER_SANDBOX=1."""


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    """Real time, in UTC."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class SandboxClock:
    """Real time shifted by an offset that every process shares through the database."""

    def offset(self) -> timedelta:
        # Without an autoflush: reading the time must not write what the caller has
        # pending (a chunk of the drip flushes once, at its end, as in production).
        with db.session.no_autoflush:
            value = db.session.scalar(select(Setting.value).where(Setting.key == OFFSET_KEY))
        return timedelta(seconds=float(value)) if value else timedelta(0)

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset()

    def set(self, when: datetime) -> datetime:
        if when.tzinfo is None:
            raise ValueError("give a time zone, e.g. 2026-03-08T09:00:00-05:00 or …Z")
        self._store(when - datetime.now(UTC))
        return self.now()

    def advance(self, by: timedelta) -> datetime:
        if by <= timedelta(0):
            raise ValueError("the sandbox clock only moves forward")
        self._store(self.offset() + by)
        return self.now()

    def reset(self) -> datetime:
        self._store(timedelta(0))
        return self.now()

    def _store(self, offset: timedelta) -> None:
        setting = db.session.get(Setting, OFFSET_KEY) or Setting(key=OFFSET_KEY)
        setting.value = repr(offset.total_seconds())
        db.session.add(setting)
        db.session.commit()


def parse_duration(text: str) -> timedelta:
    """``1d``, ``3h``, ``90m``, ``1d12h``, ``2w`` as a timedelta."""
    cleaned = text.strip().lower().replace(" ", "")
    parts = _DURATION.findall(cleaned)
    if not parts or "".join(n + u for n, u in parts) != cleaned:
        raise ValueError(f"{text!r} is not a duration like 1d, 3h, 90m or 1d12h")
    return timedelta(**{_UNITS[unit]: int(number) for number, unit in parts})


def get_clock() -> Clock:
    """The clock of the current app (system clock outside an app)."""
    if has_app_context():
        return current_app.extensions["dripper.clock"]  # type: ignore[no-any-return]
    return SystemClock()


def sandbox_clock() -> SandboxClock:
    """The sandbox clock, refused unless DRIPPER_SANDBOX=1."""
    clock = get_clock()
    if not isinstance(clock, SandboxClock):
        raise SandboxDisabled("the sandbox clock is only available with DRIPPER_SANDBOX=1")
    return clock


def now() -> datetime:
    return get_clock().now()
