"""Alembic environment: the URL comes from `-x url=...`, the config's sqlalchemy.url, or DATABASE_URL."""

from alembic import context

import app.models  # noqa: F401  (registers every model on Base.metadata)
from app.db import make_engine, metadatas
from config import database_url

config = context.config
target_metadata = metadatas()


def _url() -> str:
    return database_url(
        context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option("sqlalchemy.url")
    )


def run_migrations_offline() -> None:
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connectable = config.attributes.get("connection")
    if connectable is not None:
        _run(connectable)
        return
    engine = make_engine(_url())
    with engine.connect() as connection:
        _run(connection)
    engine.dispose()


def _run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
    if connection.in_transaction():
        connection.commit()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
