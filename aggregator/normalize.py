"""Normalisation of parsed entries: canonical URLs, HTML to text, dates, keys, hashes.

Responsible for turning a `ParsedEntry` (as the parser found it) into an `EntryData`
(plain text, capped sizes, canonical URL, stable entry key and content hash), and for
the small pure helpers that do it: `canonical_url`, `to_utc`, `entry_key`,
`content_hash`; `html_to_text` (htmltext.py) is re-exported from here.

Must not: do any I/O (network, files, database, clock-dependent decisions), import
feedparser, storage or the network stack, or raise on hostile input: every function here
returns a best-effort value for garbage instead of an exception, in linear time. No
value it returns holds a NUL or a lone surrogate (`storable`).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from json.encoder import encode_basestring
from urllib.parse import urljoin, urlsplit, urlunsplit

from aggregator.htmltext import html_to_text as html_to_text  # re-exported, as:
from aggregator.htmltext import single_line as single_line  # parse.py imports them here
from aggregator.types import EntryData, ParsedEntry

TITLE_MAX = 1_000
SUMMARY_MAX = 10_000
CONTENT_MAX = 200_000
AUTHOR_MAX = 500
CATEGORY_MAX = 200
CATEGORIES_MAX = 100
KEY_MAX = 512
LINK_MAX = 4_096
# HTML is cut to this multiple of the text cap before parsing, to bound the work.
_RAW_FACTOR = 10

_TRACKING_PARAMS = frozenset(
    {"fbclid", "gclid", "dclid", "msclkid", "mc_cid", "mc_eid", "igshid", "_ga", "yclid", "ref_src"}
)
_DEFAULT_PORTS = {"http": 80, "https": 443}
_BAD_HOST_CHARS = re.compile(r"[\s<>\"'`{}|\\^%/?#@\[\]]")
# What no database stores as text: NUL (PostgreSQL refuses it) and lone surrogates (not
# UTF-8; a JSON Feed can hold them as "\ud800"). Each becomes U+FFFD.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def _clean_query(query: str) -> str:
    """`query` without tracking parameters; the others keep their order and encoding."""
    names = ((p, p.split("=", 1)[0].lower()) for p in query.split("&") if p)
    kept = (p for p, n in names if not n.startswith("utm_") and n not in _TRACKING_PARAMS)
    return "&".join(kept)


def _netloc(scheme: str, netloc: str, host: str, port: int | None) -> str:
    userinfo = netloc.rpartition("@")[0]  # "" when there is none
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    if port is not None and port != _DEFAULT_PORTS[scheme]:
        host = f"{host}:{port}"
    return f"{userinfo}@{host}" if userinfo else host


def canonical_url(url: str | None, base: str | None = None) -> str | None:
    """The URL two feeds would agree on for one story, or None for non-http(s)/garbage."""
    if not url or not url.strip() or _UNSTORABLE.search(url):
        return None
    try:
        absolute = urljoin(base, url.strip()) if base else url.strip()
        parts = urlsplit(absolute)
        scheme = parts.scheme.lower()
        host = (parts.hostname or "").lower()
        port = parts.port
    except (ValueError, TypeError):
        return None
    if scheme not in _DEFAULT_PORTS or not host or _BAD_HOST_CHARS.search(host.strip("[]")):
        return None
    netloc = _netloc(scheme, parts.netloc, host, port)
    return urlunsplit((scheme, netloc, parts.path or "/", _clean_query(parts.query), ""))


def resolve_link(link: str | None, base: str | None = None) -> str | None:
    """`link` made absolute against `base`; None unless it is http(s) and not huge."""
    if not link or not link.strip() or len(link) > LINK_MAX or _UNSTORABLE.search(link):
        return None
    try:
        absolute = urljoin(base, link.strip()) if base else link.strip()
        scheme = urlsplit(absolute).scheme.lower()
    except (ValueError, TypeError):
        return None
    return absolute if scheme in _DEFAULT_PORTS and len(absolute) <= LINK_MAX else None


def _cap(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit].rstrip()


def storable(text: str) -> str:
    """`text` with NUL and lone surrogates replaced by U+FFFD, so any database takes it."""
    if text.isascii() and "\x00" not in text:  # the common case, without a regex scan
        return text
    return _UNSTORABLE.sub("\ufffd", text)


def _text_field(markup: str | None, limit: int, *, one_line: bool = False) -> str:
    raw = markup[: limit * _RAW_FACTOR] if markup else markup
    text = storable(html_to_text(raw))
    return _cap(single_line(text) if one_line else text, limit)


def to_utc(dt: datetime | None) -> datetime | None:
    """`dt` as an aware UTC datetime (naive is taken as UTC); None if not representable."""
    if dt is None:
        return None
    try:
        return dt.replace(tzinfo=UTC) if dt.utcoffset() is None else dt.astimezone(UTC)
    except (OverflowError, ValueError):  # e.g. 9999-12-31T23:00-05:00 is past year 9999
        return None


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def _cap_key(key: str) -> str:
    return key if len(key) <= KEY_MAX else "sha256:" + _sha256(key)


def entry_key(entry: ParsedEntry, *, feed_url: str | None = None) -> str:
    """Identity within its feed: guid, else canonical link, else sha256 of the text title
    and ISO UTC date (published, else updated, else ""). Keys over 512 chars are hashed."""
    guid = storable(entry.guid or "").strip()
    if guid:
        return _cap_key(guid)
    link = canonical_url(entry.link, feed_url)
    if link:
        return _cap_key(link)
    title = _text_field(entry.title, TITLE_MAX, one_line=True)
    when = to_utc(entry.published or entry.updated)
    stamp = when.isoformat() if when else ""
    return "sha256:" + _sha256(f"{title}\n{stamp}")


def content_hash(
    *,
    title: str,
    summary: str,
    content: str,
    link: str | None,
    author: str,
    categories: Sequence[str],
) -> str:
    """Stable sha256 hex over the fields whose change makes an entry an update.

    Pass normalised values (plain text, canonical link) so that a re-rendering of the
    same markup or a rotated tracking parameter is not taken for an update.
    """
    # json.dumps([title, summary, content, link or "", author, list(categories)],
    # ensure_ascii=False, separators=(",", ":")), written out: the same string, with
    # the same (C) string encoder, without building an encoder on every call.
    quote = encode_basestring
    tags = ",".join(map(quote, categories))
    fields = (quote(title), quote(summary), quote(content), quote(link or ""), quote(author))
    return _sha256(f"[{','.join(fields)},[{tags}]]")


def _categories(raw: Iterable[str]) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for category in raw:
        text = _cap(single_line(storable(category[: CATEGORY_MAX * _RAW_FACTOR])), CATEGORY_MAX)
        if text and len(seen) < CATEGORIES_MAX:
            seen.setdefault(text, None)
    return tuple(seen)


def normalize_entry(entry: ParsedEntry, *, feed_url: str) -> EntryData:
    """`entry` as plain, capped text with its key, canonical URL and content hash."""
    link = resolve_link(entry.link, feed_url)
    canonical = canonical_url(link)
    title = _text_field(entry.title, TITLE_MAX, one_line=True)
    summary = _text_field(entry.summary_html, SUMMARY_MAX)
    content = _text_field(entry.content_html, CONTENT_MAX)
    author = _text_field(entry.author, AUTHOR_MAX, one_line=True)
    categories = _categories(entry.categories)
    return EntryData(
        entry_key=entry_key(entry, feed_url=feed_url),
        link=link,
        canonical_url=canonical,
        title=title,
        summary=summary,
        content=content,
        author=author,
        categories=categories,
        published=to_utc(entry.published),
        updated=to_utc(entry.updated),
        content_hash=content_hash(
            title=title,
            summary=summary,
            content=content,
            link=canonical or link,
            author=author,
            categories=categories,
        ),
    )
