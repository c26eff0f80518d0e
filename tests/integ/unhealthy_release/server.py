"""Answers 503 to every request: a release whose tasks never pass the load balancer's health check."""

import os
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Unhealthy(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(503)
        self.send_header("Content-Length", "0")
        self.end_headers()


if __name__ == "__main__":
    ThreadingHTTPServer(("", int(os.environ.get("PORT", "80"))), Unhealthy).serve_forever()
