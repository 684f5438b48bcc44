"""FitTable: identifiers keep their width first, nothing is cut, ``wide`` is one line a row."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from patchbay.cli.tables import FitTable
from tests.cli.table_text import column_streams, whole_in_table, widest_line

UUID = "42c46a85-c0da-4258-8fdb-51ffb35e2d8c"
KEY = "ninjaone.devices.scripting_options@1"
PROSE = (
    "Scripts and built-in actions a device can run, as NinjaOne lists them for the "
    "device's operating system and the credentials it holds."
)


def table() -> FitTable:
    t = FitTable(("id", "action", "about"), idents=("id", "action"), title=f"Things of {UUID}")
    t.add(UUID, KEY, PROSE)
    t.add("short", "ninjaone.devices.find@1\nninjaone.devices.sync@1", "Short text.")
    return t


def printed(t: FitTable, width: int, *, wide: bool = False) -> str:
    buffer = io.StringIO()
    t.print(Console(file=buffer, width=width, color_system=None), wide=wide)
    return buffer.getvalue()


@pytest.mark.parametrize("width", [40, 60, 80, 100, 200])
def test_nothing_is_cut_and_no_line_is_wider_than_the_terminal(width: int) -> None:
    out = printed(table(), width)
    assert widest_line(out) <= width
    assert "…" not in out
    for ident in (UUID, KEY, "ninjaone.devices.find@1", "ninjaone.devices.sync@1"):
        assert whole_in_table(out, ident), out
    assert "".join(PROSE.split()) in "".join(column_streams(out)[2].split())


def test_identifiers_keep_their_width_while_the_text_can_give_way() -> None:
    t = table()
    sizes = t.widths(100)
    assert sizes[:2] == [len(UUID), len(KEY)]  # on one line each
    assert sum(sizes) + 3 * len(sizes) + 1 <= 100
    assert sizes[2] < len(PROSE)  # the text wraps instead
    out = printed(t, 100)
    assert UUID in out and KEY in out  # not folded: copied in one piece


def test_identifiers_fold_only_when_the_text_is_at_its_floor() -> None:
    t = table()
    narrow = t.widths(80)
    assert narrow[2] == 8  # the text column gave all it could first
    assert narrow[0] + narrow[1] < len(UUID) + len(KEY)


def test_wide_is_one_line_per_row_with_a_cells_lines_joined() -> None:
    out = printed(table(), 80, wide=True)
    (row,) = [line for line in out.splitlines() if UUID in line and KEY in line]
    assert PROSE in row
    (short,) = [line for line in out.splitlines() if "short" in line]
    assert "ninjaone.devices.find@1; ninjaone.devices.sync@1" in short
    assert out.splitlines()[0] == f"Things of {UUID}"  # the title, unpadded
    assert widest_line(out) > 80


def test_cells_are_text_not_markup() -> None:
    t = FitTable(("field", "type"), idents=("field",))
    t.add("devices[].source", "[bold]not markup[/bold]")
    out = printed(t, 80)
    assert "devices[].source" in out and "[bold]not markup[/bold]" in out


def test_a_row_must_have_a_cell_per_column() -> None:
    with pytest.raises(ValueError, match="2 cells for 3 columns"):
        table().add("a", "b")
