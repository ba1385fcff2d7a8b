"""Benchmark the drip: the tick on 10k and 100k due subscriptions, and dispatch throughput.

Run: ``.venv/bin/python bench/drip_bench.py [--sizes 10000 100000] [--dispatch 1000]``
(PostgreSQL from ``TEST_DATABASE_URL`` or ``--pg``; Redis from ``TEST_WORKER_REDIS_URL``,
default db 14, with keys of its own that it deletes afterwards).

Numbers printed:

* tick: wall time of one ``tick()`` that claims every due subscription and publishes its
  send tasks to the real broker, and the tick's peak Python allocation (tracemalloc, in a
  second identical pass, since tracing slows it down), on SQLite and PostgreSQL. Rows are
  written with core INSERTs first; that time is not counted.
* dispatch: N subscriptions due at once, from the tick to every lesson recorded by a local
  Twilio-compatible server (dripper_testkit/twilio_fake.py, in its own process) through a real Celery
  worker (``--concurrency`` processes, on the production clock) and the real ``twilio``
  client; beside it, a bare loop of the same number of ``client.messages.create`` calls
  against the same server. SEND_RATE is set to 100000 so the shared limiter is not the
  bottleneck. ``--only dispatch`` skips the tick figures.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from dripper import create_app
from dripper.extensions import db
from dripper.models import Message, Subscription
from dripper_testkit.builders import (
    all_day_course,
    bulk_due,
    due_subscriber_values,
    due_subscription_values,
)
from dripper_testkit.workers import WORKER_REDIS_URL, BrokerSpace, start_worker

SEND_RATE = 100_000.0


@contextmanager
def database(kind: str, pg_url: str | None) -> Iterator[str]:
    """A fresh, empty database of that kind, dropped afterwards."""
    if kind == "sqlite":
        with tempfile.TemporaryDirectory() as folder:
            yield f"sqlite:///{folder}/bench.sqlite3"
        return
    assert pg_url
    base = sa.make_url(pg_url)
    name = f"dripper_bench_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def settings(url: str, broker: BrokerSpace, **extra: Any) -> dict[str, Any]:
    return {
        "DATABASE_URL": url,
        "REDIS_URL": broker.url,
        "SECRET_KEY": "bench",
        "DRIPPER_SANDBOX": False,  # production's clock: no offset query per call
        "SMS_BACKEND": "console",
        "LOG_LEVEL": "WARNING",
        "SEND_RATE": SEND_RATE,
        "CELERY": broker.celery(),
        **extra,
    }


def server_side_due(connection: sa.Connection, course_id: int, count: int, due: Any) -> None:
    """``count`` due subscriptions written by PostgreSQL itself (INSERT ... SELECT over
    generate_series): a million rows in seconds, typed through the models' own columns."""
    from dripper.models import Subscriber

    subscriber, subscription = Subscriber.__table__, Subscription.__table__
    n = sa.func.generate_series(0, count - 1).column_valued("n")

    def typed(column: sa.Column[Any], value: Any) -> Any:
        return sa.literal(value, type_=column.type)

    c = subscriber.c
    person = due_subscriber_values()
    connection.execute(
        subscriber.insert().from_select(
            ["phone", *person],
            sa.select(
                sa.func.concat("+1202", sa.func.lpad(sa.cast(n, sa.Text), 7, "0")),
                *(typed(c[name], value) for name, value in person.items()),
            ),
        )
    )
    s = subscription.c
    values = due_subscription_values(course_id, due)
    connection.execute(
        subscription.insert().from_select(
            ["subscriber_id", *values],
            sa.select(c.id, *(typed(s[name], value) for name, value in values.items())),
        )
    )


def prepare(count: int) -> None:
    """The schema, a course, and ``count`` subscriptions due a minute ago."""
    from dripper.clock import now

    db.create_all()
    # A send window over the whole day, so the hour the bench runs at does not move
    # every send to tomorrow morning (quiet hours) and leave nothing to measure.
    course = all_day_course(slug="tiny")
    db.session.commit()
    with db.engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            server_side_due(connection, course.id, count, now() - timedelta(minutes=1))
        else:
            bulk_due(connection, course.id, count, now() - timedelta(minutes=1))


def rss_mb(pid: int | str = "self") -> float:
    """Resident memory of a process now, from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


@contextmanager
def rss_peak() -> Iterator[dict[str, float]]:
    """The growth of this process's resident memory over the block, sampled every 50 ms."""
    import threading

    figures = {"before": rss_mb(), "peak": rss_mb()}
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(0.05):
            figures["peak"] = max(figures["peak"], rss_mb())

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield figures
    finally:
        stop.set()
        thread.join()
        figures["growth"] = figures["peak"] - figures["before"]


def group_cpu_seconds(pgid: int) -> float:
    """User + system CPU seconds of every live process in a process group (the worker)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:
            total += (int(fields[11]) + int(fields[12])) / ticks
    return total


def tick_figures(kind: str, count: int, pg_url: str | None) -> dict[str, Any]:
    from dripper.drip.tick import tick

    broker = BrokerSpace(WORKER_REDIS_URL)
    try:
        with database(kind, pg_url) as url:
            app = create_app(settings(url, broker))
            with app.app_context():
                prepare(count)
                if kind == "postgresql":
                    with db.engine.begin() as connection:
                        connection.execute(sa.text("ANALYZE"))
                with rss_peak() as memory:
                    started = time.perf_counter()
                    result = tick()
                    elapsed = time.perf_counter() - started
                assert result.claimed == count, result.summary()
                tasks = result.tasks
                peak = 0
                if count > 100_000:  # tracing would double a million-row tick
                    db.session.remove()
                    db.engine.dispose()
                    return {
                        "seconds": elapsed,
                        "per_second": count / elapsed,
                        "peak_mb": float("nan"),
                        "rss_mb": memory["growth"],
                        "tasks": tasks,
                    }
                # Again, traced, on the same rows.
                db.session.execute(
                    sa.update(Subscription).values(claim_token=None, claimed_at=None)
                )
                db.session.commit()
                broker.lose_everything()
                tracemalloc.start()
                assert tick().claimed == count
                peak = tracemalloc.get_traced_memory()[1]
                tracemalloc.stop()
                db.session.remove()
                db.engine.dispose()
    finally:
        broker.close()
    return {
        "seconds": elapsed,
        "per_second": count / elapsed,
        "peak_mb": peak / 2**20,
        "rss_mb": memory["growth"],
        "tasks": tasks,
    }


@contextmanager
def fake_twilio(latency: float = 0.0) -> Iterator[dict[str, Any]]:
    """dripper_testkit/twilio_fake.py in a process of its own; yields the app settings for it."""
    process = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("fake_twilio_server.py")), str(latency)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        yield json.loads(process.stdout.readline())
    finally:
        process.terminate()
        process.wait(10)


def bare_loop(twilio: dict[str, Any], count: int) -> float:
    """Messages per second of a plain loop of twilio client calls."""
    from twilio.http.http_client import TwilioHttpClient
    from twilio.rest import Client

    client = Client(
        twilio["TWILIO_ACCOUNT_SID"],
        twilio["TWILIO_AUTH_TOKEN"],
        http_client=TwilioHttpClient(timeout=10, max_retries=0),
    )
    client.edge = client.region = None
    client.api.base_url = twilio["TWILIO_API_URL"]
    body = "Lesson 1 text."
    started = time.perf_counter()
    for n in range(count):
        client.messages.create(to=f"+1303{n:07d}", from_=twilio["TWILIO_FROM_NUMBER"], body=body)
    return count / (time.perf_counter() - started)


def dispatch_figures(
    kind: str,
    count: int,
    pg_url: str | None,
    concurrency: int,
    latency: float = 0.0,
    send_rate: float = SEND_RATE,
    bare: bool = True,
) -> dict[str, Any]:
    from dripper.drip.tick import tick

    broker = BrokerSpace(WORKER_REDIS_URL)
    with tempfile.TemporaryDirectory() as logs, fake_twilio(latency) as twilio:
        try:
            with database(kind, pg_url) as url:
                config = settings(url, broker, **twilio, SEND_RATE=send_rate)
                app = create_app(config)
                with app.app_context():
                    prepare(count)
                    # The production clock in the worker too (the test workers run the
                    # sandbox clock, one query per reading).
                    worker = start_worker(
                        config,
                        broker,
                        Path(logs),
                        overrides={**twilio, "DRIPPER_SANDBOX": False, "SEND_RATE": send_rate},
                        concurrency=concurrency,
                    )
                    assert worker.process is not None
                    pgid = worker.process.pid
                    try:
                        cpu_before = group_cpu_seconds(pgid)
                        started = time.perf_counter()
                        tick()
                        recorded = 0
                        while recorded < count:
                            time.sleep(0.05)
                            db.session.rollback()
                            recorded = db.session.scalar(
                                sa.select(sa.func.count())
                                .select_from(Message)
                                .where(Message.provider_sid.is_not(None))
                            )
                            if time.perf_counter() - started > 900:
                                raise TimeoutError(f"only {recorded} of {count} sent")
                        elapsed = time.perf_counter() - started
                        cpu = group_cpu_seconds(pgid) - cpu_before
                        twice = db.session.scalar(
                            sa.select(sa.func.count()).select_from(
                                sa.select(Message.subscription_id, Message.lesson_id)
                                .where(Message.provider_sid.is_not(None))
                                .group_by(Message.subscription_id, Message.lesson_id)
                                .having(sa.func.count() > 1)
                                .subquery()
                            )
                        )
                    finally:
                        worker.stop()
                    db.session.remove()
                    db.engine.dispose()
        finally:
            broker.close()
        bare_rate = bare_loop(twilio, count) if bare else float("nan")
    rate = count / elapsed
    return {
        "seconds": elapsed,
        "per_second": rate,
        "bare_per_second": bare_rate,
        "ratio": rate / bare_rate,
        "cpu_per_message": cpu / count,
        "twice": twice,
        "load": os.getloadavg()[0],
    }


def cost_breakdown(kind: str, count: int, pg_url: str | None) -> dict[str, float]:
    """Milliseconds per message of each stage, in one process with no broker: where the
    dispatch time goes."""
    from dripper.clock import now
    from dripper.drip.tasks import perform_many
    from dripper.drip.tick import claim_batch
    from dripper.sms.delivery import deliver_message, deliver_messages

    broker = BrokerSpace(WORKER_REDIS_URL)
    with fake_twilio() as twilio:
        try:
            with database(kind, pg_url) as url:
                app = create_app(settings(url, broker, **twilio))
                # Queue nothing: each stage is timed on its own.
                app.extensions["celery"].send_task = lambda *args, **kwargs: None
                with app.app_context():
                    prepare(count)
                    at = now()
                    claimed = claim_batch(at, at - timedelta(minutes=10), 0, count)
                    db.session.commit()
                    ids, token = [row[0] for row in claimed], claimed[0][2]
                    started = time.perf_counter()
                    for first in range(0, len(ids), 50):
                        perform_many(ids[first : first + 50], token)
                    drip = time.perf_counter() - started
                    messages = db.session.scalars(sa.select(Message.id)).all()
                    half = len(messages) // 2
                    started = time.perf_counter()
                    for message_id in messages[:half]:
                        deliver_message(message_id)
                    single = (time.perf_counter() - started) / half
                    started = time.perf_counter()
                    for first in range(half, len(messages), 50):
                        deliver_messages(messages[first : first + 50])
                    chunked = (time.perf_counter() - started) / (len(messages) - half)
                    db.session.remove()
                    db.engine.dispose()
        finally:
            broker.close()
        bare = bare_loop(twilio, count)
    return {
        "drip": drip / count * 1000,
        "deliver": single * 1000,
        "deliver_chunk": chunked * 1000,
        "bare": 1000 / bare,
    }


def main() -> None:
    from dripper.config import DEFAULTS, DRIP_BATCH_SIZE_OTHER, DRIP_BATCH_SIZE_POSTGRESQL

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument(
        "--big", type=int, default=1_000_000, help="due subscriptions of the PostgreSQL-only tick"
    )
    parser.add_argument("--dispatch", type=int, default=10_000, help="messages to dispatch")
    parser.add_argument("--repeat", type=int, default=3, help="dispatch runs; medians printed")
    parser.add_argument(
        "--slow-dispatch", type=int, default=1000, help="messages with the fake answering late"
    )
    parser.add_argument("--latency", type=float, default=0.150, help="the slow fake's answer time")
    parser.add_argument("--pg", default=os.environ.get("TEST_DATABASE_URL"))
    parser.add_argument(
        "--concurrency",
        type=int,
        default=os.cpu_count() or 2,
        help="worker processes (default: one per core, as celery worker starts)",
    )
    parser.add_argument("--only", choices=["tick", "dispatch"], help="run only these figures")
    args = parser.parse_args()
    kinds = ["sqlite", "postgresql"] if args.pg else ["sqlite"]
    if not args.pg:
        print("(no TEST_DATABASE_URL or --pg: PostgreSQL skipped)")

    print(
        f"drip tick (DRIP_BATCH_SIZE {DRIP_BATCH_SIZE_OTHER:,} on SQLite, "
        f"{DRIP_BATCH_SIZE_POSTGRESQL:,} on PostgreSQL, one send task per 50 claims), "
        f"{os.cpu_count()} cores"
    )
    for kind in kinds if args.only != "dispatch" else []:
        sizes = list(args.sizes)
        if kind == "postgresql" and args.big:
            sizes.append(args.big)
        for size in sizes:
            figures = tick_figures(kind, size, args.pg)
            traced = (
                f"peak {figures['peak_mb']:.1f} MB traced, "
                if figures["peak_mb"] == figures["peak_mb"]
                else ""
            )
            print(
                f"  {kind:<10} {size:>9,} due: {figures['seconds']:6.2f} s "
                f"({figures['per_second']:>8,.0f}/s, {figures['tasks']:,} tasks), "
                f"{traced}RSS growth {figures['rss_mb']:.1f} MB, "
                f"load {os.getloadavg()[0]:.2f}",
                flush=True,
            )

    if args.only == "tick":
        return
    kind = "postgresql" if args.pg else "sqlite"
    runs = []
    for _ in range(args.repeat):
        runs.append(dispatch_figures(kind, args.dispatch, args.pg, args.concurrency))
        figures = runs[-1]
        print(
            f"  run: {figures['per_second']:,.0f} msg/s vs bare {figures['bare_per_second']:,.0f} "
            f"msg/s, ratio {figures['ratio']:.2f}, {figures['cpu_per_message'] * 1000:.2f} ms "
            f"worker CPU/msg, sent twice {figures['twice']}, load {figures['load']:.2f}",
            flush=True,
        )

    def median(key: str) -> float:
        return statistics.median(run[key] for run in runs)

    print(
        f"dispatch on {kind}, {args.dispatch:,} lessons, SEND_RATE={SEND_RATE:,.0f} "
        f"(limiter not the bottleneck), 1 worker x {args.concurrency} processes, "
        f"median of {args.repeat}:"
    )
    print(
        f"  tick -> worker -> twilio client -> fake server: {median('per_second'):,.0f} msg/s "
        f"({median('seconds'):.1f} s), worker CPU {median('cpu_per_message') * 1000:.2f} ms/msg"
    )
    print(f"  bare loop of twilio client calls:             {median('bare_per_second'):,.0f} msg/s")
    print(f"  ratio: {median('ratio'):.2f} (target >= 0.70), load {median('load'):.2f}")

    if args.slow_dispatch:
        limit = float(DEFAULTS["SEND_RATE"])
        slow = dispatch_figures(
            kind,
            args.slow_dispatch,
            args.pg,
            args.concurrency,
            latency=args.latency,
            bare=False,
        )
        per_process = slow["per_second"] / args.concurrency
        print(
            f"dispatch with the fake answering after {args.latency * 1000:.0f} ms, "
            f"{args.slow_dispatch:,} lessons, limiter out of the way: "
            f"{slow['per_second']:,.1f} msg/s, {per_process:,.1f} msg/s per worker process "
            f"({args.concurrency} processes), worker CPU "
            f"{slow['cpu_per_message'] * 1000:.2f} ms/msg, load {slow['load']:.2f}; "
            f"SEND_RATE={limit:g}/s (default) needs {math.ceil(limit / per_process)} process(es), "
            f"100/s needs {math.ceil(100 / per_process)}"
        )

    costs = cost_breakdown(kind, min(args.dispatch, 500), args.pg)
    print(
        "  per message, one process, no broker: "
        f"drip send {costs['drip']:.2f} ms (chunks of 50, one commit each), "
        f"delivery {costs['deliver']:.2f} ms one by one, {costs['deliver_chunk']:.2f} ms "
        f"in chunks of 50, bare twilio call {costs['bare']:.2f} ms"
    )


if __name__ == "__main__":
    main()
