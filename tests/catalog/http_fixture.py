"""A real HTTP server on 127.0.0.1 for fetch tests: Range support and scripted faults.

Each route (URL path) has a mode:

- ``file``: serve the bytes, honouring ``Range: bytes=N-`` with 206;
- ``truncate-once``: the first answer announces the full Content-Length but sends only
  half the bytes and closes; later answers behave like ``file``;
- ``truncate-always``: every answer is cut short like that;
- ``html``: status 200 with an HTML error page (Content-Type text/html);
- ``html-octet``: status 200, Content-Type application/octet-stream, HTML body.

Every request is logged as (path, Range header or None).
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HTML_PAGE = b"<!DOCTYPE html><html><body><h1>Please log in</h1></body></html>"


@dataclass
class Route:
    body: bytes
    mode: str = "file"
    served: int = 0


@dataclass
class FixtureServer:
    host: str
    port: int
    routes: dict[str, Route] = field(default_factory=dict)
    log: list[tuple[str, str | None]] = field(default_factory=list)

    def url(self, path: str) -> str:
        return f"http://{self.host}:{self.port}{path}"

    def hits(self, path: str) -> int:
        return sum(1 for p, _ in self.log if p == path)


def _handler(state: FixtureServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:  # quiet
            return

        def do_GET(self) -> None:  # noqa: N802 (http.server API)
            rng = self.headers.get("Range")
            state.log.append((self.path, rng))
            route = state.routes.get(self.path)
            if route is None:
                self.send_error(404, "not found")
                return
            route.served += 1
            if route.mode in ("html", "html-octet"):
                ctype = (
                    "text/html; charset=utf-8"
                    if route.mode == "html"
                    else "application/octet-stream"
                )
                self.send_response(200)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(HTML_PAGE)))
                self.end_headers()
                self.wfile.write(HTML_PAGE)
                return
            body, start = route.body, 0
            if rng and rng.startswith("bytes="):
                start = int(rng[len("bytes=") :].split("-")[0])
                if start >= len(body):
                    self.send_response(416)
                    self.send_header("Content-Range", f"bytes */{len(body)}")
                    self.end_headers()
                    return
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
            else:
                self.send_response(200)
            payload = body[start:]
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            cut = route.mode == "truncate-always" or (
                route.mode == "truncate-once" and route.served == 1
            )
            if cut:
                self.wfile.write(payload[: len(payload) // 2])
                self.wfile.flush()
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            self.wfile.write(payload)

    return Handler


@contextmanager
def serve() -> Iterator[FixtureServer]:
    """Start the server on an ephemeral port of 127.0.0.1; stop it on exit."""
    state = FixtureServer("127.0.0.1", 0)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    state.port = httpd.server_address[1]
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def closed_port() -> int:
    """A port on 127.0.0.1 with nothing listening (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
