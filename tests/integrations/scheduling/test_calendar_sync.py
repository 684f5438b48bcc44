"""Calendar sync: entry -> Graph event, exactly one per (entry, calendar), against FakeMicrosoft."""

from __future__ import annotations

import json

from executor.pipeline import Finished, Reschedule
from executor.settings import Settings
from executor.wire import TaskRequest
from sandbox.core import Fault
from sandbox.microsoft import graph_fault
from store import Store
from tests.integrations.scheduling.conftest import (
    GRAPH_SECRET,
    TENANT,
    Microsoft,
    People,
    entry_input,
    make_pipeline,
    run,
)

SYNC = "scheduling.entries.sync_calendar"


def create(store: Store, settings: Settings, users: list[object]) -> str:
    outcome = run(make_pipeline(store, settings), "create", entry_input(users))  # type: ignore[arg-type]
    assert isinstance(outcome, Finished)
    assert outcome.row.output is not None
    return str(outcome.row.output["entry_id"])


def sync(store: Store, settings: Settings, ms: Microsoft, entry_id: str, key: str) -> object:
    return make_pipeline(store, settings, ms.fake).execute(
        TaskRequest(
            key=key,
            action_id=SYNC,
            version=1,
            tenant_id=TENANT,
            input={"entry_id": entry_id},
            provider="core",
        )
    )


def test_sync_creates_one_event_per_connected_assignee_then_updates_them(
    store: Store, settings: Settings, people: People, microsoft: Microsoft
) -> None:
    entry_id = create(store, settings, [people.tech1, people.tech2])
    first = sync(store, settings, microsoft, entry_id, "s1")
    assert isinstance(first, Finished)
    assert first.row.output is not None
    assert [s["created"] for s in first.row.output["synced"]] == [True, True]
    events = microsoft.fake.events(microsoft.upn1)
    assert len(events) == 1
    assert events[0]["subject"] == "Replace disk"
    assert len(microsoft.fake.events(microsoft.upn2)) == 1
    # A second sync (another event, a redelivery) updates the events it made.
    again = sync(store, settings, microsoft, entry_id, "s2")
    assert isinstance(again, Finished)
    assert again.row.output is not None
    assert [s["created"] for s in again.row.output["synced"]] == [False, False]
    assert microsoft.fake.creates == 2
    assert microsoft.fake.updates == 2
    assert len(microsoft.fake.events(microsoft.upn1)) == 1


def test_assignees_without_a_calendar_are_skipped(
    store: Store, settings: Settings, people: People, microsoft: Microsoft
) -> None:
    from store.calendars import disconnect_calendar

    with store.sessions.begin() as session:
        disconnect_calendar(session, TENANT, people.tech2, "microsoft")
    entry_id = create(store, settings, [people.tech1, people.tech2])
    outcome = sync(store, settings, microsoft, entry_id, "s1")
    assert isinstance(outcome, Finished)
    assert outcome.row.output is not None
    assert [s["user_id"] for s in outcome.row.output["synced"]] == [str(people.tech1)]
    assert microsoft.fake.events(microsoft.upn2) == []


def test_a_503_is_retried_and_still_one_event(
    store: Store, settings: Settings, people: People, microsoft: Microsoft
) -> None:
    entry_id = create(store, settings, [people.tech1])
    microsoft.fake.inject(graph_fault(status=503, retry_after=0), method="POST", path="/v1.0/*")
    first = sync(store, settings, microsoft, entry_id, "s1")
    assert isinstance(first, Reschedule)
    assert first.reason == "retry"
    second = sync(store, settings, microsoft, entry_id, "s1")
    assert isinstance(second, Finished)
    assert second.row.status == "SUCCEEDED"
    assert second.row.attempt == 2
    assert microsoft.fake.creates == 1


def test_a_lost_answer_after_create_is_deduplicated_by_transaction_id(
    store: Store, settings: Settings, people: People, microsoft: Microsoft
) -> None:
    entry_id = create(store, settings, [people.tech1])
    # Graph creates the event but the answer never arrives.
    microsoft.fake.inject(Fault(disconnect=True), method="POST", path="/v1.0/*")
    first = sync(store, settings, microsoft, entry_id, "s1")
    # Safe to repeat: retried rather than OUTCOME_UNKNOWN.
    assert isinstance(first, Reschedule)
    second = sync(store, settings, microsoft, entry_id, "s1")
    assert isinstance(second, Finished)
    assert second.row.status == "SUCCEEDED"
    assert len(microsoft.fake.events(microsoft.upn1)) == 1


def test_an_expired_token_is_refreshed_once(
    store: Store, settings: Settings, people: People, microsoft: Microsoft
) -> None:
    entry_id = create(store, settings, [people.tech1])
    assert isinstance(sync(store, settings, microsoft, entry_id, "s1"), Finished)
    tokens_before = len(microsoft.fake.issued_tokens)
    microsoft.fake.expire_tokens()
    outcome = sync(store, settings, microsoft, entry_id, "s2")
    assert isinstance(outcome, Finished)
    assert outcome.row.status == "SUCCEEDED"
    assert len(microsoft.fake.issued_tokens) == tokens_before + 1


def test_bad_app_credentials_are_misconfigured_and_never_leak(
    store: Store, settings: Settings, people: People, microsoft: Microsoft
) -> None:
    microsoft.fake.expire_client_secret(microsoft.aad_tenant, "app-acme")
    entry_id = create(store, settings, [people.tech1])
    outcome = sync(store, settings, microsoft, entry_id, "s1")
    assert isinstance(outcome, Finished)
    assert outcome.row.error is not None
    assert outcome.row.error["code"] == "INTEGRATION_MISCONFIGURED"
    assert "microsoft_client_secret" in outcome.row.error["message"]
    assert GRAPH_SECRET not in json.dumps(outcome.row.error)
