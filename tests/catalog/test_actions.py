"""The action registry: id@version, versions coexist, eager validation."""

from __future__ import annotations

import dataclasses

import pytest
from pydantic import BaseModel

from actionkit.spec import ActionUI
from catalog.actions import ActionRegistry
from catalog.errors import RegistrationConflict, RegistrationError, UnknownActionError
from tests.catalog.testmodules import EchoOutput, echo_spec


def test_versions_coexist_and_are_looked_up_exactly() -> None:
    registry = ActionRegistry()
    registry.register(echo_spec("acme.devices.echo", version=1))
    registry.register(echo_spec("acme.devices.echo", version=2, label="Echo v2"))
    assert registry.versions("acme.devices.echo") == [1, 2]
    assert registry.get("acme.devices.echo", 2).ui.label == "Echo v2"
    assert registry.latest("acme.devices.echo").version == 2
    with pytest.raises(UnknownActionError, match=r"Unknown action acme.devices.echo@3"):
        registry.get("acme.devices.echo", 3)


def test_the_same_id_and_version_twice_is_an_error() -> None:
    registry = ActionRegistry()
    registry.register(echo_spec("acme.devices.echo"))
    with pytest.raises(RegistrationConflict, match="already registered"):
        registry.register(echo_spec("acme.devices.echo"))
    assert len(registry) == 1


class LooseInput(BaseModel):
    device_id: int


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"id": "NoDots"}, "provider.noun.verb"),
        ({"id": "acme"}, "provider.noun.verb"),
        ({"version": 0}, "version"),
        ({"input_model": LooseInput}, "must forbid unknown fields"),
        ({"output_model": dict}, "output_model must be a pydantic model"),
        ({"ui": ActionUI(label="  ")}, "ui.label"),
    ],
)
def test_malformed_specs_are_rejected_at_registration(
    change: dict[str, object], message: str
) -> None:
    spec = dataclasses.replace(echo_spec("acme.devices.echo"), **change)  # type: ignore[arg-type]
    registry = ActionRegistry()
    with pytest.raises(RegistrationError, match=message):
        registry.register(spec)
    assert len(registry) == 0


def test_schema_export_and_field_names() -> None:
    spec = echo_spec("acme.devices.echo")
    assert spec.input_field_names() == ["device_id", "note"]
    assert spec.output_field_names() == ["device_id", "echoed"]
    schemas = spec.json_schemas()
    assert schemas["input"]["title"] == "acme.devices.echo@1.input"
    assert schemas["input"]["additionalProperties"] is False
    assert schemas["output"]["title"] == "acme.devices.echo@1.output"
    assert EchoOutput.model_json_schema()["title"] == "EchoOutput"  # model left untouched
