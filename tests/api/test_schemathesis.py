"""The API keeps the contract its ``/openapi.json`` states: schemathesis against the server.

For every operation (``/v1`` and the vendors' inbound endpoints), with an
admin token and with none, valid and invalid
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
    "GET /v1/connections",
    "GET /v1/connections/{provider}",
    "PUT /v1/connections/{provider}",
    "DELETE /v1/connections/{provider}",
}
# The vendors' inbound endpoints: signed by the vendor, not by an API token.
INBOUND = {
    "POST /inbound/teams/{tenant}/messages",
    "POST /inbound/levelio/{tenant}/webhooks",
}


# What refuses a request (schemathesis's default list, plus 413: too large to read).
REJECTED = ["400", "401", "403", "404", "405", "406", "409", "413", "415", "422", "428", "429"]


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
                },
                {
                    # A connect is checked past its schema (the URL's host, the vendor's
                    # settings and secrets); secrets of the longest allowed size can add up
                    # to more than the body limit: 413, before anything is read.
                    "include-method": "PUT",
                    "include-path": "/v1/connections/{provider}",
                    "checks": {
                        "positive_data_acceptance": {
                            "expected-statuses": ["2xx", "401", "403", "404", "409", "413", "422"]
                        },
                        "negative_data_rejection": {"expected-statuses": REJECTED},
                    },
                },
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
        if operation.label == "PUT /v1/connections/{provider}" and isinstance(case.body, dict):
            # A generated connect never reaches a real vendor's host from CI.
            case.body["check"] = False
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
    operations = [r.ok() for r in results if isinstance(r, Ok)]
    assert {op.label for op in operations} == V1 | INBOUND
    headers = {"Authorization": f"Bearer {api.token(TENANT, 'admin')}"} if authenticated else {}

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

    # Every operation was called, and the token made a difference (not to a vendor's
    # endpoint: nothing generated carries the vendor's signature).
    assert set(seen) == V1 | INBOUND
    assert all(s in (401, 404, 413, 422) for label in INBOUND for s in seen[label]), seen
    assert all(sum(statuses.values()) >= MAX_EXAMPLES for statuses in seen.values()), seen
    succeeded = {label for label, statuses in seen.items() if any(s < 300 for s in statuses)}
    if authenticated:
        assert succeeded >= {
            "GET /v1/catalog",
            "GET /v1/actions",
            "GET /v1/invocations",
            "GET /v1/connections",
        }, seen
        assert not succeeded & INBOUND, seen
    else:
        assert succeeded == set(), seen
        assert all(401 in seen[label] for label in V1), seen
