"""the executor of each version, so that a server takes over only versions of its kind

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("process_versions") as batch:
        batch.add_column(sa.Column("executor", sa.String(32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("process_versions") as batch:
        batch.drop_column("executor")
