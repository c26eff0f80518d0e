"""Database setup: the service's own role, with data access only, made by the master user over TLS.

Run once as an ECS task of the regional stack (Custom::DatabaseUsers) whenever this setup changes, before
the service's tasks start: it signs in as the master user (DB_USER, DB_PASSWORD from the cluster's
RDS-managed secret) to DB_NAME on DB_HOST, with TLS verified against the RDS certificate bundle, and makes
APP_USER a role that signs in with IAM database authentication only (``rds_iam``) and may read and write
the data of schema public (every table and sequence the master user made or makes: migrations run as it),
but own, create or change nothing. Every statement can run again. Exit 0 when done.
"""

from __future__ import annotations

import os
import re
import ssl
import sys
import time

import pg8000.native

IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
# A cluster created moments ago, or paused at 0 ACUs, may take a while to answer.
CONNECT_ATTEMPTS, CONNECT_PAUSE_SECONDS = 20, 10


def statements(app_user: str, master_user: str, database: str) -> list[str]:
    """The SQL that makes ``app_user`` the service's data-only role (every statement idempotent)."""
    for name in (app_user, master_user, database):
        if not IDENTIFIER.fullmatch(name):
            raise ValueError(f"{name!r} is not a plain PostgreSQL identifier")
    return [
        f"DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{app_user}') "
        f"THEN CREATE ROLE {app_user} LOGIN; END IF; END $$",
        f"ALTER ROLE {app_user} NOSUPERUSER NOCREATEDB NOCREATEROLE LOGIN",
        # IAM database authentication: a token from the task role, never a password (RDS user guide,
        # "Creating a database account using IAM authentication").
        f"GRANT rds_iam TO {app_user}",
        f"GRANT CONNECT ON DATABASE {database} TO {app_user}",
        f"GRANT USAGE ON SCHEMA public TO {app_user}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {app_user}",
        f"GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO {app_user}",
        f"ALTER DEFAULT PRIVILEGES FOR ROLE {master_user} IN SCHEMA public "
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {app_user}",
        f"ALTER DEFAULT PRIVILEGES FOR ROLE {master_user} IN SCHEMA public "
        f"GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO {app_user}",
        # Nobody but the owners creates objects in public (PostgreSQL 15+ revokes it already; say so anyway).
        "REVOKE CREATE ON SCHEMA public FROM PUBLIC",
    ]


def connect() -> pg8000.native.Connection:
    env = os.environ
    tls = ssl.create_default_context(cafile=env.get("DB_CA_BUNDLE", "/srv/rds-ca.pem"))
    return pg8000.native.Connection(
        user=env["DB_USER"],
        password=env["DB_PASSWORD"],
        host=env["DB_HOST"],
        port=int(env.get("DB_PORT", "5432")),
        database=env["DB_NAME"],
        ssl_context=tls,
        timeout=60,
        application_name="database-users",
    )


def connect_patiently(sleep=time.sleep) -> pg8000.native.Connection:
    for attempt in range(1, CONNECT_ATTEMPTS + 1):
        try:
            return connect()
        except (OSError, pg8000.exceptions.InterfaceError) as error:
            if attempt == CONNECT_ATTEMPTS:
                raise
            print(f"attempt {attempt}: {error!r}; trying again", flush=True)
            sleep(CONNECT_PAUSE_SECONDS)
    raise AssertionError("unreachable")


def apply(connection, app_user: str, master_user: str, database: str) -> None:
    for statement in statements(app_user, master_user, database):
        connection.run(statement)


def main() -> int:
    env = os.environ
    connection = connect_patiently()
    try:
        apply(connection, env["APP_USER"], env["DB_USER"], env["DB_NAME"])
    finally:
        connection.close()
    print(f"{env['APP_USER']}: data access to {env['DB_NAME']}, signs in with IAM tokens", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
