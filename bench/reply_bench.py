"""Benchmark how long a reply to a person's own text waits during the day's burst of lessons.

Run: ``.venv/bin/python bench/reply_bench.py [--lessons 2000] [--rate 100]``
(PostgreSQL from ``TEST_DATABASE_URL`` or ``--pg``, else SQLite; Redis from
``TEST_WORKER_REDIS_URL``, default db 14, with keys of its own that it deletes afterwards).

``--lessons`` subscriptions are due at once; one ``tick()`` queues their lessons, which real
Celery workers send through the real ``twilio`` client to the Twilio-compatible server of
``dripper_testkit/twilio_fake.py`` (in this process, so that arrival times are read directly) at
``SEND_RATE=--rate``. Once the first lesson has arrived, a stranger texts JOIN through the
signed webhook every ``--every`` seconds until the last lesson has arrived; the confirmation
request it gets is a reply sent through the REST API on the replies' queue (HELP, STOP and the
crisis lines go back in the webhook's own TwiML answer, with no queue to wait in). A reply's
delay is from just before its webhook request to its arrival at the fake server.

Two layouts are measured: one plain worker (``celery -A worker worker``, both queues, two
processes), and that worker plus a worker for replies only (``-Q dripper.replies``, one
process), as docker-compose.yml runs them.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from drip_bench import database, prepare, settings
from twilio.request_validator import RequestValidator

from dripper import create_app
from dripper.extensions import db
from dripper_testkit.twilio_fake import FakeTwilio
from dripper_testkit.workers import WORKER_REDIS_URL, BrokerSpace, start_worker

REPLY_QUEUE = "dripper.replies"


def join_text(client: Any, fake: FakeTwilio, phone: str, public_url: str) -> None:
    """A stranger's JOIN through the signed webhook, as Twilio would post it."""
    params = {
        "MessageSid": f"SM{os.urandom(16).hex()}",
        "AccountSid": fake.account_sid,
        "From": phone,
        "To": fake.from_number,
        "Body": "JOIN",
        "NumMedia": "0",
    }
    signature = RequestValidator(fake.auth_token).compute_signature(
        public_url + "/sms/inbound", params
    )
    response = client.post("/sms/inbound", data=params, headers={"X-Twilio-Signature": signature})
    assert response.status_code == 200, response.get_data(as_text=True)


def burst_figures(
    lessons: int, rate: float, every: float, pg_url: str | None, replies_worker: bool
) -> dict[str, Any]:
    from dripper.drip.tick import tick

    kind = "postgresql" if pg_url else "sqlite"
    broker = BrokerSpace(WORKER_REDIS_URL)
    fake = FakeTwilio().start()
    workers = []
    try:
        with tempfile.TemporaryDirectory() as logs, database(kind, pg_url) as url:
            twilio = fake.settings(SEND_RATE=rate, LOG_LEVEL="WARNING")
            config = settings(url, broker, **twilio)
            app = create_app(config)
            with app.app_context():
                prepare(lessons)
                overrides = {**twilio, "DRIPPER_SANDBOX": False}
                workers.append(start_worker(config, broker, Path(logs), overrides=overrides))
                if replies_worker:
                    workers.append(
                        start_worker(
                            config,
                            broker,
                            Path(logs),
                            overrides=overrides,
                            concurrency=1,
                            queues=[REPLY_QUEUE],
                        )
                    )
                client = app.test_client()
                public_url = app.config["PUBLIC_URL"]
                assert tick().claimed == lessons
                while not fake.messages:
                    time.sleep(0.01)
                asked: dict[str, float] = {}
                deadline = time.monotonic() + lessons / rate * 3 + 120
                while time.monotonic() < deadline:
                    arrived = fake.messages
                    if sum(1 for m in arrived if m.to not in asked) >= lessons:
                        break
                    phone = f"+1303555{len(asked):04d}"
                    asked[phone] = time.time()
                    join_text(client, fake, phone, public_url)
                    time.sleep(every)
                while time.monotonic() < deadline:
                    if {r.params["To"] for r in fake.sends()} >= set(asked):
                        break
                    time.sleep(0.05)
                sends = fake.sends()
                reply_at = {r.params["To"]: r.at for r in sends if r.params["To"] in asked}
                lesson_times = [r.at for r in sends if r.params["To"] not in asked]
                db.session.remove()
                db.engine.dispose()
    finally:
        for worker in workers:
            worker.stop()
        fake.stop()
        broker.close()
    delays = [reply_at[phone] - at for phone, at in asked.items() if phone in reply_at]
    return {
        "replies": len(asked),
        "answered": len(delays),
        "worst": max(delays) if delays else float("nan"),
        "median": statistics.median(delays) if delays else float("nan"),
        "burst": max(lesson_times) - min(lesson_times),
        "lessons": len(lesson_times),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lessons", type=int, default=2000)
    parser.add_argument("--rate", type=float, default=100.0, help="SEND_RATE")
    parser.add_argument("--every", type=float, default=1.0, help="seconds between JOINs")
    parser.add_argument("--pg", default=os.environ.get("TEST_DATABASE_URL"))
    args = parser.parse_args()
    print(
        f"reply delay during a burst of {args.lessons} lessons at SEND_RATE={args.rate:g} "
        f"({'PostgreSQL' if args.pg else 'SQLite'}); one JOIN every {args.every:g} s",
        flush=True,
    )
    print("| workers | replies answered | worst delay | median delay | burst (lessons) |")
    print("|---|---:|---:|---:|---:|")
    for replies_worker, label in ((False, "one worker"), (True, "worker + replies worker")):
        f = burst_figures(args.lessons, args.rate, args.every, args.pg, replies_worker)
        print(
            f"| {label} | {f['answered']}/{f['replies']} | {f['worst']:.2f} s | "
            f"{f['median']:.2f} s | {f['burst']:.1f} s ({f['lessons']}) |",
            flush=True,
        )


if __name__ == "__main__":
    main()
