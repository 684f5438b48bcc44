"""The ledger, step by step: ``invocations`` and ``step show|cancel|retry``.

``invocations`` lists a tenant's steps, filtered in the ledger query; ``step
show`` shows one in full with its attempt history; ``step cancel`` ends a
waiting or queued step; ``step retry`` runs an ended one again after an
explicit confirmation. A key is always looked up within ``--tenant``: another
tenant's key is unknown. The rules themselves are the executor's
(``executor.control``); these commands read options and print.
"""

from __future__ import annotations

import getpass
import json
import re
import socket
import sys
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Any

import typer

from patchbay.cli.common import (
    JsonFlag,
    TenantOption,
    UsageError,
    executor_runtime,
    fail_usage,
    print_json,
    require_tenant_or_exit,
    stdout,
)
from patchbay.cli.tables import FitTable, WideFlag

if TYPE_CHECKING:
    from executor.api import Executor
    from executor.results import InvocationResult, StepDetail

KeyArgument = Annotated[str, typer.Argument(help="The step's idempotency key.")]
# What a table cell shows of an output value or an error message at most.
CELL_TEXT = 60
VALUE_TEXT = 24
_DURATION = re.compile(r"^(\d+)([smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


# -- option parsing ------------------------------------------------------------------


def parse_statuses(values: list[str] | None) -> list[str]:
    """``--status`` values (repeatable, or comma lists), upper-cased and checked."""
    from store.models import INVOCATION_STATUSES

    chosen: list[str] = []
    for value in values or []:
        for part in value.split(","):
            status = part.strip().upper()
            if status not in INVOCATION_STATUSES:
                known = ", ".join(INVOCATION_STATUSES)
                raise UsageError(f"--status: unknown status {part.strip()!r} (known: {known})")
            if status not in chosen:
                chosen.append(status)
    return chosen


def parse_since(value: str | None, now: datetime) -> datetime | None:
    """``--since``: an ISO time (UTC unless it names a zone) or a duration back from ``now``."""
    if value is None:
        return None
    text = value.strip()
    match = _DURATION.match(text)
    if match:
        return now - timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(
            f"--since: expected an ISO time (2026-11-28T12:00) or a duration such as "
            f"15m, 2h, 1d, not {value!r}"
        ) from None
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


# -- rendering -----------------------------------------------------------------------


def _trim(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _when(at: datetime | str | None, *, short: bool = False, clock: bool = False) -> str:
    """A UTC time as ``2026-11-28 12:00:05`` (``11-28 12:00:05`` when ``short``,
    ``12:00:05`` when ``clock``)."""
    if at is None:
        return "-"
    moment = datetime.fromisoformat(at) if isinstance(at, str) else at
    pattern = "%H:%M:%S" if clock else "%m-%d %H:%M:%S" if short else "%Y-%m-%d %H:%M:%S"
    return moment.astimezone(UTC).strftime(pattern)


def values_text(output: dict[str, Any] | None, limit: int = CELL_TEXT) -> str:
    """Output values as compact ``k=v`` pairs (each value and the whole trimmed)."""
    pairs = []
    for name, value in (output or {}).items():
        shown = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
        pairs.append(f"{name}={_trim(shown, VALUE_TEXT)}")
    return _trim(" ".join(pairs), limit) if pairs else "-"


def error_text(error: dict[str, Any] | None, limit: int = CELL_TEXT) -> str:
    if not error:
        return "-"
    return _trim(f"{error.get('code')}: {error.get('message', '')}", limit)


def outcome_text(result: InvocationResult) -> str:
    """What a step came to, in one table cell."""
    if result.status == "SUCCEEDED":
        return values_text(result.output)
    if result.status == "WAITING":
        last = f" (after {result.error.get('code')})" if result.error else ""
        why = f": {result.waiting_for}" if result.waiting_for else ""
        return f"waiting{last}{why}"
    if result.status in ("QUEUED", "STARTED"):
        return "queued" if result.status == "QUEUED" else "running"
    return error_text(result.error)


def _duration(entry: dict[str, Any]) -> str:
    if "ended_at" not in entry:
        return "running"
    seconds = (
        datetime.fromisoformat(entry["ended_at"]) - datetime.fromisoformat(entry["started_at"])
    ).total_seconds()
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes}m{rest:02d}s" if minutes < 60 else f"{minutes // 60}h{minutes % 60:02d}m"


def entry_result(entry: dict[str, Any]) -> str:
    """How a history entry ended: the result, what it waited for, its error."""
    result = entry.get("result")
    if result is None:
        return "running"
    parts = [str(result)]
    wait = entry.get("wait")
    if wait:
        parts.append(f"{wait.get('kind')} due {_when(wait.get('due_at'), clock=True)}")
        if wait.get("note"):
            parts.append(str(wait["note"]))
    if entry.get("error"):
        parts.append(error_text(entry["error"]))
    if entry.get("note"):
        parts.append(str(entry["note"]))
    return " · ".join(parts)


def history_table(detail: StepDetail) -> FitTable:
    columns = ("#", "phase", "started", "duration", "worker", "result")
    table = FitTable(columns, idents=columns[:-1], title="Attempts (UTC)")
    for entry in detail.history:
        table.add(
            str(entry.get("attempt", "-")),
            str(entry.get("phase", "-")),
            _when(entry.get("started_at"), short=True),
            _duration(entry),
            str(entry.get("worker", "-")),
            entry_result(entry),
        )
    return table


def _print_detail(detail: StepDetail, *, wide: bool) -> None:
    lines = [
        ("step", detail.key),
        ("action", f"{detail.action_id}@{detail.version}"),
        ("status", f"{detail.status} (attempt {detail.attempt})"),
        ("run / step", f"{detail.run_id or '-'} / {detail.step_path or '-'}"),
        ("created", _when(detail.created_at)),
        ("started", _when(detail.started_at)),
        ("completed", _when(detail.completed_at)),
        ("input", json.dumps(detail.input, sort_keys=True)),
    ]
    if detail.output is not None:
        lines.append(("output", values_text(detail.output, limit=10_000)))
    if detail.error is not None:
        lines.append(("error", error_text(detail.error, limit=10_000)))
    if detail.wait is not None:
        due = f"{detail.wait['kind']}, due {_when(detail.next_check_at)}"
        if detail.deadline_at is not None:
            due += f", deadline {_when(detail.deadline_at)}"
        lines.append(("waiting", due))
    for label, value in lines:
        stdout.print(f"{label:<11}{value}", markup=False, highlight=False, soft_wrap=wide)
    stdout.print()
    if detail.history:
        history_table(detail).print(stdout, wide=wide)
    else:
        stdout.print("No attempt yet.")


# -- the commands --------------------------------------------------------------------


def _executor(what: str, tenant: str, *, allow_embedded: bool = True) -> tuple[Any, Executor]:
    """The executor runtime for a command on ``tenant`` (which must exist)."""
    from executor.api import Executor

    runtime = executor_runtime(what, allow_embedded=allow_embedded)
    try:
        with runtime.store.sessions() as session:
            require_tenant_or_exit(session, tenant)
    except BaseException:
        runtime.close()
        raise
    return runtime, Executor(runtime)


def operator_name() -> str:
    """Who acts (``user@host``), for the step's history and its CANCELLED error."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "operator"
    return f"{user}@{socket.gethostname()}"


def invocations_cmd(
    tenant: TenantOption,
    run: Annotated[str | None, typer.Option("--run", help="Only this workflow run.")] = None,
    status: Annotated[
        list[str] | None,
        typer.Option(
            "--status", help="Only these statuses (repeatable, or comma-separated), e.g. FAILED."
        ),
    ] = None,
    since: Annotated[
        str | None,
        typer.Option(
            "--since", help="Only steps created or changed since: an ISO time, or 15m, 2h, 1d."
        ),
    ] = None,
    action: Annotated[str | None, typer.Option("--action", help="Only this action id.")] = None,
    limit: Annotated[int, typer.Option("--limit", help="At most this many (newest first).")] = 50,
    as_json: JsonFlag = False,
    wide: WideFlag = False,
) -> None:
    """The invocation ledger of a tenant: every step, its status, attempt and outcome."""
    try:
        statuses = parse_statuses(status)
        since_at = parse_since(since, datetime.now(UTC))
        if limit <= 0:
            raise UsageError(f"--limit must be more than 0, not {limit}")
    except UsageError as exc:
        fail_usage(str(exc))
    runtime, executor = _executor("patchbay invocations", tenant)
    try:
        rows = executor.invocations(
            tenant, run_id=run, statuses=statuses, since=since_at, action_id=action, limit=limit
        )
    finally:
        runtime.close()
    if as_json:
        print_json([r.model_dump(mode="json") for r in rows])
        return
    if not rows:
        stdout.print(f"No steps of {tenant} match.")
        return
    _invocations_table(rows, f"Invocations of {tenant} (UTC)", wide=wide).print(stdout, wide=wide)


def _invocations_table(rows: list[InvocationResult], title: str, *, wide: bool) -> FitTable:
    """One row per step. At 80 columns a cell holds two lines (key and action, status and
    attempt, created and updated time); ``--wide`` gives each its own column."""
    columns = ("key", "action", "status", "attempt", "created", "updated", "outcome")
    if wide:
        table = FitTable(columns, idents=("key", "action"), title=title)
    else:
        # Every column gives way alike (widest first): status and times never fold.
        compact = ("step", "status", "created\nupdated", "outcome")
        table = FitTable(compact, idents=compact, title=title)
    for r in rows:
        cells = (
            r.key,
            f"{r.action_id}@{r.version}",
            r.status,
            str(r.attempt),
            _when(r.created_at, short=not wide),
            _when(r.completed_at or r.updated_at, short=not wide),
            outcome_text(r),
        )
        if wide:
            table.add(*cells)
        else:
            key, action, status, attempt, created, updated, outcome = cells
            table.add(
                f"{key}\n{action}", f"{status}\nattempt {attempt}", f"{created}\n{updated}", outcome
            )
    return table


def step_show(
    key: KeyArgument, tenant: TenantOption, as_json: JsonFlag = False, wide: WideFlag = False
) -> None:
    """One step in full: action, status, input, outcome, wait and attempt history."""
    from executor.control import StepRefused

    runtime, executor = _executor("patchbay step show", tenant)
    try:
        detail = executor.step(key, tenant)
    except StepRefused as exc:
        fail_usage(str(exc))
    finally:
        runtime.close()
    if as_json:
        print_json(detail.model_dump(mode="json"))
        return
    _print_detail(detail, wide=wide)


def step_cancel(key: KeyArgument, tenant: TenantOption) -> None:
    """Cancel a WAITING or QUEUED step: it ends CANCELLED and its pending re-check runs nothing."""
    from executor.control import StepRefused

    runtime, executor = _executor("patchbay step cancel", tenant)
    try:
        done = executor.cancel(key, tenant, by=operator_name())
    except StepRefused as exc:
        fail_usage(str(exc))
    finally:
        runtime.close()
    # The error says who cancelled it, when, and in which state.
    message = (done.error or {}).get("message", "")
    typer.echo(f"cancelled: step {done.key}: {message}")


def _confirm_retry(detail: StepDetail, warning: str | None, yes: bool) -> None:
    """An explicit yes before running a step again: ``--yes``, or a prompt on a terminal."""
    if yes:
        if warning is not None:
            typer.echo(f"warning: {warning}", err=True)
        return
    if not sys.stdin.isatty():
        fail_usage(f"step retry asks for confirmation: pass --yes to run step {detail.key} again")
    last = error_text(detail.error, 10_000)
    prompt = f"Run step {detail.key} ({detail.action_id}@{detail.version}, {last}) again?"
    if warning is not None:
        prompt = f"Warning: {warning}.\n{prompt}"
    typer.confirm(prompt, abort=True, err=True)


def step_retry(
    key: KeyArgument,
    tenant: TenantOption,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    no_wait: Annotated[
        bool, typer.Option("--no-wait", help="Queue it again and print the key.")
    ] = False,
    timeout: Annotated[
        float, typer.Option("--timeout", help="Seconds to wait (more than 0).")
    ] = 120.0,
) -> None:
    """Run an ended step (FAILED or CANCELLED) again after confirmation, with a fresh budget.

    Waits and prints the outcome as ``patchbay run`` does (exit 0 SUCCEEDED, 1 FAILED).
    """
    from executor.api import EnqueueFailed
    from executor.control import StepRefused
    from executor.embedded import EmbeddedWorker
    from patchbay.cli.progress import ProgressReporter
    from patchbay.cli.runner import wait_for_outcome

    if not timeout > 0:
        fail_usage(f"--timeout must be more than 0 seconds, not {timeout:g}")
    runtime, executor = _executor(
        "patchbay step retry --no-wait", tenant, allow_embedded=not no_wait
    )
    worker = None
    try:
        try:
            detail, warning = executor.retry_preview(key, tenant)
            _confirm_retry(detail, warning, yes)
            if runtime.settings.embedded:
                worker = EmbeddedWorker(runtime.app).start()
            handle = executor.retry(key, tenant, by=operator_name())
        except StepRefused as exc:
            fail_usage(str(exc))
        except EnqueueFailed as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(1) from None
        typer.echo(
            f"retrying: step {handle.key} (queued again with a fresh attempt budget)", err=True
        )
        if no_wait:
            print_json({"key": handle.key, "tenant_id": tenant, "sent": handle.sent})
            return
        reporter = ProgressReporter(sys.stderr, key=handle.key) if sys.stderr.isatty() else None
        try:
            outcome = wait_for_outcome(
                handle,
                timeout,
                reporter=reporter,
                consumers=runtime.consumer_count if worker is None else None,
            )
        except TimeoutError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(1) from None
    finally:
        if worker is not None:
            worker.stop()
        runtime.close()
    print_json(outcome.model_dump(mode="json"))
    raise typer.Exit(0 if outcome.succeeded else 1)
