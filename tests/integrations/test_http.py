"""The client base's status ladder: what an error answer proves about a mutating request.

Requests go to the in-process FakeWidgets; faults stand in for the vendor's
error answers.
"""

from __future__ import annotations

from typing import ClassVar

import pytest

from actionkit.errors import (
    ActionFailure,
    Conflict,
    NotFound,
    PermissionDenied,
    RateLimited,
    TransientFailure,
    VendorDetail,
    VendorError,
)
from actionkit.http import NOT_PROCESSED_STATUSES, VendorClient
from actionkit.outbound import HostRules, OutboundPolicy
from sandbox.core import Fault
from sandbox.widgets import FakeWidgets

KEY = "wk-ladder-key"
POLICY = OutboundPolicy(HostRules(known=("widgets.test",)))


class Widgets(VendorClient):
    vendor = "Widgets"

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {KEY}"}


class BusyWidgets(Widgets):
    """A vendor whose docs say a 503 means "not processed, try later"."""

    not_processed_statuses: ClassVar[frozenset[int]] = NOT_PROCESSED_STATUSES | {503}


@pytest.fixture
def fake() -> FakeWidgets:
    return FakeWidgets({KEY: "acct"})


def fail(
    fake: FakeWidgets,
    status: int,
    method: str = "POST",
    *,
    client_cls: type[Widgets] = Widgets,
    mutating: bool | None = None,
    headers: dict[str, str] | None = None,
) -> ActionFailure:
    fake.inject(Fault(status=status, body={"message": f"said {status}"}, headers=headers))
    with client_cls("https://widgets.test", policy=POLICY, transport=fake.transport()) as client:
        path = "/v1/widgets" if method == "POST" else "/v1/widgets/w_1"
        body = {"name": "x"} if method == "POST" else None
        with pytest.raises(ActionFailure) as raised:
            client.request(method, path, json=body, mutating=mutating)
    return raised.value


@pytest.mark.parametrize("status", [500, 501, 502, 503, 504, 507, 408, 425])
def test_a_mutating_request_answered_without_proof_has_an_unknown_outcome(
    fake: FakeWidgets, status: int
) -> None:
    error = fail(fake, status, headers={"Retry-After": "4"})
    assert isinstance(error, TransientFailure)
    assert error.outcome_known is False
    assert error.retryable is True
    assert error.code == "TRANSIENT_FAILURE"
    assert error.vendor == VendorDetail(status, f"said {status}")
    assert error.retry_after == 4
    assert "may have been carried out" in error.message
    assert fake.widgets_created() == []  # the fault answered; the client cannot know that


def test_a_mutating_request_answered_429_is_retryable_with_its_retry_after(
    fake: FakeWidgets,
) -> None:
    error = fail(fake, 429, headers={"Retry-After": "7"})
    assert isinstance(error, RateLimited)
    assert error.outcome_known is True
    assert error.retryable is True
    assert error.retry_after == 7
    assert error.vendor == VendorDetail(429, "said 429")


@pytest.mark.parametrize("status", [500, 502, 503, 504, 408, 425])
def test_a_read_only_request_answered_5xx_is_retryable_with_a_known_outcome(
    fake: FakeWidgets, status: int
) -> None:
    error = fail(fake, status, "GET")
    assert isinstance(error, TransientFailure)
    assert error.outcome_known is True
    assert error.retryable is True
    assert error.vendor == VendorDetail(status, f"said {status}")


def test_a_post_declared_not_mutating_keeps_the_read_only_ladder(fake: FakeWidgets) -> None:
    error = fail(fake, 500, mutating=False)
    assert isinstance(error, TransientFailure)
    assert error.outcome_known is True


def test_a_get_declared_mutating_gets_the_mutating_ladder(fake: FakeWidgets) -> None:
    error = fail(fake, 502, "GET", mutating=True)
    assert isinstance(error, TransientFailure)
    assert error.outcome_known is False


def test_a_status_the_vendor_documents_as_not_processed_is_retryable_and_known(
    fake: FakeWidgets,
) -> None:
    error = fail(fake, 503, client_cls=BusyWidgets, headers={"Retry-After": "2"})
    assert isinstance(error, TransientFailure)
    assert error.outcome_known is True
    assert error.retryable is True
    assert error.retry_after == 2
    # Only the declared status: a 500 from the same vendor still proves nothing.
    other = fail(fake, 500, client_cls=BusyWidgets)
    assert isinstance(other, TransientFailure)
    assert other.outcome_known is False


@pytest.mark.parametrize(
    ("status", "kind"),
    [(400, VendorError), (403, PermissionDenied), (404, NotFound), (409, Conflict)],
)
def test_a_4xx_refusal_of_a_mutating_request_is_definite(
    fake: FakeWidgets, status: int, kind: type[ActionFailure]
) -> None:
    error = fail(fake, status)
    assert isinstance(error, kind)
    assert error.outcome_known is True
    assert error.retryable is False
    assert error.vendor == VendorDetail(status, f"said {status}")


def test_a_connection_dropped_after_a_mutating_request_is_unknown_and_for_a_read_known(
    fake: FakeWidgets,
) -> None:
    with Widgets("https://widgets.test", policy=POLICY, transport=fake.transport()) as client:
        fake.inject(Fault(disconnect=True))
        with pytest.raises(TransientFailure) as post:
            client.request("POST", "/v1/widgets", json={"name": "x"})
        fake.inject(Fault(disconnect=True))
        with pytest.raises(TransientFailure) as get:
            client.request("GET", "/v1/widgets")
    assert post.value.outcome_known is False
    assert get.value.outcome_known is True
    assert len(fake.widgets_created()) == 1  # the vendor did act on the POST
