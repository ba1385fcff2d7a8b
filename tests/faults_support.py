"""Helpers for the fault tests (tests/e2e/test_faults_*.py): their shared set-up, the
beat's sweeps run by the test, and the reconciliation every fault test ends with.

Set-up (fixtures; this module is a pytest plugin, registered in conftest.py): ``workers``,
the real workers a test starts, all stopped at its end; ``no_sending_state_left``, which a
fault module uses (``pytestmark = pytest.mark.usefixtures("no_sending_state_left")``) so
no send lock or limiter state of an earlier test is left in its broker space.

The reconciliation compares what the local Twilio-compatible server received (what a
person's phone would show) with what the database says each person should have got:

- nothing lost: every expected (number, body) reached the server;
- nothing twice: no (number, body) reached it more than once;
- nothing extra: no number got a body it should not have;
- nothing in quiet hours: each accepted message fell inside the sending window stamped
  on its row (``message.send_window``), read on the sandbox clock;
- nothing after STOP: no message reached a number after that person's opt-out.
"""

from __future__ import annotations

import threading
import time as wall
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from dripper.extensions import db
from dripper.models import Direction, Message, MessageKind, MessageStatus, Subscriber
from dripper.window import SendWindow
from dripper_testkit.twilio_fake import FakeTwilio
from dripper_testkit.workers import BrokerSpace, Worker


@pytest.fixture
def workers(app: Flask) -> Iterator[list[Worker]]:
    """Workers the test starts (it appends them); all stopped at the end."""
    started: list[Worker] = []
    yield started
    for worker in started:
        worker.stop()


@pytest.fixture
def no_sending_state_left(broker: BrokerSpace) -> None:
    """No send lock or limiter state (``dripper:sms:*``) left in the broker space."""
    keys = list(broker.client.scan_iter("dripper:sms:*"))
    if keys:
        broker.client.delete(*keys)


#: The kinds the drip sends on its own (everything else answers a person's text).
DRIP_KINDS = (MessageKind.LESSON,)


@dataclass
class Reconciliation:
    """What the fake received, grouped per (number, body), and what was wrong with it."""

    received: Counter[tuple[str, str]] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)

    def check(self) -> None:
        assert not self.problems, "\n".join(self.problems[:20]) + (
            f"\n… and {len(self.problems) - 20} more" if len(self.problems) > 20 else ""
        )


def expected_lessons(kinds: Iterable[MessageKind] = DRIP_KINDS) -> dict[str, set[str]]:
    """Per number, the bodies of the drip's messages the database holds for them."""
    db.session.rollback()
    rows = db.session.execute(
        sa.select(Subscriber.phone, Message.body)
        .join(Subscriber, Subscriber.id == Message.subscriber_id)
        .where(Message.direction == Direction.OUTBOUND, Message.kind.in_(list(kinds)))
    )
    expected: dict[str, set[str]] = {}
    for phone, body in rows:
        expected.setdefault(phone, set()).add(body)
    return expected


def reconcile(
    fake: FakeTwilio,
    expected: Mapping[str, Iterable[str]],
    *,
    sandbox_offset: timedelta = timedelta(0),
    stopped_at: Mapping[str, datetime] | None = None,
    only: Iterable[str] | None = None,
    when: Callable[[Any], datetime] | None = None,
) -> Reconciliation:
    """Compare the fake's accepted messages with what each person should have got.

    ``expected`` maps a number to the bodies it must have received exactly once;
    ``sandbox_offset`` is the sandbox clock minus real time (the fake stamps real
    time); ``stopped_at`` the (sandbox) time each opted-out number said STOP;
    ``only`` limits the check to these numbers (others, e.g. replies to strangers,
    are not looked at); ``when`` gives a message's sandbox time where the clock moved
    by steps during the test (one offset no longer fits every message).
    """
    numbers = set(only) if only is not None else None
    result = Reconciliation()
    accepted = [m for m in fake.messages if m.status not in ("failed", "undelivered")]
    for message in accepted:
        if numbers is None or message.to in numbers:
            result.received[(message.to, message.body)] += 1
    for (number, _body), count in result.received.items():
        if count > 1:
            result.problems.append(f"twice: {number} got the same message {count} times")
    for number, bodies in expected.items():
        for body in bodies:
            if result.received[(number, body)] == 0:
                result.problems.append(f"lost: {number} never got {body[:30]!r}")
    wanted = {(number, body) for number, bodies in expected.items() for body in bodies}
    for number, body in result.received:
        if (number, body) not in wanted and (number in expected):
            result.problems.append(f"extra: {number} got {body[:30]!r}")
    windows = _windows_by_body()
    for message in accepted:
        if numbers is not None and message.to not in numbers:
            continue
        at = when(message) if when else message.date_created + sandbox_offset
        window = windows.get((message.to, message.body))
        if window is not None and not window.is_open(at):
            result.problems.append(f"quiet hours: {message.to} got a message at {at}")
        stop = (stopped_at or {}).get(message.to)
        if stop is not None and at > stop:
            result.problems.append(f"after STOP: {message.to} got {message.body[:30]!r}")
    return result


def expected_outbound(phones: Iterable[str]) -> dict[str, set[str]]:
    """Per number, the bodies of every outbound message the database holds for them that
    goes through the provider's API (not those handed to Twilio in a webhook's TwiML)."""
    db.session.rollback()
    wanted = list(phones)
    rows = db.session.execute(
        sa.select(Subscriber.phone, Message.body)
        .join(Subscriber, Subscriber.id == Message.subscriber_id)
        .where(
            Message.direction == Direction.OUTBOUND,
            Message.status != MessageStatus.TWIML,
            Subscriber.phone.in_(wanted),
        )
    )
    expected: dict[str, set[str]] = {phone: set() for phone in wanted}
    for phone, body in rows:
        expected[phone].add(body)
    return expected


def stamped_send_times() -> dict[str, datetime]:
    """Provider sid to the sandbox time the worker stamped on the row when it sent it."""
    db.session.rollback()
    rows = db.session.execute(
        sa.select(Message.provider_sid, Message.sent_at).where(Message.provider_sid.is_not(None))
    )
    return {sid: sent_at for sid, sent_at in rows if sent_at is not None}


def _windows_by_body() -> dict[tuple[str, str], SendWindow]:
    db.session.rollback()
    rows = db.session.execute(
        sa.select(Subscriber.phone, Message.body, Message.send_window)
        .join(Subscriber, Subscriber.id == Message.subscriber_id)
        .where(Message.direction == Direction.OUTBOUND, Message.send_window.is_not(None))
    )
    windows: dict[tuple[str, str], SendWindow] = {}
    for phone, body, stamped in rows:
        window = SendWindow.from_json(stamped)
        if window is not None:
            windows[(phone, body)] = window
    return windows


def unfinished_outbound() -> int:
    """Outbound messages still on their way (pending): zero once everything caught up."""
    db.session.rollback()
    return (
        db.session.scalar(
            sa.select(sa.func.count())
            .select_from(Message)
            .where(
                Message.direction == Direction.OUTBOUND,
                Message.status == MessageStatus.PENDING,
            )
        )
        or 0
    )


class Beat:
    """Beat's periodic sweeps (drip tick, lost deliveries, due retries, inbound), run by
    the test in a thread every ``period`` seconds instead of every 30 to 60 s.

    The tasks run in the test's process (their work: claiming and queueing) and queue
    what they find to the real workers through the broker, as beat's tasks do.
    """

    def __init__(self, app: Flask, period: float = 2.0) -> None:
        self.app = app
        self.period = period
        self.errors: list[BaseException] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Beat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(30)

    def _run(self) -> None:
        from dripper.conversation.tasks import sweep_inbound
        from dripper.drip.tick import tick
        from dripper.sms.tasks import retry_due, sweep_unsent

        while not self._stop.wait(self.period):
            with self.app.app_context():
                for sweep in (tick, sweep_unsent, retry_due, sweep_inbound):
                    try:
                        sweep()
                    except Exception as error:  # noqa: BLE001 - retried next round, as beat does
                        self.errors.append(error)
                        db.session.rollback()
                db.session.remove()


def forget_earlier_sweeps(redis_url: str) -> None:
    """Drop the sweep's "queued again lately" marks (``dripper:sms:swept:<id>``, kept 15
    minutes) that earlier tests left: message ids start at 1 again in every test
    (TRUNCATE … RESTART IDENTITY), and the sweep would skip this test's lost deliveries
    whose ids were swept before."""
    import redis

    client = redis.Redis.from_url(redis_url)
    try:
        keys = list(client.scan_iter("dripper:sms:swept:*", count=1000))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> float:
    """Poll ``condition`` until it holds; the seconds it took (TimeoutError after)."""
    started = wall.monotonic()
    while not condition():
        if wall.monotonic() - started > timeout:
            raise TimeoutError(f"{what}: not after {timeout:.0f} s")
        wall.sleep(0.2)
    return wall.monotonic() - started


def sandbox_offset() -> timedelta:
    """The sandbox clock minus real time (to read the fake's real-time stamps)."""
    from dripper.clock import sandbox_clock

    db.session.rollback()
    return sandbox_clock().offset()


def text_in(client: Any, fake: FakeTwilio, phone: str, body: str, sid: str | None = None) -> Any:
    """An inbound SMS through the webhook, signed with the fake account's token, as Twilio
    posts it; the response (the caller checks its status)."""
    from inbound_support import inbound_params, post_signed, sign

    params = inbound_params(phone, body, sid)
    signature = sign("/sms/inbound", params, token=fake.auth_token)
    return post_signed(client, "/sms/inbound", params, signature=signature)


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class RedisServer:
    """A ``redis-server`` of the test's own, on a free port, that the test stops and starts.

    It keeps nothing on disk (``--save ""``), so a restart comes back empty: the queue,
    the send locks and the limiter's state are gone, and only the database remembers.
    """

    def __init__(self, log_dir: Any) -> None:
        self.port = free_port()
        self.log_path = log_dir / f"redis-{self.port}.log"
        self.process: Any = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        import subprocess

        import redis as redis_lib

        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--logfile",
                str(self.log_path),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )
        client = redis_lib.Redis(port=self.port, socket_connect_timeout=0.5)
        deadline = wall.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis_lib.ConnectionError:
                if wall.monotonic() > deadline:
                    raise
                wall.sleep(0.05)
        client.close()
        return self

    def stop(self) -> None:
        """Stop it at once (SIGKILL: no goodbye to its clients)."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)


class TcpProxy:
    """A TCP proxy (threads) between the app or its workers and PostgreSQL, that the test
    cuts and restores: cut, every open connection is reset and new ones are refused, as
    when the database host is unreachable; the server itself is never touched."""

    def __init__(self, target_host: str, target_port: int) -> None:
        import socket

        self.target = (target_host, target_port)
        self.port = free_port()
        self._listener = socket.create_server(("127.0.0.1", self.port))
        self._listener.settimeout(0.2)
        self._lock = threading.Lock()
        self._open: list[Any] = []
        self._cut = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def __enter__(self) -> TcpProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)
        self._listener.close()
        self._close_all()

    def cut(self) -> None:
        """Reset every open connection and refuse new ones."""
        self._cut.set()
        self._close_all()

    def restore(self) -> None:
        self._cut.clear()

    def _close_all(self) -> None:
        import socket

        with self._lock:
            sockets, self._open = self._open, []
        for sock in sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()

    def _accept(self) -> None:
        import socket

        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            if self._cut.is_set():
                client.close()
                continue
            try:
                server = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            server.settimeout(None)
            with self._lock:
                self._open += [client, server]
            for source, sink in ((client, server), (server, client)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pipe(source: Any, sink: Any) -> None:
        import socket

        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            # Shut both down before closing: a plain close() neither wakes the other
            # direction's thread, blocked in recv() on the same socket, nor tells its
            # peer, so PostgreSQL would keep that backend (and the locks of its open
            # transaction) for as long as the test process lives.
            for sock in (source, sink):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                try:
                    sock.close()
                except OSError:
                    pass
