"""The numbers an operator watches, as Prometheus metrics: one line at each call site.

Every process (gunicorn workers, Celery workers and their pool children, beat) counts
in its own files under ``PROMETHEUS_MULTIPROC_DIR``, prometheus_client's multiprocess
mode, and ``GET /metrics`` on any web process adds them all up. Without that variable
each process counts only for itself, and ``/metrics`` shows the web process's counts
alone. Queue lengths are not counted here: they are read from Redis at scrape time
(``dripper.metrics.scrape``). docs/RELIABILITY.md (Metrics) says why.
"""

from __future__ import annotations

import os
import socket

from prometheus_client import Counter, Histogram, values

MULTIPROCESS_DIR = os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None

if MULTIPROCESS_DIR:
    os.makedirs(MULTIPROCESS_DIR, exist_ok=True)
    _host = socket.gethostname().replace("_", "-")
    # Files are named by process id, and ids repeat across containers that share the
    # directory (web and worker both run pid 1, 7, 8…): two processes writing one file
    # would corrupt it. Host and pid together are unique. Set before any metric exists.
    values.ValueClass = values.MultiProcessValue(
        process_identifier=lambda: f"{_host}-{os.getpid()}"  # type: ignore[arg-type,return-value]
    )

MESSAGES_SENT = Counter("dripper_messages_sent", "Outbound messages the provider accepted")
MESSAGES_DELIVERED = Counter(
    "dripper_messages_delivered", "Outbound messages the carrier reported delivered"
)
MESSAGES_FAILED = Counter(
    "dripper_messages_failed",
    "Outbound messages that failed for good, by provider error code ('none': no code)",
    ["error_code"],
)
INBOUND = Counter("dripper_inbound_messages", "Inbound replies, by the label they got", ["label"])
TICK_SECONDS = Histogram(
    "dripper_tick_duration_seconds",
    "How long one drip tick took (claiming every due subscription and queueing its send)",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 45, 60, 120),
)
SEND_RATE_WAIT_SECONDS = Histogram(
    "dripper_send_rate_wait_seconds",
    "Seconds a send waited for its slot under the shared SEND_RATE (one per reservation)",
    buckets=(0, 0.01, 0.1, 0.5, 1, 2, 5, 10, 20, 30, 60),
)
SEND_RATE_REFUSED = Counter(
    "dripper_send_rate_refused",
    "Sends that found no slot within SEND_RATE_MAX_WAIT and were retried later",
)


def sent(count: int = 1) -> None:
    """``count`` messages were accepted by the provider."""
    MESSAGES_SENT.inc(count)


def failed(error_code: int | None) -> None:
    """A message failed for good (refused at send, given up, or reported failed)."""
    MESSAGES_FAILED.labels(error_code=str(error_code) if error_code is not None else "none").inc()


def status_reported(status: str, error_code: int | None) -> None:
    """A status callback moved a message to ``status``: count deliveries and failures."""
    if status == "delivered":
        MESSAGES_DELIVERED.inc()
    elif status in ("failed", "undelivered"):
        failed(error_code)


def inbound(label: str) -> None:
    """An inbound reply was labelled ``label``."""
    INBOUND.labels(label=label).inc()


def send_rate_reserved(granted: int, wait: float) -> None:
    """The shared limiter answered: ``granted`` slots, the first ``wait`` seconds away."""
    if granted:
        SEND_RATE_WAIT_SECONDS.observe(max(wait, 0.0))
    else:
        SEND_RATE_REFUSED.inc()


#: Decorates the tick: ``@metrics.timed_tick``.
timed_tick = TICK_SECONDS.time()
