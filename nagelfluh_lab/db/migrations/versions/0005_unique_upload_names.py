"""uploads: one upload of a name per project, which the database decides

Revision ID: 0005
Revises: 0004
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("uploads") as batch:
        batch.create_unique_constraint("uq_uploads_project_name", ["project_id", "name"])


def downgrade() -> None:
    with op.batch_alter_table("uploads") as batch:
        batch.drop_constraint("uq_uploads_project_name", type_="unique")
