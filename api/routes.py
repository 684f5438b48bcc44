"""``/v1``: the designer's catalog and palette, actions and their schemas, steps, the ledger.

Every route acts on the calling token's tenant (``api.auth``); reads need
the ``read`` scope, enqueueing ``run``. Route handlers are plain functions
(FastAPI runs them in its thread pool), since the store and the broker are
blocking clients. No ``from __future__ import annotations`` here: FastAPI
reads the routes' annotations, which name dependencies local to ``v1_router``.
"""

import time
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Path, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from actionkit.errors import ActionFailure, NotFound, UnknownAction
from api.auth import requires
from api.context import ApiContext
from api.errors import ApiError
from catalog.designer import (
    CatalogRecord,
    designer_catalog,
    palette,
    public_actions,
)
from catalog.errors import UnknownActionError
from executor.control import StepRefused
from executor.results import InvocationResult, StepDetail
from store.tokens import Principal

MAX_WAIT_SECONDS = 30.0
MAX_PAGE = 200
Status = Literal["QUEUED", "STARTED", "WAITING", "SUCCEEDED", "FAILED", "CANCELLED"]


class ActionSummary(BaseModel):
    """An action as listed: what the designer shows, without schemas."""

    model_config = ConfigDict(frozen=True)

    id: str
    version: int
    label: str
    description: str
    category: str
    icon: str
    side_effectful: bool
    group_key: str | None


class ActionVersion(ActionSummary):
    """One version of an action with its input and output JSON Schemas."""

    input_schema: dict[str, Any]
    output_schema: dict[str, Any]


class ActionDetail(BaseModel):
    """Every public version of one action id, newest last."""

    id: str
    versions: list[ActionVersion]


class CatalogPage(BaseModel):
    """The designer catalog (or palette) of the calling tenant."""

    tenant_id: str
    groups: list[CatalogRecord]


class StepRequest(BaseModel):
    """One step to run: the action, its input, and where it sits in a workflow run."""

    model_config = ConfigDict(extra="forbid")

    action_id: str = Field(min_length=1, max_length=200, description="e.g. ninjaone.devices.find")
    version: int | None = Field(default=None, ge=1, description="Pin a version (default: newest).")
    input: dict[str, Any] = Field(description="The action's input, as its input schema says.")
    run_id: str | None = Field(default=None, min_length=1, max_length=200)
    step_path: str | None = Field(default=None, min_length=1, max_length=200)


class StepAccepted(BaseModel):
    """The step was accepted (sent to a worker, or answered from the ledger)."""

    key: str
    tenant_id: str
    sent: bool = Field(description="False when the key's step had already ended (nothing ran).")
    replayed: bool
    url: str = Field(description="Where to read the step: GET it, with ?wait=S to long-poll.")
    result: InvocationResult | None = Field(
        description="The step's state when the answer was made (null: not picked up yet)."
    )


class InvocationPage(BaseModel):
    """One page of the ledger, newest first."""

    items: list[InvocationResult]
    offset: int
    limit: int
    next_offset: int | None = Field(description="The offset of the next page; null: last page.")


def _summary(catalog_ctx: ApiContext, spec: Any) -> dict[str, Any]:
    module = catalog_ctx.catalog.modules.of_action(spec.id)
    return {
        "id": spec.id,
        "version": spec.version,
        "label": spec.ui.label,
        "description": spec.ui.description,
        "category": spec.ui.category,
        "icon": spec.ui.icon,
        "side_effectful": spec.side_effectful,
        "group_key": module.group_key if module is not None else None,
    }


def v1_router(ctx: ApiContext) -> APIRouter:
    """The ``/v1`` routes, bound to ``ctx``."""
    router = APIRouter(prefix="/v1")
    reader = Annotated[Principal, Depends(requires(ctx, "read"))]
    runner = Annotated[Principal, Depends(requires(ctx, "run"))]

    @router.get("/catalog", response_model=CatalogPage, tags=["designer"])
    def get_catalog(who: reader) -> CatalogPage:
        """Every group of the designer, app tiles flagged available or not."""
        with ctx.store.sessions() as session:
            groups = designer_catalog(ctx.catalog, session, who.tenant)
        return CatalogPage(tenant_id=who.tenant, groups=groups)

    @router.get("/palette", response_model=CatalogPage, tags=["designer"])
    def get_palette(who: reader) -> CatalogPage:
        """The groups the tenant may add steps from (connected integrations only)."""
        with ctx.store.sessions() as session:
            groups = palette(ctx.catalog, session, who.tenant)
        return CatalogPage(tenant_id=who.tenant, groups=groups)

    @router.get("/actions", response_model=list[ActionSummary], tags=["actions"])
    def list_actions(who: reader) -> list[dict[str, Any]]:
        """Every public action and version, without schemas."""
        return [_summary(ctx, s) for s in public_actions(ctx.catalog)]

    @router.get("/actions/{action_id}", response_model=ActionDetail, tags=["actions"])
    def get_action(
        who: reader, action_id: Annotated[str, Path(min_length=1, max_length=200)]
    ) -> ActionDetail:
        """One action's versions with their input and output JSON Schemas."""
        try:
            specs = public_actions(ctx.catalog, action_id)
        except UnknownActionError:
            raise UnknownAction(
                f"no action {action_id!r}", details={"action_id": action_id}
            ) from None
        versions = []
        for spec in sorted(specs, key=lambda s: s.version):
            schemas = spec.json_schemas()
            versions.append(
                ActionVersion(
                    **_summary(ctx, spec),
                    input_schema=schemas["input"],
                    output_schema=schemas["output"],
                )
            )
        return ActionDetail(id=action_id, versions=versions)

    @router.post("/steps", response_model=StepAccepted, status_code=202, tags=["steps"])
    def post_step(
        who: runner,
        body: StepRequest,
        response: Response,
        idempotency_key: Annotated[
            str | None, Header(alias="Idempotency-Key", min_length=1, max_length=512)
        ] = None,
    ) -> StepAccepted:
        """Enqueue one step; the same key and body answer the same step, another body 409."""
        from executor.api import EnqueueFailed

        try:
            handle = ctx.executor.enqueue(
                body.action_id,
                tenant_id=who.tenant,
                input=body.input,
                version=body.version,
                idempotency_key=idempotency_key,
                run_id=body.run_id,
                step_path=body.step_path,
            )
        except EnqueueFailed as exc:
            raise ApiError("BROKER_UNAVAILABLE", str(exc), retryable=True) from None
        url = f"/v1/steps/{handle.key}"
        response.headers["Location"] = url
        return StepAccepted(
            key=handle.key,
            tenant_id=who.tenant,
            sent=handle.sent,
            replayed=handle.replayed,
            url=url,
            result=handle.result(),
        )

    @router.get("/steps/{key:path}", response_model=StepDetail, tags=["steps"])
    def get_step(
        who: reader,
        key: Annotated[str, Path(min_length=1, max_length=512)],
        wait: Annotated[
            float, Query(ge=0, le=MAX_WAIT_SECONDS, description="Long-poll up to S seconds.")
        ] = 0.0,
    ) -> StepDetail:
        """One step in full; with ``wait``, answered once it is final or the wait is over."""
        deadline = time.monotonic() + wait
        interval = 0.05
        while True:
            try:
                detail = ctx.executor.step(key, who.tenant)
            except StepRefused:
                raise NotFound(f"no step {key!r}", details={"key": key}) from None
            if detail.final or time.monotonic() >= deadline:
                return detail
            time.sleep(min(interval, max(0.0, deadline - time.monotonic())))
            interval = min(interval * 1.5, 0.5)

    @router.get("/invocations", response_model=InvocationPage, tags=["steps"])
    def list_invocations(
        who: reader,
        run_id: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
        action_id: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
        status: Annotated[list[Status] | None, Query()] = None,
        since: Annotated[datetime | None, Query()] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
        offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
    ) -> InvocationPage:
        """The ledger, newest first, filtered by run, action, status and time, paged."""
        if since is not None and since.tzinfo is None:
            raise ApiError("VALIDATION_ERROR", "since: give a time zone offset", details={})
        items = ctx.executor.invocations(
            who.tenant,
            run_id=run_id,
            statuses=status or (),
            since=since,
            action_id=action_id,
            limit=limit + 1,
            offset=offset,
        )
        more = len(items) > limit
        return InvocationPage(
            items=items[:limit],
            offset=offset,
            limit=limit,
            next_offset=offset + limit if more else None,
        )

    return router


def is_action_failure(exc: BaseException) -> bool:
    """Whether ``exc`` is one of the executor's errors (answered as its payload)."""
    return isinstance(exc, ActionFailure)
