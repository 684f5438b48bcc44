"""Microsoft Teams: the vendor's facts (its actions and tile come with their own issue).

Connected when the tenant's ``teams`` add-on is active and its install is
``active``. Bot Connector service URLs are Microsoft's (``smba.trafficmanager.net``
and ``*.botframework.com``), never a custom host. Its app secret is named by
the tenant's Microsoft profile, so there is no fixed secret name to forget.
"""

from __future__ import annotations

from actionkit.outbound import HostRules
from catalog.registration import Catalog, register_vendor
from catalog.vendors import Vendor

PROVIDER = "teams"
VENDOR = Vendor(
    provider=PROVIDER,
    label="Microsoft Teams",
    connection="teams",
    hosts=HostRules(known=("smba.trafficmanager.net", "*.botframework.com"), custom_hosts=False),
)


def register(catalog: Catalog) -> None:
    """Declare Teams' facts."""
    register_vendor(catalog, VENDOR)
