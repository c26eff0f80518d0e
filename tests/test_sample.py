"""The sample service and its migration, without a database and against a real PostgreSQL.

The PostgreSQL is the one the pinned ``pgserver`` package ships (binaries in
the wheel); each test worker starts its own, and each test gets a database of
its own. The server and the migration run as the image runs them: their own
processes, configured only by environment variables.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

import pytest
from conftest import MIGRATION_COMMAND, ROOT

from tools.operate import sample_source

SAMPLE = ROOT / "sample"
sys.path.insert(0, str(SAMPLE))
import migrate  # noqa: E402  (the sample's own module, as the image runs it)

# What the release before migration 2 ran to count a visit: it knows nothing of last_visit_at.
PREVIOUS_RELEASE_COUNT_VISIT = (
    "INSERT INTO visits (region, count) VALUES (:region, 1) "
    "ON CONFLICT (region) DO UPDATE SET count = visits.count + 1 RETURNING count"
)


def run_sample(command: list[str], environment: dict[str, str], **kwargs) -> subprocess.Popen:
    """Start ``command`` in sample/ as the image does, with only ``environment`` and PATH."""
    executable = sys.executable if command[0] == "python" else command[0]
    return subprocess.Popen(
        [executable, *command[1:]],
        cwd=SAMPLE,
        env={"PATH": os.environ["PATH"], **environment},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        **kwargs,
    )


def run_migration(environment: dict[str, str]) -> str:
    process = run_sample(MIGRATION_COMMAND, environment)
    output, _ = process.communicate(timeout=60)
    assert process.returncode == 0, output
    return output


class Server:
    """sample/server.py running on a free port."""

    def __init__(self, environment: dict[str, str]) -> None:
        # Port 0: the server binds a free port itself and says which (a port picked here could be taken
        # by another test worker before the server binds it).
        self.process = run_sample(
            ["python", "server.py"],
            {**environment, "PORT": "0", "HEALTH_PATH": "/health", "AWS_REGION": "eu-west-2"},
        )
        first_line = self.process.stdout.readline().strip()
        assert first_line.startswith("listening on port "), first_line
        self.port = int(first_line.rsplit(" ", 1)[1])

    def get(self, path: str) -> tuple[int, dict]:
        deadline = time.monotonic() + 10
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=5) as response:
                    return response.status, json.loads(response.read())
            except urllib.error.HTTPError as error:
                return error.code, json.loads(error.read())
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def stop(self) -> None:
        self.process.terminate()
        self.process.communicate(timeout=10)


@pytest.fixture
def server():
    started: list[Server] = []

    def start(environment: dict[str, str]) -> Server:
        started.append(Server(environment))
        return started[-1]

    yield start
    for running in started:
        running.stop()


# --- without a database: as before ---------------------------------------------------------------


def test_without_a_database_the_sample_answers_its_health_check_on_the_configured_port(server):
    status, body = server({}).get("/health")
    assert (status, body["status"], body["region"]) == (200, "ok", "eu-west-2")
    assert "visits" not in server({}).get("/")[1]


def test_every_answer_names_the_image_ecs_started_the_task_from(server, tmp_path):
    """ECS's task metadata endpoint v4 (ECS_CONTAINER_METADATA_URI_V4) gives the container's "Image"."""
    import http.server
    import threading

    image = "123456789012.dkr.ecr.eu-west-2.amazonaws.com/shop@sha256:" + "a" * 64

    class Metadata(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            data = json.dumps({"Name": "web", "Image": image, "ImageID": "sha256:" + "b" * 64}).encode()
            self.send_response(200)
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *_args) -> None:
            pass

    endpoint = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Metadata)
    threading.Thread(target=endpoint.serve_forever, daemon=True).start()
    try:
        running = server({"ECS_CONTAINER_METADATA_URI_V4": f"http://127.0.0.1:{endpoint.server_port}/v4/abc"})
        assert running.get("/health")[1]["image"] == image
        assert running.get("/")[1]["image"] == image
    finally:
        endpoint.shutdown()
    assert server({}).get("/health")[1]["image"] == "unknown"  # outside ECS


# --- with a database ----------------------------------------------------------------------------


def columns(postgres, name: str) -> set[str]:
    listing = postgres.psql(
        f"\\c {name}\nSELECT column_name FROM information_schema.columns WHERE table_name='visits';"
    )
    return {line.strip() for line in listing.splitlines()} & {"region", "count", "last_visit_at"}


def test_the_migration_builds_the_schema_and_a_second_run_changes_nothing(database, postgres):
    first = run_migration(database)
    assert "applied now: [1, 2]" in first
    second = run_migration(database)
    assert "applied now: nothing" in second
    assert columns(postgres, database["DB_NAME"]) == {"region", "count", "last_visit_at"}


def test_the_server_counts_visits_per_region_in_the_database(database, server):
    run_migration(database)
    running = server(database)
    assert [running.get("/")[1]["visits"] for _ in range(3)] == [1, 2, 3]
    status, body = running.get("/health")
    assert (status, body["status"]) == (200, "ok")


def test_the_previous_release_keeps_working_on_the_migrated_schema(database, server):
    """Expand, then contract: a rollback moves traffic back to the previous release, never the schema."""
    import pg8000.native

    connection = pg8000.native.Connection(
        user="postgres", database=database["DB_NAME"], unix_sock=f"{database['DB_HOST']}/.s.PGSQL.5432"
    )
    try:
        migrate.MIGRATIONS, full = migrate.MIGRATIONS[:1], migrate.MIGRATIONS
        try:
            assert migrate.migrate(connection) == [1]  # the schema the previous release shipped with
        finally:
            migrate.MIGRATIONS = full
        assert connection.run(PREVIOUS_RELEASE_COUNT_VISIT, region="eu-west-2") == [[1]]
        assert migrate.migrate(connection) == [2]  # this release's migration, before its traffic shifts
        # Both releases serve side by side during the shift, and the previous one alone after a rollback.
        assert server(database).get("/")[1]["visits"] == 2
        assert connection.run(PREVIOUS_RELEASE_COUNT_VISIT, region="eu-west-2") == [[3]]
        assert server(database).get("/")[1]["visits"] == 4
    finally:
        connection.close()


def test_the_health_check_fails_while_the_database_is_unreachable(database, server, tmp_path):
    run_migration(database)
    unreachable = server({**database, "DB_HOST": str(tmp_path / "no-database-here")})
    status, body = unreachable.get("/health")
    assert (status, body["status"]) == (503, "database unavailable")
    assert unreachable.get("/")[0] == 503
    assert server(database).get("/health")[0] == 200


def test_refused_credentials_end_the_task_so_ecs_starts_one_with_the_current_password(database):
    """After RDS rotates the password, a task that must reconnect holds a stale copy: it exits."""
    running = Server({**database, "DB_USER": "rotated_away"})
    try:
        # The process ends before it answers: the connection closes without a response.
        with pytest.raises((ConnectionError, urllib.error.URLError)):
            urllib.request.urlopen(f"http://127.0.0.1:{running.port}/", timeout=10)
        output, _ = running.process.communicate(timeout=10)
    finally:
        running.process.kill()
    assert running.process.returncode == 3
    assert "database refused the credentials" in output
    assert 'role "rotated_away" does not exist' in output


def test_a_refusal_hidden_behind_a_network_error_is_still_a_refusal():
    """pg8000 reports a refused sign-in as a network error when the server hangs up first."""
    import database as sample_database
    import pg8000.exceptions

    refusal = pg8000.exceptions.DatabaseError(
        {"C": "28P01", "M": 'password authentication failed for user "app"'}
    )
    try:
        try:
            raise refusal
        except pg8000.exceptions.DatabaseError:
            raise pg8000.exceptions.InterfaceError("network error")  # noqa: B904 (as pg8000 raises it)
    except pg8000.exceptions.InterfaceError as error:
        hidden = error
    assert sample_database.refused_credentials(hidden) is refusal
    assert sample_database.refused_credentials(pg8000.exceptions.InterfaceError("network error")) is None
    assert sample_database.refused_credentials(pg8000.exceptions.DatabaseError({"C": "53300"})) is None


def test_a_failed_migration_exits_non_zero_so_the_deployment_fails(database):
    process = run_sample(MIGRATION_COMMAND, {**database, "DB_NAME": "no_such_database"})
    output, _ = process.communicate(timeout=60)
    assert process.returncode != 0
    assert "no_such_database" in output


# --- the image ------------------------------------------------------------------------------------


def test_the_image_runs_the_server_and_carries_the_migration_and_the_rds_certificates():
    dockerfile = (SAMPLE / "Dockerfile").read_text()
    assert "COPY server.py database.py migrate.py ./" in dockerfile
    assert "RUN pip install --no-cache-dir --no-compile -r requirements.txt" in dockerfile
    # Readable by the non-root user, without BuildKit's ADD --chmod.
    assert (
        "ADD https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem /app/rds-ca.pem\n"
        "RUN chmod 0644 /app/rds-ca.pem\n"
    ) in dockerfile
    assert 'CMD ["python", "-u", "server.py"]' in dockerfile
    assert MIGRATION_COMMAND == ["python", "migrate.py"], "the docs' example migration_command"


def test_the_image_pins_the_driver_the_tests_run():
    pinned = dict(
        line.split("==")
        for line in (SAMPLE / "requirements.txt").read_text().splitlines()
        if "==" in line and not line.startswith("#")
    )
    development = (ROOT / "requirements-dev.txt").read_text() + (ROOT / "requirements.txt").read_text()
    for name, version in pinned.items():
        assert f"{name}=={version}" in development, f"tests run another {name} than the image"


def test_sample_source_zip_has_the_dockerfile_at_its_root_and_is_reproducible(tmp_path: Path):
    first, second = tmp_path / "a.zip", tmp_path / "b.zip"
    sample_source.pack(first)
    sample_source.pack(second)
    assert first.read_bytes() == second.read_bytes()
    with zipfile.ZipFile(first) as archive:
        assert sorted(archive.namelist()) == [
            "Dockerfile",
            "database.py",
            "migrate.py",
            "requirements.txt",
            "server.py",
        ]
