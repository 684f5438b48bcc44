"""The ``patchbay`` command line: tenant admin, catalog views, executor, sandbox and demo.

Exit codes: 0 success, 1 a run that failed, 2 bad usage (unknown tenant or
provider, malformed option). Bad usage is reported as one line on stderr and
writes nothing.

The commands live in one module per audience (``admin``, ``views``,
``runner``, ``sandbox``; what they share in ``common``) as plain functions.
This module alone registers them: the whole command tree is the list below,
in the order ``patchbay --help`` shows it (Typer lists commands in the order
they are registered, then the sub-apps).
"""

from __future__ import annotations

import typer

from patchbay.cli import admin, runner, sandbox, views
from patchbay.cli.admin import (
    check_vendor_url,
    parse_secret_option,
    vendor_host_rules,
)
from patchbay.cli.common import (
    EMBEDDED_REFUSAL,
    JsonFlag,
    SecretsOption,
    TenantOption,
    UsageError,
    fail_usage,
    print_json,
    stderr,
    stdout,
)
from patchbay.cli.runner import FLOWER_NO_AUTH_WARNING

__all__ = [
    "EMBEDDED_REFUSAL",
    "FLOWER_NO_AUTH_WARNING",
    "JsonFlag",
    "SecretsOption",
    "TenantOption",
    "UsageError",
    "app",
    "calendar_app",
    "check_vendor_url",
    "db_app",
    "fail_usage",
    "main",
    "parse_secret_option",
    "print_json",
    "stderr",
    "stdout",
    "tenant_app",
    "user_app",
    "vendor_host_rules",
]

app = typer.Typer(
    name="patchbay",
    help="MSP workflow actions on the tools an MSP already runs.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
)
app.command("connect")(admin.connect_cmd)
app.command("disconnect")(admin.disconnect_cmd)
app.command("catalog")(views.catalog_cmd)
app.command("palette")(views.palette_cmd)
app.command("schemas")(views.schemas_cmd)
app.command("worker")(runner.worker_cmd)
app.command("flower")(runner.flower_cmd)
app.command("run")(runner.run_cmd)
app.command("invocations")(views.invocations_cmd)
app.command("sandbox")(sandbox.sandbox_cmd)
app.command("demo")(sandbox.demo_cmd)

db_app = typer.Typer(help="Database schema.", no_args_is_help=True, rich_markup_mode=None)
db_app.command("upgrade")(admin.db_upgrade)
db_app.command("current")(admin.db_current)
app.add_typer(db_app, name="db")

tenant_app = typer.Typer(help="Tenants.", no_args_is_help=True, rich_markup_mode=None)
tenant_app.command("create")(admin.tenant_create)
tenant_app.command("list")(admin.tenant_list)
app.add_typer(tenant_app, name="tenant")

user_app = typer.Typer(help="Users (technicians).", no_args_is_help=True, rich_markup_mode=None)
user_app.command("add")(admin.user_add)
user_app.command("list")(admin.user_list)
app.add_typer(user_app, name="user")

calendar_app = typer.Typer(
    help="Users' external calendars (schedule entries are pushed there).",
    no_args_is_help=True,
    rich_markup_mode=None,
)
calendar_app.command("connect")(admin.calendar_connect)
calendar_app.command("disconnect")(admin.calendar_disconnect)
calendar_app.command("list")(admin.calendar_list)
app.add_typer(calendar_app, name="calendar")


def main() -> None:
    """Console-script entry point."""
    app()
