"""The outbox relay: unsent domain events become enqueue calls, and are marked sent after.

Runs on SQLite and PostgreSQL. The relay is given a recording enqueue function
(the shape of ``Executor.enqueue``); nothing here needs a broker.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from catalog.registration import Subscription
from executor.outbox import OutboxRelay
from store import Store
from store.models import OutboxEvent
from store.tenants import create_tenant

TENANT = "acme"
OTHER = "globex"
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)

SUBSCRIPTIONS: dict[str, list[Subscription]] = {
    "ENTRY_CREATED": [
        Subscription("ENTRY_CREATED", "calendar.sync", lambda p: {"entry_id": p["entry"]}),
        Subscription("ENTRY_CREATED", "tickets.note", lambda p: {"text": f"entry {p['entry']}"}),
    ],
    "TICKET_CLOSED": [
        Subscription("TICKET_CLOSED", "tickets.survey", lambda p: {"ticket": p["ticket"]}),
    ],
}


class EnqueueRefused(Exception):
    """What the broker raising on a publish looks like to the relay."""


@dataclass
class Call:
    action_id: str
    tenant_id: str
    input: dict[str, Any]
    idempotency_key: str
    sent_before: bool  # whether the event was already marked sent when it was enqueued


@dataclass
class RecordingEnqueue:
    """``Executor.enqueue`` as the relay calls it; refuses the actions in ``refuse``."""

    store: Store
    calls: list[Call] = field(default_factory=list)
    refuse: set[str] = field(default_factory=set)

    def __call__(
        self, action_id: str, *, tenant_id: str, input: dict[str, Any], idempotency_key: str
    ) -> str:
        if action_id in self.refuse:
            raise EnqueueRefused(action_id)
        event_id = uuid.UUID(idempotency_key.split(":")[1])
        self.calls.append(
            Call(action_id, tenant_id, input, idempotency_key, published(self.store, event_id))
        )
        return f"handle:{idempotency_key}"

    def idempotency_keys(self) -> list[str]:
        return [c.idempotency_key for c in self.calls]


def published(store: Store, event_id: uuid.UUID) -> bool:
    """Whether the event is marked sent, as another connection sees it now."""
    with store.engine.connect() as conn:
        sent = conn.execute(
            select(OutboxEvent.published_at).where(OutboxEvent.event_id == event_id)
        ).scalar_one()
    return sent is not None


# The one place that builds a relay: the constructor is about to change.
def make_relay(store: Store, enqueue: RecordingEnqueue, *, batch: int = 100) -> OutboxRelay:
    return OutboxRelay(lambda: store.engine, SUBSCRIPTIONS, enqueue, batch=batch)


@pytest.fixture
def tenants(store: Store) -> Store:
    with store.sessions.begin() as session:
        create_tenant(session, TENANT)
        create_tenant(session, OTHER)
    return store


@pytest.fixture
def enqueue(tenants: Store) -> RecordingEnqueue:
    return RecordingEnqueue(tenants)


AddEvent = Callable[..., uuid.UUID]


@pytest.fixture
def add_event(tenants: Store) -> AddEvent:
    def add(
        event_type: str, payload: dict[str, Any], *, minute: int, tenant: str = TENANT
    ) -> uuid.UUID:
        event_id = uuid.uuid4()
        with tenants.sessions.begin() as session:
            session.add(
                OutboxEvent(
                    tenant=tenant,
                    event_id=event_id,
                    event_type=event_type,
                    payload=payload,
                    created_at=T0 + timedelta(minutes=minute),
                )
            )
        return event_id

    return add


def state(store: Store, event_id: uuid.UUID) -> tuple[bool, int]:
    """(marked sent, publish attempts) of the event."""
    with store.sessions() as session:
        row = session.scalars(select(OutboxEvent).where(OutboxEvent.event_id == event_id)).one()
        return row.published_at is not None, row.publish_attempts


def test_each_subscription_of_an_event_becomes_one_enqueue_keyed_by_the_event(
    tenants: Store, enqueue: RecordingEnqueue, add_event: AddEvent
) -> None:
    event = add_event("ENTRY_CREATED", {"entry": "e-1"}, minute=0)
    relayed = make_relay(tenants, enqueue).relay_once()

    assert [(c.action_id, c.tenant_id, c.input, c.idempotency_key) for c in enqueue.calls] == [
        ("calendar.sync", TENANT, {"entry_id": "e-1"}, f"outbox:{event}:calendar.sync"),
        ("tickets.note", TENANT, {"text": "entry e-1"}, f"outbox:{event}:tickets.note"),
    ]
    assert [(r.event_id, r.event_type, r.tenant_id) for r in relayed] == [
        (str(event), "ENTRY_CREATED", TENANT)
    ]
    assert relayed[0].handles == [f"handle:{key}" for key in enqueue.idempotency_keys()]
    assert state(tenants, event) == (True, 1)


def test_an_event_is_marked_sent_only_after_its_steps_were_enqueued(
    tenants: Store, enqueue: RecordingEnqueue, add_event: AddEvent
) -> None:
    add_event("ENTRY_CREATED", {"entry": "e-1"}, minute=0)
    make_relay(tenants, enqueue).relay_once()
    assert len(enqueue.calls) == 2
    assert [c.sent_before for c in enqueue.calls] == [False, False]


def test_a_sent_event_is_not_sent_again(
    tenants: Store, enqueue: RecordingEnqueue, add_event: AddEvent
) -> None:
    add_event("ENTRY_CREATED", {"entry": "e-1"}, minute=0)
    relay = make_relay(tenants, enqueue)
    relay.relay_once()
    assert relay.relay_once() == []
    assert len(enqueue.calls) == 2


def test_a_failing_enqueue_leaves_the_event_for_the_next_pass_under_the_same_keys(
    tenants: Store, enqueue: RecordingEnqueue, add_event: AddEvent
) -> None:
    event = add_event("ENTRY_CREATED", {"entry": "e-1"}, minute=0)
    relay = make_relay(tenants, enqueue)
    enqueue.refuse = {"tickets.note"}  # the second of the event's two steps
    with pytest.raises(EnqueueRefused):
        relay.relay_once()
    assert state(tenants, event) == (False, 0)
    assert enqueue.idempotency_keys() == [f"outbox:{event}:calendar.sync"]

    enqueue.refuse = set()
    relayed = relay.relay_once()
    assert [r.event_id for r in relayed] == [str(event)]
    # The first step goes out again with its key: the ledger makes the repeat a replay.
    assert enqueue.idempotency_keys() == [
        f"outbox:{event}:calendar.sync",
        f"outbox:{event}:calendar.sync",
        f"outbox:{event}:tickets.note",
    ]
    assert state(tenants, event) == (True, 1)


def test_a_failure_leaves_the_rest_of_the_batch_unsent_too(
    tenants: Store, enqueue: RecordingEnqueue, add_event: AddEvent
) -> None:
    """The batch is one transaction: events already relayed in it are sent again (same keys)."""
    first = add_event("TICKET_CLOSED", {"ticket": "t-1"}, minute=0)
    second = add_event("ENTRY_CREATED", {"entry": "e-1"}, minute=1)
    relay = make_relay(tenants, enqueue)
    enqueue.refuse = {"calendar.sync"}
    with pytest.raises(EnqueueRefused):
        relay.relay_once()
    assert state(tenants, first) == (False, 0)
    assert state(tenants, second) == (False, 0)

    enqueue.refuse = set()
    assert [r.event_id for r in relay.relay_once()] == [str(first), str(second)]
    assert enqueue.idempotency_keys().count(f"outbox:{first}:tickets.survey") == 2


def test_events_are_relayed_oldest_first_across_tenants(
    tenants: Store, enqueue: RecordingEnqueue, add_event: AddEvent
) -> None:
    late = add_event("TICKET_CLOSED", {"ticket": "t-late"}, minute=5)
    early = add_event("TICKET_CLOSED", {"ticket": "t-early"}, minute=1, tenant=OTHER)
    middle = add_event("TICKET_CLOSED", {"ticket": "t-middle"}, minute=3)
    relayed = make_relay(tenants, enqueue).relay_once()
    assert [r.event_id for r in relayed] == [str(early), str(middle), str(late)]
    assert [(c.tenant_id, c.input["ticket"]) for c in enqueue.calls] == [
        (OTHER, "t-early"),
        (TENANT, "t-middle"),
        (TENANT, "t-late"),
    ]


def test_one_pass_relays_at_most_a_batch_the_oldest_first(
    tenants: Store, enqueue: RecordingEnqueue, add_event: AddEvent
) -> None:
    events = [add_event("TICKET_CLOSED", {"ticket": f"t-{i}"}, minute=i) for i in range(5)]
    relay = make_relay(tenants, enqueue, batch=2)
    assert [r.event_id for r in relay.relay_once()] == [str(e) for e in events[:2]]
    assert [r.event_id for r in relay.relay_once()] == [str(e) for e in events[2:4]]
    assert [r.event_id for r in relay.relay_once()] == [str(events[4])]
    assert relay.relay_once() == []


def test_an_event_nobody_subscribes_to_is_marked_sent_with_no_steps(
    tenants: Store, enqueue: RecordingEnqueue, add_event: AddEvent
) -> None:
    event = add_event("SOMETHING_ELSE", {}, minute=0)
    relayed = make_relay(tenants, enqueue).relay_once()
    assert [(r.event_id, r.handles) for r in relayed] == [(str(event), [])]
    assert enqueue.calls == []
    assert state(tenants, event) == (True, 1)
