"""Microsoft Teams set-up beyond ``patchbay connect teams``: linked users and conversations.

``teams link-user`` records which Microsoft account (Entra object id) a user
is, so ``teams.notify_user`` and ``teams.send_dm`` can reach them; ``teams
reference add`` records a conversation the bot can reach (as the bot's
inbound endpoint will, from the activities Teams sends), at a Bot Connector
service URL that must be Microsoft's (``integrations.teams.service_urls``:
the bot's token goes there; loopback only in sandbox mode). ``teams users``
and ``teams reference list`` show what is recorded.

The helpers :func:`link_teams_user` and :func:`add_reference` return the line
to print, so ``sandbox connect`` records the sandbox's demo the same way.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Annotated, Any

import typer

from actionkit.errors import IntegrationMisconfigured
from integrations.teams.connection import AAD_TENANT, GUID
from integrations.teams.service_urls import trusted_service_url
from patchbay.cli.common import (
    JsonFlag,
    TenantOption,
    command_runtime,
    fail_usage,
    print_json,
    require_tenant_or_exit,
    stdout,
)
from patchbay.cli.tables import FitTable, WideFlag
from store import teams as stored
from store.tenants import TenantError, require_tenant
from store.users import find_user

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from patchbay.runtime import Runtime
    from store.models import User

UserOption = Annotated[str, typer.Option("--user", help="User id or username.")]
MicrosoftUserOption = Annotated[
    str,
    typer.Option(
        "--microsoft-user",
        help="The user's Microsoft Entra object id (a GUID, as Entra and Teams show it).",
    ),
]

_GUID = re.compile(GUID)
_AAD_TENANT = re.compile(AAD_TENANT)
_SERVICE_URL_EXAMPLE = "https://smba.trafficmanager.net/amer/"


def entra_object_id(value: str, option: str = "--microsoft-user") -> str:
    """``value`` as an Entra object id (lower case), else exit 2 naming ``option``."""
    text = value.strip()
    if not _GUID.fullmatch(text):
        fail_usage(
            f"{option} must be a Microsoft Entra object id, a GUID such as "
            f"00000000-0000-0000-0000-000000000000 (not {text!r})"
        )
    # Entra ids are case-insensitive; one spelling keeps a link and its references matching.
    return text.lower()


def _user_or_exit(session: Session, tenant: str, user: str) -> User:
    """The tenant's user named ``user`` (id or username), else exit 2 naming it."""
    try:
        require_tenant(session, tenant)
    except TenantError as exc:
        fail_usage(str(exc))
    found = find_user(session, tenant, user.strip())
    if found is None:
        fail_usage(f"unknown user {user!r} in tenant {tenant!r} (patchbay user list --tenant ...)")
    return found


# -- linked users -------------------------------------------------------------------------


def link_teams_user(
    rt: Runtime, tenant: str, user: str, microsoft_user: str, *, email: str | None = None
) -> str:
    """Link ``user`` to the Microsoft account ``microsoft_user``; the line to print.

    Exits 2 on an unknown tenant or user, an id that is not a GUID, or an
    account already linked to another user of the tenant (notifications meant
    for one would reach the other).
    """
    account_id = entra_object_id(microsoft_user)
    if email is not None and "@" not in email.strip():
        fail_usage(f"--email must be an email address (not {email!r})")
    with rt.store.sessions.begin() as session:
        found = _user_or_exit(session, tenant, user)
        for other, account in stored.linked_users(session, tenant):
            if account.provider_account_id.lower() == account_id and other.user_id != found.user_id:
                fail_usage(
                    f"Microsoft account {account_id} is already linked to user "
                    f"{other.username!r} in tenant {tenant!r}: unlink it first "
                    f"(patchbay teams unlink-user --tenant {tenant} --user {other.username})"
                )
        before = stored.linked_account(session, tenant, found.user_id)
        stored.link_user(
            session, tenant, found.user_id, account_id, email=email.strip() if email else None
        )
        username = found.username
    shown = f"{account_id} ({email.strip()})" if email else account_id
    was = f" (was {before})" if before and before.lower() != account_id else ""
    return f"linked {username} to Microsoft account {shown}{was}"


def link_user_cmd(
    tenant: TenantOption,
    user: UserOption,
    microsoft_user: MicrosoftUserOption,
    email: Annotated[
        str | None, typer.Option("--email", help="The account's email (shown, never sent to).")
    ] = None,
) -> None:
    """Link a user to their Microsoft account (Entra object id), so Teams steps can reach them."""
    with command_runtime() as rt:
        line = link_teams_user(rt, tenant, user, microsoft_user, email=email)
    typer.echo(line)


def unlink_user_cmd(tenant: TenantOption, user: UserOption) -> None:
    """Forget a user's linked Microsoft account (Teams steps then cannot reach them)."""
    with command_runtime() as rt, rt.store.sessions.begin() as session:
        found = _user_or_exit(session, tenant, user)
        before = stored.linked_account(session, tenant, found.user_id)
        changed = stored.unlink_user(session, tenant, found.user_id)
        username = found.username
    if changed:
        typer.echo(f"unlinked {username} from Microsoft account {before}")
    else:
        typer.echo(f"was not linked: {username} has no Microsoft account")


def users_cmd(tenant: TenantOption, as_json: JsonFlag = False, wide: WideFlag = False) -> None:
    """The tenant's users with a linked Microsoft account (Teams can reach them)."""
    with command_runtime() as rt, rt.store.sessions() as session:
        require_tenant_or_exit(session, tenant)
        rows = [
            {
                "user_id": str(user.user_id),
                "username": user.username,
                "microsoft_user_id": account.provider_account_id,
                "email": account.provider_email,
                "active": not user.is_inactive,
            }
            for user, account in stored.linked_users(session, tenant)
        ]
    if as_json:
        print_json(rows)
        return
    if not rows:
        typer.echo(
            f"no user of tenant {tenant} has a linked Microsoft account "
            f"(patchbay teams link-user --tenant {tenant} --user ... --microsoft-user ...)"
        )
        return
    table = FitTable(
        ("username", "microsoft user id", "email"), idents=("username", "microsoft user id")
    )
    for r in rows:
        state = "" if r["active"] else "\ninactive"
        table.add(str(r["username"]), str(r["microsoft_user_id"]), f"{r['email'] or '-'}{state}")
    table.print(stdout, wide=wide)


# -- conversation references --------------------------------------------------------------


def add_reference(
    rt: Runtime,
    tenant: str,
    *,
    microsoft_user: str,
    conversation: str,
    conversation_type: str,
    service_url: str,
    aad_tenant: str | None = None,
    team: str | None = None,
    channel: str | None = None,
) -> str:
    """Record one conversation the bot can reach; the line to print.

    Exits 2 on an unknown tenant, a malformed id or type, or a service URL the
    bot's token may not go to (with the reason; nothing is stored).
    """
    account_id = entra_object_id(microsoft_user)
    conversation_id = conversation.strip()
    if not conversation_id:
        fail_usage("--conversation must name the conversation id (e.g. a:1... or 19:...)")
    if conversation_type not in stored.CONVERSATION_TYPES:
        fail_usage(
            f"--type must be one of {', '.join(stored.CONVERSATION_TYPES)} "
            f"(not {conversation_type!r})"
        )
    aad = aad_tenant.strip() if aad_tenant else None
    if aad is not None and not _AAD_TENANT.fullmatch(aad):
        fail_usage(
            f"--aad-tenant must be an Entra tenant id (a GUID) or domain such as "
            f"contoso.onmicrosoft.com (not {aad!r})"
        )
    url = _trusted_or_exit(service_url, sandbox=rt.settings.sandbox)
    team_id = team.strip() if team and team.strip() else None
    channel_id = channel.strip() if channel and channel.strip() else None
    with rt.store.sessions.begin() as session:
        try:
            require_tenant(session, tenant)
            stored.record_reference(
                session,
                tenant,
                microsoft_user_id=account_id,
                conversation_id=conversation_id,
                conversation_type=conversation_type,
                service_url=url,
                tenant_id_aad=aad,
                team_id=team_id,
                channel_id=channel_id,
            )
        except (TenantError, stored.TeamsSetupError) as exc:
            fail_usage(str(exc))
    where = f" in team {team_id}" if team_id else ""
    return (
        f"recorded {conversation_type} conversation {conversation_id}{where} "
        f"for Microsoft user {account_id} at {url}"
    )


def _trusted_or_exit(service_url: str, *, sandbox: bool) -> str:
    """The service URL as the steps will use it, or exit 2 saying why the bot's token may not go."""
    try:
        return trusted_service_url(service_url.strip(), sandbox=sandbox)
    except IntegrationMisconfigured as exc:
        why = (exc.details or {}).get("refused") or exc.message
        hint = "" if sandbox else " (a loopback fake only in sandbox mode, PATCHBAY_SANDBOX=1)"
        fail_usage(
            f"refusing --service-url: {why}. A Teams service URL is https on Microsoft's Bot "
            f"Connector hosts, e.g. {_SERVICE_URL_EXAMPLE}{hint}"
        )


def reference_add_cmd(
    tenant: TenantOption,
    microsoft_user: MicrosoftUserOption,
    conversation: Annotated[
        str,
        typer.Option(
            "--conversation", help="The conversation id (a:... personal, 19:... chat or channel)."
        ),
    ],
    conversation_type: Annotated[
        str, typer.Option("--type", help="personal, groupChat or channel.")
    ],
    service_url: Annotated[
        str,
        typer.Option(
            "--service-url",
            help=f"The Bot Connector service URL Teams gave with it (e.g. {_SERVICE_URL_EXAMPLE}).",
        ),
    ],
    aad_tenant: Annotated[
        str | None, typer.Option("--aad-tenant", help="The conversation's Entra tenant.")
    ] = None,
    team: Annotated[
        str | None, typer.Option("--team", help="The team's id (19:...), for a channel.")
    ] = None,
    channel: Annotated[
        str | None, typer.Option("--channel", help="The channel's id (19:...), for a channel.")
    ] = None,
) -> None:
    """Record a conversation the Teams bot can reach, at a trusted Bot Connector service URL."""
    with command_runtime() as rt:
        line = add_reference(
            rt,
            tenant,
            microsoft_user=microsoft_user,
            conversation=conversation,
            conversation_type=conversation_type,
            service_url=service_url,
            aad_tenant=aad_tenant,
            team=team,
            channel=channel,
        )
    typer.echo(line)


def reference_remove_cmd(
    tenant: TenantOption,
    microsoft_user: MicrosoftUserOption,
    conversation: Annotated[str, typer.Option("--conversation", help="The conversation id.")],
) -> None:
    """Forget a conversation reference (the bot then no longer posts there)."""
    account_id = entra_object_id(microsoft_user)
    with command_runtime() as rt, rt.store.sessions.begin() as session:
        require_tenant_or_exit(session, tenant)
        changed = stored.delete_reference(
            session, tenant, microsoft_user_id=account_id, conversation_id=conversation.strip()
        )
    state = "forgot" if changed else "was not recorded:"
    typer.echo(f"{state} conversation {conversation.strip()} of Microsoft user {account_id}")


def reference_list_cmd(
    tenant: TenantOption, as_json: JsonFlag = False, wide: WideFlag = False
) -> None:
    """The tenant's Teams conversation references, latest activity first."""
    with command_runtime() as rt, rt.store.sessions() as session:
        require_tenant_or_exit(session, tenant)
        usernames = {
            account.provider_account_id.lower(): user.username
            for user, account in stored.linked_users(session, tenant)
        }
        rows: list[dict[str, Any]] = []
        for ref in stored.list_references(session, tenant):
            context = ref.context if isinstance(ref.context, dict) else {}
            rows.append(
                {
                    "microsoft_user_id": ref.microsoft_user_id,
                    "username": usernames.get(ref.microsoft_user_id.lower()),
                    "conversation_id": ref.conversation_id,
                    "type": ref.conversation_type,
                    "service_url": ref.service_url,
                    "aad_tenant": ref.tenant_id_aad,
                    "team_id": context.get("team_id"),
                    "channel_id": context.get("channel_id"),
                    "last_activity_at": (
                        ref.last_activity_at.isoformat() if ref.last_activity_at else None
                    ),
                }
            )
    if as_json:
        print_json(rows)
        return
    if not rows:
        typer.echo(
            f"no Teams conversation recorded for tenant {tenant} "
            f"(patchbay teams reference add --tenant {tenant} ...)"
        )
        return
    # The Microsoft user id is what ``reference remove`` takes: it keeps its width; the
    # long conversation ids fold (``--wide`` or ``--json`` to copy one whole).
    table = FitTable(
        ("microsoft user", "conversation", "type, service url"), idents=("microsoft user",)
    )
    for r in rows:
        user = str(r["microsoft_user_id"]) + (f"\n({r['username']})" if r["username"] else "")
        where = str(r["conversation_id"]) + (f"\nin team {r['team_id']}" if r["team_id"] else "")
        table.add(user, where, f"{r['type']}\n{r['service_url']}")
    table.print(stdout, wide=wide)
