"""The ``patchbay`` command line: tenant admin, catalog views, database, demo.

Exit codes: 0 success, 1 a run that failed, 2 bad usage (unknown tenant or
provider, malformed option). Bad usage is reported as one line on stderr and
writes nothing.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from pydantic import SecretStr, ValidationError
from rich.console import Console
from rich.table import Table

from actionkit.outbound import ANY_PUBLIC_HOST, HostRules, OutboundPolicy, OutboundURLRefused
from catalog.designer import CatalogRecord, action_json_schemas, designer_catalog, palette
from catalog.errors import UnknownActionError
from integrations.scheduling.graph import GRAPH_HOSTS, LOGIN_HOSTS
from patchbay.runtime import Runtime, open_runtime
from store import SchemaOutOfDate, Store, db
from store import connections as conn
from store.calendars import connect_calendar, disconnect_calendar, list_calendars
from store.secrets import check_secret_name
from store.settings import Settings
from store.tenants import TenantError, create_tenant, list_tenants, require_tenant
from store.users import create_user, find_user, list_users

app = typer.Typer(
    name="patchbay",
    help="MSP workflow actions on the tools an MSP already runs.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True, rich_markup_mode=None)
tenant_app = typer.Typer(help="Tenants.", no_args_is_help=True, rich_markup_mode=None)
user_app = typer.Typer(help="Users (technicians).", no_args_is_help=True, rich_markup_mode=None)
calendar_app = typer.Typer(
    help="Users' external calendars (schedule entries are pushed there).",
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(db_app, name="db")
app.add_typer(tenant_app, name="tenant")
app.add_typer(user_app, name="user")
app.add_typer(calendar_app, name="calendar")

stdout = Console()
stderr = Console(stderr=True)

TenantOption = Annotated[str, typer.Option("--tenant", "-t", help="Tenant id.")]
JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON for programs.")]
SecretsOption = Annotated[
    list[str] | None,
    typer.Option(
        "--secret",
        help=(
            "NAME=VALUE or NAME=@file, repeatable (e.g. microsoft_client_secret=@file). "
            "Prefer @file: argv is visible to ps."
        ),
    ),
]


class UsageError(Exception):
    """Bad usage: reported as one line, exit code 2."""


def fail_usage(message: str) -> NoReturn:
    """Print ``error: <message>`` on stderr and exit 2."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(2)


def _settings() -> Settings:
    """The environment's settings; a malformed PATCHBAY_* variable exits 2."""
    try:
        return Settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        field = "PATCHBAY_" + str(first["loc"][0]).upper() if first["loc"] else "PATCHBAY_*"
        fail_usage(f"bad configuration in {field}: {first['msg']}")


def _ensure_schema(store: Store, settings: Settings) -> None:
    try:
        store.ensure_schema(settings)
    except SchemaOutOfDate as exc:
        fail_usage(str(exc))


def _require_tenant(session: Any, tenant: str) -> None:
    """The tenant must exist, else exit 2 naming it."""
    try:
        require_tenant(session, tenant)
    except TenantError as exc:
        fail_usage(str(exc))


@contextmanager
def _runtime(migrate: bool = True) -> Iterator[Runtime]:
    """Settings, store and catalog for one command; configuration problems exit 2."""
    settings = _settings()
    with open_runtime(settings, migrate=False) as rt:
        if migrate:
            _ensure_schema(rt.store, settings)
        yield rt


def print_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, sort_keys=False))


# -- db -----------------------------------------------------------------------


@db_app.command("upgrade")
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


@db_app.command("current")
def db_current() -> None:
    """Print the schema revision of the database and of this code."""
    store = Store.from_settings(Settings())
    try:
        typer.echo(f"database: {db.current_revision(store.engine)}  code: {db.head_revision()}")
    finally:
        store.close()


# -- tenants ------------------------------------------------------------------


@tenant_app.command("create")
def tenant_create(
    tenant_id: Annotated[str, typer.Argument(help="Tenant id (letters, digits, '-', '_').")],
    name: Annotated[str | None, typer.Option("--name", help="Display name.")] = None,
) -> None:
    """Create a tenant."""
    with _runtime() as rt:
        try:
            with rt.store.sessions.begin() as session:
                create_tenant(session, tenant_id, name)
        except TenantError as exc:
            fail_usage(str(exc))
    typer.echo(f"created tenant {tenant_id}")


@tenant_app.command("list")
def tenant_list(as_json: JsonFlag = False) -> None:
    """List tenants and which integrations each has connected."""
    with _runtime() as rt, rt.store.sessions() as session:
        rows: list[dict[str, Any]] = []
        for t in list_tenants(session):
            states = conn.connection_states(session, t.tenant)
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


@user_app.command("add")
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
    with _runtime() as rt:
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


@user_app.command("list")
def user_list(tenant: TenantOption, as_json: JsonFlag = False) -> None:
    """The tenant's users and roles."""
    with _runtime() as rt, rt.store.sessions() as session:
        _require_tenant(session, tenant)
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


@calendar_app.command("connect")
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
    with _runtime() as rt:
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


@calendar_app.command("disconnect")
def calendar_disconnect(
    tenant: TenantOption,
    user: Annotated[str, typer.Option("--user", help="User id or username.")],
) -> None:
    """Stop pushing a user's entries to their calendar."""
    with _runtime() as rt:
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


@calendar_app.command("list")
def calendar_list(tenant: TenantOption, as_json: JsonFlag = False) -> None:
    """The tenant's calendar connections."""
    with _runtime() as rt, rt.store.sessions() as session:
        _require_tenant(session, tenant)
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


# Host rules of vendors whose integration package does not exist yet (a
# registered module's ``hosts`` takes precedence; each package brings its own).
PENDING_VENDOR_HOSTS: dict[str, HostRules] = {
    "tacticalrmm": ANY_PUBLIC_HOST,  # self-hosted: every MSP runs its own server
    "levelio": HostRules(known=("api.level.io",)),
    "huntress": HostRules(known=("api.huntress.io",)),
    "teams": HostRules(known=("smba.trafficmanager.net", "*.botframework.com"), custom_hosts=False),
}


def vendor_host_rules(rt: Runtime, provider: str) -> HostRules:
    """Where ``provider``'s API may live: its module's rules, else the pending table."""
    module = rt.catalog.modules.get(f"app:{provider}")
    if module is not None:
        return module.hosts
    return PENDING_VENDOR_HOSTS.get(provider, HostRules())


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


@app.command("connect")
def connect_cmd(
    provider: Annotated[str, typer.Argument(help=f"One of: {', '.join(conn.PROVIDERS)}.")],
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
        conn.check_provider(provider)
        secrets = [parse_secret_option(raw) for raw in secret or []]
    except (conn.IntegrationConnectionError, UsageError) as exc:
        fail_usage(str(exc))
    with _runtime() as rt:
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


@app.command("disconnect")
def disconnect_cmd(
    provider: Annotated[str, typer.Argument(help=f"One of: {', '.join(conn.PROVIDERS)}.")],
    tenant: TenantOption,
    forget_secrets: Annotated[
        bool,
        typer.Option(
            "--forget-secrets", help=f"Also delete the tenant's {'<provider>'}_* secrets."
        ),
    ] = False,
) -> None:
    """Mark an integration disconnected (its tile leaves the palette)."""
    try:
        conn.check_provider(provider)
    except conn.IntegrationConnectionError as exc:
        fail_usage(str(exc))
    with _runtime() as rt:
        try:
            with rt.store.sessions.begin() as session:
                require_tenant(session, tenant)
                changed = conn.disconnect(session, tenant, provider)
                forgotten = []
                if forget_secrets:
                    for name in rt.store.secrets.database.names(tenant):
                        if name.startswith(f"{provider}_"):
                            rt.store.secrets.database.delete_in(session, tenant, name)
                            forgotten.append(name)
        except TenantError as exc:
            fail_usage(str(exc))
    state = "disconnected" if changed else "was not connected:"
    msg = f"{state} {provider} for tenant {tenant}"
    if forgotten:
        msg += f" (secrets deleted: {', '.join(forgotten)})"
    typer.echo(msg)


# -- catalog views ------------------------------------------------------------


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
        _require_tenant(session, tenant)
        view = palette if only_palette else designer_catalog
        return view(rt.catalog, session, tenant)


@app.command("catalog")
def catalog_cmd(tenant: TenantOption, as_json: JsonFlag = False) -> None:
    """The designer catalog for a tenant: every group, app tiles flagged available or not."""
    with _runtime() as rt:
        records = _tenant_records(rt, tenant, only_palette=False)
    if as_json:
        print_json([r.to_json() for r in records])
    else:
        stdout.print(_records_table(records, f"Catalog for {tenant}"))


@app.command("palette")
def palette_cmd(tenant: TenantOption, as_json: JsonFlag = False) -> None:
    """The tiles a tenant may add steps from (connected integrations only)."""
    with _runtime() as rt:
        records = _tenant_records(rt, tenant, only_palette=True)
    if as_json:
        print_json([r.to_json() for r in records])
        return
    if not records:
        stdout.print(f"The palette of {tenant} is empty: connect an integration first.")
        return
    stdout.print(_records_table(records, f"Palette for {tenant}"))


@app.command("schemas")
def schemas_cmd(
    action: Annotated[str | None, typer.Option("--action", help="One action id.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """JSON Schemas of action inputs and outputs, per id@version."""
    with _runtime(migrate=False) as rt:
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


# -- executor -----------------------------------------------------------------

EMBEDDED_REFUSAL = (
    "{what} needs a shared broker, and PATCHBAY_BROKER_URL is the embedded memory:// "
    "(in-process only). Point patchbay at Redis and PostgreSQL, e.g. "
    "PATCHBAY_BROKER_URL=redis://127.0.0.1:6379/0 PATCHBAY_RESULT_BACKEND=redis://127.0.0.1:6379/0 "
    "PATCHBAY_REDIS_URL=redis://127.0.0.1:6379/0 PATCHBAY_DATABASE_URL=postgresql+psycopg://..."
)


def _executor_runtime(what: str, *, allow_embedded: bool) -> Any:
    from executor.app import ExecutorRuntime

    settings = _settings()
    if settings.embedded and not allow_embedded:
        fail_usage(EMBEDDED_REFUSAL.format(what=what))
    runtime = ExecutorRuntime(settings)
    _ensure_schema(runtime.store, settings)
    return runtime


@app.command("worker")
def worker_cmd(
    queues: Annotated[
        str | None,
        typer.Option("--queues", "-Q", help="Comma-separated queues (default: every provider)."),
    ] = None,
    concurrency: Annotated[
        int | None, typer.Option("--concurrency", "-c", help="Worker slots (threads).")
    ] = None,
    pool: Annotated[str, typer.Option("--pool", help="Celery pool: threads, prefork, solo.")] = (
        "threads"
    ),
    hostname: Annotated[
        str | None,
        typer.Option(
            "--hostname",
            "-n",
            help=(
                "Worker node name, e.g. billing@%h (%h: this host), so that several workers "
                "on one host are told apart. Default: Celery's celery@%h."
            ),
        ),
    ] = None,
    loglevel: Annotated[str, typer.Option("--loglevel", help="Log level.")] = "INFO",
) -> None:
    """Run a Celery worker for patchbay's queues (needs a shared broker)."""
    import celeryconfig

    runtime = _executor_runtime("patchbay worker", allow_embedded=False)
    all_queues = [celeryconfig.queue_name(p) for p in celeryconfig.providers(runtime.catalog)]
    argv = [
        "worker",
        f"--queues={queues or ','.join(all_queues)}",
        f"--pool={pool}",
        f"--loglevel={loglevel}",
        "--task-events",
    ]
    if concurrency is not None:
        argv.append(f"--concurrency={concurrency}")
    if hostname is not None:
        argv.append(f"--hostname={hostname}")
    # The checks above opened database connections; a prefork child must not
    # inherit them (two processes on one connection corrupt it). The runtime
    # reconnects lazily in whichever process needs the store next.
    runtime.close()
    runtime.app.worker_main(argv)


FLOWER_NO_AUTH_WARNING = (
    "warning: Flower runs without authentication, so its HTTP API answers 401; set "
    "PATCHBAY_FLOWER_BASIC_AUTH=user:password or pass --basic-auth-file PATH"
)


def _flower_credentials(path: Path | None, settings: Settings) -> list[str] | None:
    """``user:password`` entries from ``--basic-auth-file`` or the setting; None if neither.

    A file holds one entry per line or comma-separated ones (Flower's own
    format; so a password cannot contain a comma). Malformed entries exit 2
    without showing them.
    """
    if path is not None:
        try:
            text = path.read_text()
        except OSError as exc:
            fail_usage(f"--basic-auth-file: cannot read {path}: {exc.strerror}")
        source = f"--basic-auth-file {path}"
    elif settings.flower_basic_auth is not None:
        text = settings.flower_basic_auth.get_secret_value()
        source = "PATCHBAY_FLOWER_BASIC_AUTH"
    else:
        return None
    entries = [e.strip() for line in text.splitlines() for e in line.split(",")]
    entries = [e for e in entries if e]
    if not entries:
        fail_usage(f"{source}: no user:password entry")
    for number, entry in enumerate(entries, 1):
        user, sep, password = entry.partition(":")
        if not sep or not user or not password:
            fail_usage(f"{source}: entry {number} is not user:password")
    return entries


@app.command("flower")
def flower_cmd(
    port: Annotated[int, typer.Option("--port", help="HTTP port.")] = 5555,
    address: Annotated[str, typer.Option("--address", help="Listen address.")] = "127.0.0.1",
    basic_auth_file: Annotated[
        Path | None,
        typer.Option(
            "--basic-auth-file",
            help=(
                "File of user:password entries (one per line, or comma-separated) that the "
                "UI and HTTP API require; overrides PATCHBAY_FLOWER_BASIC_AUTH."
            ),
        ),
    ] = None,
) -> None:
    """Run Flower against patchbay's broker (task states, custom events, rate limits)."""
    settings = _settings()
    if settings.embedded:
        fail_usage(EMBEDDED_REFUSAL.format(what="patchbay flower"))
    credentials = _flower_credentials(basic_auth_file, settings)
    runtime = _executor_runtime("patchbay flower", allow_embedded=False)
    runtime.close()  # Flower never uses the store; hold no idle database connection
    if credentials is not None:
        # Flower reads FLOWER_BASIC_AUTH (comma-separated) at start. The
        # environment, unlike argv, is not shown by ps to other users, and a
        # variable set here is not in this process's /proc/<pid>/environ either.
        os.environ["FLOWER_BASIC_AUTH"] = ",".join(credentials)
    elif not os.environ.get("FLOWER_BASIC_AUTH"):
        typer.echo(FLOWER_NO_AUTH_WARNING, err=True)
    runtime.app.start(["flower", f"--port={port}", f"--address={address}"])


def _read_input(raw: str) -> Any:
    text = raw
    if raw.startswith("@"):
        try:
            text = Path(raw[1:]).read_text()
        except OSError as exc:
            raise UsageError(f"--input: cannot read {raw[1:]}: {exc.strerror}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"--input is not valid JSON: {exc.msg} (line {exc.lineno})") from None
    if not isinstance(data, dict):
        raise UsageError("--input must be a JSON object")
    return data


@app.command("run")
def run_cmd(
    action_id: Annotated[str, typer.Argument(help="Action id, e.g. ninjaone.devices.find.")],
    tenant: TenantOption,
    input_: Annotated[
        str, typer.Option("--input", "-i", help="Input as JSON, or @file.json.")
    ] = "{}",
    key: Annotated[
        str | None, typer.Option("--key", help="Idempotency key (default: a new cli:<uuid>).")
    ] = None,
    version: Annotated[int | None, typer.Option("--version", help="Pin a version.")] = None,
    run_id: Annotated[str | None, typer.Option("--run-id", help="Workflow run id.")] = None,
    step_path: Annotated[str | None, typer.Option("--step-path", help="Step path.")] = None,
    no_wait: Annotated[bool, typer.Option("--no-wait", help="Enqueue and print the key.")] = False,
    timeout: Annotated[float, typer.Option("--timeout", help="Seconds to wait.")] = 120.0,
) -> None:
    """Run one action and print its outcome as JSON (exit 0 SUCCEEDED, 1 FAILED, 2 bad usage)."""
    from actionkit.errors import ActionFailure
    from executor.api import EnqueueFailed, Executor
    from executor.embedded import EmbeddedWorker

    try:
        data = _read_input(input_)
    except UsageError as exc:
        fail_usage(str(exc))
    runtime = _executor_runtime("patchbay run --no-wait", allow_embedded=not no_wait)
    executor = Executor(runtime)
    if key is None and not (run_id and step_path):
        key = f"cli:{uuid.uuid4()}"
    worker = EmbeddedWorker(runtime.app).start() if runtime.settings.embedded else None
    try:
        try:
            handle = executor.enqueue(
                action_id,
                tenant_id=tenant,
                input=data,
                version=version,
                idempotency_key=key,
                run_id=run_id,
                step_path=step_path,
            )
        except ActionFailure as exc:
            fail_usage(f"{exc.code}: {exc.message}")
        except EnqueueFailed as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(1) from None
        if no_wait:
            print_json({"key": handle.key, "tenant_id": tenant, "sent": handle.sent})
            return
        try:
            outcome = handle.wait(timeout)
            if worker is not None:
                # In-process, the worker stops with this command: let the steps the
                # outcome triggered (outbox subscriptions, e.g. calendar sync) finish.
                _wait_for_follow_ups(executor, tenant, timeout)
        except TimeoutError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(1) from None
    finally:
        if worker is not None:
            worker.stop()
        runtime.close()
    print_json(outcome.model_dump(mode="json"))
    raise typer.Exit(0 if outcome.succeeded else 1)


def _wait_for_follow_ups(executor: Any, tenant: str, timeout: float) -> None:
    relay = executor.runtime.outbox_relay()
    for relayed in relay.relay_once():
        for follow_up in relayed.handles:
            follow_up.wait(timeout)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pending = [
            r for r in executor.invocations(tenant) if r.key.startswith("outbox:") and not r.final
        ]
        if not pending:
            return
        time.sleep(0.05)


@app.command("invocations")
def invocations_cmd(
    tenant: TenantOption,
    run: Annotated[str | None, typer.Option("--run", help="Only this workflow run.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """The invocation ledger of a tenant: every step, its status, attempt and outcome."""
    from executor.api import Executor

    runtime = _executor_runtime("patchbay invocations", allow_embedded=True)
    try:
        with runtime.store.sessions() as session:
            _require_tenant(session, tenant)
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


@app.command("sandbox")
def sandbox_cmd(
    port: Annotated[
        int, typer.Option("--port", help="First port (NinjaOne; Microsoft on the next). 0: any.")
    ] = 0,
    tenant: Annotated[str, typer.Option("--tenant", help="Tenant id for the printed lines.")] = (
        "demo"
    ),
) -> None:
    """Serve every fake vendor on loopback until Ctrl-C, and print how to connect to them."""
    import signal
    import threading

    from patchbay.sandboxes import start_sandbox

    try:
        run = start_sandbox(port)
    except OSError as exc:
        fail_usage(f"cannot listen on port {port}: {exc.strerror}")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        stdout.print("[bold]patchbay sandbox[/] (fake vendors; Ctrl-C to stop)")
        for vendor, server in run.servers.items():
            stdout.print(f"  {vendor:10} {server.base_url}")
        stdout.print("\nConnect a tenant to them:")
        for line in run.connect_lines(tenant):
            typer.echo(f"  {line}")
        stdout.print(
            "\nFault injection and the request log: POST <url>/__sandbox/faults, "
            "GET <url>/__sandbox/requests"
        )
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        run.stop()


@app.command("demo")
def demo_cmd() -> None:
    """Run the embedded demo (its own data directory; safe to run again)."""
    from patchbay.demo import run_demo

    raise typer.Exit(run_demo(stdout))


def main() -> None:
    """Console-script entry point."""
    app()
