"""add users.full_name and users.is_active

Revision ID: 0002
Revises: 0001
Create Date: 2024-06-15 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # batch_alter_table lets SQLite (which cannot ALTER much) rebuild the table;
    # on PostgreSQL it issues plain ALTER TABLE statements.
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("full_name", sa.String(length=255), nullable=True))
        batch.add_column(
            sa.Column(
                "is_active", sa.Boolean(), server_default=sa.true(), nullable=False
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("is_active")
        batch.drop_column("full_name")
