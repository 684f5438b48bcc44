"""Domain event types more than one package names (the outbox's ``event_type``).

An action writes the event in the transaction of its change; the outbox relay
(``executor.outbox``) runs every subscribed action once per event
(``catalog.registration.subscribe``).
"""

from __future__ import annotations

TICKET_LINK_CLOSED = "TICKET_LINK_CLOSED"
"""A ticket linked with ``sync_close`` to a vendor's alert or incident was closed.

The event type is ``TICKET_LINK_CLOSED.<provider>`` (:func:`ticket_link_closed`);
its payload: ``ticket_id``, ``ticket_number``, ``kind`` (``rmm_alert`` or
``huntress_incident``), ``provider``, ``external_id``, ``resolution``. The
vendor's package subscribes the action that resolves its side.
"""


def ticket_link_closed(provider: str) -> str:
    """The event type announcing a closed ticket's link to ``provider``."""
    return f"{TICKET_LINK_CLOSED}.{provider}"
