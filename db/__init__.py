"""Connections, the embedded PostgreSQL, migrations and named queries."""
