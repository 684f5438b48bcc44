"""patchbay's HTTP API, the vendors' inbound endpoints and the console (FastAPI)."""
