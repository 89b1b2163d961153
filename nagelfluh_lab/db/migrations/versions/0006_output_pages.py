"""output pages: a version's output count, and indexes for pages of datasets

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("process_versions") as batch:
        batch.add_column(
            sa.Column("output_count", sa.Integer(), nullable=False, server_default="0")
        )
    op.execute(
        "UPDATE process_versions SET output_count = "
        "(SELECT count(*) FROM datasets WHERE datasets.version_id = process_versions.id)"
    )
    op.create_index("ix_datasets_project_id", "datasets", ["project_id", "id"])
    op.create_index("ix_datasets_version_id", "datasets", ["version_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_datasets_version_id", "datasets")
    op.drop_index("ix_datasets_project_id", "datasets")
    with op.batch_alter_table("process_versions") as batch:
        batch.drop_column("output_count")
