"""The console's icons: one inline SVG per icon token the catalog's tiles and actions use.

Tiles name their icon by token (``CatalogRecord.icon_token``: a vendor's
``ninjaone``, a core group's ``ticket``). Each token draws a simple glyph of
our own on a coloured square; a token with no drawing here gets the generic
``app`` glyph, so a newly registered integration still has an icon. Inline
SVG needs no request and no script, and its presentation attributes are not
styles, so the console's Content-Security-Policy allows it.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

from markupsafe import Markup


@dataclass(frozen=True)
class Glyph:
    """A 24x24 stroked drawing and the colour of the square behind it."""

    colour: str
    paths: str


GLYPHS: dict[str, Glyph] = {
    # Core groups (``catalog.designer.CORE_GROUP_SEEDS``: the group key is the token).
    "ticket": Glyph(
        "#2563eb",
        '<path d="M3 7a2 2 0 0 1 2-2h14a2 2 0 0 1 2 2v3a2 2 0 0 0 0 4v3a2 2 0 0 1-2 2H5'
        'a2 2 0 0 1-2-2v-3a2 2 0 0 0 0-4z"/><path d="M15 6v2M15 11v2M15 16v2"/>',
    ),
    "contact": Glyph(
        "#0891b2", '<circle cx="12" cy="8" r="4"/><path d="M4 21c0-4 3.6-6 8-6s8 2 8 6"/>'
    ),
    "client": Glyph(
        "#0e7490",
        '<rect x="5" y="3" width="14" height="18" rx="1"/>'
        '<path d="M9 7h2M13 7h2M9 11h2M13 11h2M9 15h2M13 15h2M11 21v-3h2v3"/>',
    ),
    "communication": Glyph(
        "#db2777", '<rect x="3" y="5" width="18" height="14" rx="2"/><path d="M3 7l9 6 9-6"/>'
    ),
    "scheduling": Glyph(
        "#7c3aed",
        '<rect x="3" y="5" width="18" height="16" rx="2"/>'
        '<path d="M3 10h18M8 3v4M16 3v4M8 14h3v3H8z"/>',
    ),
    "project": Glyph(
        "#9333ea",
        '<rect x="5" y="4" width="14" height="17" rx="2"/><path d="M9 4V3h6v1M9 12l2 2 4-4"/>',
    ),
    "time": Glyph("#ca8a04", '<circle cx="12" cy="12" r="9"/><path d="M12 7v5l3 3"/>'),
    "crm": Glyph("#16a34a", '<path d="M4 4v16h16"/><path d="M7 15l4-4 3 3 5-6"/>'),
    "activities": Glyph(
        "#475569",
        '<path d="M9 6h11M9 12h11M9 18h11"/>'
        '<path d="M4.5 6h.01M4.5 12h.01M4.5 18h.01" stroke-width="3"/>',
    ),
    "data-store": Glyph(
        "#0f766e",
        '<ellipse cx="12" cy="6" rx="7" ry="3"/>'
        '<path d="M5 6v12c0 1.7 3 3 7 3s7-1.3 7-3V6M5 12c0 1.7 3 3 7 3s7-1.3 7-3"/>',
    ),
    "transform": Glyph("#64748b", '<path d="M4 8h14l-3-3M20 16H6l3 3"/>'),
    "ai": Glyph(
        "#c026d3",
        '<path d="M11 3l2 5.5 5.5 2-5.5 2L11 18l-2-5.5-5.5-2 5.5-2z"/>'
        '<path d="M19 15l.8 2.2 2.2.8-2.2.8L19 21l-.8-2.2-2.2-.8 2.2-.8z"/>',
    ),
    # Vendors (``IntegrationModule.icon_token`` and ``ActionUI.icon`` of their actions).
    "ninjaone": Glyph(
        "#1f2937",
        '<path d="M12 2l2.6 7.4L22 12l-7.4 2.6L12 22l-2.6-7.4L2 12l7.4-2.6z"/>'
        '<circle cx="12" cy="12" r="1.6"/>',
    ),
    "tacticalrmm": Glyph(
        "#b45309",
        '<circle cx="12" cy="12" r="7.5"/><circle cx="12" cy="12" r="2.5"/>'
        '<path d="M12 1.5v5M12 17.5v5M1.5 12h5M17.5 12h5"/>',
    ),
    "levelio": Glyph("#4f46e5", '<path d="M3 20h18"/><path d="M6 16v-3M11 16V9M16 16V5"/>'),
    "huntress": Glyph(
        "#15803d",
        '<path d="M12 3l8 3v6c0 4.8-3.4 8-8 9-4.6-1-8-4.2-8-9V6z"/>'
        '<path d="M8.5 12l2.5 2.5 4.5-5"/>',
    ),
    "teams": Glyph(
        "#5b5fc7",
        '<path d="M3 6a2 2 0 0 1 2-2h9a2 2 0 0 1 2 2v6a2 2 0 0 1-2 2H9l-4 3v-3a2 2 0 0 1-2-2z"/>'
        '<path d="M18 8h1a2 2 0 0 1 2 2v6a2 2 0 0 1-2 2v3l-4-3h-3"/>',
    ),
    # Anything else: a generic app.
    "app": Glyph(
        "#64748b",
        '<rect x="3" y="3" width="7.5" height="7.5" rx="1.5"/>'
        '<rect x="13.5" y="3" width="7.5" height="7.5" rx="1.5"/>'
        '<rect x="3" y="13.5" width="7.5" height="7.5" rx="1.5"/>'
        '<rect x="13.5" y="13.5" width="7.5" height="7.5" rx="1.5"/>',
    ),
    # The console's own mark: two jacks and a patch cable.
    "patchbay": Glyph(
        "#0f172a",
        '<circle cx="6" cy="7" r="2.5"/><circle cx="18" cy="17" r="2.5"/>'
        '<circle cx="18" cy="7" r="1.2"/><circle cx="6" cy="17" r="1.2"/>'
        '<path d="M8.5 7c5 0 2 10 7 10"/>',
    ),
}
FALLBACK = "app"


def icon(token: str, size: int = 32) -> Markup:
    """The inline SVG of ``token`` (the generic app icon for a token drawn nowhere)."""
    glyph = GLYPHS.get(token, GLYPHS[FALLBACK])
    # The token is catalog data: escaped, though registrations never hold markup.
    return Markup(  # noqa: S704  # our own constant drawing; the only variable part is escaped
        f'<svg class="icon" data-icon="{escape(token, quote=True)}" viewBox="0 0 32 32" '
        f'width="{int(size)}" height="{int(size)}" aria-hidden="true" focusable="false">'
        f'<rect width="32" height="32" rx="7" fill="{glyph.colour}"/>'
        '<g transform="translate(4 4)" fill="none" stroke="#fff" stroke-width="2" '
        f'stroke-linecap="round" stroke-linejoin="round">{glyph.paths}</g></svg>'
    )
