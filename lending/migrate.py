"""Applies the migrations shipped inside the package."""

from alembic import command
from alembic.config import Config


def alembic_config(database_url: str, secret_key: str | None = None) -> Config:
    config = Config()
    # The migration that seals the audit log's existing personal values needs the secret.
    config.attributes["secret_key"] = secret_key
    config.set_main_option("script_location", "lending:migrations")
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade_database(database_url: str, revision: str = "head",
                     secret_key: str | None = None) -> None:
    command.upgrade(alembic_config(database_url, secret_key), revision)
