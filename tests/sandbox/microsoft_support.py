"""What the Microsoft fake's tests share: a tenant, an app and its secret, the clock, scopes."""

from __future__ import annotations

EPOCH = 1_800_000_000.0  # 2027-01-15T08:00:00Z
LIFETIME = 300.0
TENANT = "0b4f6a1c-2d3e-4f50-8a9b-1c2d3e4f5a6b"
DOMAIN = "contoso.onmicrosoft.com"
CLIENT_ID = "9a8b7c6d-5e4f-4a3b-9c2d-1e0f9a8b7c6d"
SECRET = "sb~Q7w.secret-VALUE-4242"
GRAPH_SCOPE = "https://graph.microsoft.com/.default"
BOT_SCOPE = "https://api.botframework.com/.default"
