"""One token cache for every Microsoft integration (``catalog.microsoft.cached_token``).

The cache is a tenant secret updated under the secret row's lock
(``ctx.update_secret``); here a small in-memory store with the same contract
(one updater at a time, the update sees the value the previous one wrote)
stands in for the database, so many threads can race for it.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any, cast

from pydantic import SecretStr

from actionkit.context import ActionContext
from catalog.microsoft import REFRESH_MARGIN, cached_token
from sandbox.core import ManualClock

NAME = "teams_graph_token"


class SecretRow:
    """A tenant secret with ``update_secret``'s contract: updates run one at a time."""

    def __init__(self) -> None:
        self.value: str | None = None
        self._lock = threading.Lock()

    def secret(self, name: str) -> SecretStr | None:
        return None if self.value is None else SecretStr(self.value)

    def update_secret(
        self, name: str, update: Callable[[SecretStr | None], str | None]
    ) -> SecretStr | None:
        with self._lock:
            new = update(self.secret(name))
            if new is not None:
                self.value = new
            return self.secret(name)


class Microsoft:
    """Hands out numbered tokens and counts how often it was asked."""

    def __init__(self, lifetime: float = 3600.0) -> None:
        self.lifetime = lifetime
        self.asked = 0
        self._lock = threading.Lock()

    def fetch(self) -> dict[str, Any]:
        with self._lock:
            self.asked += 1
            return {"access_token": f"token-{self.asked}", "expires_in": self.lifetime}


def ctx(row: SecretRow) -> ActionContext:
    return cast(ActionContext, row)


def test_one_token_request_serves_ten_sends() -> None:
    row, microsoft, clock = SecretRow(), Microsoft(), ManualClock(start=1000.0)
    tokens = [
        cached_token(ctx(row), NAME, microsoft.fetch, force=False, clock=clock) for _ in range(10)
    ]
    assert tokens == ["token-1"] * 10
    assert microsoft.asked == 1
    stored = json.loads(row.value or "{}")
    assert stored["expires_at"] == 1000.0 + 3600.0
    assert stored["refresh_at"] == 1000.0 + 3600.0 - REFRESH_MARGIN


def test_a_token_is_replaced_shortly_before_it_expires_and_a_short_one_at_half_life() -> None:
    row, microsoft, clock = SecretRow(), Microsoft(), ManualClock(start=1000.0)
    assert cached_token(ctx(row), NAME, microsoft.fetch, force=False, clock=clock) == "token-1"
    clock.advance(3600.0 - REFRESH_MARGIN - 1)
    assert cached_token(ctx(row), NAME, microsoft.fetch, force=False, clock=clock) == "token-1"
    clock.advance(2)
    assert cached_token(ctx(row), NAME, microsoft.fetch, force=False, clock=clock) == "token-2"
    # A token living less than twice the margin is not refreshed on every call.
    short, shortlived = SecretRow(), Microsoft(lifetime=300.0)
    assert cached_token(ctx(short), NAME, shortlived.fetch, force=False, clock=clock) == "token-1"
    clock.advance(149)
    assert cached_token(ctx(short), NAME, shortlived.fetch, force=False, clock=clock) == "token-1"
    clock.advance(2)
    assert cached_token(ctx(short), NAME, shortlived.fetch, force=False, clock=clock) == "token-2"


def test_a_refused_token_is_replaced_once_however_many_workers_saw_the_401() -> None:
    row, microsoft, clock = SecretRow(), Microsoft(), ManualClock(start=1000.0)
    assert cached_token(ctx(row), NAME, microsoft.fetch, force=False, clock=clock) == "token-1"
    # Two workers got a 401 with token-1; the first replaces it, the second finds the new one.
    stale = row.secret(NAME)
    first = cached_token(ctx(row), NAME, microsoft.fetch, force=True, clock=clock)
    assert first == "token-2"
    # The second worker read the stale token before the first replaced it:
    # it must not replace token-2 (which was never refused).
    second_row = _as_seen_before(row, stale=stale)
    second = cached_token(ctx(second_row), NAME, microsoft.fetch, force=True, clock=clock)
    assert second == "token-2"
    assert microsoft.asked == 2


def test_racing_first_calls_fetch_once() -> None:
    row, microsoft = SecretRow(), Microsoft()
    start = threading.Barrier(8)
    got: list[str] = []
    lock = threading.Lock()

    def worker() -> None:
        start.wait()
        token = cached_token(ctx(row), NAME, microsoft.fetch, force=False)
        with lock:
            got.append(token)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert got == ["token-1"] * 8
    assert microsoft.asked == 1


def _as_seen_before(row: SecretRow, *, stale: SecretStr | None) -> SecretRow:
    """``row`` as a worker sees it that read ``stale`` before another worker's refresh."""

    class Late(SecretRow):
        def __init__(self) -> None:
            super().__init__()
            self.reads = 0

        def secret(self, name: str) -> SecretStr | None:
            self.reads += 1
            if self.reads == 1:  # the read cached_token makes before taking the lock
                return stale
            return row.secret(name)

        def update_secret(
            self, name: str, update: Callable[[SecretStr | None], str | None]
        ) -> SecretStr | None:
            return row.update_secret(name, update)

    return Late()
