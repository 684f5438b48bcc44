"""The concrete action context a handler runs in (``actionkit.context.ActionContext``)."""

from __future__ import annotations

import logging
import sys
import traceback
from collections.abc import Callable, Hashable, Iterator, Mapping, MutableMapping
from contextlib import contextmanager
from datetime import datetime
from typing import Any, TypeVar

import httpx
from pydantic import SecretStr
from sqlalchemy.orm import Session, sessionmaker

from actionkit.context import SuccessWrite
from actionkit.errors import IntegrationMisconfigured
from actionkit.outbound import HostRules, OutboundPolicy
from executor.gate import InvocationGate
from executor.payload import Redactor
from executor.tenant_cache import TenantView
from store.secrets import ChainedSecretStore

T = TypeVar("T")

logger = logging.getLogger("patchbay.executor")


class StepLogger(logging.LoggerAdapter[logging.Logger]):
    """Log lines that carry tenant, action, key and attempt, as fields and in the text.

    The fields (``record.tenant`` ...) serve structured handlers; the suffix
    keeps them visible under Celery's plain worker log format. With a
    ``redactor``, each line is formatted here and every secret value the step
    has loaded is scrubbed from it, its traceback included, before any
    handler sees it.
    """

    def __init__(
        self,
        logger: logging.Logger,
        extra: Mapping[str, object] | None = None,
        redactor: Redactor | None = None,
    ) -> None:
        super().__init__(logger, extra)
        self._redactor = redactor

    def log(self, level: int, msg: object, *args: object, **kwargs: Any) -> None:
        if self._redactor is None:
            super().log(level, msg, *args, **kwargs)
            return
        if not self.isEnabledFor(level):
            return
        values: Any = args
        if len(args) == 1 and isinstance(args[0], Mapping) and args[0]:
            values = args[0]  # "%(name)s" with one mapping, as logging does
        try:
            text = str(msg) % values if args else str(msg)
        except (TypeError, ValueError):
            text = f"{msg} {args!r}"
        exc_info = kwargs.pop("exc_info", None)
        if exc_info:
            if isinstance(exc_info, BaseException):
                exc_info = (type(exc_info), exc_info, exc_info.__traceback__)
            elif not isinstance(exc_info, tuple):
                exc_info = sys.exc_info()
            if exc_info[0] is not None:
                text += "\n" + "".join(traceback.format_exception(*exc_info)).rstrip()
        line, options = self.process(self._redactor.text(text), kwargs)
        self.logger.log(level, line, **options)

    def process(
        self, msg: Any, kwargs: MutableMapping[str, Any]
    ) -> tuple[Any, MutableMapping[str, Any]]:
        fields = dict(self.extra or {})
        kwargs["extra"] = {**fields, **kwargs.get("extra", {})}
        suffix = " ".join(f"{k}={v}" for k, v in fields.items())
        return f"{msg} [{suffix}]", kwargs


def refuse_rotating_env_secret(secrets: ChainedSecretStore, tenant_id: str, name: str) -> None:
    """IntegrationMisconfigured if ``name`` comes from the environment: it is read first,
    so a rotated value written to the database would never be seen again."""
    if secrets.env.get(tenant_id, name) is not None:
        raise IntegrationMisconfigured(
            f"tenant secret {name!r} comes from the environment "
            f"({secrets.env.variable(tenant_id, name)}); a credential that "
            "rotates must be stored with `patchbay connect ... --secret` instead"
        )


class InvocationContext:
    """Implements ``actionkit.context.ActionContext`` for one attempt of one step."""

    def __init__(
        self,
        *,
        tenant_id: str,
        action_id: str,
        action_version: int,
        idempotency_key: str,
        run_id: str | None,
        step_path: str | None,
        attempt: int,
        sessions: sessionmaker[Session],
        secrets: ChainedSecretStore,
        redactor: Redactor,
        gate: InvocationGate,
        transports: Mapping[str, httpx.BaseTransport],
        clock: Callable[[], datetime],
        sandbox: bool = False,
        config: TenantView | None = None,
    ) -> None:
        self.tenant_id = tenant_id
        self.action_id = action_id
        self.action_version = action_version
        self.idempotency_key = idempotency_key
        self.run_id = run_id
        self.step_path = step_path
        self.attempt = attempt
        self.gate = gate
        self.redactor = redactor
        self._sessions = sessions
        self._secrets = secrets
        self._transports = transports
        self._clock = clock
        self._sandbox = sandbox
        self._config = config
        self.success_writes: list[SuccessWrite] = []
        self.logger = StepLogger(
            logger,
            {
                "tenant": tenant_id,
                "action": f"{action_id}@{action_version}",
                "key": idempotency_key,
                "attempt": attempt,
            },
            redactor,
        )

    def __repr__(self) -> str:
        return f"InvocationContext(tenant={self.tenant_id!r}, key={self.idempotency_key!r})"

    @contextmanager
    def session(self) -> Iterator[Session]:
        with self._sessions.begin() as session:
            yield session

    def on_success(self, write: SuccessWrite) -> None:
        self.success_writes.append(write)

    def redact(self, value: str) -> None:
        self.redactor.add(value)

    def remember(self, key: Hashable, load: Callable[[], T]) -> T:
        if self._config is None:
            return load()
        return self._config.remember(("ctx", key), load)

    def secret(self, name: str) -> SecretStr | None:
        value = self._secrets.env.get(self.tenant_id, name)
        if value is None:
            value = (
                self._secrets.database.get(self.tenant_id, name)
                if self._config is None
                else self._config.secret(self._secrets.database, name)
            )
        if value is not None:
            self.redactor.add(value.get_secret_value())
        return value

    def set_secret(self, name: str, value: str | SecretStr) -> None:
        plain = value.get_secret_value() if isinstance(value, SecretStr) else value
        self.redactor.add(plain)
        self._secrets.set(self.tenant_id, name, plain)
        if self._config is not None:
            self._config.forget_secret(name)

    def update_secret(
        self, name: str, update: Callable[[SecretStr | None], str | None]
    ) -> SecretStr | None:
        refuse_rotating_env_secret(self._secrets, self.tenant_id, name)

        def tracked(current: SecretStr | None) -> str | None:
            if current is not None:
                self.redactor.add(current.get_secret_value())
            new = update(current)
            if new is not None:
                self.redactor.add(new)
            return new

        value = self._secrets.database.update_locked(self.tenant_id, name, tracked)
        if self._config is not None:
            self._config.forget_secret(name)
        if value is not None:
            self.redactor.add(value.get_secret_value())
        return value

    def transport(self, provider: str) -> httpx.BaseTransport | None:
        return self._transports.get(provider)

    def outbound(self, rules: HostRules, *, allow_custom_host: bool = False) -> OutboundPolicy:
        return OutboundPolicy(rules, allow_custom_host=allow_custom_host, sandbox=self._sandbox)

    def now(self) -> datetime:
        return self._clock()
