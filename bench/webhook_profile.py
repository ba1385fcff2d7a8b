"""Where one inbound webhook's time goes: in one process, no gunicorn, no network.

Run: ``.venv/bin/python bench/webhook_profile.py [--requests 300] [--profile] [--sort tottime]``
(PostgreSQL from ``TEST_DATABASE_URL`` or ``--pg``; SQLite without). The same mix as
bench/webhook_bench.py (1/3 JOIN from new numbers, 2/3 free text from 3,000 subscribers),
signed with twilio's RequestValidator and posted through Flask's test client on the
production clock, after a warm-up that loads the reply model and the course cache.

Printed: the median and mean wall time per request, the CPU time per request (this
process; PostgreSQL's own work is not in it), the SQL statements per request, and with
``--profile`` cProfile's top functions.

With ``--worker`` the same is measured for what a worker then does with those requests:
every task the webhooks queued (acting on a text left to a worker, sending an answer
through the real ``twilio`` client to the Twilio-compatible server of
dripper_testkit/twilio_fake.py in this process) is run here, task by task, per text.
With ``--parts``, each step of a webhook is timed on its own first.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import statistics
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from drip_bench import database
from twilio.request_validator import RequestValidator
from webhook_bench import PUBLIC_URL, inbound_form, seed_subscribers

from dripper import create_app
from dripper.extensions import db
from dripper_testkit.twilio_fake import FakeTwilio

TOKEN = "bench-auth-token-0123456789abcdef"
TO = "+15005550006"
ACCOUNT = "AC" + "0" * 32
WARM_UP = 60


def signed(validator: RequestValidator, n: int) -> tuple[dict[str, str], dict[str, str]]:
    """The form and headers of request ``n`` of the mix, as Twilio would post them."""
    params = inbound_form(n, 0, TO)
    signature = validator.compute_signature(PUBLIC_URL + "/sms/inbound", params)
    return params, {"X-Twilio-Signature": signature, "X-Forwarded-Proto": "https"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--pg", default=os.environ.get("TEST_DATABASE_URL"))
    parser.add_argument("--profile", action="store_true", help="print cProfile's top functions")
    parser.add_argument("--sort", default="cumulative", help="cProfile's order (tottime, …)")
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--worker", action="store_true", help="profile the worker's tasks")
    parser.add_argument(
        "--parts", action="store_true", help="the CPU of each step of a webhook, one at a time"
    )
    parser.add_argument(
        "--broker", default="memory://", help="where texts are queued (a Redis URL: as deployed)"
    )
    args = parser.parse_args()
    if args.parts and args.worker:
        parser.error("--parts queues tasks of its own: not with --worker")
    kind = "postgresql" if args.pg else "sqlite"
    fake = FakeTwilio(account_sid=ACCOUNT, auth_token=TOKEN, from_number=TO).start()
    with tempfile.TemporaryDirectory() as folder, database(kind, args.pg) as url:
        app = create_app(
            {
                "DATABASE_URL": url,
                "SECRET_KEY": "bench",
                "DRIPPER_SANDBOX": False,
                "LOG_LEVEL": "WARNING",
                "PUBLIC_URL": PUBLIC_URL,
                **fake.settings(SEND_RATE=100_000),
                "CLASSIFIER_MODEL_PATH": str(Path(folder) / "reply-model.npz"),
                # What the webhooks leave to a worker is queued here (in this process
                # with memory://), and run here with --worker.
                "CELERY": {"broker_url": args.broker},
            }
        )
        with app.app_context():
            seed_subscribers()
            db.session.remove()
            statements = count_statements(db.engine)
        app.test_cli_runner().invoke(args=["classifier", "train"])
        client = app.test_client()
        validator = RequestValidator(TOKEN)
        requests = [signed(validator, n) for n in range(WARM_UP + args.requests)]
        for params, headers in requests[:WARM_UP]:
            answer = client.post("/sms/inbound", data=params, headers=headers, base_url=PUBLIC_URL)
            assert answer.status_code == 200, answer.get_data(as_text=True)
        if args.worker:
            with app.app_context():
                run_queued_tasks(app)
        if args.parts:
            parts(app, args.requests)
        statements[0] = 0
        profiler = cProfile.Profile() if args.profile else None
        walls = []
        cpu_started = time.thread_time()
        if profiler and not args.worker:
            profiler.enable()
        cpus = []
        for params, headers in requests[WARM_UP:]:
            started, cpu_at = time.perf_counter(), time.thread_time()
            answer = client.post("/sms/inbound", data=params, headers=headers, base_url=PUBLIC_URL)
            cpus.append((time.thread_time() - cpu_at) * 1000)
            walls.append((time.perf_counter() - started) * 1000)
            assert answer.status_code == 200
        if profiler:
            profiler.disable()
        cpu = (time.thread_time() - cpu_started) * 1000 / args.requests
        under = " under cProfile" if profiler and not args.worker else ""
        print(
            f"webhook in one process on {kind}, {args.requests} requests "
            f"(1/3 JOIN, 2/3 free text){under}: "
            f"median {statistics.median(walls):.2f} ms, mean {statistics.mean(walls):.2f} ms, "
            f"CPU {cpu:.2f} ms a request, {statements[0] / args.requests:.1f} SQL statements "
            f"a request, load {os.getloadavg()[0]:.2f}"
        )
        # On a shared host the mean takes in whatever stole the CPU meanwhile; the fastest
        # 90% of the requests, each timed alone, compare two versions more steadily.
        kept = sorted(cpus)[: max(1, len(cpus) * 9 // 10)]
        print(f"  CPU a request, the fastest 90%: mean {statistics.mean(kept):.3f} ms")
        if args.worker:
            statements[0] = 0
            cpu_started = time.thread_time()
            wall_started = time.perf_counter()
            with app.app_context():
                if profiler:
                    profiler.enable()
                tasks = run_queued_tasks(app)
                if profiler:
                    profiler.disable()
            wall = (time.perf_counter() - wall_started) * 1000 / args.requests
            cpu = (time.thread_time() - cpu_started) * 1000 / args.requests
            print(
                f"worker in one process, the tasks those requests queued ({tasks}){under}: "
                f"wall {wall:.2f} ms, CPU {cpu:.2f} ms, "
                f"{statements[0] / args.requests:.1f} SQL statements, a request"
            )
        if profiler:
            pstats.Stats(profiler).sort_stats(args.sort).print_stats(args.top)
    fake.stop()


def parts(app: Any, count: int) -> None:
    """The CPU of each step of the webhook, each called ``count`` times in a loop on the
    mix's forms (this thread's CPU: PostgreSQL's and Redis's own work is not in it)."""
    from webhook_bench import FREE_TEXT

    from dripper.conversation.tasks import handle_inbound, leave_to_worker
    from dripper.conversation.triage import acted_on_at_once
    from dripper.jobs import REPLY_QUEUE
    from dripper.webhooks.inbound import read_inbound, store_inbound

    forms = [inbound_form(n, 7, TO) for n in range(count)]
    validator = RequestValidator(TOKEN)
    url = PUBLIC_URL + "/sms/inbound"
    signatures = [validator.compute_signature(url, form) for form in forms]
    texts = [read_inbound(form) for form in forms]
    with app.test_request_context():
        steps: dict[str, Any] = {
            "the signature": lambda n: validator.validate(url, forms[n], signatures[n]),
            "reading the form": lambda n: read_inbound(forms[n]),
            "the urgency check of a free text": lambda n: acted_on_at_once(
                FREE_TEXT[n % len(FREE_TEXT)]
            ),
            "the INSERT, in autocommit": lambda n: store_inbound(texts[n]),
            "queueing the task": lambda n: leave_to_worker(10**9 + n),
            # What queueing cost before dripper.broker.publish, for comparison.
            "the same by Celery's apply_async": lambda n: handle_inbound.apply_async(
                args=(10**9 + n,), queue=REPLY_QUEUE, argsrepr=f"({10**9 + n},)", kwargsrepr="{}"
            ),
        }
        for name, step in steps.items():
            started = time.thread_time()
            for n in range(count):
                step(n)
            ms = (time.thread_time() - started) * 1000 / count
            print(f"  {name}: {ms:.3f} ms CPU")
        db.session.remove()


def run_queued_tasks(app: Any) -> Counter[str]:
    """Run every task on the in-memory broker's queues here, as a worker would, until none
    is left (a task may queue another: an answer's delivery); how many of each ran."""
    from dripper.jobs import DEFAULT_QUEUE, REPLY_QUEUE

    celery = app.extensions["celery"]
    ran: Counter[str] = Counter()
    with celery.connection_for_read() as connection:
        queues = [connection.SimpleQueue(name) for name in (REPLY_QUEUE, DEFAULT_QUEUE)]
        while True:
            took = False
            for queue in queues:
                try:
                    message = queue.get(block=False)
                except queue.Empty:
                    continue
                took = True
                message.ack()
                name = message.headers["task"]
                args, kwargs, _ = message.decode()
                celery.tasks[name].run(*args, **kwargs)
                ran[name.rsplit(".", 1)[-1]] += 1
            if not took:
                break
        for queue in queues:
            queue.close()
    return ran


def count_statements(engine: sa.Engine) -> list[int]:
    """A counter of the statements ``engine`` runs from now on (one mutable cell)."""
    counter = [0]

    def counted(*_: Any) -> None:
        counter[0] += 1

    sa.event.listen(engine, "before_cursor_execute", counted)
    return counter


if __name__ == "__main__":
    main()
