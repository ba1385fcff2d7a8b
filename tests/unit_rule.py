"""The rule of tests/unit, checked on every test in it: no database, no Redis, no network.

A pytest plugin (registered in conftest.py). A test under tests/unit fails (at set-up) when it

- asks, directly or through another fixture, for a fixture in ``FORBIDDEN_FIXTURES``:
  the app and its database (``app``, ``database``, ``database_url``, ``client``, ``course``…),
  Redis (``redis_client``, ``sms_redis``, ``broker``), a worker, the fake Twilio server or
  a browser;
- opens a network socket: connecting or binding an IPv4/IPv6 socket (``socket.connect``,
  ``connect_ex``, ``bind``, and so everything built on them, such as
  ``socket.create_connection``, redis-py or requests) raises ``NetworkUsedInUnitTest``
  during its set-up, call and teardown.

Tests that need any of these belong in tests/integration (in-process, with a database
and/or Redis) or tests/e2e (real processes, HTTP, a browser).
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

FORBIDDEN_FIXTURES = frozenset(
    {
        # the app on a database
        "app",
        "app_config",
        "database",
        "database_url",
        "postgres_url",
        "_postgres_schema",
        "client",
        "runner",
        "course",
        # Redis
        "redis_client",
        "sms_redis",
        "broker",
        # real processes, servers, HTTP
        "drip_config",
        "worker",
        "workers",
        "twilio_server",
        "_twilio_server_session",
        "live_server",
        "browser",
    }
)

_NETWORK_FAMILIES = (socket.AF_INET, socket.AF_INET6)
UNIT = Path(__file__).resolve().parent / "unit"


def in_unit(item: pytest.Item) -> bool:
    return Path(item.path).resolve().is_relative_to(UNIT)


class NetworkUsedInUnitTest(RuntimeError):
    """A test in tests/unit tried to connect or bind a network socket."""


@contextmanager
def _no_network(item: pytest.Item) -> Iterator[None]:
    if not in_unit(item):
        yield
        return
    nodeid = item.nodeid
    originals = {name: getattr(socket.socket, name) for name in ("connect", "connect_ex", "bind")}

    def refuse(name: str) -> Any:
        original = originals[name]

        def guarded(self: socket.socket, *args: Any, **kwargs: Any) -> Any:
            if self.family in _NETWORK_FAMILIES:
                raise NetworkUsedInUnitTest(
                    f"{nodeid}: socket.{name}{args!r} in tests/unit; "
                    "move the test to tests/integration or tests/e2e"
                )
            return original(self, *args, **kwargs)

        return guarded

    for name in originals:
        setattr(socket.socket, name, refuse(name))
    try:
        yield
    finally:
        for name, original in originals.items():
            setattr(socket.socket, name, original)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Iterator[None]:
    used = sorted(FORBIDDEN_FIXTURES.intersection(getattr(item, "fixturenames", ())))
    if used and in_unit(item):
        pytest.fail(
            f"{item.nodeid} uses {', '.join(used)}: tests/unit takes no database, Redis, "
            "worker or server; move it to tests/integration or tests/e2e",
            pytrace=False,
        )
    with _no_network(item):
        return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    with _no_network(item):
        return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    with _no_network(item):
        return (yield)
