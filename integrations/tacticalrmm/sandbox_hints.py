"""How a tenant connects to the sandbox's fake Tactical RMM (``patchbay sandbox``).

The fake's seed and the credential sets it mints (``POST
<url>/__sandbox/credentials``) both carry ``api_key``: an API key of the
fake's demo user, which is all a Tactical RMM connection needs besides the
instance URL.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from integrations.tacticalrmm.connection import API_KEY_NAME, PROVIDER


def sandbox_secrets(seed: Mapping[str, Any]) -> dict[str, str]:
    """The tenant secrets that reach the sandbox's FakeTacticalRmm, from its credential set."""
    return {API_KEY_NAME: seed["api_key"]}


def connect_hints(url: str, seed: Mapping[str, Any], tenant: str) -> list[str]:
    """The command that connects ``tenant`` to the sandbox's FakeTacticalRmm at ``url``."""
    secrets = " ".join(f"--secret {n}={v}" for n, v in sandbox_secrets(seed).items())
    return [f"patchbay connect {PROVIDER} --tenant {tenant} --url {url} {secrets}"]
