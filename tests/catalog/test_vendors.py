"""Vendor declarations: connection settings and the secrets each setting requires."""

from __future__ import annotations

import dataclasses

import pytest

from catalog.errors import RegistrationError
from catalog.registration import Catalog
from catalog.vendors import RequiredSecret, Vendor, VendorRegistry, VendorSetting
from integrations import tacticalrmm

MODE = VendorSetting("mode", ("token", "login"), "token", help="how to authenticate")
VENDOR = Vendor(
    provider="acmerm",
    label="Acme RMM",
    connection="rmm",
    secret_names=("acmerm_token", "acmerm_user", "acmerm_password"),
    required_secrets=(
        RequiredSecret("acmerm_token", when=("mode", "token")),
        RequiredSecret("acmerm_user", when=("mode", "login")),
        RequiredSecret("acmerm_password", when=("mode", "login")),
    ),
    settings=(MODE,),
)


def required(vendor: Vendor, stored: dict[str, object]) -> list[str]:
    return [r.name for r in vendor.required_under(vendor.setting_values(stored))]


def test_an_unset_setting_has_its_default_and_requires_what_the_default_does() -> None:
    assert VENDOR.setting_values({}) == {"mode": "token"}
    assert required(VENDOR, {}) == ["acmerm_token"]
    assert required(VENDOR, {"mode": "login", "allow_custom_host": True}) == [
        "acmerm_user",
        "acmerm_password",
    ]
    # A stored value the vendor does not know requires nothing that depends on it.
    assert required(VENDOR, {"mode": "carrier-pigeon"}) == []


def test_value_in_reads_the_stored_value_or_the_default_and_refuses_others() -> None:
    assert MODE.value_in({}) == "token"
    assert MODE.value_in({"mode": "login"}) == "login"
    with pytest.raises(ValueError, match="not one of token, login"):
        MODE.value_in({"mode": "oauth"})


def test_a_well_formed_declaration_registers() -> None:
    registry = VendorRegistry()
    registry.register(VENDOR)
    registry.register(VENDOR)  # the same facts again: a no-op
    assert registry.get("acmerm") is VENDOR
    assert VENDOR.setting("mode") is MODE and VENDOR.setting("other") is None


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"settings": (MODE, MODE)}, "settings has duplicates"),
        (
            {"settings": (dataclasses.replace(MODE, name="allow_custom_host"),)},
            "--allow-custom-host",
        ),
        ({"settings": (dataclasses.replace(MODE, name="Mode"),)}, "lowercase"),
        (
            {"settings": (dataclasses.replace(MODE, choices=("token", "token")),)},
            "distinct choices",
        ),
        (
            {"settings": (dataclasses.replace(MODE, pattern="[a-z]+"),)},
            "has choices, so no pattern",
        ),
        ({"settings": (dataclasses.replace(MODE, required=True),)}, "has choices, so no pattern"),
        ({"settings": (VendorSetting("region", pattern="(eu"),)}, "bad pattern"),
        (
            {"settings": (VendorSetting("region", pattern="eu|us", default="apac"),)},
            "its default 'apac' does not match",
        ),
        (
            {"settings": (VendorSetting("region", pattern="eu|us", example="mars"),)},
            "its example 'mars' does not match",
        ),
        ({"settings": (dataclasses.replace(MODE, default="oauth"),)}, "not one of its choices"),
        (
            {"required_secrets": (RequiredSecret("acmerm_token", when=("mode", "oauth")),)},
            "not a declared setting and value",
        ),
        (
            {"required_secrets": (RequiredSecret("acmerm_token", when=("region", "eu")),)},
            "not a declared setting and value",
        ),
    ],
)
def test_a_malformed_setting_declaration_is_refused(
    change: dict[str, object], message: str
) -> None:
    with pytest.raises(RegistrationError, match=message):
        VendorRegistry().register(dataclasses.replace(VENDOR, **change))  # type: ignore[arg-type]


def test_tactical_rmm_requires_an_api_key_or_knox_credentials_by_auth_mode() -> None:
    catalog = Catalog()
    tacticalrmm.register(catalog)
    vendor = catalog.vendors.get("tacticalrmm")
    assert vendor is not None
    [mode] = vendor.settings
    assert (mode.name, mode.choices, mode.default) == ("auth_mode", ("api_key", "knox"), "api_key")
    assert required(vendor, {}) == ["tacticalrmm_api_key"]
    assert required(vendor, {"auth_mode": "knox"}) == [
        "tacticalrmm_username",
        "tacticalrmm_password",
    ]


def test_a_free_setting_takes_what_its_pattern_matches_and_says_what_it_wants() -> None:
    region = VendorSetting(
        "region", pattern="eu|us", example="eu", help="the data region", required=True
    )
    VendorRegistry().register(dataclasses.replace(VENDOR, settings=(MODE, region)))
    assert region.refusal("eu") is None
    assert region.refusal("EU") == "'EU' is not the data region, e.g. eu"
    assert region.refusal("") == "the value is empty"
    assert region.shown() == "region=eu"
    assert MODE.shown() == "mode=token|login"
    assert region.value_in({}) == ""
    assert region.value_in({"region": "us"}) == "us"
    with pytest.raises(ValueError, match="not the data region"):
        region.value_in({"region": "mars"})
    vendor = dataclasses.replace(VENDOR, settings=(MODE, region))
    assert [s.name for s in vendor.missing_settings({})] == ["region"]
    assert vendor.missing_settings({"region": "eu"}) == []
