"""The replay: feedparser's element handlers, re-enacted over an ElementTree tree.

Responsible for walking a parsed document in document order and doing to a result
dict what feedparser's handlers (feedparser/mixin.py, namespaces/_base.py, dc.py) do
for the elements accepted here, with the state they keep: the first non-empty title
wins, a permalink guid becomes the link unless one was seen, `<content>` copies itself
into a missing summary, a text value is stripped, de-mojibaked and cp1252-mapped as
feedparser's `pop` does, dates go through feedparser's own date parser, authors through
its (patched) `_sync_author_detail`. Results are plain dicts: for the keys stored here
they behave as feedparser's FeedParserDict does.

Must not: accept an element, attribute or nesting it does not replay exactly (raise
`Decline`), or store anything parse.py reads under rules other than feedparser's.
"""

from __future__ import annotations

import contextlib
import re
import xml.etree.ElementTree as ET
from typing import Any

from feedparser.datetimes import _parse_date
from feedparser.html import _cp1252
from feedparser.mixin import _FeedParserMixin
from feedparser.urls import _urljoin
from feedparser.util import FeedParserDict

from aggregator.fastparse.names import (
    ABOUT,
    AUTHORS,
    CATEGORIES,
    DATES,
    FEED_HARMLESS,
    HARMLESS,
    IMAGE,
    LINK_ATTRS,
    NONE,
    PERSON,
    TEXTINPUT,
    TYPE,
    Decline,
    attributes,
    check_prefixes,
    direct_text,
    element_name,
    has_handler,
    leaf,
)

_RELATIVE = frozenset(_FeedParserMixin.can_be_relative_uri)
_HTML_TYPES = frozenset(_FeedParserMixin.html_types)
_TEXT_TYPES = frozenset({"text/plain", "text/html"})
_looks_like_html = _FeedParserMixin.looks_like_html
_map_type = _FeedParserMixin.map_content_type
_ENTITY_REF = re.compile("&([A-Za-z0-9_]+);")
_C1_CONTROLS = re.compile("[\x80-\x9f]")  # the only characters feedparser's _cp1252 maps
# An element with no feedparser handler is stored under its own name, so one called e.g.
# <title_detail> would shadow a key parse.py reads, and one called <links> would make
# feedparser's own handlers fail later on a key they append to; such documents are
# declined.
_SHADOWING = frozenset(
    {"title", "title_detail", "link", "id", "summary", "summary_detail", "content"}
    | {"author", "author_detail", "authors", "tags", "published_parsed", "updated_parsed"}
    | {"links", "contributors", "publisher_detail", "generator_detail", "image", "textinput"}
)


def _add_tag(ctx: Any, term: str | None, scheme: str | None, label: str | None) -> None:
    tags = ctx.setdefault("tags", [])
    if not term and not scheme and not label:
        return
    value = {"term": term, "scheme": scheme, "label": label}
    if value not in tags:
        tags.append(value)


class _Context:
    """What feedparser's `_sync_author_detail` needs of its parser: the current context."""

    def __init__(self, ctx: Any) -> None:
        self.ctx = ctx

    def _get_context(self) -> Any:
        return self.ctx


def _save_author(ctx: Any, key: str, value: str) -> None:
    ctx.setdefault("author_detail", {})[key] = value
    # Looked up at call time: parse.py installs its linear-time version on the class.
    _FeedParserMixin._sync_author_detail(_Context(ctx))
    ctx.setdefault("authors", [{}])[-1][key] = value


class Walk:
    """One replay of feedparser's handlers over a tree, keeping the state they keep."""

    def __init__(self, version: str, decls: list[tuple[str, str]]) -> None:
        check_prefixes(decls)
        self.version = version
        self.atom = version.startswith("atom")  # feedparser sniffs for HTML only outside Atom
        self.feed: dict[str, Any] = {}
        self.entries: list[Any] = []
        self.title_depth = -1  # depth of the last non-empty title: later ones are ignored
        self.guidislink = False
        self.has_content = False  # reset only at the end of an entry, as in feedparser

    def document(self, root: ET.Element) -> Any:
        name, children = element_name(root.tag), list(root)
        if name == "rss":
            attributes(root, None)
            if len(children) != 1 or element_name(children[0].tag) != "channel":
                raise Decline("rss without exactly one channel")
            self.channel(children[0], 2)
        elif name == "feed" and self.version.startswith("atom"):
            attributes(root, None)
            for child in children:
                self.feed_child(child, 2)
        elif name == "rdf:rdf" and self.version in ("rss10", "rss090"):
            self.rdf(root, children)
        else:
            raise Decline(f"root {root.tag} ({self.version})")
        return {"bozo": False, "entries": self.entries, "feed": self.feed, "version": self.version}

    def rdf(self, root: ET.Element, children: list[ET.Element]) -> None:
        attributes(root, NONE)
        names = [element_name(child.tag) for child in children]
        if names.count("channel") > 1:
            raise Decline("several channels")
        for child, name in zip(children, names, strict=True):
            if name == "channel":
                self.channel(child, 2)
            elif name == "item":
                self.entry(child, 2)
            elif name in ("image", "textinput"):
                self.sub(child, 2, IMAGE if name == "image" else TEXTINPUT)
            else:
                raise Decline(f"{name} in rdf:RDF")

    def channel(self, elem: ET.Element, depth: int) -> None:
        attributes(elem, ABOUT)
        for child in elem:
            self.feed_child(child, depth + 1)

    def feed_child(self, elem: ET.Element, depth: int) -> None:
        name, feed = element_name(elem.tag), self.feed
        if name in ("item", "entry"):
            self.entry(elem, depth)
        elif name in ("image", "textinput"):
            self.sub(elem, depth, IMAGE if name == "image" else TEXTINPUT)
        elif name in FEED_HARMLESS:
            leaf(elem, FEED_HARMLESS[name])
        elif not self.common(elem, name, depth, feed):
            raise Decline(f"{name} in feed")

    def entry(self, elem: ET.Element, depth: int) -> None:
        attrs = attributes(elem, ABOUT)
        entry: dict[str, Any] = {}
        self.entries.append(entry)
        self.guidislink, self.title_depth = False, -1
        if attrs.get("rdf:about"):
            entry["id"] = attrs["rdf:about"]
        for child in elem:
            self.entry_child(child, element_name(child.tag), depth + 1, entry)
        self.has_content = False

    def entry_child(self, elem: ET.Element, name: str, depth: int, entry: Any) -> None:
        if name in ("description", "dc:description"):
            self.summary(elem, entry, "text/html")
        elif name == "summary":
            self.summary(elem, entry, "text/plain")
        elif name in ("content", "content:encoded", "fullitem"):
            self.content(elem, entry, "text/plain" if name == "content" else "text/html")
        elif name == "source":
            leaf(elem, frozenset({"url"}))
            self.title_depth = -1
        elif name in HARMLESS:
            leaf(elem, HARMLESS[name])
        elif not self.common(elem, name, depth, entry):
            raise Decline(f"{name} in entry")

    def common(self, elem: ET.Element, name: str, depth: int, ctx: Any) -> bool:
        """Elements handled alike in the feed and in entries; False for unknown ones."""
        if name in ("title", "dc:title"):
            self.title(elem, depth, ctx)
        elif name == "link":
            self.link(elem, ctx, ctx is not self.feed)
        elif name in ("guid", "id"):
            self.guid(elem, ctx)
        elif name in DATES:
            self.date(elem, ctx, DATES[name])
        elif name in AUTHORS or name == "contributor":
            self.person(elem, ctx, name != "contributor")
        elif name in CATEGORIES:
            self.category(elem, ctx)
        elif has_handler(name):
            return False
        else:
            self.generic(elem, name, ctx)
        return True

    def pop(
        self, text: str | None, element: str, kind: str | None = None
    ) -> tuple[str, str | None]:
        """feedparser's `pop` for a text element: the value and its (sniffed) type."""
        out = (text or "").strip()
        if out and element in _RELATIVE and (element != "id" or self.guidislink):
            out = _urljoin("", out)  # the base is always empty: no xml:base, no Content-Location
        if kind == "text/plain" and not self.atom and _looks_like_html(out):
            kind = "text/html"
        if out.isascii():  # both repairs below leave ASCII as it is
            return out, kind
        with contextlib.suppress(UnicodeError):  # feedparser's repair of UTF-8 read as Latin-1
            out = out.encode("iso-8859-1").decode("utf-8")
        return (out.translate(_cp1252) if _C1_CONTROLS.search(out) else out), kind

    def text_kind(self, elem: ET.Element, default: str, allowed: frozenset[str] = TYPE) -> str:
        kind = _map_type(leaf(elem, allowed).get("type", default))
        if kind not in _TEXT_TYPES:
            raise Decline(f"content type {kind}")  # xhtml, base64 and the like
        return str(kind)

    def title(self, elem: ET.Element, depth: int, ctx: Any) -> None:
        value, kind = self.pop(elem.text, "title", self.text_kind(elem, "text/plain"))
        if not -1 < self.title_depth <= depth:
            ctx["title"] = value
            ctx["title_detail"] = {"type": kind, "value": value}
        if value:
            self.title_depth = depth

    def link(self, elem: ET.Element, ctx: Any, in_entry: bool) -> None:
        attrs = leaf(elem, LINK_ATTRS)
        rel = attrs.setdefault("rel", "alternate")
        attrs.setdefault("type", "application/atom+xml" if rel == "self" else "text/html")
        href = attrs.get("url", attrs.get("uri", attrs.get("href")))
        if href:
            attrs.pop("url", None)
            attrs.pop("uri", None)
            attrs["href"] = href
        if "href" in attrs:  # the element's text, if any, is not read
            if rel == "alternate" and _map_type(attrs["type"]) in _HTML_TYPES:
                ctx["link"] = _urljoin("", attrs["href"])
            return
        value = self.pop(elem.text, "link")[0]
        if in_entry:
            value = value.replace("&amp;", "&")
        ctx["link"] = _ENTITY_REF.sub(r"&\g<1>", value) if ";" in value else value

    def guid(self, elem: ET.Element, ctx: Any) -> None:
        self.guidislink = (
            leaf(elem, frozenset({"ispermalink"})).get("ispermalink", "true") == "true"
        )
        value = self.pop(elem.text, "id")[0]
        ctx["id"] = value
        if self.guidislink:
            ctx.setdefault("link", value)

    def summary(self, elem: ET.Element, entry: Any, default: str) -> None:
        if "summary" in entry and not self.has_content:
            raise Decline("second summary")  # feedparser then reads it as content, oddly
        value, kind = self.pop(elem.text, "summary", self.text_kind(elem, default))
        entry["summary"] = value
        entry["summary_detail"] = {"type": kind, "value": value}

    def content(self, elem: ET.Element, entry: Any, default: str) -> None:
        self.has_content = True
        kind = self.text_kind(elem, default, frozenset({"type", "src"}))
        value, sniffed = self.pop(elem.text, "content", kind)
        entry.setdefault("content", []).append({"type": sniffed, "value": value})
        entry.setdefault("summary", value)

    def date(self, elem: ET.Element, ctx: Any, key: str) -> None:
        leaf(elem, NONE)
        value = self.pop(elem.text, key)[0]
        ctx[key] = value
        ctx[key + "_parsed"] = _parse_date(value)

    def person(self, elem: ET.Element, ctx: Any, author: bool) -> None:
        attributes(elem, NONE)
        if author:
            ctx.setdefault("authors", []).append({})
        for child in elem:
            key = PERSON.get(element_name(child.tag))
            if key is None:
                raise Decline(f"{child.tag} in {elem.tag}")
            leaf(child, NONE)
            # name and email are read raw: feedparser pushes them as expecting no text
            raw = key != "href"
            value = (child.text or "").strip() if raw else self.pop(child.text, "href")[0]
            if author:
                _save_author(ctx, key, value)
        if author:
            ctx["author"] = self.pop(direct_text(elem), "author")[0]
            _FeedParserMixin._sync_author_detail(_Context(ctx))

    def category(self, elem: ET.Element, ctx: Any) -> None:
        attrs = leaf(elem, frozenset({"term", "scheme", "domain", "label"}))
        _add_tag(
            ctx, attrs.get("term"), attrs.get("scheme", attrs.get("domain")), attrs.get("label")
        )
        value = self.pop(elem.text, "category")[0]
        if value:
            tags = ctx["tags"]
            if tags and not tags[-1]["term"]:
                tags[-1]["term"] = value
            else:
                _add_tag(ctx, value, None, None)

    def sub(self, elem: ET.Element, depth: int, allowed: frozenset[str]) -> None:
        """<image> or <textinput>: their children go to a context parse.py never reads."""
        attributes(elem, ABOUT)
        self.title_depth = -1
        sink: dict[str, Any] = {}
        for child in elem:
            name = element_name(child.tag)
            if name not in allowed:
                raise Decline(f"{name} in {elem.tag}")
            if name == "title":
                self.title(child, depth + 1, sink)
            elif name == "link":
                self.link(child, sink, False)
            else:
                leaf(child, NONE)

    def generic(self, elem: ET.Element, name: str, ctx: Any) -> None:
        """An element without a handler: feedparser stores its text under its name."""
        key = name.replace(":", "_")
        real = FeedParserDict.keymap.get(key, key)
        if (real[0] if isinstance(real, list) else real) in _SHADOWING:
            raise Decline(f"element {name} shadows a field")
        attrs = attributes(elem, None)
        for child in elem:
            child_name = element_name(child.tag)
            if has_handler(child_name):
                raise Decline(f"{child_name} in {name}")
            self.generic(child, child_name, ctx)
        if key == "ttl" and ctx is self.feed:  # the only such key parse.py reads
            if attrs or len(elem):
                raise Decline("ttl with attributes or children")
            ctx["ttl"] = self.pop(elem.text, "ttl")[0]
