"""The shared send-rate limiter: all workers together send at most SEND_RATE texts a second.

Each caller reserves the next free send slot in Redis (one Lua script, so reservations
are atomic across processes and machines) and sleeps until its slot. Slots are handed
out in the order callers ask, so waiting never reorders a backlog: the queue's FIFO
order is the order of sending. Time is Redis's own, so workers' clocks need not agree.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import redis
from flask import Flask, current_app

from dripper import metrics
from dripper.sms.base import RetryableSendError

log = logging.getLogger(__name__)

_EXTENSION = "dripper.sms.limiter"
KEY_PREFIX = "dripper:sms:rate:"

#: Longest a delivery waits for a slot before it gives the worker back and retries later.
DEFAULT_MAX_WAIT = 60.0

# KEYS[1]: the sender's key, holding the time (µs, Redis clock) of its next free slot.
# ARGV[1]: the interval between sends (µs); ARGV[2]: the longest acceptable wait (µs);
# ARGV[3]: how many consecutive slots are wanted.
# Returns {n, wait}: n slots reserved (as many as wanted that start within the longest
# wait), the first of them ``wait`` µs from now; {0, wait} reserves nothing.
_RESERVE = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
local interval = tonumber(ARGV[1])
local max_wait = tonumber(ARGV[2])
local wanted = tonumber(ARGV[3] or '1')
local next_free = tonumber(redis.call('GET', KEYS[1]) or '0')
local slot = math.max(now, next_free)
local wait = slot - now
if wait > max_wait then
  return {0, wait}
end
local count = wanted
if interval > 0 then
  count = math.min(wanted, math.floor((max_wait - wait) / interval) + 1)
end
local following = slot + count * interval
redis.call('SET', KEYS[1], string.format('%.0f', following),
           'PX', math.ceil((following - now) / 1000) + 1000)
return {count, wait}
"""


class SendRateWaitTooLong(RetryableSendError):
    """Every slot within the wait limit is taken: try again later (``retry_after``)."""


class SendRateLimiter:
    """A slot scheduler shared through Redis, one per sending identity (``key``)."""

    def __init__(
        self,
        client: redis.Redis,
        rate: float,
        key: str,
        *,
        max_wait: float = DEFAULT_MAX_WAIT,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate <= 0:
            raise ValueError("the send rate must be positive")
        self.client = client
        self.rate = rate
        self.key = KEY_PREFIX + key
        self.max_wait = max_wait
        self._sleep = sleep
        self._reserve = client.register_script(_RESERVE)

    @property
    def interval(self) -> float:
        return 1.0 / self.rate

    def reserve(self) -> float:
        """Reserve the next slot; return the seconds until it, without sleeping."""
        return self.reserve_many(1)[1]

    def reserve_many(self, count: int) -> tuple[int, float]:
        """Reserve up to ``count`` consecutive slots in one call, without sleeping.

        Returns how many were reserved (those that start within ``max_wait``; at least
        one) and the seconds until the first; the others follow ``interval`` apart.
        Raises SendRateWaitTooLong when not even the first is within reach.
        """
        try:
            granted, wait_us = self._reserve(
                keys=[self.key],
                args=[
                    round(self.interval * 1_000_000),
                    round(self.max_wait * 1_000_000),
                    max(1, int(count)),
                ],
            )
        except redis.RedisError as error:
            raise RetryableSendError(f"send-rate limiter unavailable: {error}") from error
        wait = int(wait_us) / 1_000_000
        metrics.send_rate_reserved(int(granted), wait)
        if not int(granted):
            raise SendRateWaitTooLong(
                f"no send slot within {self.max_wait:.0f}s", retry_after=wait - self.max_wait
            )
        return int(granted), wait

    def acquire(self) -> float:
        """Wait (sleep) until this caller may send; return how long it waited."""
        wait = self.reserve()
        if wait > 0:
            self._sleep(wait)
        return wait


def get_limiter(app: Flask | None = None, key: str = "default") -> SendRateLimiter:
    """The app's limiter for one sending identity, built on first use."""
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    limiters: dict[str, SendRateLimiter] = app.extensions.setdefault(_EXTENSION, {})
    if key not in limiters:
        limiters[key] = SendRateLimiter(
            redis_client(app),
            float(app.config["SEND_RATE"]),
            key,
            max_wait=float(app.config.get("SEND_RATE_MAX_WAIT", DEFAULT_MAX_WAIT)),
        )
    return limiters[key]


def redis_client(app: Flask) -> redis.Redis:
    """The sending side's Redis connection (limiter and send locks), one per app."""
    client = app.extensions.get("dripper.sms.redis")
    if client is None:
        client = redis.Redis.from_url(
            app.config["REDIS_URL"], socket_connect_timeout=5, socket_timeout=10
        )
        app.extensions["dripper.sms.redis"] = client
    return client
