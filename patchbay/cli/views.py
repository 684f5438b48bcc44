"""Read-only views: ``catalog``, ``palette``, ``schemas`` (``invocations``: ``steps``)."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.text import Text

from actionkit.spec import AnyActionSpec
from catalog.designer import (
    CatalogRecord,
    action_json_schemas,
    designer_catalog,
    palette,
    public_actions,
)
from catalog.errors import UnknownActionError
from catalog.schema_fields import schema_fields
from patchbay.cli.common import (
    JsonFlag,
    TenantOption,
    command_runtime,
    fail_usage,
    print_json,
    require_tenant_or_exit,
    stdout,
)
from patchbay.cli.tables import FitTable, WideFlag
from patchbay.runtime import Runtime


def _tile(record: CatalogRecord) -> str:
    """Label, then kind and (for module tiles) whether the tenant may use it."""
    if record.available is None:
        return f"{record.label}\n{record.tile_kind}"
    state = "available" if record.available else "disconnected"
    return f"{record.label}\n{record.tile_kind}, {state}"


def _actions_cell(record: CatalogRecord) -> str:
    """One ``id@version`` a line, the tile's default action marked."""
    lines = [
        f"{a.id}@{a.version}" + (" (default)" if a.id == record.default_action_id else "")
        for a in record.actions
    ]
    if record.default_action_id and all(a.id != record.default_action_id for a in record.actions):
        lines.append(f"{record.default_action_id} (default)")
    return "\n".join(lines) or "-"


def _records_table(records: list[CatalogRecord], title: str) -> FitTable:
    table = FitTable(("group", "tile", "actions"), idents=("group", "actions"), title=title)
    for r in records:
        table.add(r.group_key, _tile(r), _actions_cell(r))
    return table


def _tenant_records(rt: Runtime, tenant: str, *, only_palette: bool) -> list[CatalogRecord]:
    with rt.store.sessions() as session:
        require_tenant_or_exit(session, tenant)
        view = palette if only_palette else designer_catalog
        return view(rt.catalog, session, tenant)


def catalog_cmd(tenant: TenantOption, as_json: JsonFlag = False, wide: WideFlag = False) -> None:
    """The designer catalog for a tenant: every group, app tiles flagged available or not."""
    with command_runtime() as rt:
        records = _tenant_records(rt, tenant, only_palette=False)
    if as_json:
        print_json([r.to_json() for r in records])
    else:
        _records_table(records, f"Catalog for {tenant}").print(stdout, wide=wide)


def palette_cmd(tenant: TenantOption, as_json: JsonFlag = False, wide: WideFlag = False) -> None:
    """The tiles a tenant may add steps from (connected integrations only)."""
    with command_runtime() as rt:
        records = _tenant_records(rt, tenant, only_palette=True)
    if as_json:
        print_json([r.to_json() for r in records])
        return
    if not records:
        stdout.print(f"The palette of {tenant} is empty: connect an integration first.")
        return
    _records_table(records, f"Palette for {tenant}").print(stdout, wide=wide)


def _fields_table(
    spec: AnyActionSpec, part: str, schema: dict[str, Any], *, wide: bool
) -> FitTable:
    """One row per field of ``schema``: path, type, required, default, description.

    Wide, each in a column of its own (one line per field, for grep); within
    the terminal, the field path beside one column holding the rest (type,
    whether required, default; then the description), so the description gets
    most of the width instead of five narrow columns.
    """
    about = _prose(str(schema.get("description", "")))
    title = f"{spec.key} {part}: {about}" if about else f"{spec.key} {part}"
    fields = schema_fields(schema)
    if wide:
        table = FitTable(("field", "type", "required", "default", "description"), ("field",), title)
        for f in fields:
            required = "yes" if f.required else "no"
            default = "-" if f.default is None else f.default
            table.add(f.path, f.type, required, default, _prose(f.description) or "-")
    else:
        table = FitTable(("field", "type, required, default\ndescription"), ("field",), title)
        for f in fields:
            if f.required:
                need = "required"
            else:
                need = "optional" if f.default is None else f"optional, default {f.default}"
            table.add(f.path, f"{f.type}; {need}\n{_prose(f.description) or '-'}")
    if not fields:
        table.add("-", *["no fields"] * (len(table.columns) - 1))
    return table


def _prose(text: str) -> str:
    """A docstring as one paragraph, with Markdown's single backticks for code."""
    return " ".join(text.split()).replace("``", "`")


def _print_action(spec: AnyActionSpec, *, wide: bool) -> None:
    kind = "side-effectful" if spec.side_effectful else "read-only"
    stdout.print(Text(f"{spec.key}: {spec.ui.label} ({kind})"))
    if spec.ui.description:
        stdout.print(Text(spec.ui.description))
    for part, schema in spec.json_schemas().items():
        stdout.print()
        _fields_table(spec, part, schema, wide=wide).print(stdout, wide=wide)


def schemas_cmd(
    action: Annotated[
        str | None, typer.Option("--action", help="One action id: a table of its fields.")
    ] = None,
    as_json: JsonFlag = False,
    wide: WideFlag = False,
) -> None:
    """Actions and their summaries; with --action, every input and output field explained."""
    with command_runtime(migrate=False) as rt:
        try:
            specs = public_actions(rt.catalog, action)
        except UnknownActionError as exc:
            fail_usage(str(exc))
        if as_json:
            print_json(action_json_schemas(rt.catalog, action))
            return
    if not specs:
        stdout.print("No actions are registered.")
        return
    if action is not None:
        for i, spec in enumerate(specs):
            if i:
                stdout.print()
            _print_action(spec, wide=wide)
        return
    table = FitTable(("action", "side\neffects", "summary"), idents=("action",))
    for spec in sorted(specs, key=lambda s: s.key):
        table.add(spec.key, "yes" if spec.side_effectful else "no", spec.ui.description or "-")
    table.print(stdout, wide=wide)
