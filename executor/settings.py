"""patchbay's configuration, read from ``PATCHBAY_*`` environment variables.

With nothing set, patchbay runs *embedded*: the store's defaults (a SQLite
database and a generated key under the data directory, ``store.settings``),
an in-process Celery broker (``memory://``) and an in-process throttle.
Pointing the URLs at RabbitMQ or Redis and PostgreSQL turns the same code into
a scaled-out deployment. ``Settings`` is every setting: the store's plus the
executor's (broker, results, leases, retries, throttle, time limits, sweeper,
sandbox mode, Flower).
"""

from __future__ import annotations

from pydantic import Field, SecretStr

from store.settings import StoreSettings


class Settings(StoreSettings):
    """Every setting patchbay reads. Field docs are the README's configuration table."""

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
        default=0.1,
        ge=0,
        description=(
            "Longest a worker holds a step for its throttle slot; a later slot is reserved and "
            "the task re-scheduled to arrive this much before it (not counted as an attempt)."
        ),
    )
    throttle_margin: float = Field(
        default=0.2,
        ge=0,
        description=(
            "Least transit margin in seconds added to a vendor's window (2% of the window when "
            "that is longer): requests whose transit times differ by up to it cannot crowd "
            "the vendor's window."
        ),
    )
    worker_ceiling_factor: float = Field(
        default=10.0,
        ge=0,
        description=(
            "Celery's per-worker rate_limit on each provider's task is the vendor's limit times "
            "this (0: none); an operator's brake on deliveries, not the vendor guarantee."
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
    bot_openid_metadata_url: str = Field(
        default="https://login.botframework.com/v1/.well-known/openidconfiguration",
        description=(
            "The Bot Framework's OpenID metadata, whose keys verify the tokens on requests to "
            "the Teams bot's messaging endpoint. Only `login.botframework.com` over https, or "
            "(sandbox mode only) a loopback fake's."
        ),
    )
    flower_basic_auth: SecretStr | None = Field(
        default=None,
        description=(
            "`user:password` (comma-separated for several) that `patchbay flower` requires "
            "for its UI and HTTP API."
        ),
    )

    @property
    def embedded(self) -> bool:
        """True when the broker is the in-process ``memory://`` transport."""
        return self.broker_url.startswith("memory://")
