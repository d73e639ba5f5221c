"""A server that only answers: 200 "ok" to any GET on port 8888, logging nothing.

The spawner passes the server's usual command as arguments; they are ignored.
"""

from http.server import BaseHTTPRequestHandler, HTTPServer


class Answer(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (the name http.server calls)
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.end_headers()
        self.wfile.write(b"ok\n")

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


HTTPServer(("0.0.0.0", 8888), Answer).serve_forever()
