"""The store's configuration, read from ``PATCHBAY_*`` environment variables.

With nothing set: a SQLite database and a generated secret-encryption key
under the data directory. The executor's settings (broker, leases, retries,
throttle...) extend these in ``executor.settings``, under the same prefix.
"""

from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


def _default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "patchbay"


class StoreSettings(BaseSettings):
    """Where the store lives and the key its secrets are encrypted with.

    Field docs are the README's configuration table (with ``executor.settings``).
    """

    model_config = SettingsConfigDict(env_prefix="PATCHBAY_", extra="ignore", frozen=True)

    data_dir: Path = Field(
        default_factory=_default_data_dir,
        description="Directory for the embedded SQLite database and the generated secret key.",
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the store. Default: SQLite `<data_dir>/patchbay.sqlite`.",
    )
    secret_key: SecretStr | None = Field(
        default=None,
        description=(
            "Key that encrypts tenant secrets at rest (any string; 32+ random bytes "
            "recommended). Default: a generated key file `<data_dir>/secret.key` (mode 0600)."
        ),
    )

    @cached_property
    def resolved_database_url(self) -> str:
        """The database URL, defaulting to a SQLite file in the data directory."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'patchbay.sqlite'}"
