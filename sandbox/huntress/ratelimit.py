"""Huntress's rate limit: a sliding window of 60 requests per 60 s per account.

The spec's "Rate Limits" section: "Every Huntress API account is rate
limited to 60 requests per minute, on a sliding window ... no more than 60
requests can be made within a 60 second time interval between the first
request and the last request", with a worked example this module follows
exactly: requests at T0, T5 and 58 at T10; a 61st at T55 is refused; at T61
it succeeds; a 62nd at T61 is refused "at least until the time has passed
T65". So:

- a request is admitted when fewer than ``limit`` admitted requests of its
  account arrived in the closed interval ``[now - window, now]`` (a request
  made exactly ``window`` seconds ago still counts: "passed T65");
- a refused request does not count (the example's 61st at T61 succeeds
  after the refused one at T55);
- the window is the account's: every key of one account shares it, another
  account has its own.

Which requests count *(choice)*: every request to ``/v1`` that passed
authentication, whatever its answer (400, 403, 404 included); a 401 cannot
be charged to an account and a fault-injected answer never reaches the
limiter. The refusal is 429 ``{"error": "Too Many Requests"}`` *(choice)*
with no ``Retry-After`` (none is documented, vendors.md §3); with
``retry_after`` on, the header carries the whole seconds until the oldest
counted request leaves the window.

``time_scale`` stretches or shrinks the window for benchmarks: the window
lasts ``window * time_scale`` seconds of the fake's clock (0.01: a 60 s
window lasts 0.6 s). ``Retry-After`` is in the same clock seconds.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

__all__ = ["RATE_LIMIT", "RATE_WINDOW", "RateLimiter", "retry_after_seconds"]

RATE_LIMIT = 60
RATE_WINDOW = 60.0


@dataclass
class _AccountWindow:
    admitted: deque[float] = field(default_factory=deque)
    refused: int = 0


class RateLimiter:
    """Per-account sliding windows on the fake's clock; not thread-safe (the fake's lock is)."""

    def __init__(
        self,
        limit: int | None = RATE_LIMIT,
        window: float = RATE_WINDOW,
        *,
        time_scale: float = 1.0,
    ) -> None:
        self.configure(limit=limit, window=window, time_scale=time_scale)
        self._accounts: dict[int, _AccountWindow] = {}

    def configure(self, *, limit: int | None, window: float, time_scale: float) -> None:
        """Set the quota (``limit`` None: no limit), the window and the time scale."""
        if limit is not None and limit < 1:
            raise ValueError("limit must be >= 1 or None")
        if window <= 0 or time_scale <= 0:
            raise ValueError("window and time_scale must be > 0")
        self.limit = limit
        self.window = float(window)
        self.time_scale = float(time_scale)

    @property
    def span(self) -> float:
        """The window's length in seconds of the fake's clock."""
        return self.window * self.time_scale

    def _slide(self, account_id: int, now: float) -> _AccountWindow:
        state = self._accounts.setdefault(account_id, _AccountWindow())
        while state.admitted and state.admitted[0] < now - self.span:
            state.admitted.popleft()
        return state

    def admit(self, account_id: int, now: float) -> float | None:
        """Count a request of ``account_id`` at ``now``: None when admitted.

        When refused: the clock seconds until the oldest counted request
        leaves the window (when a request would next be admitted).
        """
        state = self._slide(account_id, now)
        if self.limit is not None and len(state.admitted) >= self.limit:
            state.refused += 1
            return max(0.0, state.admitted[0] + self.span - now)
        state.admitted.append(now)
        return None

    def in_window(self, account_id: int, now: float) -> int:
        """How many of the account's admitted requests the window holds at ``now``."""
        return len(self._slide(account_id, now).admitted)

    def refused(self, account_id: int) -> int:
        """How many of the account's requests the limiter has refused."""
        state = self._accounts.get(account_id)
        return 0 if state is None else state.refused

    def reset(self) -> None:
        """Forget every window and refusal count."""
        self._accounts.clear()


def retry_after_seconds(wait: float) -> str:
    """A ``Retry-After`` value: the whole seconds after which a request is admitted.

    A request exactly ``wait`` seconds later still finds the oldest one in the
    (closed) window, so this is the next whole second after ``wait``.
    """
    return str(math.floor(wait) + 1)
