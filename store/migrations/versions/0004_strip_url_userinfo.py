"""connections: strip user names and passwords out of stored vendor URLs

Before the outbound URL policy, ``patchbay connect --url
https://user:password@host`` stored the password in clear text in
``rmm_integrations.instance_url``. The policy now refuses such URLs (and the
clients refuse them before any request); this removes the userinfo from rows
written before, so no password stays at rest. The URL keeps working without
it: credentials are secrets, never part of the URL.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import urlsplit, urlunsplit

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def without_userinfo(url: str) -> str:
    """``url`` with any ``user:password@`` removed (a scheme-less URL keeps none)."""
    text = url.strip()
    has_scheme = "://" in text
    try:
        parts = urlsplit(text if has_scheme else f"//{text}")
    except ValueError:
        return text.rsplit("@", 1)[-1]
    if "@" not in parts.netloc:
        return url
    stripped = urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))
    return stripped if has_scheme else stripped.removeprefix("//")


def upgrade() -> None:
    table = sa.table(
        "rmm_integrations",
        sa.column("integration_id", sa.Uuid()),
        sa.column("instance_url", sa.String(255)),
    )
    conn = op.get_bind()
    rows = conn.execute(
        sa.select(table.c.integration_id, table.c.instance_url).where(
            table.c.instance_url.contains("@")
        )
    ).all()
    for integration_id, url in rows:
        clean = without_userinfo(url)
        if clean != url:
            conn.execute(
                table.update()
                .where(table.c.integration_id == integration_id)
                .values(instance_url=clean)
            )


def downgrade() -> None:
    # The removed passwords are gone for good (that is the point).
    pass
