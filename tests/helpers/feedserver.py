"""A real HTTP server on 127.0.0.1 (or another loopback address) that serves feeds the way
real hosts do.

Routes are set per path: a body with ETag and Last-Modified (answering 304 to matching
validators), a status code, a delay before the body, or a raw handler. Every request is
recorded so tests can assert what the client sent.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LAST_MODIFIED = "Mon, 02 Nov 2026 10:00:00 GMT"


@dataclass
class Route:
    body: bytes = b""
    content_type: str = "application/rss+xml; charset=utf-8"
    status: int = 200
    validators: bool = True
    delay: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)
    handler: Callable[[BaseHTTPRequestHandler], None] | None = None

    @property
    def etag(self) -> str:
        return '"' + hashlib.sha1(self.body).hexdigest()[:16] + '"'


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    connection: tuple[str, int] = ("", 0)  # the client's address: one per TCP connection


class FeedServer:
    def __init__(self, host: str = "127.0.0.1") -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[Request] = []
        self.in_flight = 0
        self.max_in_flight = 0  # most requests served at the same moment
        self.overlaps: list[str] = []  # paths requested again while still being served
        self._paths_in_flight: dict[str, int] = {}
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                with server._lock:
                    headers = dict(self.headers.items())
                    peer = (str(self.client_address[0]), int(self.client_address[1]))
                    server.requests.append(Request(self.path, headers, peer))
                    server.in_flight += 1
                    server.max_in_flight = max(server.max_in_flight, server.in_flight)
                    busy = server._paths_in_flight.get(self.path, 0)
                    if busy:
                        server.overlaps.append(self.path)
                    server._paths_in_flight[self.path] = busy + 1
                try:
                    server._serve(self)
                finally:
                    with server._lock:
                        server.in_flight -= 1
                        server._paths_in_flight[self.path] -= 1

        self.httpd = ThreadingHTTPServer((host, 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def base(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def url(self, path: str) -> str:
        return self.base + path

    def set(self, path: str, body: bytes | str = b"", **kwargs: object) -> str:
        data = body.encode() if isinstance(body, str) else body
        self.routes[path] = Route(body=data, **kwargs)  # type: ignore[arg-type]
        return self.url(path)

    def requests_for(self, path: str) -> list[Request]:
        with self._lock:
            return [r for r in self.requests if r.path == path]

    def _serve(self, h: BaseHTTPRequestHandler) -> None:
        route = self.routes.get(h.path)
        if route is None:
            self._send(h, 404, b"not found", {"Content-Type": "text/plain"})
            return
        if route.handler is not None:
            route.handler(h)
            return
        if route.delay:
            time.sleep(route.delay)
        headers = {"Content-Type": route.content_type, **route.headers}
        if route.validators and route.status == 200:
            headers["ETag"] = route.etag
            headers["Last-Modified"] = LAST_MODIFIED
            if h.headers.get("If-None-Match") == route.etag:
                self._send(h, 304, b"", {"ETag": route.etag})
                return
        self._send(h, route.status, route.body, headers)

    @staticmethod
    def _send(h: BaseHTTPRequestHandler, status: int, body: bytes, headers: dict[str, str]) -> None:
        try:
            h.send_response(status)
            for key, value in headers.items():
                h.send_header(key, value)
            if status != 304:
                h.send_header("Content-Length", str(len(body)))
            h.end_headers()
            if status != 304:
                h.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
