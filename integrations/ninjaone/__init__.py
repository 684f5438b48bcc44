"""NinjaOne: devices (find, sync, reboot, scripts) and alerts, as the ``app:ninjaone`` tile.

``register(catalog)`` is the whole public surface; importing this package
registers nothing.
"""

from __future__ import annotations

from catalog.availability import rmm_integration_availability
from catalog.modules import IntegrationModule
from catalog.registration import Catalog, register_integration_module
from integrations.ninjaone.actions import ACTIONS, FIND_DEVICES, PROVIDER, register_actions
from integrations.ninjaone.client import HOSTS

MODULE = IntegrationModule(
    group_key=f"app:{PROVIDER}",
    label="NinjaOne",
    description=(
        "Find, sync and reboot NinjaOne devices, run scripts on them, and work their alerts."
    ),
    icon_token="ninjaone",  # noqa: S106
    default_action_id=FIND_DEVICES.id,
    allowed_action_ids=tuple(spec.id for spec in ACTIONS),
    availability_key=f"rmm:{PROVIDER}",
    hosts=HOSTS,
)


def register(catalog: Catalog) -> None:
    """Register the NinjaOne actions, the ``app:ninjaone`` tile and its availability."""
    register_integration_module(
        catalog,
        module=MODULE,
        availability=rmm_integration_availability(PROVIDER),
        register_actions=register_actions,
    )
