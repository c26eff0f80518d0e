"""A minimal web service for a first release: answers every GET, including the health check.

PORT (default 80) is the container port; HEALTH_PATH (default /) the target
groups' health-check path. Standard library only.
"""

from __future__ import annotations

import json
import os
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        healthy = self.path.split("?", 1)[0] == os.environ.get("HEALTH_PATH", "/")
        body = json.dumps(
            {
                "status": "ok" if healthy else "hello",
                "region": os.environ.get("AWS_REGION", "unknown"),
                "version": os.environ.get("RELEASE_VERSION", "sample"),
            }
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        print(f"{self.address_string()} {format % args}", flush=True)


def main() -> None:
    server = ThreadingHTTPServer(("", int(os.environ.get("PORT", "80"))), Handler)
    print(f"listening on port {server.server_port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
