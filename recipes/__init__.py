"""Recipes: MSP workflows written as plain Python on the executor, resumable by run id.

The engine's side of patchbay in its smallest form. A recipe calls
``Executor.enqueue`` step by step with one ``run_id`` and a stable
``step_path`` per step, maps each output to the next inputs and branches on
outcomes (``recipes.runner``). Since each step's key comes from the run id
and its path, running a recipe again with the same run id replays the steps
that already ended from the ledger and continues where it stopped.

``RECIPES`` lists them by name (``patchbay recipe list``):

- ``disk-full`` (``recipes.disk_full``): disk-full self-heal on NinjaOne or
  Tactical RMM;
- ``huntress-incident`` (``recipes.huntress_incident``): Huntress incident
  response;
- ``escalation`` (``recipes.escalation``): escalation fan-out to the first
  free technician.
"""

from __future__ import annotations

from typing import Any

from recipes import disk_full, escalation, huntress_incident
from recipes.runner import (
    Recipe,
    RecipeFailed,
    RecipeInputError,
    RecipeRun,
    StepFailed,
    StepRecord,
)

__all__ = [
    "RECIPES",
    "Recipe",
    "RecipeFailed",
    "RecipeInputError",
    "RecipeRun",
    "StepFailed",
    "StepRecord",
]

RECIPES: dict[str, Recipe[Any]] = {
    r.name: r for r in (disk_full.RECIPE, huntress_incident.RECIPE, escalation.RECIPE)
}
"""Every recipe by name, in the order ``patchbay recipe list`` shows them."""
