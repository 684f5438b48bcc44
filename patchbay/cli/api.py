"""The HTTP API from the command line: ``serve``, and the tenant API tokens it accepts.

``token create`` prints a token once (only its hash is stored); ``token
list`` shows ids, names, scopes and when each was made, revoked and last
used, never a token; ``token revoke`` ends one. ``serve`` runs the API
(``api.app``) with uvicorn; on the embedded default it also runs the
in-process worker, so ``patchbay sandbox`` plus ``patchbay serve`` is a
complete local system.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer

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
from patchbay.cli.tables import FitTable

DEFAULT_PORT = 8700


def token_create(
    tenant: TenantOption,
    scope: Annotated[
        str, typer.Option("--scope", help="read (catalog, steps, ledger), run (+ enqueue), admin.")
    ],
    name: Annotated[str, typer.Option("--name", help="What the token is for.")] = "api",
) -> None:
    """Create an API token for a tenant and print it once (only its hash is stored)."""
    from store.tokens import TokenError, create_token

    with command_runtime() as rt:
        try:
            with rt.store.sessions.begin() as session:
                require_tenant_or_exit(session, tenant)
                token, info = create_token(session, tenant, scope, name)
        except TokenError as exc:
            fail_usage(str(exc))
    typer.echo(token)
    typer.echo(
        f"token {info.token_id} ({info.scope}, {info.name!r}) for tenant {tenant}: shown once, "
        "store it now",
        err=True,
    )


def token_list(tenant: TenantOption, as_json: JsonFlag = False) -> None:
    """The tenant's API tokens (ids, names, scopes, when made, revoked and last used)."""
    from store.tokens import list_tokens

    with command_runtime() as rt, rt.store.sessions() as session:
        require_tenant_or_exit(session, tenant)
        tokens = list_tokens(session, tenant)
    rows: list[dict[str, Any]] = [
        {
            "token_id": str(t.token_id),
            "name": t.name,
            "scope": t.scope,
            "created_at": t.created_at.isoformat(),
            "revoked_at": t.revoked_at.isoformat() if t.revoked_at else None,
            "last_used_at": t.last_used_at.isoformat() if t.last_used_at else None,
        }
        for t in tokens
    ]
    if as_json:
        print_json(rows)
        return
    if not rows:
        typer.echo(f"no API tokens for tenant {tenant}")
        return
    table = FitTable(
        ("token_id", "name", "scope", "created_at", "revoked_at", "last_used_at"),
        idents=("token_id",),
    )
    for r in rows:
        table.add(*(r[c] or "" for c in table.columns))
    table.print(stdout)


def token_revoke(
    tenant: TenantOption,
    token_id: Annotated[str, typer.Argument(help="The token's id (token list).")],
) -> None:
    """Revoke one of the tenant's API tokens (requests with it are 401 from now on)."""
    from store.tokens import TokenError, revoke_token

    try:
        parsed = uuid.UUID(token_id)
    except ValueError:
        fail_usage(f"{token_id!r} is not a token id (a UUID from patchbay token list)")
    with command_runtime() as rt:
        try:
            with rt.store.sessions.begin() as session:
                require_tenant_or_exit(session, tenant)
                changed = revoke_token(session, tenant, parsed)
        except TokenError as exc:
            fail_usage(str(exc))
    typer.echo(f"{'revoked' if changed else 'already revoked:'} token {parsed}")


def serve_cmd(
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to listen on.")] = DEFAULT_PORT,
) -> None:
    """Serve the HTTP API (with the in-process worker on the embedded default).

    Ctrl-C or SIGTERM stops it cleanly: the server drains its requests, then the
    in-process worker finishes the steps it is running, and it exits 0.
    """
    import uvicorn

    from api.app import create_app
    from api.context import ApiContext
    from api.inbound.botframework import MetadataURLRefused
    from executor.api import Executor
    from executor.embedded import EmbeddedWorker

    if not 0 < port < 65536:
        fail_usage(f"--port must be 1-65535, not {port}")
    _check_free(host, port)
    runtime = executor_runtime("patchbay serve", allow_embedded=True)
    worker = EmbeddedWorker(runtime.app).start() if runtime.settings.embedded else None
    try:
        try:
            app = create_app(ApiContext(Executor(runtime)))
        except MetadataURLRefused as exc:  # a bot metadata URL off Microsoft's hosts
            fail_usage(f"configuration: {exc}")
        where = "with the in-process worker" if worker else "on the shared broker"
        typer.echo(f"patchbay API on http://{host}:{port} ({where}); /openapi.json, /docs")
        server = uvicorn.Server(
            uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False)
        )
        with _signals_end_the_server():
            server.run()
    finally:
        if worker is not None:
            worker.stop()
        runtime.close()


def _check_free(host: str, port: int) -> None:
    """Exit 2 in one line when ``host:port`` cannot be listened on (in use, no such address)."""
    import socket

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        family, kind, proto, _, address = infos[0]
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(address)
    except OSError as exc:
        fail_usage(f"cannot listen on {host}:{port}: {exc.strerror or exc}")


@contextmanager
def _signals_end_the_server() -> Iterator[None]:
    """SIGINT and SIGTERM end the server and nothing more while it runs.

    uvicorn shuts down on either, then raises the signal again under the handler
    it found: the default one would kill the process (SIGTERM) or raise
    KeyboardInterrupt (SIGINT) before the worker is stopped and the store closed.
    """
    import signal

    handled = (signal.SIGINT, signal.SIGTERM)
    before = {sig: signal.signal(sig, lambda *_: None) for sig in handled}
    try:
        yield
    finally:
        for sig, handler in before.items():
            signal.signal(sig, handler)
