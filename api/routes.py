"""``/v1``: the designer's catalog and palette, actions and their schemas, steps, the ledger.

Every route acts on the calling token's tenant (``api.auth``); reads need
the ``read`` scope, enqueueing ``run``. Route handlers are plain functions
(FastAPI runs them in its thread pool), since the store and the broker are
blocking clients. No ``from __future__ import annotations`` here: FastAPI
reads the routes' annotations, which name dependencies local to ``v1_router``.
"""

import asyncio
import time
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response
from fastapi.dependencies.models import Dependant
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from actionkit.errors import NotFound, UnknownAction, ValidationFailed
from api.auth import AuthFirstRoute, requires
from api.connections import connection_routes
from api.context import ApiContext
from api.errors import ApiError, error_responses
from catalog.designer import (
    CatalogRecord,
    designer_catalog,
    palette,
    public_actions,
)
from catalog.errors import UnknownActionError
from executor.control import StepRefused
from executor.results import InvocationResult, StepDetail
from executor.wire import valid_key
from store.tokens import Principal

MAX_WAIT_SECONDS = 30.0
MAX_PAGE = 200
# Text that reaches the database: no control characters (PostgreSQL refuses NUL in text).
PRINTABLE = r"^[^\x00-\x1f\x7f]+$"
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

    action_id: str = Field(
        min_length=1, max_length=200, pattern=PRINTABLE, description="e.g. tickets.create"
    )
    version: int | None = Field(
        default=None, ge=1, le=1_000_000, description="Pin a version (default: newest)."
    )
    input: dict[str, Any] = Field(description="The action's input, as its input schema says.")
    run_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        pattern=PRINTABLE,
        description="The workflow run; with step_path, the step's key when no Idempotency-Key.",
    )
    step_path: str | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        pattern=PRINTABLE,
        description="Where the step sits in its run, e.g. root.steps[0].",
    )


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


def _nul_path(value: Any, path: str) -> str | None:
    """The path of the first string (key or value) in ``value`` holding a NUL, or None."""
    if isinstance(value, str):
        return path if "\x00" in value else None
    if isinstance(value, dict):
        for k, v in value.items():
            inner = f"{path}.{k}" if path else str(k)
            if "\x00" in str(k):
                return inner
            found = _nul_path(v, inner)
            if found is not None:
                return found
    if isinstance(value, list):
        for i, v in enumerate(value):
            found = _nul_path(v, f"{path}[{i}]")
            if found is not None:
                return found
    return None


def _query_names(dependant: Dependant) -> set[str]:
    """The query parameters a route takes (its own and its dependencies')."""
    names = {field.alias for field in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _query_names(sub)
    return names


class V1Route(AuthFirstRoute):
    """A ``/v1`` route: the token first, then no query parameter the route does not take.

    An unknown parameter is a typo more often than not (``?stauts=FAILED``), and
    ignoring it would answer something other than what was asked.
    """

    def authorized_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().authorized_handler()
        known = _query_names(self.dependant)

        async def known_parameters_only(request: Request) -> Response:
            unknown = sorted(set(request.query_params) - known)
            if unknown:
                takes = ", ".join(sorted(known)) or "none"
                raise ValidationFailed(
                    f"{unknown[0]!r} is not a query parameter of this route (it takes: {takes})",
                    field=unknown[0],
                )
            return await handler(request)

        return known_parameters_only


READS = error_responses(401)
ENQUEUE = error_responses(400, 401, 403, 404, 409, 413, 422, 503)


def v1_router(ctx: ApiContext) -> APIRouter:
    """The ``/v1`` routes, bound to ``ctx``."""
    router = APIRouter(prefix="/v1", route_class=V1Route)
    reader = Annotated[Principal, Depends(requires(ctx, "read"))]
    runner = Annotated[Principal, Depends(requires(ctx, "run"))]

    @router.get("/catalog", response_model=CatalogPage, tags=["designer"], responses=READS)
    def get_catalog(who: reader) -> CatalogPage:
        """Every group of the designer, app tiles flagged available or not."""
        with ctx.store.sessions() as session:
            groups = designer_catalog(ctx.catalog, session, who.tenant)
        return CatalogPage(tenant_id=who.tenant, groups=groups)

    @router.get("/palette", response_model=CatalogPage, tags=["designer"], responses=READS)
    def get_palette(who: reader) -> CatalogPage:
        """The groups the tenant may add steps from (connected integrations only)."""
        with ctx.store.sessions() as session:
            groups = palette(ctx.catalog, session, who.tenant)
        return CatalogPage(tenant_id=who.tenant, groups=groups)

    @router.get("/actions", response_model=list[ActionSummary], tags=["actions"], responses=READS)
    def list_actions(who: reader) -> list[dict[str, Any]]:
        """Every public action and version, without schemas."""
        return [_summary(ctx, s) for s in public_actions(ctx.catalog)]

    @router.get(
        "/actions/{action_id}",
        response_model=ActionDetail,
        tags=["actions"],
        responses=READS | error_responses(404, 422),
    )
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

    @router.post(
        "/steps",
        response_model=StepAccepted,
        status_code=202,
        tags=["steps"],
        responses=ENQUEUE,
    )
    def post_step(
        who: runner,
        body: StepRequest,
        response: Response,
        idempotency_key: Annotated[
            str | None,
            Header(
                alias="Idempotency-Key",
                min_length=1,
                max_length=512,
                pattern=PRINTABLE,
                description="The step's key: the same key and body answer the same step.",
            ),
        ] = None,
    ) -> StepAccepted:
        """Enqueue one step; the same key and body answer the same step, another body 409.

        The key is the Idempotency-Key header, else ``run_id:step_path:action@version``;
        an action that changes things at a vendor needs one of them.
        """
        from executor.api import EnqueueFailed

        nul = _nul_path(body.input, "input")
        if nul is not None:
            raise ValidationFailed(f"{nul}: text may not hold a NUL character", field=nul)
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
        # Percent-encoded: a key may hold any printable text ("?", "#", "%", non-ASCII).
        url = "/v1/steps/" + quote(handle.key, safe="/:@")
        response.headers["Location"] = url
        return StepAccepted(
            key=handle.key,
            tenant_id=who.tenant,
            sent=handle.sent,
            replayed=handle.replayed,
            url=url,
            result=handle.result(),
        )

    @router.get(
        "/steps/{key:path}",
        response_model=StepDetail,
        tags=["steps"],
        responses=READS | error_responses(404, 422),
    )
    async def get_step(
        who: reader,
        request: Request,
        key: Annotated[str, Path(min_length=1, max_length=512)],
        wait: Annotated[
            float,
            Query(
                ge=0,
                le=MAX_WAIT_SECONDS,
                description=f"Long-poll: answer once the step is final or after this many "
                f"seconds (at most {MAX_WAIT_SECONDS:g}).",
            ),
        ] = 0.0,
    ) -> StepDetail:
        """One step in full; with ``wait``, answered once it is final or the wait is over.

        The wait holds no thread: the ledger is read every 50-500 ms in between.
        """
        if not valid_key(key):
            raise NotFound(f"no step {key!r}", details={"key": key})
        deadline = time.monotonic() + wait
        interval = 0.05
        while True:
            try:
                detail = await run_in_threadpool(ctx.executor.step, key, who.tenant)
            except StepRefused:
                raise NotFound(f"no step {key!r}", details={"key": key}) from None
            left = deadline - time.monotonic()
            if detail.final or left <= 0 or await request.is_disconnected():
                return detail
            await asyncio.sleep(min(interval, left))
            interval = min(interval * 1.5, 0.5)

    @router.get(
        "/invocations",
        response_model=InvocationPage,
        tags=["steps"],
        responses=READS | error_responses(422),
    )
    def list_invocations(
        who: reader,
        run_id: Annotated[
            str | None, Query(min_length=1, max_length=200, pattern=PRINTABLE)
        ] = None,
        action_id: Annotated[
            str | None, Query(min_length=1, max_length=200, pattern=PRINTABLE)
        ] = None,
        status: Annotated[
            list[Status] | None, Query(description="Any of these (repeat the parameter).")
        ] = None,
        since: Annotated[
            datetime | None,
            Query(description="Created or changed at or after, with an offset: ...T09:00:00Z."),
        ] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
        offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
    ) -> InvocationPage:
        """The ledger, newest first, filtered by run, action, status and time, paged."""
        if since is not None:
            if since.tzinfo is None:
                raise ValidationFailed(
                    "since: give a time zone offset (e.g. 2026-01-31T09:00:00Z)", field="since"
                )
            try:
                since = since.astimezone(UTC)
            except OverflowError:
                # Before 0001-01-01 UTC (everything is later) or after 9999 (nothing is).
                if since.year > 1:
                    return InvocationPage(items=[], offset=offset, limit=limit, next_offset=None)
                since = None
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

    connection_routes(router, ctx)
    return router
