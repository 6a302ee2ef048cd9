"""Feed documents (bytes) -> `ParsedFeed`: RSS 0.9x/1.0/2.0, Atom, and JSON Feed.

Responsible for running feedparser safely (always on bytes in a `BytesIO`, so it never
opens a file or URL named by the body; no HTML sanitising and no URI rewriting inside
HTML, both of which are slow and done elsewhere), for mapping its result onto
`ParsedEntry` values, and for deciding what is a feed: a partly broken document that
still yielded entries keeps them with `warning` set; a document with no entries that is
broken or has no feed element at all raises `ParseError("not a feed: ...")`. JSON Feed
bodies are handed to `jsonfeed.py`.

Entry fields come out as the normaliser expects them: title, summary, content and author
are HTML (a value feedparser knows to be plain text is escaped, so that reducing it to
text gives it back exactly, `<` and `&` included); links are resolved against the feed
URL; dates are aware UTC datetimes or None. `ParsedFeed.title` is plain text.

Ordinary well-formed UTF-8 RSS/Atom/RDF documents take the fast path first
(`aggregator.fastparse`: ElementTree plus a faithful replay of feedparser's handlers,
about four times quicker); whatever it declines, or fails on, goes to feedparser, and
both results go through the same mapping below.

Must not: fetch anything, touch files, reduce entry HTML to text, let any exception
out of feedparser escape as anything but `ParseError`, or run a regular expression in
worse than linear time on feed text (feedparser's own author e-mail search is replaced
for that reason: issue 562; the fast path calls the replacement too). This module and
the `aggregator.fastparse` package are the only ones that import feedparser.
"""

from __future__ import annotations

import html
import io
import logging
import re
import string
import time
import xml.sax
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin

import feedparser
import feedparser.mixin
from feedparser.exceptions import CharacterEncodingOverride, NonXMLContentType
from feedparser.util import FeedParserDict

from aggregator import fastparse, jsonfeed
from aggregator.errors import ParseError
from aggregator.normalize import html_to_text, single_line
from aggregator.types import ParsedEntry, ParsedFeed

log = logging.getLogger(__name__)
_PLAIN = "text/plain"
_WARNING_MAX = 200
_BLANK = b" \t\r\n\x00\xef\xbb\xbf"  # whitespace, NULs and a UTF-8 byte order mark

# feedparser's search for an e-mail address in an author value (mixin.py,
# `_sync_author_detail`) is quadratic (feedparser issue 562): 40 KB of "a", or of
# "a@a.a.a...", takes seconds, and a feed repeats it for every entry. `_find_email` gives
# the same match in linear time, trying the pattern only where a run of local-part
# characters ends at an "@" (the only places where `re.search` can succeed), leftmost
# first; `_sync_author_detail` below is feedparser's method using it (BSD-2-Clause).
_EMAIL = re.compile(
    r"(([a-zA-Z0-9\_\-\.\+]+)@((\[[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.)|(([a-zA-Z0-9\-]+\.)+))"
    r"([a-zA-Z]{2,4}|[0-9]{1,3})(\]?))(\?subject=\S+)?"
)
_LOCAL_PART = frozenset(string.ascii_letters + string.digits + "_-.+")


def _find_email(text: str) -> str | None:
    """What `_EMAIL.search(text)` finds, in time linear in `len(text)`."""
    at = text.find("@")
    while at != -1:
        start = at
        while start > 0 and text[start - 1] in _LOCAL_PART:
            start -= 1
        found = _EMAIL.match(text, start) if start < at else None
        if found:
            return found.group(0)
        at = text.find("@", at + 1)
    return None


def _sync_author_detail(self: Any, key: str = "author") -> None:
    context = self._get_context()
    detail = context.get(f"{key}s", [FeedParserDict()])[-1]
    author = context.get(key)
    if detail or not isinstance(author, str) or not author:
        _feedparser_sync_author_detail(self, key)  # no e-mail search on these paths
        return
    email = _find_email(author)
    if email:
        author = author.replace(email, "").replace("()", "").replace("<>", "")
        author = author.replace("&lt;&gt;", "").strip()
        if author and author[0] == "(":
            author = author[1:]
        if author and author[-1] == ")":
            author = author[:-1]
        author = author.strip()
    if author or email:
        context.setdefault(f"{key}_detail", detail)
    if author:
        detail["name"] = author
    if email:
        detail["email"] = email


_feedparser_sync_author_detail = feedparser.mixin._FeedParserMixin._sync_author_detail
feedparser.mixin._FeedParserMixin._sync_author_detail = _sync_author_detail


def parse_feed(body: bytes, *, url: str, content_type: str | None = None) -> ParsedFeed:
    """Parse a fetched feed body; `url` is where it came from (the base for links)."""
    if not body.strip(_BLANK):
        raise ParseError("not a feed: empty body")
    try:
        if jsonfeed.looks_like_json(body, content_type):
            return jsonfeed.parse_json_feed(body, url=url, content_type=content_type)
        return _parse_xml(body, url, content_type)
    except ParseError:
        raise
    except Exception as exc:  # feedparser (or what it returned) failed in an odd way
        raise ParseError(f"not a feed: parser failed: {_describe(exc)}") from exc


def _parse_xml(body: bytes, url: str, content_type: str | None) -> ParsedFeed:
    data = _run_fast_path(body, content_type)
    if data is None:
        data = _run_feedparser(body, content_type)
    problem = _bozo(data)
    raw_entries = (_entry(raw, url) for raw in data.get("entries") or [])
    entries = tuple(entry for entry in raw_entries if entry is not None)
    if not entries:
        _require_feed(data, body, problem)
    feed = data.get("feed") or {}
    title = single_line(html_to_text(_html_field(feed, "title")))
    return ParsedFeed(
        title=title or None,
        link=_resolve(url, _text(feed.get("link"))),
        entries=entries,
        warning=_describe(problem) if problem is not None else None,
        ttl=_text(feed.get("ttl")),
    )


def _run_fast_path(body: bytes, content_type: str | None) -> Any:
    """feedparser's result by the fast path, or None where it declines (or fails: it is
    an optimisation, so an unexpected error there must cost speed, never a feed)."""
    try:
        return fastparse.parse_fast(body, content_type)
    except Exception:  # a bug in the fast path: say so, so it is not a silent slowdown
        log.debug("fast parser failed; feedparser takes over", exc_info=True)
        return None


def _run_feedparser(body: bytes, content_type: str | None) -> Any:
    headers = {"content-type": content_type} if content_type else {}
    return feedparser.parse(
        io.BytesIO(body),
        response_headers=headers,
        sanitize_html=False,
        resolve_relative_uris=False,
    )


def _bozo(data: Any) -> BaseException | None:
    """The reason the document is not well-formed, or None when it is.

    A non-XML Content-Type (feeds are often served as text/html) is not a problem of
    the document; a declared encoding that had to be overridden is worth a warning.
    """
    if not data.get("bozo"):
        return None
    exc = data.get("bozo_exception")
    if isinstance(exc, NonXMLContentType):
        return None
    return exc if isinstance(exc, BaseException) else ValueError("malformed document")


def _require_feed(data: Any, body: bytes, problem: BaseException | None) -> None:
    """Raise ParseError unless `data` is a well-formed feed that is merely empty."""
    if data.get("version") and (problem is None or isinstance(problem, CharacterEncodingOverride)):
        return
    head = body[:1024].lstrip(_BLANK).lower()
    if b"<!doctype html" in head or b"<html" in head:
        raise ParseError("not a feed: looks like an HTML page")
    if problem is not None:
        raise ParseError(f"not a feed: {_describe(problem)}")
    raise ParseError("not a feed: no RSS, Atom or RDF root element")


def _describe(exc: BaseException) -> str:
    if isinstance(exc, xml.sax.SAXParseException):
        where = f"line {exc.getLineNumber()}, column {exc.getColumnNumber()}"
        text = f"malformed XML at {where}: {exc.getMessage()}"
    else:
        text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return text if len(text) <= _WARNING_MAX else text[: _WARNING_MAX - 3] + "..."


def _entry(raw: dict[str, Any], feed_url: str) -> ParsedEntry | None:
    """One feedparser entry as a ParsedEntry; None for an entry with nothing in it.

    Dates are read with `dict.get`: feedparser's own `get` answers `updated_parsed`
    with the published date when there is no updated one.
    """
    entry = ParsedEntry(
        guid=_text(raw.get("id")),
        link=_resolve(feed_url, _text(raw.get("link"))),
        title=_html_field(raw, "title"),
        summary_html=_html_field(raw, "summary"),
        content_html=_content(raw),
        author=_author(raw),
        categories=_categories(raw),
        published=_date(dict.get(raw, "published_parsed")),
        updated=_date(dict.get(raw, "updated_parsed")),
    )
    has_any = entry.guid or entry.link or entry.title or entry.summary_html
    return entry if has_any or entry.content_html else None


def _text(value: object) -> str | None:
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def _as_html(value: object, content_type: object) -> str | None:
    text = value if isinstance(value, str) and value.strip() else None
    if text is not None and content_type == _PLAIN:
        return html.escape(text, quote=False)
    return text


def _html_field(raw: Mapping[str, Any], key: str) -> str | None:
    detail = raw.get(f"{key}_detail")
    kind = detail.get("type") if isinstance(detail, Mapping) else None
    return _as_html(raw.get(key), kind)


def _content(raw: Mapping[str, Any]) -> str | None:
    content = raw.get("content")
    if not isinstance(content, list) or not content or not isinstance(content[0], Mapping):
        return None
    return _as_html(content[0].get("value"), content[0].get("type"))


def _author(raw: Mapping[str, Any]) -> str | None:
    """The author's name (feedparser's `author` adds the e-mail address when it has one)."""
    detail = raw.get("author_detail")
    name = _text(detail.get("name")) if isinstance(detail, Mapping) else None
    return _as_html(name or _text(raw.get("author")), _PLAIN)


def _categories(raw: Mapping[str, Any]) -> tuple[str, ...]:
    tags = raw.get("tags")
    if not isinstance(tags, list):
        return ()
    terms = (_text(t.get("term")) or _text(t.get("label")) for t in tags if isinstance(t, Mapping))
    return tuple(dict.fromkeys(term for term in terms if term))


def _date(value: object) -> datetime | None:
    """feedparser's UTC struct_time as an aware datetime; None if absent or absurd."""
    if not isinstance(value, time.struct_time):
        return None
    try:
        second = min(value.tm_sec, 59)  # a leap second is not a datetime
        return datetime(*value[:5], second, tzinfo=UTC)
    except (TypeError, ValueError, OverflowError):
        return None


def _resolve(base: str, link: str | None) -> str | None:
    if not link:
        return None
    try:
        return urljoin(base, link)
    except ValueError:  # e.g. a malformed IPv6 host; normalize drops it later
        return link
