"""The action registry: specs (``actionkit.spec``) by ``id@version``, checked at registration."""

from __future__ import annotations

import re
from collections.abc import Iterator

from pydantic import BaseModel

from actionkit.spec import AnyActionSpec
from catalog.errors import RegistrationConflict, RegistrationError, UnknownActionError

ACTION_ID_PATTERN = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")


def validate_action_spec(spec: AnyActionSpec) -> None:
    """Reject a malformed spec at registration time rather than at first run."""
    where = f"action {spec.id!r}"
    if not ACTION_ID_PATTERN.match(spec.id):
        raise RegistrationError(f"{where}: id must look like provider.noun.verb (lowercase)")
    if not isinstance(spec.version, int) or isinstance(spec.version, bool) or spec.version < 1:
        raise RegistrationError(f"{where}: version must be an integer >= 1")
    for role, model in (("input_model", spec.input_model), ("output_model", spec.output_model)):
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            raise RegistrationError(f"{where}: {role} must be a pydantic model class")
    if spec.input_model.model_config.get("extra") != "forbid":
        raise RegistrationError(
            f"{where}: input model {spec.input_model.__name__} must forbid unknown fields "
            "(model_config = ConfigDict(extra='forbid'))"
        )
    if not callable(spec.handler):
        raise RegistrationError(f"{where}: handler must be callable")
    if spec.check is not None and not callable(spec.check):
        raise RegistrationError(f"{where}: check must be callable")
    if spec.reconcile is not None and not (callable(spec.reconcile) and spec.side_effectful):
        raise RegistrationError(f"{where}: reconcile must be callable, on a side-effectful action")
    if spec.time_limit is not None and not spec.time_limit > 0:
        raise RegistrationError(f"{where}: time_limit must be a positive number of seconds")
    if not spec.ui.label.strip():
        raise RegistrationError(f"{where}: ui.label must not be blank")
    if spec.idempotency != "engine":
        raise RegistrationError(f"{where}: idempotency must be 'engine'")


class ActionRegistry:
    """Actions by ``id@version``. Registering the same id@version twice is an error."""

    def __init__(self) -> None:
        self._specs: dict[tuple[str, int], AnyActionSpec] = {}

    def register(self, spec: AnyActionSpec) -> None:
        """Add ``spec``; raises RegistrationError if malformed or already registered."""
        validate_action_spec(spec)
        key = (spec.id, spec.version)
        if key in self._specs:
            raise RegistrationConflict(f"action {spec.key} is already registered")
        self._specs[key] = spec

    def get(self, action_id: str, version: int) -> AnyActionSpec:
        """The spec, or UnknownActionError."""
        try:
            return self._specs[(action_id, version)]
        except KeyError:
            raise UnknownActionError(action_id, version) from None

    def find(self, action_id: str, version: int) -> AnyActionSpec | None:
        """The spec, or None."""
        return self._specs.get((action_id, version))

    def versions(self, action_id: str) -> list[int]:
        """Registered versions of ``action_id``, ascending."""
        return sorted(v for (i, v) in self._specs if i == action_id)

    def latest(self, action_id: str) -> AnyActionSpec:
        """The highest registered version (for callers that did not pin one)."""
        versions = self.versions(action_id)
        if not versions:
            raise UnknownActionError(action_id)
        return self._specs[(action_id, versions[-1])]

    def has_id(self, action_id: str) -> bool:
        """True if any version of ``action_id`` is registered."""
        return any(i == action_id for (i, _v) in self._specs)

    def list(self) -> list[AnyActionSpec]:
        """Every spec, ordered by id then version."""
        return [self._specs[k] for k in sorted(self._specs)]

    def __iter__(self) -> Iterator[AnyActionSpec]:
        return iter(self.list())

    def __len__(self) -> int:
        return len(self._specs)
