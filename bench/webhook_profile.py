"""Where one inbound webhook's time goes: in one process, no gunicorn, no network.

Run: ``.venv/bin/python bench/webhook_profile.py [--requests 300] [--profile] [--sort tottime]``
(PostgreSQL from ``TEST_DATABASE_URL`` or ``--pg``; SQLite without). The same mix as
bench/webhook_bench.py (1/3 JOIN from new numbers, 2/3 free text from 3,000 subscribers),
signed with twilio's RequestValidator and posted through Flask's test client on the
production clock, after a warm-up that loads the reply model and the course cache.

Printed: the median and mean wall time per request, the CPU time per request (this
process; PostgreSQL's own work is not in it), the SQL statements per request, and with
``--profile`` cProfile's top functions.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from drip_bench import database
from twilio.request_validator import RequestValidator
from webhook_bench import PUBLIC_URL, inbound_form, seed_subscribers

from dripper import create_app
from dripper.extensions import db

TOKEN = "bench-auth-token-0123456789abcdef"
TO = "+15005550006"
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
    args = parser.parse_args()
    kind = "postgresql" if args.pg else "sqlite"
    with tempfile.TemporaryDirectory() as folder, database(kind, args.pg) as url:
        app = create_app(
            {
                "DATABASE_URL": url,
                "SECRET_KEY": "bench",
                "DRIPPER_SANDBOX": False,
                "LOG_LEVEL": "WARNING",
                "PUBLIC_URL": PUBLIC_URL,
                "TWILIO_AUTH_TOKEN": TOKEN,
                "TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
                "TWILIO_FROM_NUMBER": TO,
                "CLASSIFIER_MODEL_PATH": str(Path(folder) / "reply-model.npz"),
                # Replies that go through a worker are queued, not sent: no worker here.
                "CELERY": {"broker_url": "memory://"},
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
        statements[0] = 0
        profiler = cProfile.Profile() if args.profile else None
        walls = []
        cpu_started = time.process_time()
        if profiler:
            profiler.enable()
        for params, headers in requests[WARM_UP:]:
            started = time.perf_counter()
            answer = client.post("/sms/inbound", data=params, headers=headers, base_url=PUBLIC_URL)
            walls.append((time.perf_counter() - started) * 1000)
            assert answer.status_code == 200
        if profiler:
            profiler.disable()
        cpu = (time.process_time() - cpu_started) * 1000 / args.requests
        print(
            f"webhook in one process on {kind}, {args.requests} requests "
            f"(1/3 JOIN, 2/3 free text){' under cProfile' if profiler else ''}: "
            f"median {statistics.median(walls):.2f} ms, mean {statistics.mean(walls):.2f} ms, "
            f"CPU {cpu:.2f} ms a request, {statements[0] / args.requests:.1f} SQL statements "
            f"a request, load {os.getloadavg()[0]:.2f}"
        )
        if profiler:
            pstats.Stats(profiler).sort_stats(args.sort).print_stats(args.top)


def count_statements(engine: sa.Engine) -> list[int]:
    """A counter of the statements ``engine`` runs from now on (one mutable cell)."""
    counter = [0]

    def counted(*_: Any) -> None:
        counter[0] += 1

    sa.event.listen(engine, "before_cursor_execute", counted)
    return counter


if __name__ == "__main__":
    main()
