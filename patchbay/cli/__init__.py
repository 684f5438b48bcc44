"""The ``patchbay`` command line: tenant admin, catalog views, executor, sandbox and demo.

Exit codes: 0 success, 1 a run that failed, 2 bad usage or a configuration
problem (unknown tenant or provider, malformed option, a database or broker
that cannot be used). Those are reported as one line ``error: ...`` on
stderr and write nothing.

The commands live in one module per audience (``admin``, ``connections``,
``views``, ``runner``, ``sandbox``; what they share in ``common``) as plain
Typer functions. This module alone registers them, in ``COMMANDS``: the
whole command tree, in the order ``patchbay --help`` shows it. Each entry
names ``module:function`` and the command's short help (the first line of
its docstring; ``tests/cli/test_startup.py`` checks they agree), so that
``--help`` lists every command without importing any of them
(``patchbay.cli.lazy``).
"""

from __future__ import annotations

import sys

import typer

from patchbay.cli.lazy import Cmd, RootGroup, Sub, pause_gc

__all__ = ["COMMANDS", "app", "main"]

ADMIN = "patchbay.cli.admin"
CONNECTIONS = "patchbay.cli.connections"
VIEWS = "patchbay.cli.views"
RUNNER = "patchbay.cli.runner"
SANDBOX = "patchbay.cli.sandbox"
STEPS = "patchbay.cli.steps"

# To add a command: an entry here, ``Cmd("<module>:<function>", "<first docstring line>")``;
# a group of commands is ``Sub("<help>", {name: Cmd(...), ...})``.
COMMANDS: dict[str, Cmd | Sub] = {
    "connect": Cmd(
        f"{CONNECTIONS}:connect_cmd",
        "Check a tenant's credentials with the vendor, then store the connection and secrets.",
    ),
    "disconnect": Cmd(
        f"{CONNECTIONS}:disconnect_cmd",
        "Mark an integration disconnected (its tile leaves the palette).",
    ),
    "catalog": Cmd(
        f"{VIEWS}:catalog_cmd",
        "The designer catalog for a tenant: every group, app tiles flagged available or not.",
    ),
    "palette": Cmd(
        f"{VIEWS}:palette_cmd",
        "The tiles a tenant may add steps from (connected integrations only).",
    ),
    "schemas": Cmd(
        f"{VIEWS}:schemas_cmd",
        "Actions and their summaries; with --action, every input and output field explained.",
    ),
    "worker": Cmd(
        f"{RUNNER}:worker_cmd", "Run a Celery worker for patchbay's queues (needs a shared broker)."
    ),
    "flower": Cmd(
        f"{RUNNER}:flower_cmd",
        "Run Flower against patchbay's broker (task states, custom events, rate limits).",
    ),
    "run": Cmd(
        f"{RUNNER}:run_cmd",
        "Run one action and print its outcome as JSON (exit 0 SUCCEEDED, 1 FAILED, 2 bad usage).",
    ),
    "invocations": Cmd(
        f"{STEPS}:invocations_cmd",
        "The invocation ledger of a tenant: every step, its status, attempt and outcome.",
    ),
    "step": Sub(
        "One step of the ledger: show it, cancel it, run it again.",
        {
            "show": Cmd(
                f"{STEPS}:step_show",
                "One step in full: action, status, input, outcome, wait and attempt history.",
            ),
            "cancel": Cmd(
                f"{STEPS}:step_cancel",
                "Cancel a WAITING or QUEUED step: it ends CANCELLED and its pending re-check "
                "runs nothing.",
            ),
            "retry": Cmd(
                f"{STEPS}:step_retry",
                "Run an ended step (FAILED or CANCELLED) again after confirmation, with a fresh "
                "budget.",
            ),
        },
    ),
    "recipe": Sub(
        "Recipes: MSP workflows run step by step through the executor, resumable by run id.",
        {
            "list": Cmd(
                "patchbay.cli.recipes:list_cmd",
                "The recipes: name, what each does, its input fields (* required).",
            ),
            "run": Cmd(
                "patchbay.cli.recipes:run_cmd",
                "Run a recipe step by step, printing each step and the outcome (exit 0, 1 "
                "failed, 2 usage).",
            ),
        },
    ),
    "serve": Cmd(
        "patchbay.cli.api:serve_cmd",
        "Serve the HTTP API (with the in-process worker on the embedded default).",
    ),
    "token": Sub(
        "Tenant API tokens for the HTTP API.",
        {
            "create": Cmd(
                "patchbay.cli.api:token_create",
                "Create an API token for a tenant and print it once (only its hash is stored).",
            ),
            "list": Cmd(
                "patchbay.cli.api:token_list",
                "The tenant's API tokens (ids, names, scopes, when made, revoked and last used).",
            ),
            "revoke": Cmd(
                "patchbay.cli.api:token_revoke",
                "Revoke one of the tenant's API tokens (requests with it are 401 from now on).",
            ),
        },
    ),
    "sandbox": Cmd(
        f"{SANDBOX}:sandbox_app",
        "Serve every fake vendor on loopback until Ctrl-C, and print how to connect to them.",
    ),
    "demo": Cmd(
        f"{SANDBOX}:demo_cmd", "Run the embedded demo (its own data directory; safe to run again)."
    ),
    "db": Sub(
        "Database schema.",
        {
            "upgrade": Cmd(
                f"{ADMIN}:db_upgrade", "Create or upgrade the schema at PATCHBAY_DATABASE_URL."
            ),
            "current": Cmd(
                f"{ADMIN}:db_current", "Print the schema revision of the database and of this code."
            ),
        },
    ),
    "tenant": Sub(
        "Tenants.",
        {
            "create": Cmd(f"{ADMIN}:tenant_create", "Create a tenant."),
            "list": Cmd(
                f"{ADMIN}:tenant_list", "List tenants and which integrations each has connected."
            ),
        },
    ),
    "connections": Sub(
        "Tenants' vendor connections.",
        {
            "test": Cmd(
                f"{CONNECTIONS}:connections_test_cmd",
                "Check every connected vendor's stored credentials again "
                "(exit 1 if any check fails).",
            ),
        },
    ),
    "levelio": Sub(
        "Level: its webhooks in.",
        {
            "ingest": Cmd(
                "patchbay.cli.levelio:ingest_cmd",
                "Receive one Level webhook delivery (body on stdin): verify it, record it once.",
            ),
        },
    ),
    "user": Sub(
        "Users (technicians).",
        {
            "add": Cmd(f"{ADMIN}:user_add", "Add an internal user; prints its id."),
            "list": Cmd(f"{ADMIN}:user_list", "The tenant's users and roles."),
        },
    ),
    "calendar": Sub(
        "Users' external calendars (schedule entries are pushed there).",
        {
            "connect": Cmd(
                f"{ADMIN}:calendar_connect",
                "Push a user's schedule entries to their Microsoft 365 calendar (Graph).",
            ),
            "disconnect": Cmd(
                f"{ADMIN}:calendar_disconnect", "Stop pushing a user's entries to their calendar."
            ),
            "list": Cmd(
                f"{ADMIN}:calendar_list",
                "The tenant's calendar connections, by username (--json adds the ids).",
            ),
        },
    ),
    "teams": Sub(
        "Microsoft Teams: users' Microsoft accounts and the conversations the bot can reach.",
        {
            "link-user": Cmd(
                "patchbay.cli.teams:link_user_cmd",
                "Link a user to their Microsoft account (Entra object id), so Teams steps can "
                "reach them.",
            ),
            "unlink-user": Cmd(
                "patchbay.cli.teams:unlink_user_cmd",
                "Forget a user's linked Microsoft account (Teams steps then cannot reach them).",
            ),
            "users": Cmd(
                "patchbay.cli.teams:users_cmd",
                "The tenant's users with a linked Microsoft account (Teams can reach them).",
            ),
            "reference": Sub(
                "Conversations the Teams bot can reach (conversation references).",
                {
                    "add": Cmd(
                        "patchbay.cli.teams:reference_add_cmd",
                        "Record a conversation the Teams bot can reach, at a trusted Bot "
                        "Connector service URL.",
                    ),
                    "list": Cmd(
                        "patchbay.cli.teams:reference_list_cmd",
                        "The tenant's Teams conversation references, latest activity first.",
                    ),
                    "remove": Cmd(
                        "patchbay.cli.teams:reference_remove_cmd",
                        "Forget a conversation reference (the bot then no longer posts there).",
                    ),
                },
            ),
        },
    ),
}


class PatchbayGroup(RootGroup):
    """``patchbay``: the command tree of ``COMMANDS``."""

    table = COMMANDS


app = typer.Typer(
    cls=PatchbayGroup,
    name="patchbay",
    help="MSP workflow actions on the tools an MSP already runs.",
    no_args_is_help=True,
    add_completion=True,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root() -> None:
    # A callback makes Typer build the group (PatchbayGroup) even with no command
    # registered on it; the commands come from COMMANDS.
    pass


# Seconds a command starts without the cyclic garbage collector (``pause_gc``).
GC_PAUSE = 2.0


def main() -> None:
    """Console-script entry point."""
    pause_gc(GC_PAUSE)
    # Importing httpx imports httpx's own command line too (Rich, Pygments): a
    # twentieth of a second of every command that reaches a vendor, for a tool
    # patchbay never runs. httpx falls back to a stub when that import fails.
    sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
    app(prog_name="patchbay")  # also as `python -m patchbay`
