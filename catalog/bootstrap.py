"""The explicit, ordered list of integrations, and the catalog built from it.

Adding an integration is one package under ``integrations/`` with a
``register(catalog)`` function, plus one line in ``INTEGRATIONS``. This is the
only module that imports integration packages; the Celery app, the CLI and
the tests all build their catalog here.
"""

from __future__ import annotations

from collections.abc import Callable

from catalog.registration import Catalog
from integrations import huntress, levelio, ninjaone, scheduling, tacticalrmm, teams, tickets

RegisterIntegration = Callable[[Catalog], None]

# Order matters only for error messages and registration; the designer sorts
# app tiles by label.
INTEGRATIONS: tuple[RegisterIntegration, ...] = (
    tickets.register,
    scheduling.register,
    ninjaone.register,
    tacticalrmm.register,
    levelio.register,
    huntress.register,
    teams.register,
)


def build_catalog(integrations: tuple[RegisterIntegration, ...] = INTEGRATIONS) -> Catalog:
    """A fresh catalog with every listed integration registered."""
    catalog = Catalog()
    for register in integrations:
        register(catalog)
    return catalog
