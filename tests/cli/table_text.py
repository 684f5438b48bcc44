"""Reading the CLI's tables back as a user sees them: columns, folds and widths.

A folded identifier continues on the next line of its column; it is whole
once the table's borders and line breaks are taken away column by column.
A cut one (Rich's ``…``) never is.
"""

from __future__ import annotations

from rich.cells import cell_len

VERTICALS = ("│", "┃")


def column_streams(out: str) -> list[str]:
    """Each table column's text, top to bottom, with borders, padding and line breaks removed."""
    streams: list[str] = []
    for line in out.splitlines():
        stripped = line.strip()
        if not stripped.startswith(VERTICALS):
            continue
        for vertical in VERTICALS[1:]:
            stripped = stripped.replace(vertical, VERTICALS[0])
        cells = stripped.strip(VERTICALS[0]).split(VERTICALS[0])
        streams.extend("" for _ in range(len(cells) - len(streams)))
        for i, cell in enumerate(cells):
            streams[i] += cell.strip()
    return streams


def flat_text(out: str) -> str:
    """All columns' text with every space removed (wrapping at a space drops that space)."""
    return "".join("".join(stream.split()) for stream in column_streams(out))


def whole_in_table(out: str, ident: str) -> bool:
    """Whether ``ident`` (no spaces) reads whole in one column, folded or not."""
    return any(ident in stream for stream in column_streams(out))


def widest_line(out: str) -> int:
    return max((cell_len(line) for line in out.splitlines()), default=0)
