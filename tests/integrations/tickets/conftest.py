"""Fixtures for the core ticket actions: two tenants, their users and an asset, one pipeline.

Every test runs on SQLite and on PostgreSQL (the ``store`` fixture). Steps go
through the real pipeline as ``core`` tasks, so validation, the ledger and
the error payloads are what a worker would produce.
"""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update

from catalog.registration import Catalog
from executor.pipeline import Finished, Outcome, Pipeline, Rejected
from executor.settings import Settings
from executor.throttle import MemoryThrottle, Throttle
from executor.wire import TaskRequest
from integrations import tickets
from store import Store
from store.models import (
    Asset,
    OutboxEvent,
    Ticket,
    TicketLink,
    TicketNote,
    User,
    WorkflowActionInvocation,
)
from store.tenants import create_tenant
from store.types import utcnow
from store.users import create_user

TENANT = "acme"
OTHER = "globex"


def tickets_catalog() -> Catalog:
    """A catalog with only the core ticket actions."""
    catalog = Catalog()
    tickets.register(catalog)
    return catalog


def make_pipeline(store: Store, settings: Settings, catalog: Catalog | None = None) -> Pipeline:
    """A pipeline as a worker has one (no vendor transports: ticket steps run on ``core``)."""
    return Pipeline(
        catalog=catalog or tickets_catalog(),
        store=store,
        settings=settings.model_copy(update={"retry_backoff": 0.01}),
        throttle=Throttle(MemoryThrottle(), {}),
        transports={},
    )


def core_task(action: str, inp: dict[str, Any], *, key: str, tenant: str = TENANT) -> TaskRequest:
    """One delivery of the core action ``tickets.<action>``."""
    return TaskRequest(
        key=key,
        action_id=f"tickets.{action}",
        version=1,
        tenant_id=tenant,
        input=inp,
        provider="core",
    )


def succeeded(outcome: Outcome) -> dict[str, Any]:
    assert isinstance(outcome, Finished), outcome
    assert outcome.row.status == "SUCCEEDED", outcome.row.error
    assert outcome.row.output is not None
    return outcome.row.output


def failed(outcome: Outcome) -> dict[str, Any]:
    """The error of a step refused up front (validation) or recorded FAILED."""
    if isinstance(outcome, Rejected):
        return outcome.payload
    assert isinstance(outcome, Finished), outcome
    assert outcome.row.status == "FAILED", outcome.row.output
    assert outcome.row.error is not None
    return outcome.row.error


@dataclass
class Desk:
    """Two tenants with users and an asset, and a pipeline running ticket steps for them."""

    store: Store
    pipeline: Pipeline
    tech: uuid.UUID
    inactive: uuid.UUID
    contact: uuid.UUID  # a user that is not internal (a client contact)
    asset: uuid.UUID
    other_tech: uuid.UUID
    other_asset: uuid.UUID
    _keys: itertools.count[int] = field(default_factory=itertools.count)

    def key(self, action: str) -> str:
        return f"run-1:step-{next(self._keys)}:tickets.{action}"

    def run(
        self, action: str, inp: dict[str, Any], *, key: str | None = None, tenant: str = TENANT
    ) -> Outcome:
        return self.pipeline.execute(
            core_task(action, inp, key=key or self.key(action), tenant=tenant)
        )

    def ok(
        self, action: str, inp: dict[str, Any], *, key: str | None = None, tenant: str = TENANT
    ) -> dict[str, Any]:
        """The output of a step that must succeed."""
        return succeeded(self.run(action, inp, key=key, tenant=tenant))

    def error(
        self, action: str, inp: dict[str, Any], *, key: str | None = None, tenant: str = TENANT
    ) -> dict[str, Any]:
        """The error payload of a step that must fail."""
        return failed(self.run(action, inp, key=key, tenant=tenant))

    def create(self, title: str = "Disk full on SRV-DC01", **extra: Any) -> dict[str, Any]:
        """A ticket created by a step that must succeed (its ``ticket`` view)."""
        out = self.ok("create", {"title": title, **extra})
        ticket: dict[str, Any] = out["ticket"]
        return ticket

    def forget_success(self, key: str) -> None:
        """Make the step look like its worker died after the handler committed.

        The ledger row goes back to STARTED with an expired lease and no
        output: the next delivery runs the handler again under the same key.
        """
        with self.store.sessions.begin() as session:
            result = session.execute(
                update(WorkflowActionInvocation)
                .where(WorkflowActionInvocation.idempotency_key == key)
                .values(
                    status="STARTED",
                    completed_at=None,
                    output_json=None,
                    lease_expires_at=utcnow() - timedelta(hours=1),
                )
            )
            assert result.rowcount == 1  # type: ignore[attr-defined]

    def counts(self) -> dict[str, int]:
        """Rows of the ticket store (and the outbox), all tenants."""
        with self.store.sessions() as session:
            return {
                m.__tablename__: int(session.scalar(select(func.count()).select_from(m)) or 0)
                for m in (Ticket, TicketNote, TicketLink, OutboxEvent)
            }

    def ticket_row(self, ticket_id: str) -> Ticket:
        with self.store.sessions() as session:
            row = session.get(Ticket, (TENANT, uuid.UUID(ticket_id)))
            assert row is not None
            session.expunge(row)
            return row

    def notes(self, ticket_id: str) -> list[TicketNote]:
        with self.store.sessions() as session:
            rows = list(
                session.scalars(
                    select(TicketNote).where(TicketNote.ticket_id == uuid.UUID(ticket_id))
                )
            )
            session.expunge_all()
            return rows

    def events(self) -> list[OutboxEvent]:
        with self.store.sessions() as session:
            rows = list(session.scalars(select(OutboxEvent).order_by(OutboxEvent.created_at)))
            session.expunge_all()
            return rows


def seed_people(store: Store) -> dict[str, uuid.UUID]:
    """Users and assets of both tenants (the tenants must exist)."""
    with store.sessions.begin() as session:
        tech = create_user(session, TENANT, "adele", technician=True).user_id
        inactive = create_user(session, TENANT, "ivan", inactive=True).user_id
        contact = uuid.uuid4()
        session.add(User(tenant=TENANT, user_id=contact, username="carol", user_type="contact"))
        other_tech = create_user(session, OTHER, "olga", technician=True).user_id
        asset = uuid.uuid4()
        session.add(Asset(tenant=TENANT, asset_id=asset, name="SRV-DC01", asset_type="server"))
        other_asset = uuid.uuid4()
        session.add(Asset(tenant=OTHER, asset_id=other_asset, name="GLX-01"))
    return {
        "tech": tech,
        "inactive": inactive,
        "contact": contact,
        "asset": asset,
        "other_tech": other_tech,
        "other_asset": other_asset,
    }


@pytest.fixture
def desk(store: Store, settings: Settings) -> Desk:
    with store.sessions.begin() as session:
        create_tenant(session, TENANT)
        create_tenant(session, OTHER)
    people = seed_people(store)
    return Desk(
        store=store,
        pipeline=make_pipeline(store, settings),
        tech=people["tech"],
        inactive=people["inactive"],
        contact=people["contact"],
        asset=people["asset"],
        other_tech=people["other_tech"],
        other_asset=people["other_asset"],
    )
