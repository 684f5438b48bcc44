"""A command tree that imports a command's module only when that command runs.

``patchbay --help`` must answer at once, but the commands' modules import the
catalog, SQLAlchemy, pydantic and Celery (about a second). So the tree is a
static table (``patchbay.cli.COMMANDS``): each name maps to ``module:function``
and the short help ``--help`` lists; the module is imported when the command,
or its own ``--help``, runs (click's documented "lazy loading subcommands"
pattern). The commands themselves stay Typer functions.

The root group also gives every command the CLI's error convention: click's
own usage errors ("No such option") and configuration problems
(``patchbay.cli.common.config_errors``) are one line ``error: ...`` on
stderr, exit 2.
"""

from __future__ import annotations

import atexit
import gc
import importlib
import os
import sys
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from difflib import get_close_matches
from typing import Any, ClassVar

from typer import _click
from typer.core import TyperGroup
from typer.exceptions import Abort


def pause_gc(seconds: float) -> None:
    """Collect no cyclic garbage for the first ``seconds`` of the process.

    A fast command is mostly imports (SQLAlchemy, pydantic models, Celery),
    and the cyclic collector walks every object they create, again and again:
    about a fifth of a one-second ``patchbay run``. After ``seconds`` (a
    daemon timer) the collector is back, with what exists by then frozen out
    of its sight (``gc.freeze``: imported modules live as long as the
    process), so a long command (worker, sandbox) runs as usual. For the
    console script only, not for a library caller's process. A process
    forked before the timer fires (a prefork worker's children) does not
    inherit the timer thread, so the collector is turned back on in the child
    at the fork.

    At exit everything is frozen too: the interpreter's last collection would
    otherwise walk the whole heap of a short command (a fifth of a second of
    ``patchbay run``) only to free memory the process is about to give back.
    Output and logs are flushed by then (``atexit`` runs ``logging.shutdown``,
    and the standard streams are flushed regardless).
    """
    gc.disable()
    atexit.register(gc.freeze)  # registered first, so it runs after the other exit handlers
    os.register_at_fork(after_in_child=_resume_gc)
    timer = threading.Timer(seconds, _resume_gc)
    timer.daemon = True
    timer.start()


def _resume_gc() -> None:
    gc.freeze()
    gc.enable()


@dataclass(frozen=True)
class Cmd:
    """A command: ``module:function`` (a Typer command function, or a ``typer.Typer``)."""

    target: str
    help: str


@dataclass(frozen=True)
class Sub:
    """A group of commands (``patchbay db ...``), itself lazy."""

    help: str
    commands: Mapping[str, Cmd | Sub] = field(default_factory=dict)


Entry = Cmd | Sub


def load_command(name: str, entry: Entry) -> _click.Command:
    """The click command an entry stands for (its module imported now)."""
    if isinstance(entry, Sub):
        return LazyGroup(name=name, table=entry.commands, help=entry.help, no_args_is_help=True)
    import typer
    from typer.main import get_command

    module_name, _, attr = entry.target.partition(":")
    target = getattr(importlib.import_module(module_name), attr)
    if isinstance(target, typer.Typer):
        command = get_command(target)
        command.name = name
        return command
    app = typer.Typer(rich_markup_mode=None, add_completion=False, pretty_exceptions_enable=False)
    app.command(name)(target)
    return get_command(app)


class LazyGroup(TyperGroup):
    """A Typer group whose commands come from a table of ``Cmd``/``Sub`` entries."""

    table: ClassVar[Mapping[str, Entry]] = {}

    def __init__(self, *, table: Mapping[str, Entry] | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("rich_markup_mode", None)
        super().__init__(**kwargs)
        self.entries: Mapping[str, Entry] = type(self).table if table is None else table

    def list_commands(self, ctx: _click.Context) -> list[str]:
        return list(self.entries)

    def get_command(self, ctx: _click.Context, cmd_name: str) -> _click.Command | None:
        if cmd_name not in self.commands:
            entry = self.entries.get(cmd_name)
            if entry is None:
                return None
            self.commands[cmd_name] = load_command(cmd_name, entry)
        return self.commands[cmd_name]

    def format_commands(self, ctx: _click.Context, formatter: _click.HelpFormatter) -> None:
        """The listing from the table's short help, importing nothing."""
        if not self.entries:
            return
        limit = formatter.width - 6 - max(len(name) for name in self.entries)
        rows = [
            (name, _click.utils.make_default_short_help(entry.help, limit))
            for name, entry in self.entries.items()
        ]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def shell_complete(self, ctx: _click.Context, incomplete: str) -> list[Any]:
        """Command names (and their short help) for shell completion, importing nothing."""
        from typer._click.shell_completion import CompletionItem

        items: list[Any] = [
            CompletionItem(name, help=entry.help)
            for name, entry in self.entries.items()
            if name.startswith(incomplete)
        ]
        items.extend(_click.Command.shell_complete(self, ctx, incomplete))
        return items

    def resolve_command(
        self, ctx: _click.Context, args: list[str]
    ) -> tuple[str | None, _click.Command | None, list[str]]:
        try:
            return self._click_resolve_command(ctx, args)
        except _click.exceptions.UsageError as exc:
            close = get_close_matches(args[0], list(self.entries)) if args else []
            if close:
                exc.message = f"{exc.message.rstrip('.')}. Did you mean {close[0]!r}?"
            raise


class RootGroup(LazyGroup):
    """``patchbay`` itself: every error one line on stderr (see the module doc)."""

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:
        try:
            code = super().main(
                args,
                prog_name,
                complete_var,
                standalone_mode=False,
                windows_expand_args=windows_expand_args,
                **extra,
            )
        except _click.exceptions.NoArgsIsHelpError as exc:
            exc.show()
            code = exc.exit_code
        except _click.exceptions.ClickException as exc:
            _click.echo(f"error: {usage_message(exc)}", err=True)
            code = exc.exit_code
        except Abort:
            _click.echo("error: aborted", err=True)
            code = 1
        code = code if isinstance(code, int) else 0
        if standalone_mode:
            sys.exit(code)
        return code

    def invoke(self, ctx: _click.Context) -> Any:
        from patchbay.cli.common import config_errors

        with config_errors():
            return super().invoke(ctx)


def usage_message(exc: _click.exceptions.ClickException) -> str:
    """Click's error as one line, pointing a usage error at the command's ``--help``."""
    message = " ".join(exc.format_message().split())
    ctx = getattr(exc, "ctx", None)
    if isinstance(exc, _click.exceptions.UsageError) and ctx is not None:
        message += f" (see `{ctx.command_path} --help`)"
    return message
