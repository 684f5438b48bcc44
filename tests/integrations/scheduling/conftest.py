"""Fixtures for the scheduling actions: users, technicians, a ticket, a fake Microsoft 365."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from catalog.registration import Catalog
from executor.pipeline import Finished, Pipeline, Rejected
from executor.settings import Settings
from executor.throttle import MemoryThrottle, Throttle
from executor.wire import TaskRequest
from integrations import scheduling
from sandbox.microsoft import FakeMicrosoft
from store import Store
from store.calendars import connect_calendar
from store.models import ProjectTask, Ticket
from store.tenants import create_tenant
from store.users import create_user

TENANT = "acme"
OTHER = "globex"
T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
GRAPH_SECRET = "graph-CANARY-secret-5e1f"


@dataclass
class People:
    tech1: uuid.UUID
    tech2: uuid.UUID
    dispatcher: uuid.UUID  # internal user without the technician role
    inactive: uuid.UUID
    other_tenant_tech: uuid.UUID
    ticket: uuid.UUID
    task: uuid.UUID
    other_ticket: uuid.UUID


def scheduling_catalog() -> Catalog:
    catalog = Catalog()
    scheduling.register(catalog)
    return catalog


@pytest.fixture
def people(store: Store) -> People:
    with store.sessions.begin() as session:
        create_tenant(session, TENANT)
        create_tenant(session, OTHER)
        tech1 = create_user(session, TENANT, "adele", technician=True).user_id
        tech2 = create_user(session, TENANT, "alex", technician=True).user_id
        dispatcher = create_user(session, TENANT, "dora").user_id
        inactive = create_user(session, TENANT, "ivan", technician=True, inactive=True).user_id
        other_tech = create_user(session, OTHER, "olga", technician=True).user_id
        ticket = uuid.uuid4()
        session.add(Ticket(tenant=TENANT, ticket_id=ticket, ticket_number="T-1", title="Disk full"))
        task = uuid.uuid4()
        session.add(ProjectTask(tenant=TENANT, task_id=task, task_name="Migrate"))
        other_ticket = uuid.uuid4()
        session.add(Ticket(tenant=OTHER, ticket_id=other_ticket, ticket_number="G-1", title="x"))
    return People(tech1, tech2, dispatcher, inactive, other_tech, ticket, task, other_ticket)


@dataclass
class Microsoft:
    fake: FakeMicrosoft
    aad_tenant: str
    upn1: str
    upn2: str


@pytest.fixture
def microsoft(store: Store, people: People) -> Microsoft:
    fake = FakeMicrosoft()
    fake.add_tenant("aad-acme", domains=("acme.example",))
    fake.add_app("aad-acme", "app-acme", GRAPH_SECRET)
    fake.add_user("u-adele", "adele@acme.example", tenant_id="aad-acme")
    fake.add_user("u-alex", "alex@acme.example", tenant_id="aad-acme")
    store.secrets.set(TENANT, "microsoft_client_id", "app-acme")
    store.secrets.set(TENANT, "microsoft_client_secret", GRAPH_SECRET)
    settings = {
        "aad_tenant": "aad-acme",
        "login_url": "https://login.microsoftonline.com",
        "graph_url": "https://graph.microsoft.com",
    }
    with store.sessions.begin() as session:
        connect_calendar(
            session,
            TENANT,
            people.tech1,
            provider="microsoft",
            account="adele@acme.example",
            settings=settings,
        )
        connect_calendar(
            session,
            TENANT,
            people.tech2,
            provider="microsoft",
            account="alex@acme.example",
            settings=settings,
        )
    return Microsoft(fake, "aad-acme", "adele@acme.example", "alex@acme.example")


def make_pipeline(store: Store, settings: Settings, fake: FakeMicrosoft | None = None) -> Pipeline:
    return Pipeline(
        catalog=scheduling_catalog(),
        store=store,
        settings=settings.model_copy(update={"retry_backoff": 0.01}),
        throttle=Throttle(MemoryThrottle(), {}),
        transports={"microsoft": fake.transport()} if fake else {},
    )


def entry_input(
    users: list[uuid.UUID], start: datetime = T0, hours: float = 1, **extra: object
) -> dict[str, object]:
    return {
        "assigned_user_ids": [str(u) for u in users],
        "title": "Replace disk",
        "window": {
            "start": start.isoformat(),
            "end": (start + timedelta(hours=hours)).isoformat(),
        },
        **extra,
    }


def run(
    pipeline: Pipeline, key: str, inp: dict[str, object], action: str = "scheduling.create_entry"
) -> Finished | Rejected:
    outcome = pipeline.execute(
        TaskRequest(
            key=key, action_id=action, version=1, tenant_id=TENANT, input=inp, provider="core"
        )
    )
    assert isinstance(outcome, Finished | Rejected), outcome
    return outcome
