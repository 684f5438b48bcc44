"""Running a vendor's connection check (``actionkit.checks``) for the CLI and the API.

:class:`ConnectionUnderCheck` is the check's context. Two modes:

- *staged* (``patchbay connect``, ``PUT /v1/connections/{provider}``): the
  connection is not stored yet. Secrets given with the request are read
  before stored ones, and whatever the
  check writes (a rotated OAuth token) is held back in :attr:`written`, for
  the caller to store together with the connection in one transaction, so a
  failed check leaves nothing behind;
- *live* (``patchbay connections test``): the stored connection. Writes go to
  the store under the same per-secret lock the workers take, so a rotated
  token is never lost to a concurrent refresh.

Every secret value read or written is remembered, and scrubbed from the
failure message (:func:`run_check`), as the executor does for a step's errors.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

import httpx
from pydantic import SecretStr

from actionkit.checks import CheckFailed, check_failure
from actionkit.errors import ActionFailure
from actionkit.outbound import HostRules, OutboundPolicy, redact_url
from catalog.vendors import Vendor
from executor.context import refuse_rotating_env_secret
from executor.payload import Redactor
from store.secrets import ChainedSecretStore, SecretStoreError

logger = logging.getLogger("patchbay.checks")


class ConnectionUnderCheck:
    """Implements ``actionkit.checks.CheckContext`` for one tenant's connection to one vendor."""

    def __init__(
        self,
        *,
        tenant_id: str,
        instance_url: str | None,
        allow_custom_host: bool,
        secrets: ChainedSecretStore,
        sandbox: bool,
        staged: Mapping[str, SecretStr] | None = None,
        settings: Mapping[str, Any] | None = None,
    ) -> None:
        self.tenant_id = tenant_id
        self.instance_url = instance_url
        self.allow_custom_host = allow_custom_host
        self.settings: Mapping[str, Any] = MappingProxyType(dict(settings or {}))
        self.redactor = Redactor()
        self.logger = logging.LoggerAdapter(logger, {"tenant": tenant_id})
        self._secrets = secrets
        self._sandbox = sandbox
        self._given = dict(staged) if staged is not None else None
        self.written: dict[str, str] = {}
        """Staged mode: what the check wrote (name -> value), to store with the connection."""

    def __repr__(self) -> str:
        return f"ConnectionUnderCheck(tenant={self.tenant_id!r})"

    def _seen(self, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            self.redactor.add(value.get_secret_value())
        return value

    def secret(self, name: str) -> SecretStr | None:
        if name in self.written:
            return self._seen(SecretStr(self.written[name]))
        if self._given is not None and name in self._given:
            return self._seen(self._given[name])
        return self._seen(self._secrets.get(self.tenant_id, name))

    def set_secret(self, name: str, value: str | SecretStr) -> None:
        plain = value.get_secret_value() if isinstance(value, SecretStr) else value
        self.redactor.add(plain)
        if self._given is not None:
            self.written[name] = plain
        else:
            self._secrets.set(self.tenant_id, name, plain)

    def update_secret(
        self, name: str, update: Callable[[SecretStr | None], str | None]
    ) -> SecretStr | None:
        if self._given is not None:
            new = update(self.secret(name))
            if new is not None:
                self.set_secret(name, new)
            return self.secret(name)
        refuse_rotating_env_secret(self._secrets, self.tenant_id, name)

        def tracked(current: SecretStr | None) -> str | None:
            self._seen(current)
            new = update(current)
            if new is not None:
                self.redactor.add(new)
            return new

        return self._seen(self._secrets.database.update_locked(self.tenant_id, name, tracked))

    def transport(self, provider: str) -> httpx.BaseTransport | None:
        return None  # the network, through the outbound policy's guarded transport

    def outbound(self, rules: HostRules, *, allow_custom_host: bool = False) -> OutboundPolicy:
        return OutboundPolicy(rules, allow_custom_host=allow_custom_host, sandbox=self._sandbox)

    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass(frozen=True)
class CheckOutcome:
    """What a check proved (``ok``), or why it failed (``kind`` and ``detail``, one line)."""

    ok: bool
    detail: str
    kind: str | None = None


def run_check(vendor: Vendor, ctx: ConnectionUnderCheck) -> CheckOutcome:
    """Run ``vendor``'s check against ``ctx``; a failure's detail is scrubbed of secret values."""
    assert vendor.check is not None
    try:
        return CheckOutcome(True, vendor.check(ctx))
    except CheckFailed as exc:
        failed = exc
    except ActionFailure as exc:
        failed = check_failure(
            exc, vendor=vendor.label, url=redact_url(ctx.instance_url or "its default URL")
        )
    except SecretStoreError as exc:
        failed = CheckFailed("missing_secret", str(exc))
    detail = " ".join(ctx.redactor.text(failed.message).split())
    return CheckOutcome(False, detail, failed.kind)
