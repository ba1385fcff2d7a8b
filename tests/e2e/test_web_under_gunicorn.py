"""The web process as docker-compose.yml runs it: gunicorn with the compose file's worker
class, processes and threads, on a real socket. Signed webhooks posted many at once, each
of them twice at the same moment, are each answered 200 and stored once; a forged one is
refused."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests
import sqlalchemy as sa
from faults_support import RedisServer, free_port
from flask import Flask
from inbound_support import AUTH_TOKEN, PUBLIC_URL, inbound_params, sign

from dripper.extensions import db
from dripper.models import Direction, Message
from dripper_testkit.builders import new_sid
from dripper_testkit.compose import compose_web_command

pytestmark = pytest.mark.database("postgresql")  # several processes write at once

ROOT = Path(__file__).resolve().parents[2]
TEXTS = 60
BODIES = ["hello", "HELP", "I tried it today and it helped", "not sure this is for me"]


@pytest.fixture
def web(app_config: dict[str, Any], app: Flask, tmp_path: Path) -> Iterator[str]:
    """gunicorn as composed, on its own Redis; its base URL."""
    redis = RedisServer(tmp_path).start()
    port = free_port()
    command = compose_web_command()
    command[command.index("--bind") + 1] = f"127.0.0.1:{port}"
    env = {
        **os.environ,
        "DATABASE_URL": str(app_config["DATABASE_URL"]),
        "REDIS_URL": redis.url,
        "SECRET_KEY": "test-secret",
        "TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "PUBLIC_URL": PUBLIC_URL,
        "DRIPPER_SANDBOX": "0",
        "SMS_BACKEND": "console",
        "LOG_LEVEL": "WARNING",
        "CLASSIFIER_MODEL_PATH": str(app_config["CLASSIFIER_MODEL_PATH"]),
    }
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    log = (tmp_path / "web.log").open("ab")
    server = subprocess.Popen(
        [sys.executable, "-m", *command],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, (tmp_path / "web.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "gunicorn did not answer /healthz"
            try:
                if requests.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except (requests.ConnectionError, requests.Timeout):
                # Not listening yet, or listening while its worker still loads the
                # reply model (post_worker_init): ask again until the deadline.
                pass
            time.sleep(0.2)
        yield base
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait(10)
        log.close()
        redis.stop()


def post(base: str, params: dict[str, str], signature: str | None = None) -> int:
    signature = sign("/sms/inbound", params) if signature is None else signature
    answer = requests.post(
        f"{base}/sms/inbound", data=params, headers={"X-Twilio-Signature": signature}, timeout=30
    )
    return answer.status_code


def test_the_composed_web_answers_concurrent_webhooks_and_stores_each_once(
    web: str, app: Flask
) -> None:
    texts = [
        inbound_params(f"+1201555{n:04d}", BODIES[n % len(BODIES)], new_sid()) for n in range(TEXTS)
    ]
    with ThreadPoolExecutor(max_workers=16) as pool:
        statuses = list(pool.map(lambda params: post(web, params), texts + texts))
    assert Counter(statuses) == {200: 2 * TEXTS}
    forged = inbound_params("+12015559999", "hello", new_sid())
    assert post(web, forged, signature="not-a-signature") == 403

    db.session.rollback()
    stored = db.session.execute(
        sa.select(Message.provider_sid, sa.func.count())
        .where(Message.direction == Direction.INBOUND)
        .group_by(Message.provider_sid)
    ).all()
    assert sorted(sid for sid, _ in stored) == sorted(t["MessageSid"] for t in texts)
    assert {count for _, count in stored} == {1}
