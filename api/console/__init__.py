"""The web console: the palette and the ledger as server-rendered pages (``api.console.routes``)."""

from api.console.routes import console_router

__all__ = ["console_router"]
