"""`make run`: migrate, load the lessons, and run web, worker and beat together.

Everything runs in the foreground with the console SMS backend and the sandbox
clock; Ctrl-C stops all of it. A Redis is used where REDIS_URL answers, otherwise a
private one is started for the session.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from services import ensure_redis

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
PORT = os.environ.get("PORT", "5000")
#: A process that exits with an error after running this many seconds is started again
#: (one that fails sooner is a start-up error: everything stops).
RESTART_AFTER = 30.0


def wait_for_web(url: str, web: subprocess.Popen[bytes], seconds: float = 30) -> None:
    """Return once the web process answers (so the printed address works when read)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and web.poll() is None:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except urllib.error.HTTPError:
            return  # it answers (a health check failing is printed by the web process)
        except OSError:
            time.sleep(0.3)


def main() -> int:
    redis_url, private = ensure_redis(os.environ.get("REDIS_URL", "redis://localhost:6379/0"))
    env = dict(
        os.environ,
        REDIS_URL=redis_url,
        DRIPPER_SANDBOX="1",
        SMS_BACKEND=os.environ.get("SMS_BACKEND", "console"),
        PUBLIC_URL=os.environ.get("PUBLIC_URL", f"http://localhost:{PORT}"),
        PYTHONUNBUFFERED="1",
    )
    flask = [str(BIN / "flask"), "--app", "web"]
    instance = ROOT / "instance"
    instance.mkdir(exist_ok=True)
    if not env.get("PROMETHEUS_MULTIPROC_DIR"):
        # Web, worker and beat count metrics in one directory, emptied at each start.
        metrics = instance / "metrics"
        shutil.rmtree(metrics, ignore_errors=True)
        metrics.mkdir()
        env["PROMETHEUS_MULTIPROC_DIR"] = str(metrics)
    subprocess.run([*flask, "db", "upgrade"], cwd=ROOT, env=env, check=True)
    subprocess.run([*flask, "course", "import", "lessons/"], cwd=ROOT, env=env, check=True)
    model = Path(env.get("CLASSIFIER_MODEL_PATH") or instance / "reply-model.npz")
    corpus = ROOT / "dripper" / "readiness" / "corpus"
    newest = max(path.stat().st_mtime for path in corpus.iterdir())
    if not model.is_file() or model.stat().st_mtime < newest:
        # Replies are classified in the web request: the model must exist before the first one.
        subprocess.run([*flask, "classifier", "train"], cwd=ROOT, env=env, check=True)

    processes = {
        "web": [*flask, "run", "--port", PORT, "--host", "127.0.0.1"],
        "worker": [str(BIN / "celery"), "-A", "worker", "worker", "--loglevel", "INFO",
                   "--concurrency", "2"],
        "beat": [str(BIN / "celery"), "-A", "worker", "beat", "--loglevel", "INFO",
                 "--schedule", str(instance / "celerybeat-schedule")],
    }  # fmt: skip
    running = {name: subprocess.Popen(cmd, cwd=ROOT, env=env) for name, cmd in processes.items()}
    started = {name: time.monotonic() for name in running}
    wait_for_web(f"http://127.0.0.1:{PORT}/healthz", running["web"])
    print(
        f"\n  Dev phone: http://localhost:{PORT}/sandbox/phone\n"
        f"    (text the service from a pretend number and move the clock: start here)\n"
        f"  dripper is up: signup page http://localhost:{PORT}/ (healthz: /healthz)\n"
        f"  Texts are printed here (console SMS backend); the sandbox clock is on.\n"
        f"  Ctrl-C stops web, worker and beat.\n",
        flush=True,
    )
    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    code = 0
    try:
        while not stopping:
            for name, process in list(running.items()):
                if process.poll() is None:
                    continue
                if process.returncode and time.monotonic() - started[name] >= RESTART_AFTER:
                    # As compose's restart policy: a worker that stopped itself after it
                    # stalled (WORKER_STALL_AFTER), or any process that ran a while.
                    print(f"{name} exited with {process.returncode}; starting it again", flush=True)
                    running[name] = subprocess.Popen(processes[name], cwd=ROOT, env=env)
                    started[name] = time.monotonic()
                    continue
                print(f"{name} exited with {process.returncode}; stopping the rest", flush=True)
                code, stopping = process.returncode or 1, True
            time.sleep(0.5)
    finally:
        for process in running.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 10
        for process in running.values():
            try:
                process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
        if private:
            private.stop()
    return code


if __name__ == "__main__":
    sys.exit(main())
