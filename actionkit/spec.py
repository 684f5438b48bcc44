"""The action spec: what an integration declares about each action it offers.

An action is ``provider.noun.verb@version``: a pydantic input model that
forbids unknown fields (``actionkit.inputs.StrictInput``), an output model,
whether it changes anything at the vendor, and a plain handler
``(input, ctx) -> output``. A handler whose vendor finishes later answers
``Pending`` and names a ``check`` step. Several versions of one id coexist; a
workflow step pins one. The catalog registers specs; the executor runs them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel

from actionkit.context import ActionContext, NotApplied, Pending

InputT = TypeVar("InputT", bound=BaseModel)
OutputT = TypeVar("OutputT", bound=BaseModel)

# The shapes of the plain functions an action is made of (the handler "marker":
# annotate a handler with these and mypy checks it against its spec).
Handler = Callable[[InputT, ActionContext], OutputT | Pending]
"""``(input, ctx) -> output``, or ``Pending`` when the vendor finishes later."""
Check = Callable[[InputT, dict[str, Any], ActionContext], OutputT | Pending]
"""``(input, saved state, ctx) -> output | Pending``: a later look at a pending step."""
Reconcile = Callable[[InputT, ActionContext], OutputT | NotApplied]
"""``(input, ctx) -> output | NotApplied``: a read-back after an unanswered side effect."""


@dataclass(frozen=True)
class ActionUI:
    """How the designer shows an action."""

    label: str
    description: str = ""
    category: str = ""
    icon: str = ""


@dataclass(frozen=True, eq=True)
class ActionSpec(Generic[InputT, OutputT]):
    """One version of one action.

    ``safe_to_repeat`` declares that running the vendor call again after an
    unknown outcome (a worker died mid-call) does no harm; without it such a
    step ends ``OUTCOME_UNKNOWN`` instead of being repeated blindly.
    """

    id: str
    version: int
    input_model: type[InputT]
    output_model: type[OutputT]
    handler: Handler[InputT, OutputT] = field(compare=True)
    side_effectful: bool
    ui: ActionUI
    idempotency: Literal["engine"] = "engine"
    safe_to_repeat: bool = False
    # For handlers that answer Pending: (input, saved state, ctx) -> output or Pending.
    check: Check[InputT, OutputT] | None = None
    # Internal actions run through the executor (ledger, retries, throttle) on
    # behalf of patchbay itself, e.g. calendar sync; the designer never lists them.
    internal: bool = False
    # A read-back that settles a side effect whose request got no proof either way
    # (a 5xx, a timeout or a reset after sending; a worker lost after dispatch):
    # (input, ctx) -> the output if it happened, NotApplied if it did not; raise
    # if the vendor cannot tell. Without one such a step ends OUTCOME_UNKNOWN.
    reconcile: Reconcile[InputT, OutputT] | None = None
    # Longest one delivery (a start, a check or a read-back) may run, in seconds;
    # None: PATCHBAY_STEP_TIME_LIMIT. Enforced in every worker pool.
    time_limit: float | None = None

    @property
    def key(self) -> str:
        """``id@version``."""
        return f"{self.id}@{self.version}"

    @property
    def provider(self) -> str:
        """The id's first segment (``ninjaone`` for ``ninjaone.devices.find``)."""
        return self.id.split(".", 1)[0]

    def input_field_names(self) -> list[str]:
        """Top-level input fields, sorted (what the input-mapping editor lists)."""
        return sorted(self.input_model.model_json_schema().get("properties", {}))

    def output_field_names(self) -> list[str]:
        """Top-level output fields, sorted."""
        return sorted(self.output_model.model_json_schema().get("properties", {}))

    def json_schemas(self) -> dict[str, Any]:
        """JSON Schemas of input and output, titled ``<id>@<v>.input|.output``."""
        schemas: dict[str, Any] = {}
        for part, model in (("input", self.input_model), ("output", self.output_model)):
            schema = model.model_json_schema()
            schema["title"] = f"{self.key}.{part}"
            schemas[part] = schema
        return schemas


AnyActionSpec = ActionSpec[Any, Any]
