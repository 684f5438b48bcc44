"""``patchbay recipe list|run`` on the embedded default, against the sandbox (see conftest).

What each recipe does on the fakes, both branches of disk-full, a replayed
rerun, a failed step resumed after fixing its cause with the exact command
printed, a changed input under an old run id, an ``OUTCOME_UNKNOWN`` step left
to the operator, and bad usage.
"""

from __future__ import annotations

import json
import shlex
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from executor.settings import Settings
from patchbay.cli import app
from sandbox.core import Fault
from sandbox.microsoft import DEMO_CHANNEL_ID
from store.models import ScheduleEntry
from tests.recipes.conftest import TENANT, Bench
from tests.recipes.support import notes, printed_steps, ticket


def outcome_of(out: str) -> dict[str, Any]:
    """The outcome JSON a successful run prints last."""
    found: dict[str, Any] = json.loads(out.split("; outcome:\n", 1)[1])
    return found


def test_list_names_every_recipe_with_its_required_input(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATCHBAY_DATA_DIR", str(settings.data_dir))
    runner = CliRunner()
    listed = runner.invoke(app, ["recipe", "list", "--json"])
    assert listed.exit_code == 0, listed.stderr
    recipes = {r["name"]: r for r in json.loads(listed.stdout)}
    assert list(recipes) == ["disk-full", "huntress-incident", "escalation"]
    assert recipes["disk-full"]["input"]["required"] == ["device_id", "script_id"]
    assert recipes["huntress-incident"]["input"]["required"] == ["incident_id"]
    assert recipes["escalation"]["input"]["required"] == ["ticket_id", "technician_user_ids"]
    table = runner.invoke(app, ["recipe", "list"])
    assert table.exit_code == 0
    for name, required in (("disk-full", "device_id*"), ("escalation", "ticket_id*")):
        assert name in table.stdout and required in table.stdout


def test_bad_usage_exits_2_before_any_step(
    settings: Settings, store: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATCHBAY_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("PATCHBAY_DATABASE_URL", str(settings.database_url))
    assert settings.secret_key is not None
    monkeypatch.setenv("PATCHBAY_SECRET_KEY", settings.secret_key.get_secret_value())
    runner = CliRunner()

    def error(*args: str) -> str:
        done = runner.invoke(app, ["recipe", "run", *args])
        assert done.exit_code == 2, done.stdout + done.stderr
        assert done.stdout == ""
        [line] = done.stderr.strip().splitlines()
        assert line.startswith("error: ")
        return line

    assert error("nope", "--tenant", TENANT) == (
        "error: no recipe 'nope'; the recipes are: disk-full, huntress-incident, escalation"
    )
    assert error("disk-full", "--tenant", TENANT, "--input", "{}") == (
        "error: recipe disk-full: input.device_id: Field required; input.script_id: Field required"
    )
    assert "device_id must be NinjaOne's numeric device id" in error(
        "disk-full", "--tenant", TENANT, "--input", '{"device_id": "LT042", "script_id": 1}'
    )
    assert "input.script_id: Input should be a valid integer" in error(
        "disk-full", "--tenant", TENANT, "--input", '{"device_id": "2", "script_id": "1"}'
    )
    assert "input.colour: Extra inputs are not permitted" in error(
        "huntress-incident", "--tenant", TENANT, "--input", '{"incident_id": 1, "colour": 1}'
    )
    assert "--input is not valid JSON" in error("escalation", "--tenant", TENANT, "--input", "{")
    assert "cannot read" in error(
        "escalation", "--tenant", TENANT, "--input", f"@{tmp_path / 'missing.json'}"
    )
    assert "nobody" in error(
        "huntress-incident", "--tenant", "nobody", "--input", '{"incident_id": 1002}'
    )


def test_disk_full_heals_a_ninjaone_disk_and_the_same_run_id_replays_every_step(
    bench: Bench,
) -> None:
    ninja = bench.sandbox.ninjaone
    alert = bench.sandbox.seeds["ninjaone"]["alert_uids"][1]  # the laptop's disk alert
    data = {"device_id": "2", "script_id": 1, "alert_id": alert, "hostname": "CONTOSO-LT042"}

    first = bench.recipe("disk-full", data, "--run-id", "heal-1")
    assert first.code == 0, first.out + first.err
    assert first.out.startswith("running recipe disk-full for acme, run heal-1\n")
    steps = printed_steps(first.out)
    assert [(s.status, s.path, s.action, s.how) for s in steps] == [
        ("SUCCEEDED", "disk_full.open_ticket", "tickets.create", ""),
        ("SUCCEEDED", "disk_full.run_cleanup", "ninjaone.devices.run_script", ""),
        ("SUCCEEDED", "disk_full.note_output", "tickets.add_note", ""),
        ("SUCCEEDED", "disk_full.reset_alert", "ninjaone.alerts.reset", ""),
        ("SUCCEEDED", "disk_full.close_ticket", "tickets.close", ""),
    ]
    assert steps[1].key == "heal-1:disk_full.run_cleanup:ninjaone.devices.run_script@1"
    outcome = outcome_of(first.out)
    assert outcome | {"ticket_id": None} == {
        "fixed": True,
        "why": "exit code 0",
        "ticket_id": None,
        "ticket_number": "T-1",
        "ticket_created": True,
        "alert_reset": True,
        "ticket_closed": True,
        "escalated": False,
    }
    [run] = ninja.script_runs
    assert (run.device_id, run.script_id) == (2, 1)
    assert [r.uid for r in ninja.alert_resets] == [alert]
    closed = ticket(bench.store, TENANT, "T-1")
    assert (closed.status, closed.dedupe_key) == ("closed", "disk-full:ninjaone:2")
    assert closed.resolution is not None and "Removed 1,284 files (2.3 GB)." in closed.resolution
    [note] = notes(bench.store, TENANT, "T-1")
    assert note.startswith("Cleanup script 1 on CONTOSO-LT042: fixed (exit code 0).")
    assert note.endswith("Output:\nRemoved 1,284 files (2.3 GB).")

    again = bench.recipe("disk-full", data, "--run-id", "heal-1")
    assert again.code == 0, again.out + again.err
    assert again.out.startswith("resuming recipe disk-full for acme, run heal-1\n")
    replayed = printed_steps(again.out)
    assert [(s.path, s.how) for s in replayed] == [(s.path, "replayed") for s in steps]
    assert [s.key for s in replayed] == [s.key for s in steps]
    assert "(5 steps, 5 replayed from the ledger)" in again.out
    assert outcome_of(again.out) == outcome
    assert (len(ninja.script_runs), len(ninja.alert_resets)) == (1, 1)

    # Another input under the same run id is refused, not run under the old keys.
    changed = bench.recipe("disk-full", data | {"hostname": "LT042"}, "--run-id", "heal-1")
    assert changed.code == 1, changed.out + changed.err
    [refused] = printed_steps(changed.out)
    assert (refused.status, refused.path) == ("REFUSED", "disk_full.open_ticket")
    assert '"code": "IDEMPOTENCY_CONFLICT"' in changed.out
    assert "run the recipe without --run-id for a new run" in changed.out
    assert changed.out.strip().splitlines()[-1].strip() == (
        "patchbay recipe run disk-full --tenant acme --input "
        + shlex.quote(json.dumps(data | {"hostname": "LT042"}, separators=(",", ":")))
    )
    assert len(ninja.script_runs) == 1


def test_disk_full_on_tactical_rmm_escalates_a_disk_that_stays_full(bench: Bench) -> None:
    tactical, microsoft = bench.sandbox.tacticalrmm, bench.sandbox.microsoft
    script = tactical.add_script(
        "Clear temp files (disk stays full)",
        output="Removed 12 files (40 MB).\nDisk C: still full (3% free)\n",
    )
    agent = bench.sandbox.seeds["tacticalrmm"]["agent_ids"][1]
    data = {
        "rmm": "tacticalrmm",
        "device_id": agent,
        "script_id": script.id,
        "alert_id": "417",
        "hostname": "CONTOSO-LT042",
        "script_timeout": 60,
    }
    done = bench.recipe("disk-full", data, "--json")
    assert done.code == 0, done.out + done.err
    report = done.json()
    assert [(s["path"], s["action_id"], s["status"]) for s in report["steps"]] == [
        ("disk_full.open_ticket", "tickets.create", "SUCCEEDED"),
        ("disk_full.run_cleanup", "tacticalrmm.agents.run_script", "SUCCEEDED"),
        ("disk_full.note_output", "tickets.add_note", "SUCCEEDED"),
        ("disk_full.raise_priority", "tickets.update", "SUCCEEDED"),
        ("disk_full.escalate", "teams.post_to_channel", "SUCCEEDED"),
    ]
    assert report["status"] == "succeeded" and report["resume"] is None
    assert report["run_id"].startswith("disk-full-")
    outcome = report["outcome"]
    assert (outcome["fixed"], outcome["why"]) == (False, "the output says STILL FULL")
    assert (outcome["escalated"], outcome["ticket_closed"]) == (True, False)
    opened = ticket(bench.store, TENANT, outcome["ticket_number"])
    assert (opened.status, opened.priority) == ("open", "high")
    assert opened.description is not None and "(alert 417)" in opened.description
    [post] = microsoft.channel_messages(DEMO_CHANNEL_ID)
    assert post["text"].startswith(
        f"{outcome['ticket_number']} Disk full on CONTOSO-LT042: the cleanup script did not "
        "free enough space (the output says STILL FULL); needs a technician. Output: "
        "Removed 12 files"
    )
    [note] = notes(bench.store, TENANT, outcome["ticket_number"])
    assert "NOT fixed (the output says STILL FULL)" in note


def test_a_step_whose_outcome_is_unknown_is_left_to_the_operator(bench: Bench) -> None:
    """The channel post reached Teams but its answer was lost: a rerun never posts again."""
    tactical, microsoft = bench.sandbox.tacticalrmm, bench.sandbox.microsoft
    script = tactical.add_script("Clear temp files (full)", output="STILL FULL\n")
    agent = bench.sandbox.seeds["tacticalrmm"]["agent_ids"][0]
    data = {"rmm": "tacticalrmm", "device_id": agent, "script_id": script.id, "script_timeout": 60}
    microsoft.inject(Fault(status=502, after=True), method="POST", path="*/v3/conversations")
    failed = bench.recipe("disk-full", data, "--run-id", "lost-1")
    assert failed.code == 1, failed.out + failed.err
    last = printed_steps(failed.out)[-1]
    assert (last.status, last.path) == ("FAILED", "disk_full.escalate")
    assert '"code": "OUTCOME_UNKNOWN"' in failed.out
    retry = f"`patchbay step retry {last.key} --tenant acme`"
    assert retry in failed.out
    assert len(microsoft.channel_messages(DEMO_CHANNEL_ID)) == 1

    again = bench.recipe("disk-full", data, "--run-id", "lost-1")
    assert again.code == 1, again.out + again.err
    steps = printed_steps(again.out)
    assert {s.how for s in steps} == {"replayed"}
    assert retry in again.out
    assert len(microsoft.channel_messages(DEMO_CHANNEL_ID)) == 1

    # The operator checked, and chose to run it again: the recipe then continues.
    bench.ok("step", "retry", last.key, "--tenant", TENANT, "--yes")
    resumed = bench.recipe("disk-full", data, "--run-id", "lost-1")
    assert resumed.code == 0, resumed.out + resumed.err
    assert outcome_of(resumed.out)["escalated"] is True
    assert len(microsoft.channel_messages(DEMO_CHANNEL_ID)) == 2


def test_escalation_fails_at_teams_and_resumes_with_the_printed_command(bench: Bench) -> None:
    microsoft = bench.sandbox.microsoft
    adele = bench.sandbox.seeds["microsoft"]["users"][0]["id"]
    tech = bench.user_id("tech1")
    opened = bench.action("tickets.create", {"title": "Printer on fire", "priority": "high"})
    ticket_id = opened["ticket"]["ticket_id"]
    data = {"ticket_id": ticket_id, "technician_user_ids": [tech], "reason": "VIP"}
    bench.ok("disconnect", "teams", "--tenant", TENANT)

    failed = bench.recipe("escalation", data, "--run-id", "esc-1")
    assert failed.code == 1, failed.out + failed.err
    assert [(s.status, s.path) for s in printed_steps(failed.out)] == [
        ("SUCCEEDED", "escalation.read_ticket"),
        ("SUCCEEDED", "escalation.book[0]"),
        ("SUCCEEDED", "escalation.assign"),
        ("FAILED", "escalation.notify"),
    ]
    payload = json.loads(failed.out.split("error payload:\n", 1)[1].split("\nto resume")[0])
    assert (payload["code"], payload["step_path"]) == ("INTEGRATION_INACTIVE", "escalation.notify")
    lines = failed.out.strip().splitlines()
    assert lines[-2] == (
        "to resume (fix the cause, then run the recipe again with the same run id: step "
        "escalation.notify runs again and the steps before it are replayed):"
    )
    resume = lines[-1].strip()
    assert resume == (
        "patchbay recipe run escalation --tenant acme --input "
        + shlex.quote(json.dumps(data, separators=(",", ":")))
        + " --run-id esc-1"
    )
    assert microsoft.notifications(adele) == []

    bench.ok("sandbox", "connect", "--tenant", TENANT, "--port", str(bench.port))
    resumed = bench.cli(*shlex.split(resume)[1:])
    assert resumed.code == 0, resumed.out + resumed.err
    assert [(s.status, s.path, s.how) for s in printed_steps(resumed.out)] == [
        ("SUCCEEDED", "escalation.read_ticket", "replayed"),
        ("SUCCEEDED", "escalation.book[0]", "replayed"),
        ("SUCCEEDED", "escalation.assign", "replayed"),
        ("SUCCEEDED", "escalation.notify", "run again"),
        ("SUCCEEDED", "escalation.post", ""),
        ("SUCCEEDED", "escalation.note", ""),
    ]
    outcome = outcome_of(resumed.out)
    assert (outcome["technician_user_id"], outcome["busy"], outcome["shifted"]) == (
        tech,
        [],
        False,
    )
    [notice] = microsoft.notifications(adele)
    assert notice["topic"]["value"] == "T-1 escalated to you"
    [post] = microsoft.channel_messages(DEMO_CHANNEL_ID)
    assert post["text"].startswith(f"T-1 Printer on fire escalated: technician {tech} booked ")
    with bench.store.sessions() as session:
        assert session.scalar(select(func.count()).select_from(ScheduleEntry)) == 1
    assigned = ticket(bench.store, TENANT, "T-1")
    assert (str(assigned.assignee_user_id), assigned.status) == (tech, "in_progress")
    [note] = notes(bench.store, TENANT, "T-1")
    assert note.startswith(f"Escalated to technician {tech}, booked ")
    assert note.endswith("Reason: VIP")

    # A replayed read-only step must have had the same input: another ticket is refused.
    other = bench.recipe("escalation", data | {"ticket_id": tech}, "--run-id", "esc-1")
    assert other.code == 1
    [refused] = printed_steps(other.out)
    assert (refused.status, refused.path) == ("REFUSED", "escalation.read_ticket")
    assert '"code": "IDEMPOTENCY_CONFLICT"' in other.out


def test_escalation_books_the_first_free_technician_or_shifts_when_all_are_busy(
    bench: Bench,
) -> None:
    tech = bench.user_id("tech1")
    busy = bench.ok("user", "add", "busy1", "--tenant", TENANT, "--technician").strip()
    now = datetime.now(UTC).replace(microsecond=0)
    week = bench.action(
        "scheduling.create_entry",
        {
            "assigned_user_ids": [busy],
            "title": "On site all week",
            "window": {
                "start": (now - timedelta(hours=1)).isoformat(),
                "end": (now + timedelta(days=3)).isoformat(),
            },
        },
    )
    opened = bench.action("tickets.create", {"title": "Server down"})["ticket"]
    data = {"ticket_id": opened["ticket_id"], "technician_user_ids": [busy, tech]}

    first = bench.recipe("escalation", data, "--json")
    assert first.code == 0, first.out + first.err
    report = first.json()
    assert [(s["path"], s["status"], s["accepted"]) for s in report["steps"][:3]] == [
        ("escalation.read_ticket", "SUCCEEDED", False),
        ("escalation.book[0]", "FAILED", True),
        ("escalation.book[1]", "SUCCEEDED", False),
    ]
    assert report["steps"][1]["error"]["code"] == "CONFLICT"
    outcome = report["outcome"]
    assert (outcome["technician_user_id"], outcome["busy"], outcome["shifted"]) == (
        tech,
        [busy],
        False,
    )

    # tech1 is now booked in that window too: everyone busy, tech1's next free window.
    second = bench.recipe("escalation", data | {"technician_user_ids": [tech]}, "--json")
    assert second.code == 0, second.out + second.err
    shifted = second.json()
    assert [s["path"] for s in shifted["steps"][:3]] == [
        "escalation.read_ticket",
        "escalation.book[0]",
        "escalation.book_shifted",
    ]
    assert shifted["outcome"]["shifted"] is True
    assert shifted["outcome"]["start"] == outcome["end"]
    assert week["entry_id"] not in (outcome["entry_id"], shifted["outcome"]["entry_id"])


def test_huntress_incident_skips_what_the_report_does_not_need(bench: Bench) -> None:
    seed = bench.sandbox.seeds["huntress"]
    resolvable = bench.recipe("huntress-incident", {"incident_id": seed["resolvable_incident_id"]})
    assert resolvable.code == 0, resolvable.out + resolvable.err
    paths = [s.path.removeprefix("huntress_incident.") for s in printed_steps(resolvable.out)]
    # Every remediation already approved: nothing to approve, resolved at once.
    assert paths == [
        "get_incident",
        "get_agent",
        "get_organization",
        "open_ticket",
        "list_remediations",
        "resolve",
        "note_result",
        "post",
    ]
    outcome = outcome_of(resolvable.out)
    assert (outcome["approved_remediations"], outcome["resolved"]) == (0, True)
    assert (outcome["host"], outcome["organization"]) == ("CONTOSO-DC01", "Contoso Dental")
    assert ticket(bench.store, TENANT, outcome["ticket_number"]).priority == "high"

    closed = bench.recipe("huntress-incident", {"incident_id": seed["unsent_incident_id"]})
    assert closed.code == 0, closed.out + closed.err
    paths = [s.path.removeprefix("huntress_incident.") for s in printed_steps(closed.out)]
    assert paths == [
        "get_incident",
        "get_agent",
        "get_organization",
        "open_ticket",
        "note_result",
        "post",
    ]
    outcome = outcome_of(closed.out)
    assert (outcome["resolved"], outcome["incident_status"]) == (False, "closed")
    [note] = notes(bench.store, TENANT, outcome["ticket_number"])
    assert note == "The incident report is closed at Huntress: nothing approved or resolved."


def test_escalation_stops_at_a_closed_ticket(bench: Bench) -> None:
    opened = bench.action("tickets.create", {"title": "Done already"})["ticket"]
    bench.action("tickets.close", {"ticket_id": opened["ticket_id"], "resolution": "Fixed."})
    data = {"ticket_id": opened["ticket_id"], "technician_user_ids": [bench.user_id("tech1")]}
    stopped = bench.recipe("escalation", data, "--json")
    assert stopped.code == 1, stopped.out + stopped.err
    report = stopped.json()
    assert (report["status"], report["message"]) == (
        "stopped",
        f"ticket {opened['ticket_number']} is closed: reopen it to escalate it",
    )
    assert [s["path"] for s in report["steps"]] == ["escalation.read_ticket"]
