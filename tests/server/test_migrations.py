"""Migrations keep existing data and leave exactly the schema the models describe."""

from __future__ import annotations

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import text

from nagelfluh_lab.cluster.manifests import check_installation
from nagelfluh_lab.db.models import Base, Environment
from nagelfluh_lab.db.session import MIGRATIONS, Database, make_engine
from tests.server.conftest import BACKENDS

pytestmark = pytest.mark.parametrize("db_url", BACKENDS, indirect=True)


def upgrade_to(db_url: str, revision: str) -> None:
    engine = make_engine(db_url)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
    engine.dispose()


def test_environments_of_the_first_schema_become_ready_ones(db_url):
    upgrade_to(db_url, "0001")
    engine = make_engine(db_url)
    with engine.begin() as connection:
        connection.execute(
            text("INSERT INTO environments (name, image, created) VALUES ('geo', 'geo:1', 0)")
        )
    engine.dispose()

    db = Database(db_url)
    geo = db.run_sync(lambda s: s.query(Environment).filter_by(name="geo").one())
    db.close()

    assert (geo.image, geo.state, geo.message, geo.requested_image, geo.attempt) == (
        "geo:1", "ready", None, None, 0)


def test_each_database_gets_one_installation_id_for_good_that_is_a_label_value(
        db_url, tmp_path):
    upgrade_to(db_url, "0002")  # one made before installation ids: it gets one too
    first = Database(db_url)
    first.close()
    reopened = Database(db_url)
    reopened.close()
    other = Database(f"sqlite:///{tmp_path / 'other.db'}")
    other.close()

    assert first.installation == reopened.installation != other.installation
    for installation in (first.installation, other.installation):
        check_installation(installation)  # raises if it is no label value


def test_migrated_database_is_what_the_models_describe(db_url):
    db = Database(db_url)
    with db.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    db.close()

    assert differences == []
