"""Level's two side effects, resolving an alert and triggering an automation, and their failures.

Against FakeLevel over loopback HTTP, through the pipeline: the mirrored
alert is marked resolved only with the step's success; a read-only key's
403 is PERMISSION_DENIED saying a read/write key is needed; an unknown
webhook token is NOT_FOUND with the reference's message; a 5xx after the
POST ends OUTCOME_UNKNOWN with the POST sent once; a trigger that requires
an authorization header gets the key in ``Authorization``.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import select

from sandbox.core import Fault
from store.models import RmmAlert
from tests.integrations.harness import rejection_of
from tests.integrations.levelio.conftest import (
    CANARY_KEY,
    CANARY_READ_ONLY_KEY,
    LevelHarness,
)
from tests.integrations.levelio.test_read_actions import add_mirrored_alert

DC01, LT042, MAC, NAS = range(4)
TOKEN_NOT_FOUND = (
    "Level webhook token not found. The automation needs a webhook trigger configured in "
    'Level; use "List automations" to discover tokens.'
)


def mirror_row(level: LevelHarness, alert_id: uuid.UUID) -> RmmAlert:
    with level.store.sessions() as session:
        return session.scalars(select(RmmAlert).where(RmmAlert.alert_id == alert_id)).one()


def posts(level: LevelHarness) -> list[Any]:
    return level.fake.calls("POST")


# -- alerts.resolve -------------------------------------------------------------------------


def test_resolve_resolves_at_level_and_marks_the_mirror_with_the_success(
    level: LevelHarness,
) -> None:
    alert = level.seed["alert_ids"][0]
    mirrored = add_mirrored_alert(level, alert, status="active")
    other = add_mirrored_alert(level, level.seed["alert_ids"][1], status="active")
    out = level.ok("alerts.resolve", {"alert_id": alert}, key="resolve-1")
    assert out == {"resolved": True, "alert_id": alert}
    [request] = posts(level)
    assert request.path == f"/v2/alerts/{alert}/resolve"
    assert request.body is None
    assert "content-type" not in request.headers  # no body, no Content-Type
    assert request.headers["authorization"] == CANARY_KEY
    assert level.alert_resolved(alert)
    row = mirror_row(level, mirrored)
    assert row.status == "resolved"
    assert row.resolved_at == level.clock()
    assert mirror_row(level, other).status == "active"
    # The same key again answers from the ledger: Level is not asked twice.
    assert level.ok("alerts.resolve", {"alert_id": alert}, key="resolve-1") == out
    assert len(posts(level)) == 1


def test_resolve_of_an_alert_nobody_mirrors_needs_no_row(level: LevelHarness) -> None:
    alert = level.seed["alert_ids"][1]
    assert level.ok("alerts.resolve", {"alert_id": alert}) == {"resolved": True, "alert_id": alert}


def test_a_read_only_key_cannot_resolve_and_the_mirror_stays_active(level: LevelHarness) -> None:
    alert = level.seed["alert_ids"][0]
    mirrored = add_mirrored_alert(level, alert, status="active")
    level.use_key(CANARY_READ_ONLY_KEY)
    error = level.error("alerts.resolve", {"alert_id": alert})
    assert error["code"] == "PERMISSION_DENIED"
    assert error["retryable"] is False
    assert error["vendor"] == {"status": 403, "message": "This API key is read-only"}
    assert "read/write API key" in error["message"]
    assert "Settings > API" in error["message"]
    assert mirror_row(level, mirrored).status == "active"
    assert not level.alert_resolved(alert)


def test_resolving_an_unknown_alert_is_not_found_and_marks_nothing(level: LevelHarness) -> None:
    mirrored = add_mirrored_alert(level, "alr_404", status="active")
    error = level.error("alerts.resolve", {"alert_id": "alr_404"})
    assert error["code"] == "NOT_FOUND"
    assert error["vendor"] == {"status": 404, "message": "Alert not found"}
    assert mirror_row(level, mirrored).status == "active"


def test_a_5xx_after_the_resolve_is_an_unknown_outcome_not_a_second_request(
    level: LevelHarness,
) -> None:
    alert = level.seed["alert_ids"][0]
    mirrored = add_mirrored_alert(level, alert, status="active")
    level.fake.inject(Fault(status=502, body={"error": "Bad gateway"}, after=True), method="POST")
    error = level.error("alerts.resolve", {"alert_id": alert})
    assert error["code"] == "OUTCOME_UNKNOWN"
    assert len(posts(level)) == 1
    assert mirror_row(level, mirrored).status == "active"


# -- automations.trigger ----------------------------------------------------------------------


def test_trigger_posts_the_device_ids_and_returns_at_once(level: LevelHarness) -> None:
    token = level.seed["webhook_tokens"][1]
    devices = [level.device_id(DC01), level.device_id(LT042)]
    out = level.direct("automations.trigger", {"webhook_token": token, "device_ids": devices})
    assert out.model_dump(mode="json") == {
        "triggered": True,
        "automation_id": None,  # not looked up: the token was given and no run followed
        "webhook_token": token,
        "vendor_response": None,
        "followed": False,
        "why": "not asked to (wait_for_run is false): the step ended once Level accepted the "
        "trigger",
        "run_id": None,
        "run_ids": [],
        "status": None,
        "runs": [],
    }
    [request] = posts(level)
    assert request.path == f"/v2/automations/webhooks/{token}"
    assert request.body == {"device_ids": devices}
    assert request.headers["content-type"] == "application/json"
    assert [(r.automation_id, r.device_id) for r in level.fake.runs] == [
        ("aut_2", level.device_id(DC01)),
        ("aut_2", level.device_id(LT042)),
    ]
    # Without devices the body is an empty object; through the pipeline it succeeds too.
    stored = level.ok("automations.trigger", {"webhook_token": token})
    assert stored["triggered"] is True and stored["followed"] is False
    assert posts(level)[-1].body == {}
    assert len(posts(level)) == 2  # nothing read besides the trigger


def test_trigger_by_automation_id_looks_the_token_up_and_records_it_nowhere(
    level: LevelHarness,
) -> None:
    token = level.seed["webhook_tokens"][1]
    out = level.ok("automations.trigger", {"automation_id": "aut_2"})
    assert (out["triggered"], out["automation_id"], out["webhook_token"]) == (True, "aut_2", None)
    assert posts(level)[-1].path == f"/v2/automations/webhooks/{token}"
    assert [r.automation_id for r in level.fake.runs] == ["aut_2"]
    assert all(token not in text for text in level.ledger_texts())


def test_trigger_by_an_automation_without_a_webhook_trigger_is_not_found_and_sends_nothing(
    level: LevelHarness,
) -> None:
    error = level.error("automations.trigger", {"automation_id": "aut_30"})
    assert error["code"] == "NOT_FOUND"
    assert "aut_30 has no webhook trigger" in error["message"]
    assert posts(level) == []


@pytest.mark.parametrize(
    "target",
    [{}, {"automation_id": "aut_2", "webhook_token": "t"}, {"automation_id": None}],
)
def test_trigger_needs_exactly_one_of_automation_id_and_webhook_token(
    level: LevelHarness, target: dict[str, Any]
) -> None:
    error = rejection_of(level.run("automations.trigger", target))
    assert error["code"] == "VALIDATION_ERROR"
    assert level.fake.count() == 0


def test_a_trigger_answer_naming_its_run_is_returned_without_following(
    level: LevelHarness,
) -> None:
    level.fake.trigger_body = "run"
    out = level.ok(
        "automations.trigger",
        {"webhook_token": level.seed["webhook_tokens"][0], "device_ids": [level.device_id(NAS)]},
    )
    run = level.fake.runs[-1].id
    assert out["vendor_response"] == {"run_id": run, "run_ids": [run]}
    assert (out["run_id"], out["run_ids"], out["followed"]) == (run, [run], False)


def test_an_unknown_webhook_token_is_not_found_with_the_reference_message(
    level: LevelHarness,
) -> None:
    error = level.error("automations.trigger", {"webhook_token": "no-such-token"})
    assert error["code"] == "NOT_FOUND"
    assert error["message"] == TOKEN_NOT_FOUND
    assert error["vendor"] == {"status": 404, "message": "Webhook not found"}
    assert level.fake.runs == []


def test_a_trigger_requiring_authorization_gets_the_key_and_needs_write_access(
    level: LevelHarness,
) -> None:
    token = level.seed["auth_webhook_token"]
    level.ok("automations.trigger", {"webhook_token": token})
    assert posts(level)[-1].headers["authorization"] == CANARY_KEY
    assert len(level.fake.runs) == 1
    level.use_key(CANARY_READ_ONLY_KEY)
    error = level.error("automations.trigger", {"webhook_token": token})
    assert error["code"] == "PERMISSION_DENIED"
    assert error["vendor"] == {"status": 403, "message": "This API key is read-only"}
    assert "read/write API key" in error["message"]
    assert len(level.fake.runs) == 1
    # A trigger without the requirement ignores the key: a read-only one does.
    level.ok("automations.trigger", {"webhook_token": level.seed["webhook_tokens"][0]})
    assert len(level.fake.runs) == 2


def test_a_5xx_after_the_trigger_is_an_unknown_outcome_and_it_is_not_sent_again(
    level: LevelHarness,
) -> None:
    token = level.seed["webhook_tokens"][0]
    level.fake.inject(
        Fault(status=500, body={"error": "Internal error"}, after=True), method="POST"
    )
    error = level.error("automations.trigger", {"webhook_token": token}, key="unknown")
    assert error["code"] == "OUTCOME_UNKNOWN"
    assert len(level.fake.runs) == 1  # Level did start it
    assert level.error("automations.trigger", {"webhook_token": token}, key="unknown") == error
    assert len(posts(level)) == 1


# -- input errors send nothing ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("action", "args", "field"),
    [
        ("alerts.resolve", {}, "alert_id"),
        ("alerts.resolve", {"alert_id": "   "}, "alert_id"),
        ("alerts.resolve", {"alert_id": 12}, "alert_id"),
        ("alerts.resolve", {"alert_id": "alr_1", "extra": 1}, "extra"),
        ("automations.trigger", {"webhook_token": ""}, "webhook_token"),
        ("automations.trigger", {"webhook_token": "t", "device_ids": "dev_1"}, "device_ids"),
        ("automations.trigger", {"webhook_token": "t", "device_ids": [" "]}, "device_ids"),
        ("automations.trigger", {"webhook_token": "t", "wait_for_run": "true"}, "wait_for_run"),
        ("automations.trigger", {"webhook_token": "t", "run_timeout": 29}, "run_timeout"),
        ("automations.trigger", {"webhook_token": "t", "run_timeout": 86_401}, "run_timeout"),
        (
            "automations.trigger",
            {"webhook_token": "t", "wait_for_run": True, "device_ids": ["d"] * 51},
            "device_ids",
        ),
        ("devices.find", {"limit": 0}, "limit"),
        ("devices.find", {"limit": "5"}, "limit"),
        ("devices.find", {"asset_id": "not-a-uuid"}, "asset_id"),
        ("devices.find", {"live": 1}, "live"),
        ("devices.get", {}, "device_id"),
        ("alerts.list_active", {"limit": 201}, "limit"),
        ("updates.list", {"status": "pending"}, "status"),
        ("updates.list", {"limit": 501}, "limit"),
        ("automations.list", {"query": ""}, "query"),
        ("automations.run_status", {"run_id": "r", "include_steps": "yes"}, "include_steps"),
    ],
)
def test_input_errors_are_validation_errors_naming_the_field_and_send_nothing(
    level: LevelHarness, action: str, args: dict[str, Any], field: str
) -> None:
    error = rejection_of(level.run(action, args))
    assert error["code"] == "VALIDATION_ERROR"
    assert field in error["message"]
    assert level.fake.count() == 0
