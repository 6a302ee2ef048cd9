"""feedparser's vocabulary: how it names what it sees, and which names the fast path takes.

Responsible for turning ElementTree's `{uri}local` tags and attributes into the names
feedparser's handlers dispatch on ('title', 'dc:creator', 'content:encoded'; attribute
names lower-cased, rel and type values too), for telling which names have a handler,
for the tables of elements walk.py accepts, and for declining (`Decline`) what would
make feedparser name things differently: unknown namespaces, xml:base, namespaced
attributes, prefixes rebound to another known namespace.

Must not: decide what an element means (walk.py does), or accept a name it cannot map
exactly; declining is always safe.
"""

from __future__ import annotations

import functools
import xml.etree.ElementTree as ET

import feedparser.api
from feedparser.mixin import _FeedParserMixin

_HANDLERS = feedparser.api.StrictFeedParser
NAMESPACES = {uri.lower(): prefix for uri, prefix in _FeedParserMixin.namespaces.items()}
_STD_LOWER = frozenset(prefix.lower() for prefix in NAMESPACES.values() if prefix)
_XML_NS = "{http://www.w3.org/XML/1998/namespace}"
_RDF_NS = "{http://www.w3.org/1999/02/22-rdf-syntax-ns#}"
_XLINK = "http://www.w3.org/1999/xlink"
_LANG = ("xml:lang", "lang")  # allowed anywhere: feedparser keeps it only as metadata


class Decline(Exception):
    """The document has something the fast path does not reproduce exactly."""


@functools.lru_cache(maxsize=1024)
def element_name(tag: str) -> str:
    """The element name feedparser dispatches on: 'title', 'dc:creator', ..."""
    if tag[0] != "{":
        return tag.lower()
    uri, _, local = tag[1:].rpartition("}")  # a URI may hold "}", a local name may not
    low = uri.lower()
    if "backend.userland.com/rss" in low:
        low = "http://backend.userland.com/rss"  # feedparser folds all of these into one
    prefix = NAMESPACES.get(low)
    if prefix is None:  # feedparser would name it by the document's own prefix
        raise Decline(f"unknown namespace {uri}")
    return f"{prefix.lower()}:{local.lower()}" if prefix else local.lower()


def has_handler(name: str) -> bool:
    """Whether feedparser has a start or end method for the element `name`."""
    method = name.replace(":", "_")
    return hasattr(_HANDLERS, "_start_" + method) or hasattr(_HANDLERS, "_end_" + method)


def attributes(elem: ET.Element, allowed: frozenset[str] | None) -> dict[str, str]:
    """The element's attributes as feedparser's handlers see them.

    Only `allowed` names pass (None: any plain name); xml:lang (harmless) and rdf:about
    or rdf:resource come with the bare local name feedparser also adds for them.
    """
    out: dict[str, str] = {}
    if not elem.attrib:
        return out
    for key, value in elem.attrib.items():
        if key.startswith(_XML_NS) and key[len(_XML_NS) :] == "lang":
            names = ["xml:lang", "lang"]
        elif key.startswith(_RDF_NS) and key[len(_RDF_NS) :] in ("about", "resource"):
            names = ["rdf:" + key[len(_RDF_NS) :], key[len(_RDF_NS) :]]
        elif key[0] == "{" or key.lower() == "base":  # xml:base changes feedparser's base URI
            raise Decline(f"attribute {key}")
        else:
            names = [key.lower()]
        for name in names:
            if name in out or (allowed is not None and name not in allowed and name not in _LANG):
                raise Decline(f"attribute {key}")
            out[name] = value.lower() if name in ("rel", "type") else value
    return out


def leaf(elem: ET.Element, allowed: frozenset[str] | None) -> dict[str, str]:
    """`attributes` of an element that must have no children."""
    if len(elem):
        raise Decline(f"children in {elem.tag}")
    return attributes(elem, allowed)


def check_prefixes(decls: list[tuple[str, str]]) -> None:
    """Decline documents whose prefixes would make feedparser rename elements.

    feedparser maps a declared prefix to its standard one; a document binding, say,
    `dc` to another known namespace would turn dc:creator into something else.
    """
    for prefix, uri in decls:
        low = uri.lower()
        std = NAMESPACES.get(low)
        if low == _XLINK:
            raise Decline("xlink declaration")  # feedparser adds it to the next attributes
        if prefix and std is not None and prefix != std and prefix.lower() in _STD_LOWER:
            raise Decline(f"prefix {prefix} bound to {uri}")


def direct_text(elem: ET.Element) -> str:
    """The text feedparser collects for an element whose children all keep their own."""
    return (elem.text or "") + "".join(child.tail or "" for child in elem)


# What walk.py accepts, by feedparser element name.
PERSON = {"name": "name", "email": "email", "uri": "href", "url": "href", "homepage": "href"}
AUTHORS = frozenset({"author", "dc:creator", "dc:author", "managingeditor"})
DATES = {
    **dict.fromkeys(("pubdate", "published", "issued", "dcterms:issued"), "published"),
    **dict.fromkeys(
        ("updated", "modified", "lastbuilddate", "dc:date", "dcterms:modified"), "updated"
    ),
    **dict.fromkeys(("created", "dcterms:created"), "created"),
    "expirationdate": "expired",
}
CATEGORIES = frozenset({"category", "dc:subject", "keywords"})
LINK_ATTRS = frozenset({"rel", "type", "href", "url", "uri", "hreflang", "title", "length"})
ABOUT = frozenset({"rdf:about", "about", "rdf:resource", "resource"})
IMAGE = frozenset({"title", "link", "url", "description", "width", "height"})
TEXTINPUT = frozenset({"title", "link", "description", "name"})
NONE: frozenset[str] = frozenset()
TYPE = frozenset({"type"})
# Elements whose handlers store only keys parse.py never reads (and touch no state it
# depends on), with the attributes allowed on them (None: any plain attribute).
HARMLESS: dict[str, frozenset[str] | None] = {
    **dict.fromkeys(("language", "dc:language", "webmaster", "dc:publisher"), NONE),
    **dict.fromkeys(("copyright", "rights", "dc:rights"), TYPE),
    "enclosure": None,
}
FEED_HARMLESS: dict[str, frozenset[str] | None] = {
    **HARMLESS,
    **dict.fromkeys(("description", "dc:description", "subtitle", "tagline", "info"), TYPE),
    "generator": frozenset({"uri", "url", "href", "version"}),
    "cloud": None,
}
