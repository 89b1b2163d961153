"""events: live events announced to the other servers sharing a PostgreSQL database

On PostgreSQL each row gets its writing transaction's id and is announced on the
``nagelfluh_events`` channel when that transaction commits (payload: the writer's
origin and the transaction id, nothing a reader would trust). SQLite gets the table,
so the schema is the models' everywhere, but never writes to it.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

NOTIFY_FUNCTION = """
CREATE FUNCTION nagelfluh_notify_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('nagelfluh_events', NEW.origin || ' ' || NEW.xid);
    RETURN NULL;
END
$$
"""


def upgrade() -> None:
    op.create_table(
        "events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
        sa.Column("xid", sa.BigInteger(), nullable=False),
        sa.Column("origin", sa.String(16), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("version_id", sa.Integer(), sa.ForeignKey("process_versions.id"), nullable=False),
        sa.Column("first", sa.BigInteger(), nullable=True),
        sa.Column("last", sa.BigInteger(), nullable=True),
        sa.Column("data", sa.JSON(), nullable=True),
        sa.Column("created", sa.Float(), nullable=False),
    )
    op.create_index("ix_events_xid_id", "events", ["xid", "id"])
    if op.get_context().dialect.name == "postgresql":
        op.execute(
            "ALTER TABLE events ALTER COLUMN xid SET DEFAULT (pg_current_xact_id()::text::bigint)"
        )
        op.execute(NOTIFY_FUNCTION)
        op.execute(
            "CREATE TRIGGER events_notify AFTER INSERT ON events "
            "FOR EACH ROW EXECUTE FUNCTION nagelfluh_notify_event()"
        )


def downgrade() -> None:
    op.drop_table("events")
    if op.get_context().dialect.name == "postgresql":
        op.execute("DROP FUNCTION nagelfluh_notify_event()")
