"""Every Huntress action over real HTTP, through the executor, on a real worker process.

FakeHuntress is served on loopback on the real clock with its real sliding
window (60 requests per 60 s per account); the tenant is connected with
``patchbay connect huntress --url <server> --secret huntress_api_key=...
--secret huntress_api_secret=@file`` (checked with one ``GET /v1/account``);
``python -m patchbay worker`` consumes ``patchbay.huntress``
(``tests/e2e/deployment.py``), paced by the shared throttle under the
declared ``60/m``. Approve-then-resolve runs as one step.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from sandbox.core import RunningServer
from sandbox.huntress import FakeHuntress
from tests.e2e.deployment import Deployment, cli, deploy

TENANT = "acme-huntress"
API_KEY = "hk_e2e_CANARY_key_51c3"
API_SECRET = "hs_e2e_CANARY_secret_9a0f"


@dataclass
class Huntress:
    d: Deployment
    fake: FakeHuntress
    server: RunningServer
    seed: dict[str, Any]


@pytest.fixture(scope="module")
def huntress(postgres_schema: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Huntress]:
    tmp = tmp_path_factory.mktemp("huntress-http")
    fake = FakeHuntress()
    seed = fake.seed_demo()
    fake.add_key(seed["account_id"], kind="user", key=API_KEY, secret=API_SECRET)
    with contextlib.ExitStack() as cleanup:
        server = fake.serve()
        cleanup.callback(server.stop)
        secret_file = tmp / "api-secret"
        secret_file.write_text(API_SECRET + "\n")

        def connect() -> None:
            out = cli(
                "connect",
                "huntress",
                "--tenant",
                TENANT,
                "--url",
                server.base_url,
                "--secret",
                f"huntress_api_key={API_KEY}",
                "--secret",
                f"huntress_api_secret=@{secret_file}",
            )
            assert "connected huntress" in out
            assert "checked: " in out

        d = cleanup.enter_context(
            deploy(
                postgres_schema=postgres_schema,
                tmp=tmp,
                tenant=TENANT,
                provider="huntress",
                connect=connect,
            )
        )
        yield Huntress(d, fake, server, seed)


def test_every_read_action_over_http_on_a_real_worker(huntress: Huntress) -> None:
    d, seed = huntress.d, huntress.seed
    incident = seed["resolvable_incident_id"]
    reads: dict[str, dict[str, Any]] = {
        "account.get": {},
        "organizations.list": {},
        "agents.get": {"agent_id": seed["agent_ids"][0]},
        "incidents.find": {"limit": 15},
        "incidents.get": {"incident_id": incident},
        "remediations.list": {"incident_id": seed["pending_incident_id"]},
    }
    handles = {action: d.enqueue(action, args, f"root.{action}") for action, args in reads.items()}
    out = {action: d.succeeded(d.wait(handle)) for action, handle in handles.items()}
    assert out["account.get"]["account_id"] == seed["account_id"]
    assert out["organizations.list"]["count"] == len(seed["organization_ids"])
    assert out["agents.get"]["agent"]["agent_id"] == seed["agent_ids"][0]
    assert out["incidents.find"]["count"] == len(seed["incident_report_ids"])  # two pages
    assert out["incidents.get"]["incident"]["incident_id"] == incident
    statuses = [r["status"] for r in out["remediations.list"]["remediations"]]
    assert statuses.count("unapproved") == 2
    assert huntress.fake.refused_count(seed["account_id"]) == 0


def test_approve_then_resolve_in_one_step_and_reject(huntress: Huntress) -> None:
    d, fake, seed = huntress.d, huntress.fake, huntress.seed
    pending = seed["pending_incident_id"]
    resolved = d.succeeded(
        d.run(
            "incidents.resolve",
            {"incident_id": pending, "approve_remediations": True},
            "approve-resolve",
        )
    )
    assert (resolved["status"], resolved["remediations_approved"]) == ("closed", True)
    assert len(fake.calls("POST", f"/v1/incident_reports/{pending}/resolution")) == 1
    plain = d.succeeded(
        d.run("incidents.resolve", {"incident_id": seed["resolvable_incident_id"]}, "resolve")
    )
    assert plain["status"] == "closed"
    refused = d.run("incidents.resolve", {"incident_id": seed["unsent_incident_id"]}, "unsent")
    assert refused.error is not None and refused.error["code"] == "CONFLICT"

    report = fake.add_incident_report(seed["agent_ids"][1])
    fake.add_remediation(report.id)
    approved = d.succeeded(d.run("remediations.approve", {"incident_id": report.id}, "approve"))
    assert approved["approved"] is True
    second = fake.add_incident_report(seed["agent_ids"][1])
    fake.add_remediation(second.id)
    d.succeeded(
        d.run(
            "remediations.reject",
            {"incident_id": second.id, "comment": "not on this host", "useful": False},
            "reject",
        )
    )
    assert fake.rejections(second.id)
    assert fake.refused_count(seed["account_id"]) == 0
    d.assert_nowhere([API_KEY, API_SECRET])
