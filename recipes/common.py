"""What the recipes share: input field types, the sandbox's defaults, short texts.

Recipes see the actions as an engine does: JSON in, JSON out (the outputs
are plain dicts, as the ledger records them), so they import no
integration's models.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StringConstraints

from actionkit.inputs import Matches, NotBlank, StripBlank

SANDBOX_CHANNEL_ID = "19:4d2f6b8a0c1e43f5a7b9d1c3e5f7a9b2@thread.tacv2"
"""The sandbox's "Service Desk" channel in "Contoso IT", where the demo bot is installed
(``patchbay sandbox connect`` records it). A real tenant passes its own on-call channel."""

# As teams.post_to_channel's channel_id (checked there too; here before the first step).
CHANNEL_PATTERN = r"^19:[^\s;/]+@thread\.(?:tacv2|skype)$"

ChannelId = Annotated[
    str,
    StringConstraints(max_length=255),
    Matches(CHANNEL_PATTERN, "String should be a Teams channel id, 19:...@thread.tacv2"),
    Field(
        description="The on-call Teams channel (19:...@thread.tacv2) the bot posts to; "
        "default: the sandbox's Service Desk channel."
    ),
]
Text = Annotated[str, StringConstraints(min_length=1, max_length=255), NotBlank, StripBlank]

EXCERPT_CHARS = 500
"""The most of a script's output a ticket's resolution or a Teams post quotes."""


def excerpt(text: str | None, limit: int = EXCERPT_CHARS) -> str:
    """``text`` stripped and cut to ``limit`` characters (marked), or "(no output)"."""
    text = (text or "").strip()
    if not text:
        return "(no output)"
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
