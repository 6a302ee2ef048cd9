"""Secrets never leak: polls and deliveries at DEBUG, then every byte written is searched.

Marker secrets are planted everywhere a secret can be: feed URLs with user:password@ and
`token=` parameters (fetched successfully, moved permanently, and failing in several
ways), a webhook URL with credentials and a token, a webhook signing secret (the receiver
answers 500 once, then 200), an SMTP password that works and one that the server echoes
back in its refusal. `aggregator poll -v` and `aggregator feeds` run as subprocesses;
their stdout and stderr, every file of the SQLite database (WAL included, and a dump of
every table), and what the receivers got must hold none of the markers.
"""

from __future__ import annotations

import base64
import os
import sqlite3
import subprocess
import sys
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from tests.conftest import ConfigMaker
from tests.helpers.alerting import watchlist_toml
from tests.helpers.feeds import rss2
from tests.helpers.feedserver import FeedServer
from tests.helpers.hostile import redirect_to
from tests.helpers.receivers import SmtpServer, WebhookReceiver, free_port

pytestmark = pytest.mark.slow

FEED_USER, FEED_PASS, FEED_TOKEN = "feeduserQ7", "feedpassQ7", "feedtokenQ7"
MOVED_TOKEN = "movedtokenQ7"
FAIL_USER, FAIL_PASS, FAIL_TOKEN = "failuserQ7", "failpassQ7", "failtokenQ7"
HOOK_USER, HOOK_PASS, HOOK_TOKEN = "hookuserQ7", "hookpassQ7", "hooktokenQ7"
HOOK_KEY = b"hookkey-Q7-0123456789abcdef"  # the raw HMAC key of the webhook secret
HOOK_SECRET = "whsec_" + base64.b64encode(HOOK_KEY).decode()
WRONG_PASS = "wrongpassQ7"
SMTP_PASS = SmtpServer.PASSWORD

MARKERS = [
    FEED_USER,
    FEED_PASS,
    FEED_TOKEN,
    MOVED_TOKEN,
    FAIL_USER,
    FAIL_PASS,
    FAIL_TOKEN,
    HOOK_USER,
    HOOK_PASS,
    HOOK_TOKEN,
    HOOK_SECRET,
    HOOK_SECRET.removeprefix("whsec_"),
    HOOK_KEY.decode(),
    WRONG_PASS,
    SMTP_PASS,
    base64.b64encode(f"\0{SmtpServer.USER}\0{SMTP_PASS}".encode()).decode(),
    base64.b64encode(f"\0{SmtpServer.USER}\0{WRONG_PASS}".encode()).decode(),
    base64.b64encode(f"{FEED_USER}:{FEED_PASS}".encode()).decode(),
    "Q7",  # every marker above carries it
]

ITEMS = [("g1", "Yarmouk camp shelled overnight", "Residents of Yarmouk fled the camp.")]


def _authorised(expected_path: str) -> object:
    basic = "Basic " + base64.b64encode(f"{FEED_USER}:{FEED_PASS}".encode()).decode()
    body = rss2(ITEMS).encode()

    def handler(h: BaseHTTPRequestHandler) -> None:
        ok = h.headers.get("Authorization") == basic and h.path == expected_path
        h.send_response(200 if ok else 401)
        h.send_header("Content-Type", "application/rss+xml")
        h.send_header("Content-Length", str(len(body) if ok else 0))
        h.end_headers()
        if ok:
            h.wfile.write(body)

    return handler


def _with_secrets(url: str, user: str, password: str) -> str:
    return url.replace("http://", f"http://{user}:{password}@", 1)


@pytest.fixture
def smtp_server() -> SmtpServer:  # type: ignore[misc]
    server = SmtpServer()
    yield server
    server.close()


def _channels(hook_url: str, smtp: SmtpServer) -> str:
    mail = (
        '[[channels]]\nname = "{name}"\ntype = "email"\nto = ["desk@example.org"]\n'
        'from = "aggregator@example.org"\nsmtp_host = "127.0.0.1"\n'
        f'smtp_port = {smtp.port}\nsecurity = "none"\ntimeout = "5s"\n'
        f'username = "{SmtpServer.USER}"\npassword_env = "{{env}}"\n'
    )
    return (
        f'[[channels]]\nname = "hook"\ntype = "webhook"\nurl = "{hook_url}"\n'
        'secret_env = "TEST_HOOK_SECRET"\ntimeout = "2s"\n\n'
        + mail.format(name="mail", env="TEST_SMTP_PASSWORD")
        + "\n"
        + mail.format(name="badmail", env="TEST_WRONG_PASSWORD")
    )


def test_no_secret_in_logs_errors_database_or_payloads(
    feed_server: FeedServer,
    webhook_receiver: WebhookReceiver,
    smtp_server: SmtpServer,
    make_config: ConfigMaker,
    tmp_path: Path,
) -> None:
    webhook_receiver.secret = HOOK_SECRET
    webhook_receiver.answer(500)  # the first attempt fails, the retry succeeds
    good_path = f"/feed.xml?token={FEED_TOKEN}&page=1"
    feed_server.set(good_path, handler=_authorised(good_path))
    moved_target = f"/moved.xml?token={MOVED_TOKEN}"
    feed_server.set(moved_target, handler=_authorised(moved_target))
    feed_server.set(f"/old.xml?token={MOVED_TOKEN}", handler=_permanent(moved_target))
    feed_server.set(f"/500?token={FAIL_TOKEN}", "oops", status=500)
    feed_server.set(f"/loop?token={FAIL_TOKEN}", handler=redirect_to(f"/loop?token={FAIL_TOKEN}"))
    feeds = [
        ("good", _with_secrets(feed_server.url(good_path), FEED_USER, FEED_PASS)),
        (
            "moved",
            _with_secrets(feed_server.url(f"/old.xml?token={MOVED_TOKEN}"), FEED_USER, FEED_PASS),
        ),
        ("refused", f"http://{FAIL_USER}:{FAIL_PASS}@127.0.0.1:{free_port()}/f?token={FAIL_TOKEN}"),
        (
            "error500",
            _with_secrets(feed_server.url(f"/500?token={FAIL_TOKEN}"), FAIL_USER, FAIL_PASS),
        ),
        ("loop", _with_secrets(feed_server.url(f"/loop?token={FAIL_TOKEN}"), FAIL_USER, FAIL_PASS)),
    ]
    hook_url = _with_secrets(webhook_receiver.url, HOOK_USER, HOOK_PASS) + f"?token={HOOK_TOKEN}"
    config = make_config(
        feeds,
        extra=_channels(hook_url, smtp_server),
        watchlists=watchlist_toml("yarmouk", ["Yarmouk"], ["hook", "mail", "badmail"]),
    )
    env = {
        **os.environ,
        "TEST_HOOK_SECRET": HOOK_SECRET,
        "TEST_SMTP_PASSWORD": SMTP_PASS,
        "TEST_WRONG_PASSWORD": WRONG_PASS,
    }
    written: list[bytes] = []
    for command in (
        ["poll", "-v", "--deliver-timeout", "25"],
        ["feeds", "-v"],
        ["check", "-v"],
    ):
        proc = subprocess.run(
            [sys.executable, "-m", "aggregator", *command, "--config", str(config)],
            capture_output=True,
            env=env,
            timeout=120,
        )
        written += [proc.stdout, proc.stderr]
        assert proc.returncode == 0, proc.stderr.decode(errors="replace")[-3000:]
    output = b"\n".join(written).decode(errors="replace")
    assert "DEBUG" in output, "the poll ran at DEBUG level"
    assert "FAILED refused: cannot connect" in output
    assert "FAILED error500: HTTP 500" in output
    assert "FAILED loop: too many redirects" in output
    assert "2 fetched" in output

    # The successes happened: fetched with the credentials, delivered after a 500.
    db = tmp_path / "data" / "aggregator.db"
    with sqlite3.connect(db) as conn:
        statuses = dict(conn.execute("SELECT channel, status FROM deliveries").fetchall())
        moved_to = conn.execute("SELECT moved_to FROM feeds WHERE name = 'moved'").fetchone()[0]
        dump = "\n".join(conn.iterdump()).encode()
    assert statuses == {"hook": "delivered", "mail": "delivered", "badmail": "pending"}
    assert moved_to is None, "a move to a URL with secrets is not stored"
    assert len(webhook_receiver.attempts) == 2 and len(webhook_receiver.deliveries) == 1
    assert len(smtp_server.messages) == 1
    assert (SmtpServer.USER, False) in smtp_server.logins, "the wrong password was tried"

    received = [a.body for a in webhook_receiver.attempts]
    received += [m.message.as_bytes() for m in smtp_server.messages]
    stored = [p.read_bytes() for p in sorted(db.parent.glob("aggregator.db*"))] + [dump]
    places = {"output": written, "database": stored, "received": received}
    for where, blobs in places.items():
        for marker in MARKERS:
            hits = [b for b in blobs if marker.encode() in b]
            assert not hits, f"{marker!r} found in {where}: " + _context(hits[0], marker)


def _permanent(target: str) -> object:
    def handler(h: BaseHTTPRequestHandler) -> None:
        h.send_response(301)
        h.send_header("Location", target)
        h.send_header("Content-Length", "0")
        h.end_headers()

    return handler


def _context(blob: bytes, marker: str) -> str:
    at = blob.find(marker.encode())
    return repr(blob[max(0, at - 150) : at + 80])
