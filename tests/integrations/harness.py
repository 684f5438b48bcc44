"""The shared test harness for an integration package: a connected tenant, its fake, the pipeline.

A vendor's ``conftest.py`` builds one ``VendorHarness`` (or a subclass adding
the vendor's own helpers) around its in-process fake, and its tests say
``harness.ok("devices.find", {...})`` or ``harness.error(...)``. Time is one
manual clock shared by the fake and the pipeline (token expiry, waits and
ledger times are exact); the throttle never sleeps; retries are not jittered.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from typing import Any, Self

import httpx
from pydantic import SecretStr

from catalog.registration import Catalog
from executor.pipeline import Finished, Outcome, Pipeline, Rejected
from executor.settings import Settings
from executor.throttle import MemoryThrottle, Throttle
from executor.wire import TaskRequest
from sandbox.core import ManualClock
from store import Store
from store import connections as conn
from store.models import WorkflowActionInvocation
from store.tenants import create_tenant
from tests.executor.conftest import DateClock


@dataclass
class VendorHarness:
    """One tenant connected to ``provider``, whose requests go to ``transport`` (the fake)."""

    store: Store
    settings: Settings
    catalog: Catalog
    provider: str
    tenant: str
    transport: httpx.BaseTransport
    fake_clock: ManualClock = field(default_factory=ManualClock)
    clock: DateClock = field(init=False)
    run_id: str = "run-1"
    _keys: itertools.count[int] = field(default_factory=itertools.count)
    _pipeline: Pipeline | None = None

    def __post_init__(self) -> None:
        self.clock = DateClock(self.fake_clock)

    @property
    def now(self) -> float:
        """Epoch seconds of the shared clock."""
        return self.clock().timestamp()

    # -- the tenant's connection -----------------------------------------------------

    def connect(
        self,
        instance_url: str | None,
        secrets: dict[str, str],
        *,
        create: bool = True,
        kind: conn.ConnectionKind = "rmm",
    ) -> None:
        """What ``patchbay connect <provider> --tenant T --url ... --secret ...`` stores."""
        with self.store.sessions.begin() as session:
            if create:
                create_tenant(session, self.tenant)
            conn.connect(session, self.tenant, self.provider, instance_url=instance_url, kind=kind)
            for name, value in secrets.items():
                self.store.secrets.database.set_in(session, self.tenant, name, SecretStr(value))

    def secret(self, name: str) -> str | None:
        value = self.store.secrets.get(self.tenant, name)
        return None if value is None else value.get_secret_value()

    def set_secret(self, name: str, value: str) -> None:
        self.store.secrets.set(self.tenant, name, SecretStr(value))

    def delete_secret(self, name: str) -> None:
        self.store.secrets.delete(self.tenant, name)

    # -- running actions ------------------------------------------------------------

    def pipeline(self, transport: httpx.BaseTransport | None = None) -> Pipeline:
        """The harness's pipeline (one per test, as in a worker), or one on ``transport``."""
        if transport is None:
            if self._pipeline is None:
                self._pipeline = self.pipeline(self.transport)
            return self._pipeline
        return Pipeline(
            catalog=self.catalog,
            store=self.store,
            settings=self.settings,
            throttle=Throttle(MemoryThrottle(clock=self.fake_clock), {}, max_wait=0.0),
            transports={self.provider: transport},
            clock=self.clock,
            rng=lambda: 0.5,
        )

    def task(self, action: str, input: dict[str, Any], key: str | None = None) -> TaskRequest:
        """A delivery of ``<provider>.<action>`` with a fresh key unless one is given."""
        action_id = f"{self.provider}.{action}"
        return TaskRequest(
            key=key or f"{self.run_id}:step-{next(self._keys)}:{action_id}",
            action_id=action_id,
            version=1,
            tenant_id=self.tenant,
            input=input,
            run_id=self.run_id,
            step_path="root.steps[0]",
            provider=self.provider,
        )

    def run(self, action: str, input: dict[str, Any], key: str | None = None) -> Outcome:
        return self.pipeline().execute(self.task(action, input, key))

    def ok(self, action: str, input: dict[str, Any], key: str | None = None) -> dict[str, Any]:
        """Run and return the output of a step that must succeed."""
        return output_of(self.run(action, input, key))

    def ledger_texts(self) -> list[str]:
        """Every ledger row's stored input, outcome and wait state as JSON text (canary checks)."""
        with self.store.sessions() as session:
            return [
                json.dumps(
                    [r.input_json, r.output_json, r.error_json, r.error_message, r.wait_state],
                    default=str,
                )
                for r in session.query(WorkflowActionInvocation)
            ]

    def error(self, action: str, input: dict[str, Any], key: str | None = None) -> dict[str, Any]:
        """Run and return the error payload of a step that must fail."""
        return error_of(self.run(action, input, key))


@dataclass(kw_only=True)
class LoopbackHarness(VendorHarness):
    """The harness for a fake served on loopback: requests go over real HTTP.

    The pipeline has no in-process transport and the settings are in sandbox
    mode, so the client's own network transport, headers and URL handling are
    what the fake sees. ``url`` is the served fake's base URL.
    """

    url: str

    @classmethod
    def served(
        cls,
        url: str,
        *,
        store: Store,
        settings: Settings,
        catalog: Catalog,
        provider: str,
        tenant: str,
        fake_clock: ManualClock,
        **fields: Any,
    ) -> Self:
        """The harness for the fake served at ``url``, in sandbox mode (loopback allowed).

        Leases of 30 s and 3 attempts; ``fields``: the subclass's own (its fake, seed).
        """
        return cls(
            store=store,
            settings=settings.model_copy(
                update={"sandbox": True, "lease_seconds": 30.0, "max_attempts": 3}
            ),
            catalog=catalog,
            provider=provider,
            tenant=tenant,
            # Never used: the pipeline has no in-process transport (see ``pipeline``).
            transport=httpx.MockTransport(lambda request: httpx.Response(599)),
            fake_clock=fake_clock,
            url=url,
            **fields,
        )

    def pipeline(self, transport: httpx.BaseTransport | None = None) -> Pipeline:
        """A pipeline with no in-process transport: requests go over loopback HTTP."""
        if transport is not None:
            return super().pipeline(transport)
        if self._pipeline is None:
            self._pipeline = Pipeline(
                catalog=self.catalog,
                store=self.store,
                settings=self.settings,
                throttle=Throttle(MemoryThrottle(clock=self.fake_clock), {}, max_wait=0.0),
                transports={},
                clock=self.clock,
                rng=lambda: 0.5,
            )
        return self._pipeline

    def vendor_requests(self) -> list[Any]:
        """The fake's request log, as its ``/__sandbox/requests`` export shows it."""
        data: list[Any] = httpx.get(f"{self.url}/__sandbox/requests").json()["requests"]
        return data


def output_of(outcome: Outcome) -> dict[str, Any]:
    assert isinstance(outcome, Finished), outcome
    assert outcome.row.status == "SUCCEEDED", outcome.row.error
    assert outcome.row.output is not None
    return outcome.row.output


def error_of(outcome: Outcome) -> dict[str, Any]:
    assert isinstance(outcome, Finished), outcome
    assert outcome.row.status == "FAILED", outcome.row.output
    assert outcome.row.error is not None
    return outcome.row.error


def rejection_of(outcome: Outcome) -> dict[str, Any]:
    """The payload of a step refused before anything was recorded or sent."""
    assert isinstance(outcome, Rejected), outcome
    return outcome.payload
