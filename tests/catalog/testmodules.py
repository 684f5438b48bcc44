"""Small test integrations: real specs and modules, no vendor behind them."""

from __future__ import annotations

from collections.abc import Callable

from pydantic import BaseModel

from actionkit.context import ActionContext
from actionkit.inputs import StrictInput
from actionkit.spec import ActionSpec, ActionUI
from catalog.actions import ActionRegistry
from catalog.availability import rmm_integration_availability, teams_integration_availability
from catalog.modules import IntegrationModule
from catalog.registration import Catalog, register_integration_module


class EchoInput(StrictInput):
    device_id: int
    note: str | None = None


class EchoOutput(BaseModel):
    device_id: int
    echoed: bool


def echo(inp: EchoInput, ctx: ActionContext) -> EchoOutput:
    return EchoOutput(device_id=inp.device_id, echoed=True)


def echo_spec(
    action_id: str, *, version: int = 1, label: str = "Echo"
) -> ActionSpec[EchoInput, EchoOutput]:
    return ActionSpec(
        id=action_id,
        version=version,
        input_model=EchoInput,
        output_model=EchoOutput,
        handler=echo,
        side_effectful=False,
        ui=ActionUI(label=label, description=f"{label} a device", icon="box"),
    )


# (provider, label, availability key) of the test tiles.
TEST_PROVIDERS = {
    "ninjaone": ("NinjaOne", "rmm:ninjaone"),
    "tacticalrmm": ("Tactical RMM", "rmm:tacticalrmm"),
    "huntress": ("Huntress", "rmm:huntress"),
    "teams": ("Microsoft Teams", "integration:teams"),
}


def make_module(provider: str) -> IntegrationModule:
    label, key = TEST_PROVIDERS[provider]
    return IntegrationModule(
        group_key=f"app:{provider}",
        label=label,
        description=f"{label} test actions.",
        icon_token=provider,
        default_action_id=f"{provider}.test.echo",
        allowed_action_ids=(f"{provider}.test.echo", f"{provider}.test.ping"),
        availability_key=key,
    )


def register_test_actions(provider: str) -> Callable[[ActionRegistry], None]:
    def register(actions: ActionRegistry) -> None:
        actions.register(echo_spec(f"{provider}.test.echo", label="Echo"))
        actions.register(echo_spec(f"{provider}.test.ping", label="Ping"))

    return register


def register_test_integration(catalog: Catalog, provider: str) -> None:
    resolver = (
        teams_integration_availability
        if provider == "teams"
        else rmm_integration_availability(provider)
    )
    register_integration_module(
        catalog,
        module=make_module(provider),
        availability=resolver,
        register_actions=register_test_actions(provider),
    )


def catalog_with(*providers: str) -> Catalog:
    catalog = Catalog()
    for provider in providers:
        register_test_integration(catalog, provider)
    return catalog
