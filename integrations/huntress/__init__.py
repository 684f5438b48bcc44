"""Huntress: the vendor's facts (its actions and tile come with their own issue).

Huntress documents 60 requests per minute per account; the executor's
throttle enforces it across all workers.
"""

from __future__ import annotations

from actionkit.outbound import HostRules
from catalog.registration import Catalog, register_vendor
from catalog.vendors import Vendor

PROVIDER = "huntress"
VENDOR = Vendor(
    provider=PROVIDER,
    label="Huntress",
    connection="rmm",
    secret_names=("huntress_api_key", "huntress_api_secret"),
    rate_limit="60/m",
    hosts=HostRules(known=("api.huntress.io",)),
)


def register(catalog: Catalog) -> None:
    """Declare Huntress's facts."""
    register_vendor(catalog, VENDOR)
