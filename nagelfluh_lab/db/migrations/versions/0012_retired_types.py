"""a project's type can be retired: it leaves the listings and takes no new version, while
its revisions, processes and versions stay

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("process_types") as batch:
        batch.add_column(sa.Column("retired", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("process_types") as batch:
        batch.drop_column("retired")
