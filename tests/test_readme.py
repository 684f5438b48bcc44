"""The README stays true to the code: its first commands and its settings table."""

from __future__ import annotations

import re
from pathlib import Path

from executor.settings import Settings

ROOT = Path(__file__).resolve().parents[1]


def test_readme_opens_with_the_two_setup_commands() -> None:
    text = (ROOT / "README.md").read_text()
    first_block = re.search(r"```sh\n(.*?)```", text, re.S)
    assert first_block is not None
    commands = [line.split("#")[0].strip() for line in first_block.group(1).splitlines()]
    assert commands == ["./dev demo", "./dev test"]
    assert "./dev test" in (ROOT / ".ci" / "run").read_text()


def test_every_setting_is_in_the_configuration_table() -> None:
    text = (ROOT / "README.md").read_text()
    documented = set(re.findall(r"^\| `(PATCHBAY_[A-Z_]+)`", text, re.M))
    expected = {f"PATCHBAY_{name.upper()}" for name in Settings.model_fields}
    assert expected <= documented, expected - documented
