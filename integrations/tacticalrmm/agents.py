"""Tactical RMM agents: find (local mirror or live) and get (live, by the string agent id)."""

from __future__ import annotations

import uuid

from actionkit.context import ActionContext
from actionkit.errors import NotFound
from catalog import rmm
from integrations.tacticalrmm.client import MAX_PAGE_SIZE, TacticalRmmClient
from integrations.tacticalrmm.connection import PROVIDER, client_for
from integrations.tacticalrmm.models import (
    Agent,
    FindAgentsInput,
    FindAgentsOutput,
    GetAgentInput,
    GetAgentOutput,
    WireAgent,
    instant,
    online,
    text,
)
from store.models import Asset


def _local_agent(asset: Asset) -> Agent:
    attrs = asset.attributes or {}
    return Agent(
        agent_id=str(asset.rmm_device_id),
        asset_id=asset.asset_id,
        hostname=text(attrs.get("hostname")) or asset.name,
        organization_id=asset.rmm_organization_id,
        client_name=text(attrs.get("client_name")),
        site_name=text(attrs.get("site_name")),
        agent_online=online(asset.agent_status),
        last_seen_at=asset.last_seen_at,
        os_name=text(attrs.get("os_name")),
        source="local",
    )


def _live_agent(agent: WireAgent, asset_id: uuid.UUID | None) -> Agent:
    client_id = agent.client_id
    has_client_id = isinstance(client_id, (int, str)) and not isinstance(client_id, bool)
    return Agent(
        agent_id=str(agent.agent_id),
        asset_id=asset_id,
        hostname=text(agent.hostname) or text(agent.name) or text(agent.computer_name),
        organization_id=str(client_id) if has_client_id else None,
        client_name=text(agent.client) or text(agent.client_name),
        site_name=text(agent.site_name),
        agent_online=online(agent.status if agent.status is not None else agent.agent_status),
        last_seen_at=instant(agent.last_seen),
        os_name=text(agent.operating_system) or text(agent.os_type),
        source="tacticalrmm",
    )


def _live_rows(ctx: ActionContext, agents: list[WireAgent]) -> list[Agent]:
    ids = [str(a.agent_id) for a in agents]
    assets = rmm.asset_ids(ctx, PROVIDER, ids)
    return [_live_agent(a, assets.get(str(a.agent_id))) for a in agents]


def _one_agent(client: TacticalRmmClient, agent_id: str) -> list[WireAgent]:
    try:
        return [client.get_agent(agent_id)]
    except NotFound:
        return []  # a search that finds nothing, not a failed step


def _find_live(inp: FindAgentsInput, ctx: ActionContext) -> list[Agent]:
    agent_id = inp.agent_id
    if inp.asset_id is not None:
        mirrored = rmm.mirrored_device_id(ctx, PROVIDER, inp.asset_id)
        if mirrored is None or (agent_id is not None and mirrored != agent_id):
            return []  # an asset that mirrors no (or another) agent matches nothing
        agent_id = mirrored
    with client_for(ctx) as client:
        if agent_id is not None:
            found = _one_agent(client, agent_id)
            if inp.query is not None:
                found = [a for a in found if text(a.hostname) == inp.query]
        else:
            found = []
            # A page of `limit` rows is usually the only one; stop as soon as enough came.
            for agent in client.iter_agents(
                page_size=min(inp.limit, MAX_PAGE_SIZE), hostname=inp.query
            ):
                found.append(agent)
                if len(found) >= inp.limit:
                    break
    return _live_rows(ctx, found[: inp.limit])


def find_agents(inp: FindAgentsInput, ctx: ActionContext) -> FindAgentsOutput:
    """Agents from the local mirror, or from Tactical RMM with ``live`` (at most ``limit``)."""
    if inp.live:
        agents = _find_live(inp, ctx)
    else:
        query = rmm.search_mirrored_assets(
            ctx.tenant_id,
            PROVIDER,
            device_id=inp.agent_id,
            asset_id=inp.asset_id,
            query=inp.query,
            limit=inp.limit,
        )
        with ctx.session() as session:
            agents = [_local_agent(a) for a in session.scalars(query)]
    return FindAgentsOutput(agents=agents, count=len(agents))


def get_agent(inp: GetAgentInput, ctx: ActionContext) -> GetAgentOutput:
    """``GET /agents/{agent_id}/``: the agent with its status and client, now."""
    with client_for(ctx) as client:
        try:
            found = client.get_agent(inp.agent_id)
        except NotFound as exc:
            raise NotFound(
                f"Tactical RMM has no agent {inp.agent_id!r} ({exc.message})",
                vendor=exc.vendor,
                details={"agent_id": inp.agent_id},
            ) from None
    [agent] = _live_rows(ctx, [found])
    return GetAgentOutput(agent=agent)
