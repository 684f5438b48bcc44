"""``patchbay demo``: the embedded walk-through, in one process, in under a minute.

It always runs on the embedded default (SQLite, in-process Celery worker on
``memory://``, in-process throttle) in its own data directory
(``<data_dir>/demo``, recreated at each run), against the sandbox's fake
vendors on loopback. It never touches a configured deployment and leaves no
process behind.
"""

from __future__ import annotations

import shutil
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import SecretStr
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from catalog.designer import palette, step_status
from executor.api import Executor, InvocationHandle
from executor.app import ExecutorRuntime
from executor.embedded import EmbeddedWorker
from executor.results import InvocationResult
from executor.settings import Settings
from patchbay.sandboxes import SandboxRun, start_sandbox
from recipes import RECIPES, RecipeFailed, RecipeRun, StepFailed, StepRecord
from store import connections as conn
from store.calendars import connect_calendar
from store.tenants import create_tenant
from store.users import create_user

DEMO_TENANT = "demo"
# The RMM tiles the demo connects and disconnects: (palette group, label).
RMM_TILES = (("app:ninjaone", "NinjaOne"), ("app:tacticalrmm", "Tactical RMM"))


def demo_settings(base: Settings | None = None) -> Settings:
    """Embedded settings rooted in the demo's own data directory."""
    base = base or Settings()
    return Settings(
        data_dir=base.data_dir / "demo",
        database_url=None,
        broker_url="memory://",
        result_backend="cache+memory://",
        redis_url=None,
        retry_backoff=0.2,
        sandbox=True,  # the demo's vendors are the fakes on loopback
    )


@contextmanager
def _running(settings: Settings) -> Iterator[tuple[ExecutorRuntime, Executor, SandboxRun]]:
    sandbox = start_sandbox(script_result_delay=2.0)
    runtime = ExecutorRuntime(settings)
    worker: EmbeddedWorker | None = None
    try:
        runtime.store.ensure_schema(settings)
        worker = EmbeddedWorker(runtime.app, concurrency=2).start()
        yield runtime, Executor(runtime), sandbox
    finally:
        if worker is not None:
            worker.stop()
        runtime.close()
        sandbox.stop()


class Demo:
    """The walk-through's steps, printing as it goes."""

    def __init__(self, console: Console, settings: Settings) -> None:
        self.console = console
        self.settings = settings
        self.started = time.monotonic()

    def say(self, text: str) -> None:
        elapsed = time.monotonic() - self.started
        self.console.print(f"[dim]{elapsed:5.1f}s[/] {text}")

    def show_palette(self, runtime: ExecutorRuntime, title: str) -> list[str]:
        with runtime.store.sessions() as session:
            records = palette(runtime.catalog, session, DEMO_TENANT)
        table = Table("group", "label", "actions", title=title)
        for r in records:
            table.add_row(r.group_key, r.label, ", ".join(a.id for a in r.actions))
        self.console.print(table)
        return [r.group_key for r in records]

    def step(
        self, executor: Executor, label: str, action: str, inp: dict[str, Any], key: str
    ) -> InvocationResult:
        handle: InvocationHandle = executor.enqueue(
            action, tenant_id=DEMO_TENANT, input=inp, idempotency_key=key
        )
        outcome = handle.wait(45)
        colour = "green" if outcome.succeeded else "red"
        self.say(
            f"[{colour}]{outcome.status}[/] {label} [dim]({action}, attempt {outcome.attempt})[/]"
        )
        return outcome

    def recipe_step(self, record: StepRecord) -> None:
        colour = "green" if record.succeeded else "red"
        how = ", replayed" if record.replayed else ""
        self.say(
            f"[{colour}]{record.status}[/] {escape(record.path)} "
            f"[dim]({record.action_id}, {record.duration:.1f}s{how})[/]"
        )

    def ledger(self, executor: Executor) -> None:
        table = Table("key", "action", "status", "attempt", title="Invocation ledger")
        for r in reversed(executor.invocations(DEMO_TENANT)):
            table.add_row(r.key, f"{r.action_id}@{r.version}", r.status, str(r.attempt))
        self.console.print(table)


def run_demo(console: Console, settings: Settings | None = None) -> int:
    """Run the demo; returns the process exit code (0 when every expectation held)."""
    settings = settings or demo_settings()
    shutil.rmtree(settings.data_dir, ignore_errors=True)
    demo = Demo(console, settings)
    console.rule("patchbay demo (embedded: SQLite, in-process Celery worker, fake vendors)")
    problems: list[str] = []
    with _running(settings) as (runtime, executor, sandbox):
        demo.say(f"data directory {settings.data_dir}")
        demo.say(
            f"sandbox: NinjaOne at {sandbox.url('ninjaone')}, Microsoft 365 at "
            f"{sandbox.url('microsoft')}, Tactical RMM at {sandbox.url('tacticalrmm')}"
        )
        with runtime.store.sessions.begin() as session:
            create_tenant(session, DEMO_TENANT, "Demo MSP")
        demo.say(f"created tenant [bold]{DEMO_TENANT}[/]")
        before = demo.show_palette(runtime, "Palette before connecting anything")
        for group, label in RMM_TILES:
            if group in before:
                problems.append(f"{label} tile shown before connecting")

        seed = sandbox.seeds["ninjaone"]
        with runtime.store.sessions.begin() as session:
            conn.connect(session, DEMO_TENANT, "ninjaone", instance_url=sandbox.url("ninjaone"))
            for name, value in (
                ("ninjaone_client_id", seed["client_id"]),
                ("ninjaone_client_secret", seed["client_secret"]),
                ("ninjaone_refresh_token", seed["refresh_token"]),
            ):
                runtime.store.secrets.database.set_in(session, DEMO_TENANT, name, SecretStr(value))
        demo.say("connected NinjaOne (patchbay connect ninjaone ...)")
        after = demo.show_palette(runtime, "Palette after connecting NinjaOne")
        if "app:ninjaone" not in after:
            problems.append("NinjaOne tile missing after connecting")

        console.rule("Step by step: a device, its scripts, a script's result, an alert")
        run = f"demo-{uuid.uuid4().hex[:6]}"
        found = demo.step(
            executor,
            "find devices (live)",
            "ninjaone.devices.find",
            {"live": True, "limit": 10},
            f"{run}:root.steps[0]",
        )
        devices = (found.output or {}).get("devices", [])
        for d in devices:
            online = {True: "online", False: "offline", None: "unknown"}[d["agent_online"]]
            console.print(f"       {d['external_device_id']:>3}  {d['hostname']:<16} {online}")
        laptop = next(
            (d for d in devices if d["hostname"] == "CONTOSO-LT042"),
            devices[0] if devices else None,
        )
        if laptop is None:
            problems.append("no device found")
            return _finish(console, demo, problems)
        device_id = int(laptop["external_device_id"])
        options = demo.step(
            executor,
            f"scripting options of {laptop['hostname']}",
            "ninjaone.devices.scripting_options",
            {"device_id": device_id},
            f"{run}:root.steps[1]",
        )
        scripts = [s for s in (options.output or {}).get("scripts", []) if s["type"] == "SCRIPT"]
        for s in (options.output or {}).get("scripts", []):
            console.print(f"       {s['type']:<6} {s['name']}")
        script = next((s for s in scripts if s["name"] == "Clear temp files"), None)
        if script is None:
            problems.append("'Clear temp files' not offered")
            return _finish(console, demo, problems)
        demo.say(
            "running 'Clear temp files' and waiting for its result (the worker is freed meanwhile)"
        )
        ran = demo.step(
            executor,
            "run script, wait for result",
            "ninjaone.devices.run_script",
            {
                "device_id": device_id,
                "script_id": script["id"],
                "wait_for_result": True,
                "timeout_seconds": 60,
            },
            f"{run}:root.steps[2]",
        )
        console.print(f"       output: {(ran.output or {}).get('output')!r}")
        alerts = demo.step(
            executor,
            "active alerts (live)",
            "ninjaone.alerts.list_active",
            {"live": True},
            f"{run}:root.steps[3]",
        )
        alert = next(
            (
                a
                for a in (alerts.output or {}).get("alerts", [])
                if a["device_id"] == str(device_id)
            ),
            None,
        )
        if alert is None:
            problems.append("no alert on the laptop")
            return _finish(console, demo, problems)
        reset_input = {"external_alert_id": alert["external_alert_id"]}
        reset = demo.step(
            executor,
            f"acknowledge alert '{alert['message']}'",
            "ninjaone.alerts.reset",
            reset_input,
            f"{run}:root.steps[4]",
        )
        for outcome in (found, options, ran, alerts, reset):
            if not outcome.succeeded:
                problems.append(f"{outcome.action_id} {outcome.status}: {outcome.error}")

        console.rule("The same step twice, one key")
        runs_before = len(sandbox.ninjaone.script_runs)
        twice = [
            demo.step(
                executor,
                f"run script (delivery {n})",
                "ninjaone.devices.run_script",
                {"device_id": device_id, "script_id": script["id"]},
                f"{run}:root.steps[5]",
            )
            for n in (1, 2)
        ]
        calls = len(sandbox.ninjaone.script_runs) - runs_before
        demo.say(f"NinjaOne received [bold]{calls}[/] script run for 2 deliveries of one key")
        if calls != 1 or twice[0].output != twice[1].output:
            problems.append(f"expected one vendor call, saw {calls}")

        if not _tactical_rmm(demo, runtime, executor, sandbox, run, problems):
            return _finish(console, demo, problems)

        console.rule("Core scheduling: an entry lands in the technician's calendar")
        ms = sandbox.seeds["microsoft"]
        upn = ms["users"][0]["userPrincipalName"]
        with runtime.store.sessions.begin() as session:
            tech = create_user(session, DEMO_TENANT, "adele", technician=True).user_id
            connect_calendar(
                session,
                DEMO_TENANT,
                tech,
                provider="microsoft",
                account=upn,
                settings={
                    "aad_tenant": ms["tenant_id"],
                    "login_url": sandbox.url("microsoft"),
                    "graph_url": sandbox.url("microsoft"),
                },
            )
            for name, value in (
                ("microsoft_client_id", ms["client_id"]),
                ("microsoft_client_secret", ms["client_secret"]),
            ):
                runtime.store.secrets.database.set_in(session, DEMO_TENANT, name, SecretStr(value))
        start = (datetime.now(UTC) + timedelta(days=1)).replace(minute=0, second=0, microsecond=0)
        entry = demo.step(
            executor,
            "put adele on the dispatch board",
            "scheduling.create_entry",
            {
                "assigned_user_ids": [str(tech)],
                "title": f"On-site: {laptop['hostname']}",
                "window": {
                    "start": start.isoformat(),
                    "end": (start + timedelta(hours=1)).isoformat(),
                },
            },
            f"{run}:root.steps[8]",
        )
        events = _wait_for_event(sandbox, upn)
        if entry.succeeded and events:
            when = events[0]["start"]["dateTime"]
            demo.say(f"calendar of {upn}: [bold]{events[0]['subject']}[/] at {when} UTC")
        else:
            problems.append("the schedule entry did not reach the calendar")

        console.rule("Disconnect")
        with runtime.store.sessions.begin() as session:
            conn.disconnect(session, DEMO_TENANT, "ninjaone")
            conn.disconnect(session, DEMO_TENANT, "tacticalrmm")
        demo.say("disconnected NinjaOne and Tactical RMM (patchbay disconnect ...)")
        final = demo.show_palette(runtime, "Palette after disconnecting")
        for group, label in RMM_TILES:
            if group in final:
                problems.append(f"{label} tile still shown after disconnecting")
        with runtime.store.sessions() as session:
            status = step_status(
                runtime.catalog, session, DEMO_TENANT, action_id="ninjaone.alerts.reset"
            )
        demo.say(f"existing step: badge [yellow]{status.badge}[/], banner '{status.banner}'")
        again = demo.step(
            executor,
            "the alert reset again",
            "ninjaone.alerts.reset",
            reset_input,
            f"{run}-rerun:root.steps[4]",
        )
        code = (again.error or {}).get("code")
        demo.say(f"→ {code}: {(again.error or {}).get('message')}")
        if code != "INTEGRATION_INACTIVE":
            problems.append(f"expected INTEGRATION_INACTIVE, got {code}")
        _disk_full_recipe(
            demo, runtime, executor, sandbox, device_id, laptop["hostname"], script["id"], problems
        )
        demo.ledger(executor)
    return _finish(console, demo, problems)


def _tactical_rmm(
    demo: Demo,
    runtime: ExecutorRuntime,
    executor: Executor,
    sandbox: SandboxRun,
    run: str,
    problems: list[str],
) -> bool:
    """A second RMM joins the palette: connect Tactical RMM, find its agents, run a command.

    False when the demo cannot go on (no agent to run the command on).
    """
    demo.console.rule("A second RMM: Tactical RMM joins the palette")
    with runtime.store.sessions.begin() as session:
        conn.connect(session, DEMO_TENANT, "tacticalrmm", instance_url=sandbox.url("tacticalrmm"))
        runtime.store.secrets.database.set_in(
            session,
            DEMO_TENANT,
            "tacticalrmm_api_key",
            SecretStr(sandbox.seeds["tacticalrmm"]["api_key"]),
        )
    demo.say("connected Tactical RMM (patchbay connect tacticalrmm ...)")
    tiles = demo.show_palette(runtime, "Palette after connecting Tactical RMM")
    if "app:tacticalrmm" not in tiles:
        problems.append("Tactical RMM tile missing after connecting")
    found = demo.step(
        executor,
        "find agents (live)",
        "tacticalrmm.agents.find",
        {"live": True, "limit": 10},
        f"{run}:root.steps[6]",
    )
    agents = (found.output or {}).get("agents", [])
    for a in agents:
        demo.console.print(f"       {a['hostname']:<16} {a['os_name']}")
    server = next((a for a in agents if a["hostname"] == "CONTOSO-DC01"), None)
    if server is None:
        problems.append(f"no Tactical RMM agent CONTOSO-DC01 ({found.status}: {found.error})")
        return False
    ran = demo.step(
        executor,
        f"run `hostname` on {server['hostname']}",
        "tacticalrmm.agents.run_command",
        {"agent_id": server["agent_id"], "command": "hostname", "shell": "cmd"},
        f"{run}:root.steps[7]",
    )
    demo.console.print(f"       output: {(ran.output or {}).get('output')!r}")
    for outcome in (found, ran):
        if not outcome.succeeded:
            problems.append(f"{outcome.action_id} {outcome.status}: {outcome.error}")
    return True


def _disk_full_recipe(
    demo: Demo,
    runtime: ExecutorRuntime,
    executor: Executor,
    sandbox: SandboxRun,
    device_id: int,
    hostname: str,
    script_id: int,
    problems: list[str],
) -> None:
    """The finale: NinjaOne is back, the laptop's disk fills up again, the recipe heals it.

    ``patchbay recipe run disk-full`` in-process: a ticket, the cleanup script
    and its output on the ticket, the alert reset and the ticket closed. Then
    the same run id again: every step is replayed from the ledger and
    NinjaOne hears nothing new.
    """
    demo.console.rule("Recipe: disk-full self-heal (patchbay recipe run disk-full)")
    with runtime.store.sessions.begin() as session:
        conn.connect(session, DEMO_TENANT, "ninjaone", instance_url=sandbox.url("ninjaone"))
    alert = sandbox.ninjaone.add_alert(
        device_id,
        message="Disk C: has less than 5% free space",
        source_type="CONDITION_AGENT_DISK_FREE_SPACE",
        source_name="Disk free space",
    )
    demo.say(f"reconnected NinjaOne; new alert on {hostname}: {alert['message']}")
    recipe = RECIPES["disk-full"]
    data = {
        "device_id": str(device_id),
        "script_id": script_id,
        "alert_id": alert["uid"],
        "hostname": hostname,
    }
    run_id = f"demo-disk-full-{uuid.uuid4().hex[:6]}"
    runs_before = len(sandbox.ninjaone.script_runs)
    resets_before = len(sandbox.ninjaone.alert_resets)
    outcomes = []
    for attempt in ("first run", "the same run id again"):
        demo.say(f"recipe disk-full, {attempt} ({run_id})")
        run = RecipeRun(executor, DEMO_TENANT, run_id, on_step=demo.recipe_step)
        try:
            outcomes.append(recipe.execute(run, data))
        except (StepFailed, RecipeFailed) as exc:
            problems.append(f"recipe disk-full: {exc}")
            return
    outcome = outcomes[0]
    done = [
        f"ticket {outcome['ticket_number']} " + ("closed" if outcome["ticket_closed"] else "open"),
        "alert reset" if outcome["alert_reset"] else "alert still active",
    ]
    verdict = "fixed" if outcome["fixed"] else "not fixed"
    demo.say(f"→ {verdict} ({outcome['why']}): {', '.join(done)}")
    runs = len(sandbox.ninjaone.script_runs) - runs_before
    resets = len(sandbox.ninjaone.alert_resets) - resets_before
    demo.say(f"NinjaOne received [bold]{runs}[/] script run and {resets} alert reset for 2 runs")
    if not (outcome["fixed"] and outcome["ticket_closed"] and outcome["alert_reset"]):
        problems.append(f"the disk-full recipe did not heal the disk: {outcome}")
    replayed = all(step.replayed for step in run.steps)
    if (runs, resets) != (1, 1) or outcomes[1] != outcome or not replayed:
        problems.append(f"the recipe's second run was not a replay: {runs} runs, {resets} resets")


def _wait_for_event(sandbox: SandboxRun, upn: str, timeout: float = 20.0) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        events = sandbox.microsoft.events(upn)
        if events:
            return events
        time.sleep(0.1)
    return []


def _finish(console: Console, demo: Demo, problems: list[str]) -> int:
    elapsed = time.monotonic() - demo.started
    if problems:
        console.rule("[red]demo finished with problems")
        for problem in problems:
            console.print(f"[red]- {problem}")
        return 1
    console.rule(f"[green]demo done in {elapsed:.1f}s")
    return 0
