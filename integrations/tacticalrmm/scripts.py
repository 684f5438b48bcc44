"""Tactical RMM scripts: the script library, filtered by name."""

from __future__ import annotations

from actionkit.context import ActionContext
from integrations.tacticalrmm.connection import client_for
from integrations.tacticalrmm.models import (
    ListScriptsInput,
    ListScriptsOutput,
    Script,
    WireScript,
    integer,
    text,
)


def _script(script: WireScript) -> Script:
    return Script(
        id=integer(script.id),
        name=text(script.name),
        shell=text(script.shell),
        category=text(script.category),
        description=text(script.description),
    )


def list_scripts(inp: ListScriptsInput, ctx: ActionContext) -> ListScriptsOutput:
    """``GET /scripts/``, kept when the name contains ``query`` (any case), at most ``limit``."""
    with client_for(ctx) as client:
        scripts = [_script(s) for s in client.list_scripts()]
    if inp.query is not None:
        needle = inp.query.casefold()
        scripts = [s for s in scripts if s.name is not None and needle in s.name.casefold()]
    scripts = scripts[: inp.limit]
    return ListScriptsOutput(scripts=scripts, count=len(scripts))
