"""provenance and result caching: what produced each version, its cache key, the version
it reuses, waits for or re-runs; process types' versions; environments' digests

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

REFERENCES = ("cached_from_id", "waiting_for_id", "rerun_of_id")


def upgrade() -> None:
    with op.batch_alter_table("environments") as batch:
        batch.add_column(sa.Column("digest", sa.String(71), nullable=True))
        batch.add_column(sa.Column("runner_version", sa.String(64), nullable=True))
    with op.batch_alter_table("process_types") as batch:
        batch.add_column(sa.Column("version", sa.String(255), nullable=True))
        batch.add_column(
            sa.Column("cacheable", sa.Boolean(), nullable=False, server_default=sa.true())
        )
    with op.batch_alter_table("process_versions") as batch:
        batch.add_column(sa.Column("provenance", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("cache_key", sa.String(71), nullable=True))
        for column in REFERENCES:
            batch.add_column(sa.Column(column, sa.Integer(), nullable=True))
            batch.create_foreign_key(
                f"fk_process_versions_{column}", "process_versions", [column], ["id"]
            )
        batch.add_column(sa.Column("reproducibility", sa.JSON(), nullable=True))
        batch.create_index("ix_process_versions_cache_key", ["cache_key"])


def downgrade() -> None:
    with op.batch_alter_table("process_versions") as batch:
        batch.drop_index("ix_process_versions_cache_key")
        batch.drop_column("reproducibility")
        for column in reversed(REFERENCES):
            batch.drop_constraint(f"fk_process_versions_{column}", type_="foreignkey")
            batch.drop_column(column)
        batch.drop_column("cache_key")
        batch.drop_column("provenance")
    with op.batch_alter_table("process_types") as batch:
        batch.drop_column("cacheable")
        batch.drop_column("version")
    with op.batch_alter_table("environments") as batch:
        batch.drop_column("runner_version")
        batch.drop_column("digest")
