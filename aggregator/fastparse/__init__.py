"""Fast path of the parse stage: well-formed UTF-8 RSS 2.0/0.9x, RSS 1.0 and Atom feeds.

Responsible for reading ordinary feed documents with the C-accelerated ElementTree
parser and returning what `feedparser.parse` would have returned for them, reduced to
the keys `parse.py` reads (feed title, link and ttl; each entry's id, link, title,
summary, content, author, tags and dates), so that `parse.py` maps both the same way.
feedparser is a flat state machine with many quirks (the first non-empty title wins, a
guid that is a permalink becomes the link unless one was seen, `<content>` copies itself
into a missing summary, dates are read by its own parser, ...); every element this
module accepts is replayed through a faithful copy of those rules, in document order,
using feedparser's own helpers (date parser, URL join, HTML sniffing, author split).

Must not: guess. Anything not fully understood is declined (`parse_fast` returns None)
and `parse.py` runs feedparser instead: a body that is not well-formed, any DOCTYPE or
ENTITY declaration (checked before parsing, so ElementTree never expands an entity), an
encoding other than UTF-8 or ASCII, an unknown root, namespace or element, xml:base,
xhtml, base64 or escaped-mode content. Declining is always safe; a result that differs
from feedparser's is a bug (tests/test_fastparse.py checks this differentially). Must not
fetch or open anything. Only this package and `parse.py` import feedparser.

Layout: this module decides whether a body may take the fast path at all (encoding,
declarations, well-formedness) and what feedparser's `version` would be; names.py maps
tags and attributes to feedparser's names; walk.py replays the handlers.
"""

from __future__ import annotations

import codecs
import re
import xml.etree.ElementTree as ET
from typing import Any

from feedparser.encodings import RE_XML_PI_ENCODING, parse_content_type

from aggregator.fastparse.names import Decline, element_name
from aggregator.fastparse.walk import Walk

__all__ = ["Decline", "parse_fast"]

_VERSION_BY_NS = {
    "http://purl.org/rss/1.0/": "rss10",
    "http://www.w3.org/2005/atom": "atom10",
}
_NETSCAPE_NS = "http://my.netscape.com/rdf/simple/0.9/"
_ATOM_VERSIONS = {"0.1": "atom01", "0.2": "atom02", "0.3": "atom03"}
_RSS_VERSIONS = {"0.91": "rss091u", "0.92": "rss092", "0.93": "rss093", "0.94": "rss094"}
_UNSAFE_HEADS = (
    codecs.BOM_UTF32_BE,
    codecs.BOM_UTF32_LE,
    codecs.BOM_UTF16_BE,
    codecs.BOM_UTF16_LE,
    b"\x4c\x6f\xa7\x94",
    b"\x00\x3c\x00\x3f",
    b"\x3c\x00\x3f\x00",
    b"\x00\x00\x00\x3c",
    b"\x3c\x00\x00\x00",
)  # feedparser's BOMs and '<?xm' markers of encodings other than UTF-8
# feedparser swaps what this matches for its own XML declaration (RE_XML_DECLARATION).
_LEADING_PI = re.compile(rb"<\?xml[^>]*?>")
_APP_XML = ("application/xml", "application/xml-dtd", "application/xml-external-parsed-entity")


def parse_fast(body: bytes, content_type: str | None) -> Any:
    """feedparser's result for `body` (only the keys parse.py reads), or None to decline."""
    if b"<!DOCTYPE" in body or b"<!ENTITY" in body or not _encoding_is_plain(body, content_type):
        return None
    try:
        root, root_decls, all_decls = _tree(body)
        return Walk(_version(root, root_decls), all_decls).document(root)
    except (ET.ParseError, Decline, RecursionError):  # deep nesting: let feedparser try
        return None


def _encoding_is_plain(body: bytes, content_type: str | None) -> bool:
    """True when feedparser would decode `body` as UTF-8 (or ASCII) without complaint.

    Mirrors `feedparser.encodings.convert_to_utf8`: the encoding it settles on must be
    UTF-8 or ASCII and must decode the body (else it would warn of an override), and the
    XML declaration must name one that expat reads the same way.
    """
    if body.startswith(_UNSAFE_HEADS):
        return False
    data = body[3:] if body.startswith(codecs.BOM_UTF8) else body
    head = _LEADING_PI.match(data)
    if head and not head.group().endswith(b"?>"):
        return False  # feedparser would replace a leading PI up to a '>' inside it
    found = RE_XML_PI_ENCODING.match(data)
    declared = found.group(1).decode("utf-8", "replace").lower() if found else ""
    mime, charset = parse_content_type(content_type or "")
    if mime in _APP_XML or (mime.startswith("application/") and mime.endswith("+xml")):
        chosen = charset or declared or "utf-8"
    elif mime.startswith("text/"):
        chosen = charset or "us-ascii"
    else:
        chosen = declared or "utf-8"
    chosen = chosen.lower()  # what it decodes with: only these names read as UTF-8/ASCII
    if declared not in ("", "utf-8", "us-ascii"):
        return False  # expat would read the body by that declaration, not as UTF-8
    if chosen in ("us-ascii", "ascii") or declared == "us-ascii":
        return data.isascii()
    if chosen not in ("utf-8", "utf8"):
        return False
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False  # feedparser would fall back to another encoding, with a warning
    return True


def _tree(body: bytes) -> tuple[ET.Element, list[tuple[str, str]], list[tuple[str, str]]]:
    """The element tree, the root's namespace declarations, and all of them, in order."""
    parser: Any = ET.XMLPullParser(events=("start-ns", "start"))  # typeshed: generic
    parser.feed(body)
    parser.close()
    root_decls: list[tuple[str, str]] = []
    all_decls: list[tuple[str, str]] = []
    root: ET.Element | None = None
    for event, item in parser.read_events():
        if event == "start":
            root = item if root is None else root
        else:
            all_decls.append(item)
            if root is None:
                root_decls.append(item)
    if root is None:
        raise Decline("no root")
    return root, root_decls, all_decls


def _version(root: ET.Element, decls: list[tuple[str, str]]) -> str:
    """feedparser's `version`: set by the first telling namespace, then by the root."""
    version = ""
    for prefix, uri in decls:
        low = uri.lower()
        if not version and not prefix and low == _NETSCAPE_NS:
            version = "rss090"
        elif not version:
            version = _VERSION_BY_NS.get(low, "")
    name = element_name(root.tag)
    if name == "rss" and not version.startswith("rss"):
        given = root.get("version", "")
        default = "rss20" if given.startswith("2.") else "rss"
        version = _RSS_VERSIONS.get(given, default)
    elif name == "feed" and not version:
        version = _ATOM_VERSIONS.get(root.get("version", ""), "atom")
    return version
