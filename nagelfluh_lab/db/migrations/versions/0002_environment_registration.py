"""environments registered from images: state, message, requested image, attempt

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("environments") as batch:
        batch.add_column(
            sa.Column("state", sa.String(length=16), server_default="ready", nullable=False)
        )
        batch.add_column(sa.Column("message", sa.Text(), nullable=True))
        batch.add_column(sa.Column("requested_image", sa.String(length=1024), nullable=True))
        batch.add_column(sa.Column("attempt", sa.Integer(), server_default="0", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("environments") as batch:
        batch.drop_column("attempt")
        batch.drop_column("requested_image")
        batch.drop_column("message")
        batch.drop_column("state")
