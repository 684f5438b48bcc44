"""The Huntress writes against FakeHuntress over loopback: resolve, approve, reject.

Each is exactly once in effect: a refusal ends the step with what stands in
the way (the report's status, its unapproved remediations), a 429 proves
nothing happened, and an answer that proves nothing (a 5xx, a dropped
connection) is settled by a read-back, never by sending the write again
blindly. Resolving with ``approve_remediations`` sends the approval (which
Huntress makes idempotent) and then the resolution, which reaches Huntress
once whatever fails in between.
"""

from __future__ import annotations

from typing import Any

import pytest

from executor.pipeline import Reschedule
from sandbox.core import Fault
from tests.integrations.huntress.conftest import HuntressHarness, error_of, output_of

REPORTS = "/v1/incident_reports"


def resolution(incident_id: int) -> str:
    return f"{REPORTS}/{incident_id}/resolution"


def approval(incident_id: int) -> str:
    return f"{REPORTS}/{incident_id}/remediations/bulk_approval"


def rejection(incident_id: int) -> str:
    return f"{REPORTS}/{incident_id}/remediations/bulk_rejection"


def unapproved(report: dict[str, Any]) -> int:
    return sum(1 for r in report["remediations"]["items"] if r["status"] == "unapproved")


# -- resolve ---------------------------------------------------------------------------------


def test_resolve_closes_a_sent_report_whose_remediations_are_approved(
    hunt: HuntressHarness,
) -> None:
    incident = hunt.seed["resolvable_incident_id"]
    out = hunt.ok("incidents.resolve", {"incident_id": incident})
    assert out == {
        "resolved": True,
        "incident_id": incident,
        "status": "closed",
        "remediations_approved": False,
    }
    [post] = hunt.fake.calls("POST")
    assert post.path == resolution(incident)
    assert post.body is None and "content-type" not in post.headers  # no body, as documented
    assert hunt.report(incident)["status"] == "closed"


def test_resolving_a_report_with_pending_remediations_is_a_conflict_naming_them(
    hunt: HuntressHarness,
) -> None:
    pending = hunt.seed["pending_incident_id"]
    error = hunt.error("incidents.resolve", {"incident_id": pending})
    assert error["code"] == "CONFLICT"
    assert error["vendor"]["status"] == 409
    assert "every remediation must be approved" in error["message"]
    assert 'the report status must be "sent"' in error["message"]
    assert "it is sent with 2 unapproved remediations" in error["message"]
    assert "approve_remediations: true" in error["message"]
    assert error["details"] == {
        "incident_id": pending,
        "status": "sent",
        "unapproved_remediations": 2,
    }
    assert hunt.acted("POST", resolution(pending)) == 1
    assert hunt.report(pending)["status"] == "sent"  # a refusal changed nothing


def test_resolving_a_report_that_is_not_sent_is_a_conflict_with_its_status(
    hunt: HuntressHarness,
) -> None:
    unsent = hunt.seed["unsent_incident_id"]
    error = hunt.error("incidents.resolve", {"incident_id": unsent})
    assert error["code"] == "CONFLICT"
    assert error["vendor"]["status"] == 422
    assert "it is closed with 0 unapproved remediations" in error["message"]
    assert error["details"]["status"] == "closed"
    assert "approve_remediations" not in error["message"]  # approving would not help


def test_the_unapproved_count_reads_past_the_ten_huntress_embeds(hunt: HuntressHarness) -> None:
    dc = hunt.seed["agent_ids"][0]
    report = hunt.fake.add_incident_report(dc)
    for _ in range(12):
        hunt.fake.add_remediation(report.id)
    error = hunt.error("incidents.resolve", {"incident_id": report.id})
    assert error["details"]["unapproved_remediations"] == 12
    [listed] = hunt.fake.calls("GET", f"{REPORTS}/{report.id}/remediations")
    assert listed.query["statuses[]"] == ["unapproved"]


def test_a_conflict_whose_state_cannot_be_read_is_still_a_conflict(hunt: HuntressHarness) -> None:
    pending = hunt.seed["pending_incident_id"]
    hunt.fake.inject(Fault(status=503), method="GET", path=f"{REPORTS}/{pending}")
    error = hunt.error("incidents.resolve", {"incident_id": pending})
    assert error["code"] == "CONFLICT"
    assert error["message"].endswith(
        "(409: Incident Report cannot be resolved. Confirm that all remediations are approved "
        "and report status is 'sent'.)"
    )
    assert "status" not in error["details"]


def test_resolve_with_approval_approves_then_resolves_in_one_step(hunt: HuntressHarness) -> None:
    pending = hunt.seed["pending_incident_id"]
    out = hunt.ok("incidents.resolve", {"incident_id": pending, "approve_remediations": True})
    assert out == {
        "resolved": True,
        "incident_id": pending,
        "status": "closed",
        "remediations_approved": True,
    }
    assert [(r.method, r.path) for r in hunt.fake.calls("POST")] == [
        ("POST", approval(pending)),
        ("POST", resolution(pending)),
    ]
    report = hunt.report(pending)
    assert report["status"] == "closed"
    assert unapproved(report) == 0


def test_resolve_with_approval_when_nothing_is_pending_still_resolves(
    hunt: HuntressHarness,
) -> None:
    incident = hunt.seed["resolvable_incident_id"]
    out = hunt.ok("incidents.resolve", {"incident_id": incident, "approve_remediations": True})
    assert out["status"] == "closed"
    assert hunt.fake.count("POST") == 2


def test_resolve_with_approval_of_a_closed_report_is_refused_by_the_approval(
    hunt: HuntressHarness,
) -> None:
    unsent = hunt.seed["unsent_incident_id"]
    error = hunt.error("incidents.resolve", {"incident_id": unsent, "approve_remediations": True})
    assert error["code"] == "CONFLICT"
    assert error["vendor"] == {
        "status": 409,
        "message": "Incident Report must have a status of 'sent'.",
    }
    assert error["details"]["status"] == "closed"
    assert hunt.fake.count("POST", resolution(unsent)) == 0  # the resolution was never sent


# -- failures between and after the two requests ----------------------------------------------


def test_a_429_on_the_resolution_after_the_approval_retries_and_resolves_once(
    hunt: HuntressHarness,
) -> None:
    pending = hunt.seed["pending_incident_id"]
    args = {"incident_id": pending, "approve_remediations": True}
    hunt.fake.inject(
        Fault(status=429, body={"error": "Too Many Requests"}), path=resolution(pending)
    )
    first = hunt.run("incidents.resolve", args, key="between")
    assert isinstance(first, Reschedule)
    assert first.countdown >= 60  # the window, not a guess
    assert hunt.acted("POST", approval(pending)) == 1
    assert hunt.acted("POST", resolution(pending)) == 0
    hunt.clock.advance(first.countdown)
    out = output_of(hunt.run("incidents.resolve", args, key="between"))
    assert out["status"] == "closed"
    assert hunt.acted("POST", approval(pending)) == 2  # sent again: it changes nothing now
    assert hunt.acted("POST", resolution(pending)) == 1


def test_a_resolution_dropped_before_huntress_acted_is_read_back_and_sent_once_more(
    hunt: HuntressHarness,
) -> None:
    pending = hunt.seed["pending_incident_id"]
    args = {"incident_id": pending, "approve_remediations": True}
    # The approval went through; the resolution's connection drops before Huntress acts.
    hunt.fake.inject(Fault(status=502, disconnect=True), path=resolution(pending))
    first = hunt.run("incidents.resolve", args, key="dropped")
    assert isinstance(first, Reschedule) and first.reason == "retry"  # read back: not closed
    assert hunt.report(pending)["status"] == "sent"
    assert unapproved(hunt.report(pending)) == 0
    hunt.clock.advance(first.countdown)
    out = output_of(hunt.run("incidents.resolve", args, key="dropped"))
    assert out["status"] == "closed"
    assert hunt.acted("POST", resolution(pending)) == 1
    assert hunt.fake.count("POST", resolution(pending)) == 2  # one dropped, one carried out


def test_an_approval_answered_500_after_huntress_acted_is_settled_and_resolved_once(
    hunt: HuntressHarness,
) -> None:
    pending = hunt.seed["pending_incident_id"]
    args = {"incident_id": pending, "approve_remediations": True}
    hunt.fake.inject(Fault(status=500, after=True), path=approval(pending))
    outcome = hunt.run_until_final("incidents.resolve", args, key="approval-500")
    assert output_of(outcome)["status"] == "closed"
    assert hunt.fake.count("POST", approval(pending)) == 2
    assert hunt.acted("POST", resolution(pending)) == 1


def test_a_resolution_answered_500_after_huntress_acted_is_settled_by_the_read_back(
    hunt: HuntressHarness,
) -> None:
    incident = hunt.seed["resolvable_incident_id"]
    hunt.fake.inject(Fault(status=500, after=True), path=resolution(incident))
    out = hunt.ok("incidents.resolve", {"incident_id": incident})
    assert out == {
        "resolved": True,
        "incident_id": incident,
        "status": "closed",
        "remediations_approved": False,
    }
    assert hunt.fake.count("POST", resolution(incident)) == 1  # never sent again
    assert hunt.fake.calls("GET")[-1].path == f"{REPORTS}/{incident}"  # the read-back


def test_a_resolution_whose_outcome_cannot_be_read_back_is_outcome_unknown(
    hunt: HuntressHarness,
) -> None:
    incident = hunt.seed["resolvable_incident_id"]
    hunt.fake.inject(Fault(status=500, after=True), path=resolution(incident))
    hunt.fake.inject(Fault(status=503), method="GET", path=f"{REPORTS}/{incident}")
    error = hunt.error("incidents.resolve", {"incident_id": incident}, key="unknown")
    assert error["code"] == "OUTCOME_UNKNOWN"
    assert error["details"] == {"cause": "TRANSIENT_FAILURE", "read_back": "TRANSIENT_FAILURE"}
    # Delivered again, the step answers its recorded outcome: nothing is resent.
    again = error_of(hunt.run("incidents.resolve", {"incident_id": incident}, key="unknown"))
    assert again["code"] == "OUTCOME_UNKNOWN"
    assert hunt.fake.count("POST", resolution(incident)) == 1


# -- approve and reject -------------------------------------------------------------------------


def test_approve_approves_every_unapproved_remediation(hunt: HuntressHarness) -> None:
    pending = hunt.seed["pending_incident_id"]
    out = hunt.ok("remediations.approve", {"incident_id": pending})
    assert out == {
        "approved": True,
        "incident_id": pending,
        "status": "sent",
        "remediation_count": 3,
        "unapproved_count": 0,
    }
    [post] = hunt.fake.calls("POST")
    assert (post.path, post.body) == (approval(pending), None)
    listed = hunt.ok("remediations.list", {"incident_id": pending})["remediations"]
    assert {r["status"] for r in listed} == {"approved"}
    # Approving again changes nothing (Huntress answers 201 unchanged).
    assert hunt.ok("remediations.approve", {"incident_id": pending})["unapproved_count"] == 0


def test_approve_answered_500_after_huntress_acted_is_settled_by_the_read_back(
    hunt: HuntressHarness,
) -> None:
    pending = hunt.seed["pending_incident_id"]
    hunt.fake.inject(Fault(status=500, after=True), path=approval(pending))
    out = hunt.ok("remediations.approve", {"incident_id": pending})
    assert out["unapproved_count"] == 0
    assert hunt.fake.count("POST") == 1


def test_approve_on_a_report_that_is_not_sent_is_a_conflict(hunt: HuntressHarness) -> None:
    unsent = hunt.seed["unsent_incident_id"]
    error = hunt.error("remediations.approve", {"incident_id": unsent})
    assert error["code"] == "CONFLICT"
    assert 'the report status must be "sent"' in error["message"]
    assert error["details"]["status"] == "closed"


def test_reject_sends_the_specs_body_and_cancels_the_unapproved_ones(
    hunt: HuntressHarness,
) -> None:
    pending = hunt.seed["pending_incident_id"]
    args = {
        "incident_id": pending,
        "comment": "  The host is a kiosk; isolate it instead.  ",
        "useful": False,
        "email": "soc-contact@msp.test",
    }
    assert hunt.ok("remediations.reject", args) == {"rejected": True, "incident_id": pending}
    [post] = hunt.fake.calls("POST")
    assert post.path == rejection(pending)
    assert post.body == {
        "comment": "The host is a kiosk; isolate it instead.",
        "useful": False,
        "email": "soc-contact@msp.test",
    }
    assert post.headers["content-type"] == "application/json"
    assert hunt.fake.rejections(pending)[0]["comment"] == args["comment"].strip()
    statuses = [r["status"] for r in hunt.report(pending)["remediations"]["items"]]
    assert sorted(statuses) == ["approved", "cancelled", "cancelled"]


def test_reject_answered_500_is_outcome_unknown_and_not_sent_again(hunt: HuntressHarness) -> None:
    pending = hunt.seed["pending_incident_id"]
    hunt.fake.inject(Fault(status=500, after=True), path=rejection(pending))
    args = {"incident_id": pending, "comment": "Wrong host.", "useful": True}
    error = hunt.error("remediations.reject", args)
    assert error["code"] == "OUTCOME_UNKNOWN"
    assert hunt.fake.count("POST") == 1


@pytest.mark.parametrize(
    ("action", "extra"),
    [
        ("incidents.resolve", {}),
        ("incidents.resolve", {"approve_remediations": True}),
        ("remediations.approve", {}),
        ("remediations.reject", {"comment": "No.", "useful": False}),
    ],
)
def test_writes_to_an_unknown_report_are_not_found(
    hunt: HuntressHarness, action: str, extra: dict[str, Any]
) -> None:
    error = hunt.error(action, {"incident_id": 999_999, **extra})
    assert error["code"] == "NOT_FOUND"
    assert error["message"] == "Huntress incident report 999999 not found"
    assert hunt.fake.count("POST") == 1


def test_a_resolution_refused_after_the_approval_does_not_advise_approving(
    hunt: HuntressHarness,
) -> None:
    pending = hunt.seed["pending_incident_id"]
    # A remediation added between the two requests (the SOC's doing): the resolution is refused.
    hunt.fake.inject(
        Fault(status=409, body={"error": "Incident Report cannot be resolved."}),
        path=resolution(pending),
    )
    error = hunt.error("incidents.resolve", {"incident_id": pending, "approve_remediations": True})
    assert error["code"] == "CONFLICT"
    assert "it is sent with 0 unapproved remediations" in error["message"]
    assert "approve_remediations: true" not in error["message"]
    assert hunt.acted("POST", approval(pending)) == 1
