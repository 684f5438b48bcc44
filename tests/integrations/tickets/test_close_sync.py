"""Closing a linked ticket reaches the vendor exactly once, through the outbox and its relay.

A tenant is connected to a vendor's fake (NinjaOne in-process; Level and
Huntress on loopback, through their own test harnesses), and one pipeline
runs both the core ticket steps and the vendor's steps. The relay's enqueue
is a broker that keeps the tasks it was given; delivering one runs it
through that pipeline, as a worker would. What counts is what the fake saw.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy import select, update

from catalog.events import ticket_link_closed
from catalog.registration import Catalog
from executor.outbox import OutboxRelay
from executor.pipeline import Finished, Outcome
from executor.wire import TaskRequest
from integrations import huntress, levelio, ninjaone, tickets
from store import Store
from store.models import OutboxEvent
from tests.integrations.harness import VendorHarness, output_of
from tests.integrations.huntress.conftest import HuntressHarness
from tests.integrations.huntress.conftest import hunt as hunt
from tests.integrations.levelio.conftest import LevelHarness
from tests.integrations.levelio.conftest import level as level
from tests.integrations.ninjaone.conftest import NinjaHarness
from tests.integrations.ninjaone.conftest import ninja as ninja


@dataclass
class Broker:
    """The relay's enqueue: keeps each task; ``deliver`` runs one as a worker would."""

    harness: VendorHarness
    sent: list[TaskRequest] = field(default_factory=list)

    def __call__(
        self, action_id: str, *, tenant_id: str, input: dict[str, Any], idempotency_key: str
    ) -> str:
        pipeline = self.harness.pipeline()
        spec = pipeline.resolve(action_id, None)
        self.sent.append(
            TaskRequest(
                key=idempotency_key,
                action_id=spec.id,
                version=spec.version,
                tenant_id=tenant_id,
                input=input,
                provider=pipeline.provider_of(spec),
            )
        )
        return idempotency_key

    def deliver(self, task: TaskRequest) -> Outcome:
        return self.harness.pipeline().execute(task)


@dataclass
class Vendor:
    """One vendor's side of the sync: what to link, which step resolves it, what the fake saw."""

    harness: VendorHarness
    action_id: str
    link: dict[str, Any]  # the tickets.create field (alert or incident) naming the item
    external_id: str
    vendor_calls: Callable[[], int]  # requests that changed the item at the vendor
    resolved: Callable[[], bool]  # the item as the vendor shows it now
    output: dict[str, Any]  # what the vendor step returns

    broker: Broker = field(init=False)
    relay: OutboxRelay = field(init=False)
    _keys: int = 0

    def __post_init__(self) -> None:
        catalog = Catalog()
        tickets.register(catalog)
        {"ninjaone": ninjaone, "levelio": levelio, "huntress": huntress}[
            self.harness.provider
        ].register(catalog)
        self.harness.catalog = catalog  # before the harness builds its pipeline
        self.broker = Broker(self.harness)
        self.relay = OutboxRelay(
            lambda: self.harness.store.engine, catalog.subscriptions, self.broker
        )

    def step(self, action: str, inp: dict[str, Any], key: str | None = None) -> Outcome:
        """Run ``tickets.<action>`` through the harness's pipeline."""
        self._keys += 1
        return self.harness.pipeline().execute(
            TaskRequest(
                key=key or f"run-1:step-{self._keys}:tickets.{action}",
                action_id=f"tickets.{action}",
                version=1,
                tenant_id=self.harness.tenant,
                input=inp,
                provider="core",
            )
        )

    def ok(self, action: str, inp: dict[str, Any], key: str | None = None) -> dict[str, Any]:
        return output_of(self.step(action, inp, key))

    def linked_ticket(self, *, sync_close: bool) -> str:
        field_name = "incident" if "incident_id" in self.link else "alert"
        out = self.ok(
            "create",
            {"title": "Linked", field_name: {**self.link, "sync_close": sync_close}},
        )
        ticket_id: str = out["ticket"]["ticket_id"]
        return ticket_id

    def close(self, ticket_id: str, key: str | None = None) -> dict[str, Any]:
        return self.ok("close", {"ticket_id": ticket_id, "resolution": "Fixed"}, key)

    def events(self) -> list[OutboxEvent]:
        with self.harness.store.sessions() as session:
            rows = list(session.scalars(select(OutboxEvent)))
            session.expunge_all()
            return rows

    def unpublish(self, event_id: uuid.UUID) -> None:
        """As if the relay died after enqueueing but before marking the event sent."""
        with self.harness.store.sessions.begin() as session:
            session.execute(
                update(OutboxEvent)
                .where(OutboxEvent.event_id == event_id)
                .values(published_at=None)
            )


def _ninjaone(h: NinjaHarness) -> Vendor:
    uid: str = h.demo["alert_uids"][0]
    return Vendor(
        harness=h,
        action_id="ninjaone.alerts.reset",
        link={"provider": "ninjaone", "alert_id": uid},
        external_id=uid,
        vendor_calls=lambda: sum(1 for r in h.fake.alert_resets if r.uid == uid),
        resolved=lambda: uid not in {a["uid"] for a in h.fake.active_alerts()},
        output={"acknowledged": True, "alert_id": uid},
    )


def _levelio(h: LevelHarness) -> Vendor:
    alert: str = h.seed["alert_ids"][0]
    return Vendor(
        harness=h,
        action_id="levelio.alerts.resolve",
        link={"provider": "levelio", "alert_id": alert},
        external_id=alert,
        vendor_calls=lambda: len(
            [r for r in h.fake.calls("POST", f"/v2/alerts/{alert}/resolve") if not r.fault]
        ),
        resolved=lambda: h.alert_resolved(alert),
        output={"resolved": True, "alert_id": alert},
    )


def _huntress(h: HuntressHarness) -> Vendor:
    incident: int = h.seed["resolvable_incident_id"]
    return Vendor(
        harness=h,
        action_id="huntress.incidents.resolve",
        link={"incident_id": incident},
        external_id=str(incident),
        vendor_calls=lambda: h.acted("POST", f"/v1/incident_reports/{incident}/resolution"),
        resolved=lambda: h.report(incident)["status"] == "closed",
        output={
            "resolved": True,
            "incident_id": incident,
            "status": "closed",
            "remediations_approved": False,
        },
    )


BUILD: dict[str, Callable[[Any], Vendor]] = {
    "ninjaone": _ninjaone,
    "levelio": _levelio,
    "huntress": _huntress,
}
FIXTURE = {"ninjaone": "ninja", "levelio": "level", "huntress": "hunt"}


@pytest.fixture(params=sorted(BUILD))
def vendor(request: pytest.FixtureRequest, store: Store) -> Vendor:
    """A tenant connected to one vendor's fake, its pipeline also running the ticket steps.

    (``store`` is named so that the test runs on both backends: the vendor's
    fixture, looked up by name, uses it.)
    """
    provider = str(request.param)
    return BUILD[provider](request.getfixturevalue(FIXTURE[provider]))


def test_a_closed_synced_ticket_resolves_the_vendor_item_once(vendor: Vendor) -> None:
    ticket_id = vendor.linked_ticket(sync_close=True)
    closed = vendor.close(ticket_id)
    assert [s["external_id"] for s in closed["vendor_syncs"]] == [vendor.external_id]
    assert vendor.vendor_calls() == 0  # the close itself calls no vendor
    [event] = vendor.events()
    assert event.event_type == ticket_link_closed(vendor.harness.provider)

    relayed = vendor.relay.relay_once()
    assert [r.event_id for r in relayed] == [str(event.event_id)]
    [task] = vendor.broker.sent
    assert task.key == f"outbox:{event.event_id}:{vendor.action_id}"
    assert task.action_id == vendor.action_id
    assert task.tenant_id == vendor.harness.tenant
    assert task.provider == vendor.harness.provider

    assert output_of(vendor.broker.deliver(task)) == vendor.output
    assert vendor.vendor_calls() == 1
    assert vendor.resolved()

    # The message delivered again: answered from the ledger, the vendor is not asked again.
    again = vendor.broker.deliver(task)
    assert isinstance(again, Finished)
    assert again.replayed
    assert output_of(again) == vendor.output
    # The relay sends the event again (it died before marking it sent): same key, no call.
    assert vendor.relay.relay_once() == []
    vendor.unpublish(event.event_id)
    vendor.relay.relay_once()
    assert [t.key for t in vendor.broker.sent] == [task.key, task.key]
    assert output_of(vendor.broker.deliver(vendor.broker.sent[1])) == vendor.output
    assert vendor.vendor_calls() == 1


def test_closing_again_reaches_the_vendor_no_second_time(vendor: Vendor) -> None:
    ticket_id = vendor.linked_ticket(sync_close=True)
    first = vendor.close(ticket_id, key="close-1")
    assert vendor.close(ticket_id, key="close-1") == first  # the same step: from the ledger
    second = vendor.close(ticket_id, key="close-2")  # another step closing it again
    assert second["already_closed"] is True
    assert second["vendor_syncs"] == []
    assert len(vendor.events()) == 1

    vendor.relay.relay_once()
    assert vendor.relay.relay_once() == []
    assert len(vendor.broker.sent) == 1
    for task in vendor.broker.sent:
        output_of(vendor.broker.deliver(task))
    assert vendor.vendor_calls() == 1


def test_a_link_without_sync_close_reaches_no_vendor(vendor: Vendor) -> None:
    ticket_id = vendor.linked_ticket(sync_close=False)
    out = vendor.close(ticket_id)
    assert out["vendor_syncs"] == []
    assert vendor.events() == []
    assert vendor.relay.relay_once() == []
    assert vendor.broker.sent == []
    assert vendor.vendor_calls() == 0
    assert not vendor.resolved()


def test_a_storm_ticket_resolves_each_of_its_synced_alerts_once(ninja: NinjaHarness) -> None:
    """One ticket collected two alerts (dedupe); closing it resets both, each once."""
    vendor = _ninjaone(ninja)
    uids: list[str] = ninja.demo["alert_uids"][:2]
    for uid in uids:
        vendor.ok(
            "create",
            {
                "title": "Storm",
                "dedupe_key": "storm",
                "alert": {"provider": "ninjaone", "alert_id": uid, "sync_close": True},
            },
        )
    [ticket] = vendor.ok("find", {"dedupe_key": "storm"})["tickets"]
    vendor.close(ticket["ticket_id"])
    assert len(vendor.relay.relay_once()) == 2
    for task in vendor.broker.sent:
        output_of(vendor.broker.deliver(task))
        output_of(vendor.broker.deliver(task))
    assert sorted(r.uid for r in ninja.fake.alert_resets) == sorted(uids)
