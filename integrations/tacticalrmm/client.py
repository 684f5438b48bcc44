"""TacticalRmmClient: the REST API of one self-hosted Tactical RMM instance (its ``api.`` host).

Paths are root-relative on the instance's ``api.`` host (``/agents/...``,
``/scripts/``, ``/beta/v1/...``): vendors.md §1 "Base URL". The ``rmm.``
dashboard host answers every path with the SPA's HTML and status 200, so a
body that is not JSON is reported as "is this the api. host?", never parsed.

Two ways to authenticate, as the server's own authentication classes:

- an API key (``api_key=``): every request carries ``X-API-KEY``; a 401 is
  not retried (a key does not refresh);
- Knox (``knox=``, a :class:`KnoxTokenSource`): every request carries
  ``Authorization: Token <token>``; a 401 gets the source one refresh and
  the request one retry (``VendorClient.request``), which is safe even for a
  run on an agent: a 401 means the server did nothing. The source logs in
  with :meth:`TacticalRmmClient.check_credentials` (``/v2/checkcreds/``,
  sent without credentials: an invalid Token header gets 401 even there).

Errors go through the shared ladder (``actionkit/http.py``), which reads
DRF's ``{"detail": ...}`` and bare JSON string bodies as the vendor message;
credentials are headers or a login body, never part of a URL or message,
and the executor redacts every secret read through the action context from
whatever a step records.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, Protocol, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ConfigDict, SecretStr, ValidationError

from actionkit.context import RequestGate
from actionkit.errors import (
    ActionError,
    ActionFailure,
    IntegrationMisconfigured,
    NotFound,
    TransientFailure,
    VendorDetail,
    VendorError,
)
from actionkit.http import VendorClient, instance_root, vendor_message
from actionkit.outbound import OutboundPolicy, redact_url
from integrations.tacticalrmm.models import WireAgent, WireAgentPage, WireScript

API_KEY_HEADER = "X-API-KEY"
CHECKCREDS_PATH = "/v2/checkcreds/"
BETA_AGENTS_PATH = "/beta/v1/agent/"
SCRIPTS_PATH = "/scripts/"
CLIENTS_PATH = "/clients/"
# The beta list's own cap (vendor source: max_page_size 1000).
MAX_PAGE_SIZE = 1000
# What the server answers when NATS could not reach the agent (cmd's timeout, reboot).
UNREACHABLE = "Unable to contact the agent"

_M = TypeVar("_M", bound=BaseModel)


def normalize_instance_url(raw: str | None) -> str:
    """The instance root, as vendors.md says: trimmed, https by default, no trailing ``/``.

    A trailing ``/api`` is dropped (paths are root-relative on the
    ``api.`` host). Tactical is self-hosted: there is no default instance.
    """
    text = (raw or "").strip()
    if not text:
        raise IntegrationMisconfigured(
            "Tactical RMM integration has no instance URL configured; reconnect with "
            "--url https://api.<your-domain>",
            details={"instance_url": None},
        )
    return instance_root(
        text, vendor="Tactical RMM", example="https://api.<your-domain>", strip_suffixes=("/api",)
    )


class AgentUnreachable(ActionError):
    """The agent did not answer Tactical RMM: offline, or cut off from its NATS server.

    Not retryable: the run may have reached an agent that was merely slow,
    and repeating it could run it twice.
    """

    default_code = "AGENT_OFFLINE"


class CredentialsRefused(IntegrationMisconfigured):
    """``/v2/checkcreds/`` answered 400 ``"Bad credentials"``: wrong user name or password."""


class WireCheckCreds(BaseModel):
    """``POST /v2/checkcreds/``'s 200 answer: ``{"totp": true}``, or a Knox token.

    A non-TOTP account gets ``{"expiry", "token", "totp": false}``: a real
    Knox token (180 s, extended to Knox's TTL on use).
    """

    model_config = ConfigDict(extra="ignore")

    totp: bool = False
    token: SecretStr | None = None


class KnoxTokenSource(Protocol):
    """Where a Knox-mode client gets its token (``integrations.tacticalrmm.knox``)."""

    def token(self, client: TacticalRmmClient) -> str:
        """The token to send, logging in first when there is none."""
        ...

    def refresh(self, client: TacticalRmmClient, rejected: str | None) -> str:
        """A token other than ``rejected`` (the one the server just refused with 401)."""
        ...


def _is_html(response: httpx.Response) -> bool:
    return "html" in response.headers.get("content-type", "").lower()


def _body(response: httpx.Response) -> Any:
    try:
        return response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None


class TacticalRmmClient(VendorClient):
    """One Tactical RMM instance, authenticated with an API key or Knox tokens (exactly one)."""

    vendor = "Tactical RMM"
    throttle_key = "tacticalrmm"

    def __init__(
        self,
        instance_url: str | None,
        *,
        policy: OutboundPolicy,
        api_key: SecretStr | None = None,
        knox: KnoxTokenSource | None = None,
        transport: httpx.BaseTransport | None = None,
        gate: RequestGate | None = None,
        timeout: float = 30.0,
    ) -> None:
        if (api_key is None) == (knox is None):
            raise TypeError("TacticalRmmClient takes exactly one of api_key= and knox=")
        super().__init__(
            normalize_instance_url(instance_url),
            policy=policy,
            transport=transport,
            gate=gate,
            timeout=timeout,
        )
        self._api_key = api_key
        self._knox = knox
        self._token_in_use: str | None = None

    def __repr__(self) -> str:
        return f"TacticalRmmClient(base_url={redact_url(self.base_url)!r})"

    # -- auth -----------------------------------------------------------------------

    def auth_headers(self) -> dict[str, str]:
        if self._knox is not None:
            self._token_in_use = self._knox.token(self)
            return {"Authorization": f"Token {self._token_in_use}"}
        assert self._api_key is not None
        return {API_KEY_HEADER: self._api_key.get_secret_value()}

    def on_unauthorized(self, response: httpx.Response) -> bool:
        """Knox: refresh once and repeat the request once (an API key is not refreshed)."""
        if self._knox is None:
            return False
        self._knox.refresh(self, rejected=self._token_in_use)
        return True

    def check_credentials(self, username: str, password: str) -> WireCheckCreds:
        """``POST /v2/checkcreds/``: a Knox token for a non-TOTP account, or ``totp: true``.

        Sent without credentials (an invalid ``Authorization: Token`` header
        gets 401 even on this view) and not "mutating" for the gate: it changes
        nothing a step could repeat by accident. Never ``/v2/login/``: without
        a TOTP code that answers 500 on a real server. Wrong credentials are
        :class:`CredentialsRefused`; other errors go through the ladder (a
        429: the vendor allows 10 a minute).
        """
        response = self.send(
            "POST",
            CHECKCREDS_PATH,
            json={"username": username, "password": password},
            mutating=False,
            authenticated=False,
        )
        if response.status_code == 400 and not _is_html(response):
            said = vendor_message(response)
            raise CredentialsRefused(
                f"Tactical RMM refused the Knox login user name and password (400: {said})",
                vendor=VendorDetail(400, said),
            )
        if response.is_error:
            raise self.error_for(response)
        return self._model(WireCheckCreds, self._json(response), CHECKCREDS_PATH, "answer")

    def error_for(self, response: httpx.Response, *, mutating: bool = False) -> ActionFailure:
        """The base ladder, except for Django's HTML 404 (no route matched the path).

        DRF answers a missing object with JSON ``{"detail": ...}``; Django answers
        a path no view serves with an HTML page: under ``/beta/`` that means the
        beta API is off, elsewhere an id the URL pattern refuses (agent ids have
        21 or more characters).
        """
        if response.status_code == 400 and _body(response) == UNREACHABLE:
            return AgentUnreachable(
                f"Tactical RMM could not contact the agent ({response.request.url.path})",
                vendor=VendorDetail(400, UNREACHABLE),
            )
        if response.status_code != 404 or not _is_html(response):
            return super().error_for(response, mutating=mutating)
        path = response.request.url.path
        if path.startswith("/beta/"):
            reason = "the beta API is off on this server"
            return IntegrationMisconfigured(
                f"Tactical RMM returned 404 for {path}: {reason}; set BETA_API_ENABLED = True "
                "in the server's local_settings.py",
                vendor=VendorDetail(404, reason),
            )
        return NotFound(
            f"Tactical RMM returned 404 for {path}: no route matches it",
            vendor=VendorDetail(404, "no route matches the path"),
        )

    # -- decoding -------------------------------------------------------------------

    def _json(self, response: httpx.Response) -> Any:
        if _is_html(response) or not response.content:
            raise VendorError(
                f"Tactical RMM at {redact_url(self.base_url)} answered "
                f"{response.request.url.path} with HTML, not JSON: --url must be the "
                "instance's api. host, not the rmm. dashboard",
                vendor=VendorDetail(response.status_code, "HTML instead of JSON"),
            )
        try:
            return response.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise VendorError(
                f"Tactical RMM answered {response.request.url.path} with a body that is not JSON",
                vendor=VendorDetail(response.status_code, "unexpected response body"),
            ) from None

    def get_json(self, path: str, **params: Any) -> Any:
        """``GET path`` and its decoded JSON body."""
        return self._json(self.request("GET", path, params=params))

    def _model(self, model: type[_M], data: Any, path: str, what: str) -> _M:
        try:
            return model.model_validate(data)
        except ValidationError:
            raise VendorError(
                f"Tactical RMM answered {path} with an unexpected {what}",
                vendor=VendorDetail(200, "unexpected response body"),
            ) from None

    # -- agents ---------------------------------------------------------------------

    def get_agent(self, agent_id: str) -> WireAgent:
        """``GET /agents/{agent_id}/``: by the string agent id, with ``status`` and ``client``.

        Not the beta detail route: that one takes the integer primary key and
        answers 404 for an agent id (vendors.md §1, disagreement 1).
        """
        path = f"/agents/{quote(agent_id, safe='')}/"
        data = self.get_json(path)
        if not isinstance(data, dict):
            raise VendorError(
                f"Tactical RMM agent {agent_id} returned an unexpected response",
                vendor=VendorDetail(200, "unexpected response body"),
            )
        return self._model(WireAgent, data, path, "agent")

    def list_agents_page(
        self, *, page: int, page_size: int, hostname: str | None = None
    ) -> WireAgentPage:
        """One DRF page of ``GET /beta/v1/agent/`` (``hostname`` is an exact match)."""
        data = self.get_json(BETA_AGENTS_PATH, hostname=hostname, page=page, page_size=page_size)
        if isinstance(data, list):  # an unpaged answer is the whole list
            data = {"results": data, "next": None}
        return self._model(WireAgentPage, data, BETA_AGENTS_PATH, "agent page")

    def iter_agents(self, *, page_size: int, hostname: str | None = None) -> Iterator[WireAgent]:
        """Every agent, page by page while the vendor names a next page; stop iterating to stop."""
        page = 1
        while True:
            found = self.list_agents_page(page=page, page_size=page_size, hostname=hostname)
            yield from found.results
            if not found.next or not found.results:
                return
            page += 1

    # -- scripts and clients ------------------------------------------------------------

    def list_scripts(self) -> list[WireScript]:
        """``GET /scripts/``; a body that is not a list is no scripts (as the reference)."""
        data = self.get_json(SCRIPTS_PATH)
        if not isinstance(data, list):
            return []
        return [WireScript.model_validate(item) for item in data if isinstance(item, dict)]

    def list_clients(self) -> list[Any]:
        """``GET /clients/``: the connection check's read (one small list)."""
        data = self.get_json(CLIENTS_PATH)
        if not isinstance(data, list):
            raise VendorError(
                f"Tactical RMM answered {CLIENTS_PATH} with an unexpected client list",
                vendor=VendorDetail(200, "unexpected response body"),
            )
        return data

    # -- running things on agents ------------------------------------------------------

    def _agent_run(self, agent_id: str, action: str, body: dict[str, Any] | None) -> Any:
        """``POST /agents/{agent_id}/{action}/`` and its decoded answer.

        The server answers a wait it gave up on, or a NATS outage, with 200 and
        the bare string ``"timeout"`` or ``"natsdown"``: neither is a success.
        ``natsdown`` means nothing left the server, so it is retryable.
        """
        path = f"/agents/{quote(agent_id, safe='')}/{action}/"
        data = self._json(self.request("POST", path, json=body))
        if data == "timeout":
            raise AgentUnreachable(
                f"Tactical RMM got no answer from agent {agent_id} in time ({path})",
                vendor=VendorDetail(200, "timeout"),
            )
        if data == "natsdown":
            raise TransientFailure(
                "Tactical RMM's NATS server is down, so the request did not reach the agent",
                vendor=VendorDetail(200, "natsdown"),
                outcome_known=True,
            )
        return data

    def run_script(self, agent_id: str, body: dict[str, Any]) -> Any:
        """``POST /agents/{agent_id}/runscript/``: the output (waited) or the started notice."""
        return self._agent_run(agent_id, "runscript", body)

    def run_command(self, agent_id: str, body: dict[str, Any]) -> Any:
        """``POST /agents/{agent_id}/cmd/``: the command's output."""
        return self._agent_run(agent_id, "cmd", body)

    def reboot(self, agent_id: str) -> None:
        """``POST /agents/{agent_id}/reboot/`` (no body; the ``"ok"`` answer is not needed)."""
        self.request("POST", f"/agents/{quote(agent_id, safe='')}/reboot/")
