"""Benchmark inbound webhooks under a steady offered load, against a minimal app beside it.

Run: ``.venv/bin/python bench/webhook_bench.py [--rate 200] [--seconds 60] [--repeat 3]``
(PostgreSQL from ``TEST_DATABASE_URL`` or ``--pg``; Redis from ``--redis``, default
``TEST_WORKER_REDIS_URL`` or ``redis://127.0.0.1:6379/14``). Shorter runs for development: ``--seconds 10 --repeat 1
--step-seconds 5``.

dripper runs under gunicorn exactly as docker-compose.yml's ``web`` command says (only the
bind address changes to 127.0.0.1), with one Celery worker (``celery -A worker worker
--concurrency 1``, with the compose file's ``WORKER_CPU_POLICY`` and under the nice level
matching its ``cpu_shares``; it acts on the texts the webhook leaves to a worker and sends
replies) and the Twilio-compatible server of dripper_testkit/twilio_fake.py for replies that
go through the REST API. An open-loop generator (asyncio, one connection per request, as
Twilio connects) sends signed requests (twilio's RequestValidator) at the offered rate
whatever the answers: 1/3 JOIN from new numbers, 2/3 free text from subscribers.

Printed, each a median of ``--repeat`` runs, with the load average beside it:

* at ``--rate`` for ``--seconds``: p50/p99 latency, errors (non-200 or no answer), and the
  reconciliation: inbound rows stored = requests sent, each stored once (distinct sids),
  each handled, each answered once (exactly one 200 per request; outbound replies counted);
  and the machine's CPU per request, by process: gunicorn, the Celery worker (sending the
  replies), PostgreSQL's backends, the load generator and the rest (the fake Twilio, Redis);
* the sustainable rate of dripper and of bench/minimal_webhook_app.py (signature check and
  one INSERT, same gunicorn command, served beside dripper), each the highest of ``--steps``
  with p99 < 50 ms and no error over ``--step-seconds``, searched in turn ``--repeat``
  times (at most four), each round's ratio and their median (target >= 0.5); each step's
  CPU a request by process; for dripper, the texts still waiting for the worker after each
  step, and how long the worker took to work them off after its search.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import math
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import sqlalchemy as sa
from drip_bench import database, fake_twilio, group_cpu_seconds
from twilio.request_validator import RequestValidator

from dripper import create_app
from dripper.extensions import db
from dripper.models import Direction, Message
from dripper_testkit.builders import all_day_course, bulk_due
from dripper_testkit.compose import compose_services, compose_web_command

ROOT = Path(__file__).resolve().parents[1]

PUBLIC_URL = "https://dripper.bench"
SUBSCRIBERS = 3000
P99_TARGET_MS = 50.0
#: Sustainable-rate searches at most, and steps in each: each search's steps take two-digit
#: tags of their own for their JOIN numbers (10 to 89; the steady runs take 0 to 9).
MAX_SEARCHES = 4
MAX_STEPS = 20
#: About one step in eight apart from 200/s up: a step of 50% (200 to 300/s) left each
#: rate up to a third below the truth, so that a round's ratio moved by as much as a step.
STEPS = [100, 200, 250, 300, 350, 400, 450, 500, 600, 700, 800, 900, 1000, 1200, 1400, 1600]
FREE_TEXT = [
    "I tried it this morning and it felt calmer",
    "not sure this works for me",
    "what do you mean by that?",
    "ok",
    "Did it twice today, easier the second time",
    "I forgot yesterday, sorry",
]


def worker_niceness() -> int:
    """The nice level that gives the bench's worker the CPU share docker-compose.yml gives
    the workers against web (``cpu_shares``; 1024 when unset). The kernel weighs each nice
    level about 1.25 times the next, so a quarter of the share is nice 6, an eighth nice 9."""
    services = compose_services()
    web = services["web"].get("cpu_shares", 1024)
    worker = services["worker"].get("cpu_shares", 1024)
    return max(0, min(19, round(math.log(web / worker) / math.log(1.25))))


def worker_cpu_policy() -> str:
    """The WORKER_CPU_POLICY docker-compose.yml gives the worker (``normal`` when unset);
    the bench's worker applies it itself, as a deployed one does."""
    environment = compose_services()["worker"].get("environment") or {}
    return str(environment.get("WORKER_CPU_POLICY", "normal"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def gunicorn_command(module: str, port: int, extra: list[str] | None = None) -> list[str]:
    command = compose_web_command()
    # Options given later win: --gunicorn "--workers 3" tries another layout.
    command[-1:-1] = extra or []
    command[command.index("--bind") + 1] = f"127.0.0.1:{port}"
    command[command.index("web:app")] = module
    # The access log as configured, but to a file rather than the bench's terminal.
    if "--access-logfile" in command:
        command[command.index("--access-logfile") + 1] = "-"
    return [sys.executable, "-m", *command]


@contextmanager
def process(command: list[str], env: dict[str, str], log: Path, cwd: Path) -> Iterator[int]:
    """``command`` in a session of its own; yields its process group's id."""
    with log.open("ab") as out:
        child = subprocess.Popen(
            command, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        yield child.pid
    finally:
        if child.poll() is None:
            os.killpg(child.pid, 15)
            try:
                child.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(child.pid, 9)
                child.wait(10)


def wait_listening(port: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), 0.5).close()
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"nothing listening on {port}")


def is_join(n: int) -> bool:
    """Request ``n`` of the mix is a JOIN (one in three); the rest are free text."""
    return n % 3 == 0


def inbound_form(n: int, tag: int, to: str) -> dict[str, str]:
    """Twilio's form for request ``n`` of the mix: a JOIN from a new number (``tag`` keeps
    runs apart), or free text from one of the ``SUBSCRIBERS``."""
    join = is_join(n)
    return {
        "MessageSid": "SM" + uuid.uuid4().hex,
        "AccountSid": "AC" + "0" * 32,
        "From": f"+1404{tag:02d}{n:05d}" if join else f"+1202{n % SUBSCRIBERS:07d}",
        "To": to,
        "Body": "JOIN" if join else FREE_TEXT[n % len(FREE_TEXT)],
        "NumMedia": "0",
    }


def requests_for(
    rate: float, seconds: float, token: str, to: str, tag: int
) -> list[tuple[bytes, bool]]:
    """The signed raw HTTP requests of one run, built before it starts: (bytes, is_join)."""
    validator = RequestValidator(token)
    url = PUBLIC_URL + "/sms/inbound"
    out = []
    for n in range(int(rate * seconds)):
        join = is_join(n)
        params = inbound_form(n, tag, to)
        body = urlencode(params).encode()
        signature = validator.compute_signature(url, params)
        head = (
            "POST /sms/inbound HTTP/1.1\r\nHost: dripper.bench\r\n"
            "Content-Type: application/x-www-form-urlencoded\r\n"
            f"X-Twilio-Signature: {signature}\r\nX-Forwarded-Proto: https\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        )
        out.append((head.encode() + body, join))
    return out


async def one(port: int, raw: bytes) -> tuple[float, int, bytes]:
    started = time.perf_counter()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(raw)
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(), 30)
        writer.close()
        status = int(answer.split(b" ", 2)[1])
    except (OSError, TimeoutError, ValueError, IndexError):
        return time.perf_counter() - started, 0, b""
    return time.perf_counter() - started, status, answer


async def open_loop(port: int, requests: list[tuple[bytes, bool]], rate: float) -> list[Any]:
    """Send each request at its time whatever the earlier ones are doing."""
    tasks = []
    start = time.perf_counter()
    for n, (raw, _join) in enumerate(requests):
        delay = start + n / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(port, raw)))
    return await asyncio.gather(*tasks)


def run_load(port: int, requests: list[tuple[bytes, bool]], rate: float) -> dict[str, Any]:
    """Offer ``requests`` at ``rate``; the latency figures and answers."""
    # This process holds the app's modules and the prepared requests: a full collection
    # here would stall the sending and be counted as the server's latency. None during the
    # run, whichever app it measures.
    gc.collect()
    gc.disable()
    try:
        results = asyncio.run(open_loop(port, requests, rate))
    finally:
        gc.enable()
    latencies = sorted(r[0] * 1000 for r in results)
    errors = sum(1 for r in results if r[1] != 200)
    answered = sum(1 for r in results if r[1] == 200 and b"<Response" in r[2])
    quantiles = statistics.quantiles(latencies, n=100)
    return {
        "sent": len(results),
        "p50": statistics.median(latencies),
        "p99": quantiles[98],
        "errors": errors,
        "answered": answered,
        "twiml_messages": sum(r[2].count(b"<Message") for r in results),
        "load": os.getloadavg()[0],
    }


def machine_cpu_seconds() -> float:
    """Busy CPU seconds of the whole machine so far (every core: /proc/stat's first line)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle and iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def backend_cpu(url: str) -> dict[int, float]:
    """CPU seconds so far of each PostgreSQL backend serving the bench's database (the
    server runs on this machine: its backends are processes here)."""
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        pids = connection.scalars(
            sa.text(
                "SELECT pid FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        ).all()
    engine.dispose()
    ticks = os.sysconf("SC_CLK_TCK")
    seconds = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # not on this machine, or gone
        seconds[pid] = (int(fields[11]) + int(fields[12])) / ticks
    return seconds


@dataclass
class CpuSplit:
    """Where the machine's CPU went during a run, by process: web (gunicorn), the Celery
    worker, PostgreSQL's backends for the bench database, this load generator, the rest."""

    web_group: int
    worker_group: int | None  # None: no worker
    url: str
    start: dict[str, Any] = field(default_factory=dict)

    def read(self) -> dict[str, Any]:
        # This process's own time first, so the reading's query to PostgreSQL is not in it.
        return {
            "load": time.process_time(),
            "web": group_cpu_seconds(self.web_group),
            "worker": group_cpu_seconds(self.worker_group) if self.worker_group else 0.0,
            "postgres": backend_cpu(self.url),
            "machine": machine_cpu_seconds(),
        }

    def begin(self) -> None:
        self.start = self.read()

    def per_request(self, requests: int) -> dict[str, float]:
        """Milliseconds of CPU per request of each part since ``begin``."""
        end, start = self.read(), self.start
        spent = {key: end[key] - start[key] for key in ("web", "worker", "load", "machine")}
        spent["postgres"] = sum(
            seconds - start["postgres"].get(pid, 0.0) for pid, seconds in end["postgres"].items()
        )
        known = spent["web"] + spent["worker"] + spent["postgres"] + spent["load"]
        spent["rest"] = max(0.0, spent["machine"] - known)
        return {key: value * 1000 / max(requests, 1) for key, value in spent.items()}


def describe_split(ms: dict[str, float]) -> str:
    return (
        f"CPU a request: web {ms['web']:.1f} ms, worker {ms['worker']:.1f} ms, PostgreSQL "
        f"{ms['postgres']:.1f} ms, load generator {ms['load']:.1f} ms, the rest "
        f"{ms['rest']:.1f} ms; the machine {ms['machine']:.1f} ms"
    )


def reconcile(url: str, sent_sids: int, since_id: int) -> dict[str, int]:
    """Inbound rows stored, distinct, handled; outbound replies; after a short settle."""
    engine = sa.create_engine(url)
    inbound = sa.and_(Message.direction == Direction.INBOUND, Message.id > since_id)
    with engine.connect() as connection:
        # Until gunicorn's backlog is worked off (requests whose client gave up are still
        # served) and every stored text is handled, or two minutes.
        seen = -1
        for _ in range(120):
            stored, unhandled = connection.execute(
                sa.select(
                    sa.func.count(), sa.func.count() - sa.func.count(Message.handled_at)
                ).where(inbound)
            ).one()
            connection.rollback()
            if stored == seen and not unhandled:
                break
            seen = stored
            time.sleep(1)
        row = inbound_counts(connection, since_id)
        outbound = connection.scalar(
            sa.select(sa.func.count())
            .select_from(Message)
            .where(Message.direction == Direction.OUTBOUND, Message.id > since_id)
        )
        last = connection.scalar(sa.select(sa.func.max(Message.id))) or 0
    engine.dispose()
    return {
        "stored": row[0],
        "distinct": row[1],
        "handled": row[2],
        "outbound": outbound,
        "expected": sent_sids,
        "last": last,
    }


def inbound_counts(connection: sa.Connection, since_id: int) -> tuple[int, int, int]:
    """Inbound texts stored after ``since_id``: how many, how many distinct sids, how many
    acted on."""
    stored, distinct, handled = connection.execute(
        sa.select(
            sa.func.count(),
            sa.func.count(sa.distinct(Message.provider_sid)),
            sa.func.count(Message.handled_at),
        ).where(Message.direction == Direction.INBOUND, Message.id > since_id)
    ).one()
    return stored, distinct, handled


def unhandled(url: str) -> int:
    """Stored inbound texts nobody has acted on yet."""
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        count = connection.scalar(
            sa.select(sa.func.count())
            .select_from(Message)
            .where(Message.direction == Direction.INBOUND, Message.handled_at.is_(None))
        )
    engine.dispose()
    return int(count or 0)


def drain(url: str, since_id: int, limit: float = 900.0, when: str = "after the search") -> str:
    """Wait until the worker has acted on every stored text; say how long it took, and
    whether each text since ``since_id`` was stored once and acted on once."""
    started = time.monotonic()
    backlog = unhandled(url)
    while unhandled(url) and time.monotonic() - started < limit:
        time.sleep(1)
    took = time.monotonic() - started
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        stored, distinct, handled = inbound_counts(connection, since_id)
    engine.dispose()
    rate = f" ({backlog / took:.0f} texts/s)" if backlog and took >= 1 else ""
    return (
        f"the worker's queue {when}: {backlog:,} texts, worked off in {took:.0f} s"
        f"{rate}; stored {stored:,} (distinct {distinct:,}, handled {handled:,})"
    )


def wait_quiet(group: int | None, limit: float = 120.0) -> str:
    """Wait until the process ``group`` (the worker) has used under 2% of a core for a
    second; say how long that took."""
    started = time.monotonic()
    if group is None:
        return "no worker"
    while time.monotonic() - started < limit:
        before = group_cpu_seconds(group)
        time.sleep(1)
        if group_cpu_seconds(group) - before < 0.02:
            break
    return f"the worker quiet after {time.monotonic() - started:.0f} s more"


@contextmanager
def autovacuum(url: str, every: float = 10.0) -> Iterator[list[str]]:
    """Vacuum and analyze the bench's tables as PostgreSQL's autovacuum would, when the
    server runs without it; yields the list of what was done.

    Without it (some test machines turn it off) the dead rows that each handled text's
    UPDATEs leave behind pile up for the whole bench (140,000 beside 87,000 live ones in
    ``message`` after the steady runs, seen on 2026-11-28), and every later query of the
    worker wades through them, which a production server never lets happen. The
    thresholds are autovacuum's defaults (50 rows and 20% of the table's for a vacuum,
    10% for an analyze); ``every`` stands for its naptime. Its work runs in a backend of
    the bench's database, so the CPU split counts it as PostgreSQL's.
    """
    done: list[str] = []
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        running = connection.scalar(sa.text("SHOW autovacuum")) == "on"
    if running:
        engine.dispose()
        yield done
        return
    stop = threading.Event()

    def sweep() -> None:
        with engine.connect() as connection:
            while not stop.wait(every):
                rows = connection.execute(
                    sa.text(
                        "SELECT relname, n_live_tup, n_dead_tup, n_mod_since_analyze "
                        "FROM pg_stat_user_tables"
                    )
                ).all()
                for table, live, dead, changed in rows:
                    if dead > 50 + 0.2 * live:
                        connection.execute(sa.text(f'VACUUM (ANALYZE) "{table}"'))
                        done.append(f"vacuum {table}")
                    elif changed > 50 + 0.1 * live:
                        connection.execute(sa.text(f'ANALYZE "{table}"'))
                        done.append(f"analyze {table}")

    thread = threading.Thread(target=sweep, name="autovacuum", daemon=True)
    thread.start()
    try:
        yield done
    finally:
        stop.set()
        thread.join()
        engine.dispose()


def seed_subscribers() -> None:
    """The schema, the JOIN course and ``SUBSCRIBERS`` subscribers whose next lesson is a
    month away, so their texts are free replies (in an app context)."""
    from dripper.clock import now

    db.create_all()
    course = all_day_course(slug="join")
    db.session.commit()
    with db.engine.begin() as connection:
        bulk_due(connection, course.id, SUBSCRIBERS, now() + timedelta(days=30))


def warm_up(port: int, token: str, to: str) -> None:
    """A few requests first, so each gunicorn worker has loaded the reply model before the
    clock starts (as a deployed one has long since done)."""
    asyncio.run(open_loop(port, requests_for(10, 4, token, to, 99), 10))


def sustainable(
    port: int,
    steps: list[float],
    seconds: float,
    token: str,
    to: str,
    tag: int,
    split: CpuSplit,
    url: str | None = None,
) -> tuple[float, list[str]]:
    """The highest offered rate with p99 under target and no error; stops at the first miss.

    With dripper's database ``url``, each step's line also says how many of the texts
    stored so far still wait for a worker when the step ends (its queue).
    """
    best, lines = 0.0, []
    for rate in steps:
        requests = requests_for(rate, seconds, token, to, tag)
        split.begin()
        figures = run_load(port, requests, rate)
        cpu = split.per_request(len(requests))
        waiting = f", {unhandled(url):,} texts waiting for the worker" if url else ""
        tag += 1
        ok = figures["p99"] < P99_TARGET_MS and figures["errors"] == 0
        lines.append(
            f"{rate:.0f}/s p50 {figures['p50']:.1f} ms p99 {figures['p99']:.1f} ms "
            f"errors {figures['errors']} load {figures['load']:.2f}, CPU a request "
            f"{cpu['machine']:.1f} ms (web {cpu['web']:.1f}, worker {cpu['worker']:.1f}, "
            f"PostgreSQL {cpu['postgres']:.1f}, the rest {cpu['rest']:.1f})"
            f"{waiting}{'' if ok else ' (miss)'}"
        )
        if not ok:
            break
        best = rate
        time.sleep(2)
    return best, lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=200.0, help="offered requests per second")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--repeat", type=int, default=3, help="runs; medians are printed")
    parser.add_argument(
        "--steps",
        type=float,
        nargs="+",
        default=STEPS,
    )
    parser.add_argument("--step-seconds", type=float, default=15.0)
    parser.add_argument("--pg", default=os.environ.get("TEST_DATABASE_URL"))
    parser.add_argument(
        "--redis",
        default=os.environ.get("TEST_WORKER_REDIS_URL", "redis://127.0.0.1:6379/14"),
        help="the broker (make bench sets TEST_WORKER_REDIS_URL)",
    )
    parser.add_argument(
        "--gunicorn", default="", help="options added to the compose web command, to compare"
    )
    parser.add_argument("--skip-ratio", action="store_true", help="no sustainable-rate search")
    args = parser.parse_args()
    if len(args.steps) > MAX_STEPS or args.repeat > 10:
        # Each run and each search's steps take two-digit tags of their own.
        parser.error(f"at most {MAX_STEPS} --steps and 10 --repeat")
    if not args.pg:
        print("(no TEST_DATABASE_URL or --pg: the webhook bench runs on PostgreSQL only; skipped)")
        return
    extra = args.gunicorn.split()
    print(
        f"webhooks: {' '.join(compose_web_command())} (docker-compose.yml) {args.gunicorn}, "
        f"{os.cpu_count()} cores, load generator on the same machine; worker "
        f"WORKER_CPU_POLICY={worker_cpu_policy()}, nice {worker_niceness()}"
    )
    with (
        tempfile.TemporaryDirectory() as folder,
        fake_twilio() as twilio,
        database("postgresql", args.pg) as url,
        autovacuum(url) as vacuumed,
    ):
        logs = Path(folder)
        env = {
            **os.environ,
            "DATABASE_URL": url,
            "REDIS_URL": args.redis,
            "SECRET_KEY": "bench",
            "DRIPPER_SANDBOX": "0",
            "LOG_LEVEL": "WARNING",
            "PUBLIC_URL": PUBLIC_URL,
            "SMS_BACKEND": "twilio",
            "SEND_RATE": "1000",
            "CLASSIFIER_MODEL_PATH": str(logs / "reply-model.npz"),
            **{key: str(value) for key, value in twilio.items()},
            "WORKER_CPU_POLICY": worker_cpu_policy(),
            "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "bench")]),
        }
        token, to = twilio["TWILIO_AUTH_TOKEN"], twilio["TWILIO_FROM_NUMBER"]
        args.token, args.to = token, to
        app = create_app(
            {
                "DATABASE_URL": url,
                "REDIS_URL": args.redis,
                "SECRET_KEY": "bench",
                "DRIPPER_SANDBOX": False,
                "LOG_LEVEL": "WARNING",
                **twilio,
            }
        )
        with app.app_context():
            seed_subscribers()
            with db.engine.begin() as connection:
                connection.execute(
                    sa.text(
                        "CREATE TABLE minimal_inbound (id bigserial PRIMARY KEY, "
                        "sid varchar(64) UNIQUE NOT NULL, phone varchar(16), body text)"
                    )
                )
            db.session.remove()
            db.engine.dispose()
        subprocess.run(
            [sys.executable, "-m", "flask", "--app", "web", "classifier", "train"],
            cwd=ROOT,
            env=env,
            check=False,
            capture_output=True,
        )
        port = free_port()
        worker = ["nice", "-n", str(worker_niceness()), sys.executable, "-m", "celery"]
        worker += ["-A", "worker", "worker", "--concurrency", "1"]
        worker += ["--loglevel", "WARNING", "--without-gossip", "--without-mingle"]
        minimal_port = free_port()
        with (
            process(worker, env, logs / "worker.log", ROOT) as worker_group,
            process(gunicorn_command("web:app", port, extra), env, logs / "web.log", ROOT) as web,
            process(
                gunicorn_command("minimal_webhook_app:app", minimal_port, extra),
                env,
                logs / "min.log",
                ROOT,
            ) as minimal,
        ):
            split = CpuSplit(web, worker_group, url)
            for each in (port, minimal_port):
                wait_listening(each)
                warm_up(each, token, to)
            time.sleep(2)
            runs, last = [], reconcile(url, 0, 0)["last"]
            for trial in range(args.repeat):
                requests = requests_for(args.rate, args.seconds, token, to, trial)
                split.begin()
                figures = run_load(port, requests, args.rate)
                figures.update(reconcile(url, len(requests), last))
                # Up to the end of the reconciliation: the worker's sends of the run's
                # replies are done by then.
                figures["cpu"] = split.per_request(len(requests))
                last = figures["last"]
                runs.append(figures)
                print(
                    f"  run {trial + 1}: {figures['sent']:,} sent at {args.rate:.0f}/s: "
                    f"p50 {figures['p50']:.1f} ms, p99 {figures['p99']:.1f} ms, "
                    f"errors {figures['errors']}, answered {figures['answered']:,}, "
                    f"stored {figures['stored']:,} (distinct {figures['distinct']:,}, handled "
                    f"{figures['handled']:,}), replies {figures['outbound']:,} "
                    f"({figures['twiml_messages']:,} in TwiML), load {figures['load']:.2f}\n"
                    f"    {describe_split(figures['cpu'])}",
                    flush=True,
                )
                time.sleep(3)
            med = {k: statistics.median(r[k] for r in runs) for k in ("p50", "p99", "load")}
            print(
                f"dripper at {args.rate:.0f}/s for {args.seconds:.0f} s, median of {args.repeat}: "
                f"p50 {med['p50']:.1f} ms, p99 {med['p99']:.1f} ms, "
                f"errors {sum(r['errors'] for r in runs)}, load {med['load']:.2f}",
                flush=True,
            )
            cpu = {k: statistics.median(r["cpu"][k] for r in runs) for k in runs[0]["cpu"]}
            print(f"  {describe_split(cpu)} (medians)", flush=True)
            if not args.skip_ratio:
                # The minimal app's split shows the worker too: any work left over would show.
                minimal_split = CpuSplit(minimal, worker_group, url)
                search_ratio(args, port, minimal_port, split, minimal_split, url)
        if vacuumed:
            counts = Counter(vacuumed)
            print(
                "the server runs without autovacuum; the bench did its work: "
                + ", ".join(f"{what} {n}x" for what, n in sorted(counts.items()))
            )


def search_ratio(
    args: argparse.Namespace,
    port: int,
    minimal_port: int,
    split: CpuSplit,
    minimal_split: CpuSplit,
    url: str,
) -> None:
    """The sustainable rates of dripper and of the minimal app, searched in turn
    ``--repeat`` times (at most ``MAX_SEARCHES``), and the median of the rounds' ratios.

    Searched in turn, both served all along: a machine whose speed drifts (a shared host)
    moves both figures of a round alike. Each search starts with nothing left over for
    the worker, as on an idle machine: a backlog it is still working off would load
    PostgreSQL (whose backends do not share the worker's CPU policy) during the steps.
    """
    token, to = args.token, args.to
    rounds = min(args.repeat, MAX_SEARCHES)
    ratios = []
    for round_ in range(rounds):
        lines = [f"  dripper   {drain(url, 0, when='before the search')}"]
        lines.append(f"  dripper   {wait_quiet(split.worker_group)}")
        since = reconcile(url, 0, 0)["last"]
        # Tags keep each step's JOIN numbers new (two digits of the number: under 100).
        tag = 10 + MAX_STEPS * round_
        dripper_rate, steps = sustainable(
            port, args.steps, args.step_seconds, token, to, tag, split, url
        )
        lines += [f"  dripper   {line}" for line in steps]
        lines.append(f"  dripper   {drain(url, since)}")
        # The replies to the texts are sent by tasks of their own: done before the minimal
        # app's search, so their sends load nothing of it.
        lines.append(f"  dripper   {wait_quiet(split.worker_group)}")
        # The minimal app keeps no subscribers: the round's numbers are new to it too.
        minimal_rate, steps = sustainable(
            minimal_port, args.steps, args.step_seconds, token, to, tag, minimal_split
        )
        lines += [f"  minimal   {line}" for line in steps]
        ratio = dripper_rate / minimal_rate if minimal_rate else 0.0
        ratios.append(ratio)
        print(f"search {round_ + 1} of {rounds}:", "\n".join(lines), sep="\n")
        print(
            f"  dripper {dripper_rate:.0f}/s, minimal app {minimal_rate:.0f}/s, ratio {ratio:.2f}",
            flush=True,
        )
    print(
        f"sustainable (p99 < {P99_TARGET_MS:.0f} ms, 0 errors, {args.step_seconds:.0f} s "
        f"steps), ratio of dripper's rate to the minimal app's, median of {rounds} searches: "
        f"{statistics.median(ratios):.2f} ({', '.join(f'{r:.2f}' for r in ratios)}; "
        f"target >= 0.50)"
    )


if __name__ == "__main__":
    main()
