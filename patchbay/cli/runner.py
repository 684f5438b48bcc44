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
from pathlib import Path
from typing import Annotated, Any

import typer

from executor.settings import Settings
from patchbay.cli.common import (
    EMBEDDED_REFUSAL,
    TenantOption,
    UsageError,
    executor_runtime,
    fail_usage,
    load_settings,
    print_json,
)


def worker_cmd(
    queues: Annotated[
        str | None,
        typer.Option("--queues", "-Q", help="Comma-separated queues (default: every provider)."),
    ] = None,
    concurrency: Annotated[
        int | None, typer.Option("--concurrency", "-c", help="Worker slots (threads).")
    ] = None,
    pool: Annotated[str, typer.Option("--pool", help="Celery pool: threads, prefork, solo.")] = (
        "threads"
    ),
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


def _read_input(raw: str) -> Any:
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
) -> None:
    """Run one action and print its outcome as JSON (exit 0 SUCCEEDED, 1 FAILED, 2 bad usage)."""
    from actionkit.errors import ActionFailure
    from executor.api import EnqueueFailed, Executor
    from executor.embedded import EmbeddedWorker

    try:
        if not timeout > 0:
            raise UsageError(f"--timeout must be more than 0 seconds, not {timeout:g}")
        data = _read_input(input_)
    except UsageError as exc:
        fail_usage(str(exc))
    runtime = executor_runtime("patchbay run --no-wait", allow_embedded=not no_wait)
    executor = Executor(runtime)
    if key is None and not (run_id and step_path):
        key = f"cli:{uuid.uuid4()}"
    worker = EmbeddedWorker(runtime.app).start() if runtime.settings.embedded else None
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
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(1) from None
        if no_wait:
            print_json({"key": handle.key, "tenant_id": tenant, "sent": handle.sent})
            return
        try:
            outcome = handle.wait(timeout)
            if worker is not None:
                # In-process, the worker stops with this command: let the steps the
                # outcome triggered (outbox subscriptions, e.g. calendar sync) finish.
                _wait_for_follow_ups(executor, tenant, timeout)
        except TimeoutError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(1) from None
    finally:
        if worker is not None:
            worker.stop()
        runtime.close()
    print_json(outcome.model_dump(mode="json"))
    raise typer.Exit(0 if outcome.succeeded else 1)


def _wait_for_follow_ups(executor: Any, tenant: str, timeout: float) -> None:
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
        time.sleep(0.05)
