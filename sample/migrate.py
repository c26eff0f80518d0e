"""The sample's schema migrations: each release runs ``python migrate.py`` before its traffic shifts.

Migrations only expand the schema (new tables, new nullable columns): the
release before keeps working on the migrated schema, because a rollback moves
traffic back to it and never undoes a migration. Running it again applies
nothing; an advisory lock keeps two runs from interleaving.
"""

from __future__ import annotations

import sys

import database

# (version, statement), applied in order, each once.
MIGRATIONS = (
    (1, "CREATE TABLE IF NOT EXISTS visits (region text PRIMARY KEY, count bigint NOT NULL DEFAULT 0)"),
    (2, "ALTER TABLE visits ADD COLUMN IF NOT EXISTS last_visit_at timestamptz"),
)
LOCK_ID = 727_011  # any constant: one migration at a time per database


def migrate(connection) -> list[int]:
    """Apply the migrations the database lacks; return their versions."""
    connection.run("BEGIN")
    try:
        connection.run("SELECT pg_advisory_xact_lock(:lock)", lock=LOCK_ID)
        connection.run(
            "CREATE TABLE IF NOT EXISTS schema_migrations "
            "(version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        done = {row[0] for row in connection.run("SELECT version FROM schema_migrations")}
        applied = []
        for version, statement in MIGRATIONS:
            if version not in done:
                connection.run(statement)
                connection.run("INSERT INTO schema_migrations (version) VALUES (:version)", version=version)
                applied.append(version)
        connection.run("COMMIT")
    except Exception:
        connection.run("ROLLBACK")
        raise
    return applied


def main() -> int:
    # No read timeout: a migration may run long (the hook's migration_timeout_minutes bounds it).
    connection = database.connect(timeout=None)
    try:
        applied = migrate(connection)
    finally:
        connection.close()
    latest = MIGRATIONS[-1][0]
    print(f"schema at version {latest}; applied now: {applied or 'nothing'}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
