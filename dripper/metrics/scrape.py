"""``GET /metrics``: Prometheus text format, for whoever holds ``METRICS_TOKEN``.

Without a token configured the page does not exist (404): an operator turns it on.
The token is compared in constant time, so its characters cannot be guessed one by
one from response times.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Iterable, Iterator
from typing import Any

from celery import Celery
from flask import Blueprint, Response, abort, current_app, request
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from dripper.broker import queue_lengths
from dripper.extensions import limiter
from dripper.metrics import MULTIPROCESS_DIR

log = logging.getLogger(__name__)

bp = Blueprint("metrics", __name__)


def _authorised(token: str) -> bool:
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        given.strip().encode("utf-8"), token.encode("utf-8")
    )


@bp.get("/metrics")
@limiter.exempt
def metrics() -> Response:
    """Every process's counters, and the queue lengths now, for Prometheus to scrape."""
    token = current_app.config.get("METRICS_TOKEN")
    if not token:
        abort(404)
    if not _authorised(str(token)):
        return Response(
            "a valid bearer token is required\n",
            status=401,
            mimetype="text/plain",
            headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
        )
    registry = CollectorRegistry(auto_describe=False)
    if MULTIPROCESS_DIR:
        MultiProcessCollector(registry, path=MULTIPROCESS_DIR)
    else:
        registry.register(_ThisProcess())
    registry.register(QueueLengths(current_app.extensions["celery"]))
    # The classic text format every Prometheus version reads (the names are plain ASCII).
    return Response(generate_latest(registry), content_type=CONTENT_TYPE_PLAIN_0_0_4)


class _ThisProcess(Collector):
    """This process's own metrics (single-process mode)."""

    def collect(self) -> Iterable[Metric]:
        return REGISTRY.collect()


class QueueLengths(Collector):
    """Tasks waiting in each Celery queue, read from the broker (Redis) at scrape time."""

    def __init__(self, celery: Celery) -> None:
        self.celery = celery

    def queue_names(self) -> list[str]:
        conf: Any = self.celery.conf
        names = [str(conf.task_default_queue)]
        names += [queue.name for queue in conf.task_queues or ()]
        routes = conf.task_routes
        for route in routes.values() if isinstance(routes, dict) else ():
            if isinstance(route, dict) and route.get("queue"):
                names.append(str(route["queue"]))
        return sorted(set(names))

    def collect(self) -> Iterator[Metric]:
        gauge = GaugeMetricFamily(
            "dripper_queue_length",
            "Tasks waiting in a Celery queue (not yet taken)",
            labels=["queue"],
        )
        try:
            with self.celery.connection_for_read() as connection:
                lengths = queue_lengths(connection, self.queue_names())
        except Exception as error:  # noqa: BLE001 - a broker outage must not break the page
            log.warning("queue lengths unavailable: %s", type(error).__name__)
            return
        for name, length in lengths.items():
            gauge.add_metric([name], length)
        yield gauge
