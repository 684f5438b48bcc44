"""``patchbay recipe list|run``: the recipes of ``recipes/``, run step by step through the executor.

``run`` prints each step as it ends (status, path, action, duration, whether
it was replayed from the ledger, its key), then the outcome. Exit 0 when the
recipe finished, 1 when a step failed (its error payload and the exact
command that resumes the run are printed) or the recipe stopped, 2 bad
usage, 130 interrupted (Ctrl-C; the same command resumes it).
On the embedded default it starts an in-process worker, as ``patchbay run``.
"""

from __future__ import annotations

import json
import shlex
import sys
import time
import uuid
from typing import TYPE_CHECKING, Annotated, Any

import typer

from patchbay.cli.common import (
    JsonFlag,
    TenantOption,
    UsageError,
    executor_runtime,
    fail_usage,
    load_settings,
    print_json,
    require_tenant_or_exit,
)

if TYPE_CHECKING:
    from recipes import Recipe, StepRecord


def _recipe(name: str) -> Recipe[Any]:
    from recipes import RECIPES

    found = RECIPES.get(name)
    if found is None:
        fail_usage(f"no recipe {name!r}; the recipes are: {', '.join(RECIPES)}")
    return found


def _fields(recipe: Recipe[Any]) -> str:
    """The input's fields, required ones first and marked with ``*``."""
    fields = recipe.input_model.model_fields
    required = [f"{n}*" for n, f in fields.items() if f.is_required()]
    return " ".join(required + [n for n, f in fields.items() if not f.is_required()])


def list_cmd(as_json: JsonFlag = False) -> None:
    """The recipes: name, what each does, its input fields (* required)."""
    from recipes import RECIPES

    if as_json:
        print_json(
            [
                {"name": r.name, "summary": r.summary, "input": r.input_model.model_json_schema()}
                for r in RECIPES.values()
            ]
        )
        return
    from patchbay.cli.common import stdout
    from patchbay.cli.tables import FitTable

    table = FitTable(("recipe", "what it does", "input (* required)"), idents=("recipe",))
    for r in RECIPES.values():
        table.add(r.name, r.summary, _fields(r))
    table.print(stdout)


def step_line(record: StepRecord) -> str:
    """One step as ``run`` prints it: status, path, action, duration, how, then its key."""
    how = ""
    if record.replayed:
        how = ", replayed"
    elif record.resumed:
        how = ", run again"
    if record.accepted:
        how += f", {record.code}: passed over"
    return (
        f"{record.status:<9} {record.path} ({record.action_id}, {record.duration:.1f}s{how})\n"
        f"          key {record.key}"
    )


def resume_command(name: str, tenant: str, input_arg: str, data: Any, run_id: str | None) -> str:
    """The exact command that runs the recipe again with the same input (and run id)."""
    given = input_arg if input_arg.startswith("@") else json.dumps(data, separators=(",", ":"))
    command = (
        f"patchbay recipe run {name} --tenant {shlex.quote(tenant)} --input {shlex.quote(given)}"
    )
    return command if run_id is None else f"{command} --run-id {shlex.quote(run_id)}"


def run_cmd(
    name: Annotated[str, typer.Argument(help="The recipe, e.g. disk-full (patchbay recipe list).")],
    tenant: TenantOption,
    input_: Annotated[
        str, typer.Option("--input", "-i", help="Input as JSON, @file.json, or - for stdin.")
    ] = "{}",
    run_id: Annotated[
        str | None,
        typer.Option(
            "--run-id",
            help="Run id: the same one again resumes the run (finished steps are replayed). "
            "Default: a new one.",
        ),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Run a recipe step by step, printing each step and the outcome (exit 0, 1 failed, 2 usage)."""
    from patchbay.cli.runner import read_input

    recipe = _recipe(name)
    try:
        data = read_input(input_)
    except UsageError as exc:
        fail_usage(str(exc))
    from recipes import RecipeInputError

    try:
        recipe.parse(data)
    except RecipeInputError as exc:
        fail_usage(f"recipe {name}: {exc}")
    if run_id is not None and not run_id.strip():
        fail_usage("--run-id must not be empty")
    run_id = run_id or f"{name}-{uuid.uuid4().hex[:12]}"
    settings = load_settings()
    runtime = executor_runtime("patchbay recipe run", allow_embedded=True, settings=settings)
    try:
        with runtime.store.sessions() as session:
            require_tenant_or_exit(session, tenant)
        code = _run(recipe, runtime, tenant, run_id, data, input_, as_json=as_json)
    finally:
        runtime.close()
    raise typer.Exit(code)


def _run(
    recipe: Recipe[Any],
    runtime: Any,
    tenant: str,
    run_id: str,
    data: dict[str, Any],
    input_arg: str,
    *,
    as_json: bool,
) -> int:
    """Run the recipe with an in-process worker when embedded; the exit code (0, 1, 130)."""
    from executor.api import EnqueueFailed, Executor
    from executor.embedded import EmbeddedWorker
    from patchbay.cli.errors import describe
    from patchbay.cli.runner import wait_for_follow_ups, wait_for_outcome
    from recipes import RecipeFailed, RecipeRun, StepFailed

    executor = Executor(runtime)
    embedded = runtime.settings.embedded

    def say(text: str) -> None:
        if not as_json:
            typer.echo(text)

    resume = resume_command(recipe.name, tenant, input_arg, data, run_id)
    code = 1

    def waiter(handle: Any, timeout: float) -> Any:
        consumers = None if embedded else runtime.consumer_count
        return wait_for_outcome(handle, timeout, consumers=consumers)

    run = RecipeRun(
        executor,
        tenant,
        run_id,
        on_step=lambda record: say(step_line(record)),
        wait=waiter,
        actor=f"recipe {recipe.name} ({run_id})",
    )
    verb = "resuming" if run.resuming else "running"
    say(f"{verb} recipe {recipe.name} for {tenant}, run {run_id}")
    started = time.monotonic()
    worker = EmbeddedWorker(runtime.app).start() if embedded else None
    report: dict[str, Any] = {"recipe": recipe.name, "tenant_id": tenant, "run_id": run_id}
    try:
        try:
            outcome = recipe.execute(run, data)
        except StepFailed as exc:
            report |= {"status": "failed", "error": exc.record.error, "message": exc.message}
            report |= {"failed_step": exc.record.path, "key": exc.record.key, "hint": exc.hint}
            if exc.record.code == "IDEMPOTENCY_CONFLICT":  # the input changed: a new run
                resume = resume_command(recipe.name, tenant, input_arg, data, None)
        except RecipeFailed as exc:
            report |= {"status": "stopped", "message": str(exc)}
        except EnqueueFailed as exc:
            if describe(exc) is not None:
                raise  # the broker does not answer: one line, exit 2 (config_errors)
            report |= {"status": "failed", "message": str(exc), "hint": "send it again"}
        except KeyboardInterrupt:
            report |= {"status": "interrupted", "message": "interrupted"}
            report["hint"] = "a step already sent goes on, or is picked up by the next run"
            code = 130
        else:
            report |= {"status": "succeeded", "outcome": outcome}
            code = 0
        if worker is not None and code != 130:
            # In-process, the worker stops with this command: let the steps the recipe's
            # outcomes triggered (outbox subscriptions, e.g. calendar sync) finish first.
            wait_for_follow_ups(executor, tenant, 60.0)
    finally:
        if worker is not None:
            worker.stop()
    report["steps"] = [_step_json(s) for s in run.steps]
    report["resume"] = None if report["status"] == "succeeded" else resume
    if as_json:
        print_json(report)
    else:
        _print_report(report, run, time.monotonic() - started)
    return code


def _step_json(record: StepRecord) -> dict[str, Any]:
    return {
        "path": record.path,
        "action_id": record.action_id,
        "key": record.key,
        "status": record.status,
        "attempt": record.attempt,
        "duration": round(record.duration, 3),
        "replayed": record.replayed,
        "resumed": record.resumed,
        "accepted": record.accepted,
        "output": record.output,
        "error": record.error,
    }


def _print_report(report: dict[str, Any], run: Any, elapsed: float) -> None:
    replayed = sum(1 for s in run.steps if s.replayed)
    counts = f"{len(run.steps)} steps, {replayed} replayed from the ledger"
    name = report["recipe"]
    if report["status"] == "succeeded":
        typer.echo(f"recipe {name} succeeded in {elapsed:.1f}s ({counts}); outcome:")
        typer.echo(json.dumps(report["outcome"], indent=2))
        return
    typer.echo(f"recipe {name} {report['status']} ({counts}): {report['message']}")
    if report.get("error") is not None:
        typer.echo("error payload:")
        typer.echo(json.dumps(report["error"], indent=2))
    typer.echo(f"to resume ({report['hint']}):" if report.get("hint") else "to run it again:")
    typer.echo(f"  {report['resume']}")
    sys.stdout.flush()
