"""The vendor throttle: the same behaviour from the Redis and the in-process backend."""

from __future__ import annotations

import math
import os
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import cast

import pytest
import redis

from actionkit.errors import Throttled
from executor.app import ExecutorRuntime
from executor.gate import InvocationGate
from executor.ledger import Ledger, RowSnapshot
from executor.settings import Settings
from executor.throttle import MemoryThrottle, RateLimit, RedisThrottle, Throttle, ThrottleBackend
from sandbox.core import ManualClock

REDIS_URL = os.environ.get("PATCHBAY_TEST_REDIS_URL", "redis://127.0.0.1:6379/11")


@pytest.fixture(params=["memory", "redis"])
def backend(request: pytest.FixtureRequest) -> Iterator[ThrottleBackend]:
    if request.param == "memory":
        yield MemoryThrottle()
        return
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.RedisError as exc:
        pytest.fail(f"Redis at {REDIS_URL} is not usable: {exc}")
    prefix = f"pbtest:{uuid.uuid4().hex[:8]}:"
    yield RedisThrottle(client, prefix=prefix)
    for key in client.scan_iter(f"{prefix}*"):
        client.delete(key)
    client.close()


def max_in_window(times: list[float], window: float) -> int:
    """The most timestamps inside any window of ``window`` seconds."""
    times = sorted(times)
    best, start = 0, 0
    for end, t in enumerate(times):
        while t - times[start] >= window:
            start += 1
        best = max(best, end - start + 1)
    return best


@pytest.mark.parametrize(
    ("text", "requests", "per"),
    [("60/m", 60, 60.0), ("10/s", 10, 1.0), ("50/2s", 50, 2.0), ("1000/h", 1000, 3600.0)],
)
def test_limits_parse(text: str, requests: int, per: float) -> None:
    limit = RateLimit.parse(text)
    assert (limit.requests, limit.per_seconds) == (requests, per)
    # Slots at least 1/rate apart: at most floor(rate * T) + 1 in any window of
    # T, which is N in the vendor's window and in it widened by the transit margin.
    for span in (limit.per_seconds, limit.send_window):
        assert math.floor(limit.refill_per_second * span) + 1 <= requests
    assert limit.window_allowance == requests


@pytest.mark.parametrize(
    ("text", "margin"), [("10/s", 0.2), ("50/2s", 0.2), ("60/m", 1.2), ("1000/h", 72.0)]
)
def test_the_window_has_a_transit_margin_of_0_2_s_or_2_percent(text: str, margin: float) -> None:
    limit = RateLimit.parse(text)
    assert limit.margin == pytest.approx(margin)
    assert limit.send_window == pytest.approx(limit.per_seconds + margin)


def test_the_margin_floor_is_a_setting_and_scales_with_a_time_scaled_window(
    tmp_path: Path,
) -> None:
    # Huntress's 60/m scaled twenty-fold is 60/3s; the 0.2 s floor scaled alike is 0.01 s,
    # so the margin is 2% of the window again, as at 60/m.
    scaled = RateLimit.parse("60/3s", margin_floor=0.01)
    assert scaled.margin == pytest.approx(0.06)
    assert scaled.refill_per_second * scaled.per_seconds == pytest.approx(
        RateLimit.parse("60/m").refill_per_second * 60
    )
    runtime = ExecutorRuntime(
        Settings(data_dir=tmp_path, throttle_margin=0.01, rate_limits={"huntress": "60/3s"})
    )
    try:
        assert runtime.pipeline.throttle.limits["huntress"].margin == pytest.approx(0.06)
    finally:
        runtime.close()


def test_the_throttle_paces_within_five_percent_of_the_limit_at_60_a_minute() -> None:
    limit = RateLimit.parse("60/m")
    assert 0.95 <= limit.refill_per_second / (60 / 60) < 1


@pytest.mark.parametrize("text", ["60", "0/s", "ten/m", "5/0s", "5/d"])
def test_bad_limits_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="rate limit"):
        RateLimit.parse(text)


def test_concurrent_callers_never_exceed_the_limit_in_any_window(backend: ThrottleBackend) -> None:
    """Judged on the send log's own times, the times the guarantee is about.

    A stamp a caller takes after ``admit`` returns can lag by however long a
    loaded machine keeps the thread waiting (the transit margin's business,
    tested end to end in tests/e2e/test_throttle_e2e.py).
    """
    limit = RateLimit.parse("10/1s")
    throttle = Throttle(backend, {"huntress": limit}, max_wait=5.0)
    recorded: set[float] = set()
    lock = threading.Lock()

    def caller() -> None:
        for _ in range(6):
            throttle.acquire("huntress", "acme")
            throttle.admit("huntress", "acme")
            with lock:  # every entry is seen before its window passes
                recorded.update(backend.sends("huntress:acme"))

    threads = [threading.Thread(target=caller) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(recorded) == 24
    assert max_in_window(sorted(recorded), limit.send_window) <= 10
    assert max_in_window(sorted(recorded), 1.0) <= 10


def test_a_far_slot_is_reserved_in_order_and_the_step_deferred_to_it(
    backend: ThrottleBackend,
) -> None:
    limit = RateLimit.parse("6/m")
    throttle = Throttle(backend, {"huntress": limit}, max_wait=0.5)
    throttle.acquire("huntress", "acme")
    with pytest.raises(Throttled) as first:
        throttle.acquire("huntress", "acme")
    with pytest.raises(Throttled) as second:
        throttle.acquire("huntress", "acme")
    assert first.value.retryable
    assert first.value.retry_after is not None
    assert second.value.retry_after is not None
    interval = 1 / limit.refill_per_second  # 10.4 s: 6 in 61.2 s, a little under
    assert interval - 0.5 < first.value.retry_after <= interval
    # Each deferred step holds its own later slot, one interval apart.
    assert first.value.reserved_at is not None
    assert second.value.reserved_at is not None
    assert second.value.retry_after - first.value.retry_after == pytest.approx(interval, abs=0.5)


def test_a_slot_beyond_max_reserve_is_not_taken(backend: ThrottleBackend) -> None:
    throttle = Throttle(
        backend, {"huntress": RateLimit.parse("6/m")}, max_wait=0.0, max_reserve=5.0
    )
    throttle.acquire("huntress", "acme")
    with pytest.raises(Throttled) as refused:
        throttle.acquire("huntress", "acme")
    assert refused.value.reserved_at is None
    with pytest.raises(Throttled) as again:
        throttle.acquire("huntress", "acme")
    assert again.value.retry_after is not None
    assert refused.value.retry_after is not None
    assert again.value.retry_after <= refused.value.retry_after


def test_tenants_and_providers_have_separate_buckets(backend: ThrottleBackend) -> None:
    throttle = Throttle(
        backend,
        {"huntress": RateLimit.parse("6/m"), "levelio": RateLimit.parse("6/m")},
        max_wait=0.0,
        max_reserve=0.0,
    )
    throttle.acquire("huntress", "acme")
    with pytest.raises(Throttled):
        throttle.acquire("huntress", "acme")
    assert throttle.acquire("huntress", "globex") == 0.0
    assert throttle.acquire("levelio", "acme") == 0.0
    # Providers without a configured limit are not throttled at all.
    for _ in range(50):
        assert throttle.acquire("ninjaone", "acme") == 0.0


def test_reserved_waits_keep_callers_in_order(backend: ThrottleBackend) -> None:
    limit = RateLimit.parse("3/1s")
    waits = [backend.reserve("p:t", limit, 10.0) for _ in range(4)]
    assert all(r.granted for r in waits)
    assert waits[0].wait == 0.0
    assert waits[1].wait < waits[2].wait < waits[3].wait


def test_the_send_log_never_admits_more_than_n_per_window_plus_margin(
    backend: ThrottleBackend,
) -> None:
    limit = RateLimit.parse("4/1s")
    assert limit.send_window == pytest.approx(1.2)
    started = time.monotonic()
    admitted = [backend.admit("p:t", limit) for _ in range(6)]
    elapsed = time.monotonic() - started  # real time: however slow this machine is
    assert admitted[:4] == [0.0, 0.0, 0.0, 0.0]
    # Full until the oldest send is a whole window *and the margin* old.
    for wait in admitted[4:]:
        assert limit.send_window - elapsed - 0.01 <= wait <= limit.send_window
    assert backend.admit("p:other", limit) == 0.0


def test_a_send_is_counted_for_the_window_plus_the_margin() -> None:
    clock = ManualClock(start=100.0)
    backend = MemoryThrottle(clock=clock)
    limit = RateLimit.parse("3/1s")  # the send log allows 3 per 1.2 s
    assert [backend.admit("p:t", limit) for _ in range(3)] == [0.0, 0.0, 0.0]
    clock.advance(1.0)  # the vendor's window has passed, the margin has not
    assert backend.admit("p:t", limit) == pytest.approx(0.2)
    clock.advance(0.2)
    assert backend.admit("p:t", limit) == 0.0


def _gate(
    throttle: Throttle,
    *,
    provider: str = "huntress",
    dispatched: bool = False,
    reserved_at: float | None = None,
) -> InvocationGate:
    gate = InvocationGate(
        throttle=throttle,
        provider=provider,
        tenant_id="acme",
        ledger=cast(Ledger, None),  # read-only requests never touch the ledger
        row=cast(RowSnapshot, None),
        owner="w1",
        marks_dispatch=False,
        reserved_at=reserved_at,
    )
    gate.dispatched = dispatched
    return gate


def test_a_request_counts_against_the_vendor_its_client_names_not_the_calling_module() -> None:
    """Graph calls from a core action are throttled as Microsoft's."""
    clock = ManualClock()
    throttle = Throttle(
        MemoryThrottle(clock=clock),
        {"microsoft": RateLimit.parse("1/10s")},
        max_wait=0.0,
        clock=clock,
        sleep=clock.advance,
    )
    gate = _gate(throttle, provider="core")
    gate.before_request("GET", "https://graph.microsoft.com/v1.0/me", mutating=False)
    gate.before_request("GET", "https://graph.microsoft.com/v1.0/me", mutating=False)
    gate.before_request(
        "GET", "https://graph.microsoft.com/v1.0/me", mutating=False, vendor="microsoft"
    )
    with pytest.raises(Throttled):
        gate.before_request(
            "GET", "https://graph.microsoft.com/v1.0/me", mutating=False, vendor="microsoft"
        )
    assert gate.requests == 3


def test_a_full_send_window_sends_an_undispatched_step_away_instead_of_holding_its_worker() -> None:
    """The send log's wait is a reserved slot too: the step leaves and comes back then."""
    clock = ManualClock(start=1000.0)
    backend = MemoryThrottle(clock=clock)
    throttle = Throttle(
        backend,
        {"huntress": RateLimit.parse("3/1s")},  # the send log allows 3 per 1.2 s
        max_wait=0.1,
        clock=clock,
        sleep=clock.advance,
    )
    # Three sends fill the window; the bucket's reservations are not what is full.
    limit = throttle.limits["huntress"]
    assert [backend.admit("huntress:acme", limit) for _ in range(3)] == [0.0, 0.0, 0.0]
    leaving = _gate(throttle, dispatched=False).before_request(
        "GET", "https://api.huntress.io/v1/account", mutating=False
    )
    with pytest.raises(Throttled) as raised:
        leaving()
    assert raised.value.retry_after == pytest.approx(1.2, abs=0.01)
    assert raised.value.reserved_at == pytest.approx(1001.2, abs=0.01)
    assert clock() == 1000.0  # nothing slept

    # Back at its time, the step uses the reserved slot: no new bucket token, one send.
    clock.advance(1.2)
    gate = _gate(throttle, dispatched=False, reserved_at=raised.value.reserved_at)
    gate.before_request("GET", "https://api.huntress.io/v1/account", mutating=False)()
    assert gate.throttle_wait == pytest.approx(0.0, abs=0.01)


def test_a_full_send_window_holds_a_dispatched_step_which_must_finish() -> None:
    clock = ManualClock(start=1000.0)
    backend = MemoryThrottle(clock=clock)
    throttle = Throttle(
        backend,
        {"huntress": RateLimit.parse("3/1s")},
        max_wait=0.1,
        clock=clock,
        sleep=clock.advance,
    )
    for _ in range(3):
        backend.admit("huntress:acme", throttle.limits["huntress"])
    # Its bucket slot is now: only the send log is full.
    gate = _gate(throttle, dispatched=True, reserved_at=clock())
    gate.before_request("POST", "https://api.huntress.io/v1/x", mutating=True)()
    assert gate.throttle_wait == pytest.approx(1.2, abs=0.01)
    assert clock() == pytest.approx(1001.2, abs=0.01)


def test_the_slot_taken_before_the_handler_is_its_first_own_request() -> None:
    clock = ManualClock()
    throttle = Throttle(
        MemoryThrottle(clock=clock),
        {"huntress": RateLimit.parse("1/10s"), "microsoft": RateLimit.parse("1/10s")},
        max_wait=0.0,
        clock=clock,
        sleep=clock.advance,
    )
    gate = _gate(throttle)
    gate.take_slot()
    gate.take_slot()  # once only
    # Another vendor's request takes its own token; the held slot waits for huntress's.
    gate.before_request(
        "GET", "https://graph.microsoft.com/v1.0/me", mutating=False, vendor="microsoft"
    )
    gate.before_request("GET", "https://api.huntress.io/v1/account", mutating=False)
    with pytest.raises(Throttled):
        gate.before_request("GET", "https://api.huntress.io/v1/account", mutating=False)
    assert gate.requests == 2
