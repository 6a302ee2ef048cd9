"""Hostile feed servers: every way a server can try to hang, exhaust or trick the poller.

Each `Case` installs one route on a FeedServer and says what the poll must make of it:
a recorded error matching `error`, or a stored feed (`error` is None) with at least
`min_entries` entries. The cases assume a 12 MiB body cap and a 3 s fetch deadline
(`config_extra`, with make_config(timeout="3s")). Used by tests/test_hostile.py and
benchmarks/hostile.py.
"""

from __future__ import annotations

import gzip
import json
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from http.server import BaseHTTPRequestHandler
from pathlib import Path

from tests.helpers.feeds import rss2
from tests.helpers.feedserver import FeedServer

MAX_BODY = 12 * 2**20
FETCH_TIMEOUT = 3.0
MARKER = "MARKER-LOCAL-FILE-7f3a9c"  # the content of the planted local files
GOOD_ITEMS = [(f"good-{i}", f"Good story {i}", f"Body of good story {i}") for i in range(3)]
RSS_HEAD = '<?xml version="1.0" encoding="utf-8"?>'


def config_extra(parse_timeout: str = "20s") -> str:
    """What make_config(timeout="3s") needs beside it: the body cap and parse deadline."""
    return f'max_body = {MAX_BODY}\n[polling]\nparse_timeout = "{parse_timeout}"\n'


def plant_markers(directory: Path) -> dict[str, Path]:
    """Local files a feed must never get read: a plain file and an external DTD."""
    directory.mkdir(parents=True, exist_ok=True)
    secret = directory / "secret.txt"
    secret.write_text(MARKER + "\n")
    dtd = directory / "external.dtd"
    dtd.write_text(f'<!ENTITY ext "{MARKER}">\n')
    return {"secret": secret, "dtd": dtd}


# -- raw handlers ------------------------------------------------------------------------


def _headers(h: BaseHTTPRequestHandler, status: int, headers: dict[str, str]) -> None:
    h.send_response(status)
    for name, value in headers.items():
        h.send_header(name, value)
    h.end_headers()


def endless(h: BaseHTTPRequestHandler) -> None:
    """A 200 with no length that never ends (until the client hangs up)."""
    h.close_connection = True
    _headers(h, 200, {"Content-Type": "application/rss+xml", "Connection": "close"})
    chunk = b"<item><title>again</title></item>" * 2000
    try:
        h.wfile.write(f'{RSS_HEAD}<rss version="2.0"><channel><title>t</title>'.encode())
        while True:
            h.wfile.write(chunk)
    except OSError:
        pass


def trickle(h: BaseHTTPRequestHandler) -> None:
    """A valid feed sent one byte a second: every read is quick, the whole takes hours."""
    body = rss2(GOOD_ITEMS).encode()
    h.close_connection = True
    try:
        _headers(h, 200, {"Content-Type": "application/rss+xml", "Content-Length": str(len(body))})
        for byte in body:
            h.wfile.write(bytes([byte]))
            h.wfile.flush()
            time.sleep(1)
    except OSError:
        pass


def redirect_to(target: str) -> Callable[[BaseHTTPRequestHandler], None]:
    def handler(h: BaseHTTPRequestHandler) -> None:
        _headers(h, 302, {"Location": target, "Content-Length": "0"})

    return handler


@cache
def zeros_gzip(size: int) -> bytes:
    """gzip of `size` zero bytes, made in pieces (the bomb is small; its content is not)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    block = bytes(2**20)
    parts = [packer.compress(block) for _ in range(size // len(block))]
    parts.append(packer.flush())
    return b"".join(parts)


# -- bodies ------------------------------------------------------------------------------


def rss_items(items: str, *, head: str = "") -> bytes:
    return (
        f'{RSS_HEAD}{head}<rss version="2.0"><channel><title>t</title><link>http://x/</link>'
        f"<description>d</description>{items}</channel></rss>"
    ).encode()


def billion_laughs(*, inline: bool) -> bytes:
    sep = "" if inline else "\n"
    entities = sep.join(
        f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' if i else '<!ENTITY lol0 "lol">'
        for i in range(10)
    )
    doctype = f"<!DOCTYPE rss [{sep}{entities}{sep}]>{sep}"
    return rss_items("<item><guid>laughs</guid><title>&lol9;</title></item>", head=doctype)


def quadratic_blowup() -> bytes:
    value = "x" * 100_000
    doctype = f'<!DOCTYPE rss [<!ENTITY big "{value}">]>'
    refs = "&big;" * 100_000
    return rss_items(
        f"<item><guid>quad</guid><title>t</title><description>{refs}</description></item>",
        head=doctype,
    )


def external_entity(path: Path, *, url: str) -> bytes:
    doctype = f'<!DOCTYPE rss [<!ENTITY xxe SYSTEM "file://{path}"><!ENTITY web SYSTEM "{url}">]>'
    return rss_items(
        "<item><guid>xxe</guid><title>file:&xxe;</title><description>web:&web;</description>"
        "</item>",
        head=doctype,
    )


def external_dtd(path: Path, *, url: str) -> bytes:
    doctype = (
        f'<!DOCTYPE rss SYSTEM "file://{path}" [<!ENTITY % remote SYSTEM "{url}"> %remote;'
        f'<!ENTITY % local SYSTEM "file://{path}"> %local;]>'
    )
    return rss_items("<item><guid>dtd</guid><title>dtd:&ext;</title></item>", head=doctype)


def many_entries(count: int) -> bytes:
    items = "".join(
        f"<item><guid>g{i}</guid><title>Story {i}</title><link>https://n.example/{i}</link>"
        f"<description>Body {i} of the many</description></item>"
        for i in range(count)
    )
    return rss_items(items)


def huge_attribute(size: int) -> bytes:
    href = "https://n.example/" + "a" * size
    return (
        f'{RSS_HEAD}<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title><id>urn:f</id>'
        f'<entry><id>urn:big</id><title>Big attribute</title><link href="{href}"/>'
        "<updated>2026-11-02T10:00:00Z</updated></entry></feed>"
    ).encode()


def author_redos(entries: int, pairs: int = 16_000) -> bytes:
    """feedparser issue 562: an author value its e-mail regex scans in quadratic time."""
    author = "a@" + "a." * pairs + "!"
    items = "".join(
        f"<item><guid>r{i}</guid><title>Author {i}</title><author>{author}</author></item>"
        for i in range(entries)
    )
    return rss_items(items + f"<item><guid>plain</guid><author>{'a' * 40_000}</author></item>")


def json_feed_with_unstorable_text() -> bytes:
    doc = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": "bad \ud800 text",
        "items": [
            {
                "id": "j1\u0000",
                "title": "NUL \u0000 and lone \ud800 surrogate",
                "content_text": "x",
            },
            {"id": "j2", "title": "Tab\tCR\rLF\nESC\u001b bell\u0007", "url": "https://n/\u0000"},
        ],
    }
    return json.dumps(doc).encode()  # ensure_ascii keeps the escapes: "\ud800", "\u0000"


# -- the cases ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    name: str
    install: Callable[[FeedServer, dict[str, Path]], str]  # -> the URL to poll
    error: str | None  # regex of the recorded error; None: stored
    min_entries: int = 0
    forbidden: tuple[str, ...] = ()  # text that must appear nowhere in the database


def _set(
    path: str, body: bytes | str, **route: object
) -> Callable[[FeedServer, dict[str, Path]], str]:
    def install(server: FeedServer, markers: dict[str, Path]) -> str:
        return server.set(path, body, **route)

    return install


def _handler(path: str, handler: Callable[[BaseHTTPRequestHandler], None]) -> Callable[..., str]:
    def install(server: FeedServer, markers: dict[str, Path]) -> str:
        return server.set(path, handler=handler)

    return install


def _xxe(server: FeedServer, markers: dict[str, Path]) -> str:
    server.set("/leak", f"<!ENTITY ext '{MARKER}'>", content_type="application/xml-dtd")
    body = external_entity(markers["secret"], url=server.url("/leak"))
    return server.set("/xxe.xml", body)


def _dtd(server: FeedServer, markers: dict[str, Path]) -> str:
    server.set("/leak", f"<!ENTITY ext '{MARKER}'>", content_type="application/xml-dtd")
    body = external_dtd(markers["dtd"], url=server.url("/leak"))
    return server.set("/dtd.xml", body)


def _path_body(server: FeedServer, markers: dict[str, Path]) -> str:
    return server.set("/path", str(markers["secret"]), content_type="text/plain")


def _file_url_body(server: FeedServer, markers: dict[str, Path]) -> str:
    return server.set("/file-url", f"file://{markers['secret']}", content_type="application/xml")


def _redirect_to_file(server: FeedServer, markers: dict[str, Path]) -> str:
    return server.set("/to-file", handler=redirect_to(f"file://{markers['secret']}"))


GOOD_RSS = rss2(GOOD_ITEMS).encode()


def _item_titled(guid: str, title: bytes) -> bytes:
    return rss_items(f"<item><guid>{guid}</guid><title>TITLE</title></item>").replace(
        b"TITLE", title
    )


CASES: tuple[Case, ...] = (
    Case(
        "billion_laughs", _set("/laughs.xml", billion_laughs(inline=False)), None, 1, ("lollollol",)
    ),
    Case(
        "billion_laughs_inline",
        _set("/laughs1.xml", billion_laughs(inline=True)),
        None,
        1,
        ("lollollol",),
    ),
    Case("quadratic_blowup", _set("/quad.xml", quadratic_blowup()), None, 1, ("x" * 100_001,)),
    Case("external_entity", _xxe, None, 1, (MARKER,)),
    Case("external_dtd", _dtd, None, 1, (MARKER,)),
    Case("endless_body", _handler("/endless", endless), "exceeds the 12582912-byte limit"),
    Case("body_over_cap", _set("/big", b" " * (MAX_BODY + 1)), "exceeds the 12582912-byte limit"),
    Case(
        "gzip_bomb",
        lambda s, m: s.set("/bomb", zeros_gzip(2**30), headers={"Content-Encoding": "gzip"}),
        r"exceeds the 12582912-byte limit \(decompressed\)",
    ),
    Case(
        "gzip_gzip_bomb",
        lambda s, m: s.set(
            "/bomb2", gzip.compress(zeros_gzip(2**30)), headers={"Content-Encoding": "gzip, gzip"}
        ),
        r"exceeds the 12582912-byte limit \(decompressed\)",
    ),
    Case(
        "gzip_gzip_feed",
        _set(
            "/gg.xml",
            gzip.compress(gzip.compress(GOOD_RSS)),
            headers={"Content-Encoding": "gzip, gzip"},
        ),
        None,
        3,
    ),
    Case(
        "bad_gzip",
        _set("/badgz", b"not gzip at all", headers={"Content-Encoding": "gzip"}),
        "cannot decode the body",
    ),
    Case(
        "unknown_encoding",
        _set("/br", GOOD_RSS, headers={"Content-Encoding": "br"}),
        "unsupported Content-Encoding 'br'",
    ),
    Case("trickle", _handler("/trickle", trickle), "timed out after 3s"),
    Case("redirect_loop", _handler("/loop", redirect_to("/loop")), "too many redirects"),
    Case("redirect_to_file", _redirect_to_file, "not http", forbidden=(MARKER,)),
    Case(
        "redirect_to_ftp", _handler("/to-ftp", redirect_to("ftp://127.0.0.1/feed.xml")), "not http"
    ),
    Case(
        "redirect_to_data", _handler("/to-data", redirect_to("data:text/xml,<rss/>")), "invalid URL"
    ),
    Case("body_is_a_path", _path_body, "not a feed", forbidden=(MARKER,)),
    Case("body_is_a_file_url", _file_url_body, "not a feed", forbidden=(MARKER,)),
    Case(
        "invalid_utf8",
        _set("/badutf8.xml", _item_titled("u", b"caf\xe9 \xff\xfe")),
        None,
        1,
    ),
    Case(
        "lying_charset",
        _set(
            "/lying.xml",
            _item_titled("l", "Caf\xe9 cr\xe8me".encode("cp1252")),
            content_type="application/rss+xml; charset=utf-8",
        ),
        None,
        1,
    ),
    Case(
        "html_page",
        _set(
            "/page.html",
            "<!doctype html><html><body><p>Hi</p></body></html>",
            content_type="text/html",
        ),
        "not a feed: looks like an HTML page",
    ),
    Case("empty_200", _set("/empty", b""), "not a feed: empty body"),
    Case("twenty_thousand_entries", _set("/20k.xml", many_entries(20_000)), None, 20_000),
    Case(
        "eight_mb_attribute",
        _set("/attr.xml", huge_attribute(8 * 2**20), content_type="application/atom+xml"),
        None,
        1,
    ),
    Case("author_email_redos", _set("/redos.xml", author_redos(60)), None, 61),
    Case(
        "json_unstorable_text",
        _set("/bad.json", json_feed_with_unstorable_text(), content_type="application/feed+json"),
        None,
        2,
    ),
)
