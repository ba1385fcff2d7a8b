"""A reply's path and a lesson's path through the packages, traced as they run.

docs/ARCHITECTURE.md tells both paths; these tests hold the code to it. Every call made while
one free-text reply is handled (signed webhook to the acknowledgement queued), and while one
lesson is sent (tick to the provider), is traced. A call from one package into another must go
down the layers written in pyproject.toml's import-linter contract, never up, so a path never
comes back to a package it left; and a reply crosses at most five packages. The small shared
modules of the bottom layers (models, clock, logs …) are not counted as packages, and a call a
library makes back into dripper (an SQLAlchemy event, a registered hook) is not a call between
packages.
"""

from __future__ import annotations

import sys
import tomllib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from inbound_support import confirmed_handset, set_clock, webhook_config

import dripper
from dripper.drip.tasks import perform_many
from dripper.drip.tick import claim_batch
from dripper.extensions import db
from dripper.models import Course, MessageKind

ROOT = Path(__file__).resolve().parents[2]
PACKAGE_DIR = str(Path(dripper.__file__).resolve().parent) + "/"
#: Where installed libraries live; the standard library's frames (contextlib…) are seen through.
LIBRARIES = "-packages/"
#: How many of the contract's last layers hold the small shared modules.
SHARED_LAYERS = 3


def _layers() -> list[list[str]]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    contract = next(c for c in config["tool"]["importlinter"]["contracts"] if c["type"] == "layers")
    return [
        [name.strip() for name in layer.replace(":", "|").split("|")]
        for layer in contract["layers"]
    ]


LAYERS = _layers()
RANK = {name: rank for rank, layer in enumerate(LAYERS) for name in layer}
SHARED = {name for layer in LAYERS[-SHARED_LAYERS:] for name in layer}


def package_of(filename: str) -> str | None:
    """The top-level package (or module) of dripper a code object belongs to, or None."""
    if not filename.startswith(PACKAGE_DIR):
        return None
    first = filename[len(PACKAGE_DIR) :].split("/", 1)[0]
    name = first.removesuffix(".py")
    return None if name == "__init__" else name


@dataclass
class Trace:
    """Calls from one package into another, in the order they happened."""

    crossings: list[tuple[str, str, str]] = field(default_factory=list)

    @property
    def packages(self) -> list[str]:
        seen: list[str] = []
        for caller, callee, _ in self.crossings:
            for name in (caller, callee):
                if name not in SHARED and name not in seen:
                    seen.append(name)
        return seen

    def upward(self) -> list[tuple[str, str, str]]:
        return [c for c in self.crossings if RANK[c[1]] < RANK[c[0]]]


@contextmanager
def traced() -> Iterator[Trace]:
    trace = Trace()
    seen: set[tuple[str, str, str]] = set()

    def profile(frame: FrameType, event: str, arg: Any) -> None:
        if event != "call":
            return
        callee = package_of(frame.f_code.co_filename)
        if callee is None:
            return
        caller_frame = frame.f_back
        while caller_frame is not None:
            filename = caller_frame.f_code.co_filename
            caller = package_of(filename)
            if caller is not None:
                break
            if LIBRARIES in filename:
                # A library calling back (an SQLAlchemy event, a Celery signal, a hook the
                # app registered): the library made this call, not the package below it.
                return
            caller_frame = caller_frame.f_back
        else:
            return
        if caller == callee or caller not in RANK or callee not in RANK:
            return
        crossing = (caller, callee, f"{callee}:{frame.f_code.co_name}")
        if crossing not in seen:
            seen.add(crossing)
            trace.crossings.append(crossing)

    previous: Callable[..., Any] | None = sys.getprofile()
    sys.setprofile(profile)
    try:
        yield trace
    finally:
        sys.setprofile(previous)


@pytest.fixture
def app_config(database_url: str, tmp_path: Path) -> dict[str, Any]:
    return webhook_config(database_url, tmp_path)


MONDAY_9AM_NEW_YORK = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)


def test_a_free_text_reply_goes_down_the_layers_through_at_most_five_packages(
    app: Flask, client: FlaskClient, course: Course
) -> None:
    handset = confirmed_handset(client, MONDAY_9AM_NEW_YORK)
    with traced() as trace:
        handset.text("She said it's pointless and hung up on me again")
    assert trace.upward() == []
    assert trace.packages[0] == "webhooks"
    assert {"conversation", "readiness"} <= set(trace.packages)
    assert len(trace.packages) <= 5, trace.packages


def test_a_lesson_goes_down_the_layers_from_the_tick_to_the_provider(
    app: Flask, client: FlaskClient, course: Course
) -> None:
    handset = confirmed_handset(client, MONDAY_9AM_NEW_YORK)
    subscription = handset.subscription()
    assert subscription is not None and subscription.next_send_at is not None
    at = subscription.next_send_at
    set_clock(at)
    # The tick's claim, then the send task's work, in this process (the tick would queue it).
    with traced() as trace:
        claimed = claim_batch(at, at - timedelta(minutes=10), after_id=0, limit=10)
        db.session.commit()
        perform_many([row[0] for row in claimed], claimed[0][2])
    lessons = [m for m in handset.new_replies() if m.kind is MessageKind.LESSON]
    assert len(lessons) == 1
    assert trace.upward() == []
    assert trace.packages[0] == "drip"
    assert "sms" in trace.packages
