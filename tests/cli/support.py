"""Invoking ``patchbay`` in-process as a user types it."""

from __future__ import annotations

from typer.testing import CliRunner

from patchbay.cli import app


def invoke(cli: CliRunner, *args: str) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of ``patchbay ARGS``."""
    result = cli.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr
