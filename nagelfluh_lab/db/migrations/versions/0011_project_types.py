"""a project's own process types, registered from notebooks and functions: type names unique
per project (an installation type's name stays unique), revisions, the revision a version runs

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

# SQLite's unique constraint on the name, made unnamed by 0001, found by its column.
NAMING = {"uq": "uq_%(table_name)s_%(column_0_name)s"}
INSTALLATION_ONLY = sa.text("project_id IS NULL")


def _drop_name_unique() -> None:
    if op.get_context().dialect.name == "postgresql":
        op.drop_constraint("process_types_name_key", "process_types", type_="unique")
        return
    with op.batch_alter_table("process_types", naming_convention=NAMING) as batch:
        batch.drop_constraint("uq_process_types_name", type_="unique")


def upgrade() -> None:
    _drop_name_unique()
    with op.batch_alter_table("process_types") as batch:
        batch.add_column(sa.Column("kind", sa.String(16), nullable=False, server_default="package"))
        batch.add_column(sa.Column("project_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("revision", sa.Integer(), nullable=True))
        batch.create_foreign_key("fk_process_types_project_id", "projects", ["project_id"], ["id"])
        batch.create_unique_constraint("uq_process_types_project_name", ["project_id", "name"])
    op.create_index(
        "uq_process_types_installation_name",
        "process_types",
        ["name"],
        unique=True,
        sqlite_where=INSTALLATION_ONLY,
        postgresql_where=INSTALLATION_ONLY,
    )
    op.create_table(
        "process_type_revisions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("type_id", sa.Integer(), sa.ForeignKey("process_types.id"), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("digest", sa.String(71), nullable=False),
        sa.Column("key", sa.String(2048), nullable=False),
        sa.Column("schema", sa.JSON(), nullable=False),
        sa.Column("title", sa.String(255), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("path", sa.String(4096), nullable=True),
        sa.Column("created", sa.Float(), nullable=False),
        sa.Column("created_by", sa.Integer(), sa.ForeignKey("users.id"), nullable=False),
        sa.UniqueConstraint("type_id", "number"),
    )
    op.create_index("ix_process_type_revisions_type_id", "process_type_revisions", ["type_id"])
    with op.batch_alter_table("process_versions") as batch:
        batch.add_column(sa.Column("type_revision_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            "fk_process_versions_type_revision_id",
            "process_type_revisions",
            ["type_revision_id"],
            ["id"],
        )


def downgrade() -> None:
    with op.batch_alter_table("process_versions") as batch:
        batch.drop_constraint("fk_process_versions_type_revision_id", type_="foreignkey")
        batch.drop_column("type_revision_id")
    op.drop_index("ix_process_type_revisions_type_id", "process_type_revisions")
    op.drop_table("process_type_revisions")
    op.execute("DELETE FROM process_types WHERE project_id IS NOT NULL")
    op.drop_index("uq_process_types_installation_name", "process_types")
    with op.batch_alter_table("process_types") as batch:
        batch.drop_constraint("uq_process_types_project_name", type_="unique")
        batch.drop_constraint("fk_process_types_project_id", type_="foreignkey")
        batch.drop_column("revision")
        batch.drop_column("project_id")
        batch.drop_column("kind")
        batch.create_unique_constraint("process_types_name_key", ["name"])
