"""The sample's database connection, from the settings the task definition gives the container.

DB_HOST, DB_PORT, DB_NAME and DB_USER say where and as whom. With DB_AUTH=iam
(the service: its own role, data access only) the password is an IAM
database authentication token, made from the task role's credentials for
DB_REGION at each connection (it is only checked when the connection opens);
otherwise DB_PASSWORD (the migration: the master user, from the cluster's
secret). Connections use TLS verified against the RDS certificate bundle the
image carries; a DB_HOST that is a directory is a local PostgreSQL's Unix
socket (the tests), without TLS.
"""

from __future__ import annotations

import os
import ssl
from pathlib import Path

import pg8000.native

# SQLSTATE class 28, invalid authorization: wrong password or unknown user.
REFUSED_CREDENTIALS = ("28000", "28P01")
RDS_CA_BUNDLE = Path(os.environ.get("DB_CA_BUNDLE", "/app/rds-ca.pem"))
# pg8000 keeps its timeout on the socket: it bounds every read, not only connecting. Long enough for
# a paused Aurora Serverless v2 cluster to resume (about 15 s).
SERVER_TIMEOUT_SECONDS = 30


def iam_token(host: str, port: int, user: str) -> str:
    """An IAM database authentication token for ``user`` (RDS user guide, "Connecting using IAM authentication")."""
    import botocore.session  # noqa: PLC0415 (only the IAM path needs it)

    rds = botocore.session.get_session().create_client("rds", region_name=os.environ["DB_REGION"])
    return rds.generate_db_auth_token(DBHostname=host, Port=port, DBUsername=user)


def connect(timeout: float | None = SERVER_TIMEOUT_SECONDS) -> pg8000.native.Connection:
    """A connection; ``timeout`` bounds each read from the database (``None``: no bound)."""
    host, port = os.environ["DB_HOST"], int(os.environ.get("DB_PORT", "5432"))
    user = os.environ["DB_USER"]
    iam = os.environ.get("DB_AUTH") == "iam"
    settings = {
        "user": user,
        "password": iam_token(host, port, user) if iam else os.environ.get("DB_PASSWORD") or None,
        "database": os.environ.get("DB_NAME", "app"),
        "timeout": timeout,
        "application_name": "sample",
    }
    if host.startswith("/"):
        return pg8000.native.Connection(unix_sock=f"{host}/.s.PGSQL.{port}", **settings)
    tls = ssl.create_default_context(cafile=str(RDS_CA_BUNDLE) if RDS_CA_BUNDLE.is_file() else None)
    return pg8000.native.Connection(host=host, port=port, ssl_context=tls, **settings)


def refused_credentials(error: BaseException | None) -> BaseException | None:
    """The server's refusal of the user or password within ``error``, if it is one (a rotated password).

    pg8000 may report a refused sign-in as a network error, when the server has closed the
    connection before the driver's goodbye: the refusal is then the error's context.
    """
    while error is not None:
        details = error.args[0] if isinstance(error, pg8000.exceptions.DatabaseError) and error.args else None
        if isinstance(details, dict) and details.get("C") in REFUSED_CREDENTIALS:
            return error
        error = error.__cause__ or error.__context__
    return None
