"""Tenant-admin commands: ``db``, ``tenant``, ``user``, ``calendar``, ``connect``, ``disconnect``.

Also where a vendor URL given to ``connect`` or ``calendar connect`` is
checked against the outbound policy (``check_vendor_url``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import SecretStr
from rich.table import Table

from actionkit.outbound import HostRules, OutboundPolicy, OutboundURLRefused
from catalog.registration import Catalog
from catalog.vendors import Vendor
from executor.settings import Settings
from integrations.scheduling.graph import GRAPH_HOSTS, LOGIN_HOSTS
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
from patchbay.runtime import Runtime
from store import Store, db
from store import connections as conn
from store.calendars import connect_calendar, disconnect_calendar, list_calendars
from store.secrets import check_secret_name
from store.tenants import TenantError, create_tenant, list_tenants, require_tenant
from store.users import create_user, find_user, list_users

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


def tenant_list(as_json: JsonFlag = False) -> None:
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
    table = Table("tenant", "name", "connected")
    for row in rows:
        table.add_row(str(row["tenant"]), str(row["name"]), ", ".join(row["connected"]) or "-")
    stdout.print(table)


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


def user_list(tenant: TenantOption, as_json: JsonFlag = False) -> None:
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
    table = Table("user id", "username", "email", "roles")
    for r in rows:
        roles: Any = r["roles"]
        table.add_row(
            str(r["user_id"]), str(r["username"]), str(r["email"] or "-"), ", ".join(roles) or "-"
        )
    stdout.print(table)


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
    settings: dict[str, Any] = {"aad_tenant": aad_tenant}
    with command_runtime() as rt:
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
    typer.echo(f"calendar connected for {user} ({account}): {connection_id}")


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


def calendar_list(tenant: TenantOption, as_json: JsonFlag = False) -> None:
    """The tenant's calendar connections."""
    with command_runtime() as rt, rt.store.sessions() as session:
        require_tenant_or_exit(session, tenant)
        rows = [
            {
                "connection_id": str(c.connection_id),
                "user_id": str(c.user_id),
                "provider": c.provider,
                "account": c.external_account,
                "direction": c.sync_direction,
                "active": c.is_active,
            }
            for c in list_calendars(session, tenant)
        ]
    if as_json:
        print_json(rows)
        return
    table = Table("connection", "user", "account", "direction", "active")
    for r in rows:
        table.add_row(
            str(r["connection_id"]),
            str(r["user_id"]),
            str(r["account"] or "-"),
            str(r["direction"]),
            str(r["active"]),
        )
    stdout.print(table)


# -- connections --------------------------------------------------------------


def parse_secret_option(raw: str) -> tuple[str, SecretStr]:
    """``NAME=VALUE`` or ``NAME=@file``; raises UsageError (never quoting the value)."""
    name, sep, value = raw.partition("=")
    if not sep or not name:
        raise UsageError("--secret must look like NAME=VALUE or NAME=@file")
    try:
        check_secret_name(name)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if value.startswith("@"):
        path = Path(value[1:])
        try:
            value = path.read_text().rstrip("\n")
        except OSError as exc:
            raise UsageError(f"--secret {name}: cannot read {path}: {exc.strerror}") from None
    if not value:
        raise UsageError(f"--secret {name}: the value is empty")
    return name, SecretStr(value)


def vendor_host_rules(rt: Runtime, provider: str) -> HostRules:
    """Where ``provider``'s API may live, as its package declares (``catalog.vendors``)."""
    vendor = rt.catalog.vendors.get(provider)
    return vendor.hosts if vendor is not None else HostRules()


def check_vendor_url(
    url: str, rules: HostRules, settings: Settings, *, allow_custom_host: bool = False
) -> str:
    """``url`` (https:// assumed when it names no scheme) if the outbound policy allows it.

    Resolves the host unless it is one of the vendor's known hosts: a custom
    host that resolves to a loopback, private or link-local address is refused
    here, and again before every request. Exits 2 naming the reason otherwise;
    the message never quotes a password the URL carried.
    """
    text = url.strip()
    candidate = text if "://" in text else f"https://{text}"
    policy = OutboundPolicy(rules, allow_custom_host=allow_custom_host, sandbox=settings.sandbox)
    try:
        parsed = policy.check_url(candidate)
        if not rules.matches(parsed.host):
            policy.check_url(candidate, resolve=True)
    except OutboundURLRefused as exc:
        fail_usage(f"refusing the vendor URL: {exc.message}")
    return text


def connection_kinds(catalog: Catalog) -> list[tuple[str, conn.ConnectionKind]]:
    """Every vendor ``patchbay connect`` takes, with the rows that mark it connected."""
    return [(v.provider, v.connection) for v in catalog.vendors.connectable() if v.connection]


def connectable_vendor(rt: Runtime, provider: str) -> Vendor:
    """The vendor ``provider`` names, if ``patchbay connect`` takes it; else exit 2."""
    vendor = rt.catalog.vendors.get(provider)
    if vendor is None or vendor.connection is None:
        known = ", ".join(v.provider for v in rt.catalog.vendors.connectable())
        fail_usage(f"unknown provider {provider!r} (known: {known})")
    return vendor


# Static on purpose: building the catalog here would slow every ``patchbay`` start.
PROVIDER_HELP = (
    "A vendor's provider name, as its integration package declares it "
    "(e.g. ninjaone; an unknown name is refused with the list of known ones)."
)


def connect_cmd(
    provider: Annotated[str, typer.Argument(help=PROVIDER_HELP)],
    tenant: TenantOption,
    url: Annotated[
        str | None,
        typer.Option(
            "--url",
            help="The vendor instance URL for this tenant (https; the vendor's known hosts "
            "unless --allow-custom-host).",
        ),
    ] = None,
    allow_custom_host: Annotated[
        bool,
        typer.Option(
            "--allow-custom-host",
            help="Allow a public host outside the vendor's known hosts (a private, loopback "
            "or link-local address is refused regardless).",
        ),
    ] = False,
    secret: SecretsOption = None,
) -> None:
    """Mark an integration connected for a tenant and store its secrets."""
    try:
        secrets = [parse_secret_option(raw) for raw in secret or []]
    except UsageError as exc:
        fail_usage(str(exc))
    with command_runtime() as rt:
        vendor = connectable_vendor(rt, provider)
        if url is not None:
            url = check_vendor_url(
                url,
                vendor_host_rules(rt, provider),
                rt.settings,
                allow_custom_host=allow_custom_host,
            )
        try:
            # One transaction: the connection and its secrets land together or not at all.
            with rt.store.sessions.begin() as session:
                require_tenant(session, tenant)
                conn.connect(
                    session,
                    tenant,
                    provider,
                    instance_url=url,
                    allow_custom_host=allow_custom_host,
                    kind=vendor.connection or "rmm",
                )
                for name, value in secrets:
                    rt.store.secrets.database.set_in(session, tenant, name, value)
        except (TenantError, conn.IntegrationConnectionError) as exc:
            fail_usage(str(exc))
    names = ", ".join(n for n, _ in secrets)
    typer.echo(
        f"connected {provider} for tenant {tenant}"
        + (f" (secrets stored: {names})" if names else "")
    )


def disconnect_cmd(
    provider: Annotated[str, typer.Argument(help=PROVIDER_HELP)],
    tenant: TenantOption,
    forget_secrets: Annotated[
        bool,
        typer.Option(
            "--forget-secrets", help="Also delete the tenant secrets the vendor declares."
        ),
    ] = False,
) -> None:
    """Mark an integration disconnected (its tile leaves the palette)."""
    with command_runtime() as rt:
        vendor = connectable_vendor(rt, provider)
        try:
            with rt.store.sessions.begin() as session:
                require_tenant(session, tenant)
                changed = conn.disconnect(
                    session, tenant, provider, kind=vendor.connection or "rmm"
                )
                forgotten = []
                if forget_secrets:
                    stored = set(rt.store.secrets.database.names(tenant))
                    for name in vendor.secret_names:
                        if name in stored:
                            rt.store.secrets.database.delete_in(session, tenant, name)
                            forgotten.append(name)
        except TenantError as exc:
            fail_usage(str(exc))
    state = "disconnected" if changed else "was not connected:"
    msg = f"{state} {provider} for tenant {tenant}"
    if forgotten:
        msg += f" (secrets deleted: {', '.join(forgotten)})"
    typer.echo(msg)
