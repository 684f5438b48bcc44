"""patchbay's configuration, read from ``PATCHBAY_*`` environment variables.

With nothing set, patchbay runs *embedded*: a SQLite database and a generated
secret-encryption key under the data directory, an in-process Celery broker
(``memory://``) and an in-process throttle. Pointing the URLs at Redis and
PostgreSQL turns the same code into a scaled-out deployment.

This module lives in ``store`` because the store is the bottom layer that every
other package may import; it holds no state of its own.
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


class Settings(BaseSettings):
    """Every setting patchbay reads. Field docs are the README's configuration table."""

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
    broker_url: str = Field(
        default="memory://",
        description="Celery broker. `memory://` means an in-process worker thread (embedded).",
    )
    result_backend: str = Field(
        default="cache+memory://",
        description="Celery result backend. The durable record is the invocation ledger.",
    )
    redis_url: str | None = Field(
        default=None,
        description="Redis for the shared vendor throttle. Default: in-process throttle.",
    )

    lease_seconds: float = Field(
        default=60.0,
        gt=0,
        description=(
            "How long a worker's claim on a step lasts without renewal (renewed every third "
            "of it while the step runs); a dead worker's step is taken over after this."
        ),
    )
    max_attempts: int = Field(
        default=5, ge=1, description="Attempts of a step before a retryable failure is final."
    )
    retry_backoff: float = Field(
        default=2.0, gt=0, description="First retry delay in seconds; doubles per attempt."
    )
    retry_backoff_max: float = Field(
        default=300.0, gt=0, description="Longest retry delay in seconds (before jitter)."
    )
    throttle_max_wait: float = Field(
        default=1.0,
        ge=0,
        description=(
            "Longest a worker sleeps for a throttle slot; a later slot is reserved and the "
            "task re-scheduled to just before it (not counted as an attempt)."
        ),
    )
    rate_limits: dict[str, str] = Field(
        default_factory=dict,
        description=(
            "Vendor limits per tenant account overriding the modules' own, as JSON: "
            '`{"huntress": "60/m"}`.'
        ),
    )
    visibility_timeout: float = Field(
        default=7200.0,
        gt=0,
        description=(
            "Redis broker visibility timeout in seconds: an unacknowledged task is redelivered "
            "after it. Must exceed the longest action plus any countdown."
        ),
    )
    wait_timeout: float = Field(
        default=3600.0,
        gt=0,
        description="Default deadline in seconds for a step waiting on its vendor.",
    )

    step_time_limit: float = Field(
        default=300.0,
        gt=0,
        description=(
            "Longest one delivery of a step (a start or a check) may run, for actions that "
            "declare no `time_limit` of their own; enforced in every pool, after which the "
            "step ends as the ledger's rules say (retried if nothing was dispatched, "
            "OUTCOME_UNKNOWN if it was)."
        ),
    )
    sweep_interval: float = Field(
        default=10.0,
        gt=0,
        description=(
            "How often a worker's ledger sweeper looks for stalled steps (one sweeper at a "
            "time across workers)."
        ),
    )
    redrive_after: float = Field(
        default=60.0,
        gt=0,
        description=(
            "A QUEUED step older than this, or a WAITING step overdue by more than this, is "
            "re-published by the sweeper (its message may be lost); steps whose worker died "
            "are re-driven as soon as their lease expires."
        ),
    )
    sandbox: bool = Field(
        default=False,
        description=(
            "Sandbox mode: vendor URLs on loopback (the fake vendors of `patchbay sandbox`) "
            "are allowed, over http too. Off, a loopback, private or link-local vendor URL "
            "is refused at connect time and before every request. `patchbay demo` runs in "
            "sandbox mode on its own."
        ),
    )
    flower_basic_auth: SecretStr | None = Field(
        default=None,
        description=(
            "`user:password` (comma-separated for several) that `patchbay flower` requires "
            "for its UI and HTTP API."
        ),
    )

    @cached_property
    def resolved_database_url(self) -> str:
        """The database URL, defaulting to a SQLite file in the data directory."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'patchbay.sqlite'}"

    @property
    def embedded(self) -> bool:
        """True when the broker is the in-process ``memory://`` transport."""
        return self.broker_url.startswith("memory://")
