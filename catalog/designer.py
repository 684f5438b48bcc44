"""What the workflow designer asks: the catalog, the palette, a step's status, schemas.

The catalog has one record per group: built-in core groups that have actions
first, in a fixed order, then app records by label. First-party module records
carry ``available`` and are always listed; the palette drops records with
``available == False`` (availability gates adding a step, not viewing one) and
groups without actions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict
from sqlalchemy.orm import Session

from actionkit.spec import AnyActionSpec
from catalog.errors import UnknownActionError
from catalog.registration import Catalog

TileKind = Literal["core-object", "transform", "app", "ai"]


@dataclass(frozen=True)
class CoreGroupSeed:
    """A built-in group: actions whose id prefix is in ``prefixes`` or listed in ``action_ids``."""

    group_key: str
    label: str
    tile_kind: TileKind
    description: str
    default_action_id: str | None
    prefixes: tuple[str, ...] = ()
    action_ids: tuple[str, ...] = ()


# The designer's built-in groups, in the order it shows them.
CORE_GROUP_SEEDS: tuple[CoreGroupSeed, ...] = (
    CoreGroupSeed(
        "ticket",
        "Ticket",
        "core-object",
        "Create, update and find tickets.",
        "tickets.create",
        ("tickets",),
        ("assets.find_associated_tickets",),
    ),
    CoreGroupSeed(
        "contact",
        "Contact",
        "core-object",
        "Find and update contacts.",
        "contacts.find",
        ("contacts",),
    ),
    CoreGroupSeed(
        "client", "Client", "core-object", "Find and update clients.", "clients.find", ("clients",)
    ),
    CoreGroupSeed(
        "communication",
        "Communication",
        "core-object",
        "Send email and notifications.",
        "email.send",
        ("email", "notifications"),
    ),
    CoreGroupSeed(
        "scheduling",
        "Scheduling",
        "core-object",
        "Assign and update scheduled work.",
        "scheduling.assign_user",
        ("scheduling",),
    ),
    CoreGroupSeed(
        "project",
        "Project",
        "core-object",
        "Create and update project work.",
        "projects.create_task",
        ("projects",),
    ),
    CoreGroupSeed(
        "time", "Time", "core-object", "Record time entries.", "time.create_entry", ("time",)
    ),
    CoreGroupSeed(
        "crm", "CRM", "core-object", "Record CRM activity.", "crm.create_activity_note", ("crm",)
    ),
    CoreGroupSeed(
        "activities",
        "Activities",
        "core-object",
        "Find activity groups.",
        "activities.find_group",
        ("activities",),
    ),
    CoreGroupSeed(
        "data-store",
        "Data Store",
        "core-object",
        "Read and write workflow data.",
        "store.get",
        ("store", "links"),
    ),
    CoreGroupSeed(
        "transform", "Transform", "transform", "Reshape data between steps.", None, ("transform",)
    ),
    CoreGroupSeed("ai", "AI", "ai", "Ask a model.", "ai.infer", (), ("ai.infer",)),
)


class CatalogAction(BaseModel):
    """An action as the designer lists it."""

    model_config = ConfigDict(frozen=True)

    id: str
    version: int
    label: str
    description: str
    input_field_names: list[str]
    output_field_names: list[str]
    side_effectful: bool


class CatalogRecord(BaseModel):
    """One palette group. ``available`` is set on first-party module records only."""

    model_config = ConfigDict(frozen=True)

    group_key: str
    label: str
    icon_token: str
    tile_kind: TileKind
    description: str
    default_action_id: str | None
    allowed_action_ids: list[str]
    actions: list[CatalogAction]
    available: bool | None = None

    def to_json(self) -> dict[str, Any]:
        """JSON for programs; ``available`` appears only where it means something."""
        data = self.model_dump(mode="json")
        if self.available is None:
            del data["available"]
        return data


class StepStatus(BaseModel):
    """What the editor shows for an existing step."""

    model_config = ConfigDict(frozen=True)

    group_key: str
    label: str
    available: bool
    banner: str | None
    message: str | None
    badge: str | None
    tooltip: str | None


def _catalog_action(spec: AnyActionSpec) -> CatalogAction:
    return CatalogAction(
        id=spec.id,
        version=spec.version,
        label=spec.ui.label.strip() or spec.id,
        description=spec.ui.description,
        input_field_names=spec.input_field_names(),
        output_field_names=spec.output_field_names(),
        side_effectful=spec.side_effectful,
    )


def _sorted_actions(specs: list[AnyActionSpec]) -> list[CatalogAction]:
    return sorted((_catalog_action(s) for s in specs), key=lambda a: (a.label, a.id, a.version))


def _static_records(catalog: Catalog) -> tuple[list[CatalogRecord], dict[str, str]]:
    """Records without availability, and module group -> availability key.

    Registrations only ever add, so the registry sizes identify the content;
    the result is cached on the catalog until something is registered.
    """
    fingerprint = (len(catalog.actions), len(catalog.modules))
    cached = catalog.cache.get("designer")
    if cached is not None and cached[0] == fingerprint:
        result: tuple[list[CatalogRecord], dict[str, str]] = cached[1]
        return result

    specs = [s for s in catalog.actions.list() if not s.internal]
    claimed: set[str] = set()
    core: list[CatalogRecord] = []
    for seed in CORE_GROUP_SEEDS:
        members = [
            s
            for s in specs
            if s.id in seed.action_ids or s.id.split(".", 1)[0].lower() in seed.prefixes
        ]
        if not members:
            continue  # a built-in group with nothing registered is not shown
        claimed.update(s.key for s in members)
        actions = _sorted_actions(members)
        ids = sorted({a.id for a in actions})
        default = seed.default_action_id if seed.default_action_id in ids else ids[0]
        core.append(
            CatalogRecord(
                group_key=seed.group_key,
                label=seed.label,
                icon_token=seed.group_key,
                tile_kind=seed.tile_kind,
                description=seed.description,
                default_action_id=default,
                allowed_action_ids=ids,
                actions=actions,
            )
        )

    apps: list[CatalogRecord] = []
    availability_keys: dict[str, str] = {}
    for module in catalog.modules.list():
        members = [s for s in specs if s.id in module.allowed_action_ids]
        claimed.update(s.key for s in members)
        availability_keys[module.group_key] = module.availability_key
        apps.append(
            CatalogRecord(
                group_key=module.group_key,
                label=module.label,
                icon_token=module.icon_token,
                tile_kind="app",
                description=module.description,
                default_action_id=module.default_action_id,
                allowed_action_ids=sorted(module.allowed_action_ids),
                actions=_sorted_actions(members),
                available=False,
            )
        )

    # Actions no group claims still get a tile, grouped by provider, so that
    # nothing registered is invisible in the designer.
    leftovers: dict[str, list[AnyActionSpec]] = {}
    for spec in specs:
        if spec.key not in claimed:
            leftovers.setdefault(spec.provider, []).append(spec)
    for provider, members in leftovers.items():
        label = provider.replace("_", " ").title()
        apps.append(
            CatalogRecord(
                group_key=f"app:{provider}",
                label=label,
                icon_token=members[0].ui.icon or "app",
                tile_kind="app",
                description=f"App actions exposed by {label}.",
                default_action_id=None,
                allowed_action_ids=sorted({s.id for s in members}),
                actions=_sorted_actions(members),
            )
        )

    apps.sort(key=lambda r: (r.label.lower(), r.group_key))
    result = (core + apps, availability_keys)
    catalog.cache["designer"] = (fingerprint, result)
    return result


def designer_catalog(catalog: Catalog, session: Session, tenant_id: str) -> list[CatalogRecord]:
    """Every group for ``tenant_id``, module records flagged with their availability.

    Availability is evaluated once per distinct key, with shared lookups, so
    the cost is a fixed number of statements whatever the number of modules.
    """
    records, availability_keys = _static_records(catalog)
    available = catalog.availability.evaluate(session, tenant_id, availability_keys.values())
    return [
        record.model_copy(update={"available": available[availability_keys[record.group_key]]})
        if record.group_key in availability_keys
        else record
        for record in records
    ]


def palette(catalog: Catalog, session: Session, tenant_id: str) -> list[CatalogRecord]:
    """The groups ``tenant_id`` may add steps from: available and not empty."""
    return [
        r
        for r in designer_catalog(catalog, session, tenant_id)
        if r.available is not False and r.actions
    ]


def step_status(
    catalog: Catalog,
    session: Session,
    tenant_id: str,
    *,
    action_id: str,
    group_key: str | None = None,
) -> StepStatus:
    """Whether an existing step's group is connected, with the editor's texts.

    The group is ``group_key`` when the step recorded one, else the group that
    offers ``action_id``. Unknown groups and actions raise UnknownActionError.
    """
    records = designer_catalog(catalog, session, tenant_id)
    record = next((r for r in records if group_key and r.group_key == group_key), None)
    if record is None:
        record = next((r for r in records if any(a.id == action_id for a in r.actions)), None)
    if record is None:
        raise UnknownActionError(action_id)
    if record.available is not False:
        return StepStatus(
            group_key=record.group_key,
            label=record.label,
            available=True,
            banner=None,
            message=None,
            badge=None,
            tooltip=None,
        )
    provider = record.group_key.removeprefix("app:")
    return StepStatus(
        group_key=record.group_key,
        label=record.label,
        available=False,
        banner=f"{record.label} is not connected",
        message=(
            "Steps using its actions will fail at run time until the integration is "
            f"reconnected (patchbay connect {provider} --tenant {tenant_id})."
        ),
        badge="Disconnected",
        tooltip=(
            f"{record.label} is not connected; this step will fail at run time "
            "until it is reconnected."
        ),
    )


def public_actions(catalog: Catalog, action_id: str | None = None) -> list[AnyActionSpec]:
    """Every version of one action id, or every action, internal ones left out.

    Drawn from the unfiltered registry: the input-mapping editor must resolve
    schemas of steps whose integration is disconnected. An id with no public
    version raises UnknownActionError.
    """
    specs = [s for s in catalog.actions.list() if not s.internal]
    if action_id is not None:
        specs = [s for s in specs if s.id == action_id]
        if not specs:
            raise UnknownActionError(action_id)
    return specs


def action_json_schemas(catalog: Catalog, action_id: str | None = None) -> dict[str, Any]:
    """``{"<id>@<v>": {"input": schema, "output": schema}}`` for one action id or all."""
    return {s.key: s.json_schemas() for s in public_actions(catalog, action_id)}
