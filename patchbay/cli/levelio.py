"""``patchbay levelio ingest``: a Level webhook delivery from stdin, through the receiver.

The same function a web front door calls (``integrations.levelio.webhooks.receive``):
verified, checked fresh and not replayed, then applied to the ``rmm_alerts``
mirror exactly once. Until the HTTP API exists, this is how a delivery gets
in (e.g. ``curl``'s captured body piped in, with its signature header).
"""

from __future__ import annotations

import sys
from dataclasses import asdict
from typing import Annotated

import typer

from patchbay.cli.common import JsonFlag, TenantOption, command_runtime, fail_usage, print_json

SignatureOption = Annotated[
    str | None,
    typer.Option(
        "--signature",
        help="The delivery's X-Level-Signature header value (sha256=<hex>).",
    ),
]
HeaderOption = Annotated[
    list[str] | None,
    typer.Option(
        "--header",
        "-H",
        help="A header of the delivery as 'Name: value' (repeatable; e.g. the signature).",
    ),
]


def _headers(raw: list[str], signature: str | None) -> dict[str, str]:
    headers: dict[str, str] = {}
    for item in raw:
        name, sep, value = item.partition(":")
        if not sep or not name.strip():
            fail_usage(f"--header must be 'Name: value', not {item[:40]!r}")
        headers[name.strip()] = value.strip()
    if signature is not None:
        headers["X-Level-Signature"] = signature
    return headers


def ingest_cmd(
    tenant: TenantOption,
    signature: SignatureOption = None,
    header: HeaderOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Receive one Level webhook delivery (body on stdin): verify it, record it once."""
    from actionkit.webhooks import WebhookRejected
    from integrations.levelio.webhooks import receive

    headers = _headers(header or [], signature)
    body = sys.stdin.buffer.read()
    with command_runtime() as rt:
        try:
            receipt = receive(rt.store, tenant, body, headers)
        except WebhookRejected as exc:
            if as_json:
                print_json({"accepted": False, "reason": exc.reason, "message": exc.message})
            else:
                typer.echo(f"refused ({exc.reason}): {exc.message}", err=True)
            raise typer.Exit(1) from None
    if as_json:
        print_json({"accepted": True, **asdict(receipt)})
        return
    verb = "applied" if receipt.outcome == "applied" else "recorded (older than the mirror row)"
    typer.echo(
        f"{verb}: {receipt.event_type} for Level alert {receipt.alert_id} "
        f"(event {receipt.event_id}; mirror status {receipt.status})"
    )
