"""What the Microsoft fake's tests share: a tenant, an app and its secret, two mailboxes."""

from __future__ import annotations

from sandbox.core import ManualClock
from sandbox.microsoft import FakeMicrosoft

EPOCH = 1_800_000_000.0  # 2027-01-15T08:00:00Z
LIFETIME = 300.0
TENANT = "0b4f6a1c-2d3e-4f50-8a9b-1c2d3e4f5a6b"
DOMAIN = "contoso.onmicrosoft.com"
CLIENT_ID = "9a8b7c6d-5e4f-4a3b-9c2d-1e0f9a8b7c6d"
SECRET = "sb~Q7w.secret-VALUE-4242"
GRAPH_SCOPE = "https://graph.microsoft.com/.default"
BOT_SCOPE = "https://api.botframework.com/.default"
USER_ID = "2b7c9d1e-4f5a-4b6c-8d7e-9f0a1b2c3d4e"
UPN = "adele.vance@contoso.onmicrosoft.com"
OTHER_ID = "8e9f0a1b-2c3d-4e5f-a6b7-c8d9e0f1a2b3"
OTHER_UPN = "alex.wilber@contoso.onmicrosoft.com"


def fake_microsoft(clock: ManualClock) -> FakeMicrosoft:
    """The fake with one tenant, one app of it and two mailboxes (Adele, Alex)."""
    fake = FakeMicrosoft(clock=clock, epoch_origin=EPOCH, token_lifetime=LIFETIME)
    fake.add_tenant(TENANT, domains=[DOMAIN])
    fake.add_app(TENANT, CLIENT_ID, SECRET)
    fake.add_user(USER_ID, UPN, display_name="Adele Vance", tenant_id=TENANT)
    fake.add_user(OTHER_ID, OTHER_UPN, display_name="Alex Wilber", tenant_id=TENANT)
    return fake
