"""ownership: environments' owners, the server that runs each version, dataset digests

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Existing environments keep no owner: they were the installation's (any user could
    # register one, so none can be told apart as a user's own).
    with op.batch_alter_table("environments") as batch:
        batch.add_column(sa.Column("owner_user_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("owner_project_id", sa.Integer(), nullable=True))
        batch.create_foreign_key("fk_environments_owner_user", "users", ["owner_user_id"], ["id"])
        batch.create_foreign_key(
            "fk_environments_owner_project", "projects", ["owner_project_id"], ["id"]
        )
    # Versions from before: no server recorded, so any server may take them up (as before).
    with op.batch_alter_table("process_versions") as batch:
        batch.add_column(sa.Column("server", sa.String(length=255), nullable=True))
    with op.batch_alter_table("datasets") as batch:
        batch.add_column(sa.Column("digest", sa.String(length=71), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("datasets") as batch:
        batch.drop_column("digest")
    with op.batch_alter_table("process_versions") as batch:
        batch.drop_column("server")
    with op.batch_alter_table("environments") as batch:
        batch.drop_constraint("fk_environments_owner_project", type_="foreignkey")
        batch.drop_constraint("fk_environments_owner_user", type_="foreignkey")
        batch.drop_column("owner_project_id")
        batch.drop_column("owner_user_id")
