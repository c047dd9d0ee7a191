"""Alembic environment. `qdx migrate` (db/migrate.py) hands us a connection that is
already inside its transaction and holds the migration lock; we never open our own."""

from alembic import context

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations with `qdx migrate`, not the alembic command")

context.configure(connection=connection, target_metadata=None, transaction_per_migration=False)
with context.begin_transaction():
    context.run_migrations()
