"""What every ``patchbay`` command module uses: consoles, option types, exiting on bad usage.

Bad usage is one line on stderr (``error: ...``) and exit code 2; the
helpers here that take a tenant, settings or the schema exit that way too.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any, NoReturn

import typer
from pydantic import ValidationError
from rich.console import Console

from executor.settings import Settings
from patchbay.runtime import Runtime, open_runtime
from store import SchemaOutOfDate, Store
from store.tenants import TenantError, require_tenant

stdout = Console()
stderr = Console(stderr=True)

TenantOption = Annotated[str, typer.Option("--tenant", "-t", help="Tenant id.")]
JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON for programs.")]
SecretsOption = Annotated[
    list[str] | None,
    typer.Option(
        "--secret",
        help=(
            "NAME=VALUE or NAME=@file, repeatable (e.g. microsoft_client_secret=@file). "
            "Prefer @file: argv is visible to ps."
        ),
    ),
]


class UsageError(Exception):
    """Bad usage: reported as one line, exit code 2."""


def fail_usage(message: str) -> NoReturn:
    """Print ``error: <message>`` on stderr and exit 2."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(2)


def load_settings() -> Settings:
    """The environment's settings; a malformed PATCHBAY_* variable exits 2."""
    try:
        return Settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        field = "PATCHBAY_" + str(first["loc"][0]).upper() if first["loc"] else "PATCHBAY_*"
        fail_usage(f"bad configuration in {field}: {first['msg']}")


def _ensure_schema(store: Store, settings: Settings) -> None:
    try:
        store.ensure_schema(settings)
    except SchemaOutOfDate as exc:
        fail_usage(str(exc))


def require_tenant_or_exit(session: Any, tenant: str) -> None:
    """The tenant must exist, else exit 2 naming it."""
    try:
        require_tenant(session, tenant)
    except TenantError as exc:
        fail_usage(str(exc))


@contextmanager
def command_runtime(migrate: bool = True) -> Iterator[Runtime]:
    """Settings, store and catalog for one command; configuration problems exit 2."""
    settings = load_settings()
    with open_runtime(settings, migrate=False) as rt:
        if migrate:
            _ensure_schema(rt.store, settings)
        yield rt


def print_json(data: Any) -> None:
    """Print ``data`` as indented JSON on stdout."""
    typer.echo(json.dumps(data, indent=2, sort_keys=False))


EMBEDDED_REFUSAL = (
    "{what} needs a shared broker, and PATCHBAY_BROKER_URL is the embedded memory:// "
    "(in-process only). Point patchbay at Redis and PostgreSQL, e.g. "
    "PATCHBAY_BROKER_URL=redis://127.0.0.1:6379/0 PATCHBAY_RESULT_BACKEND=redis://127.0.0.1:6379/0 "
    "PATCHBAY_REDIS_URL=redis://127.0.0.1:6379/0 PATCHBAY_DATABASE_URL=postgresql+psycopg://..."
)


def executor_runtime(what: str, *, allow_embedded: bool) -> Any:
    """The executor (Celery app, store, catalog) for ``what``, imported on first use.

    Exits 2 on the embedded memory:// broker unless ``allow_embedded``, or when
    the schema is out of date.
    """
    from executor.app import ExecutorRuntime

    settings = load_settings()
    if settings.embedded and not allow_embedded:
        fail_usage(EMBEDDED_REFUSAL.format(what=what))
    runtime = ExecutorRuntime(settings)
    _ensure_schema(runtime.store, settings)
    return runtime
