"""Real alert receivers on 127.0.0.1 for channel tests: a webhook endpoint and an SMTP server.

WebhookReceiver checks every request's signature with the `standardwebhooks` library (an
implementation independent of ours) and can be told to answer the next N requests with a
given status and headers, or to stall. SmtpServer is an aiosmtpd Controller whose handler
records parsed messages and can defer (451) or reject DATA, refuse recipients, and check
a login. Both are pytest fixtures: `webhook_receiver`, `smtp_server`. `make_alert` builds
the Alert the channel tests send.
"""

from __future__ import annotations

import base64
import email
import email.policy
import json
import os
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from standardwebhooks import Webhook

from aggregator.types import Alert, AlertStory, Highlight, StorySource

SNIPPET = "… have taken control of nearly the entire Yarmouk Palestinian refugee camp …"


def make_alert(delivery_id: str = "dlv-01J9Z6", **story: Any) -> Alert:
    """A realistic alert (a syndicated story, two sources); `story` overrides its fields."""
    base = AlertStory(
        id="story-42",
        title="Fighters take control of Yarmouk camp",
        url="https://news.example.org/2026/11/yarmouk",
        published=datetime(2026, 11, 20, 23, 59, tzinfo=UTC),
        feed_name="telesur",
        feed_url="https://www.telesurenglish.example/rss/RssWorld.xml",
        sources=(
            StorySource("telesur", "https://news.example.org/2026/11/yarmouk"),
            StorySource("wire", "https://wire.example.net/yarmouk-camp"),
        ),
        snippet=SNIPPET,
        summary="<p>The <b>Yarmouk</b> camp, south of Damascus.</p>",
    )
    return Alert(
        delivery_id=delivery_id,
        channel="test",
        watchlist="yarmouk",
        matched=("yarmouk",),
        highlights=(Highlight("summary", "yarmouk", SNIPPET),),
        story=replace(base, **story),
        created_at=datetime(2026, 11, 21, 0, 0, 3, tzinfo=UTC),
    )


def new_secret() -> str:
    return "whsec_" + base64.b64encode(os.urandom(24)).decode()


@dataclass
class Attempt:
    """One request the receiver got: headers, raw body, and whether the signature verified."""

    headers: dict[str, str]
    body: bytes
    verified: bool
    status: int


@dataclass
class Planned:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    stall: float = 0.0
    trickle: float = 0.0


class WebhookReceiver:
    """A webhook endpoint; `deliveries` holds (webhook-id, JSON) of verified 2xx answers."""

    def __init__(self, secret: str | None) -> None:
        self.secret = secret
        self.attempts: list[Attempt] = []
        self.deliveries: list[tuple[str, Any]] = []
        self._plan: list[Planned] = []
        self._lock = threading.Lock()
        self._closing = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                receiver._handle(self)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/hook"

    def answer(self, status: int, times: int = 1, headers: dict[str, str] | None = None) -> None:
        """Answer the next `times` requests with `status` (and headers) instead of 204."""
        with self._lock:
            self._plan += [Planned(status, dict(headers or {})) for _ in range(times)]

    def stall(self, seconds: float, times: int = 1) -> None:
        """Wait `seconds` before answering the next `times` requests."""
        with self._lock:
            self._plan += [Planned(204, stall=seconds) for _ in range(times)]

    def trickle(self, pause: float, times: int = 1) -> None:
        """Answer the next `times` requests one byte per `pause` seconds (a slow loris)."""
        with self._lock:
            self._plan += [Planned(204, trickle=pause) for _ in range(times)]

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        body = handler.rfile.read(int(handler.headers.get("Content-Length", "0")))
        headers = {k.lower(): v for k, v in handler.headers.items()}
        verified = False
        if self.secret is not None:
            try:
                Webhook(self.secret).verify(body, headers)
                verified = True
            except Exception:
                verified = False
        with self._lock:
            plan = self._plan.pop(0) if self._plan else Planned(204)
        if plan.stall and self._closing.wait(plan.stall):
            return
        status = plan.status if verified or self.secret is None else 401
        with self._lock:
            self.attempts.append(Attempt(headers, body, verified, status))
            if 200 <= status < 300 and (verified or self.secret is None):
                self.deliveries.append((headers.get("webhook-id", ""), json.loads(body)))
        if plan.trickle:
            self._trickle(handler, plan.trickle)
            return
        handler.send_response(status)
        for name, value in plan.headers.items():
            handler.send_header(name, value)
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    def _trickle(self, handler: BaseHTTPRequestHandler, pause: float) -> None:
        answer = b"HTTP/1.1 204 No Content\r\nX-Pad: " + b"x" * 200 + b"\r\n\r\n"
        try:
            for byte in answer:
                if self._closing.wait(pause):
                    return
                handler.wfile.write(bytes([byte]))
                handler.wfile.flush()
        except OSError:
            pass  # the client gave up, as it should
        handler.close_connection = True

    def close(self) -> None:
        self._closing.set()
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def webhook_receiver() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver(new_secret())
    yield receiver
    receiver.close()


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage


class RecordingHandler:
    """aiosmtpd handler: records messages; scripted DATA replies and refused recipients."""

    def __init__(self) -> None:
        self.messages: list[Received] = []
        self.data_replies: list[str] = []  # popped per DATA; empty means "250 OK"
        self.refuse: dict[str, str] = {}  # recipient -> RCPT reply
        self.data_commands = 0

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.data_commands += 1
        if self.data_replies:
            return self.data_replies.pop(0)
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.messages.append(Received(envelope.mail_from, list(envelope.rcpt_tos), message))
        return "250 OK"


class SmtpServer:
    """An aiosmtpd server on 127.0.0.1; login optional, accepted only for `credentials`."""

    USER, PASSWORD = "alerts", "s3cret-Pa55"

    def __init__(self, port: int | None = None, **controller_kwargs: Any) -> None:
        self.handler = RecordingHandler()
        self.logins: list[tuple[str, bool]] = []
        self.port = port or free_port()
        self.controller = Controller(
            self.handler,
            hostname="127.0.0.1",
            port=self.port,
            authenticator=self._authenticate,
            auth_require_tls=False,
            **controller_kwargs,
        )
        self.controller.start()

    def _authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> AuthResult:
        if not isinstance(data, LoginPassword):
            return AuthResult(success=False, handled=False)
        login, password = data.login.decode(), data.password.decode()
        ok = (login, password) == (self.USER, self.PASSWORD)
        self.logins.append((login, ok))
        if ok:
            return AuthResult(success=True, handled=False)
        # A careless server that echoes what it got: the client must not pass it on.
        return AuthResult(success=False, handled=False, message=f"535 5.7.8 bad {password}")

    @property
    def messages(self) -> list[Received]:
        return self.handler.messages

    def close(self) -> None:
        self.controller.stop()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    server = SmtpServer()
    yield server
    server.close()
