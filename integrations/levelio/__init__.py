"""Level: the vendor's facts (its actions and tile come with their own issue)."""

from __future__ import annotations

from actionkit.outbound import HostRules
from catalog.registration import Catalog, register_vendor
from catalog.vendors import Vendor

PROVIDER = "levelio"
VENDOR = Vendor(
    provider=PROVIDER,
    label="Level",
    connection="rmm",
    secret_names=("levelio_api_key",),
    hosts=HostRules(known=("api.level.io",)),
)


def register(catalog: Catalog) -> None:
    """Declare Level's facts."""
    register_vendor(catalog, VENDOR)
