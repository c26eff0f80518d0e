"""A minimal web service for a first release: answers every GET, including the health check.

PORT (default 80) is the container port; HEALTH_PATH (default /) the target
groups' health-check path. Every answer names the image the task was started
from ("image"), as ECS's task metadata endpoint v4 gives it (the container's
"Image": the task definition's image reference, by digest after a release),
so a check can tell which release answered. With a database (DB_HOST set, see database.py) it
counts the visits to its region and answers its health check only while the
database answers; without one it needs nothing but the standard library.

The service signs in as its own role with an IAM authentication token made
for each new connection (database.py). A password (DB_PASSWORD, as the
migration has) is read when the task starts, and RDS rotates the master's
every 7 days: open connections keep working, but a new one with the old
password is refused. On any refused sign-in the server exits, and ECS
starts a task with current credentials.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

CREDENTIALS_REFUSED = 3  # exit status when the database refuses the task's credentials
COUNT_VISIT = (
    "INSERT INTO visits (region, count, last_visit_at) VALUES (:region, 1, now()) "
    "ON CONFLICT (region) DO UPDATE SET count = visits.count + 1, last_visit_at = now() RETURNING count"
)


class Database:
    """One connection shared by the request threads; opened again after a failure."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._connection = None

    def run(self, statement: str, **parameters: object) -> list:
        import database  # noqa: PLC0415 (pg8000 is needed only with a database)

        with self._lock:
            try:
                if self._connection is None:
                    self._connection = database.connect()
                return self._connection.run(statement, **parameters)
            except Exception as error:
                self._close()
                refusal = database.refused_credentials(error)
                if refusal is not None:
                    print(
                        f"database refused the credentials ({refusal}); exiting for a task with current ones",
                        flush=True,
                    )
                    os._exit(CREDENTIALS_REFUSED)
                raise

    def _close(self) -> None:
        if self._connection is not None:
            with contextlib.suppress(Exception):  # the connection is gone either way
                self._connection.close()
            self._connection = None


def started_from() -> str:
    """The image this container was started from, per ECS's task metadata endpoint v4 ("unknown" elsewhere)."""
    endpoint = os.environ.get("ECS_CONTAINER_METADATA_URI_V4")
    if not endpoint:
        return "unknown"
    try:
        with urllib.request.urlopen(endpoint, timeout=2) as response:
            return json.loads(response.read()).get("Image", "unknown")
    except (OSError, ValueError):
        return "unknown"


def answer(path: str, db: Database | None, region: str, image: str = "unknown") -> tuple[int, dict]:
    """The status and JSON body of a GET of ``path``."""
    healthy = path.split("?", 1)[0] == os.environ.get("HEALTH_PATH", "/")
    body: dict = {"region": region, "image": image, "version": os.environ.get("RELEASE_VERSION", "sample")}
    try:
        if db is not None and healthy:
            db.run("SELECT 1")
        elif db is not None:
            body["visits"] = db.run(COUNT_VISIT, region=region)[0][0]
    except Exception as error:  # any database failure: unhealthy, and say so
        return 503, {**body, "status": "database unavailable", "error": type(error).__name__}
    return 200, {**body, "status": "ok" if healthy else "hello"}


class Handler(BaseHTTPRequestHandler):
    db: Database | None = None
    image = "unknown"

    def do_GET(self) -> None:
        status, body = answer(self.path, self.db, os.environ.get("AWS_REGION", "unknown"), self.image)
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        print(f"{self.address_string()} {format % args}", flush=True)


def main() -> None:
    Handler.db = Database() if os.environ.get("DB_HOST") else None
    Handler.image = started_from()
    server = ThreadingHTTPServer(("", int(os.environ.get("PORT", "80"))), Handler)
    print(f"listening on port {server.server_port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
