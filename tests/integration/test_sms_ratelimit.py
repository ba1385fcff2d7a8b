"""The shared send-rate limiter, against real Redis: one rate for all workers, in order."""

from __future__ import annotations

import itertools
import multiprocessing
import threading
import time
from typing import Any

import pytest
import redis as redis_lib
from fixtures_twilio import SMS_REDIS_URL

from dripper.sms.ratelimit import KEY_PREFIX, Lane, SendRateLimiter, SendRateWaitTooLong


def _worker(rate: float, count: int, ready: Any, results: Any) -> None:
    """One worker process: its own Redis connection, ``count`` sends as fast as allowed."""
    client = redis_lib.Redis.from_url(SMS_REDIS_URL)
    limiter = SendRateLimiter(client, rate, "shared-sender")
    ready.wait()
    for _ in range(count):
        limiter.acquire()
        results.put(time.time())
    client.close()


def busiest_second(times: list[float]) -> int:
    return max(sum(1 for t in times if start <= t < start + 1.0) for start in times)


def test_rate_limit_holds_across_workers(sms_redis: redis_lib.Redis) -> None:
    rate, per_worker = 10.0, 15
    context = multiprocessing.get_context("spawn")
    ready = context.Barrier(2)
    results = context.Queue()
    workers = [
        context.Process(target=_worker, args=(rate, per_worker, ready, results)) for _ in range(2)
    ]
    for worker in workers:
        worker.start()
    times = sorted(results.get(timeout=60) for _ in range(2 * per_worker))
    for worker in workers:
        worker.join(timeout=10)
        assert worker.exitcode == 0

    # Both processes together: at most 10 in any one-second window (plus one for sleep
    # jitter), and 30 sends need at least 29 intervals of 0.1 s.
    assert busiest_second(times) <= rate + 1
    assert times[-1] - times[0] >= (2 * per_worker - 1) / rate * 0.9


def test_waiting_keeps_the_backlog_in_order(sms_redis: redis_lib.Redis) -> None:
    limiter = SendRateLimiter(sms_redis, 20.0, "fifo")
    released: list[int] = []
    lock = threading.Lock()

    def send(position: int) -> None:
        limiter.acquire()
        with lock:
            released.append(position)

    threads = []
    for position in range(8):
        thread = threading.Thread(target=send, args=(position,))
        thread.start()
        threads.append(thread)
        time.sleep(0.01)  # tasks taken off the queue one after another
    for thread in threads:
        thread.join(timeout=10)

    assert released == list(range(8))


def test_a_wait_beyond_the_limit_reserves_nothing(sms_redis: redis_lib.Redis) -> None:
    slept: list[float] = []
    limiter = SendRateLimiter(sms_redis, 1.0, "bounded", max_wait=0.5, sleep=slept.append)

    assert limiter.acquire() == 0
    with pytest.raises(SendRateWaitTooLong) as refused:
        limiter.acquire()
    assert refused.value.retry_after == pytest.approx(0.5, abs=0.1)
    with pytest.raises(SendRateWaitTooLong):
        limiter.acquire()  # the refused one took no slot: still ~1 s away, not ~2 s
    assert slept == []


def test_slots_are_spaced_by_the_rate(sms_redis: redis_lib.Redis) -> None:
    limiter = SendRateLimiter(sms_redis, 4.0, "spacing", sleep=lambda _: None)

    waits = [limiter.reserve() for _ in range(4)]

    assert waits[0] == 0
    for earlier, later in itertools.pairwise(waits):
        assert later - earlier == pytest.approx(0.25, abs=0.05)


def test_each_sender_has_its_own_rate(sms_redis: redis_lib.Redis) -> None:
    one = SendRateLimiter(sms_redis, 1.0, "+15005550006", sleep=lambda _: None)
    other = SendRateLimiter(sms_redis, 1.0, "MG" + "1" * 32, sleep=lambda _: None)

    one.reserve()

    assert other.reserve() == 0
    assert sms_redis.exists(KEY_PREFIX + "+15005550006")
    assert 0 < sms_redis.pttl(KEY_PREFIX + "+15005550006") <= 3000  # it cleans up after itself


def test_a_three_segment_message_takes_three_slots(sms_redis: redis_lib.Redis) -> None:
    limiter = SendRateLimiter(sms_redis, 1.0, "segments", sleep=lambda _: None)

    assert limiter.reserve(segments=3) == 0  # goes now, and holds the next two seconds
    after = limiter.reserve()

    assert after == pytest.approx(3.0, abs=0.1)


def test_replies_are_not_queued_behind_the_drips_reservations(sms_redis: redis_lib.Redis) -> None:
    limiter = SendRateLimiter(sms_redis, 10.0, "lanes", reply_share=0.2, sleep=lambda _: None)

    lessons = limiter.reserve_slots([1] * 100, Lane.DRIP)  # a burst: 12 s of sends ahead
    help_reply = limiter.reserve(lane=Lane.REPLY)

    assert len(lessons) == 100
    # The drip takes four slots of every five: 100 lessons span 125 slots, not 100.
    assert lessons[-1] == pytest.approx(12.3, abs=0.15)
    # The reply takes the first hole the drip left, half a second away at most.
    assert help_reply <= 0.5 + 0.05
    assert not any(abs(help_reply - lesson) < 0.05 for lesson in lessons)


def test_without_a_reply_share_a_reply_waits_for_the_whole_burst(
    sms_redis: redis_lib.Redis,
) -> None:
    limiter = SendRateLimiter(sms_redis, 10.0, "one-lane", sleep=lambda _: None)

    limiter.reserve_slots([1] * 100, Lane.DRIP)

    assert limiter.reserve(lane=Lane.REPLY) == pytest.approx(10.0, abs=0.1)


def test_replies_may_use_the_whole_rate_when_the_drip_is_idle(sms_redis: redis_lib.Redis) -> None:
    limiter = SendRateLimiter(sms_redis, 10.0, "replies", reply_share=0.2, sleep=lambda _: None)

    waits = [limiter.reserve(lane=Lane.REPLY) for _ in range(10)]

    assert waits[0] == 0
    for earlier, later in itertools.pairwise(waits):
        assert later - earlier == pytest.approx(0.1, abs=0.02)


def test_the_drip_and_the_replies_together_keep_the_rate(sms_redis: redis_lib.Redis) -> None:
    limiter = SendRateLimiter(sms_redis, 10.0, "both", reply_share=0.2, sleep=lambda _: None)

    lessons = limiter.reserve_slots([1] * 40, Lane.DRIP)
    replies = [limiter.reserve(segments=2, lane=Lane.REPLY) for _ in range(10)]

    # Every segment has a slot of its own: sorted, the sends are at least 0.1 s apart,
    # a two-segment reply counting for two.
    starts = sorted([(t, 1) for t in lessons] + [(t, 2) for t in replies])
    slots_used = sum(count for _, count in starts)
    assert slots_used == 60
    assert max(t for t, _ in starts) >= (slots_used - 2) * 0.1 - 0.05
