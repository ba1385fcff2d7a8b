"""The shared send-rate limiter: all workers together send at most SEND_RATE segments a second.

Each caller reserves send slots in Redis (one Lua script, so reservations are atomic
across processes and machines) and sleeps until its first slot. A slot is one SMS
segment of the sender's throughput (Twilio counts segments, not messages): a message of
three segments takes three slots and the next message waits for all of them.

There are two lanes. The drip's messages (lessons, questions, check-ins, offers) take
slots one after another, in the order they ask, and leave a hole for every few they
take, so that they use at most ``1 - SEND_RATE_REPLY_SHARE`` of the rate. Replies to a
person's own text (crisis lines, HELP, STOP confirmations…) take the earliest hole the
drip has left, or the next free slot when that is sooner: a reply never waits behind
the drip's reservations, and when the drip is idle replies may use the whole rate.
Time is Redis's own, so workers' clocks need not agree.
"""

from __future__ import annotations

import enum
import logging
import time
from collections.abc import Callable, Sequence

import redis
from flask import Flask, current_app

from dripper import metrics
from dripper.config import DEFAULTS
from dripper.sms.base import RetryableSendError

log = logging.getLogger(__name__)

_EXTENSION = "dripper.sms.limiter"
KEY_PREFIX = "dripper:sms:rate:"

#: Longest a delivery waits for a slot before it gives the worker back and retries later.
DEFAULT_MAX_WAIT = float(DEFAULTS["SEND_RATE_MAX_WAIT"])
#: The part of the rate the drip leaves to replies.
DEFAULT_REPLY_SHARE = float(DEFAULTS["SEND_RATE_REPLY_SHARE"])

# KEYS[1]: the next free slot (µs, Redis clock); KEYS[2]: the drip's credit of holes
# owed; KEYS[3]: the holes left for replies (a sorted set, score = the hole's time).
# ARGV[1]: the interval between slots (µs); ARGV[2]: the longest acceptable wait (µs);
# ARGV[3]: holes owed per drip slot, share / (1 - share); ARGV[4]: the lane (drip or
# reply); ARGV[5…]: the segments of each message, in order.
# Returns {n, refused_wait, wait_1 … wait_n}: slots for the first n messages (each one's
# first slot within the longest wait), and how far the first refused one was.
_RESERVE = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
local interval = tonumber(ARGV[1])
local max_wait = tonumber(ARGV[2])
local ratio = tonumber(ARGV[3])
local lane = ARGV[4]
local next_free = math.max(now, tonumber(redis.call('GET', KEYS[1]) or '0'))
local credit = tonumber(redis.call('GET', KEYS[2]) or '0')
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', '(' .. string.format('%.0f', now))
local waits = {}
local refused = 0
local new_holes = {}
for i = 5, #ARGV do
  local free, owed, first = next_free, credit, nil
  local made, used = {}, {}
  for _ = 1, tonumber(ARGV[i]) do
    local slot = nil
    if lane == 'reply' then
      local hole = redis.call('ZRANGEBYSCORE', KEYS[3], string.format('%.0f', now),
                              '(' .. string.format('%.0f', free), 'LIMIT', #used, 1)
      if hole[1] then
        slot = tonumber(hole[1])
        used[#used + 1] = hole[1]
      end
    elseif ratio > 0 and owed >= 1 then
      made[#made + 1] = free
      free = free + interval
      owed = owed - 1
    end
    if slot == nil then
      slot = free
      free = free + interval
      if lane ~= 'reply' then owed = owed + ratio end
    end
    first = first or slot
  end
  if first - now > max_wait then
    refused = first - now
    break
  end
  next_free, credit = free, owed
  for _, hole in ipairs(made) do new_holes[#new_holes + 1] = hole end
  if #used > 0 then redis.call('ZREM', KEYS[3], unpack(used)) end
  waits[#waits + 1] = first - now
end
local ttl = math.ceil((next_free - now) / 1000) + 1000
redis.call('SET', KEYS[1], string.format('%.0f', next_free), 'PX', ttl)
redis.call('SET', KEYS[2], string.format('%.17g', credit), 'PX', ttl)
for _, hole in ipairs(new_holes) do
  local member = string.format('%.0f', hole)
  redis.call('ZADD', KEYS[3], member, member)
end
if redis.call('EXISTS', KEYS[3]) == 1 then redis.call('PEXPIRE', KEYS[3], ttl) end
local answer = {#waits, refused}
for _, wait in ipairs(waits) do answer[#answer + 1] = wait end
return answer
"""


class Lane(enum.StrEnum):
    """Which part of the rate a message may use (see the module's docstring)."""

    DRIP = "drip"
    REPLY = "reply"


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
        reply_share: float = 0.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate <= 0:
            raise ValueError("the send rate must be positive")
        if not 0 <= reply_share < 1:
            raise ValueError("the reply share must be at least 0 and below 1")
        self.client = client
        self.rate = rate
        self.key = KEY_PREFIX + key
        self.max_wait = max_wait
        self.reply_share = reply_share
        self._sleep = sleep
        self._reserve = client.register_script(_RESERVE)

    @property
    def interval(self) -> float:
        return 1.0 / self.rate

    def reserve(self, segments: int = 1, lane: Lane = Lane.DRIP) -> float:
        """Reserve the slots of one message; return the seconds until it may go, without
        sleeping."""
        return self.reserve_slots([segments], lane)[0]

    def reserve_slots(self, segments: Sequence[int], lane: Lane = Lane.DRIP) -> list[float]:
        """Reserve the slots of several messages (their segment counts) in one call,
        without sleeping.

        Returns the seconds until each may go, for as many as start within ``max_wait``
        (at least the first). Raises SendRateWaitTooLong when not even the first is
        within reach; nothing is reserved then.
        """
        try:
            answer = self._reserve(
                keys=[self.key, self.key + ":credit", self.key + ":holes"],
                args=[
                    round(self.interval * 1_000_000),
                    round(self.max_wait * 1_000_000),
                    repr(self.reply_share / (1 - self.reply_share)),
                    lane.value,
                    *(max(1, int(count)) for count in segments),
                ],
            )
        except redis.RedisError as error:
            raise RetryableSendError(f"send-rate limiter unavailable: {error}") from error
        granted, refused_us, *waits_us = (int(value) for value in answer)
        first_us = waits_us[0] if granted and waits_us else refused_us
        metrics.send_rate_reserved(granted, first_us / 1_000_000)
        if not granted:
            wait = refused_us / 1_000_000
            raise SendRateWaitTooLong(
                f"no send slot within {self.max_wait:.0f}s", retry_after=wait - self.max_wait
            )
        return [wait / 1_000_000 for wait in waits_us[:granted]]

    def acquire(self, segments: int = 1, lane: Lane = Lane.DRIP) -> float:
        """Wait (sleep) until this message may be sent; return how long it waited."""
        wait = self.reserve(segments, lane)
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
            reply_share=float(app.config.get("SEND_RATE_REPLY_SHARE", DEFAULT_REPLY_SHARE)),
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
