"""API fixtures: the app served over loopback around a real executor and its in-process worker.

``api`` is the full app (``create_app``) on the test's database with the
real catalog, an embedded Celery worker consuming every queue (``memory://``
broker), two tenants (``acme``, ``globex``) and a token of each scope for
each. Requests go over HTTP (``tests.api.support.served``), as ``patchbay
serve`` answers them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from api.app import create_app
from api.context import ApiContext
from executor.api import Executor
from executor.app import ExecutorRuntime
from executor.embedded import EmbeddedWorker
from executor.settings import Settings
from store.tenants import create_tenant
from store.tokens import SCOPES, create_token
from tests.api.support import served

TENANT = "acme"
OTHER_TENANT = "globex"
MAX_BODY = 64 * 1024


@dataclass
class ApiUnderTest:
    """The served API, its runtime and the tokens made for the test."""

    base_url: str
    runtime: ExecutorRuntime
    tokens: dict[tuple[str, str], str] = field(default_factory=dict)
    _clients: list[httpx.Client] = field(default_factory=list)

    def token(self, tenant: str = TENANT, scope: str = "run") -> str:
        return self.tokens[(tenant, scope)]

    def client(self, tenant: str = TENANT, scope: str = "run") -> httpx.Client:
        """A client sending ``tenant``'s ``scope`` token."""
        return self.raw_client({"Authorization": f"Bearer {self.token(tenant, scope)}"})

    def raw_client(self, headers: dict[str, str] | None = None) -> httpx.Client:
        """A client sending exactly ``headers`` (no token unless given)."""
        client = httpx.Client(base_url=self.base_url, headers=headers, timeout=60)
        self._clients.append(client)
        return client

    def close(self) -> None:
        for client in self._clients:
            client.close()


def purge(runtime: ExecutorRuntime, queues: list[str]) -> None:
    """Empty ``queues``: memory:// queues are process-wide, an earlier test may have left some."""
    with runtime.app.connection_for_write() as conn:
        channel: Any = conn.default_channel
        for queue in queues:
            channel.queue_purge(queue)


@pytest.fixture
def api(settings: Settings) -> Iterator[ApiUnderTest]:
    """The API served on loopback, its worker running, ``acme`` and ``globex`` with tokens."""
    runtime = ExecutorRuntime(settings)
    runtime.store.ensure_schema(settings)
    tokens: dict[tuple[str, str], str] = {}
    with runtime.store.sessions.begin() as session:
        for tenant in (TENANT, OTHER_TENANT):
            create_tenant(session, tenant)
            for scope in SCOPES:
                tokens[(tenant, scope)], _ = create_token(session, tenant, scope, f"{scope} token")
    worker = EmbeddedWorker(runtime.app)
    purge(runtime, worker.queues)
    worker.start()
    under_test: ApiUnderTest | None = None
    try:
        app = create_app(ApiContext(Executor(runtime), max_body_bytes=MAX_BODY))
        with served(app) as base_url:
            under_test = ApiUnderTest(base_url, runtime, tokens)
            yield under_test
    finally:
        if under_test is not None:
            under_test.close()
        worker.stop()
        purge(runtime, worker.queues)
        runtime.close()


PAYLOAD_KEYS = {"category", "code", "message", "retryable", "action_id", "step_path", "at"}


def assert_error(
    response: httpx.Response, status: int, code: str, *, field: str | None = None
) -> dict[str, Any]:
    """``response`` is the error payload with ``status`` and ``code`` (and names ``field``)."""
    from api.errors import ErrorPayload

    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body: dict[str, Any] = response.json()
    ErrorPayload.model_validate(body)
    assert PAYLOAD_KEYS <= set(body) <= PAYLOAD_KEYS | {"details", "retry_after", "vendor"}
    assert body["code"] == code
    assert (body["action_id"], body["step_path"]) == (None, None)
    if field is not None:
        assert body["details"]["field"] == field
    return body
