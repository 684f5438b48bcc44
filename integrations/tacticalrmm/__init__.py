"""Tactical RMM: the vendor's facts (its actions and tile come with their own issue).

Self-hosted: every MSP runs its own server, so any public https host is
allowed. Secrets: an API key (``X-API-KEY``), or Knox login credentials and
the token they yield.
"""

from __future__ import annotations

from actionkit.outbound import ANY_PUBLIC_HOST
from catalog.registration import Catalog, register_vendor
from catalog.vendors import Vendor

PROVIDER = "tacticalrmm"
VENDOR = Vendor(
    provider=PROVIDER,
    label="Tactical RMM",
    connection="rmm",
    secret_names=(
        "tacticalrmm_api_key",
        "tacticalrmm_username",
        "tacticalrmm_password",
        "tacticalrmm_knox_token",
    ),
    hosts=ANY_PUBLIC_HOST,
)


def register(catalog: Catalog) -> None:
    """Declare Tactical RMM's facts."""
    register_vendor(catalog, VENDOR)
