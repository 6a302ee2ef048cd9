"""Tests for aggregator.parse (and the JSON Feed reader behind it), over tests/data/feeds."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aggregator.errors import ParseError
from aggregator.normalize import html_to_text
from aggregator.parse import parse_feed
from aggregator.types import ParsedEntry, ParsedFeed

FEEDS = Path(__file__).parent / "data" / "feeds"
URL = "https://feeds.example.org/dir/feed"


def load(name: str, content_type: str | None = None, url: str = URL) -> ParsedFeed:
    return parse_feed((FEEDS / name).read_bytes(), url=url, content_type=content_type)


def utc(year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def rss(items: str, channel: str = "<title>T</title>") -> bytes:
    document = f'<rss version="2.0"><channel>{channel}{items}</channel></rss>'
    return ('<?xml version="1.0"?>' + document).encode()


# --- RSS 2.0 -------------------------------------------------------------------------


def test_rss20_feed_level() -> None:
    feed = load("rss20.xml", "application/rss+xml; charset=utf-8")
    assert feed.title == "Levant Wire & Friends"
    assert feed.link == "https://news.example.org/"
    assert feed.warning is None
    assert len(feed.entries) == 4


def test_rss20_entries() -> None:
    first, second, third, fourth = load("rss20.xml").entries
    assert [html_to_text(e.title) for e in (first, second, third, fourth)] == [
        "Yarmouk camp: residents return",
        "Markets & prices — a weekly roundup",
        "Water shortage deepens",
        "No date, no guid",
    ]
    assert first.guid == "urn:example:story:1001"
    assert first.link == (
        "https://news.example.org/2026/11/yarmouk-return?utm_source=rss&utm_medium=feed"
    )
    assert first.published == utc(2026, 11, 20, 21, 59)  # +0200 in the feed
    assert first.updated is None  # not feedparser's fallback to the published date
    assert first.author == "Rana Haddad"
    assert first.categories == ("Middle East", "Refugees")  # deduplicated, in order
    assert first.summary_html is not None and "<b>Yarmouk</b>" in first.summary_html
    assert first.content_html is not None and first.content_html.startswith("<div><h2>Return")
    assert third.published == utc(2026, 11, 18, 17, 0)  # -0500 in the feed
    assert third.summary_html is not None and "x < y" in html_to_text(third.summary_html)


def test_rss20_guidless_relative_and_undated() -> None:
    _, second, _, fourth = load("rss20.xml").entries
    assert second.guid is None
    assert second.link == "https://feeds.example.org/2026/11/markets-weekly"  # resolved
    assert second.author == "Business Desk"  # the name, not "desk@... (Business Desk)"
    assert second.published == utc(2026, 11, 19, 8, 30)
    assert fourth.guid is None and fourth.published is None and fourth.updated is None


def test_dates_are_aware_utc() -> None:
    for name in ("rss20.xml", "atom.xml", "rss10.rdf", "jsonfeed11.json"):
        for entry in load(name).entries:
            for when in (entry.published, entry.updated):
                assert when is None or when.utcoffset() == timedelta(0)


# --- Atom ----------------------------------------------------------------------------


def test_atom_entries() -> None:
    feed = load("atom.xml", "application/atom+xml")
    assert feed.title == "Example Atom Desk" and feed.link == "https://atom.example.com/"
    first, second, third = feed.entries
    assert first.guid == "tag:atom.example.com,2026:1"
    assert first.link == "https://atom.example.com/posts/ceasefire"
    assert html_to_text(first.title) == "Ceasefire talks resume"
    assert first.published == utc(2026, 11, 21, 6, 15)
    assert first.updated == utc(2026, 11, 21, 6, 45)
    assert first.author == "Omar Khalil"
    assert first.categories == ("diplomacy", "syria")
    assert html_to_text(first.content_html) == "Talks resumed on Saturday.\nPoint one\nPoint two"
    assert second.link == "https://feeds.example.org/dir/posts/relative-entry"
    assert second.updated == utc(2026, 11, 20, 18, 0) and second.published is None
    assert third.updated == utc(2026, 11, 19, 14, 30)  # -08:00 in the feed
    assert html_to_text(third.content_html) == "Body text & more"


def test_plain_text_fields_survive_html_to_text() -> None:
    second = load("atom.xml").entries[1]  # type="text" title and summary with < and &
    assert html_to_text(second.title) == "Plain title with AT&T <brackets>"
    assert html_to_text(second.summary_html) == "Plain text summary: 2 < 3 & 4 > 1."


def test_html_is_neither_sanitised_nor_rewritten() -> None:
    first = load("atom.xml").entries[0]
    assert first.summary_html == '<p>Negotiators met in <a href="/geneva">Geneva</a>.</p>'
    rss_first = load("rss20.xml").entries[0]
    assert rss_first.content_html is not None and "<script>" in rss_first.content_html


# --- RSS 1.0 -------------------------------------------------------------------------


def test_rss10_entries() -> None:
    feed = load("rss10.rdf")
    assert feed.title == "RDF Example Channel" and feed.warning is None
    first, second, third = feed.entries
    assert [html_to_text(e.title) for e in feed.entries] == [
        "First RDF item",
        "Second RDF item",
        "Third RDF item",
    ]
    assert first.link == "https://rdf.example.net/a"
    assert first.updated == utc(2026, 11, 15, 11, 0)
    assert first.author == "Sami Nasser"
    assert first.categories == ("Culture",)
    assert html_to_text(first.summary_html) == "Hello & welcome"
    assert second.updated == utc(2026, 11, 16, 0, 0)
    assert third.link == "https://feeds.example.org/dir/c-relative"
    assert third.updated == utc(2026, 11, 18, 2, 30)


# --- broken, empty and non-feeds ----------------------------------------------------


def test_partly_broken_feed_keeps_entries_with_warning() -> None:
    feed = load("broken.xml", "text/xml")
    assert [e.guid for e in feed.entries] == ["broken-1", "broken-2"]
    assert feed.entries[0].published == utc(2026, 11, 16, 10, 0)
    assert feed.warning is not None and "undefined entity" in feed.warning
    assert len(feed.warning) <= 200


@pytest.mark.parametrize("content_type", ["text/html; charset=utf-8", None])
def test_html_page_is_not_a_feed(content_type: str | None) -> None:
    with pytest.raises(ParseError, match="not a feed: looks like an HTML page"):
        load("page.html", content_type)


@pytest.mark.parametrize("body", [b"", b"   \n\t", b"\xef\xbb\xbf\n"])
def test_empty_body_is_not_a_feed(body: bytes) -> None:
    with pytest.raises(ParseError, match="not a feed: empty body"):
        parse_feed(body, url=URL)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"hello world, no markup here", "malformed XML"),
        (b"<?xml version='1.0'?><note><to>x</to></note>", "no RSS, Atom or RDF root"),
        (b"<rss version='2.0'><channel><title>cut off", "malformed XML"),
    ],
)
def test_non_feeds_raise(body: bytes, reason: str) -> None:
    with pytest.raises(ParseError, match=f"not a feed: {reason}"):
        parse_feed(body, url=URL)


def test_valid_feed_without_entries_is_empty_not_an_error() -> None:
    feed = parse_feed(rss(""), url=URL)
    assert feed == ParsedFeed(title="T", link=None, entries=(), warning=None)


def test_feed_served_as_text_html_is_fine() -> None:
    feed = load("rss20.xml", "text/html; charset=utf-8")
    assert len(feed.entries) == 4 and feed.warning is None


def test_charset_from_content_type_is_honoured() -> None:
    body = rss("<item><title>Лагерь Ярмук</title></item>").decode()
    body_koi8 = body.replace('<?xml version="1.0"?>', "").encode("koi8-r")
    feed = parse_feed(body_koi8, url=URL, content_type="application/rss+xml; charset=koi8-r")
    assert feed.entries[0].title == "Лагерь Ярмук" and feed.warning is None


def test_xml_base_resolves_links_but_not_html() -> None:
    body = (
        b'<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom">'
        b'<title>B</title><entry xml:base="https://base.example.net/news/">'
        b'<id>x</id><title>t</title><link href="story"/>'
        b'<summary type="html">&lt;a href="/geneva"&gt;G&lt;/a&gt;</summary></entry></feed>'
    )
    (entry,) = parse_feed(body, url=URL).entries
    assert entry.link == "https://base.example.net/news/story"
    assert entry.summary_html == '<a href="/geneva">G</a>'


def test_local_file_path_body_is_never_opened(tmp_path: Path) -> None:
    real_feed = tmp_path / "feed.xml"
    real_feed.write_bytes((FEEDS / "rss20.xml").read_bytes())
    with pytest.raises(ParseError):  # would parse 4 entries if the file were read
        parse_feed(str(real_feed).encode(), url=URL)
    with pytest.raises(ParseError):
        parse_feed(b"/etc/passwd", url=URL)


def test_external_entities_are_not_read(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET")
    body = (
        f'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file://{secret}">]>'
        '<rss version="2.0"><channel><title>t</title>'
        "<item><title>a&x;b</title><description>&x;</description></item></channel></rss>"
    ).encode()
    try:
        feed = parse_feed(body, url=URL)
    except ParseError:
        return
    assert all("TOP-SECRET" not in repr(entry) for entry in feed.entries)


def test_entity_bomb_does_not_expand() -> None:
    levels = ['<!ENTITY l0 "lol">']
    levels += [f'<!ENTITY l{i} "{f"&l{i - 1};" * 10}">' for i in range(1, 10)]
    body = (
        f'<?xml version="1.0"?><!DOCTYPE b [{"".join(levels)}]><rss version="2.0"><channel>'
        "<title>&l9;</title><item><title>&l9;</title></item></channel></rss>"
    ).encode()
    start = time.perf_counter()
    try:
        feed = parse_feed(body, url=URL)
    except ParseError:
        feed = None
    assert time.perf_counter() - start < 5
    assert feed is None or all(len(repr(e)) < 10_000 for e in feed.entries)


def test_feedparser_exceptions_become_parse_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    def explode(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom inside feedparser")

    monkeypatch.setattr("aggregator.parse.feedparser.parse", explode)
    monkeypatch.setattr("aggregator.parse._run_fast_path", lambda body, ctype: None)
    with pytest.raises(ParseError, match="boom inside feedparser"):
        load("rss20.xml")


@pytest.mark.parametrize(
    "date",
    ["Mon, 01 Jan 10000 00:00:00 GMT", "Fri, 31 Dec 99999 23:59:59 GMT", "yesterday-ish", ""],
)
def test_absurd_or_bad_dates_become_none(date: str) -> None:
    feed = parse_feed(rss(f"<item><title>x</title><pubDate>{date}</pubDate></item>"), url=URL)
    assert feed.entries[0].published is None


def test_old_and_leap_second_dates_do_not_crash() -> None:
    items = (
        "<item><title>a</title><pubDate>Mon, 01 Jan 1900 00:00:00 GMT</pubDate></item>"
        "<item><title>b</title><pubDate>Wed, 31 Dec 2008 23:59:60 GMT</pubDate></item>"
    )
    old, leap = parse_feed(rss(items), url=URL).entries
    assert old.published == utc(1900, 1, 1, 0, 0)
    assert leap.published is None or leap.published.year in (2008, 2009)


@settings(max_examples=150, deadline=None)
@given(
    st.one_of(
        st.binary(max_size=300),
        st.text(alphabet=st.sampled_from(list("<>/!?&;=\"' {}[]:,rsitemchanlfdyx\n"))).map(
            lambda t: f"<rss version='2.0'><channel>{t}".encode()
        ),
        st.text(max_size=200).map(
            lambda t: ('{"version":"https://jsonfeed.org/version/1.1",' + t).encode()
        ),
    ),
    st.sampled_from([None, "application/json", "text/html", "application/rss+xml; charset=x"]),
)
def test_only_parse_errors_escape(body: bytes, content_type: str | None) -> None:
    try:
        feed = parse_feed(body, url=URL, content_type=content_type)
    except ParseError:
        return
    assert all(isinstance(entry, ParsedEntry) for entry in feed.entries)


def test_entry_with_nothing_in_it_is_skipped() -> None:
    feed = parse_feed(rss("<item></item><item><title>kept</title></item>"), url=URL)
    assert [e.title for e in feed.entries] == ["kept"]


# --- JSON Feed -----------------------------------------------------------------------


def test_json_feed_entries() -> None:
    feed = load("jsonfeed11.json", "application/feed+json")
    assert feed.title == "JSON Example Feed" and feed.link == "https://json.example.org/"
    first, second, third = feed.entries
    assert all(isinstance(e, ParsedEntry) for e in feed.entries)
    assert first.guid == "json-1"
    assert first.link == "https://json.example.org/posts/1?fbclid=abc"
    assert html_to_text(first.title) == "Yarmouk update & outlook"
    assert html_to_text(first.summary_html) == "Progress in Yarmouk <3"
    assert first.content_html == "<p>Residents of <em>Yarmouk</em> report progress.</p>"
    assert first.author == "Hala Ibrahim"
    assert first.categories == ("syria", "refugees")
    assert first.published == utc(2026, 11, 20, 19, 59)
    assert first.updated == utc(2026, 11, 20, 22, 30)
    assert second.guid == "2" and second.link == "https://elsewhere.example.com/article"
    assert html_to_text(second.content_html) == "Plain text body: a < b & c > d."
    assert second.author == "Legacy Author"
    assert third.title is None and third.link == "https://feeds.example.org/posts/3"
    assert third.published is None  # "not a date"


@pytest.mark.parametrize("content_type", [None, "application/json", "text/plain", "text/xml"])
def test_json_feed_detected_by_body_or_type(content_type: str | None) -> None:
    body = b"\n  " + (FEEDS / "jsonfeed11.json").read_bytes()
    assert len(parse_feed(body, url=URL, content_type=content_type).entries) == 3


def test_json_feed_1_0_shape() -> None:
    body = (
        b'{"version": "https://jsonfeed.org/version/1", "title": "Old", "items": ['
        b'{"id": "a", "url": "https://e.com/a", "title": "A", "content_text": "x",'
        b' "date_published": "2026-11-20T10:00:00-05:00", "author": {"name": "Ann"}}]}'
    )
    (entry,) = parse_feed(body, url=URL).entries
    assert entry.author == "Ann" and entry.published == utc(2026, 11, 20, 15, 0)


@pytest.mark.parametrize(
    ("body", "content_type", "reason"),
    [
        (b'{"version": "https://jsonfeed.org/version/1.1", "items": [', None, "invalid JSON"),
        (b"[1, 2, 3]", "application/json", "JSON document is not an object"),
        (b'{"items": []}', "application/json", "JSON document without a jsonfeed.org version"),
        (b'{"version": "1.1", "items": []}', None, "JSON document without a jsonfeed.org version"),
        (b'{"version": "https://jsonfeed.org/version/1.1", "t": "\xff"}', None, "invalid JSON"),
    ],
)
def test_bad_json_raises(body: bytes, content_type: str | None, reason: str) -> None:
    with pytest.raises(ParseError, match=f"not a feed: {reason}"):
        parse_feed(body, url=URL, content_type=content_type)


def test_json_content_type_with_xml_body_is_parsed_as_xml() -> None:
    feed = load("rss20.xml", "application/json")
    assert len(feed.entries) == 4
