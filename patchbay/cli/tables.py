"""Tables that fit the terminal without cutting what users type next.

Rich's default cuts a long cell with an ellipsis, which turned ids such as
``app:ninjaone`` and user UUIDs into ``app:ninjao…`` at 80 columns: text
nobody can copy into the next command. Every column here folds instead (a
long identifier continues on the next line, whole). Identifier columns get
their full width first when the terminal has room (so a key is copied in one
piece), free text wraps in what is left; ``--wide`` prints each row on one
line however wide that is, for copying and ``grep`` (a cell's lines joined
by ``; ``, a header's by a space).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Annotated

import typer
from rich.cells import cell_len
from rich.console import Console
from rich.table import Table
from rich.text import Text

WideFlag = Annotated[
    bool, typer.Option("--wide", help="One line per row, however wide (for copying and grep).")
]

# What a free-text column keeps at least before identifiers give way (more if
# a word of its header is longer: headers do not fold), and what an
# identifier keeps at least.
_TEXT_MIN = 8
_IDENT_MIN = 8
# Rich's box: one border before each column, one after the last, a space each side of a cell.
_PER_COLUMN = 3


@dataclass
class FitTable:
    """Rows of strings under ``columns``; ``idents`` name the identifier columns."""

    columns: Sequence[str]
    idents: Collection[str] = ()
    title: str | None = None
    rows: list[list[str]] = field(default_factory=list)

    def add(self, *cells: str) -> None:
        """One row, a cell per column (a cell may hold several lines)."""
        if len(cells) != len(self.columns):
            raise ValueError(f"{len(cells)} cells for {len(self.columns)} columns")
        self.rows.append(list(cells))

    def _longest(self, i: int) -> int:
        """The widest line of column ``i``, header included, in terminal cells."""
        lines = [
            line
            for cell in (self.columns[i], *(row[i] for row in self.rows))
            for line in cell.splitlines()
        ]
        return max(map(cell_len, lines), default=0)

    def _text_floor(self, i: int) -> int:
        return max(_TEXT_MIN, *map(cell_len, self.columns[i].split()))

    def widths(self, width: int) -> list[int]:
        """Each column's width so the table fits ``width``.

        Free text gives way first (down to a few characters), identifiers
        last, always the widest column by one character at a time: an
        identifier folds only when the free text cannot shrink any further.
        """
        n = len(self.columns)
        room = width - (_PER_COLUMN * n + 1)
        sizes = [self._longest(i) for i in range(n)]
        floors = [
            _IDENT_MIN if self.columns[i] in self.idents else min(sizes[i], self._text_floor(i))
            for i in range(n)
        ]
        idents = {i for i in range(n) if self.columns[i] in self.idents}
        while sum(sizes) > room:
            for group in ([i for i in range(n) if i not in idents], sorted(idents)):
                shrinkable = [i for i in group if sizes[i] > floors[i]]
                if shrinkable:
                    sizes[max(shrinkable, key=lambda i: sizes[i])] -= 1
                    break
            else:
                break  # narrower than the floors: Rich folds further
        return sizes

    def render(self, width: int, *, wide: bool) -> Table:
        """The Rich table, cells as plain text (``[x]`` is no markup); the title is ``print``'s."""
        out = Table(expand=False)
        sizes: list[int | None] = [None] * len(self.columns) if wide else [*self.widths(width)]
        for header, size in zip(self.columns, sizes, strict=True):
            title = " ".join(header.splitlines()) if wide else header
            out.add_column(Text(title), overflow="fold", width=size, no_wrap=wide)
        for row in self.rows:
            # Wide means one line per row: a cell's lines become "; "-separated items.
            cells = ("; ".join(cell.splitlines()) if wide else cell for cell in row)
            out.add_row(*(Text(cell) for cell in cells))
        return out

    def print(self, console: Console, *, wide: bool = False) -> None:
        """The title, then the table: within the terminal, or one line per row with ``wide``.

        The title is printed as text above the table rather than as Rich's
        table title, which is padded to the table's width (thousands of
        spaces with ``wide``).
        """
        target = console
        if wide:
            target = Console(file=console.file, width=100_000, force_terminal=console.is_terminal)
        if self.title:
            target.print(Text(self.title), highlight=False)
        target.print(self.render(target.width, wide=wide), crop=False)
