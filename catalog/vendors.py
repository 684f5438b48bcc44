"""Vendors: the facts about a tool a tenant connects, declared by the vendor's own package.

A vendor's package registers one ``Vendor`` (``register_vendor``) with:

- ``provider``: the name in ``patchbay connect <provider>``, task and queue names;
- ``connection``: which rows mark it connected for a tenant: ``"rmm"`` (a
  ``rmm_integrations`` row), ``"teams"`` (the ``teams`` add-on plus an active
  install), or ``None`` (not connected with ``patchbay connect``; e.g.
  Microsoft 365 calendars are connected per user);
- ``secret_names``: the tenant secrets it reads (what ``--forget-secrets`` deletes);
- ``rate_limit``: the vendor's documented limit per account, in the one
  grammar of ``actionkit.ratelimit`` (``"60/m"``);
- ``hosts``: where its API lives (``actionkit.outbound``);
- ``settings``: the connection settings ``patchbay connect --setting
  NAME=VALUE`` takes (each a :class:`VendorSetting`: its allowed values and
  default, or the pattern a free value matches), stored with the connection;
- ``url_role``: what ``patchbay connect --url`` names: ``"api"`` (where
  requests and credentials go: checked against ``hosts``) or ``"link"``
  (where people open the product, e.g. the PSA that Teams' deep links point
  to: nothing is ever sent there, so any http(s) URL with a host will do);
- ``required_secrets``: the secrets ``patchbay connect`` insists on (given
  now with ``--secret`` or already stored for the tenant); one may apply only
  under a setting's value (``RequiredSecret.when``);
- ``check``: the connection check (``actionkit.checks``): one read-only vendor
  call proving the credentials work, run by ``patchbay connect`` and
  ``patchbay connections test``. A vendor is connectable with ``patchbay
  connect`` only once its package declares a check and registers actions;
- ``connect_hints``: the commands that connect a tenant to this vendor's fake
  in ``sandbox/`` (given the fake's URL and seed), printed by ``patchbay sandbox``;
- ``sandbox_secrets``: the secrets that connect a tenant to the vendor's fake,
  from a credential set the fake mints (``POST <url>/__sandbox/credentials``),
  used by ``patchbay sandbox connect``.

The store, the CLI, the Celery settings and ``patchbay sandbox`` ask the
catalog (``catalog.vendors``) instead of keeping their own lists.
"""

from __future__ import annotations

import builtins
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from actionkit.checks import ConnectionCheck
from actionkit.outbound import HostRules
from actionkit.ratelimit import RateLimit
from catalog.errors import RegistrationConflict, RegistrationError
from store.connections import ALLOW_CUSTOM_HOST

PROVIDER_PATTERN = re.compile(r"^[a-z][a-z0-9_]*$")
ConnectionKind = Literal["rmm", "teams"]
# (the fake's base URL, the fake's seed data, the tenant) -> shell commands.
ConnectHints = Callable[[str, Mapping[str, Any], str], list[str]]
# A credential set the vendor's fake minted -> the tenant secrets (name -> value) it makes.
SandboxSecrets = Callable[[Mapping[str, Any]], dict[str, str]]


@dataclass(frozen=True)
class VendorSetting:
    """A connection setting: ``patchbay connect <provider> --setting NAME=VALUE``.

    Either a choice (``choices``: the values it takes; ``default``: its value
    while unset, one of the choices) or a free value (no ``choices``): then
    ``pattern`` (a regular expression the whole value must match) says what
    it takes, ``example`` shows one, ``default`` is ``""`` (unset) unless
    given, and ``required`` says a connection needs one. ``help``: what it
    decides, in one line.
    """

    name: str
    choices: tuple[str, ...] = ()
    default: str = ""
    help: str = ""
    pattern: str | None = None
    example: str = ""
    required: bool = False

    def refusal(self, value: str) -> str | None:
        """Why ``value`` is not one this setting takes (naming what it takes), or None."""
        if self.choices:
            if value in self.choices:
                return None
            return f"{value!r} is not allowed (allowed: {', '.join(self.choices)})"
        if not value:
            return "the value is empty"
        if self.pattern is not None and re.fullmatch(self.pattern, value) is None:
            like = f", e.g. {self.example}" if self.example else ""
            return f"{value!r} is not {self.help or 'a valid value'}{like}"
        return None

    def value_in(self, settings: Mapping[str, object]) -> str:
        """Its value in a connection's ``settings``: the stored one, else the default.

        Raises ValueError naming the allowed values when the stored one is not one.
        """
        value = settings.get(self.name, self.default)
        if value == self.default and not self.choices:
            return self.default
        why = self.refusal(str(value)) if isinstance(value, str) else "not text"
        if why is not None:
            if self.choices:
                raise ValueError(
                    f"setting {self.name}={value!r} is not one of {', '.join(self.choices)}"
                )
            raise ValueError(f"setting {self.name}: {why}")
        return str(value)

    def shown(self) -> str:
        """``name=a|b`` for a choice, ``name=<example>`` for a free value (usage messages)."""
        return f"{self.name}={'|'.join(self.choices) if self.choices else self.example or '...'}"


@dataclass(frozen=True)
class SeedSecrets:
    """A vendor's sandbox secrets, read from a credential set its fake mints.

    ``fields``: tenant secret name -> field of the set (e.g. ``{"x_api_key":
    "api_key"}``). :meth:`secrets` is the vendor's ``sandbox_secrets`` and
    :meth:`hints` its ``connect_hints``, so a vendor declares the mapping
    instead of writing both.
    """

    provider: str
    fields: Mapping[str, str]

    def secrets(self, seed: Mapping[str, Any]) -> dict[str, str]:
        """The tenant secrets (name -> value) the credential set ``seed`` makes."""
        return {name: str(seed[field]) for name, field in self.fields.items()}

    def hints(self, url: str, seed: Mapping[str, Any], tenant: str) -> list[str]:
        """The ``patchbay connect`` line for ``tenant`` and the fake at ``url``."""
        given = " ".join(f"--secret {n}={v}" for n, v in self.secrets(seed).items())
        return [f"patchbay connect {self.provider} --tenant {tenant} --url {url} {given}"]


@dataclass(frozen=True)
class RequiredSecret:
    """A secret a connection needs: given with ``--secret`` now, or already stored.

    ``or_stored``: secrets whose stored value stands in for it (NinjaOne's
    stored token set stands in for the refresh token an admin pasted once).
    ``when``: (setting, value): needed only while that setting has that value
    (an unset setting has its default); None: always needed.
    """

    name: str
    or_stored: tuple[str, ...] = ()
    when: tuple[str, str] | None = None

    def satisfied_by(self, available: set[str]) -> bool:
        """Whether ``available`` (given and stored names) holds it or a stand-in."""
        return self.name in available or any(n in available for n in self.or_stored)

    def applies(self, settings: Mapping[str, str]) -> bool:
        """Whether it is needed under ``settings`` (every declared setting's value)."""
        return self.when is None or settings.get(self.when[0]) == self.when[1]


@dataclass(frozen=True)
class Vendor:
    """What patchbay knows about one vendor (see the module docstring)."""

    provider: str
    label: str
    connection: ConnectionKind | None
    secret_names: tuple[str, ...] = ()
    rate_limit: str | None = None
    hosts: HostRules = field(default_factory=HostRules)
    required_secrets: tuple[RequiredSecret, ...] = ()
    settings: tuple[VendorSetting, ...] = ()
    url_role: Literal["api", "link"] = "api"
    check: ConnectionCheck | None = field(default=None, compare=False)
    connect_hints: ConnectHints | None = field(default=None, compare=False)
    sandbox_secrets: SandboxSecrets | None = field(default=None, compare=False)

    @property
    def connectable(self) -> bool:
        """Whether ``patchbay connect <provider>`` applies."""
        return self.connection is not None

    def setting(self, name: str) -> VendorSetting | None:
        """The declared setting called ``name``, or None."""
        return next((s for s in self.settings if s.name == name), None)

    def setting_values(self, stored: Mapping[str, object]) -> dict[str, str]:
        """Every declared setting's value: from ``stored`` (a connection's settings) or its default.

        A stored value that is not one of the choices is kept as it is, so
        that nothing that depends on a valid value applies.
        """
        return {s.name: str(stored.get(s.name, s.default)) for s in self.settings}

    def missing_settings(self, settings: Mapping[str, object]) -> builtins.list[VendorSetting]:
        """The required settings ``settings`` (given over stored) holds no value for."""
        return [s for s in self.settings if s.required and not settings.get(s.name)]

    def required_under(self, settings: Mapping[str, str]) -> list[RequiredSecret]:
        """The required secrets that apply under ``settings`` (see :meth:`setting_values`)."""
        return [r for r in self.required_secrets if r.applies(settings)]


def validate_vendor(vendor: Vendor) -> None:
    """Reject a malformed declaration at registration."""
    where = f"vendor {vendor.provider!r}"
    if not PROVIDER_PATTERN.match(vendor.provider):
        raise RegistrationError(f"{where}: provider must be lowercase letters, digits, '_'")
    if not vendor.label.strip():
        raise RegistrationError(f"{where}: label must not be blank")
    if vendor.rate_limit is not None:
        try:
            RateLimit.parse(vendor.rate_limit)
        except ValueError as exc:
            raise RegistrationError(f"{where}: {exc}") from None
    if len(set(vendor.secret_names)) != len(vendor.secret_names):
        raise RegistrationError(f"{where}: secret_names has duplicates")
    undeclared = [
        name
        for required in vendor.required_secrets
        for name in (required.name, *required.or_stored)
        if name not in vendor.secret_names
    ]
    if undeclared:
        raise RegistrationError(
            f"{where}: required_secrets names undeclared secrets: {', '.join(undeclared)}"
        )
    _validate_settings(vendor, where)
    if vendor.check is not None and vendor.connection is None:
        raise RegistrationError(f"{where}: a connection check needs a connection kind")


def _validate_settings(vendor: Vendor, where: str) -> None:
    names = [s.name for s in vendor.settings]
    if len(set(names)) != len(names):
        raise RegistrationError(f"{where}: settings has duplicates")
    for setting in vendor.settings:
        if not PROVIDER_PATTERN.match(setting.name) or setting.name == ALLOW_CUSTOM_HOST:
            raise RegistrationError(
                f"{where}: setting name {setting.name!r} must be lowercase letters, digits, "
                f"'_' and not {ALLOW_CUSTOM_HOST!r} (that is --allow-custom-host)"
            )
        if not setting.choices:
            _validate_free_setting(setting, where)
            continue
        if len(set(setting.choices)) != len(setting.choices):
            raise RegistrationError(f"{where}: setting {setting.name!r} needs distinct choices")
        if setting.pattern is not None or setting.required:
            raise RegistrationError(
                f"{where}: setting {setting.name!r} has choices, so no pattern and no required"
            )
        if setting.default not in setting.choices:
            raise RegistrationError(
                f"{where}: setting {setting.name!r} defaults to {setting.default!r}, "
                "which is not one of its choices"
            )
    for required in vendor.required_secrets:
        if required.when is None:
            continue
        name, value = required.when
        declared = vendor.setting(name)
        if declared is None or value not in declared.choices:
            raise RegistrationError(
                f"{where}: required secret {required.name!r} applies when {name}={value!r}, "
                "which is not a declared setting and value"
            )


def _validate_free_setting(setting: VendorSetting, where: str) -> None:
    """A free value: a pattern that compiles, and a default (if any) and example it accepts."""
    if setting.pattern is not None:
        try:
            re.compile(setting.pattern)
        except re.error as exc:
            raise RegistrationError(
                f"{where}: setting {setting.name!r} has a bad pattern ({exc})"
            ) from None
    for shown, value in (("default", setting.default), ("example", setting.example)):
        if value and setting.refusal(value) is not None:
            raise RegistrationError(
                f"{where}: setting {setting.name!r}: its {shown} {value!r} does not match "
                "its pattern"
            )


class VendorRegistry:
    """Vendors by provider name, in registration order."""

    def __init__(self) -> None:
        self._vendors: dict[str, Vendor] = {}

    def register(self, vendor: Vendor) -> None:
        """Add ``vendor``; the same declaration again is a no-op, a different one a conflict."""
        validate_vendor(vendor)
        existing = self._vendors.get(vendor.provider)
        if existing is not None:
            if existing != vendor:
                raise RegistrationConflict(
                    f"vendor {vendor.provider!r} is already registered with different facts"
                )
            return
        self._vendors[vendor.provider] = vendor

    def get(self, provider: str) -> Vendor | None:
        return self._vendors.get(provider)

    def list(self) -> builtins.list[Vendor]:
        return list(self._vendors.values())

    def connectable(self) -> builtins.list[Vendor]:
        """Vendors ``patchbay connect`` takes, in registration order."""
        return [v for v in self._vendors.values() if v.connectable]

    def rmm_providers(self) -> builtins.list[str]:
        """Providers whose connection is a ``rmm_integrations`` row."""
        return [v.provider for v in self._vendors.values() if v.connection == "rmm"]

    def rate_limits(self) -> dict[str, str]:
        """Each vendor's declared limit, by provider."""
        return {v.provider: v.rate_limit for v in self._vendors.values() if v.rate_limit}
