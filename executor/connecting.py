"""Connecting a tenant to a vendor: check everything, then store it all or nothing.

The one path ``patchbay connect`` and ``PUT /v1/connections/{provider}`` both
take. In order: the provider (its package must register actions and a
connection check: nothing is hard-coded here), the URL (the outbound policy,
and that it is a URL at all), its settings (against what the vendor
declares), the secrets the vendor requires under those settings (given now
or already stored), then the vendor's own check, one read-only call
(``actionkit.checks``). Only then are the connection, its settings, the given
secrets and whatever the check rotated stored, in one transaction.

Every refusal is a :class:`ConnectRefused` naming the field at fault; a
front door words it for its users (the CLI names its options, the API the
request's fields). No message quotes a secret value or a URL's password.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import httpx
from pydantic import SecretStr

from actionkit.outbound import HostRules, OutboundPolicy, OutboundURLRefused, redact_url
from catalog.registration import Catalog
from catalog.vendors import Vendor
from executor.checks import CheckOutcome, ConnectionUnderCheck, run_check
from executor.settings import Settings
from store import Store
from store import connections as conn
from store.tenants import TenantError, require_tenant

Refusal = Literal[
    "unknown_provider",
    "not_connectable",
    "unknown_tenant",
    "invalid_url",
    "unknown_setting",
    "invalid_setting",
    "missing_settings",
    "missing_secrets",
    "check_failed",
    "conflict",
]


class ConnectRefused(Exception):
    """Why a connect (or disconnect) stored nothing.

    ``field`` names what was wrong (``url``, ``settings.auth_mode``,
    ``secrets``, ``provider``); ``missing`` lists the settings or secrets
    still needed, for a front door to say how to give them.
    """

    def __init__(
        self,
        kind: Refusal,
        message: str,
        *,
        field: str | None = None,
        missing: Sequence[str] = (),
    ) -> None:
        super().__init__(message)
        self.kind: Refusal = kind
        self.message = message
        self.field = field
        self.missing = tuple(missing)


@dataclass(frozen=True)
class Connected:
    """What a connect stored: never a secret value, only names."""

    tenant: str
    provider: str
    settings: Mapping[str, str]
    secrets_stored: tuple[str, ...]
    check: CheckOutcome | None
    """The vendor's check (None: skipped on request)."""


@dataclass(frozen=True)
class Disconnected:
    tenant: str
    provider: str
    changed: bool
    """False when it was not connected."""
    secrets_deleted: tuple[str, ...] = field(default=())


# -- URLs -------------------------------------------------------------------------------


def example_url(rules: HostRules) -> str:
    """A URL to show as an example of where ``rules``' vendor lives."""
    known = next((h for h in rules.known if not h.startswith("*.")), None)
    return f"https://{known or 'rmm.example.com'}"


def names_a_host(url: str) -> bool:
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
    refused here, and again before every request. ``ConnectRefused`` otherwise;
    the message never quotes a password the URL carried.
    """
    text = url.strip()
    candidate = text if "://" in text else f"https://{text}"
    policy = OutboundPolicy(rules, allow_custom_host=allow_custom_host, sandbox=settings.sandbox)
    if not names_a_host(candidate):
        raise ConnectRefused(
            "invalid_url",
            f"refusing the vendor URL: {redact_url(text)!r} is not a URL; give the vendor's "
            f"address with its scheme and host, e.g. {example_url(rules)}",
            field="url",
        )
    try:
        parsed = policy.check_url(candidate)
        if not rules.matches(parsed.host):
            policy.check_url(candidate, resolve=True)
    except OutboundURLRefused as exc:
        raise ConnectRefused(
            "invalid_url", f"refusing the vendor URL: {exc.message}", field="url"
        ) from None
    return text


def check_link_url(url: str) -> str:
    """``url`` (https:// assumed when it names no scheme) if it can be a link people open.

    For a vendor whose URL is a link (``Vendor.url_role``): no request or
    credential goes there, so no host list applies; it must be http(s) with a
    host and no user name or password.
    """
    text = url.strip()
    candidate = text if "://" in text else f"https://{text}"
    try:
        parsed = httpx.URL(candidate)
    except httpx.InvalidURL:
        parsed = None
    if parsed is None or parsed.scheme not in ("http", "https") or not names_a_host(candidate):
        raise ConnectRefused(
            "invalid_url",
            f"refusing the URL: {redact_url(text)!r} is not an http(s) URL with a host, "
            "e.g. https://psa.example.com",
            field="url",
        )
    if parsed.userinfo:
        raise ConnectRefused(
            "invalid_url", "refusing the URL: it may not carry a user name or password", field="url"
        )
    return candidate


def checked_url(
    vendor: Vendor, url: str, settings: Settings, *, allow_custom_host: bool = False
) -> str:
    """``url`` checked the way ``vendor`` uses it: a link, or where requests go."""
    if vendor.url_role == "link":
        return check_link_url(url)
    return check_vendor_url(url, vendor.hosts, settings, allow_custom_host=allow_custom_host)


# -- settings ---------------------------------------------------------------------------


def vendor_settings(vendor: Vendor, given: Sequence[tuple[str, str]]) -> dict[str, str]:
    """``(name, value)`` settings checked against the vendor's declared ones.

    ``ConnectRefused`` names the allowed names or values; a setting given
    twice keeps the last value.
    """
    allowed = ", ".join(s.shown() for s in vendor.settings)
    found: dict[str, str] = {}
    for raw_name, raw_value in given:
        name, value = raw_name.strip(), raw_value.strip()
        declared = vendor.setting(name)
        if declared is None:
            raise ConnectRefused(
                "unknown_setting",
                f"{vendor.provider} has no setting {name!r} "
                + (f"(settings: {allowed})" if allowed else "(it takes no settings)"),
                field=f"settings.{name}",
            )
        why = declared.refusal(value)
        if why is not None:
            raise ConnectRefused("invalid_setting", why, field=f"settings.{name}")
        found[name] = value
    return found


# -- which vendors ----------------------------------------------------------------------


def connection_kinds(catalog: Catalog) -> list[tuple[str, conn.ConnectionKind]]:
    """Every vendor a tenant can have connected, with the rows that mark it connected."""
    return [(v.provider, v.connection) for v in catalog.vendors.connectable() if v.connection]


def has_actions(catalog: Catalog, provider: str) -> bool:
    """Whether ``provider``'s package registered an integration module (and so actions)."""
    return any(m.provider == provider for m in catalog.modules.list())


def ready_vendors(catalog: Catalog) -> list[Vendor]:
    """Vendors a tenant can connect: a connection kind, actions and a connection check."""
    return [
        v
        for v in catalog.vendors.connectable()
        if v.check is not None and has_actions(catalog, v.provider)
    ]


def known_vendor(catalog: Catalog, provider: str) -> Vendor:
    """The vendor ``provider`` names, if a tenant can have it connected."""
    vendor = catalog.vendors.get(provider)
    if vendor is None or vendor.connection is None:
        known = ", ".join(v.provider for v in catalog.vendors.connectable())
        raise ConnectRefused(
            "unknown_provider", f"unknown provider {provider!r} (known: {known})", field="provider"
        )
    return vendor


def connectable_vendor(catalog: Catalog, provider: str) -> Vendor:
    """The vendor ``provider`` names, if it can be connected now (``ready_vendors``)."""
    ready = ", ".join(v.provider for v in ready_vendors(catalog))
    vendor = catalog.vendors.get(provider)
    if vendor is None or vendor.connection is None:
        raise ConnectRefused(
            "unknown_provider",
            f"unknown provider {provider!r} (connectable: {ready})",
            field="provider",
        )
    if vendor not in ready_vendors(catalog):
        raise ConnectRefused(
            "not_connectable",
            f"patchbay has no actions for {vendor.label} ({provider}) yet, so it cannot be "
            f"connected (connectable: {ready})",
            field="provider",
        )
    return vendor


def missing_secrets(
    store: Store,
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
    available = given | set(store.secrets.names(tenant))
    return [r.name for r in vendor.required_under(values) if not r.satisfied_by(available)]


# -- connect and disconnect -------------------------------------------------------------


def connect_vendor(
    store: Store,
    settings: Settings,
    vendor: Vendor,
    tenant: str,
    *,
    url: str | None,
    allow_custom_host: bool,
    secrets: Sequence[tuple[str, SecretStr]],
    check: bool,
    given_settings: Mapping[str, str] | None = None,
) -> Connected:
    """Check, then store the connection with its secrets; ``ConnectRefused`` stores nothing.

    ``url`` must have passed :func:`checked_url`, ``given_settings``
    :func:`vendor_settings`. Without ``url`` a reconnect keeps (and checks)
    the stored URL. A token the check rotated is stored with the connection.
    """
    provider = vendor.provider
    given = dict(given_settings or {})
    kind = vendor.connection or "rmm"
    with store.sessions() as session:
        try:
            require_tenant(session, tenant)
        except TenantError as exc:
            raise ConnectRefused("unknown_tenant", str(exc), field="tenant") from None
        stored_settings = conn.stored_settings(session, tenant, provider, kind=kind)
        [current] = conn.connection_states(session, tenant, [(provider, kind)])
    if url is None:
        # A reconnect without a URL keeps the stored URL: the check must use it too.
        url, allow_custom_host = (
            current.instance_url,
            allow_custom_host or current.allow_custom_host,
        )
    # What the connection will hold: the given settings over the stored ones.
    merged = {**stored_settings, **given}
    unset = vendor.missing_settings(merged)
    if unset:
        names = [s.name for s in unset]
        raise ConnectRefused(
            "missing_settings",
            f"{provider} needs the setting{'s' if len(names) > 1 else ''} "
            f"{', '.join(names)} for tenant {tenant}",
            field=f"settings.{names[0]}",
            missing=[s.shown() for s in unset],
        )
    missing = missing_secrets(
        store, vendor, tenant, {n for n, _ in secrets}, vendor.setting_values(merged)
    )
    if missing:
        raise ConnectRefused(
            "missing_secrets",
            f"{provider} needs the secret{'s' if len(missing) > 1 else ''} "
            f"{', '.join(missing)} for tenant {tenant}",
            field=f"secrets.{missing[0]}",
            missing=missing,
        )
    ctx = ConnectionUnderCheck(
        tenant_id=tenant,
        instance_url=url,
        allow_custom_host=allow_custom_host,
        secrets=store.secrets,
        sandbox=settings.sandbox,
        staged=dict(secrets),
        settings=merged,
    )
    outcome = run_check(vendor, ctx) if check else None
    if outcome is not None and not outcome.ok:
        raise ConnectRefused(
            "check_failed",
            f"{vendor.label} connection check failed, nothing stored: {outcome.detail}",
        )
    to_store: dict[str, SecretStr] = dict(secrets)
    to_store.update({name: SecretStr(value) for name, value in ctx.written.items()})
    try:
        # One transaction: the connection and its secrets land together or not at all.
        with store.sessions.begin() as session:
            require_tenant(session, tenant)
            conn.connect(
                session,
                tenant,
                provider,
                instance_url=url,
                allow_custom_host=allow_custom_host,
                kind=kind,
                settings=given,
            )
            for name, value in to_store.items():
                store.secrets.database.set_in(session, tenant, name, value)
    except TenantError as exc:
        raise ConnectRefused("unknown_tenant", str(exc), field="tenant") from None
    except conn.IntegrationConnectionError as exc:
        raise ConnectRefused("conflict", str(exc)) from None
    return Connected(tenant, provider, given, tuple(to_store), outcome)


def disconnect_vendor(
    store: Store, vendor: Vendor, tenant: str, *, forget_secrets: bool = False
) -> Disconnected:
    """Mark the integration disconnected (its tile leaves the palette); with
    ``forget_secrets``, delete the tenant secrets the vendor declares, in the
    same transaction."""
    forgotten: list[str] = []
    try:
        with store.sessions.begin() as session:
            require_tenant(session, tenant)
            changed = conn.disconnect(
                session, tenant, vendor.provider, kind=vendor.connection or "rmm"
            )
            if forget_secrets:
                stored = set(store.secrets.database.names(tenant))
                for name in vendor.secret_names:
                    if name in stored:
                        store.secrets.database.delete_in(session, tenant, name)
                        forgotten.append(name)
    except TenantError as exc:
        raise ConnectRefused("unknown_tenant", str(exc), field="tenant") from None
    return Disconnected(tenant, vendor.provider, changed, tuple(forgotten))
