"""JSON Feed (1.0 and 1.1) documents -> `ParsedFeed`, the shape the XML parser gives.

Responsible for recognising a JSON Feed body, decoding it with the stdlib `json`
module and mapping its items onto `ParsedEntry`: text fields as HTML (plain-text
values escaped, so reducing them to text gives them back exactly), links resolved
against the feed URL, dates as aware UTC datetimes.

Must not: import feedparser, fetch or open anything, reduce HTML to text (normalize
does that), or let any exception other than `ParseError` escape. `parse.py` is the
entry point; callers use `parse.parse_feed`, not this module.
"""

from __future__ import annotations

import email.utils
import html
import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin

from aggregator.errors import ParseError
from aggregator.types import ParsedEntry, ParsedFeed

JSON_MEDIA_TYPES = frozenset({"application/feed+json", "application/json"})
_VERSION_PREFIXES = ("https://jsonfeed.org/version/", "http://jsonfeed.org/version/")
_LEADING_JUNK = b" \t\r\n\xef\xbb\xbf"  # whitespace and a UTF-8 byte order mark


def media_type(content_type: str | None) -> str:
    """The bare, lower-cased media type of a Content-Type header ("" when absent)."""
    return (content_type or "").split(";", 1)[0].strip().lower()


def looks_like_json(body: bytes, content_type: str | None) -> bool:
    """True when `body` should be read as JSON rather than XML.

    A body opening with `{` is JSON whatever the header says; a JSON content type
    counts unless the body plainly opens with `<` (a server mislabelling its XML).
    """
    head = body[:64].lstrip(_LEADING_JUNK)[:1]
    if head == b"{":
        return True
    return media_type(content_type) in JSON_MEDIA_TYPES and head != b"<"


def parse_json_feed(body: bytes, *, url: str, content_type: str | None = None) -> ParsedFeed:
    """Parse a JSON Feed document; `ParseError` if it is not valid JSON or not a JSON Feed."""
    doc = _load(body)
    items = doc.get("items")
    _check_is_json_feed(doc, items, content_type)
    raw_items = items if isinstance(items, list) else []
    entries = (_item(raw, url) for raw in raw_items if isinstance(raw, dict))
    return ParsedFeed(
        title=_single_line(_string(doc.get("title"))),
        link=_resolve(url, _string(doc.get("home_page_url"))),
        entries=tuple(entry for entry in entries if entry is not None),
    )


def _load(body: bytes) -> dict[str, Any]:
    try:
        doc = json.loads(body)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError, UnicodeDecodeError
        raise ParseError(f"not a feed: invalid JSON: {str(exc)[:200]}") from None
    if not isinstance(doc, dict):
        raise ParseError("not a feed: JSON document is not an object")
    return doc


def _check_is_json_feed(doc: dict[str, Any], items: object, content_type: str | None) -> None:
    version = doc.get("version")
    if isinstance(version, str) and version.startswith(_VERSION_PREFIXES):
        return
    if media_type(content_type) == "application/feed+json" and isinstance(items, list):
        return  # a feed that forgot its version but says what it is
    raise ParseError("not a feed: JSON document without a jsonfeed.org version")


def _item(raw: dict[str, Any], feed_url: str) -> ParsedEntry | None:
    link = _string(raw.get("url")) or _string(raw.get("external_url"))
    entry = ParsedEntry(
        guid=_guid(raw.get("id")),
        link=_resolve(feed_url, link),
        title=_escaped(raw.get("title")),
        summary_html=_escaped(raw.get("summary")),
        content_html=_string(raw.get("content_html")) or _escaped(raw.get("content_text")),
        author=_escaped(_authors(raw)),
        categories=_tags(raw.get("tags")),
        published=_date(raw.get("date_published")),
        updated=_date(raw.get("date_modified")),
    )
    has_any = entry.guid or entry.link or entry.title or entry.summary_html
    return entry if has_any or entry.content_html else None


def _string(value: object) -> str | None:
    if isinstance(value, str) and value.strip():
        return value
    return None


def _escaped(value: object) -> str | None:
    text = _string(value)
    return html.escape(text, quote=False) if text else None


def _single_line(value: str | None) -> str | None:
    return " ".join(value.split()) if value else None


def _guid(value: object) -> str | None:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return None  # 1.0 feeds sometimes use numbers; booleans are nonsense
    return str(value).strip() or None


def _resolve(base: str, link: str | None) -> str | None:
    if not link:
        return None
    try:
        return urljoin(base, link.strip())
    except ValueError:  # e.g. a malformed IPv6 host
        return link.strip()


def _authors(raw: dict[str, Any]) -> str | None:
    authors = raw.get("authors")
    if not isinstance(authors, list):
        authors = [raw.get("author")]  # JSON Feed 1.0
    names = [_string(a.get("name")) for a in authors if isinstance(a, dict)]
    return ", ".join(name.strip() for name in names if name) or None


def _tags(value: object) -> tuple[str, ...]:
    if not isinstance(value, list):
        return ()
    tags = (tag.strip() for tag in value if isinstance(tag, str))
    return tuple(dict.fromkeys(tag for tag in tags if tag))


def _date(value: object) -> datetime | None:
    """An RFC 3339 (or, leniently, RFC 822) date as aware UTC; None if unusable."""
    text = _string(value)
    if text is None:
        return None
    try:
        parsed = datetime.fromisoformat(text.strip())
    except ValueError:
        try:
            parsed = email.utils.parsedate_to_datetime(text.strip())
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
    try:
        return parsed.replace(tzinfo=UTC) if parsed.utcoffset() is None else parsed.astimezone(UTC)
    except (OverflowError, ValueError):  # e.g. 9999-12-31T23:00-05:00
        return None
