"""installation: the database's own random id, which labels its Kubernetes objects

Revision ID: 0003
Revises: 0002
"""

import secrets
import time

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Made here, so that every database has exactly one, whether new or upgraded.
    table = op.create_table(
        "installation",
        sa.Column("id", sa.String(length=63), nullable=False),
        sa.Column("created", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.bulk_insert(table, [{"id": secrets.token_hex(8), "created": time.time()}])


def downgrade() -> None:
    op.drop_table("installation")
