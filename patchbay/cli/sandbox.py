"""The fake vendors and the demo: ``sandbox`` (serve), ``sandbox connect`` and ``demo``.

The sandbox listens on fixed ports, so a restart gives the same URLs and a
tenant connected to it stays connected: NinjaOne on :data:`SANDBOX_PORT`,
Microsoft on the next, Tactical RMM on the one after (``sandbox.registry.FAKES``
order), ``--port`` to move them. ``sandbox connect`` connects a tenant to
every fake of a running sandbox with credentials the fakes mint for it: first
each tenant-wide vendor (NinjaOne, Tactical RMM) through ``patchbay
connect``'s own path (checked, stored in one transaction), then a per-user
calendar (Microsoft 365) through ``patchbay calendar connect``'s, for one
technician (created if missing), and last Teams against the Microsoft fake
(``patchbay connect teams`` with the minted app and the demo bot), the
technician linked to the demo's Adele and her demo conversations recorded
(``patchbay teams link-user`` and ``teams reference add``).
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated

import typer

from patchbay.cli.common import TenantOption, fail_usage, stdout

if TYPE_CHECKING:  # the sandbox's modules load only when a sandbox command runs
    from collections.abc import Mapping

    from patchbay.runtime import Runtime
    from patchbay.sandboxes import SandboxRun

SANDBOX_PORT = 8790
"""The sandbox's default first port: NinjaOne; the next ones in ``sandbox.registry.FAKES`` order.

Microsoft on 8791, Tactical RMM on 8792, Level on 8793, Huntress on 8794.
"""
SANDBOX_USER = "tech1"
"""The technician whose calendar ``sandbox connect`` connects unless told otherwise."""

PortOption = Annotated[
    int,
    typer.Option(
        "--port",
        help=f"First port: NinjaOne on it, Microsoft on the next, Tactical RMM on the one "
        f"after (default {SANDBOX_PORT}; 0: any free ports).",
    ),
]


def _print_sandbox(run: SandboxRun, port: int, tenant: str) -> None:
    from sandbox.core import CONTROL_ENDPOINTS

    stdout.print("[bold]patchbay sandbox[/] (fake vendors; Ctrl-C to stop)")
    width = max(map(len, run.servers), default=0)
    for vendor, server in run.servers.items():
        stdout.print(f"  {vendor:{width}} {server.base_url}")
    moved = "" if port == SANDBOX_PORT else f" --port {port}"
    typer.echo(
        f"\nConnect a tenant, and technician {SANDBOX_USER}'s Microsoft 365 calendar, to every "
        f"fake,\nTeams too ({SANDBOX_USER} linked to the demo's Adele), with fresh credentials "
        f"each time\n(another shell; {SANDBOX_USER} is created if missing, --user NAME for "
        "another):"
    )
    typer.echo("  export PATCHBAY_SANDBOX=1")
    typer.echo(f"  patchbay sandbox connect --tenant {tenant}{moved}")
    typer.echo("\nOr by hand (NinjaOne's refresh token below works once: it rotates on use):")
    for line in run.connect_lines(tenant):
        typer.echo(f"  {line}")
    typer.echo("\nEvery fake's admin endpoints, under its URL:")
    for method, path, what in CONTROL_ENDPOINTS:
        typer.echo(f"  {method:6} {path:24} {what}")
    for name, fake in run.fakes.items():
        for method, path, what in getattr(fake, "control_endpoints", ()):
            typer.echo(f"  {method:6} {path:24} {what} ({name} only)")
    sys.stdout.flush()


def sandbox_cmd(
    ctx: typer.Context,
    port: PortOption = SANDBOX_PORT,
    tenant: Annotated[str, typer.Option("--tenant", help="Tenant id for the printed lines.")] = (
        "demo"
    ),
) -> None:
    """Serve every fake vendor on loopback until Ctrl-C, and print how to connect to them."""
    if ctx.invoked_subcommand is not None:
        return
    import signal
    import threading

    from patchbay.sandboxes import PortInUse, start_sandbox

    try:
        run = start_sandbox(port)
    except PortInUse as exc:
        fail_usage(
            f"port {exc.port} is in use (the sandbox needs {port} and the ports after it): "
            "stop what holds it (another patchbay sandbox?) or move the sandbox with --port N"
        )
    except OSError as exc:
        fail_usage(f"cannot listen on port {port}: {exc.strerror}")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        _print_sandbox(run, port, tenant)
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        run.stop()


def sandbox_connect_cmd(
    tenant: TenantOption,
    port: Annotated[
        int,
        typer.Option(
            "--port", help=f"The first port the sandbox serves on (default {SANDBOX_PORT})."
        ),
    ] = SANDBOX_PORT,
    user: Annotated[
        str,
        typer.Option(
            "--user",
            help="Technician whose Microsoft 365 calendar to connect and whom to link to the "
            "demo's Microsoft account in Teams (created if missing).",
        ),
    ] = SANDBOX_USER,
) -> None:
    """Connect a tenant (created if missing), a technician's calendar and Teams to every fake."""
    from pydantic import SecretStr

    from patchbay.cli.admin import connect_user_calendar
    from patchbay.cli.common import command_runtime
    from patchbay.cli.connections import check_vendor_url, connect_vendor
    from patchbay.sandboxes import NoSandbox, mint_sandbox_credentials
    from store.calendars import CALENDAR_PROVIDERS
    from store.tenants import TenantError, create_tenant, get_tenant

    if not user.strip():
        fail_usage(f"--user must name a user (default {SANDBOX_USER})")
    with command_runtime() as rt:
        if not rt.settings.sandbox:
            fail_usage(
                "sandbox connect needs sandbox mode: export PATCHBAY_SANDBOX=1 (for every "
                "patchbay command and worker that talks to the sandbox)"
            )
        try:
            minted = mint_sandbox_credentials(port, rt.catalog)
        except NoSandbox as exc:
            fail_usage(
                f"no patchbay sandbox answers at {exc.url} ({exc.reason}): start "
                f"`patchbay sandbox{'' if port == SANDBOX_PORT else f' --port {port}'}` first"
            )
        try:
            with rt.store.sessions.begin() as session:
                created = get_tenant(session, tenant) is None
                if created:
                    create_tenant(session, tenant, None)
        except TenantError as exc:
            fail_usage(str(exc))
        if created:
            typer.echo(f"created tenant {tenant}")
        # Tenant-wide connections first, then the technician's calendar (and its user).
        for vendor, url, credentials in sorted(minted, key=lambda m: not m[0].connectable):
            assert vendor.sandbox_secrets is not None
            secrets = [(n, SecretStr(v)) for n, v in vendor.sandbox_secrets(credentials).items()]
            if vendor.connectable:
                for line in connect_vendor(
                    rt,
                    vendor,
                    tenant,
                    url=check_vendor_url(url, vendor.hosts, rt.settings),
                    allow_custom_host=False,
                    secrets=secrets,
                    check=True,
                ):
                    typer.echo(line)
            elif vendor.provider in CALENDAR_PROVIDERS:
                # Connected per user: the fake's login and Graph share one URL.
                _ensure_technician(rt, tenant, user)
                typer.echo(
                    connect_user_calendar(
                        rt,
                        tenant,
                        user,
                        account=credentials["account"],
                        aad_tenant=credentials["tenant_id"],
                        login_url=url,
                        graph_url=url,
                        secrets=secrets,
                    )
                )
        # Teams last: the Microsoft fake serves it too, with the app minted above.
        microsoft = next(((u, c) for v, u, c in minted if v.provider == "microsoft"), None)
        if microsoft is not None:
            _connect_teams(rt, tenant, user, *microsoft)


def _ensure_technician(rt: Runtime, tenant: str, user: str) -> None:
    """Create ``user`` as a technician of ``tenant`` unless it exists (and say so)."""
    from store.tenants import TenantError
    from store.users import create_user, find_user

    try:
        with rt.store.sessions.begin() as session:
            added = find_user(session, tenant, user) is None
            if added:
                create_user(session, tenant, user, technician=True)
    except TenantError as exc:
        fail_usage(str(exc))
    if added:
        typer.echo(f"created technician {user} in tenant {tenant}")


def _connect_teams(
    rt: Runtime, tenant: str, user: str, url: str, credentials: Mapping[str, str]
) -> None:
    """Connect Teams to the Microsoft fake at ``url``, link ``user``, record the demo's chats.

    The profile app is the one minted for this connect (``credentials``: the
    demo Teams app is installed for Adele under it), the bot is the demo's;
    ``user`` is linked to Adele's Entra id, and Adele's personal chat and the
    "Service Desk" channel are recorded at the fake's service URL. Every step
    goes through the path its command takes (checked; exits 2 on failure),
    and prints its line.
    """
    from pydantic import SecretStr

    from integrations.teams import SANDBOX_PSA_URL
    from patchbay.cli.common import UsageError
    from patchbay.cli.connections import check_link_url, connect_vendor, vendor_settings
    from patchbay.cli.teams import add_reference, link_teams_user
    from sandbox.microsoft import FakeMicrosoft
    from store.teams import BOT_PASSWORD_NAME, CLIENT_SECRET_NAME, linked_users

    vendor = rt.catalog.vendors.get("teams")
    if vendor is None:
        return
    # The demo's Teams ids (the same constants the running fake loaded).
    demo = FakeMicrosoft().teams_demo()
    bot = demo["bot"]
    adele = demo["personal_conversations"][0]
    try:
        settings = vendor_settings(
            vendor,
            [
                f"client_id={credentials['client_id']}",
                f"aad_tenant={credentials['tenant_id']}",
                f"app_id={demo['teams_app_id']}",
                f"bot_app_id={bot['app_id']}",
                f"login_url={url}",
                f"graph_url={url}",
            ],
        )
    except UsageError as exc:
        fail_usage(str(exc))
    for line in connect_vendor(
        rt,
        vendor,
        tenant,
        url=check_link_url(SANDBOX_PSA_URL),
        allow_custom_host=False,
        secrets=[
            (CLIENT_SECRET_NAME, SecretStr(credentials["client_secret"])),
            (BOT_PASSWORD_NAME, SecretStr(bot["client_secret"])),
        ],
        check=True,
        settings=settings,
    ):
        typer.echo(line)
    _ensure_technician(rt, tenant, user)
    with rt.store.sessions() as session:
        holder = next(
            (
                u.username
                for u, account in linked_users(session, tenant)
                if account.provider_account_id.lower() == adele["user_id"].lower()
                and u.username != user
            ),
            None,
        )
    if holder is None:
        typer.echo(
            link_teams_user(rt, tenant, user, adele["user_id"], email=credentials.get("account"))
        )
    else:
        # One Microsoft account, one user: an earlier `--user` keeps the demo's account.
        typer.echo(
            f"Microsoft account {adele['user_id']} stays linked to {holder} "
            f"(patchbay teams unlink-user --tenant {tenant} --user {holder} to move it)"
        )
    service_url = url.rstrip("/") + demo["service_url_path"]
    team = next(t for t in demo["teams"] if t["bot_installed"])
    for kind, conversation, team_id in (
        ("personal", adele["conversation_id"], None),
        ("channel", demo["channel_id"], team["id"]),
    ):
        typer.echo(
            add_reference(
                rt,
                tenant,
                microsoft_user=adele["user_id"],
                conversation=conversation,
                conversation_type=kind,
                service_url=service_url,
                aad_tenant=credentials["tenant_id"],
                team=team_id,
            )
        )


def demo_cmd() -> None:
    """Run the embedded demo (its own data directory; safe to run again)."""
    from patchbay.demo import run_demo

    raise typer.Exit(run_demo(stdout))


sandbox_app = typer.Typer(rich_markup_mode=None, add_completion=False)
"""``patchbay sandbox``: serves without a subcommand; ``patchbay sandbox connect``."""
sandbox_app.callback(invoke_without_command=True)(sandbox_cmd)
sandbox_app.command("connect")(sandbox_connect_cmd)
