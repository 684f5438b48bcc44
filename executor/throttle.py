"""The vendor throttle: a token bucket per (provider, tenant), shared by all workers.

Vendor limits are per account (per tenant credential), not per worker, so the
bucket lives in Redis when there are several worker processes, and in process
memory when patchbay runs embedded. Both backends implement ``reserve``: each
caller is given the next free slot (the bucket goes negative: slots are
*reserved* in first-come order, so callers never race for a token):

- a slot within ``max_wait`` (0.1 s) is waited for, holding the worker briefly
  (a step's first slot is asked for before its handler runs,
  ``InvocationGate.take_slot``, so a deferred delivery costs no connection
  look-up, secret or client);
- a later slot (up to ``max_reserve``) stays reserved for the caller, and the
  step is re-scheduled to run exactly then without holding a worker slot
  (``Throttled.reserved_at``); when it comes back it uses its slot instead of
  queueing again. Re-scheduled steps therefore do not cycle through the
  workers, and other tenants' steps (separate buckets) flow past a backlog;
- a slot beyond ``max_reserve`` is not taken: the step is re-scheduled and
  asks again.

Why the bucket holds a single token: it then hands out slots at least
``1 / rate`` apart, so any window of length T holds at most
``floor(rate * T) + 1`` of them; with a refill a little below ``N / T`` no
window of T ever holds more than N.

The transit margin: we count a request as its first byte is written (after
any connect and TLS handshake: ``actionkit.outbound.GuardedTransport``); the
vendor counts it when it *arrives*, and the time in between varies (the
network, the vendor's own queue, scheduling on either side).
Two requests logged W + d apart can arrive less than W apart when the first
was delayed d more than the second. So both the bucket and the send log
treat the window as ``W + margin`` (``RateLimit.send_window``), where
``margin = max(floor, MARGIN_FRACTION * W)``: 0.2 s (``PATCHBAY_THROTTLE_MARGIN``),
or 2% of longer windows. Up to that much difference in transit time, no
window of W at the vendor's side sees more than N requests. The price is
throughput: at most ``0.98 * N / (W + margin)`` instead of ``N / W`` (0.96
of the limit at 60/min, 0.92 at 60/3s, 0.82 at 10/s).

The send log (``admit``) is the hard guarantee: it records every request as
it leaves and makes the caller wait while the last ``send_window`` seconds
already hold N (a slot used late, or a burst of re-scheduled steps, cannot
crowd a window). A step that has sent nothing mutating does not wait longer
than ``max_wait`` for it either: it leaves the worker and comes back when the
window has room. The bucket paces callers a little below it (``headroom``)
so that the send log rarely has to wait. Both backends implement the same
rules.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from actionkit.errors import Throttled
from actionkit.ratelimit import MARGIN_FLOOR as MARGIN_FLOOR
from actionkit.ratelimit import MARGIN_FRACTION as MARGIN_FRACTION
from actionkit.ratelimit import RateLimit as RateLimit


@dataclass(frozen=True)
class Reservation:
    """``granted``: the slot ``wait`` seconds from now is ours; else nothing was taken."""

    granted: bool
    wait: float


class ThrottleBackend(Protocol):
    """Where the buckets live."""

    def reserve(self, key: str, limit: RateLimit, max_reserve: float) -> Reservation:
        """Take the next slot if it is at most ``max_reserve`` seconds away."""
        ...

    def admit(self, key: str, limit: RateLimit) -> float:
        """Record a send now if the last ``send_window`` holds fewer than N; else the wait."""
        ...

    def sends(self, key: str) -> list[float]:
        """The send log's entries still within their window, oldest first (backend's clock)."""
        ...


class MemoryThrottle:
    """Buckets in this process (the embedded mode's single worker)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: dict[str, tuple[float, float]] = {}
        self._sent: dict[str, deque[float]] = {}

    def admit(self, key: str, limit: RateLimit) -> float:
        with self._lock:
            now = self._clock()
            sent = self._sent.setdefault(key, deque())
            window = limit.send_window
            while sent and sent[0] <= now - window:
                sent.popleft()
            if len(sent) < limit.window_allowance:
                sent.append(now)
                return 0.0
            return max(0.0, sent[0] + window - now)

    def sends(self, key: str) -> list[float]:
        with self._lock:
            return list(self._sent.get(key, ()))

    def reserve(self, key: str, limit: RateLimit, max_reserve: float) -> Reservation:
        with self._lock:
            now = self._clock()
            tokens, stamp = self._buckets.get(key, (limit.capacity, now))
            rate = limit.refill_per_second
            tokens = min(limit.capacity, tokens + max(0.0, now - stamp) * rate)
            wait = 0.0 if tokens >= 1 else (1 - tokens) / rate
            if wait <= max_reserve:
                self._buckets[key] = (tokens - 1, now)
                return Reservation(True, wait)
            self._buckets[key] = (tokens, now)
            return Reservation(False, wait)


# Runs atomically in Redis with Redis's own clock, so every worker on every
# machine agrees on time. Returns {granted (0/1), wait seconds as a string}.
_RESERVE_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local capacity = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local max_reserve = tonumber(ARGV[3])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1])
local ts = tonumber(state[2])
if tokens == nil then
  tokens = capacity
  ts = now
end
tokens = math.min(capacity, tokens + math.max(0, now - ts) * rate)
local wait = 0
if tokens < 1 then
  wait = (1 - tokens) / rate
end
local granted = 0
if wait <= max_reserve then
  tokens = tokens - 1
  granted = 1
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil((capacity + 1 + max_reserve * rate) / rate * 1000) + 1000)
return {granted, tostring(wait)}
"""


# The send log: the timestamps of the last send window's requests (ARGV[1] is
# ``RateLimit.send_window``: the vendor's window plus the transit margin), so
# that a slot used late (a re-scheduled step that came back behind time) still
# cannot put more than N requests into any window. Returns the wait, "0"
# when admitted.
_ADMIT_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local window = tonumber(ARGV[1])
local allowance = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local count = redis.call('ZCARD', KEYS[1])
if count < allowance then
  redis.call('ZADD', KEYS[1], now, tostring(now) .. ':' .. ARGV[3])
  redis.call('PEXPIRE', KEYS[1], math.ceil(window * 1000) + 1000)
  return '0'
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return tostring(math.max(0, tonumber(oldest[2]) + window - now))
"""


class RedisThrottle:
    """Buckets in Redis, shared by every worker process (atomic scripts per request)."""

    def __init__(self, client: Any, prefix: str = "patchbay:throttle:") -> None:
        self._client = client
        self._prefix = prefix
        self._script = client.register_script(_RESERVE_LUA)
        self._admit = client.register_script(_ADMIT_LUA)

    def admit(self, key: str, limit: RateLimit) -> float:
        wait = self._admit(
            keys=[f"{self._prefix}{key}:sent"],
            args=[repr(limit.send_window), str(limit.window_allowance), uuid.uuid4().hex],
        )
        return float(wait)

    def sends(self, key: str) -> list[float]:
        entries = self._client.zrange(f"{self._prefix}{key}:sent", 0, -1, withscores=True)
        return [float(score) for _member, score in entries]

    def reserve(self, key: str, limit: RateLimit, max_reserve: float) -> Reservation:
        granted, wait = self._script(
            keys=[self._prefix + key],
            args=[repr(limit.capacity), repr(limit.refill_per_second), repr(max_reserve)],
        )
        return Reservation(bool(int(granted)), float(wait))


class Throttle:
    """Takes a token for ``(provider, tenant)`` before each vendor request.

    Sleeps for a slot within ``max_wait``; otherwise raises ``Throttled`` with
    ``retry_after`` (and ``reserved_at`` when the later slot is held for the
    caller). Providers without a configured limit pass straight through.
    """

    def __init__(
        self,
        backend: ThrottleBackend,
        limits: Mapping[str, RateLimit],
        *,
        max_wait: float = 1.0,
        max_reserve: float = 300.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.backend = backend
        self.limits = dict(limits)
        self.max_wait = max_wait
        self.max_reserve = max(max_reserve, max_wait)
        self._sleep = sleep
        self._clock = clock

    def acquire(self, provider: str, tenant_id: str, *, max_wait: float | None = None) -> float:
        """Take a token; returns the seconds slept. Raises Throttled if it is too far off.

        ``max_wait`` overrides the configured wait (a step that already sent a
        mutating request must finish rather than be re-run, so it waits longer).
        """
        limit = self.limits.get(provider)
        if limit is None:
            return 0.0
        wait_limit = self.max_wait if max_wait is None else max_wait
        reservation = self.backend.reserve(
            f"{provider}:{tenant_id}", limit, max(self.max_reserve, wait_limit)
        )
        if reservation.granted and reservation.wait <= wait_limit:
            if reservation.wait > 0:
                self._sleep(reservation.wait)
            return reservation.wait
        raise self._throttled(
            provider,
            tenant_id,
            limit,
            f"next slot in {reservation.wait:.1f}s",
            reservation.wait,
            reserved=reservation.granted,
        )

    def _throttled(
        self,
        provider: str,
        tenant_id: str,
        limit: RateLimit,
        why: str,
        wait: float,
        *,
        reserved: bool,
    ) -> Throttled:
        """The deferral: ``reserved_at`` when the slot ``wait`` seconds away is the caller's."""
        error = Throttled(
            f"{provider} rate limit ({limit}) reached for tenant {tenant_id}; {why}",
            retry_after=wait,
            details={"provider": provider, "limit": str(limit)},
        )
        if reserved:
            error.reserved_at = self._clock() + wait
        return error

    def wait_for(self, provider: str, tenant_id: str, reserved_at: float) -> float:
        """Sleep until a slot reserved earlier (``Throttled.reserved_at``) arrives."""
        wait = max(0.0, reserved_at - self._clock())
        if wait > 0:
            self._sleep(wait)
        return wait

    def admit(self, provider: str, tenant_id: str, *, max_wait: float | None = None) -> float:
        """Record the send that follows at once; wait if the last window is full.

        Called as the very last thing before a request leaves (after the
        step's dispatched mark), so the send log sees real send times.
        With ``max_wait``, a wait longer than that raises ``Throttled`` with
        ``reserved_at`` (nothing recorded; the caller's bucket slot is spent,
        so it comes back then and asks the send log only).
        """
        limit = self.limits.get(provider)
        if limit is None:
            return 0.0
        slept = 0.0
        key = f"{provider}:{tenant_id}"
        while (wait := self.backend.admit(key, limit)) > 0:
            wait = min(wait + 0.001, limit.send_window)
            if max_wait is not None and wait > max_wait:
                raise self._throttled(
                    provider,
                    tenant_id,
                    limit,
                    f"the last window is full for {wait:.1f}s",
                    wait,
                    reserved=True,
                )
            self._sleep(wait)
            slept += wait
        return slept
