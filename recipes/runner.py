"""Running a recipe: its steps through the executor, one run id, replayed from the ledger.

A recipe is a plain function ``run(recipe_run, input) -> outcome`` that calls
:meth:`RecipeRun.step` once per step. Each step has a stable, meaningful
``step_path`` (``disk_full.open_ticket``); with the run id it makes the
step's idempotency key (``<run_id>:<step_path>:<action_id>@<version>``, the
wire contract's convention), so running the recipe again with the same run
id meets the steps that already ended:

- a step that **succeeded** is replayed: its recorded output is returned and
  nothing is sent to the vendor. Read-only steps too (the executor would run
  them again): the recipe then branches on what it saw the first time, and
  the later steps get the same inputs as before.
- a step that **failed** for good is run again (``Executor.retry``, recorded
  in its history as this recipe's retry): running the recipe again is the
  operator's decision to resume, typically after fixing the cause (a
  connection, a permission, a timeout). Two kinds are left to the operator:
  ``OUTCOME_UNKNOWN`` (the vendor may have acted already: running it again
  may act twice) and ``CANCELLED`` (someone stopped it); ``patchbay step
  retry KEY`` runs such a step again, then the recipe continues.
- a step still **running or waiting** is sent again (always safe: a copy of
  a step in flight runs nothing twice) and waited for.

A step that ends failed raises :class:`StepFailed` (its error payload, key
and how to resume); failures a recipe expects as an outcome (``accept``, e.g.
``CONFLICT`` for a busy technician) are returned instead. Inputs must be
built only from the recipe's input and earlier steps' outputs (and
:attr:`RecipeRun.started_at`), never from the clock or a random source: a
step whose input differs from the recorded one is refused with
``IDEMPOTENCY_CONFLICT`` rather than run under the old key.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError

from actionkit.errors import ActionFailure
from actionkit.inputs import InputNotJson, StrictInput, parse_input

if TYPE_CHECKING:
    from executor.api import Executor, InvocationHandle
    from executor.results import InvocationResult

InputT = TypeVar("InputT", bound=StrictInput)

DEFAULT_STEP_TIMEOUT = 120.0
"""Seconds a recipe waits for one step unless the step says otherwise."""
RUN_LIMIT = 1000
"""The most steps one run may record (the ledger is read once per run)."""
# Failures the operator must look at before a step runs again (see the module doc).
LEFT_TO_OPERATOR = ("OUTCOME_UNKNOWN", "CANCELLED")

Waiter = Callable[["InvocationHandle", float], "InvocationResult"]


@dataclass(frozen=True)
class StepRecord:
    """How one step of the run ended, as the recipe saw it.

    ``replayed``: it had ended before this run of the recipe and nothing was
    sent; ``resumed``: it had failed before and was run again now;
    ``duration``: seconds it took (this run's wait, or as recorded when
    replayed); ``accepted``: a failure the recipe expects as an outcome.
    """

    path: str
    action_id: str
    key: str
    status: str
    attempt: int
    duration: float
    output: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    replayed: bool = False
    resumed: bool = False
    accepted: bool = False
    created_at: datetime | None = None

    @property
    def succeeded(self) -> bool:
        return self.status == "SUCCEEDED"

    @property
    def code(self) -> str | None:
        """The error code of a failed step (``CONFLICT``, ...), else None."""
        return None if self.error is None else str(self.error.get("code"))


class StepFailed(Exception):
    """A step ended without the outcome the recipe needs.

    ``record``: the step (its key, status and error payload); ``hint``: what
    to do before running the recipe again with the same run id (one line).
    """

    def __init__(self, record: StepRecord, message: str, hint: str) -> None:
        super().__init__(message)
        self.record = record
        self.message = message
        self.hint = hint


class RecipeFailed(Exception):
    """The recipe cannot go on for a reason of its own (e.g. the ticket is closed)."""


class RecipeInputError(ValueError):
    """The recipe's input is not valid; ``problems`` names each field."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Recipe(Generic[InputT]):
    """A named recipe: what it does, its input model, and the function that runs it."""

    name: str
    summary: str
    input_model: type[InputT]
    run: Callable[[RecipeRun, InputT], dict[str, Any]]

    def parse(self, data: Mapping[str, Any]) -> InputT:
        """The input validated (before any step runs); ``RecipeInputError`` names each field."""
        try:
            return parse_input(self.input_model, dict(data))
        except InputNotJson as exc:
            raise RecipeInputError([str(exc)]) from None
        except ValidationError as exc:
            raise RecipeInputError(
                [
                    f"input.{'.'.join(str(p) for p in e['loc'])}: {e['msg']}"
                    if e["loc"]
                    else f"input: {e['msg']}"
                    for e in exc.errors()
                ]
            ) from None

    def execute(self, run: RecipeRun, data: Mapping[str, Any]) -> dict[str, Any]:
        """Validate ``data``, then run the recipe's steps in ``run``; its outcome."""
        return self.run(run, self.parse(data))


def _payload(exc: ActionFailure) -> dict[str, Any]:
    """The error payload of a failure raised before anything was sent (as the ledger's)."""
    return {
        "category": exc.category,
        "code": exc.code,
        "message": exc.message,
        "retryable": exc.retryable,
        "details": exc.details,
    }


@dataclass
class RecipeRun:
    """The steps of one run of a recipe (one run id) for one tenant.

    ``on_step`` is called with each step's :class:`StepRecord` as it ends
    (the CLI prints it); ``wait`` waits for a step's outcome (default:
    ``InvocationHandle.wait``, which polls the ledger); ``actor`` is who a
    resumed step's retry is recorded as.
    """

    executor: Executor
    tenant_id: str
    run_id: str
    on_step: Callable[[StepRecord], None] | None = None
    wait: Waiter | None = None
    actor: str = "recipe"
    steps: list[StepRecord] = field(default_factory=list)
    _recorded: dict[str, InvocationResult] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        earlier = self.executor.invocations(self.tenant_id, run_id=self.run_id, limit=RUN_LIMIT)
        self._recorded = {r.step_path: r for r in earlier if r.step_path is not None}

    @property
    def resuming(self) -> bool:
        """Whether this run id had recorded steps before this run of the recipe."""
        return bool(self._recorded)

    @property
    def started_at(self) -> datetime:
        """When the run's first step was recorded: the same on every run of this run id.

        What a recipe computes a time from (e.g. a booking window), so that a
        resumed run builds the same inputs. Only once a step has been run.
        """
        times = [r.created_at for r in self._recorded.values()]
        times += [s.created_at for s in self.steps if s.created_at is not None]
        if not times:
            raise RuntimeError("started_at is known once the run's first step has run")
        return min(times)

    def step(
        self,
        path: str,
        action_id: str,
        input: dict[str, Any],
        *,
        timeout: float = DEFAULT_STEP_TIMEOUT,
    ) -> dict[str, Any]:
        """Run (or replay) one step and return its output; ``StepFailed`` if it failed."""
        record = self.attempt(path, action_id, input, timeout=timeout)
        assert record.output is not None
        return record.output

    def attempt(
        self,
        path: str,
        action_id: str,
        input: dict[str, Any],
        *,
        timeout: float = DEFAULT_STEP_TIMEOUT,
        accept: Collection[str] = (),
    ) -> StepRecord:
        """Run (or replay) one step; a failure whose code is in ``accept`` is returned
        (the recipe branches on it), any other raises ``StepFailed``."""
        if any(s.path == path for s in self.steps):
            raise ValueError(f"step path {path!r} is used twice in one run")
        from executor.api import derive_key

        clock = time.monotonic()
        pipeline = self.executor.runtime.pipeline
        before = self._recorded.get(path)
        # A recorded step keeps the version it ran with (its key names it).
        version = before.version if before is not None and before.action_id == action_id else None
        try:
            spec = pipeline.resolve(action_id, version)
        except ActionFailure as exc:
            raise self._refused(path, action_id, "", exc) from None
        key = derive_key(self.run_id, path, spec.id, spec.version)
        current = self.executor.result(key, self.tenant_id)
        if current is not None and current.succeeded and not spec.side_effectful:
            self._check_same_input(path, spec, key, input)
            return self._ended(path, current, clock, accept, replayed=True)
        try:
            handle = self.executor.enqueue(
                action_id,
                tenant_id=self.tenant_id,
                input=input,
                version=spec.version,
                run_id=self.run_id,
                step_path=path,
            )
        except ActionFailure as exc:
            raise self._refused(path, action_id, key, exc) from None
        resumed = False
        if handle.replayed:
            done = handle.result()
            assert done is not None
            if done.succeeded or self._code(done) in accept:
                return self._ended(path, done, clock, accept, replayed=True)
            handle = self._resume(path, done)
            resumed = True
        try:
            outcome = (self.wait or _handle_wait)(handle, timeout)
        except TimeoutError:
            now = handle.result()
            record = self._record(path, action_id, key, now, clock, resumed=resumed)
            self._note(record)
            raise StepFailed(
                record,
                f"step {path} is not final after {timeout:g}s "
                f"({now.status if now is not None else 'not started'})",
                "it goes on by itself: run the recipe again with the same run id to pick up "
                "its outcome",
            ) from None
        return self._ended(path, outcome, clock, accept, resumed=resumed)

    # -- helpers ---------------------------------------------------------------------

    @staticmethod
    def _code(result: InvocationResult) -> str | None:
        return None if result.error is None else str(result.error.get("code"))

    def _resume(self, path: str, done: InvocationResult) -> InvocationHandle:
        """Run a step that ended failed before again, unless the operator must decide."""
        from executor.control import StepRefused

        code = self._code(done)
        if done.status == "CANCELLED" or code in LEFT_TO_OPERATOR:
            record = self._record(path, done.action_id, done.key, done, None, replayed=True)
            self._note(record)
            why = (
                "it was cancelled"
                if done.status == "CANCELLED"
                else "its outcome is unknown: the vendor may have acted already"
            )
            raise StepFailed(
                record,
                f"step {path} ended {code or done.status} in an earlier run of {self.run_id}",
                f"{why}; check at the vendor, then `patchbay step retry {done.key} --tenant "
                f"{self.tenant_id}` runs it again, and the recipe continues after it",
            )
        try:
            return self.executor.retry(done.key, self.tenant_id, by=self.actor)
        except StepRefused as exc:
            record = self._record(path, done.action_id, done.key, done, None, replayed=True)
            self._note(record)
            raise StepFailed(record, str(exc), "run the recipe again in a moment") from None

    def _check_same_input(self, path: str, spec: Any, key: str, input: dict[str, Any]) -> None:
        """A replayed read-only step must have been recorded with this very input."""
        pipeline = self.executor.runtime.pipeline
        try:
            model: BaseModel = pipeline.validate_input(spec, input)
        except ActionFailure as exc:
            raise self._refused(path, spec.id, key, exc) from None
        recorded = self.executor.step(key, self.tenant_id).input
        if recorded != model.model_dump(mode="json"):
            from actionkit.errors import IdempotencyConflict

            raise self._refused(
                path,
                spec.id,
                key,
                IdempotencyConflict(
                    f"idempotency key {key!r} was first used with a different input"
                ),
            )

    def _refused(self, path: str, action_id: str, key: str, exc: ActionFailure) -> StepFailed:
        """A step refused before anything was sent (unknown action, bad input, another input)."""
        record = StepRecord(
            path=path,
            action_id=action_id,
            key=key,
            status="REFUSED",
            attempt=0,
            duration=0.0,
            error=_payload(exc),
        )
        self._note(record)
        hint = (
            "this run id's step ran with another input (the recipe's input changed?): run the "
            "recipe without --run-id for a new run"
            if exc.code == "IDEMPOTENCY_CONFLICT"
            else "nothing was sent; fix the recipe's input and run it again"
        )
        return StepFailed(record, f"step {path}: {exc.code}: {exc.message}", hint)

    def _record(
        self,
        path: str,
        action_id: str,
        key: str,
        result: InvocationResult | None,
        clock: float | None,
        **flags: bool,
    ) -> StepRecord:
        if result is None:
            return StepRecord(path, action_id, key, "QUEUED", 0, _since(clock))
        if clock is None or flags.get("replayed"):
            end = result.completed_at or result.updated_at or result.created_at
            duration = max(0.0, (end - result.created_at).total_seconds())
        else:
            duration = _since(clock)
        return StepRecord(
            path=path,
            action_id=result.action_id,
            key=result.key,
            status=result.status,
            attempt=result.attempt,
            duration=duration,
            output=result.output,
            error=result.error,
            created_at=result.created_at,
            **flags,
        )

    def _ended(
        self,
        path: str,
        result: InvocationResult,
        clock: float,
        accept: Collection[str],
        *,
        replayed: bool = False,
        resumed: bool = False,
    ) -> StepRecord:
        accepted = not result.succeeded and self._code(result) in accept
        record = self._record(
            path,
            result.action_id,
            result.key,
            result,
            clock,
            replayed=replayed,
            resumed=resumed,
            accepted=accepted,
        )
        self._note(record)
        if result.succeeded or accepted:
            return record
        code = self._code(result) or result.status
        message = (result.error or {}).get("message", "")
        hint = (
            f"fix the cause, then run the recipe again with the same run id: step {path} runs "
            "again and the steps before it are replayed"
        )
        if code in LEFT_TO_OPERATOR:
            hint = (
                "the vendor may have acted already: check there, then `patchbay step retry "
                f"{result.key} --tenant {self.tenant_id}` runs it again, and running the recipe "
                "again with the same run id continues after it"
            )
        raise StepFailed(record, f"step {path} {result.status}: {code}: {message}", hint)

    def _note(self, record: StepRecord) -> None:
        self.steps.append(record)
        if self.on_step is not None:
            self.on_step(record)


def _handle_wait(handle: InvocationHandle, timeout: float) -> InvocationResult:
    return handle.wait(timeout)


def _since(clock: float | None) -> float:
    return 0.0 if clock is None else time.monotonic() - clock
