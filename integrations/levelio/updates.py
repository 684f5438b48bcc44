"""Level updates (patches): ``GET /v2/updates``, filtered by device and status."""

from __future__ import annotations

from actionkit.context import ActionContext
from integrations.levelio.client import UPDATES_PATH
from integrations.levelio.connection import client_for
from integrations.levelio.models import ListUpdatesInput, ListUpdatesOutput, update_from


def list_updates(inp: ListUpdatesInput, ctx: ActionContext) -> ListUpdatesOutput:
    """Updates of the tenant's devices (or one device), ``available`` or ``installed``."""
    with client_for(ctx) as client:
        items = client.collect(
            UPDATES_PATH,
            limit=inp.limit,
            params={"device_id": inp.device_id, "status": inp.status},
        )
    updates = [update_from(item) for item in items]
    return ListUpdatesOutput(updates=updates, count=len(updates))
