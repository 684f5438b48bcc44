"""Commands that run the executor: ``run`` one action, a Celery ``worker``, ``flower``.

Celery and the executor are imported inside the commands, so that
``patchbay --help`` and the admin commands start without them.
"""

from __future__ import annotations

import json
import os
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Annotated, Any, cast

import typer

from actionkit.errors import ActionFailure
from patchbay.cli.common import (
    EMBEDDED_REFUSAL,
    TenantOption,
    UsageError,
    executor_runtime,
    fail_usage,
    load_settings,
    print_json,
)
from patchbay.cli.errors import describe
from patchbay.cli.progress import ProgressReporter

if TYPE_CHECKING:
    from catalog.registration import Catalog
    from executor.api import InvocationHandle
    from executor.results import InvocationResult
    from executor.settings import Settings


POOLS = ("threads", "prefork", "solo")
# Steps wait on vendors: with a 200 ms vendor, 16 threads ran at 0.85 of the ideal
# 80 steps/s on one process (benchmarks/pools.py); Celery's own default is one slot
# per CPU, which leaves a vendor-bound worker idle.
THREADS_CONCURRENCY = 16


def worker_cmd(
    queues: Annotated[
        str | None,
        typer.Option("--queues", "-Q", help="Comma-separated queues (default: every provider)."),
    ] = None,
    concurrency: Annotated[
        int | None,
        typer.Option(
            "--concurrency",
            "-c",
            help=(
                f"Steps at once (default: {THREADS_CONCURRENCY} threads; prefork: one child "
                "per CPU). Steps mostly wait on vendors: past about 32 threads one process "
                "is CPU-bound, so run one worker per core instead."
            ),
        ),
    ] = None,
    pool: Annotated[
        str,
        typer.Option(
            "--pool",
            help=(
                "threads (the default: vendor-bound steps, ~0.3 MB per slot), prefork "
                "(CPU-heavy actions; ~70 MB and 1-2 database connections per child), solo."
            ),
        ),
    ] = "threads",
    hostname: Annotated[
        str | None,
        typer.Option(
            "--hostname",
            "-n",
            help=(
                "Worker node name, e.g. billing@%h (%h: this host), so that several workers "
                "on one host are told apart. Default: Celery's celery@%h."
            ),
        ),
    ] = None,
    loglevel: Annotated[str, typer.Option("--loglevel", help="Log level.")] = "INFO",
) -> None:
    """Run a Celery worker for patchbay's queues (needs a shared broker)."""
    from executor import celery_settings, wire

    if pool not in POOLS:
        fail_usage(
            f"--pool {pool!r} is not supported (supported: {', '.join(POOLS)}); gevent and "
            "eventlet need monkey-patching before anything is imported, and the executor's "
            "per-action time limits do not fire under them"
        )
    if concurrency is not None and concurrency < 1:
        fail_usage(f"--concurrency must be at least 1, not {concurrency}")
    if concurrency is None and pool == "threads":
        concurrency = THREADS_CONCURRENCY
    runtime = executor_runtime("patchbay worker", allow_embedded=False)
    all_queues = [wire.queue_name(p) for p in celery_settings.providers(runtime.catalog)]
    argv = [
        "worker",
        f"--queues={queues or ','.join(all_queues)}",
        f"--pool={pool}",
        f"--loglevel={loglevel}",
        "--task-events",
    ]
    if concurrency is not None:
        argv.append(f"--concurrency={concurrency}")
    if hostname is not None:
        argv.append(f"--hostname={hostname}")
    # The checks above opened database connections; a prefork child must not
    # inherit them (two processes on one connection corrupt it). The runtime
    # reconnects lazily in whichever process needs the store next.
    runtime.close()
    runtime.app.worker_main(argv)


FLOWER_NO_AUTH_WARNING = (
    "warning: Flower runs without authentication, so its HTTP API answers 401; set "
    "PATCHBAY_FLOWER_BASIC_AUTH=user:password or pass --basic-auth-file PATH"
)


def _flower_credentials(path: Path | None, settings: Settings) -> list[str] | None:
    """``user:password`` entries from ``--basic-auth-file`` or the setting; None if neither.

    A file holds one entry per line or comma-separated ones (Flower's own
    format; so a password cannot contain a comma). Malformed entries exit 2
    without showing them.
    """
    if path is not None:
        try:
            text = path.read_text()
        except OSError as exc:
            fail_usage(f"--basic-auth-file: cannot read {path}: {exc.strerror}")
        source = f"--basic-auth-file {path}"
    elif settings.flower_basic_auth is not None:
        text = settings.flower_basic_auth.get_secret_value()
        source = "PATCHBAY_FLOWER_BASIC_AUTH"
    else:
        return None
    entries = [e.strip() for line in text.splitlines() for e in line.split(",")]
    entries = [e for e in entries if e]
    if not entries:
        fail_usage(f"{source}: no user:password entry")
    for number, entry in enumerate(entries, 1):
        user, sep, password = entry.partition(":")
        if not sep or not user or not password:
            fail_usage(f"{source}: entry {number} is not user:password")
    return entries


def flower_cmd(
    port: Annotated[int, typer.Option("--port", help="HTTP port.")] = 5555,
    address: Annotated[str, typer.Option("--address", help="Listen address.")] = "127.0.0.1",
    basic_auth_file: Annotated[
        Path | None,
        typer.Option(
            "--basic-auth-file",
            help=(
                "File of user:password entries (one per line, or comma-separated) that the "
                "UI and HTTP API require; overrides PATCHBAY_FLOWER_BASIC_AUTH."
            ),
        ),
    ] = None,
) -> None:
    """Run Flower against patchbay's broker (task states, custom events, rate limits)."""
    settings = load_settings()
    if settings.embedded:
        fail_usage(EMBEDDED_REFUSAL.format(what="patchbay flower"))
    credentials = _flower_credentials(basic_auth_file, settings)
    runtime = executor_runtime("patchbay flower", allow_embedded=False)
    runtime.close()  # Flower never uses the store; hold no idle database connection
    if credentials is not None:
        # Flower reads FLOWER_BASIC_AUTH (comma-separated) at start. The
        # environment, unlike argv, is not shown by ps to other users, and a
        # variable set here is not in this process's /proc/<pid>/environ either.
        os.environ["FLOWER_BASIC_AUTH"] = ",".join(credentials)
    elif not os.environ.get("FLOWER_BASIC_AUTH"):
        typer.echo(FLOWER_NO_AUTH_WARNING, err=True)
    runtime.app.start(["flower", f"--port={port}", f"--address={address}"])


def read_input(raw: str) -> Any:
    """``--input``: JSON text, ``@file.json``, or ``-`` for standard input."""
    text = raw
    if raw == "-":
        text = sys.stdin.read()
    elif raw.startswith("@"):
        try:
            text = Path(raw[1:]).read_text()
        except OSError as exc:
            raise UsageError(f"--input: cannot read {raw[1:]}: {exc.strerror}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"--input is not valid JSON: {exc.msg} (line {exc.lineno})") from None
    if not isinstance(data, dict):
        raise UsageError("--input must be a JSON object")
    return data


def run_cmd(
    action_id: Annotated[str, typer.Argument(help="Action id, e.g. ninjaone.devices.find.")],
    tenant: TenantOption,
    input_: Annotated[
        str, typer.Option("--input", "-i", help="Input as JSON, @file.json, or - for stdin.")
    ] = "{}",
    key: Annotated[
        str | None, typer.Option("--key", help="Idempotency key (default: a new cli:<uuid>).")
    ] = None,
    version: Annotated[int | None, typer.Option("--version", help="Pin a version.")] = None,
    run_id: Annotated[str | None, typer.Option("--run-id", help="Workflow run id.")] = None,
    step_path: Annotated[str | None, typer.Option("--step-path", help="Step path.")] = None,
    no_wait: Annotated[bool, typer.Option("--no-wait", help="Enqueue and print the key.")] = False,
    timeout: Annotated[
        float, typer.Option("--timeout", help="Seconds to wait (more than 0).")
    ] = 120.0,
    progress: Annotated[
        bool | None,
        typer.Option(
            "--progress/--no-progress",
            help="Print the step's progress on stderr while waiting (default: when a terminal).",
        ),
    ] = None,
) -> None:
    """Run one action and print its outcome as JSON (exit 0 SUCCEEDED, 1 FAILED, 2 bad usage)."""
    try:
        if not timeout > 0:
            raise UsageError(f"--timeout must be more than 0 seconds, not {timeout:g}")
        data = read_input(input_)
    except UsageError as exc:
        fail_usage(str(exc))
    settings = load_settings()
    if settings.embedded and no_wait:
        fail_usage(EMBEDDED_REFUSAL.format(what="patchbay run --no-wait"))
    catalog = _checked_catalog(action_id, version, data)
    # Only now Celery: a bad request was answered without it.
    from executor.api import EnqueueFailed, Executor
    from executor.embedded import EmbeddedWorker

    runtime = executor_runtime(
        "patchbay run --no-wait", allow_embedded=True, settings=settings, catalog=catalog
    )
    executor = Executor(runtime)
    if key is None and not (run_id and step_path):
        key = f"cli:{uuid.uuid4()}"
    worker = EmbeddedWorker(runtime.app).start() if settings.embedded else None
    try:
        try:
            handle = executor.enqueue(
                action_id,
                tenant_id=tenant,
                input=data,
                version=version,
                idempotency_key=key,
                run_id=run_id,
                step_path=step_path,
            )
        except ActionFailure as exc:
            fail_usage(f"{exc.code}: {exc.message}")
        except EnqueueFailed as exc:
            if describe(exc) is not None:
                raise  # the broker does not answer: one line, exit 2 (config_errors)
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(1) from None
        if no_wait:
            print_json({"key": handle.key, "tenant_id": tenant, "sent": handle.sent})
            return
        show = sys.stderr.isatty() if progress is None else progress
        reporter = ProgressReporter(sys.stderr, key=handle.key) if show else None
        try:
            outcome = wait_for_outcome(
                handle,
                timeout,
                reporter=reporter,
                consumers=runtime.consumer_count if worker is None else None,
            )
            if worker is not None:
                # In-process, the worker stops with this command: let the steps the
                # outcome triggered (outbox subscriptions, e.g. calendar sync) finish.
                wait_for_follow_ups(executor, tenant, timeout)
        except TimeoutError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(1) from None
    finally:
        if worker is not None:
            worker.stop()
        runtime.close()
    if outcome.replayed:
        from executor.results import replay_line

        typer.echo(replay_line(outcome), err=True)
    print_json(outcome.model_dump(mode="json"))
    raise typer.Exit(0 if outcome.succeeded else 1)


def _checked_catalog(action_id: str, version: int | None, data: dict[str, Any]) -> Catalog:
    """The catalog, once the action exists and ``data`` is valid input for it; else exit 2.

    The checks ``Executor.enqueue`` makes first (``Pipeline.resolve`` and
    ``validate_input`` read only the catalog), made before Celery is imported
    so that a typo is answered in a fraction of the time.
    """
    from catalog.bootstrap import build_catalog
    from executor.pipeline import Pipeline

    catalog = build_catalog()
    lookups = cast(Pipeline, SimpleNamespace(catalog=catalog))
    try:
        spec = Pipeline.resolve(lookups, action_id, version)
        Pipeline.validate_input(lookups, spec, data)
    except ActionFailure as exc:
        fail_usage(f"{exc.code}: {exc.message}")
    return catalog


# A step still QUEUED this long on a shared broker: ask whether any worker consumes its queue.
QUEUED_GRACE = 1.5


def no_worker_message(queue: str, key: str) -> str:
    """What ``run`` says when nothing consumes the step's queue (the step stays queued)."""
    return (
        f"no worker is consuming queue {queue}: start `patchbay worker` (step {key} stays "
        "queued and runs when a worker starts)"
    )


def wait_for_outcome(
    handle: InvocationHandle,
    timeout: float,
    *,
    reporter: ProgressReporter | None = None,
    consumers: Callable[[str], int | None] | None = None,
) -> InvocationResult:
    """Poll the step's ledger row until it is final; TimeoutError after ``timeout`` s.

    Each read goes to ``reporter``. With ``consumers`` (a shared broker: how
    many consume a queue, ``ExecutorRuntime.consumer_count``), a step still
    QUEUED after ``QUEUED_GRACE`` makes one check that some worker consumes its
    queue; if none does, exit 2 saying so.
    """
    from store.types import utcnow

    executor = handle.executor
    ledger = executor.runtime.pipeline.ledger
    started = time.monotonic()
    deadline = started + timeout
    interval = 0.01  # ledger reads are cheap indexed reads; a fast step is seen at once
    while True:
        row = ledger.get(handle.tenant_id, handle.key)
        if reporter is not None:
            reporter.update(row, utcnow())
        if row is not None and row.final:
            result = handle.result()
            assert result is not None
            return result
        queued_long = time.monotonic() - started >= QUEUED_GRACE
        if consumers is not None and row is not None and row.status == "QUEUED" and queued_long:
            queue = executor.queue_of(row)
            if queue is not None and consumers(queue) == 0:
                fail_usage(no_worker_message(queue, handle.key))
            consumers = None  # asked once
        if time.monotonic() >= deadline:
            state = row.status if row is not None else "not started"
            raise TimeoutError(f"step {handle.key!r} is not final after {timeout:g}s ({state})")
        time.sleep(interval)
        interval = min(interval * 1.3, 0.25)


def wait_for_follow_ups(executor: Any, tenant: str, timeout: float) -> None:
    relay = executor.runtime.outbox_relay()
    for relayed in relay.relay_once():
        for follow_up in relayed.handles:
            follow_up.wait(timeout)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pending = [
            r for r in executor.invocations(tenant) if r.key.startswith("outbox:") and not r.final
        ]
        if not pending:
            return
        time.sleep(0.02)
