"""Every worker process sees a tenant's connection or secret change on its very next step.

Each worker process (each prefork child) remembers a tenant's connection row and
secrets while the tenant's configuration version stands (``executor.tenant_cache``).
Here two prefork workers of two children each are warmed with steps, then the
tenant is disconnected, its key rotated: no step after a change may run with
what a process remembered from before it.
"""

from __future__ import annotations

from pydantic import SecretStr
from sqlalchemy import update

from store.models import RmmIntegration
from tests.e2e.conftest import Cluster
from tests.executor.conftest import CANARY_KEY, TENANT
from tests.executor.widgets_integration import SECRET

CREATE = "widgets.widgets.create"
STEPS = 12


def run_batch(cluster: Cluster, name: str) -> list[tuple[str, str | None]]:
    """``STEPS`` creates at once over the workers; each one's status and error code."""
    handles = [
        cluster.executor.enqueue(
            CREATE, tenant_id=TENANT, input={"name": f"{name}-{i}"}, idempotency_key=f"{name}-{i}"
        )
        for i in range(STEPS)
    ]
    results = [h.wait(timeout=120) for h in handles]
    return [(r.status, r.error["code"] if r.error else None) for r in results]


def test_a_disconnect_and_a_rotated_key_reach_every_worker_process(cluster: Cluster) -> None:
    cluster.start_workers("w1", "w2", pool="prefork", concurrency=2)
    assert set(run_batch(cluster, "warm")) == {("SUCCEEDED", None)}
    created = cluster.fake.count("POST", "/v1/widgets")

    with cluster.store.sessions.begin() as session:
        session.execute(
            update(RmmIntegration).where(RmmIntegration.tenant == TENANT).values(is_active=False)
        )
    assert set(run_batch(cluster, "disconnected")) == {("FAILED", "INTEGRATION_INACTIVE")}
    assert cluster.fake.count("POST", "/v1/widgets") == created

    with cluster.store.sessions.begin() as session:
        session.execute(
            update(RmmIntegration).where(RmmIntegration.tenant == TENANT).values(is_active=True)
        )
    cluster.store.secrets.set(TENANT, SECRET, SecretStr("wk-revoked-key-not-valid"))
    rotated = run_batch(cluster, "rotated")
    assert all(status == "FAILED" for status, _ in rotated), rotated
    # Every one was sent with the new key, and refused for it.
    sent = cluster.fake.calls("POST", "/v1/widgets")[created:]
    assert len(sent) == STEPS
    assert {(r.status, r.headers["authorization"]) for r in sent} == {
        (401, "Bearer wk-revoked-key-not-valid")
    }

    cluster.store.secrets.set(TENANT, SECRET, SecretStr(CANARY_KEY))
    assert set(run_batch(cluster, "restored")) == {("SUCCEEDED", None)}
    restored = cluster.fake.calls("POST", "/v1/widgets")[created + STEPS :]
    assert {(r.status, r.headers["authorization"]) for r in restored} == {
        (201, f"Bearer {CANARY_KEY}")
    }
