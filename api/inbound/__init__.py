"""The vendors' inbound endpoints: what Level and Teams post to patchbay.

- ``POST /inbound/levelio/{tenant}/webhooks`` (:mod:`api.inbound.levelio`):
  Level's webhook deliveries, HMAC-verified and applied once;
- ``POST /inbound/teams/{tenant}/messages`` (:mod:`api.inbound.teams`): the
  Teams bot's messaging endpoint, accepting only requests whose Bot Framework
  JWT verifies against the keys the identity platform publishes
  (:mod:`api.inbound.botframework`), recording conversation references.

Both read the raw body themselves, refusing one over ``ctx.max_body_bytes``
(413) before parsing anything, and answer refusals in the API's error shape
(:mod:`api.inbound.refusals`). ``create_app`` mounts them::

    for router in inbound_routers(ctx):
        app.include_router(router)
"""

from __future__ import annotations

from fastapi import APIRouter

from api.context import ApiContext
from api.inbound.botframework import ConnectorTokenVerifier
from api.inbound.levelio import levelio_router
from api.inbound.teams import teams_router

__all__ = ["inbound_routers", "levelio_router", "teams_router"]


def inbound_routers(
    ctx: ApiContext, *, verifier: ConnectorTokenVerifier | None = None
) -> list[APIRouter]:
    """The inbound routers on ``ctx``.

    ``verifier``: the Bot Framework token verifier (default: one for
    ``ctx.settings``, holding its own key cache). Raises
    ``api.inbound.botframework.MetadataURLRefused`` when
    ``PATCHBAY_BOT_OPENID_METADATA_URL`` is not one the outbound policy allows.
    """
    verifier = verifier or ConnectorTokenVerifier.from_settings(ctx.settings)
    return [levelio_router(ctx), teams_router(ctx, verifier)]
