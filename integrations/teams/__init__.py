"""Microsoft Teams: the vendor's facts (its actions and tile come with their own issue).

Connected when the tenant's ``teams`` add-on is active and its install is
``active``. Bot Connector service URLs are Microsoft's, never a custom host
(``integrations.teams.service_urls``). Its app secret is named by the
tenant's Microsoft profile, so there is no fixed secret name to forget.
"""

from __future__ import annotations

from catalog.registration import Catalog, register_vendor
from catalog.vendors import Vendor
from integrations.teams.service_urls import SERVICE_URL_HOSTS

PROVIDER = "teams"
VENDOR = Vendor(
    provider=PROVIDER,
    label="Microsoft Teams",
    connection="teams",
    hosts=SERVICE_URL_HOSTS,
)


def register(catalog: Catalog) -> None:
    """Declare Teams' facts."""
    register_vendor(catalog, VENDOR)
