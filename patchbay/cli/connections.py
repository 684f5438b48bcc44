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
from typing import Annotated, Any

import httpx
import typer
from pydantic import SecretStr

from actionkit.outbound import HostRules, OutboundPolicy, OutboundURLRefused, redact_url
from catalog.registration import Catalog
from catalog.vendors import Vendor
from executor.settings import Settings
from patchbay.checks import CheckOutcome, ConnectionUnderCheck, run_check
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
from store.tenants import TenantError, list_tenants, require_tenant

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
    allowed = ", ".join(s.shown() for s in vendor.settings)
    found: dict[str, str] = {}
    for item in raw:
        name, sep, value = item.partition("=")
        name, value = name.strip(), value.strip()
        if not sep or not name:
            raise UsageError("--setting must look like NAME=VALUE")
        declared = vendor.setting(name)
        if declared is None:
            raise UsageError(
                f"{vendor.provider} has no setting {name!r} "
                + (f"(settings: {allowed})" if allowed else "(it takes no --setting)")
            )
        why = declared.refusal(value)
        if why is not None:
            raise UsageError(f"--setting {name}: {why}")
        found[name] = value
    return found


def vendor_host_rules(rt: Runtime, provider: str) -> HostRules:
    """Where ``provider``'s API may live, as its package declares (``catalog.vendors``)."""
    vendor = rt.catalog.vendors.get(provider)
    return vendor.hosts if vendor is not None else HostRules()


def _example_url(rules: HostRules) -> str:
    known = next((h for h in rules.known if not h.startswith("*.")), None)
    return f"https://{known or 'rmm.example.com'}"


def _names_a_host(url: str) -> bool:
    """Whether ``url`` has a host that could be one: a domain name or an address.

    Numeric spellings (``2852039166``) count: the outbound policy refuses them
    with its own reason.
    """
    try:
        host = httpx.URL(url).host
    except httpx.InvalidURL:
        return False
    return bool(host) and (
        "." in host or ":" in host or host == "localhost" or host.isdigit() or host.startswith("0x")
    )


def check_vendor_url(
    url: str, rules: HostRules, settings: Settings, *, allow_custom_host: bool = False
) -> str:
    """``url`` (https:// assumed when it names no scheme) if the outbound policy allows it.

    A URL needs a host that is a domain name or an IP address (``notaurl`` is
    not one). Resolves the host unless it is one of the vendor's known hosts: a
    custom host that resolves to a loopback, private or link-local address is
    refused here, and again before every request. Exits 2 naming the reason
    otherwise; the message never quotes a password the URL carried.
    """
    text = url.strip()
    candidate = text if "://" in text else f"https://{text}"
    policy = OutboundPolicy(rules, allow_custom_host=allow_custom_host, sandbox=settings.sandbox)
    if not _names_a_host(candidate):
        fail_usage(
            f"refusing the vendor URL: {redact_url(text)!r} is not a URL; give the vendor's "
            f"address with its scheme and host, e.g. {_example_url(rules)}"
        )
    try:
        parsed = policy.check_url(candidate)
        if not rules.matches(parsed.host):
            policy.check_url(candidate, resolve=True)
    except OutboundURLRefused as exc:
        fail_usage(f"refusing the vendor URL: {exc.message}")
    return text


def check_link_url(url: str) -> str:
    """``url`` (https:// assumed when it names no scheme) if it can be a link people open.

    For a vendor whose ``--url`` is a link (``Vendor.url_role``): no request
    or credential goes there, so no host list applies; it must be http(s)
    with a host and no user name or password. Exits 2 naming the reason.
    """
    text = url.strip()
    candidate = text if "://" in text else f"https://{text}"
    try:
        parsed = httpx.URL(candidate)
    except httpx.InvalidURL:
        parsed = None
    if parsed is None or parsed.scheme not in ("http", "https") or not _names_a_host(candidate):
        fail_usage(
            f"refusing the URL: {redact_url(text)!r} is not an http(s) URL with a host, "
            "e.g. https://psa.example.com"
        )
    if parsed.userinfo:
        fail_usage("refusing the URL: it may not carry a user name or password")
    return candidate


# -- which vendors ------------------------------------------------------------------------


def connection_kinds(catalog: Catalog) -> list[tuple[str, conn.ConnectionKind]]:
    """Every vendor a tenant can have connected, with the rows that mark it connected."""
    return [(v.provider, v.connection) for v in catalog.vendors.connectable() if v.connection]


def has_actions(catalog: Catalog, provider: str) -> bool:
    """Whether ``provider``'s package registered an integration module (and so actions)."""
    return any(m.provider == provider for m in catalog.modules.list())


def ready_vendors(catalog: Catalog) -> list[Vendor]:
    """Vendors ``patchbay connect`` takes: a connection kind, actions and a connection check."""
    return [
        v
        for v in catalog.vendors.connectable()
        if v.check is not None and has_actions(catalog, v.provider)
    ]


def known_vendor(rt: Runtime, provider: str) -> Vendor:
    """The vendor ``provider`` names, if a tenant can have it connected; else exit 2."""
    vendor = rt.catalog.vendors.get(provider)
    if vendor is None or vendor.connection is None:
        known = ", ".join(v.provider for v in rt.catalog.vendors.connectable())
        fail_usage(f"unknown provider {provider!r} (known: {known})")
    return vendor


def connectable_vendor(rt: Runtime, provider: str) -> Vendor:
    """The vendor ``provider`` names, if ``patchbay connect`` takes it; else exit 2."""
    ready = ", ".join(v.provider for v in ready_vendors(rt.catalog))
    vendor = rt.catalog.vendors.get(provider)
    if vendor is None or vendor.connection is None:
        fail_usage(f"unknown provider {provider!r} (connectable: {ready})")
    if vendor not in ready_vendors(rt.catalog):
        fail_usage(
            f"patchbay has no actions for {vendor.label} ({provider}) yet, so it cannot be "
            f"connected (connectable: {ready})"
        )
    return vendor


def missing_secrets(
    rt: Runtime,
    vendor: Vendor,
    tenant: str,
    given: set[str],
    settings: Mapping[str, str] | None = None,
) -> list[str]:
    """The vendor's required secrets under ``settings`` that are neither given nor stored.

    ``settings``: every declared setting's value (``Vendor.setting_values``);
    None: the defaults.
    """
    values = settings if settings is not None else vendor.setting_values({})
    available = given | set(rt.store.secrets.names(tenant))
    return [r.name for r in vendor.required_under(values) if not r.satisfied_by(available)]


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
    """Check, then store the connection with its secrets; the lines to print. Exits 2 on failure.

    ``url`` must have passed :func:`check_vendor_url`, ``settings`` (the
    given ``--setting`` values) :func:`vendor_settings`. Nothing is stored
    unless every step passes; a token the check rotated is stored with the
    connection.
    """
    provider = vendor.provider
    given_settings = dict(settings or {})
    with rt.store.sessions() as session:
        require_tenant_or_exit(session, tenant)
        kind = vendor.connection or "rmm"
        stored_settings = conn.stored_settings(session, tenant, provider, kind=kind)
        [current] = conn.connection_states(session, tenant, [(provider, kind)])
    if url is None:
        # A reconnect without --url keeps the stored URL: the check must use it too.
        url, allow_custom_host = (
            current.instance_url,
            allow_custom_host or current.allow_custom_host,
        )
    # What the connection will hold: the given settings over the stored ones.
    merged_settings = {**stored_settings, **given_settings}
    unset = vendor.missing_settings(merged_settings)
    if unset:
        fail_usage(
            f"{provider} needs the setting{'s' if len(unset) > 1 else ''} "
            + ", ".join(s.name for s in unset)
            + f" for tenant {tenant}: give "
            + " ".join(f"--setting {s.shown()}" for s in unset)
        )
    missing = missing_secrets(
        rt, vendor, tenant, {n for n, _ in secrets}, vendor.setting_values(merged_settings)
    )
    if missing:
        fail_usage(
            f"{provider} needs the secret{'s' if len(missing) > 1 else ''} "
            f"{', '.join(missing)} for tenant {tenant}: give "
            + " ".join(f"--secret {n}=@file" for n in missing)
            + " (or NAME=VALUE)"
        )
    ctx = ConnectionUnderCheck(
        tenant_id=tenant,
        instance_url=url,
        allow_custom_host=allow_custom_host,
        secrets=rt.store.secrets,
        sandbox=rt.settings.sandbox,
        staged=dict(secrets),
        settings=merged_settings,
    )
    outcome: CheckOutcome | None = run_check(vendor, ctx) if check else None
    if outcome is not None and not outcome.ok:
        fail_usage(f"{vendor.label} connection check failed, nothing stored: {outcome.detail}")
    to_store: dict[str, SecretStr] = dict(secrets)
    to_store.update({name: SecretStr(value) for name, value in ctx.written.items()})
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
                settings=given_settings,
            )
            for name, value in to_store.items():
                rt.store.secrets.database.set_in(session, tenant, name, value)
    except (TenantError, conn.IntegrationConnectionError) as exc:
        fail_usage(str(exc))
    stored = [f"{n}={v}" for n, v in given_settings.items()]
    if to_store:
        stored.append(f"secrets stored: {', '.join(to_store)}")
    lines = [
        f"connected {provider} for tenant {tenant}" + (f" ({'; '.join(stored)})" if stored else "")
    ]
    if outcome is not None:
        lines.append(f"checked: {outcome.detail}")
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
        if url is not None and vendor.url_role == "link":
            url = check_link_url(url)
        elif url is not None:
            url = check_vendor_url(
                url, vendor.hosts, rt.settings, allow_custom_host=allow_custom_host
            )
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
