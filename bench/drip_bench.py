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
  Twilio-compatible server (tests/twilio_fake.py, in its own process) through a real Celery
  worker (``--concurrency`` processes, on the production clock) and the real ``twilio``
  client; beside it, a bare loop of the same number of ``client.messages.create`` calls
  against the same server. SEND_RATE is set to 100000 so the shared limiter is not the
  bottleneck. ``--only dispatch`` skips the tick figures.
"""

from __future__ import annotations

import argparse
import json
import os
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

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "tests" / "e2e")]

import sqlalchemy as sa  # noqa: E402
from drip_support import (  # noqa: E402
    WORKER_REDIS_URL,
    BrokerSpace,
    bulk_due,
    small_course,
    start_worker,
)

from dripper import create_app  # noqa: E402
from dripper.extensions import db  # noqa: E402
from dripper.models import Message, Subscription  # noqa: E402

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


def prepare(count: int) -> None:
    """The schema, a course, and ``count`` subscriptions due a minute ago."""
    from dripper.clock import now

    db.create_all()
    course = small_course(3)
    # A send window over the whole day, so the hour the bench runs at does not move
    # every send to tomorrow morning (quiet hours) and leave nothing to measure.
    course.pacing = {"window_start": "00:00", "window_end": "23:59", "send_time": "09:00"}
    db.session.commit()
    with db.engine.begin() as connection:
        bulk_due(connection, course.id, count, now() - timedelta(minutes=1))


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
                started = time.perf_counter()
                result = tick()
                elapsed = time.perf_counter() - started
                assert result.claimed == count, result.summary()
                tasks = result.tasks
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
        "tasks": tasks,
    }


@contextmanager
def fake_twilio() -> Iterator[dict[str, Any]]:
    """tests/twilio_fake.py in a process of its own; yields the app settings for it."""
    process = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("fake_twilio_server.py"))],
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


def dispatch_figures(kind: str, count: int, pg_url: str | None, concurrency: int) -> dict[str, Any]:
    from dripper.drip.tick import tick

    broker = BrokerSpace(WORKER_REDIS_URL)
    with tempfile.TemporaryDirectory() as logs, fake_twilio() as twilio:
        try:
            with database(kind, pg_url) as url:
                config = settings(url, broker, **twilio)
                app = create_app(config)
                with app.app_context():
                    prepare(count)
                    # The production clock in the worker too (the test workers run the
                    # sandbox clock, one query per reading).
                    worker = start_worker(
                        config,
                        broker,
                        Path(logs),
                        overrides={**twilio, "DRIPPER_SANDBOX": False},
                        concurrency=concurrency,
                    )
                    try:
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
                            if time.perf_counter() - started > 600:
                                raise TimeoutError(f"only {recorded} of {count} sent")
                        elapsed = time.perf_counter() - started
                    finally:
                        worker.stop()
                    db.session.remove()
                    db.engine.dispose()
        finally:
            broker.close()
        bare = bare_loop(twilio, count)
    rate = count / elapsed
    return {"seconds": elapsed, "per_second": rate, "bare_per_second": bare, "ratio": rate / bare}


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
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--dispatch", type=int, default=1000, help="messages to dispatch")
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

    print(f"drip tick (DRIP_BATCH_SIZE=500, one send task per 50 claims), {os.cpu_count()} cores")
    for kind in kinds if args.only != "dispatch" else []:
        for size in args.sizes:
            figures = tick_figures(kind, size, args.pg)
            print(
                f"  {kind:<10} {size:>7,} due: {figures['seconds']:6.2f} s "
                f"({figures['per_second']:>8,.0f}/s, {figures['tasks']:,} tasks), "
                f"peak {figures['peak_mb']:.1f} MB traced",
                flush=True,
            )

    if args.only == "tick":
        return
    kind = "postgresql" if args.pg else "sqlite"
    figures = dispatch_figures(kind, args.dispatch, args.pg, args.concurrency)
    print(
        f"dispatch on {kind}, {args.dispatch:,} lessons, SEND_RATE={SEND_RATE:,.0f} "
        f"(limiter not the bottleneck), 1 worker x {args.concurrency} processes:"
    )
    print(
        f"  tick -> worker -> twilio client -> fake server: {figures['per_second']:,.0f} msg/s "
        f"({figures['seconds']:.1f} s)"
    )
    print(
        f"  bare loop of twilio client calls:             {figures['bare_per_second']:,.0f} msg/s"
    )
    print(f"  ratio: {figures['ratio']:.2f}")
    costs = cost_breakdown(kind, min(args.dispatch, 500), args.pg)
    print(
        "  per message, one process, no broker: "
        f"drip send {costs['drip']:.2f} ms (chunks of 50, one commit each), "
        f"delivery {costs['deliver']:.2f} ms one by one, {costs['deliver_chunk']:.2f} ms "
        f"in chunks of 50, bare twilio call {costs['bare']:.2f} ms"
    )


if __name__ == "__main__":
    main()
