"""The API keeps the contract its ``/openapi.json`` states: schemathesis against the server.

For every ``/v1`` operation, with a run-scope token and with none, valid and invalid
requests as generated from the schema: no 5xx, every status documented, every body
matching its documented schema (errors: ``ErrorPayload``), and schemathesis's other
default checks (auth enforced, invalid data rejected, ...). Bounded: a fixed number of
examples per operation and mode, derandomized, no shrinking, so a run is repeatable and
takes seconds. The server runs its in-process worker: a generated step that is valid
runs for real (and ends quickly: no vendor is connected).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import APIOperation, Case, GenerationMode
from schemathesis.core.result import Ok

from tests.api.conftest import TENANT, ApiUnderTest

MAX_EXAMPLES = 20
V1 = {
    "GET /v1/catalog",
    "GET /v1/palette",
    "GET /v1/actions",
    "GET /v1/actions/{action_id}",
    "POST /v1/steps",
    "GET /v1/steps/{key}",
    "GET /v1/invocations",
}


def config() -> schemathesis.Config:
    """Default checks; except that a step's input is validated by its action's own schema.

    The request body's schema says ``input`` is an object: which object depends on the
    action named beside it, so a body valid by the schema may still be 422.
    """
    return schemathesis.Config.from_dict(
        {
            "operations": [
                {
                    "include-method": "POST",
                    "include-path": "/v1/steps",
                    "checks": {
                        "positive_data_acceptance": {
                            "expected-statuses": ["2xx", "401", "403", "404", "409", "422"]
                        }
                    },
                }
            ]
        }
    )


def exercise(
    operation: APIOperation[Any, Any, Any, Any],
    mode: GenerationMode,
    base_url: str,
    headers: dict[str, str],
) -> Counter[int]:
    """Run ``operation``'s generated cases in ``mode``; the statuses answered."""
    statuses: Counter[int] = Counter()

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=MAX_EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def conforms(case: Case[Any]) -> None:
        response = case.call_and_validate(base_url=base_url, headers=headers, timeout=30)
        statuses[response.status_code] += 1

    conforms()
    return statuses


@pytest.mark.parametrize("authenticated", [True, False], ids=["token", "no-token"])
def test_every_operation_keeps_the_documented_contract(
    api: ApiUnderTest, authenticated: bool
) -> None:
    schema = schemathesis.openapi.from_url(f"{api.base_url}/openapi.json", config=config())
    results = list(schema.get_all_operations())
    assert all(isinstance(r, Ok) for r in results), results
    # The vendors' inbound endpoints (api.inbound) have their own tests.
    operations = [
        op for op in (r.ok() for r in results if isinstance(r, Ok)) if op.path.startswith("/v1/")
    ]
    assert {op.label for op in operations} == V1
    headers = {"Authorization": f"Bearer {api.token(TENANT, 'run')}"} if authenticated else {}

    failures: list[str] = []
    seen: dict[str, Counter[int]] = {}
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            try:
                statuses = exercise(operation, mode, api.base_url, headers)
            # Every operation is tried and every failure reported (schemathesis raises its
            # findings as a BaseExceptionGroup).
            except (Exception, BaseExceptionGroup) as exc:
                failures.append(f"{operation.label} [{mode.value}]:\n{exc}")
                continue
            seen.setdefault(operation.label, Counter()).update(statuses)
    assert not failures, "\n\n".join(failures)

    # Every operation was called, and the token made a difference.
    assert set(seen) == V1
    assert all(sum(statuses.values()) >= MAX_EXAMPLES for statuses in seen.values()), seen
    succeeded = {label for label, statuses in seen.items() if any(s < 300 for s in statuses)}
    if authenticated:
        assert succeeded >= {"GET /v1/catalog", "GET /v1/actions", "GET /v1/invocations"}, seen
    else:
        assert succeeded == set(), seen
        assert all(401 in statuses for statuses in seen.values()), seen
