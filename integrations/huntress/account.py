"""The Huntress account the tenant's key belongs to, its organizations and its agents."""

from __future__ import annotations

from actionkit.context import ActionContext
from catalog.rmm import integer_or_none, text_or_none
from integrations.huntress.connection import client_for
from integrations.huntress.models import (
    AccountInput,
    AgentInput,
    GetAccountOutput,
    GetAgentOutput,
    ListOrganizationsInput,
    ListOrganizationsOutput,
    WireOrganization,
    agent_of,
    organization_of,
)


def get_account(inp: AccountInput, ctx: ActionContext) -> GetAccountOutput:
    """The account's id, name and subdomain."""
    with client_for(ctx) as client:
        account = client.account()
    return GetAccountOutput(
        account_id=integer_or_none(account.id),
        name=text_or_none(account.name),
        subdomain=text_or_none(account.subdomain),
    )


def list_organizations(inp: ListOrganizationsInput, ctx: ActionContext) -> ListOrganizationsOutput:
    """The account's organizations whose name contains ``query`` (any case), in Huntress's order.

    Huntress's own ``name`` filter is an exact match, so the text is matched
    here: pages of 500 are read until ``limit`` organizations match.
    """
    needle = inp.query.casefold() if inp.query is not None else None

    def keep(org: WireOrganization) -> bool:
        name = text_or_none(org.name)
        return name is not None and needle is not None and needle in name.casefold()

    with client_for(ctx) as client:
        found = client.organizations(inp.limit, keep if needle is not None else None)
    organizations = [organization_of(o) for o in found]
    return ListOrganizationsOutput(organizations=organizations, count=len(organizations))


def get_agent(inp: AgentInput, ctx: ActionContext) -> GetAgentOutput:
    """One agent (the Huntress software on one host)."""
    with client_for(ctx) as client:
        agent = client.agent(inp.agent_id)
    return GetAgentOutput(agent=agent_of(agent))
