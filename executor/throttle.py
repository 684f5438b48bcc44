"""The vendor throttle: a token bucket per (provider, tenant), shared by all workers.

Vendor limits are per account (per tenant credential), not per worker, so the
bucket lives in Redis when there are several worker processes, and in process
memory when patchbay runs embedded. Both backends implement ``reserve``:

- if a token is available, or will be within ``max_wait``, the caller gets it
  (the bucket may go negative: the slot is *reserved* for a moment in the
  future, which keeps callers in first-come order instead of racing);
- otherwise nothing is taken and the caller learns how long to wait, so the
  task can be re-scheduled with a countdown instead of holding a worker slot.

Why the bucket holds a single token: a vendor that counts N requests in any
sliding window W would see ``capacity + rate * W`` requests from a full bucket;
with capacity 1 and a refill of ``(N - 1) / W`` (minus a little headroom for
network jitter) no window ever sees more than N.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from executor.errors import Throttled

_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0}
_LIMIT = re.compile(r"^\s*(\d+)\s*/\s*(\d*\.?\d*)\s*([smh])\s*$")


@dataclass(frozen=True)
class RateLimit:
    """At most ``requests`` per ``per_seconds`` (sliding window) for one account."""

    requests: int
    per_seconds: float
    headroom: float = 0.98

    @classmethod
    def parse(cls, text: str) -> RateLimit:
        """``"60/m"``, ``"10/s"``, ``"50/2s"``, ``"1000/h"``."""
        match = _LIMIT.match(text)
        if not match:
            raise ValueError(f"invalid rate limit {text!r}: use N/s, N/m, N/h or N/<seconds>s")
        count, amount, unit = match.groups()
        per = float(amount or 1) * _UNITS[unit]
        if int(count) < 1 or per <= 0:
            raise ValueError(f"invalid rate limit {text!r}: must be positive")
        return cls(int(count), per)

    @property
    def capacity(self) -> float:
        return 1.0

    @property
    def refill_per_second(self) -> float:
        """Tokens per second: ``(N - 1) / W`` with headroom (``N / W`` when N is 1)."""
        steady = max(self.requests - 1, 1)
        return steady * self.headroom / self.per_seconds

    def __str__(self) -> str:
        return f"{self.requests}/{self.per_seconds:g}s"


@dataclass(frozen=True)
class Reservation:
    """``granted``: a token is ours after sleeping ``wait`` seconds; else retry after ``wait``."""

    granted: bool
    wait: float


class ThrottleBackend(Protocol):
    """Where the buckets live."""

    def reserve(self, key: str, limit: RateLimit, max_wait: float) -> Reservation: ...


class MemoryThrottle:
    """Buckets in this process (the embedded mode's single worker)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: dict[str, tuple[float, float]] = {}

    def reserve(self, key: str, limit: RateLimit, max_wait: float) -> Reservation:
        with self._lock:
            now = self._clock()
            tokens, stamp = self._buckets.get(key, (limit.capacity, now))
            rate = limit.refill_per_second
            tokens = min(limit.capacity, tokens + max(0.0, now - stamp) * rate)
            wait = 0.0 if tokens >= 1 else (1 - tokens) / rate
            if wait <= max_wait:
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
local max_wait = tonumber(ARGV[3])
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
if wait <= max_wait then
  tokens = tokens - 1
  granted = 1
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil((capacity + 1 + max_wait * rate) / rate * 1000) + 1000)
return {granted, tostring(wait)}
"""


class RedisThrottle:
    """Buckets in Redis, shared by every worker process (one atomic script per request)."""

    def __init__(self, client: Any, prefix: str = "patchbay:throttle:") -> None:
        self._client = client
        self._prefix = prefix
        self._script = client.register_script(_RESERVE_LUA)

    def reserve(self, key: str, limit: RateLimit, max_wait: float) -> Reservation:
        granted, wait = self._script(
            keys=[self._prefix + key],
            args=[repr(limit.capacity), repr(limit.refill_per_second), repr(max_wait)],
        )
        return Reservation(bool(int(granted)), float(wait))


class Throttle:
    """Takes a token for ``(provider, tenant)`` before each vendor request.

    Sleeps for a short reserved wait; raises ``Throttled`` (with ``retry_after``)
    when the next token is further away than ``max_wait``. Providers without a
    configured limit pass straight through.
    """

    def __init__(
        self,
        backend: ThrottleBackend,
        limits: Mapping[str, RateLimit],
        *,
        max_wait: float = 1.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.backend = backend
        self.limits = dict(limits)
        self.max_wait = max_wait
        self._sleep = sleep

    def acquire(self, provider: str, tenant_id: str, *, max_wait: float | None = None) -> float:
        """Take a token; returns the seconds slept. Raises Throttled if it is too far off.

        ``max_wait`` overrides the configured wait (a step that already sent a
        mutating request must finish rather than be re-run, so it waits longer).
        """
        limit = self.limits.get(provider)
        if limit is None:
            return 0.0
        wait_limit = self.max_wait if max_wait is None else max_wait
        reservation = self.backend.reserve(f"{provider}:{tenant_id}", limit, wait_limit)
        if not reservation.granted:
            raise Throttled(
                f"{provider} rate limit ({limit}) reached for tenant {tenant_id}; "
                f"next slot in {reservation.wait:.1f}s",
                retry_after=reservation.wait,
                details={"provider": provider, "limit": str(limit)},
            )
        if reservation.wait > 0:
            self._sleep(reservation.wait)
        return reservation.wait
