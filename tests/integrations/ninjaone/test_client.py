"""NinjaOneClient pieces that need no vendor: where a tenant's instance URL points."""

from __future__ import annotations

import pytest

from actionkit.errors import IntegrationMisconfigured
from integrations.ninjaone.client import normalize_instance_url


@pytest.mark.parametrize(
    ("raw", "root"),
    [
        ("https://eu.ninjarmm.com", "https://eu.ninjarmm.com"),
        ("https://eu.ninjarmm.com/", "https://eu.ninjarmm.com"),
        ("https://eu.ninjarmm.com/api", "https://eu.ninjarmm.com"),
        ("https://eu.ninjarmm.com/api/v2/", "https://eu.ninjarmm.com"),
        ("https://eu.ninjarmm.com/API/V2", "https://eu.ninjarmm.com"),
        ("oc.ninjarmm.com", "https://oc.ninjarmm.com"),
        ("  ca.ninjarmm.com/api/v2  ", "https://ca.ninjarmm.com"),
        ("http://127.0.0.1:8123/api/v2", "http://127.0.0.1:8123"),
        (None, "https://app.ninjarmm.com"),
        ("", "https://app.ninjarmm.com"),
    ],
)
def test_instance_urls_are_normalized_to_the_instance_root(raw: str | None, root: str) -> None:
    assert normalize_instance_url(raw) == root


@pytest.mark.parametrize("raw", ["ftp://eu.ninjarmm.com", "https://", "https://exa mple.com"])
def test_an_unusable_instance_url_is_a_misconfiguration(raw: str) -> None:
    with pytest.raises(IntegrationMisconfigured, match="instance URL"):
        normalize_instance_url(raw)
