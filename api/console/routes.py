"""The console's pages under ``/console``: sign in, the palette, the ledger, one step.

Server-rendered HTML (Jinja2, autoescaped) with one hand-written stylesheet
served from here; no script at all. The ledger and a step in flight reload
themselves with ``<meta http-equiv="refresh">``, so the console works the
same with JavaScript off. Every response carries a Content-Security-Policy
that allows no script and nothing from another origin.

The pages are left out of ``/openapi.json``: it documents the JSON API.
Page handlers are plain functions (FastAPI runs them in its thread pool:
the store is a blocking client). No ``from __future__ import annotations``
here: FastAPI reads the routes' annotations.
"""

from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from starlette.concurrency import run_in_threadpool

from api.auth import principal_of
from api.console import signin
from api.console.icons import icon
from api.console.views import (
    IN_FLIGHT,
    STATUSES,
    InputFields,
    LedgerFilters,
    action_facts,
    between_text,
    iso_text,
    ledger_page,
    palette_view,
    pretty_json,
    relative_text,
    stamp_text,
    status_class,
    step_path,
    took_text,
    when_text,
)
from api.context import ApiContext
from catalog.designer import designer_catalog
from executor.control import StepRefused
from executor.wire import valid_key
from store.tokens import Principal
from store.types import utcnow

HERE = Path(__file__).parent
REFRESH_SECONDS = 5
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
# Pages hold a tenant's data: never kept by a shared cache, nor by the browser's.
PAGE_HEADERS = {**SECURITY_HEADERS, "Cache-Control": "no-store"}
STATIC_TYPES = {".css": "text/css; charset=utf-8"}


def templates() -> Environment:
    """The console's templates, autoescaped, failing loudly on a name they do not know."""
    env = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals.update(
        icon=icon, step_url=step_path, statuses=STATUSES, relative=relative_text, took=took_text
    )
    env.filters.update(
        when=when_text,
        stamp=stamp_text,
        iso=iso_text,
        pretty=pretty_json,
        pill=status_class,
        between=between_text,
    )
    return env


class ConsoleRoute(APIRoute):
    """A console route: a request without a valid token is sent to sign in (303), and
    every answer carries the console's security headers."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def console_handler(request: Request) -> Response:
            try:
                response = await handler(request)
            except signin.SignInFirst as refused:
                response = RedirectResponse(refused.location, status_code=303)
                if refused.clear_cookie:
                    signin.sign_out(response, request)
            for name, value in PAGE_HEADERS.items():
                response.headers.setdefault(name, value)
            return response

        return console_handler


def console_router(ctx: ApiContext) -> APIRouter:
    """The console's pages, bound to ``ctx``."""
    router = APIRouter(prefix="/console", route_class=ConsoleRoute, include_in_schema=False)
    env = templates()
    fields = InputFields()
    static = {p.name: p for p in (HERE / "static").iterdir() if p.suffix in STATIC_TYPES}

    def page(
        name: str, status_code: int = 200, who: Principal | None = None, **values: Any
    ) -> HTMLResponse:
        values = {"refresh": None, "current": None, **values}
        html = env.get_template(name).render(who=who, now=utcnow(), **values)
        return HTMLResponse(html, status_code=status_code)

    @router.get("")
    @router.get("/")
    def home() -> RedirectResponse:
        return RedirectResponse(signin.HOME_PATH, status_code=303)

    @router.get("/static/{name}")
    def static_file(name: str) -> Response:
        path = static.get(name)
        if path is None:
            return page("notice.html", 404, title="Not found", what="No such file.")
        return Response(
            path.read_bytes(),
            media_type=STATIC_TYPES[path.suffix],
            headers={"Cache-Control": "public, max-age=300"},
        )

    @router.get("/login")
    def login_form(request: Request) -> HTMLResponse:
        return page("login.html", next=signin.safe_next(request.query_params.get("next")))

    @router.post("/login")
    async def login(request: Request) -> Response:
        if not signin.same_origin(request):
            return page(
                "notice.html", 403, title="Refused", what="Sign in from the console's own page."
            )
        form = signin.form_fields(request.headers.get("content-type"), await request.body())
        token = form.get("token", "").strip()
        target = signin.safe_next(form.get("next"))
        who = await run_in_threadpool(principal_of, ctx, token) if token else None
        if who is None:
            error = "That token is unknown or revoked." if token else "Paste an API token."
            return page("login.html", 401, next=target, error=error)
        response = RedirectResponse(target or signin.HOME_PATH, status_code=303)
        signin.sign_in(response, request, token)
        return response

    @router.post("/logout")
    def logout(request: Request) -> Response:
        if not signin.same_origin(request):
            return page(
                "notice.html", 403, title="Refused", what="Sign out from the console's own page."
            )
        response = RedirectResponse(signin.LOGIN_PATH, status_code=303)
        signin.sign_out(response, request)
        return response

    @router.get("/palette")
    def palette_page(request: Request) -> HTMLResponse:
        who = signin.viewer(ctx, request)
        with ctx.store.sessions() as session:
            records = designer_catalog(ctx.catalog, session, who.tenant)
            view = palette_view(ctx.catalog, session, who.tenant, records, fields)
        return page("palette.html", who=who, current="palette", view=view)

    @router.get("/ledger")
    def ledger(request: Request) -> HTMLResponse:
        who = signin.viewer(ctx, request)
        filters = LedgerFilters.parse(dict(request.query_params))
        view = ledger_page(ctx.executor, ctx.catalog, who.tenant, filters)
        return page(
            "ledger.html",
            422 if filters.problems else 200,
            who=who,
            current="ledger",
            view=view,
            refresh=REFRESH_SECONDS if view.in_flight else None,
        )

    @router.get("/steps/{key:path}")
    def step(request: Request, key: str) -> HTMLResponse:
        who = signin.viewer(ctx, request)
        try:
            if not valid_key(key):
                raise StepRefused(key)
            detail = ctx.executor.step(key, who.tenant)
        except StepRefused:
            # Another tenant's step is as absent as one nobody has.
            return page(
                "notice.html",
                404,
                who=who,
                current="ledger",
                title="Not found",
                what="This tenant has no such step.",
            )
        return page(
            "step.html",
            who=who,
            current="ledger",
            step=detail,
            facts=action_facts(ctx.catalog, detail.action_id, detail.version),
            refresh=REFRESH_SECONDS if detail.status in IN_FLIGHT else None,
        )

    return router
