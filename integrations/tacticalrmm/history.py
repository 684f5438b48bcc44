"""An agent's history (``GET /agents/{agent_id}/history/``): where a started script's output lands.

Tactical RMM records every script run as a history entry before it sends the
run to the agent (``type: "script_run"``, ``script``: the script's id,
``script_results``: null until the agent reports ``{stdout, stderr, retcode,
execution_time}``). A run started without waiting answers only "<script>
will now be run on <host>", with no id; the entry that belongs to it is the
first ``script_run`` of that script with an id above the newest one seen just
before the run was sent. Two runs of one script on one agent started at the
same moment cannot be told apart this way; each would take the first result.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from pydantic import ValidationError

from actionkit.errors import VendorDetail, VendorError
from integrations.tacticalrmm.client import TacticalRmmClient
from integrations.tacticalrmm.models import WireHistoryEntry, integer

SCRIPT_RUN = "script_run"


def agent_history(client: TacticalRmmClient, agent_id: str) -> list[WireHistoryEntry]:
    """The agent's history entries (any order); entries that are not objects are skipped."""
    path = f"/agents/{quote(agent_id, safe='')}/history/"
    data = client.get_json(path)
    if isinstance(data, dict) and isinstance(data.get("results"), list):
        data = data["results"]  # a paged answer
    if not isinstance(data, list):
        raise VendorError(
            f"Tactical RMM answered {path} with an unexpected history",
            vendor=VendorDetail(200, "unexpected response body"),
        )
    entries: list[WireHistoryEntry] = []
    for item in data:
        try:
            entries.append(WireHistoryEntry.model_validate(item))
        except ValidationError:
            continue
    return entries


def newest_id(entries: list[WireHistoryEntry]) -> int:
    """The highest entry id (0 for an empty history)."""
    return max((i for e in entries if (i := integer(e.id)) is not None), default=0)


def script_run_after(
    entries: list[WireHistoryEntry], script_id: int, after: int
) -> WireHistoryEntry | None:
    """The first run of ``script_id`` recorded after entry ``after``, or None."""
    runs = [
        e
        for e in entries
        if e.type == SCRIPT_RUN and integer(e.script) == script_id and (integer(e.id) or 0) > after
    ]
    return min(runs, key=lambda e: integer(e.id) or 0, default=None)


def results_of(entry: WireHistoryEntry) -> dict[str, Any] | None:
    """The run's results once the agent reported them, else None."""
    results = entry.script_results
    return results if isinstance(results, dict) and results else None


def output_of_results(results: dict[str, Any]) -> str:
    """What the script printed: stdout, then stderr on a line of its own when there is any."""
    parts = [results.get(k) for k in ("stdout", "stderr")]
    return "\n".join(p for p in parts if isinstance(p, str) and p)
