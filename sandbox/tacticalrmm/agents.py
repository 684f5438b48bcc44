"""Clients, sites and agents; whether an agent is online; the agent routes that read.

- ``GET /clients/`` -> ``[{id, name, sites: [{id, name, client, client_name}],
  agent_count}]``.
- ``GET /agents/`` -> every agent as the dashboard table sees it (``status``,
  ``client_name``, ``site_name``); ``?client=``/``?site=`` filter by id.
- ``GET /agents/{agent_id}/`` (string id, 21+ characters or Django's 404):
  all fields plus ``status``, ``client`` (name), ``site_name``; unknown ->
  404 ``No Agent matches the given query.``.
- ``GET /agents/{agent_id}/history/`` -> the agent's history, oldest first
  *(choice)*: ``{id, time, type: script_run|cmd_run, command, username,
  script, script_name, results, script_results}``; ``script_results`` is
  null until the run finished.
- ``GET /beta/v1/agent/`` -> DRF page ``{count, next, previous, results}``:
  ``page`` (invalid -> 404 ``Invalid page.``), ``page_size`` (default 100,
  capped at 1000); filters ``hostname`` (exact), ``client_id`` (via the
  site), ``site``, ``plat``, ``search`` (hostname substring, any case
  *(choice)*), ``ordering=id|-id``; ``agent_id`` answers 500 as on the real
  server (filters in ``alga`` mode). Rows have no ``status``/``client_id``.
- ``GET /beta/v1/agent/{id}/``: integer pk only (a string -> 404 ``Not
  found.``; ``alga`` mode also takes the agent id); adds ``status``,
  ``checks``, ``serial_number``, ``local_ips``, ``make_model``.

Status: an online agent's ``last_seen`` is now; an offline one keeps the time
it went away and is ``offline``, then ``overdue`` after ``overdue_time``
minutes. :meth:`Agents.set_online` takes an agent away (optionally coming
back after ``back_after`` seconds of the fake's clock) or brings it back.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import httpx

from sandbox.core import SandboxRequest, json_response, route
from sandbox.tacticalrmm.api import NOT_FOUND_HTML, detail, html, iso, server_error
from sandbox.tacticalrmm.auth import Auth

__all__ = ["AGENT_ID_PATTERN", "Agent", "Agents"]

AGENT_ID_PATTERN = re.compile(r"^[^/]{20}[^/]+$")
PAGE_SIZE_DEFAULT = 100
PAGE_SIZE_MAX = 1000


@dataclass
class Agent:
    """One agent; ``online``/``back_at``/``last_seen`` say whether it can be reached."""

    pk: int
    agent_id: str
    hostname: str
    site: int
    plat: str
    operating_system: str
    online: bool
    last_seen: float
    back_at: float | None = None
    serial_number: str = ""
    public_ip: str = "203.0.113.10"
    offline_time: int = 4
    overdue_time: int = 30
    history: list[dict[str, Any]] = field(default_factory=list)


class Agents(Auth):
    """Clients, sites and agents, and the routes that read them."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._clients: dict[int, str] = {}
        self._sites: dict[int, tuple[int, str]] = {}
        self._agents: dict[int, Agent] = {}
        self._history_ids = 0

    def add_client(self, name: str) -> int:
        """A client (customer); its id."""
        with self._lock:
            client_id = len(self._clients) + 1
            self._clients[client_id] = name
            return client_id

    def add_site(self, client_id: int, name: str) -> int:
        """A site of a client; its id."""
        with self._lock:
            site_id = len(self._sites) + 1
            self._sites[site_id] = (client_id, name)
            return site_id

    def add_agent(
        self,
        hostname: str,
        site: int,
        *,
        agent_id: str | None = None,
        plat: str = "windows",
        operating_system: str = "Windows 11 Pro, 64 bit v23H2 (build 22631.3593)",
        online: bool = True,
        serial_number: str = "",
    ) -> Agent:
        """An agent at ``site``; its id defaults to a 40-character vendor-like id."""
        with self._lock:
            pk = len(self._agents) + 1
            agent_id = agent_id or f"{hostname.upper():A<20.20}{pk:020d}"
            if not AGENT_ID_PATTERN.match(agent_id):
                raise ValueError("Tactical agent ids have at least 21 characters and no '/'")
            agent = Agent(
                pk, agent_id, hostname, site, plat, operating_system, online, self.epoch()
            )
            agent.serial_number = serial_number
            self._agents[pk] = agent
            return agent

    def agent(self, agent_id: str) -> Agent | None:
        """The agent with that string id, or None."""
        with self._lock:
            return next((a for a in self._agents.values() if a.agent_id == agent_id), None)

    def set_online(self, agent_id: str, online: bool, *, back_after: float | None = None) -> None:
        """Take an agent offline (back after ``back_after`` s, if given) or bring it back."""
        with self._lock:
            agent = self.agent(agent_id)
            if agent is None:
                raise KeyError(agent_id)
            self._settle_agents()
            agent.online = online
            agent.last_seen = self.epoch()
            agent.back_at = None if online or back_after is None else self.now() + back_after

    def _settle_agents(self) -> None:
        now, epoch = self.now(), self.epoch()
        for agent in self._agents.values():
            if not agent.online and agent.back_at is not None and agent.back_at <= now:
                agent.online, agent.back_at = True, None
            if agent.online:
                agent.last_seen = epoch

    def status(self, agent: Agent) -> str:
        """``online``, ``offline`` or ``overdue``."""
        if agent.online:
            return "online"
        away = self.epoch() - agent.last_seen
        return "overdue" if away > agent.overdue_time * 60 else "offline"

    # -- views ------------------------------------------------------------------

    def _row(self, agent: Agent) -> dict[str, Any]:
        return {
            "id": agent.pk,
            "agent_id": agent.agent_id,
            "hostname": agent.hostname,
            "operating_system": agent.operating_system,
            "plat": agent.plat,
            "goarch": "amd64",
            "version": "2.8.0",
            "last_seen": iso(agent.last_seen),
            "site": agent.site,
            "offline_time": agent.offline_time,
            "overdue_time": agent.overdue_time,
            "public_ip": agent.public_ip,
            "monitoring_type": "workstation" if agent.plat != "linux" else "server",
            "needs_reboot": False,
            "logged_in_username": "None",
            "last_logged_in_user": "frontdesk",
        }

    def _named(self, agent: Agent) -> dict[str, Any]:
        client_id, site_name = self._sites[agent.site]
        return {"client": self._clients[client_id], "site_name": site_name}

    def _detail(self, agent: Agent) -> dict[str, Any]:
        return {
            **self._row(agent),
            "status": self.status(agent),
            "checks": {"total": 0, "passing": 0, "failing": 0, "warning": 0, "info": 0},
            "serial_number": agent.serial_number,
            "local_ips": "192.168.1.20",
            "make_model": "Dell Inc. OptiPlex 7090",
        }

    def _by_agent_id(self, req: SandboxRequest) -> Agent | httpx.Response:
        agent_id = req.path_params["agent_id"]
        if not AGENT_ID_PATTERN.match(agent_id):
            return html(404, NOT_FOUND_HTML)  # the URL converter does not match
        agent = self.agent(agent_id)
        if agent is None:
            return detail(404, "No Agent matches the given query.")
        return agent

    @route("GET", "/clients/")
    def list_clients(self, req: SandboxRequest) -> httpx.Response:
        """Clients with their sites."""
        answer = []
        for client_id, name in self._clients.items():
            sites = [
                {"id": sid, "name": sname, "client": cid, "client_name": name}
                for sid, (cid, sname) in self._sites.items()
                if cid == client_id
            ]
            count = sum(1 for a in self._agents.values() if self._sites[a.site][0] == client_id)
            answer.append({"id": client_id, "name": name, "sites": sites, "agent_count": count})
        return json_response(200, answer)

    @route("GET", "/agents/")
    def list_agents(self, req: SandboxRequest) -> httpx.Response:
        """The dashboard's agent table."""
        client, site = req.arg("client"), req.arg("site")
        rows = []
        for agent in self._agents.values():
            client_id, site_name = self._sites[agent.site]
            if client is not None and str(client_id) != client:
                continue
            if site is not None and str(agent.site) != site:
                continue
            rows.append(
                {
                    **self._row(agent),
                    "status": self.status(agent),
                    "client_name": self._clients[client_id],
                    "site_name": site_name,
                }
            )
        return json_response(200, rows)

    @route("GET", "/agents/{agent_id}/")
    def get_agent(self, req: SandboxRequest) -> httpx.Response:
        """Detail by the string agent id, with ``status``, ``client`` and ``site_name``."""
        agent = self._by_agent_id(req)
        if isinstance(agent, httpx.Response):
            return agent
        return json_response(
            200, {**self._row(agent), "status": self.status(agent), **self._named(agent)}
        )

    @route("GET", "/agents/{agent_id}/history/")
    def agent_history(self, req: SandboxRequest) -> httpx.Response:
        """The agent's script and command runs."""
        agent = self._by_agent_id(req)
        if isinstance(agent, httpx.Response):
            return agent
        return json_response(200, agent.history)

    @route("GET", "/beta/v1/agent/")
    def beta_list_agents(self, req: SandboxRequest) -> httpx.Response:
        """A DRF page of agents, filtered; rows without ``status`` or ``client_id``."""
        agents = list(self._agents.values())
        if req.arg("agent_id") is not None:
            if self.mode == "vendor":
                return server_error()  # the view looks up a pk it never got
            agents = [a for a in agents if a.agent_id == req.arg("agent_id")]
        for name, keep in (
            ("hostname", lambda a, v: a.hostname == v),
            ("client_id", lambda a, v: str(self._sites[a.site][0]) == v),
            ("site", lambda a, v: str(a.site) == v),
            ("plat", lambda a, v: a.plat == v),
            ("search", lambda a, v: v.lower() in a.hostname.lower()),
        ):
            value = req.arg(name)
            if value is not None:
                agents = [a for a in agents if keep(a, value)]
        agents.sort(key=lambda a: a.pk, reverse=req.arg("ordering") == "-id")
        size = _int(req.arg("page_size"), PAGE_SIZE_DEFAULT)
        size = min(size, PAGE_SIZE_MAX) if size > 0 else PAGE_SIZE_DEFAULT
        pages = max(1, -(-len(agents) // size))
        page = _int(req.arg("page") or "1", 0)
        if not 1 <= page <= pages:
            return detail(404, "Invalid page.")
        url = req.raw.url
        return json_response(
            200,
            {
                "count": len(agents),
                "next": _page_url(url, page + 1) if page < pages else None,
                "previous": _page_url(url, page - 1) if page > 1 else None,
                "results": [self._row(a) for a in agents[(page - 1) * size : page * size]],
            },
        )

    @route("GET", "/beta/v1/agent/{id}/")
    def beta_get_agent(self, req: SandboxRequest) -> httpx.Response:
        """Detail by the integer primary key (``alga`` mode: the agent id too)."""
        key = req.path_params["id"]
        agent = self._agents.get(int(key)) if key.isdigit() else None
        if agent is None and self.mode == "alga":
            agent = self.agent(key)
        if agent is None:
            return detail(404, "Not found.")
        return json_response(200, self._detail(agent))


def _int(value: str | None, default: int) -> int:
    try:
        return int(value) if value is not None else default
    except ValueError:
        return default


def _page_url(url: httpx.URL, page: int) -> str:
    """DRF's next/previous link: the same query with ``page`` replaced (dropped for page 1)."""
    query = [(k, v) for k, v in url.params.multi_items() if k != "page"]
    if page > 1:
        query.append(("page", str(page)))
    return str(url.copy_with(query=urlencode(query).encode() or None))
