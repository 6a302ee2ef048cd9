"""Rendering alerts: the webhook JSON contract, email subject and bodies, the log line."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone

import pytest

from aggregator.alerts.render import (
    SUBJECT_MAX,
    email_bodies,
    email_subject,
    mark_hit,
    one_line,
    webhook_body,
    webhook_payload,
)
from aggregator.types import Highlight, StorySource
from tests.helpers.receivers import SNIPPET, make_alert

Z_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
HOSTILE_HTML = (
    '<p onclick="steal()">Camp <script>alert(1)</script>news'
    ' <a href="javascript:alert(2)">click</a> <img src=x onerror="alert(3)">'
    ' <a href="https://ok.example/">fine</a></p>'
)


def test_webhook_payload_has_exactly_the_documented_shape() -> None:
    payload = webhook_payload(make_alert())
    assert list(payload) == [
        "type", "id", "watchlist", "matched", "highlights", "story", "created_at"
    ]  # fmt: skip
    assert payload["type"] == "watchlist.match"
    assert payload["id"] == "dlv-01J9Z6"
    assert payload["watchlist"] == "yarmouk"
    assert payload["matched"] == ["yarmouk"]
    assert payload["highlights"] == [{"field": "summary", "term": "yarmouk", "snippet": SNIPPET}]
    story = payload["story"]
    assert set(story) == {"id", "title", "url", "published", "feed", "sources", "snippet"}
    assert story["id"] == "story-42"
    assert story["title"] == "Fighters take control of Yarmouk camp"
    assert story["url"] == "https://news.example.org/2026/11/yarmouk"
    assert story["published"] == "2026-11-20T23:59:00Z"
    assert story["feed"] == {
        "name": "telesur",
        "url": "https://www.telesurenglish.example/rss/RssWorld.xml",
    }
    assert story["sources"] == [
        {"feed": "telesur", "url": "https://news.example.org/2026/11/yarmouk"},
        {"feed": "wire", "url": "https://wire.example.net/yarmouk-camp"},
    ]
    assert story["snippet"] == SNIPPET
    assert payload["created_at"] == "2026-11-21T00:00:03Z"
    assert Z_TIME.match(payload["created_at"]) and Z_TIME.match(story["published"])


def test_payload_times_are_utc_with_z_and_unknown_published_is_null() -> None:
    plus_two = timezone(timedelta(hours=2))
    alert = make_alert(published=None, sources=(StorySource("bbc", None),))
    assert webhook_payload(alert)["story"]["published"] is None
    assert webhook_payload(alert)["story"]["sources"] == [{"feed": "bbc", "url": None}]
    local = make_alert(published=datetime(2026, 11, 21, 1, 59, 30, 123456, tzinfo=plus_two))
    assert webhook_payload(local)["story"]["published"] == "2026-11-20T23:59:30Z"
    naive = make_alert(published=datetime(2026, 11, 20, 23, 59))
    assert webhook_payload(naive)["story"]["published"] == "2026-11-20T23:59:00Z"


def test_webhook_body_is_compact_utf8_json_and_stable() -> None:
    alert = make_alert(title="مخيم اليرموك — Yarmūk")
    body = webhook_body(alert)
    assert body == webhook_body(alert)
    assert "مخيم اليرموك — Yarmūk".encode() in body  # not \\u escapes
    assert b": " not in body and b", " not in body
    assert json.loads(body) == webhook_payload(alert)


def test_webhook_body_survives_a_lone_surrogate() -> None:
    body = webhook_body(make_alert(title="bad \ud800 title"))
    assert json.loads(body.decode("utf-8"))["story"]["title"] == "bad ? title"


def test_subject_is_watchlist_and_title() -> None:
    assert email_subject(make_alert()) == "[yarmouk] Fighters take control of Yarmouk camp"
    assert email_subject(make_alert(title="  ")) == "[yarmouk] (untitled)"


@pytest.mark.parametrize(
    "title",
    [
        "Camp\r\nBcc: evil@x",
        "Camp\nBcc: evil@x",
        "Camp\rBcc: evil@x",
        "Camp\tBcc:\x0bevil@x",
        "Camp\u2028Bcc:\u2029evil@x\x85",
        "Camp\x00\x1b[31mBcc: evil@x",
    ],
)
def test_subject_loses_control_and_line_separator_characters(title: str) -> None:
    subject = email_subject(make_alert(title=title))
    assert not any(ord(c) < 32 or c in "\x7f\x85\u2028\u2029" for c in subject)
    assert subject.startswith("[yarmouk] Camp")
    assert subject.endswith("evil@x")


def test_subject_drops_bidi_overrides_and_is_capped() -> None:
    assert "\u202e" not in email_subject(make_alert(title="exe.\u202etxt"))
    long = email_subject(make_alert(title="word " * 200))
    assert len(long) <= SUBJECT_MAX and long.endswith("…")


def test_html_body_marks_hit_links_title_and_lists_sources() -> None:
    _, page = email_bodies(make_alert())
    assert "<mark>Yarmouk</mark> Palestinian refugee camp" in page
    assert '<a href="https://news.example.org/2026/11/yarmouk">Fighters take control' in page
    assert '<a href="https://wire.example.net/yarmouk-camp">wire</a>' in page
    assert "telesur" in page and "2026-11-20 23:59:00 UTC" in page
    assert "<code>yarmouk</code>" in page


def test_html_body_escapes_feed_text_and_sanitises_feed_html() -> None:
    alert = make_alert(
        title='<script>alert("t")</script>',
        url="javascript:alert(1)",
        summary=HOSTILE_HTML,
        sources=(StorySource("evil", "javascript:alert(4)"),),
    )
    _, page = email_bodies(alert)
    lowered = page.lower()
    assert "<script" not in lowered
    assert "onclick" not in lowered and "onerror" not in lowered
    assert "javascript:" not in lowered
    assert "&lt;script&gt;" in page  # the title is shown, as text
    assert '<a href="https://ok.example/"' in page  # harmless links stay
    assert "Camp" in page and "news" in page


def test_text_body_shows_terms_hit_feed_and_every_source_without_markup() -> None:
    text, _ = email_bodies(make_alert(summary=HOSTILE_HTML))
    assert "*Yarmouk* Palestinian refugee camp" in text
    assert "Fighters take control of Yarmouk camp" in text
    assert "https://news.example.org/2026/11/yarmouk" in text
    assert "https://wire.example.net/yarmouk-camp" in text
    assert "telesur" in text and "yarmouk" in text
    assert "<" not in text and "alert(1)" not in text  # tags and script content gone


@pytest.mark.parametrize(
    ("term", "snippet", "hit"),
    [
        ("Yarmuk", "battle in al-Yarmūk camp", "Yarmūk"),
        ("refugee camp", "the Refugee  Camp is", "Refugee  Camp"),
        ("camp", "encampment and camp", "camp"),
        ("yarm*", "the Yarmoukian people", "Yarmoukian"),
        ("اليرموك", "مخيم اليرموك للاجئين", "اليرموك"),
    ],
)
def test_mark_hit_finds_the_term_as_the_matcher_does(term: str, snippet: str, hit: str) -> None:
    marked = mark_hit(Highlight("title", term, snippet))
    assert marked.hit == hit
    assert marked.before + marked.hit + marked.after == snippet


def test_mark_hit_without_a_hit_keeps_the_snippet() -> None:
    marked = mark_hit(Highlight("title", "camp", "encampment"))
    assert (marked.before, marked.hit, marked.after) == ("encampment", "", "")


def test_one_line_is_one_line_with_the_essentials() -> None:
    line = one_line(make_alert(title='Camp\n"forged" line\u2028more'))
    assert "\n" not in line and "\r" not in line and "\u2028" not in line
    assert "watchlist=yarmouk" in line
    assert 'title="Camp \\"forged\\" line more"' in line
    assert "url=https://news.example.org/2026/11/yarmouk" in line
    assert "delivery=dlv-01J9Z6" in line and "feed=telesur" in line
