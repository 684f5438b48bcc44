"""The error shape NinjaOne's API answers share, and the base of the API's parts.

Errors other than the OAuth ones (:mod:`sandbox.ninjaone.oauth`) and the
refused script run without user context (:mod:`sandbox.ninjaone.scripting`):
``{"resultCode": <code>, "errorMessage": <text>, "incidentId": "WEB-<n>"}``:
400 ``FAILURE`` (validation), 404 ``NOT_FOUND`` (device, script, alert).
Unknown routes: 404 / 405 with ``resultCode: FAILURE`` and ``errorMessage:
"HTTP 404 Not Found"`` / ``"HTTP 405 Method Not Allowed"``.
"""

from __future__ import annotations

from typing import Any

import httpx

from sandbox.core import FakeVendor, SandboxRequest, json_response

__all__ = ["NinjaOneApi"]


class NinjaOneApi(FakeVendor):
    """NinjaOne's error answers; every part of :class:`~sandbox.ninjaone.FakeNinjaOne` has them."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._incidents = 0

    # -- errors ---------------------------------------------------------------

    def _api_error(self, status: int, code: str, message: str) -> httpx.Response:
        self._incidents += 1
        return json_response(
            status,
            {"resultCode": code, "errorMessage": message, "incidentId": f"WEB-{self._incidents}"},
        )

    def _bad_request(self, message: str) -> httpx.Response:
        return self._api_error(400, "FAILURE", message)

    def _not_found(self, message: str) -> httpx.Response:
        return self._api_error(404, "NOT_FOUND", message)

    def not_found(self, req: SandboxRequest) -> httpx.Response:
        """Unknown route, as NinjaOne's generic 404."""
        return self._api_error(404, "FAILURE", "HTTP 404 Not Found")

    def method_not_allowed(self, req: SandboxRequest, allowed: list[str]) -> httpx.Response:
        """Known route, wrong method."""
        response = self._api_error(405, "FAILURE", "HTTP 405 Method Not Allowed")
        response.headers["Allow"] = ", ".join(allowed)
        return response
