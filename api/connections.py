"""``/v1/connections``: a tenant admin connects and disconnects vendors; secrets go in, never out.

Reading needs the ``read`` scope, changing ``admin``. ``PUT
/v1/connections/{provider}`` takes the path ``patchbay connect`` takes
(``executor.connecting``): URL, settings and secrets checked, then the
vendor's own read-only check, then everything stored in one transaction, or
nothing. A secret's value is accepted and stored, never answered, logged or
echoed in an error: a connection is shown with the *names* of its secrets
and whether each is stored.

No ``from __future__ import annotations``: FastAPI reads the routes' annotations.
"""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from actionkit.errors import NotFound, ValidationFailed
from actionkit.outbound import redact_url
from api.auth import requires
from api.context import ApiContext
from api.errors import ApiError, error_responses
from catalog.vendors import Vendor
from executor import connecting
from store import connections as conn
from store.secrets import check_secret_name
from store.tokens import Principal

PRINTABLE = r"^[^\x00-\x1f\x7f]+$"
NAME = r"^[A-Za-z0-9_.-]{1,100}$"
MAX_SECRET = 16 * 1024
MAX_ENTRIES = 20


class SecretState(BaseModel):
    """A secret the vendor declares: whether the tenant has one stored (never its value)."""

    name: str
    stored: bool
    required: bool = Field(description="Needed under the connection's settings.")


class Connection(BaseModel):
    """One vendor as the tenant has it connected (or not)."""

    provider: str
    label: str
    connected: bool
    url: str | None = Field(description="The instance URL (a password it carried is masked).")
    allow_custom_host: bool
    settings: dict[str, str] = Field(description="The settings the vendor declares, as stored.")
    secrets: list[SecretState]
    missing_secrets: list[str] = Field(description="Required and not stored: a connect needs them.")


class ConnectRequest(BaseModel):
    """Connect (or reconnect) a vendor. Omitted: the stored URL and settings are kept."""

    model_config = ConfigDict(extra="forbid")

    url: str | None = Field(
        default=None,
        min_length=1,
        max_length=2000,
        pattern=PRINTABLE,
        description="The vendor instance URL (https; the vendor's known hosts unless "
        "allow_custom_host).",
    )
    allow_custom_host: bool = Field(
        default=False,
        description="Allow a public host outside the vendor's known hosts (a private, loopback "
        "or link-local address is refused regardless).",
    )
    settings: dict[Annotated[str, Field(pattern=NAME)], Annotated[str, Field(max_length=500)]] = (
        Field(
            default_factory=dict,
            description="Settings the vendor declares, e.g. auth_mode.",
            max_length=MAX_ENTRIES,
            json_schema_extra={"additionalProperties": False},
        )
    )
    secrets: dict[
        Annotated[str, Field(pattern=NAME)],
        Annotated[SecretStr, Field(min_length=1, max_length=MAX_SECRET)],
    ] = Field(
        default_factory=dict,
        max_length=MAX_ENTRIES,
        description="Secret name -> value. Write-only: stored encrypted, never answered.",
        json_schema_extra={"writeOnly": True, "additionalProperties": False},
    )
    check: bool = Field(
        default=True,
        description="Check the credentials with the vendor first (one read-only call).",
    )

    @field_validator("secrets")
    @classmethod
    def _secret_names(cls, value: dict[str, SecretStr]) -> dict[str, SecretStr]:
        for name, secret in value.items():
            try:
                check_secret_name(name)
            except ValueError as exc:
                raise ValueError(str(exc)) from None
            if "\x00" in secret.get_secret_value():
                raise ValueError(f"secret {name}: a NUL character cannot be stored")
        return value

    @field_validator("settings")
    @classmethod
    def _printable_settings(cls, value: dict[str, str]) -> dict[str, str]:
        for name, setting in value.items():
            if any(ord(c) < 0x20 or ord(c) == 0x7F for c in setting):
                raise ValueError(f"setting {name}: control characters are not allowed")
        return value


class CheckResult(BaseModel):
    ok: bool
    detail: str = Field(description="What the vendor's check proved (secret values scrubbed).")


class Connected(BaseModel):
    """What a connect stored (names of secrets only) and what the vendor's check said."""

    connection: Connection
    secrets_stored: list[str]
    check: CheckResult | None = Field(description="null: the check was skipped (check=false).")


class Disconnected(BaseModel):
    provider: str
    disconnected: bool = Field(description="False when it was not connected.")
    secrets_deleted: list[str]


# ConnectRefused kind -> (error code, status documented in api.errors).
_CODES = {
    "unknown_provider": "NOT_FOUND",
    "unknown_tenant": "NOT_FOUND",
    "not_connectable": "CONFLICT",
    "conflict": "CONFLICT",
    "check_failed": "CONNECTION_CHECK_FAILED",
}


def refusal(exc: connecting.ConnectRefused) -> Exception:
    """``exc`` as the API's error: a field's fault is a VALIDATION_ERROR naming it."""
    code = _CODES.get(exc.kind)
    details: dict[str, Any] = {"missing": list(exc.missing)} if exc.missing else {}
    if code is None:
        return ValidationFailed(
            f"{exc.field}: {exc.message}" if exc.field else exc.message,
            field=exc.field or "body",
            details=details or None,
        )
    if code == "NOT_FOUND":
        return NotFound(exc.message, details=details or None)
    return ApiError(code, exc.message, details=details or None)


def _describe(vendor: Vendor, state: conn.ConnectionState, stored: set[str]) -> Connection:
    values = vendor.setting_values(state.settings)
    required = vendor.required_under(values)
    required_names = {r.name for r in required}
    return Connection(
        provider=vendor.provider,
        label=vendor.label,
        connected=state.connected,
        url=redact_url(state.instance_url) if state.instance_url else None,
        allow_custom_host=state.allow_custom_host,
        settings={
            s.name: str(state.settings[s.name]) for s in vendor.settings if s.name in state.settings
        },
        secrets=[
            SecretState(name=n, stored=n in stored, required=n in required_names)
            for n in vendor.secret_names
        ],
        missing_secrets=[r.name for r in required if not r.satisfied_by(stored)],
    )


CHANGES = error_responses(401, 403, 404, 409, 413, 422)


def connection_routes(router: APIRouter, ctx: ApiContext) -> None:
    """Add the ``/connections`` routes to ``router`` (the ``/v1`` router)."""
    reader = Annotated[Principal, Depends(requires(ctx, "read"))]
    admin = Annotated[Principal, Depends(requires(ctx, "admin"))]
    Provider = Annotated[str, Path(min_length=1, max_length=100, pattern=NAME)]

    def states(tenant: str, vendors: list[Vendor]) -> list[Connection]:
        kinds = [(v.provider, v.connection or "rmm") for v in vendors]
        with ctx.store.sessions() as session:
            found = conn.connection_states(session, tenant, kinds)
        stored = set(ctx.store.secrets.names(tenant))
        return [_describe(v, s, stored) for v, s in zip(vendors, found, strict=True)]

    def vendor_of(provider: str) -> Vendor:
        try:
            return connecting.known_vendor(ctx.catalog, provider)
        except connecting.ConnectRefused as exc:
            raise refusal(exc) from None

    @router.get(
        "/connections",
        response_model=list[Connection],
        tags=["connections"],
        responses=error_responses(401),
    )
    def list_connections(who: reader) -> list[Connection]:
        """Every vendor the tenant can connect, connected or not (secrets by name only)."""
        return states(who.tenant, connecting.ready_vendors(ctx.catalog))

    @router.get(
        "/connections/{provider}",
        response_model=Connection,
        tags=["connections"],
        responses=error_responses(401, 404, 422),
    )
    def get_connection(who: reader, provider: Provider) -> Connection:
        """One vendor's connection for the tenant."""
        [state] = states(who.tenant, [vendor_of(provider)])
        return state

    @router.put(
        "/connections/{provider}",
        response_model=Connected,
        tags=["connections"],
        responses=CHANGES,
    )
    def put_connection(who: admin, provider: Provider, body: ConnectRequest) -> Connected:
        """Check the credentials with the vendor, then store the connection and its secrets.

        Nothing is stored unless every check passes (422 names the field at
        fault; CONNECTION_CHECK_FAILED says what the vendor answered).
        """
        try:
            vendor = connecting.connectable_vendor(ctx.catalog, provider)
            given = connecting.vendor_settings(vendor, list(body.settings.items()))
            url = (
                connecting.checked_url(
                    vendor, body.url, ctx.settings, allow_custom_host=body.allow_custom_host
                )
                if body.url is not None
                else None
            )
            done = connecting.connect_vendor(
                ctx.store,
                ctx.settings,
                vendor,
                who.tenant,
                url=url,
                allow_custom_host=body.allow_custom_host,
                secrets=list(body.secrets.items()),
                check=body.check,
                given_settings=given,
            )
        except connecting.ConnectRefused as exc:
            raise refusal(exc) from None
        [state] = states(who.tenant, [vendor])
        return Connected(
            connection=state,
            secrets_stored=list(done.secrets_stored),
            check=CheckResult(ok=done.check.ok, detail=done.check.detail) if done.check else None,
        )

    @router.delete(
        "/connections/{provider}",
        response_model=Disconnected,
        tags=["connections"],
        responses=error_responses(401, 403, 404, 422),
    )
    def delete_connection(
        who: admin,
        provider: Provider,
        forget_secrets: Annotated[
            bool, Query(description="Also delete the tenant secrets the vendor declares.")
        ] = False,
    ) -> Disconnected:
        """Mark the integration disconnected (its tile leaves the palette)."""
        vendor = vendor_of(provider)
        try:
            done = connecting.disconnect_vendor(
                ctx.store, vendor, who.tenant, forget_secrets=forget_secrets
            )
        except connecting.ConnectRefused as exc:
            raise refusal(exc) from None
        return Disconnected(
            provider=provider,
            disconnected=done.changed,
            secrets_deleted=list(done.secrets_deleted),
        )
