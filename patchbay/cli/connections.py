"""Tenant connections to vendors: ``connect``, ``disconnect``, ``connections test``.

``connect`` checks before it stores: the URL (the outbound policy, and that
it is a URL at all), the provider (its package must register actions and a
connection check: nothing is hard-coded here), its settings (``--setting``,
against what the vendor declares), the secrets the vendor requires under
those settings (given now or already stored), then the vendor's own check,
one read-only call (``actionkit.checks``). Only then are the connection, its
settings, the given secrets and whatever the check rotated stored, in one
transaction.

Also where a vendor URL given to ``connect`` or ``calendar connect`` is
checked (``check_vendor_url``), and how ``--secret`` and ``--setting`` are
read (``parse_secret_option``, ``vendor_settings``).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from pydantic import SecretStr

from actionkit.outbound import HostRules
from catalog.vendors import Vendor
from executor import connecting
from executor.checks import ConnectionUnderCheck, run_check
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
from patchbay.cli.tables import FitTable
from patchbay.runtime import Runtime
from store import connections as conn
from store.secrets import check_secret_name
from store.tenants import list_tenants

# -- options ------------------------------------------------------------------------------


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


def vendor_settings(vendor: Vendor, raw: list[str]) -> dict[str, str]:
    """``--setting NAME=VALUE`` options, checked against the vendor's declared settings.

    Raises UsageError naming the allowed names or values; a setting given
    twice keeps the last value.
    """
    pairs: list[tuple[str, str]] = []
    for item in raw:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise UsageError("--setting must look like NAME=VALUE")
        pairs.append((name, value))
    try:
        return connecting.vendor_settings(vendor, pairs)
    except connecting.ConnectRefused as exc:
        if exc.kind == "unknown_setting":
            raise UsageError(exc.message) from None
        name = (exc.field or "").removeprefix("settings.")
        raise UsageError(f"--setting {name}: {exc.message}") from None


def refused(exc: connecting.ConnectRefused) -> NoReturn:
    """Exit 2 with ``exc``'s reason, saying which options give what is missing."""
    if exc.kind == "missing_settings":
        fail_usage(f"{exc.message}: give " + " ".join(f"--setting {s}" for s in exc.missing))
    if exc.kind == "missing_secrets":
        fail_usage(
            f"{exc.message}: give "
            + " ".join(f"--secret {n}=@file" for n in exc.missing)
            + " (or NAME=VALUE)"
        )
    fail_usage(exc.message)


def check_vendor_url(
    url: str, rules: HostRules, settings: Settings, *, allow_custom_host: bool = False
) -> str:
    """``connecting.check_vendor_url``; exits 2 naming the reason."""
    try:
        return connecting.check_vendor_url(
            url, rules, settings, allow_custom_host=allow_custom_host
        )
    except connecting.ConnectRefused as exc:
        refused(exc)


def check_link_url(url: str) -> str:
    """``connecting.check_link_url``; exits 2 naming the reason."""
    try:
        return connecting.check_link_url(url)
    except connecting.ConnectRefused as exc:
        refused(exc)


def vendor_host_rules(rt: Runtime, provider: str) -> HostRules:
    """Where ``provider``'s API may live, as its package declares (``catalog.vendors``)."""
    vendor = rt.catalog.vendors.get(provider)
    return vendor.hosts if vendor is not None else HostRules()


# -- which vendors ------------------------------------------------------------------------

connection_kinds = connecting.connection_kinds
ready_vendors = connecting.ready_vendors


def known_vendor(rt: Runtime, provider: str) -> Vendor:
    """The vendor ``provider`` names, if a tenant can have it connected; else exit 2."""
    try:
        return connecting.known_vendor(rt.catalog, provider)
    except connecting.ConnectRefused as exc:
        refused(exc)


def connectable_vendor(rt: Runtime, provider: str) -> Vendor:
    """The vendor ``provider`` names, if ``patchbay connect`` takes it; else exit 2."""
    try:
        return connecting.connectable_vendor(rt.catalog, provider)
    except connecting.ConnectRefused as exc:
        refused(exc)


# -- connect ------------------------------------------------------------------------------


def connect_vendor(
    rt: Runtime,
    vendor: Vendor,
    tenant: str,
    *,
    url: str | None,
    allow_custom_host: bool,
    secrets: list[tuple[str, SecretStr]],
    check: bool,
    settings: Mapping[str, str] | None = None,
) -> list[str]:
    """Check, then store the connection with its secrets (``connecting.connect_vendor``);
    the lines to print. Exits 2 on failure, having stored nothing."""
    try:
        done = connecting.connect_vendor(
            rt.store,
            rt.settings,
            vendor,
            tenant,
            url=url,
            allow_custom_host=allow_custom_host,
            secrets=secrets,
            check=check,
            given_settings=settings,
        )
    except connecting.ConnectRefused as exc:
        refused(exc)
    stored = [f"{n}={v}" for n, v in done.settings.items()]
    if done.secrets_stored:
        stored.append(f"secrets stored: {', '.join(done.secrets_stored)}")
    lines = [
        f"connected {done.provider} for tenant {tenant}"
        + (f" ({'; '.join(stored)})" if stored else "")
    ]
    if done.check is not None:
        lines.append(f"checked: {done.check.detail}")
    else:
        lines.append(
            f"not checked (--no-check): patchbay connections test --tenant {tenant} checks it"
        )
    return lines


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
    setting: Annotated[
        list[str] | None,
        typer.Option(
            "--setting",
            help="NAME=VALUE, repeatable: a connection setting the vendor declares (e.g. "
            "tacticalrmm auth_mode=api_key|knox); an unknown name or value is refused with "
            "the allowed ones.",
        ),
    ] = None,
    no_check: Annotated[
        bool,
        typer.Option(
            "--no-check",
            help="Store without checking the credentials with the vendor (one read-only call).",
        ),
    ] = False,
) -> None:
    """Check a tenant's credentials with the vendor, then store the connection and secrets."""
    try:
        secrets = [parse_secret_option(raw) for raw in secret or []]
    except UsageError as exc:
        fail_usage(str(exc))
    with command_runtime() as rt:
        vendor = connectable_vendor(rt, provider)
        try:
            settings = vendor_settings(vendor, setting or [])
        except UsageError as exc:
            fail_usage(str(exc))
        if url is not None:
            try:
                url = connecting.checked_url(
                    vendor, url, rt.settings, allow_custom_host=allow_custom_host
                )
            except connecting.ConnectRefused as exc:
                refused(exc)
        lines = connect_vendor(
            rt,
            vendor,
            tenant,
            url=url,
            allow_custom_host=allow_custom_host,
            secrets=secrets,
            check=not no_check,
            settings=settings,
        )
    for line in lines:
        typer.echo(line)


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
        vendor = known_vendor(rt, provider)
        try:
            done = connecting.disconnect_vendor(
                rt.store, vendor, tenant, forget_secrets=forget_secrets
            )
        except connecting.ConnectRefused as exc:
            refused(exc)
    state = "disconnected" if done.changed else "was not connected:"
    msg = f"{state} {provider} for tenant {tenant}"
    if done.secrets_deleted:
        msg += f" (secrets deleted: {', '.join(done.secrets_deleted)})"
    typer.echo(msg)


# -- connections test ---------------------------------------------------------------------


def _test_connection(rt: Runtime, tenant: str, state: conn.ConnectionState) -> dict[str, Any]:
    vendor = rt.catalog.vendors.get(state.provider)
    row: dict[str, Any] = {"tenant": tenant, "provider": state.provider}
    if vendor is None or vendor.check is None:
        return {**row, "result": "unchecked", "detail": "patchbay has no check for it yet"}
    ctx = ConnectionUnderCheck(
        tenant_id=tenant,
        instance_url=state.instance_url,
        allow_custom_host=state.allow_custom_host,
        secrets=rt.store.secrets,
        sandbox=rt.settings.sandbox,
        settings=state.settings,
    )
    outcome = run_check(vendor, ctx)
    return {**row, "result": "ok" if outcome.ok else "failed", "detail": outcome.detail}


def connections_test_cmd(
    tenant: Annotated[
        str | None, typer.Option("--tenant", "-t", help="Tenant id (default: every tenant).")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Check every connected vendor's stored credentials again (exit 1 if any check fails)."""
    with command_runtime() as rt:
        with rt.store.sessions() as session:
            if tenant is not None:
                require_tenant_or_exit(session, tenant)
                tenants = [tenant]
            else:
                tenants = [t.tenant for t in list_tenants(session)]
            connected = [
                (t, state)
                for t in tenants
                for state in conn.connection_states(session, t, connection_kinds(rt.catalog))
                if state.connected
            ]
        rows = [_test_connection(rt, t, state) for t, state in connected]
    if as_json:
        print_json(rows)
    elif not rows:
        typer.echo("no connected integrations" + (f" for tenant {tenant}" if tenant else ""))
    else:
        table = FitTable(("tenant", "provider", "result", "detail"), idents=("tenant", "provider"))
        for r in rows:
            table.add(r["tenant"], r["provider"], r["result"], r["detail"])
        table.print(stdout)
    if any(r["result"] == "failed" for r in rows):
        raise typer.Exit(1)
