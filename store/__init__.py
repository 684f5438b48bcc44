"""The durable store: models, migrations, sessions and tenant secrets.

``Store.from_settings()`` wires them from ``PATCHBAY_*`` settings; nothing here
runs at import time.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from store import db
from store.secrets import (
    ChainedSecretStore,
    DatabaseSecretStore,
    EnvSecretStore,
    SecretCipher,
    load_or_create_key_file,
)
from store.settings import StoreSettings


class SchemaOutOfDate(Exception):
    """The configured database is not at the schema this code needs."""


@dataclass
class Store:
    """An engine, its session factory and the tenant secret store built on it."""

    engine: Engine
    sessions: sessionmaker[Session]
    secrets: ChainedSecretStore

    @classmethod
    def from_settings(cls, settings: StoreSettings | None = None) -> Store:
        """Build the store ``settings`` describe (the environment when None)."""
        settings = settings or StoreSettings()
        engine = db.make_engine(settings.resolved_database_url)
        sessions = db.make_session_factory(engine)
        if settings.secret_key is not None:
            passphrase = settings.secret_key.get_secret_value()
        else:
            passphrase = load_or_create_key_file(settings.data_dir / "secret.key")
        secrets = ChainedSecretStore(
            EnvSecretStore(),
            DatabaseSecretStore(sessions, SecretCipher.from_passphrase(passphrase)),
        )
        return cls(engine=engine, sessions=sessions, secrets=secrets)

    def ensure_schema(self, settings: StoreSettings) -> None:
        """Migrate the embedded SQLite database on first use; demand it elsewhere.

        A database the operator configured is never migrated behind their back.
        """
        if db.current_revision(self.engine) == db.head_revision():
            return
        if settings.database_url is None:
            self.upgrade()
            return
        raise SchemaOutOfDate(
            "the database schema is not up to date: run `patchbay db upgrade` first"
        )

    def upgrade(self) -> None:
        """Create or upgrade the schema."""
        db.upgrade(self.engine)

    def close(self) -> None:
        """Release pooled connections."""
        self.engine.dispose()


__all__ = ["SchemaOutOfDate", "Store", "StoreSettings"]
