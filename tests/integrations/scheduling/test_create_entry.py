"""scheduling.create_entry: persistence, validation, eligibility, links, conflicts.

Every test runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from executor.pipeline import Finished, Rejected
from executor.settings import Settings
from store import Store
from store.models import (
    OutboxEvent,
    ScheduleConflict,
    ScheduleEntry,
    ScheduleEntryAssignee,
)
from store.types import utcnow
from tests.integrations.scheduling.conftest import (
    T0,
    TENANT,
    People,
    entry_input,
    make_pipeline,
    run,
)


def counts(store: Store) -> tuple[int, int, int, int]:
    with store.sessions() as session:
        return tuple(  # type: ignore[return-value]
            int(session.scalar(select(func.count()).select_from(m)) or 0)
            for m in (ScheduleEntry, ScheduleEntryAssignee, ScheduleConflict, OutboxEvent)
        )


def succeeded(outcome: Finished | Rejected) -> dict[str, object]:
    assert isinstance(outcome, Finished), outcome
    assert outcome.row.status == "SUCCEEDED", outcome.row.error
    assert outcome.row.output is not None
    return outcome.row.output


def failed(outcome: Finished | Rejected) -> dict[str, object]:
    if isinstance(outcome, Rejected):
        return outcome.payload
    assert outcome.row.status == "FAILED", outcome.row.output
    assert outcome.row.error is not None
    return outcome.row.error


def test_ad_hoc_entry_with_two_technicians_is_persisted_with_its_event(
    store: Store, settings: Settings, people: People
) -> None:
    out = succeeded(
        run(make_pipeline(store, settings), "k1", entry_input([people.tech1, people.tech2]))
    )
    assert out["work_item_type"] == "ad_hoc"
    assert out["work_item_id"] is None
    assert out["status"] == "scheduled"
    assert out["assigned_user_ids"] == [str(people.tech1), str(people.tech2)]
    with store.sessions() as session:
        entry = session.get(ScheduleEntry, (TENANT, uuid.UUID(str(out["entry_id"]))))
        assert entry is not None
        assert entry.scheduled_start == T0
        assert entry.scheduled_end == T0 + timedelta(hours=1)
        assert entry.title == "Replace disk"
        assignees = set(
            session.scalars(
                select(ScheduleEntryAssignee.user_id).where(
                    ScheduleEntryAssignee.entry_id == entry.entry_id
                )
            )
        )
        assert assignees == {people.tech1, people.tech2}
        event = session.scalar(select(OutboxEvent))
        assert event is not None
        assert event.event_type == "SCHEDULE_ENTRY_CREATED"
        assert event.payload["entry_id"] == str(entry.entry_id)
        assert event.published_at is None
    assert counts(store) == (1, 2, 0, 1)


@pytest.mark.parametrize("link_type", ["ticket", "project_task"])
def test_linked_entry_with_status_and_notes(
    store: Store, settings: Settings, people: People, link_type: str
) -> None:
    target = people.ticket if link_type == "ticket" else people.task
    out = succeeded(
        run(
            make_pipeline(store, settings),
            "k1",
            entry_input(
                [people.tech1],
                link={"type": link_type, "id": str(target)},
                status="confirmed",
                notes="bring a spare",
            ),
        )
    )
    assert out["work_item_type"] == link_type
    assert out["work_item_id"] == str(target)
    assert out["status"] == "confirmed"


def test_times_without_offset_use_the_window_timezone(
    store: Store, settings: Settings, people: People
) -> None:
    inp = entry_input([people.tech1])
    inp["window"] = {
        "start": "2026-12-01T10:00:00",
        "end": "2026-12-01T11:00:00",
        "timezone": "Europe/Berlin",
    }
    out = succeeded(run(make_pipeline(store, settings), "k1", inp))
    assert out["start"] == "2026-12-01T09:00:00Z"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"window": {"start": T0.isoformat(), "end": T0.isoformat()}}, "window"),
        (
            {"window": {"start": T0.isoformat(), "end": (T0 - timedelta(hours=1)).isoformat()}},
            "window",
        ),
        ({"window": {"start": "2026-12-01T10:00:00", "end": "2026-12-01T11:00:00"}}, "window"),
        ({"assigned_user_ids": []}, "assigned_user_ids"),
        ({"status": "cancelled"}, "status"),
        ({"conflict_mode": "ignore"}, "conflict_mode"),
        ({"title": "   "}, "title"),
        ({"link": {"type": "invoice", "id": str(uuid.uuid4())}}, "link.type"),
        ({"priority": "high"}, "priority"),
    ],
)
def test_invalid_input_is_a_validation_error_naming_the_field(
    store: Store, settings: Settings, people: People, change: dict[str, object], field: str
) -> None:
    inp = {**entry_input([people.tech1]), **change}
    error = failed(run(make_pipeline(store, settings), "k1", inp))
    assert error["code"] == "VALIDATION_ERROR"
    assert str(error["details"]["field"]).startswith(field)  # type: ignore[index]
    assert counts(store) == (0, 0, 0, 0)


def test_repeated_user_is_a_validation_error(
    store: Store, settings: Settings, people: People
) -> None:
    error = failed(
        run(make_pipeline(store, settings), "k1", entry_input([people.tech1, people.tech1]))
    )
    assert error["code"] == "VALIDATION_ERROR"
    assert "assigned_user_ids" in str(error["message"])


@pytest.mark.parametrize("who", ["unknown", "inactive", "other_tenant"])
def test_unknown_inactive_and_other_tenant_users_are_not_found(
    store: Store, settings: Settings, people: People, who: str
) -> None:
    bad = {
        "unknown": uuid.uuid4(),
        "inactive": people.inactive,
        "other_tenant": people.other_tenant_tech,
    }[who]
    error = failed(run(make_pipeline(store, settings), "k1", entry_input([people.tech1, bad])))
    assert error["code"] == "NOT_FOUND"
    assert error["details"] == {"missing_user_ids": [str(bad)]}
    assert counts(store) == (0, 0, 0, 0)


def test_users_without_the_technician_role_are_refused(
    store: Store, settings: Settings, people: People
) -> None:
    error = failed(
        run(make_pipeline(store, settings), "k1", entry_input([people.tech1, people.dispatcher]))
    )
    assert error["code"] == "PERMISSION_DENIED"
    assert error["details"] == {"ineligible_user_ids": [str(people.dispatcher)]}
    assert counts(store) == (0, 0, 0, 0)


@pytest.mark.parametrize("which", ["missing", "other_tenant"])
def test_a_link_that_does_not_exist_in_the_tenant_is_not_found(
    store: Store, settings: Settings, people: People, which: str
) -> None:
    target = uuid.uuid4() if which == "missing" else people.other_ticket
    error = failed(
        run(
            make_pipeline(store, settings),
            "k1",
            entry_input([people.tech1], link={"type": "ticket", "id": str(target)}),
        )
    )
    assert error["code"] == "NOT_FOUND"
    assert f"Ticket {target} not found" in str(error["message"])
    assert counts(store) == (0, 0, 0, 0)


def book(store: Store, settings: Settings, key: str, inp: dict[str, object]) -> dict[str, object]:
    return succeeded(run(make_pipeline(store, settings), key, inp))


def test_conflict_fail_names_the_busy_users_and_writes_nothing(
    store: Store, settings: Settings, people: People
) -> None:
    first = book(store, settings, "a", entry_input([people.tech1]))
    error = failed(
        run(
            make_pipeline(store, settings),
            "b",
            entry_input([people.tech1, people.tech2], start=T0 + timedelta(minutes=30)),
        )
    )
    assert error["code"] == "CONFLICT"
    assert error["details"] == {
        "conflicting_user_ids": [str(people.tech1)],
        "conflicting_entry_ids": [first["entry_id"]],
    }
    assert counts(store) == (1, 1, 0, 1)


@pytest.mark.parametrize("status", ["cancelled", "completed"])
def test_cancelled_and_completed_entries_do_not_block(
    store: Store, settings: Settings, people: People, status: str
) -> None:
    first = book(store, settings, "a", entry_input([people.tech1]))
    with store.sessions.begin() as session:
        entry = session.get(ScheduleEntry, (TENANT, uuid.UUID(str(first["entry_id"]))))
        assert entry is not None
        entry.status = status
    book(store, settings, "b", entry_input([people.tech1]))


def test_shift_moves_to_the_next_window_free_for_everyone(
    store: Store, settings: Settings, people: People
) -> None:
    book(store, settings, "a", entry_input([people.tech1], start=T0, hours=1))
    book(store, settings, "b", entry_input([people.tech2], start=T0 + timedelta(hours=1), hours=2))
    out = book(
        store,
        settings,
        "c",
        entry_input([people.tech1, people.tech2], start=T0, hours=1, conflict_mode="shift"),
    )
    # 09:00 is busy for tech1 until 10:00, then tech2 until 12:00: first free is 12:00.
    assert out["start"] == "2026-12-01T12:00:00Z"
    assert out["end"] == "2026-12-01T13:00:00Z"
    assert out["shifted"] is True


def test_shift_gives_up_past_its_bound(store: Store, settings: Settings, people: People) -> None:
    # A wall of 50 back-to-back entries: more moves than the search allows.
    for i in range(50):
        book(store, settings, f"w{i}", entry_input([people.tech1], start=T0 + timedelta(hours=i)))
    error = failed(
        run(
            make_pipeline(store, settings),
            "late",
            entry_input([people.tech1], conflict_mode="shift"),
        )
    )
    assert error["code"] == "CONFLICT"
    assert "48 moves" in str(error["message"])


def test_override_books_anyway_and_records_the_conflicts(
    store: Store, settings: Settings, people: People
) -> None:
    a = book(store, settings, "a", entry_input([people.tech1]))
    b = book(store, settings, "b", entry_input([people.tech2]))
    out = book(
        store,
        settings,
        "c",
        entry_input([people.tech1, people.tech2], conflict_mode="override"),
    )
    conflicting: Any = out["conflicting_entry_ids"]
    assert sorted(conflicting) == sorted([str(a["entry_id"]), str(b["entry_id"])])
    with store.sessions() as session:
        rows = list(session.scalars(select(ScheduleConflict)))
    assert {str(r.entry_id_2) for r in rows} == {a["entry_id"], b["entry_id"]}
    assert all(str(r.entry_id_1) == out["entry_id"] for r in rows)
    assert all(r.conflict_type == "overlap" and not r.resolved for r in rows)


def test_a_rerun_after_a_crash_returns_the_entry_it_created(
    store: Store, settings: Settings, people: People
) -> None:
    pipeline = make_pipeline(store, settings)
    first = succeeded(run(pipeline, "crash", entry_input([people.tech1])))
    # Simulate a worker that committed the entry but died before recording success.
    from sqlalchemy import update

    from store.models import WorkflowActionInvocation

    with store.sessions.begin() as session:
        session.execute(
            update(WorkflowActionInvocation).values(
                status="STARTED",
                completed_at=None,
                output_json=None,
                lease_expires_at=utcnow() - timedelta(hours=1),
            )
        )
    again = succeeded(run(pipeline, "crash", entry_input([people.tech1])))
    assert again["entry_id"] == first["entry_id"]
    assert counts(store) == (1, 1, 0, 1)
