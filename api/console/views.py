"""What the console's pages show, built from the catalog and the ledger (no HTML here).

The palette is the designer catalog (``catalog.designer``) with every tile,
the disconnected ones carrying the catalog's own texts for them
(``step_status``: the badge, the banner, the hint naming ``patchbay
connect``); an action's inputs are its input JSON Schema read as fields
(``catalog.schema_fields``). The ledger is ``Executor.invocations``, a
WAITING step with its next check from ``Executor.step``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlencode

from sqlalchemy.orm import Session

from actionkit.spec import AnyActionSpec
from catalog.designer import CatalogAction, CatalogRecord, StepStatus, step_status
from catalog.registration import Catalog
from catalog.schema_fields import MAX_ENUM_SHOWN, SchemaField, schema_fields
from executor.api import Executor
from executor.control import StepRefused
from executor.results import InvocationResult

STATUSES = ("QUEUED", "STARTED", "WAITING", "SUCCEEDED", "FAILED", "CANCELLED")
IN_FLIGHT = frozenset({"QUEUED", "STARTED", "WAITING"})
PAGE_SIZE = 50
LEDGER_PATH = "/console/ledger"
MAX_OFFSET = 100_000
# Filter text the ledger is queried with: what the API's filters take (printable, bounded).
_FILTER_TEXT = re.compile(r"^[^\x00-\x1f\x7f]{1,200}$")
# The command a disconnected tile's message ends with: "... (patchbay connect x --tenant t)."
_COMMAND = re.compile(r"\s*\((patchbay connect [^()]+)\)\.?$")


# -- the palette ---------------------------------------------------------------------------


@dataclass(frozen=True)
class InputField:
    """One input as the palette lists it; ``values``: a long enum's values, which the
    field's type only counts."""

    field: SchemaField
    values: list[str]


@dataclass(frozen=True)
class ActionView:
    """One action of a tile, with its inputs read from its input JSON Schema."""

    action: CatalogAction
    inputs: list[InputField]
    category: str
    is_default: bool


@dataclass(frozen=True)
class TileView:
    """One tile: the catalog's record and, when it is disconnected, the catalog's texts."""

    record: CatalogRecord
    actions: list[ActionView]
    disconnected: StepStatus | None

    @property
    def hint(self) -> tuple[str, str | None]:
        """The catalog's message for a disconnected tile, and the command in it (or None).

        The command is set apart so that the page can show it as one; a message
        without one is shown whole.
        """
        message = (self.disconnected.message if self.disconnected else None) or ""
        found = _COMMAND.search(message)
        if found is None:
            return message, None
        return message[: found.start()].rstrip() + ".", found.group(1)

    @property
    def connected(self) -> bool:
        """A first-party app the tenant has connected (core groups need no connection)."""
        return self.record.available is True

    @property
    def is_app(self) -> bool:
        return self.record.tile_kind == "app"


@dataclass(frozen=True)
class PaletteView:
    core: list[TileView]
    apps: list[TileView]

    @property
    def connected_count(self) -> int:
        return sum(1 for t in self.apps if t.connected)

    @property
    def disconnected_count(self) -> int:
        return sum(1 for t in self.apps if t.disconnected is not None)


class InputFields:
    """Input fields per action version, read once: registrations only ever add."""

    def __init__(self) -> None:
        self._cache: dict[tuple[str, int], list[InputField]] = {}

    def of(self, spec: AnyActionSpec) -> list[InputField]:
        found = self._cache.get((spec.id, spec.version))
        if found is None:
            schema = spec.json_schemas()["input"]
            found = [_input_field(schema, f) for f in schema_fields(schema)]
            self._cache[(spec.id, spec.version)] = found
        return found


def _input_field(schema: dict[str, Any], field: SchemaField) -> InputField:
    values = _enum_at(schema, field.path)
    long = values is not None and len(values) > MAX_ENUM_SHOWN
    readable = SchemaField(
        path=field.path,
        # schema_fields is shared with the CLI, whose long enums point at its --json output.
        type=field.type.replace(" (see --json)", ""),
        required=field.required,
        default=field.default,
        description=field.description,
    )
    return InputField(readable, [str(v) for v in values or ()] if long else [])


def _enum_at(schema: dict[str, Any], path: str) -> list[Any] | None:
    """The enum of the field at ``path`` (``a.b``, ``items[].b``, as schema_fields names
    fields), or None when it has none."""
    defs = schema.get("$defs", {})

    def plain(node: Any) -> dict[str, Any]:
        # A $ref resolved, and an optional value's one non-null alternative taken.
        if not isinstance(node, dict):
            return {}
        if isinstance(node.get("$ref"), str):
            node = {**defs.get(node["$ref"].removeprefix("#/$defs/"), {}), **node}
            node.pop("$ref")
        options = [o for o in node.get("anyOf") or node.get("oneOf") or [] if o != {"type": "null"}]
        return plain(options[0]) if len(options) == 1 and "enum" not in node else node

    node: dict[str, Any] = plain(schema)
    for part in path.split("."):
        node = plain(node.get("properties", {}).get(part.removesuffix("[]")))
        if part.endswith("[]"):
            node = plain(node.get("items"))
    values = node.get("enum")
    return values if isinstance(values, list) else None


def palette_view(
    catalog: Catalog,
    session: Session,
    tenant: str,
    records: Sequence[CatalogRecord],
    fields: InputFields,
) -> PaletteView:
    """``records`` (the tenant's designer catalog, in its order) as the palette page shows it."""
    core: list[TileView] = []
    apps: list[TileView] = []
    for record in records:
        disconnected = None
        if record.available is False:
            disconnected = step_status(
                catalog,
                session,
                tenant,
                action_id=record.default_action_id or "",
                group_key=record.group_key,
            )
        actions = []
        for action in record.actions:
            spec = catalog.actions.find(action.id, action.version)
            actions.append(
                ActionView(
                    action=action,
                    inputs=fields.of(spec) if spec is not None else [],
                    category=spec.ui.category if spec is not None else "",
                    is_default=action.id == record.default_action_id,
                )
            )
        tile = TileView(record=record, actions=actions, disconnected=disconnected)
        (apps if tile.is_app else core).append(tile)
    return PaletteView(core=core, apps=apps)


# -- the ledger ----------------------------------------------------------------------------


@dataclass(frozen=True)
class LedgerFilters:
    """The ledger page's query: run, action, status, page; ``problems`` says what was refused."""

    run_id: str | None = None
    action_id: str | None = None
    status: str | None = None
    offset: int = 0
    problems: tuple[str, ...] = ()

    @classmethod
    def parse(cls, query: dict[str, str]) -> LedgerFilters:
        """The filters of a query string; a value the ledger would not take is a problem."""
        problems: list[str] = []

        def text(name: str, label: str) -> str | None:
            value = query.get(name, "").strip()
            if not value:
                return None
            if not _FILTER_TEXT.match(value):
                problems.append(f"{label}: 1 to 200 characters, no control characters")
                return None
            return value

        run_id = text("run_id", "Run id")
        action_id = text("action_id", "Action")
        status = query.get("status", "").strip().upper() or None
        if status is not None and status not in STATUSES:
            problems.append(f"Status: one of {', '.join(STATUSES)}")
            status = None
        raw_offset = query.get("offset", "0").strip() or "0"
        offset = int(raw_offset) if raw_offset.isdigit() and len(raw_offset) < 7 else -1
        if not 0 <= offset <= MAX_OFFSET:
            problems.append(f"Offset: a whole number from 0 to {MAX_OFFSET}")
            offset = 0
        return cls(run_id, action_id, status, offset, tuple(problems))

    def href(self, **changes: Any) -> str:
        """The ledger's URL with these filters and ``changes`` (empty values left out)."""
        values = {
            "run_id": self.run_id,
            "action_id": self.action_id,
            "status": self.status,
            "offset": self.offset or None,
        } | changes
        query = urlencode({k: v for k, v in values.items() if v})
        return f"{LEDGER_PATH}?{query}" if query else LEDGER_PATH

    @property
    def any(self) -> bool:
        return bool(self.run_id or self.action_id or self.status)


@dataclass(frozen=True)
class LedgerRow:
    """One step as the ledger page lists it."""

    step: InvocationResult
    facts: ActionFacts
    next_check_at: datetime | None

    @property
    def in_flight(self) -> bool:
        return self.step.status in IN_FLIGHT

    def took(self, now: datetime) -> str:
        """From queued to done; for a step still in flight, how long so far."""
        end = self.step.completed_at or (now if self.in_flight else None)
        if end is None:
            return ""
        text = duration_text((aware(end) - aware(self.step.created_at)).total_seconds())
        return f"{text} so far" if self.step.completed_at is None else text


@dataclass(frozen=True)
class LedgerPage:
    rows: list[LedgerRow]
    filters: LedgerFilters
    newer_offset: int | None
    older_offset: int | None

    @property
    def in_flight(self) -> bool:
        """Whether a shown step may still change (the page refreshes itself then)."""
        return any(r.in_flight for r in self.rows)


def ledger_page(
    executor: Executor, catalog: Catalog, tenant: str, filters: LedgerFilters
) -> LedgerPage:
    """One page of ``tenant``'s ledger, newest first."""
    if filters.problems:
        return LedgerPage([], filters, None, None)
    items = executor.invocations(
        tenant,
        run_id=filters.run_id,
        action_id=filters.action_id,
        statuses=(filters.status,) if filters.status else (),
        limit=PAGE_SIZE + 1,
        offset=filters.offset,
    )
    rows = []
    for item in items[:PAGE_SIZE]:
        next_check = None
        if item.status == "WAITING":
            # A step gone since the page was read is shown without its next check.
            with suppress(StepRefused):
                next_check = executor.step(item.key, tenant).next_check_at
        rows.append(
            LedgerRow(item, action_facts(catalog, item.action_id, item.version), next_check)
        )
    newer = max(0, filters.offset - PAGE_SIZE) if filters.offset > 0 else None
    older = filters.offset + PAGE_SIZE if len(items) > PAGE_SIZE else None
    return LedgerPage(rows, filters, newer, older)


@dataclass(frozen=True)
class ActionFacts:
    """What the designer calls a step's action and the icon it draws it with."""

    label: str
    icon: str


def action_facts(catalog: Catalog, action_id: str, version: int) -> ActionFacts:
    """The action's label and icon token (the id and the generic icon once unregistered)."""
    spec = catalog.actions.find(action_id, version)
    if spec is None:
        return ActionFacts(label=action_id, icon="app")
    return ActionFacts(label=spec.ui.label.strip() or action_id, icon=spec.ui.icon or "app")


# -- formatting helpers (the templates' filters) -------------------------------------------


def aware(moment: datetime) -> datetime:
    """``moment`` with a time zone (the store's naive times are UTC)."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def when_text(moment: datetime | None) -> str:
    """``2026-01-31 09:00:05 UTC`` ("" for none)."""
    if moment is None:
        return ""
    return aware(moment).astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def iso_text(moment: datetime | None) -> str:
    return "" if moment is None else aware(moment).astimezone(UTC).isoformat()


def stamp_text(moment: datetime | str | None) -> str:
    """``when_text`` of a time, or of an ISO time as a history entry keeps it."""
    if isinstance(moment, str):
        try:
            return when_text(datetime.fromisoformat(moment))
        except ValueError:
            return moment
    return when_text(moment)


def took_text(start: datetime | None, end: datetime | None) -> str:
    """The duration from ``start`` to ``end`` ("" when either is missing)."""
    if start is None or end is None:
        return ""
    return duration_text((aware(end) - aware(start)).total_seconds())


def duration_text(seconds: float) -> str:
    """A short duration: ``85 ms``, ``4.2 s``, ``3 min 5 s``, ``2 h 10 min``."""
    seconds = max(0.0, seconds)
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs} s"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min"
    return f"{hours // 24} d {hours % 24} h"


def relative_text(moment: datetime | None, now: datetime) -> str:
    """``in 42.0 s`` or ``3 min 5 s ago`` ("" for none)."""
    if moment is None:
        return ""
    delta = (aware(moment) - aware(now)).total_seconds()
    return f"in {duration_text(delta)}" if delta >= 0 else f"{duration_text(-delta)} ago"


def between_text(start: Any, end: Any) -> str:
    """The duration between two ISO times of a history entry ("" when either is missing)."""
    try:
        begun = aware(datetime.fromisoformat(str(start)))
        ended = aware(datetime.fromisoformat(str(end)))
    except ValueError:
        return ""
    return duration_text((ended - begun).total_seconds())


def pretty_json(value: Any) -> str:
    """``value`` as indented JSON, for a ``<pre>``."""
    return json.dumps(value, indent=2, ensure_ascii=False, default=str)


def status_class(status: str) -> str:
    """The CSS class of a status pill (a status the console does not know: ``other``)."""
    return status.lower() if status in STATUSES else "other"


def step_path(key: str) -> str:
    """The console URL of a step (the key percent-encoded, as ``/v1/steps`` encodes it)."""
    return "/console/steps/" + quote(key, safe=":@")
