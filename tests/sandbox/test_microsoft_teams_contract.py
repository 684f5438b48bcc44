"""Contract: FakeMicrosoft's Teams parts against Microsoft's own specs.

Reads, beside the repository, ``shared/vendor-specs/msgraph-v1.0-
sendActivityNotification-SUBSET.json`` (Graph's OpenAPI description of the
action, an extracted subset) and ``shared/vendor-specs/oas3/botframework-
connector.json`` (the Bot Connector's Swagger converted to OpenAPI 3, with
the Swagger 2.0 original for its security definition), and skips, saying
why, when they are absent.

Checks that the fake serves the specs' paths (Graph's namespace-qualified
one too; the connector's under its service-URL prefixes), that the action's
parameters and enums are the spec's, that the request bodies the behaviour
tests send validate against the specs' request schemas, and that every
answer (success and error) validates against the spec's response schema for
its status.

Validation uses ``jsonschema`` (Draft 4, as the Huntress contract test) on
the specs' schemas after a small, explicit patch layer (:func:`graph_schemas`,
:func:`connector_schemas`): OpenAPI's ``nullable`` becomes a JSON Schema
null, objects with properties forbid others so a misspelt field fails, and
where the generated Graph description cannot be taken literally the patch
says why.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import httpx
import pytest
from jsonschema import Draft4Validator

from sandbox.core import ManualClock
from sandbox.microsoft import FakeMicrosoft
from sandbox.microsoft.botconnector import ACTIVITY_TYPES
from sandbox.microsoft.teams import NOTIFICATION_PARAMETERS
from tests.sandbox.microsoft_support import BOT_SCOPE, CLIENT_ID, TENANT
from tests.sandbox.test_microsoft_teams import (
    ADELE,
    ALEX,
    BOT_ID,
    BOT_SECRET,
    CARD,
    CHANNEL,
    DEEP_LINK,
    NO_BOT_TEAM,
    SERVICE_BASE,
    TEAM,
    activities,
    bearer,
    channel_post,
    grant,
    notification,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
SPECS_DIR = REPO_ROOT.parent / "shared" / "vendor-specs"
GRAPH_SPEC = SPECS_DIR / "msgraph-v1.0-sendActivityNotification-SUBSET.json"
CONNECTOR_SPEC = SPECS_DIR / "oas3" / "botframework-connector.json"
CONNECTOR_ORIGINAL = SPECS_DIR / "botframework-connector-v3.1.json"
GRAPH_ACTION = "/users/{user-id}/teamwork/microsoft.graph.sendActivityNotification"
CREATE = "/v3/conversations"
SEND = "/v3/conversations/{conversationId}/activities"
# A path prefix of the connector: none, a region, or a region and a tenant.
PREFIX = re.compile(r"^(?:/\{region\})?(?:/\{tenant\})?(?=/v3/)")

Spec = dict[str, Any]

NOTIFICATIONS: list[dict[str, Any]] = [
    notification(),
    notification(chainId=7, iconId="taskCreatedId", teamsAppId="a-teams-app"),
    notification(
        topic={
            "@odata.type": "#microsoft.graph.teamworkActivityTopic",
            "source": "entityUrl",
            "value": f"https://graph.microsoft.com/v1.0/users/{ADELE}/teamwork",
        },
        previewText={"content": None, "contentType": "html"},
        templateParameters=[],
    ),
]
"""Bodies the fake accepts (each is sent to it below); the spec's schema must take them too."""
CONVERSATION_PARAMETERS: list[dict[str, Any]] = [
    channel_post(),
    channel_post(bot={"id": BOT_ID}, tenantId=TENANT, topicName="Patching"),
    {
        "isGroup": False,
        "members": [{"id": ADELE, "aadObjectId": ADELE}],
        "tenantId": TENANT,
        "activity": {"type": "message", "text": "Hello"},
    },
]
"""``POST /v3/conversations`` bodies the fake accepts (each is sent to it below)."""
ACTIVITIES: list[dict[str, Any]] = [
    {"type": "message", "text": "Ticket #42 escalated"},
    {"type": "message", "text": "Ticket #42 escalated", "attachments": [CARD]},
]
"""Activities the fake accepts (each is sent to it below)."""


def _load(path: Path) -> Spec:
    if not path.is_file():
        pytest.skip(
            f"Microsoft vendor spec not found at {path}: the contract test needs the "
            "shared/vendor-specs folder beside the repository"
        )
    loaded: Spec = json.loads(path.read_text(encoding="utf-8"))
    return loaded


@pytest.fixture(scope="module")
def graph_spec() -> Spec:
    return _load(GRAPH_SPEC)


@pytest.fixture(scope="module")
def connector_spec() -> Spec:
    return _load(CONNECTOR_SPEC)


@pytest.fixture(scope="module")
def connector_original() -> Spec:
    return _load(CONNECTOR_ORIGINAL)


# -- the patch layer and the validator ---------------------------------------------------


def _nullable(node: Any) -> Any:
    """OpenAPI 3.0's ``nullable: true`` as JSON Schema: the schema or null."""
    if isinstance(node, list):
        return [_nullable(n) for n in node]
    if not isinstance(node, dict):
        return node
    converted = {k: _nullable(v) for k, v in node.items()}
    if converted.pop("nullable", False):
        return {"anyOf": [converted, {"type": "null"}]}
    return converted


def _closed(schema: dict[str, Any], *, annotations: bool = False) -> None:
    """Objects with properties forbid others (OData instance annotations aside, if asked)."""
    if not schema.get("properties"):
        return
    schema["additionalProperties"] = False
    if annotations:
        schema["patternProperties"] = {"^@": {}}


def graph_schemas(spec: Spec) -> dict[str, Any]:
    """The Graph subset's schemas, patched; the action's request body as ``"request"``.

    - ``additionalProperties: {"type": "object"}``, which Microsoft's OpenAPI
      generator puts on every schema, is not the contract: the action's
      parameters and its complex types are closed (OData refuses an unknown
      parameter, and ``recipient`` is not one of this action, as the
      reference says). They become ``false``, instance annotations allowed.
    - The request body gains ``iconId`` (Edm.String), which the CSDL declares
      and this PowerShell-derived copy lacks (its ``x-extraction.known_gap``).
    - ``InnerError`` ("service-specific") takes any values: Graph sends
      strings there (``date``, ``request-id``), which the generated
      ``{"type": "object"}`` would refuse.
    """
    schemas: dict[str, Any] = copy.deepcopy(spec["components"]["schemas"])
    request = copy.deepcopy(
        spec["paths"][GRAPH_ACTION]["post"]["requestBody"]["content"]["application/json"]["schema"]
    )
    request["properties"]["iconId"] = {"type": "string", "nullable": True}
    schemas["request"] = request
    for name, schema in schemas.items():
        if name == "microsoft.graph.ODataErrors.InnerError":
            schema["additionalProperties"] = {}
        else:
            _closed(schema, annotations=not name.startswith("microsoft.graph.ODataErrors"))
    converted: dict[str, Any] = _nullable(schemas)
    return converted


def connector_schemas(spec: Spec) -> dict[str, Any]:
    """The connector's schemas, objects with properties closed (the spec leaves them open)."""
    schemas: dict[str, Any] = copy.deepcopy(spec["components"]["schemas"])
    for schema in schemas.values():
        _closed(schema)
        for prop in schema.get("properties", {}).values():
            _closed(prop)
    converted: dict[str, Any] = _nullable(schemas)
    return converted


def problems(schemas: Mapping[str, Any], value: Any, schema: Mapping[str, Any]) -> list[str]:
    """Every way ``value`` breaks ``schema`` (refs into ``#/components/schemas``)."""
    root = {**_nullable(dict(schema)), "components": {"schemas": schemas}}
    validator = Draft4Validator(root)
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(value)]


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


# -- the fake -------------------------------------------------------------------------------


@pytest.fixture
def fake() -> FakeMicrosoft:
    ms = FakeMicrosoft(clock=ManualClock(), epoch_origin=1_800_000_000.0)
    ms.add_tenant(TENANT)
    ms.add_app(TENANT, CLIENT_ID, "graph-secret")
    ms.add_user(ADELE, "adele@contoso.test", tenant_id=TENANT)
    ms.add_user(ALEX, "alex@contoso.test", tenant_id=TENANT)
    ms.install_teams_app(ADELE, CLIENT_ID, activity_types=["workEscalated"])
    ms.add_bot(BOT_ID, BOT_SECRET)
    ms.add_team(TEAM, channels={TEAM: "General", CHANNEL: "Service Desk"}, bot_app_ids=[BOT_ID])
    ms.add_team(NO_BOT_TEAM, channels=[NO_BOT_TEAM])
    return ms


@pytest.fixture
def graph(fake: FakeMicrosoft) -> Iterator[httpx.Client]:
    token = fake.issue_token(TENANT, CLIENT_ID)
    with httpx.Client(
        transport=fake.transport(), base_url="https://graph.test/v1.0/", headers=bearer(token)
    ) as client:
        yield client


@pytest.fixture
def bot(fake: FakeMicrosoft) -> Iterator[httpx.Client]:
    with httpx.Client(transport=fake.transport(), base_url="https://login.test") as login:
        token = login.post(
            "/botframework.com/oauth2/v2.0/token", data=grant(BOT_ID, BOT_SECRET, BOT_SCOPE)
        ).json()["access_token"]
    with httpx.Client(
        transport=fake.transport(), base_url=fake.service_url(SERVICE_BASE), headers=bearer(token)
    ) as client:
        yield client


# -- Graph: sendActivityNotification ---------------------------------------------------------


def test_the_fake_serves_the_specs_action_path_and_the_documented_one(graph_spec: Spec) -> None:
    (server,) = graph_spec["servers"]
    assert server["url"] == "https://graph.microsoft.com/v1.0/"
    assert list(graph_spec["paths"]) == [GRAPH_ACTION]
    assert list(graph_spec["paths"][GRAPH_ACTION]) == ["post"]
    served = {path for method, path in FakeMicrosoft().routes if method == "POST"}
    as_served = "/v1.0" + GRAPH_ACTION.replace("{user-id}", "{user}")
    assert as_served in served
    assert as_served.replace("microsoft.graph.", "") in served
    assert "unqualified" in graph_spec["info"]["x-extraction"]["runtime_path_note"]


def test_the_actions_parameters_and_enums_are_the_specs(graph_spec: Spec) -> None:
    op = graph_spec["paths"][GRAPH_ACTION]["post"]
    assert op["requestBody"]["required"] is True
    declared = set(op["requestBody"]["content"]["application/json"]["schema"]["properties"])
    assert "iconId" in graph_spec["info"]["x-extraction"]["known_gap"]
    assert set(NOTIFICATION_PARAMETERS) == declared | {"iconId"}
    assert "recipient" not in declared
    schemas = graph_spec["components"]["schemas"]
    topic = schemas["microsoft.graph.teamworkActivityTopic"]["properties"]
    assert set(topic) == {"source", "value", "webUrl"}
    assert schemas["microsoft.graph.teamworkActivityTopicSource"]["enum"] == ["entityUrl", "text"]
    assert schemas["microsoft.graph.bodyType"]["enum"] == ["text", "html"]
    assert set(schemas["microsoft.graph.keyValuePair"]["properties"]) == {"name", "value"}
    assert "required when source is text" in topic["webUrl"]["description"]


def test_the_bodies_the_tests_send_are_the_specs_and_recipient_is_not(graph_spec: Spec) -> None:
    schemas = graph_schemas(graph_spec)
    request = schemas["request"]
    for body in NOTIFICATIONS:
        assert problems(schemas, body, request) == []
    assert problems(schemas, notification(chainId="7"), request)
    assert problems(schemas, notification(topic={"source": "url", "value": "x"}), request)
    assert problems(schemas, notification(templateParameters=None), request)

    # The reference's body: the literal (generated) spec lets any extra object through ...
    reference = notification(
        recipient={"@odata.type": "microsoft.graph.aadUserNotificationRecipient", "userId": ADELE}
    )
    literal = graph_spec["paths"][GRAPH_ACTION]["post"]["requestBody"]["content"][
        "application/json"
    ]["schema"]
    literal_schemas = _nullable(graph_spec["components"]["schemas"])
    assert problems(literal_schemas, reference, literal) == []
    # ... the action's closed parameters do not, and neither does the fake.
    assert problems(schemas, reference, request)


def check_graph(graph_spec: Spec, answer: httpx.Response) -> None:
    """A Graph answer against the action's responses: ``2XX`` without a body, else ODataError."""
    responses = graph_spec["paths"][GRAPH_ACTION]["post"]["responses"]
    if 200 <= answer.status_code < 300:
        assert "content" not in responses["2XX"]
        assert answer.content == b""
        return
    assert responses["default"]["$ref"] == "#/components/responses/error"
    error = graph_spec["components"]["responses"]["error"]
    schema = error["content"]["application/json"]["schema"]
    assert answer.headers["Content-Type"].startswith("application/json")
    assert problems(graph_schemas(graph_spec), answer.json(), schema) == []


def test_every_answer_of_the_action_validates_against_the_spec(
    graph_spec: Spec, fake: FakeMicrosoft, graph: httpx.Client
) -> None:
    action = f"users/{ADELE}/teamwork/sendActivityNotification"
    qualified = f"users/{ADELE}/teamwork/microsoft.graph.sendActivityNotification"
    bot_token = fake.issue_token(TENANT, CLIENT_ID, resource="https://api.botframework.com")
    cases: list[tuple[str, Any, dict[str, str], int]] = [
        (action, notification(), {}, 204),
        (qualified, notification(), {}, 204),
        (action, notification(recipient={"userId": ADELE}), {}, 400),
        (action, notification(previewText=None), {}, 400),
        (action, notification(activityType="slaRiskDetected"), {}, 400),
        (action, None, {}, 400),
        (action, notification(), bearer(bot_token), 401),
        (action, notification(), {"Authorization": ""}, 401),
        (f"users/{ALEX}/teamwork/sendActivityNotification", notification(), {}, 403),
        ("users/ghost/teamwork/sendActivityNotification", notification(), {}, 404),
    ]
    cases += [(action, body, {}, 204) for body in NOTIFICATIONS]
    for path, body, headers, status in cases:
        answer = graph.post(path, json=body, headers=headers)
        assert answer.status_code == status, (path, body, answer.text)
        check_graph(graph_spec, answer)
    fake.install_teams_app(ADELE, CLIENT_ID, teams_app_id="second")
    conflict = graph.post(action, json=notification())
    assert conflict.status_code == 409
    check_graph(graph_spec, conflict)
    assert len(fake.notifications()) == 2 + len(NOTIFICATIONS)
    assert fake.notifications()[0]["topic"]["webUrl"] == DEEP_LINK


def test_graph_is_oauth2_with_the_identity_platforms_token_endpoint(graph_spec: Spec) -> None:
    scheme = graph_spec["components"]["securitySchemes"]["azureaadv2"]
    assert scheme["type"] == "oauth2"
    token_url = scheme["flows"]["authorizationCode"]["tokenUrl"]
    assert token_url == "https://login.microsoftonline.com/common/oauth2/v2.0/token"
    assert ("POST", "/{tenant}/oauth2/v2.0/token") in FakeMicrosoft().routes


# -- Bot Connector -------------------------------------------------------------------------------


def test_every_connector_route_is_a_spec_operation_under_a_service_url_prefix(
    connector_spec: Spec,
) -> None:
    connector = [
        (method, PREFIX.sub("", path)) for method, path in FakeMicrosoft().routes if "/v3/" in path
    ]
    assert len(connector) == 6  # two operations under three prefixes
    operations = {
        (method, path.replace("{conversation_id}", "{conversationId}"))
        for method, path in connector
    }
    assert operations == {("POST", CREATE), ("POST", SEND)}
    ids = {connector_spec["paths"][p][m.lower()]["operationId"] for m, p in operations}
    assert ids == {"Conversations_CreateConversation", "Conversations_SendToConversation"}
    (param,) = connector_spec["paths"][SEND]["post"]["parameters"]
    assert (param["name"], param["in"], param["schema"]["type"]) == (
        "conversationId",
        "path",
        "string",
    )


def test_the_connectors_schemas_are_what_the_fake_reads(connector_spec: Spec) -> None:
    schemas = connector_spec["components"]["schemas"]
    parameters = set(schemas["ConversationParameters"]["properties"])
    # The spec spells it tenantId (the reference's "tenantID" is not the spec's).
    assert parameters == {
        "isGroup",
        "bot",
        "members",
        "topicName",
        "tenantId",
        "activity",
        "channelData",
    }
    assert tuple(schemas["ActivityTypes"]["enum"]) == ACTIVITY_TYPES
    assert set(schemas["ConversationResourceResponse"]["properties"]) == {
        "id",
        "activityId",
        "serviceUrl",
    }
    assert set(schemas["Error"]["properties"]) == {"code", "message", "innerHttpError"}


def test_the_bodies_the_tests_send_are_the_specs(connector_spec: Spec) -> None:
    schemas = connector_schemas(connector_spec)
    create = connector_spec["paths"][CREATE]["post"]["requestBody"]
    create_schema = create["content"]["application/json"]["schema"]
    body_ref = connector_spec["paths"][SEND]["post"]["requestBody"]["$ref"]
    activity_body = connector_spec["components"]["requestBodies"][body_ref.rsplit("/", 1)[-1]]
    activity_schema = activity_body["content"]["application/json"]["schema"]
    assert create["required"] is activity_body["required"] is True

    for body in CONVERSATION_PARAMETERS:
        assert problems(schemas, body, create_schema) == []
    for body in ACTIVITIES:
        assert problems(schemas, body, activity_schema) == []
    assert problems(schemas, channel_post(tenantID=TENANT), create_schema)  # a misspelling fails
    assert problems(schemas, {"type": "message", "txt": "x"}, activity_schema)


def check_connector(connector_spec: Spec, answer: httpx.Response) -> dict[str, Any]:
    """A connector answer against its operation's response for that status (or ``default``)."""
    template = SEND if answer.request.url.path.endswith("/activities") else CREATE
    responses = connector_spec["paths"][template]["post"]["responses"]
    declared = responses.get(str(answer.status_code))
    if answer.is_success:
        assert declared is not None, (template, answer.status_code)
    else:
        declared = responses["default"]
    schema = declared["content"]["application/json"]["schema"]
    body: dict[str, Any] = answer.json()
    assert problems(connector_schemas(connector_spec), body, schema) == []
    return body


def test_every_answer_of_the_connector_validates_against_the_spec(
    connector_spec: Spec, fake: FakeMicrosoft, bot: httpx.Client
) -> None:
    dm = fake.add_personal_conversation(ADELE, BOT_ID, tenant_id=TENANT)
    thread = check_connector(connector_spec, bot.post("v3/conversations", json=channel_post()))
    assert set(thread) == {"id", "activityId"}
    assert thread["id"] == f"{CHANNEL};messageid={thread['activityId']}"
    personal = {"isGroup": False, "members": [{"aadObjectId": ADELE}], "tenantId": TENANT}
    assert check_connector(connector_spec, bot.post("v3/conversations", json=personal)) == {
        "id": dm
    }
    for body in CONVERSATION_PARAMETERS:
        check_connector(connector_spec, bot.post("v3/conversations", json=body))
    text = {"type": "message", "text": "x"}
    for conversation in (thread["id"], CHANNEL, dm):
        for activity in (text, *ACTIVITIES):
            sent = check_connector(
                connector_spec, bot.post(activities(conversation), json=activity)
            )
            assert set(sent) == {"id"}
    graph_token = fake.issue_token(TENANT, CLIENT_ID)
    refusals: list[tuple[str, Any, dict[str, str], int]] = [
        ("v3/conversations", channel_post(activity=None), {}, 400),
        ("v3/conversations", channel_post(bot={"id": "28:someone-else"}), {}, 400),
        ("v3/conversations", channel_post(), bearer(graph_token), 401),
        ("v3/conversations", channel_post(NO_BOT_TEAM), {}, 403),
        ("v3/conversations", channel_post("19:nope@thread.tacv2"), {}, 404),
        (activities(dm), {"type": "message"}, {}, 400),
        (activities(dm), None, {}, 400),
        (activities(dm), text, {"Authorization": ""}, 401),
        (activities(NO_BOT_TEAM), text, {}, 403),
        (activities("a:1unknown"), text, {}, 404),
    ]
    for path, body, headers, status in refusals:
        answer = bot.post(path, json=body, headers=headers)
        assert answer.status_code == status, (unquote(path), answer.text)
        check_connector(connector_spec, answer)


def test_the_connectors_auth_is_a_bearer_token_in_the_authorization_header(
    connector_original: Spec, connector_spec: Spec
) -> None:
    for scheme in (
        connector_original["securityDefinitions"]["bearer_auth"],
        connector_spec["components"]["securitySchemes"]["bearer_auth"],
    ):
        assert (scheme["type"], scheme["in"], scheme["name"]) == (
            "apiKey",
            "header",
            "Authorization",
        )
    assert connector_original["info"]["title"] == "Microsoft Bot Connector API - v3.1"
