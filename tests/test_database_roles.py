"""The service's own database role, against a real PostgreSQL; TLS and IAM tokens on every path that connects.

The database setup (release/bootstrap/database_users.py) runs as the master
user before the service starts and before any migration; migrations run as
the master user later, release by release. The service then signs in as
``APP_USER``: it reads and writes every table the migrations made, and
creates, changes or drops nothing. The PostgreSQL is the pinned ``pgserver``'s
(built without TLS): the setup's SQL runs on it as on Aurora, with
``rds_iam`` made as Aurora has it. Neither the sample nor the setup will
speak to a server that does not offer TLS, and both verify its certificate
against the RDS bundle; the sample's token is an IAM authentication token
for its own region. That only ``APP_USER`` may be signed in to with the
service's token is the IAM simulator's decision (tests/test_permission_contract.py).
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import socket
import ssl
import subprocess
import sys
import threading
import urllib.parse
from pathlib import Path

import pg8000.exceptions
import pg8000.native
import pytest
from conftest import MIGRATION_COMMAND, ROOT
from test_sample import Server, run_sample

from constructs.region.bootstrap_image import BOOTSTRAP_CONTEXT
from constructs.settings.database_settings import APP_USER

sys.path.insert(0, str(ROOT / "sample"))
import database as sample_database

_spec = importlib.util.spec_from_file_location(
    "bootstrap_database_users", BOOTSTRAP_CONTEXT / "database_users.py"
)
database_users = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(database_users)

INSUFFICIENT_PRIVILEGE = "42501"


def as_user(database: dict[str, str], user: str) -> pg8000.native.Connection:
    """A connection over the server's Unix socket (which trusts its users) as ``user``."""
    return pg8000.native.Connection(
        user=user, database=database["DB_NAME"], unix_sock=f"{database['DB_HOST']}/.s.PGSQL.5432"
    )


def set_up(database: dict[str, str]) -> None:
    """What Custom::DatabaseUsers runs, as the master user (here the server's superuser)."""
    master = as_user(database, "postgres")
    try:
        # Aurora PostgreSQL has this role built in; the setup grants it.
        master.run(
            "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'rds_iam') "
            "THEN CREATE ROLE rds_iam; END IF; END $$"
        )
        database_users.apply(master, APP_USER, "postgres", database["DB_NAME"])
    finally:
        master.close()


def migrate(database: dict[str, str]) -> None:
    process = run_sample(MIGRATION_COMMAND, database)
    output, _ = process.communicate(timeout=60)
    assert process.returncode == 0, output


def refusal(connection: pg8000.native.Connection, statement: str) -> str:
    with pytest.raises(pg8000.exceptions.DatabaseError) as raised:
        connection.run(statement)
    return raised.value.args[0]["C"]


def test_the_services_role_reads_and_writes_the_data_and_changes_no_schema(database):
    set_up(database)  # at the stack's create: before any migration
    migrate(database)  # a release, as the master user
    app = as_user(database, APP_USER)
    try:
        app.run("INSERT INTO visits (region, count) VALUES ('eu-west-2', 1)")
        app.run("UPDATE visits SET count = count + 1 WHERE region = 'eu-west-2'")
        assert app.run("SELECT count FROM visits WHERE region = 'eu-west-2'") == [[2]]
        app.run("DELETE FROM visits")
        for statement in (
            "CREATE TABLE sneaky (id int)",
            "ALTER TABLE visits ADD COLUMN sneaky int",
            "DROP TABLE visits",
            "TRUNCATE visits",
            "CREATE ROLE sneaky",
            f"CREATE DATABASE sneaky_{os.getpid()}",
        ):
            assert refusal(app, statement) == INSUFFICIENT_PRIVILEGE, statement
        member_of = app.run(
            "SELECT b.rolname FROM pg_auth_members m JOIN pg_roles b ON m.roleid = b.oid "
            "JOIN pg_roles u ON m.member = u.oid WHERE u.rolname = :user",
            user=APP_USER,
        )
        assert member_of == [["rds_iam"]], "signs in with IAM tokens only, and is a member of nothing else"
        (flags,) = app.run(
            "SELECT rolsuper, rolcreaterole, rolcreatedb, rolcanlogin FROM pg_roles WHERE rolname = :user",
            user=APP_USER,
        )
        assert flags == [False, False, False, True]
    finally:
        app.close()


def test_tables_a_later_migration_makes_are_the_services_too(database):
    set_up(database)
    migrate(database)
    master = as_user(database, "postgres")
    try:  # the next release's migration
        master.run("CREATE TABLE orders (id serial PRIMARY KEY, region text)")
    finally:
        master.close()
    app = as_user(database, APP_USER)
    try:
        assert app.run("INSERT INTO orders (region) VALUES ('eu-west-2') RETURNING id") == [[1]]
    finally:
        app.close()


def test_the_setup_runs_again_without_changing_anything(database):
    set_up(database)
    migrate(database)
    set_up(database)  # a new setup revision: every statement again
    app = as_user(database, APP_USER)
    try:
        assert app.run("SELECT count(*) FROM visits") == [[0]]
    finally:
        app.close()


def test_the_sample_serves_as_the_services_role(database):
    set_up(database)
    migrate(database)
    running = Server({**database, "DB_USER": APP_USER, "DB_PASSWORD": ""})
    try:
        assert [running.get("/")[1]["visits"] for _ in range(2)] == [1, 2]
        assert running.get("/health")[0] == 200
    finally:
        running.stop()


def test_the_setup_refuses_names_that_are_not_plain_identifiers():
    with pytest.raises(ValueError, match="plain PostgreSQL identifier"):
        database_users.statements("app; DROP TABLE visits", "postgres", "app")


# --- TLS: never without it, always verified -------------------------------------------------------


@pytest.fixture
def plain_postgres(postgres) -> int:
    """The worker's real PostgreSQL (pgserver's, built without TLS) on a TCP port of 127.0.0.1: its port.

    A relay passes the bytes both ways between each TCP client and the server's Unix socket, unchanged:
    what a client hears is the server's own answer.
    """
    listener = socket.create_server(("127.0.0.1", 0))
    target = f"{postgres.pgdata}/.s.PGSQL.5432"

    def pipe(source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)

    def relay() -> None:
        with contextlib.suppress(OSError):
            while True:
                client, _ = listener.accept()
                server = socket.socket(socket.AF_UNIX)
                server.connect(target)
                for source, sink in ((client, server), (server, client)):
                    threading.Thread(target=pipe, args=(source, sink), daemon=True).start()

    threading.Thread(target=relay, daemon=True).start()
    yield listener.getsockname()[1]
    listener.close()


def test_a_plain_connection_reaches_that_server(plain_postgres):
    """The control: the server answers whoever speaks to it without TLS."""
    connection = pg8000.native.Connection(user="postgres", host="127.0.0.1", port=plain_postgres)
    try:
        assert connection.run("SELECT 1") == [[1]]
    finally:
        connection.close()


def test_the_sample_and_the_setup_refuse_a_database_without_tls(
    plain_postgres, monkeypatch, certificate_bundle
):
    monkeypatch.setenv("DB_CA_BUNDLE", str(certificate_bundle))
    monkeypatch.setattr(sample_database, "RDS_CA_BUNDLE", certificate_bundle)
    monkeypatch.setenv("DB_HOST", "127.0.0.1")
    monkeypatch.setenv("DB_PORT", str(plain_postgres))
    monkeypatch.setenv("DB_NAME", "postgres")
    monkeypatch.setenv("DB_USER", "postgres")
    monkeypatch.setenv("DB_PASSWORD", "unused")
    for connect in (sample_database.connect, database_users.connect):
        with pytest.raises(pg8000.exceptions.InterfaceError, match="SSL"):
            connect()


def captured_connection(monkeypatch, module) -> dict:
    """What ``module.connect()`` hands pg8000 (it connects nowhere)."""
    captured: dict = {}
    monkeypatch.setattr(module.pg8000.native, "Connection", lambda **kwargs: captured.update(kwargs))
    module.connect()
    return captured


@pytest.fixture
def certificate_bundle(tmp_path) -> Path:
    """A self-signed certificate standing in for the RDS bundle."""
    bundle = tmp_path / "rds-ca.pem"
    subject = ("-subj", "/CN=Stand-in RDS CA")
    files = ("-keyout", str(tmp_path / "key.pem"), "-out", str(bundle))
    command = ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", *subject, *files]
    subprocess.run(command, check=True, capture_output=True)
    return bundle


def test_both_verify_the_database_certificate_against_the_rds_bundle(monkeypatch, certificate_bundle):
    host = "webapp.cluster-c0ffee0example.eu-west-2.rds.amazonaws.com"
    for name, value in {
        "DB_HOST": host,
        "DB_NAME": "app",
        "DB_USER": "app_admin",
        "DB_PASSWORD": "pw",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("DB_CA_BUNDLE", str(certificate_bundle))
    monkeypatch.setattr(sample_database, "RDS_CA_BUNDLE", certificate_bundle)
    for module in (sample_database, database_users):
        settings = captured_connection(monkeypatch, module)
        context = settings["ssl_context"]
        assert (settings["host"], context.verify_mode, context.check_hostname) == (
            host,
            ssl.CERT_REQUIRED,
            True,
        )
        assert [dict(c["subject"][0])["commonName"] for c in context.get_ca_certs()] == ["Stand-in RDS CA"]


def test_the_service_signs_in_with_an_iam_token_for_its_own_region(monkeypatch, certificate_bundle):
    host = "webapp.cluster-c0ffee0example.ap-southeast-1.rds.amazonaws.com"
    settings = {"DB_HOST": host, "DB_NAME": "app", "DB_USER": APP_USER, "DB_AUTH": "iam"}
    settings |= {
        "DB_REGION": "ap-southeast-1",
        "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE",
        "AWS_SECRET_ACCESS_KEY": "x",
    }
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("DB_PASSWORD", raising=False)
    monkeypatch.setattr(sample_database, "RDS_CA_BUNDLE", certificate_bundle)
    token = captured_connection(monkeypatch, sample_database)["password"]
    address, query = token.split("/?", 1)
    signed = urllib.parse.parse_qs(query)
    assert address == f"{host}:5432"
    assert (signed["Action"], signed["DBUser"]) == (["connect"], [APP_USER])
    assert signed["X-Amz-Credential"][0].split("/")[2:4] == ["ap-southeast-1", "rds-db"]
    assert int(signed["X-Amz-Expires"][0]) == 900
