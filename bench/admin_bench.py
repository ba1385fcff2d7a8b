"""Admin console at scale: 1,000,000 subscribers on PostgreSQL; the subscriber list
(target < 300 ms) and the dashboard (target < 1 s), timed through the Flask test client.

    BENCH_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/postgres \\
        .venv/bin/python bench/admin_bench.py [--people 1000000]

Prints medians of several requests; loads with COPY into a database of its own, dropped
at the end.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import time
import uuid
from pathlib import Path

import sqlalchemy as sa

from dripper import create_app
from dripper.admin.passwords import hash_password
from dripper.courses.spec import load
from dripper.courses.store import import_course
from dripper.extensions import db
from dripper.models import Admin, Course, Lesson

ROOT = Path(__file__).resolve().parent.parent

STATES = ["active"] * 14 + ["paused", "dormant", "completed", "opted_out", "waiting", "held"]
LABELS = ["engaged", "ambivalent", "resistant", "overwhelmed", "neutral"]


def copy(connection: object, table: str, columns: str, rows: object) -> None:
    raw = connection.connection.dbapi_connection  # type: ignore[attr-defined]
    with raw.cursor() as cursor, cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as out:
        buffer = io.StringIO()
        for n, row in enumerate(rows):  # type: ignore[attr-defined]
            buffer.write("\t".join(row) + "\n")
            if n % 100_000 == 99_999:
                out.write(buffer.getvalue())
                buffer = io.StringIO()
        out.write(buffer.getvalue())


def load_people(people: int, course_id: int, lessons: list[int]) -> None:
    with db.engine.begin() as connection:
        copy(connection, "subscriber", "id, phone, time_zones, send_time, status, created_at",
             ((str(i), f"+1{2020000000 + i}", '["America/New_York"]', "09:00:00", "active",
               "2026-01-01 00:00:00+00") for i in range(1, people + 1)))  # fmt: skip
        copy(
            connection,
            "subscription",
            "id, subscriber_id, course_id, state, source, lessons_sent, last_lesson_id, "
            "last_lesson_at, next_send_at, next_action, extra_count, readiness, resistant_streak, "
            "unanswered_questions, unanswered_check_ins, last_reply_at, failure_count, created_at",
            (
                (str(i), str(i), str(course_id), STATES[i % len(STATES)], "sms",
                 str(i % len(lessons) + 1), str(lessons[i % len(lessons)]),
                 "2026-11-20 14:00:00+00", f"2026-11-{20 + i % 10} 14:00:00+00", "lesson", "0",
                 f"{(i % 200) / 100 - 1:.2f}", "0", "0", "0",
                 "2026-11-21 14:00:00+00" if i % 3 else "\\N", "0", "2026-01-01 00:00:00+00")
                for i in range(1, people + 1)
            ),
        )  # fmt: skip
        # One lesson message per person (their latest), and a reply from a third of them.
        copy(
            connection,
            "message",
            "direction, kind, phone, subscriber_id, subscription_id, lesson_id, body, status, "
            "attempts, created_at, error_code, label, confidence, needs_review",
            (
                row
                for i in range(1, people + 1)
                for row in (
                    ("outbound", "lesson", f"+1{2020000000 + i}", str(i), str(i),
                     str(lessons[i % len(lessons)]), "Lesson text.",
                     "failed" if i % 97 == 0 else "delivered", "1",
                     f"2026-11-{1 + i % 26:02d} 14:00:00+00",
                     str(30003 + i % 4) if i % 97 == 0 else "\\N", "\\N", "\\N", "f"),
                    *(
                        [("inbound", "reply", f"+1{2020000000 + i}", str(i), str(i), "\\N",
                          "A reply.", "received", "0", f"2026-11-{1 + i % 26:02d} 18:00:00+00",
                          "\\N", LABELS[i % 5], "0.8", "t" if i % 50 == 0 else "f")]
                        if i % 3 == 0 else []
                    ),
                )
            ),
        )  # fmt: skip
        for table in ("subscriber", "subscription", "message"):
            connection.execute(
                sa.text(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT max(id) FROM {table}))"
                )
            )
    # A database in service is vacuumed (autovacuum): index-only scans can skip the heap.
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(sa.text("VACUUM ANALYZE"))


def median_ms(client: object, url: str, runs: int = 7) -> float:
    timings = []
    for _ in range(runs):
        start = time.perf_counter()
        response = client.get(url)  # type: ignore[attr-defined]
        timings.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, (url, response.status_code)
    return statistics.median(timings)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--people", type=int, default=1_000_000)
    parser.add_argument("--keep", action="store_true", help="keep the database (prints its name)")
    parser.add_argument("--reuse", help="time against a database kept by --keep (no loading)")
    args = parser.parse_args()
    base_url = os.environ.get("BENCH_DATABASE_URL") or os.environ.get("TEST_DATABASE_URL")
    if not base_url:
        print("admin bench: skipped (set BENCH_DATABASE_URL to a PostgreSQL server)")
        return 0
    base = sa.make_url(base_url)
    name = args.reuse or f"dripper_admin_bench_{uuid.uuid4().hex[:8]}"
    server = sa.create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
    if args.reuse:
        args.keep = True
    else:
        with server.connect() as connection:
            connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        app = create_app({
            "DATABASE_URL": base.set(database=name).render_as_string(hide_password=False),
            "SECRET_KEY": "bench", "DRIPPER_SANDBOX": True, "WTF_CSRF_ENABLED": False,
            "RATELIMIT_ENABLED": False, "REDIS_URL": os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15"),
        })  # fmt: skip
        with app.app_context():
            if not args.reuse:
                db.create_all()
                import_course(load(ROOT / "lessons" / "working-with-resistance.yaml"))
                db.session.add(Admin(email="bench@example.org", password_hash=hash_password("bench password 1"), role="owner"))  # fmt: skip
                db.session.commit()
            course = db.session.scalar(sa.select(Course))
            assert course is not None
            lessons = list(db.session.scalars(sa.select(Lesson.id).order_by(Lesson.position)))
            if not args.reuse:
                started = time.perf_counter()
                load_people(args.people, course.id, lessons)
                print(
                    f"loaded {args.people:,} subscribers in {time.perf_counter() - started:.0f} s"
                )
            client = app.test_client()
            client.post(
                "/admin/login", data={"email": "bench@example.org", "password": "bench password 1"}
            )
            pages = {
                "subscriber list, first page": "/admin/subscribers",
                "subscriber list, page 1000 (keyset)": f"/admin/subscribers?after={args.people - 50_000}",
                "subscriber list, course + state=held": f"/admin/subscribers?course={course.id}&state=held",
                "subscriber list, readiness leaning-in": "/admin/subscribers?readiness=leaning-in",
                "subscriber list, number prefix": "/admin/subscribers?q=%2B1202000",
                "dashboard": "/admin/dashboard",
            }
            for label, url in pages.items():
                target = 1000 if label == "dashboard" else 300
                ms = median_ms(client, url)
                verdict = "met" if ms < target else "MISSED"
                print(f"{label:42s} median {ms:7.1f} ms (target < {target} ms: {verdict})")
            db.session.remove()
            db.engine.dispose()
    finally:
        if args.keep:
            print(f"kept database {name}")
        else:
            with server.connect() as connection:
                connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        server.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
