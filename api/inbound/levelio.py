"""``POST /inbound/levelio/{tenant}/webhooks``: Level's webhooks, verified and applied once.

The raw body and headers go to the same receiver ``patchbay levelio ingest``
uses (``integrations.levelio.webhooks.receive``): the tenant's Level
connection and webhook secret, the ``X-Level-Signature`` HMAC over the raw
body, the event's shape and freshness, then the event id recorded and the
alert mirrored in one transaction. A body over the API's limit is 413 before
anything is read past it.

Answers: 200 ``{"accepted": true, "event_id", "event_type", "alert_id",
"outcome", "status"}`` (``outcome``: ``applied``, or ``outdated`` when the
alert row already reflects a later event). Refusals, in the API's error shape
with the receiver's reason in ``details.reason`` and its message (the
``patchbay levelio ingest`` refusal, no more):

- ``not_connected`` (also any unknown tenant: the same answer) -> 404;
- ``no_secret``, ``unsigned``, ``bad_signature`` -> 401; ``stale`` (the
  signed ``occurred_at`` more than 5 minutes away) -> 401 as well, like an
  expired token;
- ``replayed`` (the event id was already recorded; nothing written) -> 409;
- ``malformed``, ``unknown_event`` -> 400.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from actionkit.webhooks import Reason, WebhookRejected
from api.context import ApiContext
from api.inbound.refusals import (
    RAW_JSON_BODY,
    InboundRefused,
    json_answer,
    read_limited_body,
    refusal_docs,
)
from integrations.levelio.webhooks import receive

STATUS_OF_REASON: dict[Reason, int] = {
    "not_connected": 404,
    "no_secret": 401,
    "unsigned": 401,
    "bad_signature": 401,
    "stale": 401,
    "replayed": 409,
    "malformed": 400,
    "unknown_event": 400,
}


class LevelReceipt(BaseModel):
    """What was done with an accepted delivery."""

    accepted: Literal[True]
    event_id: str
    event_type: str
    alert_id: str
    outcome: Literal["applied", "outdated"]
    status: str


RESPONSES = {
    200: {"model": LevelReceipt, "description": "Verified and recorded (applied or outdated)."},
    **refusal_docs(
        {
            400: "Not an alert event patchbay records (malformed, unknown_event).",
            401: "No or a wrong signature, no webhook secret, or a stale event.",
            404: "The tenant has no Level connection (not_connected).",
            409: "The event id was already recorded; nothing written (replayed).",
            413: "The body is over the API's limit (too_large).",
        }
    ),
}


def levelio_router(ctx: ApiContext) -> APIRouter:
    """The Level webhook receiver on ``ctx``'s store."""
    router = APIRouter(tags=["inbound"])

    @router.post(
        "/inbound/levelio/{tenant}/webhooks",
        summary="Receive a Level webhook delivery (X-Level-Signature verified)",
        response_model=None,
        responses=RESPONSES,
        openapi_extra=RAW_JSON_BODY,
    )
    async def levelio_webhook(tenant: str, request: Request) -> JSONResponse:
        try:
            body = await read_limited_body(request, ctx.max_body_bytes)
            headers = dict(request.headers.items())
            try:
                receipt = await run_in_threadpool(receive, ctx.store, tenant, body, headers)
            except WebhookRejected as exc:
                raise InboundRefused(
                    STATUS_OF_REASON.get(exc.reason, 400), exc.reason, exc.message
                ) from None
        except InboundRefused as refused:
            return refused.response()
        return json_answer({"accepted": True, **asdict(receipt)})

    return router
