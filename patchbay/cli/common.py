"""What every ``patchbay`` command module uses: consoles, option types, exiting on bad usage.

Bad usage is one line on stderr (``error: ...``) and exit code 2; the
helpers here that take a tenant, settings or the schema exit that way too,
and so does every configuration problem a command meets (``config_errors``,
around every command). The store, the catalog and Celery are imported in
the functions that need them: ``patchbay --help`` imports none of them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

if TYPE_CHECKING:
    from rich.console import Console

    from catalog.registration import Catalog
    from executor.settings import Settings
    from patchbay.runtime import Runtime
    from store import Store

_CONSOLES: dict[str, Console] = {}


def __getattr__(name: str) -> Console:
    """``stdout`` and ``stderr``: Rich consoles, made on first use.

    Rich costs a noticeable share of a short command's start (``patchbay run``
    prints JSON and never needs it), so it is imported only by the commands
    that print tables.
    """
    if name not in ("stdout", "stderr"):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    if name not in _CONSOLES:
        from rich.console import Console

        _CONSOLES[name] = Console(stderr=name == "stderr")
    return _CONSOLES[name]


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
    from pydantic import ValidationError

    from executor.settings import Settings

    try:
        return Settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        field = "PATCHBAY_" + str(first["loc"][0]).upper() if first["loc"] else "PATCHBAY_*"
        fail_usage(f"bad configuration in {field}: {first['msg']}")


def _ensure_schema(store: Store, settings: Settings) -> None:
    from store import SchemaOutOfDate

    try:
        store.ensure_schema(settings)
    except SchemaOutOfDate as exc:
        fail_usage(str(exc))


def require_tenant_or_exit(session: Any, tenant: str) -> None:
    """The tenant must exist, else exit 2 naming it."""
    from store.tenants import TenantError, require_tenant

    try:
        require_tenant(session, tenant)
    except TenantError as exc:
        fail_usage(str(exc))


@contextmanager
def command_runtime(migrate: bool = True) -> Iterator[Runtime]:
    """Settings, store and catalog for one command; configuration problems exit 2."""
    from patchbay.runtime import open_runtime

    settings = load_settings()
    with open_runtime(settings, migrate=False) as rt:
        if migrate:
            _ensure_schema(rt.store, settings)
        yield rt


@contextmanager
def config_errors() -> Iterator[None]:
    """Configuration and connection problems as one line ``error: ...`` with what to do, exit 2.

    The one place they are mapped (``patchbay.cli.errors``); the root command
    group runs every command inside it, so no command handles them itself.
    Anything else propagates unchanged.
    """
    try:
        yield
    except Exception as exc:
        from patchbay.cli.errors import describe

        message = describe(exc)
        if message is None:
            raise
        fail_usage(message)


def print_json(data: Any) -> None:
    """Print ``data`` as indented JSON on stdout."""
    typer.echo(json.dumps(data, indent=2, sort_keys=False))


EMBEDDED_REFUSAL = (
    "{what} needs a shared broker, and PATCHBAY_BROKER_URL is the embedded memory:// "
    "(in-process only). Point patchbay at Redis and PostgreSQL, e.g. "
    "PATCHBAY_BROKER_URL=redis://127.0.0.1:6379/0 PATCHBAY_RESULT_BACKEND=redis://127.0.0.1:6379/0 "
    "PATCHBAY_REDIS_URL=redis://127.0.0.1:6379/0 PATCHBAY_DATABASE_URL=postgresql+psycopg://..."
)


def executor_runtime(
    what: str,
    *,
    allow_embedded: bool,
    settings: Settings | None = None,
    catalog: Catalog | None = None,
) -> Any:
    """The executor (Celery app, store, catalog) for ``what``, imported on first use.

    Exits 2 on the embedded memory:// broker unless ``allow_embedded``, or when
    the schema is out of date. ``settings`` and ``catalog``: ones the command
    already has (built once).
    """
    from executor.app import ExecutorRuntime

    settings = settings or load_settings()
    if settings.embedded and not allow_embedded:
        fail_usage(EMBEDDED_REFUSAL.format(what=what))
    runtime = ExecutorRuntime(settings, catalog)
    _ensure_schema(runtime.store, settings)
    return runtime
