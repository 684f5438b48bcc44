"""An alert storm: 20 concurrent tickets.create with one dedupe key make one ticket.

PostgreSQL only: it is the backend with concurrent writers (SQLite has one
writer at a time, so creates there cannot race). Each thread is a worker of
its own: its own store (engine, connections) and pipeline, and its own step
key; all are released together by a barrier.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sqlalchemy import select

from executor.pipeline import Finished, Outcome
from executor.settings import Settings
from store import Store
from store.models import TenantCounter, Ticket
from tests.integrations.tickets.conftest import (
    TENANT,
    Desk,
    core_task,
    failed,
    make_pipeline,
    succeeded,
)

WORKERS = 20


@pytest.fixture
def backend(request: pytest.FixtureRequest) -> str:
    """Overrides the two-backend parameter: these races need PostgreSQL."""
    return "postgres"


def storm(
    settings: Settings, inputs: Callable[[int], dict[str, Any]], *, name: str = "storm"
) -> list[Outcome]:
    """Run ``WORKERS`` creates at once, each on its own store, pipeline and step key."""
    stores = [Store.from_settings(settings) for _ in range(WORKERS)]
    barrier = threading.Barrier(WORKERS)

    def one(i: int) -> Outcome:
        pipeline = make_pipeline(stores[i], settings)
        task = core_task("create", inputs(i), key=f"{name}:{i}")
        barrier.wait(timeout=30)
        return pipeline.execute(task)

    try:
        with ThreadPoolExecutor(WORKERS) as pool:
            return list(pool.map(one, range(WORKERS)))
    finally:
        for s in stores:
            s.close()


def tickets_of(store: Store) -> list[Ticket]:
    with store.sessions() as session:
        rows = list(session.scalars(select(Ticket).where(Ticket.tenant == TENANT)))
        session.expunge_all()
        return rows


def test_twenty_concurrent_creates_with_one_key_make_one_ticket_with_every_link(
    desk: Desk, settings: Settings
) -> None:
    outcomes = storm(
        settings,
        lambda i: {
            "title": f"Disk full ({i})",
            "dedupe_key": "disk:srv-dc01",
            "alert": {"provider": "ninjaone", "alert_id": f"alert-{i}", "sync_close": i == 7},
        },
    )
    outputs = [succeeded(o) for o in outcomes]
    [ticket] = tickets_of(desk.store)
    assert ticket.ticket_number == "T-1"
    assert sum(out["created"] for out in outputs) == 1
    assert {out["ticket"]["ticket_id"] for out in outputs} == {str(ticket.ticket_id)}
    [winner] = [i for i, out in enumerate(outputs) if out["created"]]
    assert ticket.title == f"Disk full ({winner})"
    assert ticket.source_key == f"storm:{winner}"

    found = desk.ok("find", {"dedupe_key": "disk:srv-dc01"})
    assert found["count"] == 1
    links = found["tickets"][0]["links"]
    assert sorted(link["external_id"] for link in links) == sorted(
        f"alert-{i}" for i in range(WORKERS)
    )
    assert [link["external_id"] for link in links if link["sync_close"]] == ["alert-7"]

    # The losers' numbers were not spent: numbering goes on from the one ticket.
    assert desk.create("next")["ticket_number"] == "T-2"
    with desk.store.sessions() as session:
        counter = session.get(TenantCounter, (TENANT, "tickets"))
        assert counter is not None
        assert counter.value == 2


def test_twenty_concurrent_creates_of_the_same_alert_all_return_the_one_ticket(
    desk: Desk, settings: Settings
) -> None:
    """The vendor re-sends one alert while its ticket is open: every step finds the ticket.

    Three storms (three alerts), so that the race is met on every run.
    """
    opened = desk.create("CPU high", dedupe_key="cpu")
    codes: list[str] = []
    for storm_no in range(3):
        alert = {"provider": "levelio", "alert_id": f"alr_{storm_no}", "sync_close": True}

        def same_alert(i: int, alert: dict[str, Any] = alert) -> dict[str, Any]:
            return {"title": "CPU high", "dedupe_key": "cpu", "alert": alert}

        outcomes = storm(settings, same_alert, name=f"storm-{storm_no}")
        for outcome in outcomes:
            if not isinstance(outcome, Finished) or outcome.row.status != "SUCCEEDED":
                codes.append(failed(outcome)["code"])
                continue
            assert succeeded(outcome)["created"] is False
            assert succeeded(outcome)["ticket"]["ticket_id"] == opened["ticket_id"]
    assert codes == []
    assert len(tickets_of(desk.store)) == 1
    assert desk.counts()["ticket_links"] == 3


def test_concurrent_creates_without_a_key_get_unique_consecutive_numbers(
    desk: Desk, settings: Settings
) -> None:
    outputs = [succeeded(o) for o in storm(settings, lambda i: {"title": f"t{i}"})]
    assert all(out["created"] for out in outputs)
    numbers = sorted(int(out["ticket"]["ticket_number"].removeprefix("T-")) for out in outputs)
    assert numbers == list(range(1, WORKERS + 1))
    assert len({uuid.UUID(out["ticket"]["ticket_id"]) for out in outputs}) == WORKERS
