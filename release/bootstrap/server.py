"""The bootstrap image's server: 200 on every path, on PORT, until the first release replaces it.

Standard library only; writes nothing to the file system (the root file system is read-only).
"""

import os
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PAGE = b"This region is deployed and waits for its first release.\n"


class Waiting(BaseHTTPRequestHandler):
    """Every GET and HEAD is answered 200: the load balancer's health check may use any path."""

    def do_HEAD(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(PAGE)))
        self.end_headers()

    def do_GET(self):
        self.do_HEAD()
        self.wfile.write(PAGE)


def serve(port: int) -> ThreadingHTTPServer:
    return ThreadingHTTPServer(("0.0.0.0", port), Waiting)


if __name__ == "__main__":
    serve(int(os.environ.get("PORT", "80"))).serve_forever()
