"""Microsoft Graph's front door: request ids, bearer-token checks and Graph's error shape.

The resources behind it are in :mod:`sandbox.microsoft.calendars`; the tokens
it checks are the identity platform's (:mod:`sandbox.microsoft.identity`).
Markers *(choice)* and *(observed)* as in :mod:`sandbox.microsoft`.

Graph (``/v1.0/...``; every call needs ``Authorization: Bearer <token>``)
----------------------------------------------------------------------
Errors are Graph's ODataError: ``{"error": {"code", "message", "innerError":
{"date", "request-id", "client-request-id"}}}``; every Graph answer carries
``request-id`` and ``client-request-id`` headers (the latter echoes the
request's header when sent), injected faults aside.

Authentication, in this order (401s carry ``WWW-Authenticate: Bearer ...``):

- no/empty bearer token: 401 ``InvalidAuthenticationToken`` "Access token is empty.";
- not JWT-shaped: 401 ``InvalidAuthenticationToken`` "IDX14100: JWT is not
  well formed, there are no dots (.)..." *(observed)*; JWT-shaped but not
  issued by this fake, or revoked (:meth:`FakeMicrosoft.revoke_token`): 401
  ``InvalidAuthenticationToken`` "Access token validation failure." *(choice)*;
- expired: 401 ``InvalidAuthenticationToken`` "Lifetime validation failed,
  the token is expired." *(observed)*;
- another resource's token (e.g. a Bot Framework one): 401
  ``InvalidAuthenticationToken`` "Access token validation failure. Invalid
  audience." *(observed)*;
- ``/v1.0/me/...``: 400 ``BadRequest`` "/me request is only valid with
  delegated authentication flow." (app-only tokens have no user).

Then, for every resource:

- body not a JSON object / not JSON (where one is expected): 400
  ``BadRequest`` ("Empty Payload. JSON content expected." / "Unable to read
  JSON request payload...");
- unknown route under ``/v1.0``: 400 ``BadRequest`` "Resource not found for
  the segment '<last segment>'."; known route, other method: 405
  ``BadRequest`` *(choice)*.

:func:`graph_fault` makes a :class:`~sandbox.core.Fault` that answers like
Graph throttling or in an outage.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import httpx

from sandbox.core import FakeVendor, Fault, SandboxRequest, json_response
from sandbox.microsoft.common import GRAPH_APP_ID, GRAPH_RESOURCE, LOGIN_HOST, IssuedToken

__all__ = ["GraphApi", "graph_fault"]


def graph_fault(
    status: int = 429,
    *,
    code: str | None = None,
    message: str | None = None,
    retry_after: int | None = None,
) -> Fault:
    """A :class:`~sandbox.core.Fault` answering like Graph under load or in an outage.

    429 defaults to ``ApplicationThrottled`` "Application is over its
    MailboxConcurrency limit." (what Outlook answers), 503 to
    ``ServiceUnavailable``, anything else to ``generalException``.
    ``retry_after`` sets the ``Retry-After`` header (seconds).
    """
    defaults = {
        429: ("ApplicationThrottled", "Application is over its MailboxConcurrency limit."),
        503: ("ServiceUnavailable", "The service is temporarily unavailable."),
        504: ("UnknownError", "The request timed out."),
    }
    default_code, default_message = defaults.get(
        status, ("generalException", "An unspecified error has occurred.")
    )
    body = {
        "error": {
            "code": code or default_code,
            "message": message or default_message,
            "innerError": {"request-id": str(uuid.uuid4())},
        }
    }
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
    return Fault(status=status, body=body, headers=headers)


class GraphApi(FakeVendor):
    """What every Graph call goes through under ``/v1.0``; its resources are subclasses.

    Graph trusts the tokens an identity platform issued: :meth:`token_info`
    is that platform's (:class:`~sandbox.microsoft.FakeMicrosoft` takes it
    from :class:`~sandbox.microsoft.identity.IdentityPlatform`).
    """

    def token_info(self, token: str) -> IssuedToken | None:
        """What the identity platform knows about ``token`` (None if it never issued it)."""
        raise NotImplementedError

    # -- request pipeline -------------------------------------------------------

    def dispatch(self, req: SandboxRequest) -> httpx.Response:
        """Paths outside ``/v1.0`` as they are; Graph calls get ids, authentication, routing."""
        if not (req.path == "/v1.0" or req.path.startswith("/v1.0/")):
            return super().dispatch(req)
        request_id = str(uuid.uuid4())
        req.context["request_id"] = request_id
        req.context["client_request_id"] = req.headers.get("client-request-id") or request_id
        response = self._authenticate(req)
        if response is None:
            if req.path == "/v1.0/me" or req.path.startswith("/v1.0/me/"):
                response = self._graph_error(
                    req,
                    400,
                    "BadRequest",
                    "/me request is only valid with delegated authentication flow.",
                )
            else:
                response = super().dispatch(req)
        response.headers["request-id"] = request_id
        response.headers["client-request-id"] = req.context["client_request_id"]
        return response

    def not_found(self, req: SandboxRequest) -> httpx.Response:
        """Unknown path: Graph's "Resource not found for the segment" under ``/v1.0``."""
        if req.path.startswith("/v1.0/"):
            segment = req.path.rstrip("/").rsplit("/", 1)[-1]
            return self._graph_error(
                req, 400, "BadRequest", f"Resource not found for the segment '{segment}'."
            )
        return super().not_found(req)

    def method_not_allowed(self, req: SandboxRequest, allowed: list[str]) -> httpx.Response:
        """Known path, other method: 405 on Graph."""
        if req.path.startswith("/v1.0/"):
            response = self._graph_error(
                req,
                405,
                "BadRequest",
                f"Http method '{req.method}' is not allowed on this resource.",
            )
            response.headers["Allow"] = ", ".join(allowed)
            return response
        return super().method_not_allowed(req, allowed)

    # -- Graph: errors and auth ---------------------------------------------------------

    def _graph_error(
        self,
        req: SandboxRequest,
        status: int,
        code: str,
        message: str,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        request_id = req.context.get("request_id") or str(uuid.uuid4())
        date = datetime.fromtimestamp(self.epoch(), UTC).strftime("%Y-%m-%dT%H:%M:%S")
        body = {
            "error": {
                "code": code,
                "message": message,
                "innerError": {
                    "date": date,
                    "request-id": request_id,
                    "client-request-id": req.context.get("client_request_id", request_id),
                },
            }
        }
        return json_response(status, body, headers=headers)

    def _unauthorized(self, req: SandboxRequest, message: str) -> httpx.Response:
        challenge = (
            'Bearer realm="", authorization_uri="'
            f'{LOGIN_HOST}/common/oauth2/authorize", client_id="{GRAPH_APP_ID}"'
        )
        return self._graph_error(
            req,
            401,
            "InvalidAuthenticationToken",
            message,
            headers={"WWW-Authenticate": challenge},
        )

    def _authenticate(self, req: SandboxRequest) -> httpx.Response | None:
        scheme, _, value = req.headers.get("authorization", "").strip().partition(" ")
        token = value.strip()
        if scheme.lower() != "bearer" or not token:
            return self._unauthorized(req, "Access token is empty.")
        if "." not in token:
            return self._unauthorized(
                req,
                "IDX14100: JWT is not well formed, there are no dots (.).\nThe token needs to be "
                "in JWS or JWE Compact Serialization Format. (JWS): "
                "'EncodedHeader.EndcodedPayload.EncodedSignature'. (JWE): "
                "'EncodedProtectedHeader.EncodedEncryptedKey.EncodedInitializationVector."
                "EncodedCiphertext.EncodedAuthenticationTag'.",
            )
        issued = self.token_info(token)
        if issued is None or issued.revoked:
            return self._unauthorized(req, "Access token validation failure.")
        if self.clock() >= issued.expires_at:
            return self._unauthorized(req, "Lifetime validation failed, the token is expired.")
        if issued.resource != GRAPH_RESOURCE:
            return self._unauthorized(req, "Access token validation failure. Invalid audience.")
        req.context["token"] = issued
        return None

    def _json_object(self, req: SandboxRequest) -> dict[str, Any] | httpx.Response:
        if not req.content.strip():
            return self._graph_error(
                req, 400, "BadRequest", "Empty Payload. JSON content expected."
            )
        if not req.is_json or not isinstance(req.body, dict):
            return self._graph_error(
                req,
                400,
                "BadRequest",
                "Unable to read JSON request payload. Please ensure Content-Type header is set "
                "and payload is of valid JSON format.",
            )
        return req.body
