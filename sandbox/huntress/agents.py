"""Agents: the Huntress agent installed on each host of an organization.

- ``GET /v1/agents`` -> ``{"agents": [...], "pagination"}``; the spec's
  params: paging (``sort_field`` ``id|created_at|updated_at``), and the
  filters ``organization_id``, ``platform`` (``windows|darwin|linux``; any
  other value -> 400), ``hostname``, ``os``, ``version`` (exact match
  *(choice)*).
- ``GET /v1/agents/{id}`` -> ``{"agent": {...}}``; unknown or another
  account's -> 404.
- Fields: every property of the spec's ``Agent``. ``edr_version`` and the
  ``tamper_protection_*`` pair are null when their descriptions say so
  (EDR not installed; tamper protection unsupported or not yet reported);
  the Windows-only numbers (``service_pack_*``, ``win_build_number``,
  ``version_number``) are 0 on other platforms *(choice)*.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import httpx

from sandbox.core import SandboxRequest, json_response, route
from sandbox.huntress.api import NOT_FOUND, PAGING_PARAMS, ApiError, Param, iso
from sandbox.huntress.organizations import Organizations

__all__ = ["AGENT_PARAMS", "AGENT_PLATFORMS", "Agent", "Agents"]

AGENT_PLATFORMS = ("windows", "darwin", "linux")
AGENT_PARAMS: tuple[Param, ...] = (
    *PAGING_PARAMS,
    Param("organization_id", "integer"),
    Param("platform", values=AGENT_PLATFORMS),
    Param("hostname"),
    Param("os"),
    Param("version"),
)
"""The query parameters ``GET /v1/agents`` takes, as the spec declares them."""


@dataclass
class Agent:
    """An agent on one host; times are epoch seconds."""

    id: int
    account_id: int
    organization_id: int
    hostname: str
    platform: str
    os: str
    version: str
    created_at: float
    updated_at: float
    last_callback_at: float
    ipv4_address: str
    external_ip: str
    serial_number: str
    tags: list[str] = field(default_factory=list)
    edr_version: str | None = "0.3.20"
    arch: str = "x86_64"
    domain_name: str = "WORKGROUP"
    os_build_version: str = ""
    defender_status: str = "Healthy"
    defender_substatus: str = "Up to date"
    defender_policy_status: str = "Compliant"
    firewall_status: str = "Disabled"
    tamper_protection: bool | None = True


class Agents(Organizations):
    """Agents and their two routes."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._agents: dict[int, Agent] = {}

    def add_agent(
        self,
        organization_id: int,
        hostname: str,
        *,
        platform: str = "windows",
        os: str | None = None,
        version: str = "0.14.28",
        ipv4_address: str = "10.0.0.10",
        external_ip: str = "198.51.100.42",
        serial_number: str | None = None,
        tags: list[str] | None = None,
        created_ago: float = 86_400.0 * 20,
        last_callback_ago: float = 120.0,
        edr_version: str | None = "0.3.20",
        os_build_version: str = "",
    ) -> Agent:
        """A new agent in ``organization_id`` (of that organization's account)."""
        if platform not in AGENT_PLATFORMS:
            raise ValueError(f"platform is one of {AGENT_PLATFORMS}")
        default_os = {
            "windows": "Windows 11 Pro",
            "darwin": "macOS 14.4.1",
            "linux": "Ubuntu 22.04.4 LTS",
        }
        with self._lock:
            org = self.organization(organization_id)
            created = self.epoch_ago(created_ago)
            agent_id = self._new_id("agent", 301)
            agent = Agent(
                agent_id,
                org.account_id,
                org.id,
                hostname,
                platform,
                os or default_os[platform],
                version,
                created,
                created,
                self.epoch_ago(last_callback_ago),
                ipv4_address,
                external_ip,
                serial_number or hashlib.sha1(hostname.encode()).hexdigest()[:10].upper(),  # noqa: S324
                tags=list(tags or []),
                edr_version=edr_version,
                arch="arm64" if platform == "darwin" else "x86_64",
                os_build_version=os_build_version,
                tamper_protection=True if platform == "windows" else None,
            )
            self._agents[agent.id] = agent
            return agent

    def agent(self, agent_id: int) -> Agent:
        """An agent by id (KeyError when unknown)."""
        with self._lock:
            return self._agents[agent_id]

    def agents_count(self, organization_id: int) -> int:
        """How many agents the organization has."""
        return sum(1 for a in self._agents.values() if a.organization_id == organization_id)

    @staticmethod
    def agent_view(agent: Agent) -> dict[str, Any]:
        """The spec's ``Agent``: every property it declares."""
        windows = agent.platform == "windows"
        return {
            "id": agent.id,
            "account_id": agent.account_id,
            "organization_id": agent.organization_id,
            "hostname": agent.hostname,
            "platform": agent.platform,
            "os": agent.os,
            "os_build_version": agent.os_build_version,
            "os_major": 10 if windows else 14 if agent.platform == "darwin" else 22,
            "os_minor": 0 if windows else 4,
            "os_patch": 1 if agent.platform == "darwin" else 0,
            "version": agent.version,
            "version_number": 720899 if windows else 0,
            "edr_version": agent.edr_version,
            "arch": agent.arch,
            "domain_name": agent.domain_name,
            "ipv4_address": agent.ipv4_address,
            "external_ip": agent.external_ip,
            "mac_addresses": [_mac(agent.id)],
            "serial_number": agent.serial_number,
            "tags": list(agent.tags),
            "defender_status": agent.defender_status,
            "defender_substatus": agent.defender_substatus,
            "defender_policy_status": agent.defender_policy_status,
            "firewall_status": agent.firewall_status,
            "tamper_protection_configured": agent.tamper_protection,
            "tamper_protection_actual": agent.tamper_protection,
            "service_pack_major": 0,
            "service_pack_minor": 0,
            "win_build_number": int(agent.os_build_version or 0) if windows else 0,
            "last_callback_at": iso(agent.last_callback_at),
            "last_survey_at": iso(agent.last_callback_at) if windows else None,
            "created_at": iso(agent.created_at),
            "updated_at": iso(agent.updated_at),
        }

    # -- routes -------------------------------------------------------------------

    @route("GET", "/v1/agents")
    def list_agents(self, req: SandboxRequest) -> httpx.Response:
        """The account's agents, filtered, one page."""
        args = self.query(req, AGENT_PARAMS)
        account_id = self.caller(req).account_id
        filters = {k: args[k] for k in ("organization_id", "platform", "hostname", "os", "version")}
        found = [
            a
            for a in self._agents.values()
            if a.account_id == account_id
            and all(v is None or getattr(a, k) == v for k, v in filters.items())
        ]
        return self.page(
            req,
            "agents",
            found,
            args,
            key=lambda a, f: getattr(a, f),
            item_id=lambda a: a.id,
            view=self.agent_view,
        )

    @route("GET", "/v1/agents/{id}")
    def get_agent(self, req: SandboxRequest) -> httpx.Response:
        """One agent of the account."""
        agent = self._agents.get(self.path_id(req))
        if agent is None or agent.account_id != self.caller(req).account_id:
            raise ApiError(404, NOT_FOUND)
        return json_response(200, {"agent": self.agent_view(agent)})


def _mac(agent_id: int) -> str:
    return "7c:a7:b0:" + ":".join(f"{(agent_id >> s) & 0xFF:02x}" for s in (16, 8, 0))
