"""Tenant-admin commands: ``db``, ``tenant``, ``user``, ``calendar``.

``connect``, ``disconnect`` and ``connections test`` are in ``connections``,
with the checks of a vendor URL and of ``--secret`` that ``calendar connect``
shares.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated, Any

import typer

from catalog.microsoft import GRAPH_HOSTS, LOGIN_HOSTS
from executor.settings import Settings
from patchbay.cli.common import (
    JsonFlag,
    SecretsOption,
    TenantOption,
    UsageError,
    command_runtime,
    fail_usage,
    print_json,
    require_tenant_or_exit,
    stdout,
)
from patchbay.cli.connections import check_vendor_url, connection_kinds, parse_secret_option
from patchbay.cli.tables import FitTable, WideFlag
from store import Store, db
from store import connections as conn
from store.calendars import connect_calendar, disconnect_calendar, list_calendars
from store.tenants import TenantError, create_tenant, list_tenants, require_tenant
from store.users import create_user, find_user, list_users

if TYPE_CHECKING:
    from pydantic import SecretStr

    from patchbay.runtime import Runtime

# -- db -----------------------------------------------------------------------


def db_upgrade() -> None:
    """Create or upgrade the schema at PATCHBAY_DATABASE_URL."""
    settings = Settings()
    store = Store.from_settings(settings)
    try:
        before = db.current_revision(store.engine)
        store.upgrade()
        after = db.current_revision(store.engine)
    finally:
        store.close()
    url = store.engine.url.render_as_string(hide_password=True)
    if before == after:
        typer.echo(f"{url}: already at revision {after}")
    else:
        typer.echo(f"{url}: upgraded {before or 'empty database'} -> {after}")


def db_current() -> None:
    """Print the schema revision of the database and of this code."""
    store = Store.from_settings(Settings())
    try:
        typer.echo(f"database: {db.current_revision(store.engine)}  code: {db.head_revision()}")
    finally:
        store.close()


# -- tenants ------------------------------------------------------------------


def tenant_create(
    tenant_id: Annotated[str, typer.Argument(help="Tenant id (letters, digits, '-', '_').")],
    name: Annotated[str | None, typer.Option("--name", help="Display name.")] = None,
) -> None:
    """Create a tenant."""
    with command_runtime() as rt:
        try:
            with rt.store.sessions.begin() as session:
                create_tenant(session, tenant_id, name)
        except TenantError as exc:
            fail_usage(str(exc))
    typer.echo(f"created tenant {tenant_id}")


def tenant_list(as_json: JsonFlag = False, wide: WideFlag = False) -> None:
    """List tenants and which integrations each has connected."""
    with command_runtime() as rt, rt.store.sessions() as session:
        rows: list[dict[str, Any]] = []
        for t in list_tenants(session):
            states = conn.connection_states(session, t.tenant, connection_kinds(rt.catalog))
            connected = [s.provider for s in states if s.connected]
            rows.append({"tenant": t.tenant, "name": t.name, "connected": connected})
    if as_json:
        print_json(rows)
        return
    table = FitTable(("tenant", "name", "connected"), idents=("tenant", "connected"))
    for row in rows:
        table.add(str(row["tenant"]), str(row["name"] or "-"), "\n".join(row["connected"]) or "-")
    table.print(stdout, wide=wide)


# -- users and calendars --------------------------------------------------------


def user_add(
    username: Annotated[str, typer.Argument(help="Login name, unique in the tenant.")],
    tenant: TenantOption,
    email: Annotated[str | None, typer.Option("--email")] = None,
    first_name: Annotated[str | None, typer.Option("--first-name")] = None,
    last_name: Annotated[str | None, typer.Option("--last-name")] = None,
    technician: Annotated[
        bool, typer.Option("--technician", help="Grant the Technician role (schedulable).")
    ] = False,
) -> None:
    """Add an internal user; prints its id."""
    with command_runtime() as rt:
        try:
            with rt.store.sessions.begin() as session:
                require_tenant(session, tenant)
                user = create_user(
                    session,
                    tenant,
                    username,
                    email=email,
                    first_name=first_name,
                    last_name=last_name,
                    technician=technician,
                )
                user_id = user.user_id
        except TenantError as exc:
            fail_usage(str(exc))
    typer.echo(str(user_id))


def user_list(tenant: TenantOption, as_json: JsonFlag = False, wide: WideFlag = False) -> None:
    """The tenant's users and roles."""
    with command_runtime() as rt, rt.store.sessions() as session:
        require_tenant_or_exit(session, tenant)
        rows: list[dict[str, Any]] = [
            {
                "user_id": str(u.user_id),
                "username": u.username,
                "email": u.email,
                "roles": roles,
                "active": not u.is_inactive,
            }
            for u, roles in list_users(session, tenant)
        ]
    if as_json:
        print_json(rows)
        return
    # Email and roles share a column, so the ids people type next (username,
    # user id) keep their full width at 80 columns.
    table = FitTable(("username", "user id", "email, roles"), idents=("username", "user id"))
    for r in rows:
        roles = ", ".join(r["roles"]) or "no roles"
        state = "" if r["active"] else ", inactive"
        table.add(str(r["username"]), str(r["user_id"]), f"{r['email'] or '-'}\n{roles}{state}")
    table.print(stdout, wide=wide)


def calendar_connect(
    tenant: TenantOption,
    user: Annotated[str, typer.Option("--user", help="User id or username.")],
    account: Annotated[
        str, typer.Option("--account", help="The mailbox: user principal name or Entra user id.")
    ],
    aad_tenant: Annotated[
        str, typer.Option("--aad-tenant", help="Entra (Azure AD) tenant id or domain.")
    ],
    calendar_id: Annotated[
        str | None, typer.Option("--calendar-id", help="A calendar other than the default.")
    ] = None,
    direction: Annotated[
        str, typer.Option("--direction", help="to_external, from_external or bidirectional.")
    ] = "to_external",
    login_url: Annotated[
        str | None,
        typer.Option("--login-url", help="Identity platform base URL (sandbox/sovereign clouds)."),
    ] = None,
    graph_url: Annotated[
        str | None, typer.Option("--graph-url", help="Graph base URL (sandbox/sovereign clouds).")
    ] = None,
    secret: SecretsOption = None,
) -> None:
    """Push a user's schedule entries to their Microsoft 365 calendar (Graph)."""
    try:
        secrets = [parse_secret_option(raw) for raw in secret or []]
    except UsageError as exc:
        fail_usage(str(exc))
    with command_runtime() as rt:
        line = connect_user_calendar(
            rt,
            tenant,
            user,
            account=account,
            aad_tenant=aad_tenant,
            calendar_id=calendar_id,
            direction=direction,
            login_url=login_url,
            graph_url=graph_url,
            secrets=secrets,
        )
    typer.echo(line)


def connect_user_calendar(
    rt: Runtime,
    tenant: str,
    user: str,
    *,
    account: str,
    aad_tenant: str,
    calendar_id: str | None = None,
    direction: str = "to_external",
    login_url: str | None = None,
    graph_url: str | None = None,
    secrets: Sequence[tuple[str, SecretStr]] = (),
) -> str:
    """Connect ``user``'s Microsoft 365 calendar as ``calendar connect`` does; the line to print.

    The connection (one per user: connecting again updates it) and the given
    tenant secrets are stored in one transaction. An unknown tenant or user, a
    refused URL or a bad direction exits 2 with nothing stored.
    """
    settings: dict[str, Any] = {"aad_tenant": aad_tenant}
    if login_url:
        settings["login_url"] = check_vendor_url(login_url, LOGIN_HOSTS, rt.settings)
    if graph_url:
        settings["graph_url"] = check_vendor_url(graph_url, GRAPH_HOSTS, rt.settings)
    try:
        with rt.store.sessions.begin() as session:
            require_tenant(session, tenant)
            found = find_user(session, tenant, user)
            if found is None:
                raise TenantError(f"unknown user {user!r} in tenant {tenant!r}")
            connection = connect_calendar(
                session,
                tenant,
                found.user_id,
                provider="microsoft",
                account=account,
                calendar_id=calendar_id,
                direction=direction,
                settings=settings,
            )
            for name, value in secrets:
                rt.store.secrets.database.set_in(session, tenant, name, value)
            connection_id = connection.connection_id
    except (TenantError, ValueError) as exc:
        fail_usage(str(exc))
    return f"calendar connected for {user} ({account}): {connection_id}"


def calendar_disconnect(
    tenant: TenantOption,
    user: Annotated[str, typer.Option("--user", help="User id or username.")],
) -> None:
    """Stop pushing a user's entries to their calendar."""
    with command_runtime() as rt:
        try:
            with rt.store.sessions.begin() as session:
                require_tenant(session, tenant)
                found = find_user(session, tenant, user)
                if found is None:
                    raise TenantError(f"unknown user {user!r} in tenant {tenant!r}")
                changed = disconnect_calendar(session, tenant, found.user_id, "microsoft")
        except TenantError as exc:
            fail_usage(str(exc))
    typer.echo(("disconnected" if changed else "was not connected:") + f" calendar of {user}")


def calendar_list(tenant: TenantOption, as_json: JsonFlag = False, wide: WideFlag = False) -> None:
    """The tenant's calendar connections, by username (--json adds the ids)."""
    with command_runtime() as rt, rt.store.sessions() as session:
        require_tenant_or_exit(session, tenant)
        rows = [
            {
                "connection_id": str(c.connection_id),
                "user_id": str(c.user_id),
                "username": username,
                "provider": c.provider,
                "account": c.external_account,
                "direction": c.sync_direction,
                "active": c.is_active,
            }
            for c, username in list_calendars(session, tenant)
        ]
    if as_json:
        print_json(rows)
        return
    # Nothing takes a connection id (calendar disconnect takes --user): it is in --json only.
    table = FitTable(("user", "provider", "account", "direction", "active"), idents=("user",))
    for r in rows:
        table.add(
            str(r["username"] or r["user_id"]),
            str(r["provider"]),
            str(r["account"] or "-"),
            str(r["direction"]),
            "yes" if r["active"] else "no",
        )
    table.print(stdout, wide=wide)
