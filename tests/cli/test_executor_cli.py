"""patchbay run / invocations / worker / flower: outcomes, exit codes, refusals."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from patchbay.cli import app
from sandbox.core import Fault
from sandbox.widgets import FakeWidgets
from tests.cli.support import invoke
from tests.executor.conftest import CANARY_KEY, TENANT


def test_run_prints_the_outcome_and_exits_0(cli: CliRunner, fake: FakeWidgets) -> None:
    code, out, err = invoke(
        cli,
        "run",
        "widgets.widgets.create",
        "--tenant",
        TENANT,
        "--input",
        '{"name": "cli"}',
        "--key",
        "cli-1",
    )
    assert code == 0, err
    outcome = json.loads(out)
    assert outcome["status"] == "SUCCEEDED"
    assert outcome["key"] == "cli-1"
    assert outcome["output"]["name"] == "cli"
    # Same key again: the stored outcome, no second vendor call.
    code, out, _ = invoke(
        cli,
        "run",
        "widgets.widgets.create",
        "--tenant",
        TENANT,
        "--input",
        '{"name": "cli"}',
        "--key",
        "cli-1",
    )
    assert code == 0
    assert json.loads(out)["output"] == outcome["output"]
    assert fake.count("POST", "/v1/widgets") == 1
    code, out, _ = invoke(cli, "invocations", "--tenant", TENANT, "--json")
    assert code == 0
    assert [r["key"] for r in json.loads(out)] == ["cli-1"]
    code, out, _ = invoke(cli, "invocations", "--tenant", TENANT)
    assert code == 0
    assert "cli-1" in out


def test_run_reads_its_input_from_stdin_with_a_dash(cli: CliRunner, fake: FakeWidgets) -> None:
    result = cli.invoke(
        app,
        ["run", "widgets.widgets.create", "--tenant", TENANT, "--input", "-", "--key", "stdin-1"],
        input='{"name": "from-stdin"}\n',
    )
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["output"]["name"] == "from-stdin"
    assert fake.count("POST", "/v1/widgets") == 1


def test_run_exits_1_with_the_error_payload_when_the_step_fails(
    cli: CliRunner, fake: FakeWidgets
) -> None:
    fake.inject(Fault(status=404, body={"error": "not_found", "message": "Widget w_9 not found"}))
    code, out, _ = invoke(
        cli, "run", "widgets.widgets.get", "--tenant", TENANT, "--input", '{"widget_id": "w_9"}'
    )
    assert code == 1
    outcome = json.loads(out)
    assert outcome["status"] == "FAILED"
    assert outcome["error"]["code"] == "NOT_FOUND"
    assert outcome["error"]["vendor"] == {"status": 404, "message": "Widget w_9 not found"}
    assert CANARY_KEY not in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--input", "{not json"), "not valid JSON"),
        (("--input", "[1, 2]"), "JSON object"),
        (("--input", "@/no/such/file.json"), "cannot read"),
        (("--input", '{"colour": "red"}'), "VALIDATION_ERROR"),
        (("--input", '{"name": "x"}', "--timeout", "-5"), "--timeout must be more than 0"),
        (("--input", '{"name": "x"}', "--timeout", "0"), "--timeout must be more than 0"),
    ],
)
def test_run_bad_usage_exits_2_with_one_line(
    cli: CliRunner, fake: FakeWidgets, args: tuple[str, ...], message: str
) -> None:
    code, _, err = invoke(cli, "run", "widgets.widgets.create", "--tenant", TENANT, *args)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1
    assert message in lines[0]
    assert fake.count() == 0


def test_a_validation_error_names_every_problem_on_its_one_line(
    cli: CliRunner, fake: FakeWidgets
) -> None:
    bad = '{"name": "", "colour": "red", "size": 3}'
    code, _, err = invoke(cli, "run", "widgets.widgets.create", "--tenant", TENANT, "--input", bad)
    assert code == 2
    (line,) = err.strip().splitlines()
    assert line.startswith("error: VALIDATION_ERROR: input.name: ")
    for problem in (
        "input.name: String should have at least 1 character",
        "input.colour: Extra inputs are not permitted",
        "input.size: Extra inputs are not permitted",
    ):
        assert problem in line
    assert "more" not in line
    assert fake.count() == 0
    # Past ten problems the line names the first ten and counts the rest.
    many = json.dumps({f"extra_{i:02}": i for i in range(12)})
    code, _, err = invoke(cli, "run", "widgets.widgets.create", "--tenant", TENANT, "--input", many)
    assert code == 2
    (line,) = err.strip().splitlines()
    assert line.count("input.") == 10 and line.endswith("; and 3 more")
    assert "input.name: Field required" in line  # the 13th problem is not lost: it came first


def test_unknown_action_and_tenant_exit_2(cli: CliRunner) -> None:
    code, _, err = invoke(cli, "run", "widgets.nope.x", "--tenant", TENANT)
    assert code == 2
    assert "UNKNOWN_ACTION" in err
    code, _, err = invoke(
        cli, "run", "widgets.widgets.create", "--tenant", "nobody", "--input", '{"name": "x"}'
    )
    assert code == 2
    assert "tenant" in err


@pytest.mark.parametrize(
    ("args", "hint"),
    [
        (("widgets.widget.create",), "(did you mean widgets.widgets.create?)"),
        (("widgets.widgets.create", "--version", "9"), "(versions of widgets.widgets.create: 1)"),
    ],
)
def test_an_unknown_action_says_what_was_meant(
    cli: CliRunner, fake: FakeWidgets, args: tuple[str, ...], hint: str
) -> None:
    code, _, err = invoke(cli, "run", *args, "--tenant", TENANT, "--input", '{"name": "x"}')
    assert code == 2
    assert err.strip().splitlines() == [
        f"error: UNKNOWN_ACTION: Unknown action {args[0]}"
        + ("@9" if "--version" in args else "")
        + f" {hint}"
    ]
    assert fake.count() == 0


@pytest.mark.parametrize(
    "command",
    [("worker",), ("flower",), ("run", "widgets.widgets.get", "--tenant", TENANT, "--no-wait")],
)
def test_commands_that_need_a_shared_broker_refuse_on_embedded(
    cli: CliRunner, command: tuple[str, ...]
) -> None:
    code, _, err = invoke(cli, *command)
    assert code == 2
    assert "PATCHBAY_BROKER_URL=redis://" in err
    assert len(err.strip().splitlines()) == 1
