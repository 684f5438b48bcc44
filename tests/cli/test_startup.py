"""``patchbay`` starts without its heavy modules, lists every command, and errs in one line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer import _click
from typer.main import get_command
from typer.testing import CliRunner

from patchbay.cli import COMMANDS, app
from patchbay.cli.lazy import Cmd, Sub, load_command
from store import db

HEAVY = ("sqlalchemy", "celery", "kombu", "alembic", "catalog", "store", "executor", "httpx")


def patchbay(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``patchbay ARGS`` as a user types it, in a fresh interpreter."""
    return subprocess.run(
        [sys.executable, "-m", "patchbay", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        check=False,
    )


def imported_after(code: str) -> set[str]:
    """The heavy top-level packages a fresh interpreter has imported after running ``code``."""
    probe = f"{code}\nimport sys\nprint('\\n' + ' '.join({{m.split('.')[0] for m in sys.modules}}))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return set(done.stdout.splitlines()[-1].split()) & set(HEAVY)


def test_importing_the_cli_imports_no_command_module() -> None:
    assert imported_after("import patchbay.cli") == set()


def test_help_imports_no_command_module() -> None:
    code = (
        "import sys\nsys.argv = ['patchbay', '--help']\nfrom patchbay.cli import app\n"
        "try:\n    app()\nexcept SystemExit:\n    pass"
    )
    assert imported_after(code) == set()


def walk(
    table: dict[str, Cmd | Sub] | object, prefix: tuple[str, ...] = ()
) -> list[tuple[tuple[str, ...], Cmd | Sub]]:
    assert isinstance(table, dict)
    entries: list[tuple[tuple[str, ...], Cmd | Sub]] = []
    for name, entry in table.items():
        entries.append(((*prefix, name), entry))
        if isinstance(entry, Sub):
            entries.extend(walk(dict(entry.commands), (*prefix, name)))
    return entries


@pytest.mark.parametrize(
    ("path", "entry"), walk(COMMANDS), ids=lambda v: " ".join(v) if isinstance(v, tuple) else ""
)
def test_the_listing_agrees_with_each_command_and_its_help_works(
    path: tuple[str, ...], entry: Cmd | Sub
) -> None:
    command = load_command(path[-1], entry)
    assert command.get_short_help_str(limit=10_000) == entry.help
    result = CliRunner().invoke(app, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert f"Usage: patchbay {' '.join(path)}" in result.stdout


def test_help_lists_every_command_in_order() -> None:
    result = CliRunner().invoke(app, ["--help"])
    assert result.exit_code == 0
    listed = [
        line.split()[0]
        for line in result.stdout.split("Commands:", 1)[1].splitlines()
        if line.startswith("  ") and not line.startswith("   ")
    ]
    assert listed == list(COMMANDS)


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (["run", "--frob"], "error: No such option: --frob (see `patchbay run --help`)"),
        (["rn"], "error: No such command 'rn'. Did you mean 'run'? (see `patchbay --help`)"),
        (
            ["tenant", "create"],
            "error: Missing argument 'tenant_id'. (see `patchbay tenant create --help`)",
        ),
    ],
)
def test_click_usage_errors_are_one_line_exit_2(args: list[str], line: str) -> None:
    done = patchbay(*args)
    assert done.returncode == 2
    assert done.stderr.splitlines() == [line]
    assert done.stdout == ""


def test_shell_completion_lists_commands() -> None:
    done = patchbay(
        env={"_PATCHBAY_COMPLETE": "complete_bash", "COMP_WORDS": "patchbay ru", "COMP_CWORD": "1"}
    )
    assert done.returncode == 0
    assert done.stdout.split() == ["run"]


def test_the_cheap_head_revision_is_alembics() -> None:
    assert db.head_revision() == db._alembic_head()


def test_root_group_is_the_lazy_one() -> None:
    assert isinstance(get_command(app), _click.Command)
    assert get_command(app).name == "patchbay"


def test_run_prints_json_without_importing_rich(tmp_path: Path) -> None:
    """``run`` answers in JSON or one line: Rich (and Pygments, which httpx's own
    command line would pull in with it) are left unimported."""
    code = (
        "import sys\nsys.argv = ['patchbay', 'run', 'widgets.nope', '--tenant', 'acme']\n"
        "from patchbay.cli import main\ntry:\n    main()\nexcept SystemExit:\n    pass\n"
        "print('\\n' + ' '.join({m.split('.')[0] for m in sys.modules}))"
    )
    env = {**os.environ, "PATCHBAY_DATA_DIR": str(tmp_path / "data")}
    env.pop("PATCHBAY_DATABASE_URL", None)
    env.pop("PATCHBAY_BROKER_URL", None)
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    assert "UNKNOWN_ACTION" in done.stderr
    imported = set(done.stdout.splitlines()[-1].split())
    assert "catalog" in imported  # the command did run as far as the catalog
    assert not imported & {"rich", "pygments"}
