"""A vendor's documented request limit: one grammar everywhere (``"60/m"``, ``"50/2s"``).

A module declares it (``catalog.vendors.Vendor.rate_limit``), ``PATCHBAY_RATE_LIMITS``
overrides it, the executor's throttle enforces it across all workers and
Celery's per-worker ``rate_limit`` ceilings are derived from it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0}
_LIMIT = re.compile(r"^\s*(\d+)\s*/\s*(\d*\.?\d*)\s*([smh])\s*$")

# The transit margin added to every window (see the module docstring): at
# least this many seconds ...
MARGIN_FLOOR = 0.2
# ... or this fraction of the window, whichever is longer.
MARGIN_FRACTION = 0.02


@dataclass(frozen=True)
class RateLimit:
    """At most ``requests`` per ``per_seconds`` (sliding window) for one account.

    The vendor counts arrivals, so both throttle rules use ``send_window``:
    the window plus ``margin`` for differences in transit time.
    """

    requests: int
    per_seconds: float
    headroom: float = 0.98
    margin_floor: float = MARGIN_FLOOR

    @classmethod
    def parse(cls, text: str, *, margin_floor: float = MARGIN_FLOOR) -> RateLimit:
        """``"60/m"``, ``"10/s"``, ``"50/2s"``, ``"1000/h"``."""
        match = _LIMIT.match(text)
        if not match:
            raise ValueError(f"invalid rate limit {text!r}: use N/s, N/m, N/h or N/<seconds>s")
        count, amount, unit = match.groups()
        per = float(amount or 1) * _UNITS[unit]
        if int(count) < 1 or per <= 0:
            raise ValueError(f"invalid rate limit {text!r}: must be positive")
        return cls(int(count), per, margin_floor=margin_floor)

    @property
    def capacity(self) -> float:
        return 1.0

    @property
    def margin(self) -> float:
        """Seconds added to the window for transit jitter: the floor (0.2 s) or 2%, the larger."""
        return max(self.margin_floor, MARGIN_FRACTION * self.per_seconds)

    @property
    def send_window(self) -> float:
        """The window both rules count in: ``per_seconds + margin``."""
        return self.per_seconds + self.margin

    @property
    def window_allowance(self) -> int:
        """Sends the send log allows in any ``send_window``: the vendor's N."""
        return self.requests

    @property
    def refill_per_second(self) -> float:
        """Tokens per second: ``headroom * N / (W + margin)``.

        A bucket of one token hands out slots at least ``1 / rate`` apart, so
        any ``send_window`` holds at most ``floor(rate * send_window) + 1``
        slots, which is N while ``headroom`` is below 1.
        """
        return self.headroom * self.requests / self.send_window

    def __str__(self) -> str:
        return f"{self.requests}/{self.per_seconds:g}s"
