"""Read-only views: ``catalog``, ``palette``, ``schemas``, ``invocations``."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from catalog.designer import CatalogRecord, action_json_schemas, designer_catalog, palette
from catalog.errors import UnknownActionError
from patchbay.cli.common import (
    JsonFlag,
    TenantOption,
    command_runtime,
    executor_runtime,
    fail_usage,
    print_json,
    require_tenant_or_exit,
    stdout,
)
from patchbay.runtime import Runtime


def _records_table(records: list[CatalogRecord], title: str) -> Table:
    table = Table(title=title)
    for column in ("group", "label", "kind", "available", "default action", "actions"):
        table.add_column(column)
    for r in records:
        available = "-" if r.available is None else ("yes" if r.available else "no")
        table.add_row(
            r.group_key,
            r.label,
            r.tile_kind,
            available,
            r.default_action_id or "-",
            "\n".join(f"{a.id}@{a.version}" for a in r.actions) or "-",
        )
    return table


def _tenant_records(rt: Runtime, tenant: str, *, only_palette: bool) -> list[CatalogRecord]:
    with rt.store.sessions() as session:
        require_tenant_or_exit(session, tenant)
        view = palette if only_palette else designer_catalog
        return view(rt.catalog, session, tenant)


def catalog_cmd(tenant: TenantOption, as_json: JsonFlag = False) -> None:
    """The designer catalog for a tenant: every group, app tiles flagged available or not."""
    with command_runtime() as rt:
        records = _tenant_records(rt, tenant, only_palette=False)
    if as_json:
        print_json([r.to_json() for r in records])
    else:
        stdout.print(_records_table(records, f"Catalog for {tenant}"))


def palette_cmd(tenant: TenantOption, as_json: JsonFlag = False) -> None:
    """The tiles a tenant may add steps from (connected integrations only)."""
    with command_runtime() as rt:
        records = _tenant_records(rt, tenant, only_palette=True)
    if as_json:
        print_json([r.to_json() for r in records])
        return
    if not records:
        stdout.print(f"The palette of {tenant} is empty: connect an integration first.")
        return
    stdout.print(_records_table(records, f"Palette for {tenant}"))


def schemas_cmd(
    action: Annotated[str | None, typer.Option("--action", help="One action id.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """JSON Schemas of action inputs and outputs, per id@version."""
    with command_runtime(migrate=False) as rt:
        try:
            schemas = action_json_schemas(rt.catalog, action)
        except UnknownActionError as exc:
            fail_usage(str(exc))
    if as_json:
        print_json(schemas)
        return
    if not schemas:
        stdout.print("No actions are registered.")
        return
    table = Table("action", "input fields", "output fields")
    for key, pair in schemas.items():
        table.add_row(
            key,
            ", ".join(sorted(pair["input"].get("properties", {}))),
            ", ".join(sorted(pair["output"].get("properties", {}))),
        )
    stdout.print(table)


def invocations_cmd(
    tenant: TenantOption,
    run: Annotated[str | None, typer.Option("--run", help="Only this workflow run.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """The invocation ledger of a tenant: every step, its status, attempt and outcome."""
    from executor.api import Executor

    runtime = executor_runtime("patchbay invocations", allow_embedded=True)
    try:
        with runtime.store.sessions() as session:
            require_tenant_or_exit(session, tenant)
        rows = Executor(runtime).invocations(tenant, run_id=run)
    finally:
        runtime.close()
    if as_json:
        print_json([r.model_dump(mode="json") for r in rows])
        return
    table = Table("key", "action", "status", "attempt", "outcome", title=f"Invocations of {tenant}")
    for r in rows:
        if r.error:
            summary = f"{r.error.get('code')}: {r.error.get('message', '')}"[:80]
        else:
            summary = ", ".join(sorted(r.output or {}))[:80]
        table.add_row(r.key, f"{r.action_id}@{r.version}", r.status, str(r.attempt), summary)
    stdout.print(table)
