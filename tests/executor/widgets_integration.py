"""A small integration against sandbox.widgets.FakeWidgets, for the executor's tests.

Shaped like a real integration (client, models, handlers, register), so the
executor is tested through the same seams the vendor modules use.
"""

from __future__ import annotations

import time
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from actionkit.context import ActionContext, NotApplied, Pending, SuccessWrite
from actionkit.errors import ActionError, IntegrationMisconfigured
from actionkit.http import VendorClient
from actionkit.outbound import HostRules
from actionkit.spec import ActionSpec, ActionUI
from catalog.actions import ActionRegistry
from catalog.availability import rmm_integration_availability
from catalog.modules import IntegrationModule
from catalog.registration import Catalog, register_integration_module, register_vendor
from catalog.rmm import rmm_connection
from catalog.vendors import Vendor
from store.models import RmmIntegration, WorkflowActionInvocation

PROVIDER = "widgets"
# A self-hosted vendor (any public host); the tests' in-process fake answers
# https://widgets.test, the real-HTTP fakes are on loopback (sandbox mode).
HOSTS = HostRules(self_hosted=True)
SECRET = "widgets_api_key"


class WidgetsClient(VendorClient):
    vendor = "Widgets"

    def __init__(self, base_url: str, api_key: str, **kwargs: Any) -> None:
        super().__init__(base_url, **kwargs)
        self._api_key = api_key

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._api_key}"}


def client_for(ctx: ActionContext) -> WidgetsClient:
    url = rmm_connection(ctx, PROVIDER, "Widgets").instance_url
    key = ctx.secret(SECRET)
    if key is None or not url:
        raise IntegrationMisconfigured(f"Widgets needs an instance URL and the {SECRET} secret")
    return WidgetsClient(
        url,
        key.get_secret_value(),
        policy=ctx.outbound(HOSTS),
        transport=ctx.transport(PROVIDER),
        gate=ctx.gate,
    )


class CreateWidgetInput(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)
    color: str | None = None


class WidgetOutput(BaseModel):
    widget_id: str
    name: str
    color: str | None = None


def create_widget(inp: CreateWidgetInput, ctx: ActionContext) -> WidgetOutput:
    with client_for(ctx) as client:
        body = client.request_json("POST", "/v1/widgets", json=inp.model_dump(exclude_none=True))
    return WidgetOutput(widget_id=body["id"], name=body["name"], color=body.get("color"))


def find_created_widget(inp: CreateWidgetInput, ctx: ActionContext) -> WidgetOutput | NotApplied:
    """The read-back of ``create_checked``: a widget with that name exists, or it does not."""
    after: str | None = None
    with client_for(ctx) as client:
        while True:
            body = client.request_json("GET", "/v1/widgets", params={"limit": 100, "after": after})
            for widget in body["data"]:
                if widget["name"] == inp.name:
                    return WidgetOutput(
                        widget_id=widget["id"], name=widget["name"], color=widget.get("color")
                    )
            after = body.get("next")
            if not after:
                return NotApplied(f"no widget named {inp.name!r}")


class CreateAfterInput(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)
    after: str = Field(min_length=1, description="Create only once a widget of this name exists.")
    wait: float = Field(default=10, gt=0)
    check_every: float = Field(default=1, gt=0)
    # A broken handler: asks to start over after it has created the widget.
    rerun_after_sending: bool = False


def _named(client: WidgetsClient, name: str) -> dict[str, Any] | None:
    body = client.request_json("GET", "/v1/widgets", params={"limit": 100})
    return next((w for w in body["data"] if w["name"] == name), None)


def create_after(inp: CreateAfterInput, ctx: ActionContext) -> WidgetOutput | Pending:
    """Create a widget once another exists: defers (``Pending(rerun=True)``) until then."""
    with client_for(ctx) as client:
        if _named(client, inp.after) is None:
            return Pending(
                check_after=inp.check_every,
                timeout=inp.wait,
                note=f"waiting for widget {inp.after!r}",
                rerun=True,
            )
        body = client.request_json("POST", "/v1/widgets", json={"name": inp.name})
    if inp.rerun_after_sending:
        return Pending(check_after=inp.check_every, rerun=True)
    return WidgetOutput(widget_id=body["id"], name=body["name"], color=body.get("color"))


class CreateNotedInput(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)
    # What else happens after the widget is created (to test ``on_success``).
    then: Literal["nothing", "fail", "lose_lease", "bad_write"] = "nothing"


def _note_widget(widget_id: str, tenant: str, *, broken: bool) -> SuccessWrite:
    def write(session: Session) -> None:
        if broken:
            raise RuntimeError("the mirror table is gone")
        row = session.scalars(
            select(RmmIntegration).where(
                RmmIntegration.tenant == tenant, RmmIntegration.provider == PROVIDER
            )
        ).one()
        row.settings = {**(row.settings or {}), "last_widget": widget_id}

    return write


def create_noted(inp: CreateNotedInput, ctx: ActionContext) -> WidgetOutput:
    """Create a widget and note its id on the connection row, only with the step's success."""
    with client_for(ctx) as client:
        body = client.request_json("POST", "/v1/widgets", json={"name": inp.name})
    ctx.on_success(_note_widget(body["id"], ctx.tenant_id, broken=inp.then == "bad_write"))
    if inp.then == "fail":
        raise ActionError("failed after registering the write", code="LATE_FAILURE")
    if inp.then == "lose_lease":
        with ctx.session() as session:  # another worker takes the step over
            session.execute(
                update(WorkflowActionInvocation)
                .where(WorkflowActionInvocation.idempotency_key == ctx.idempotency_key)
                .values(lease_owner="someone-else")
            )
    return WidgetOutput(widget_id=body["id"], name=body["name"])


class HangInput(BaseModel):
    model_config = ConfigDict(extra="forbid")
    seconds: float = Field(ge=0, le=600)


class HangOutput(BaseModel):
    slept: float


def hang(inp: HangInput, ctx: ActionContext) -> HangOutput:
    """A handler stuck in its own code (a loop that does not end in time)."""
    started = time.monotonic()
    while time.monotonic() - started < inp.seconds:
        time.sleep(0.02)
    return HangOutput(slept=time.monotonic() - started)


class GetWidgetInput(BaseModel):
    model_config = ConfigDict(extra="forbid")
    widget_id: str


def get_widget(inp: GetWidgetInput, ctx: ActionContext) -> WidgetOutput:
    with client_for(ctx) as client:
        body = client.request_json("GET", f"/v1/widgets/{inp.widget_id}")
    return WidgetOutput(widget_id=body["id"], name=body["name"], color=body.get("color"))


class RunJobInput(BaseModel):
    model_config = ConfigDict(extra="forbid")
    duration: float = Field(ge=0, le=3600)
    check_every: float = Field(default=0.5, gt=0)
    timeout: float | None = Field(default=None, gt=0)


class JobOutput(BaseModel):
    job_id: str
    status: str
    output: str | None


def start_job(inp: RunJobInput, ctx: ActionContext) -> JobOutput | Pending:
    with client_for(ctx) as client:
        body = client.request_json("POST", "/v1/jobs", json={"duration": inp.duration})
    return Pending(
        check_after=inp.check_every, state={"job_id": body["job_id"]}, timeout=inp.timeout
    )


def check_job(inp: RunJobInput, state: dict[str, Any], ctx: ActionContext) -> JobOutput | Pending:
    with client_for(ctx) as client:
        body = client.request_json("GET", f"/v1/jobs/{state['job_id']}")
    if body["status"] != "succeeded":
        return Pending(check_after=inp.check_every, state=state)
    return JobOutput(job_id=body["job_id"], status=body["status"], output=body.get("output"))


CREATE = ActionSpec(
    id="widgets.widgets.create",
    version=1,
    input_model=CreateWidgetInput,
    output_model=WidgetOutput,
    handler=create_widget,
    side_effectful=True,
    ui=ActionUI(label="Create widget", category="Widgets", icon="widgets"),
)
CREATE_SAFE = ActionSpec(
    id="widgets.widgets.create_idempotent",
    version=1,
    input_model=CreateWidgetInput,
    output_model=WidgetOutput,
    handler=create_widget,
    side_effectful=True,
    safe_to_repeat=True,
    ui=ActionUI(label="Create widget (safe to repeat)", category="Widgets", icon="widgets"),
)
CREATE_CHECKED = ActionSpec(
    id="widgets.widgets.create_checked",
    version=1,
    input_model=CreateWidgetInput,
    output_model=WidgetOutput,
    handler=create_widget,
    reconcile=find_created_widget,
    side_effectful=True,
    ui=ActionUI(label="Create widget (with read-back)", category="Widgets", icon="widgets"),
)
CREATE_AFTER = ActionSpec(
    id="widgets.widgets.create_after",
    version=1,
    input_model=CreateAfterInput,
    output_model=WidgetOutput,
    handler=create_after,
    side_effectful=True,
    ui=ActionUI(label="Create widget after another", category="Widgets", icon="widgets"),
)
CREATE_NOTED = ActionSpec(
    id="widgets.widgets.create_noted",
    version=1,
    input_model=CreateNotedInput,
    output_model=WidgetOutput,
    handler=create_noted,
    side_effectful=True,
    ui=ActionUI(label="Create widget and note it", category="Widgets", icon="widgets"),
)
HANG = ActionSpec(
    id="widgets.debug.hang",
    version=1,
    input_model=HangInput,
    output_model=HangOutput,
    handler=hang,
    side_effectful=False,
    time_limit=1.0,
    ui=ActionUI(label="Hang", category="Widgets", icon="widgets"),
)
GET = ActionSpec(
    id="widgets.widgets.get",
    version=1,
    input_model=GetWidgetInput,
    output_model=WidgetOutput,
    handler=get_widget,
    side_effectful=False,
    ui=ActionUI(label="Get widget", category="Widgets", icon="widgets"),
)
RUN_JOB = ActionSpec(
    id="widgets.jobs.run",
    version=1,
    input_model=RunJobInput,
    output_model=JobOutput,
    handler=start_job,
    check=check_job,
    side_effectful=True,
    ui=ActionUI(label="Run job", category="Widgets", icon="widgets"),
)


def register_actions(actions: ActionRegistry) -> None:
    for spec in (
        CREATE,
        CREATE_SAFE,
        CREATE_CHECKED,
        CREATE_AFTER,
        CREATE_NOTED,
        HANG,
        GET,
        RUN_JOB,
    ):
        actions.register(spec)


def register(catalog: Catalog, *, rate_limit: str | None = None) -> None:
    register_vendor(
        catalog,
        Vendor(
            provider=PROVIDER,
            label="Widgets",
            connection="rmm",
            secret_names=(SECRET,),
            rate_limit=rate_limit,
            hosts=HOSTS,
        ),
    )
    register_integration_module(
        catalog,
        module=IntegrationModule(
            group_key=f"app:{PROVIDER}",
            label="Widgets",
            description="Test vendor.",
            icon_token="widgets",
            default_action_id=CREATE.id,
            allowed_action_ids=(
                CREATE.id,
                CREATE_SAFE.id,
                CREATE_CHECKED.id,
                CREATE_AFTER.id,
                CREATE_NOTED.id,
                HANG.id,
                GET.id,
                RUN_JOB.id,
            ),
            availability_key=f"rmm:{PROVIDER}",
        ),
        availability=rmm_integration_availability(PROVIDER),
        register_actions=register_actions,
    )


def widgets_catalog(rate_limit: str | None = None) -> Catalog:
    catalog = Catalog()
    register(catalog, rate_limit=rate_limit)
    return catalog
