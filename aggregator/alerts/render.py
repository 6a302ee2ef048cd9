"""Rendering an Alert for each channel: the webhook JSON, email subject and bodies, a log line.

Pure: functions of the Alert only (plus the packaged Jinja2 templates), no clock, no I/O
beyond reading the templates, no settings. The webhook body is the contract in DESIGN.md
("Webhook delivery"); change it only by adding keys.

Must not: trust anything that came from a feed. Titles and snippets are text and are
escaped (HTML autoescape); anything that may hold markup (the story summary) goes through
nh3 before it is shown; only http(s) URLs become links; header-bound text (the subject)
and the log line lose every control and line-separator character; everything returned
encodes as UTF-8 (a lone surrogate becomes "?"), so no alert can fail to render.
"""

from __future__ import annotations

import html
import json
import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import nh3
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup

from aggregator.types import Alert, Highlight

__all__ = [
    "SUBJECT_MAX",
    "email_bodies",
    "email_subject",
    "one_line",
    "webhook_body",
    "webhook_payload",
]

SUBJECT_MAX = 200
TEMPLATES = Path(__file__).parent / "templates"
_ALLOWED_TAGS = {"p", "br", "b", "strong", "i", "em", "ul", "ol", "li", "blockquote", "a"}
_ALLOWED_ATTRIBUTES = {"a": {"href", "title"}}
# Bidi overrides/embeddings/isolates and the BOM can disguise a subject; drop them.
_INVISIBLE = dict.fromkeys(
    [*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x200E, 0x200F, 0xFEFF], None
)
_SPACES = re.compile(r"\s+")


def iso_utc(moment: datetime | None) -> str | None:
    """ISO 8601 in UTC with a Z, to the second (naive datetimes are taken as UTC)."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def webhook_payload(alert: Alert) -> dict[str, Any]:
    """The JSON object POSTed to webhooks (DESIGN.md "Webhook delivery")."""
    story = alert.story
    return {
        "type": "watchlist.match",
        "id": alert.delivery_id,
        "watchlist": alert.watchlist,
        "matched": list(alert.matched),
        "highlights": [
            {"field": h.field, "term": h.term, "snippet": h.snippet} for h in alert.highlights
        ],
        "story": {
            "id": story.id,
            "title": story.title,
            "url": story.url,
            "published": iso_utc(story.published),
            "feed": {"name": story.feed_name, "url": story.feed_url},
            "sources": [{"feed": s.feed, "url": s.url} for s in story.sources],
            "snippet": story.snippet,
        },
        "created_at": iso_utc(alert.created_at),
    }


def webhook_body(alert: Alert) -> bytes:
    """The exact bytes that are signed and sent: compact UTF-8 JSON, same bytes every time."""
    text = json.dumps(webhook_payload(alert), ensure_ascii=False, separators=(",", ":"))
    return text.encode("utf-8", "replace")  # a lone surrogate becomes "?", not an error


def encodable(text: str) -> str:
    """`text` as it can be encoded in UTF-8: a lone surrogate becomes "?"."""
    return text.encode("utf-8", "replace").decode("utf-8")


def clean_line(text: str) -> str:
    """One line of UTF-8 text: control characters and line/paragraph separators become
    spaces, lone surrogates "?"."""
    chars = (
        " " if unicodedata.category(ch) in ("Cc", "Zl", "Zp") else ch
        for ch in encodable(text).translate(_INVISIBLE)
    )
    return _SPACES.sub(" ", "".join(chars)).strip()


def email_subject(alert: Alert) -> str:
    """ "[watchlist] title" on one line, without control characters, at most SUBJECT_MAX."""
    title = clean_line(alert.story.title) or "(untitled)"
    subject = f"[{clean_line(alert.watchlist)}] {title}"
    if len(subject) > SUBJECT_MAX:
        subject = subject[: SUBJECT_MAX - 1].rstrip() + "…"
    return subject


def one_line(alert: Alert) -> str:
    """The log channel's line: watchlist, terms, feed, quoted title, URL and delivery id."""
    story = alert.story
    title = json.dumps(clean_line(story.title), ensure_ascii=False)
    url = clean_line(story.url or "") or "-"
    fields = [
        f"alert watchlist={clean_line(alert.watchlist)}",
        f"matched={clean_line(','.join(alert.matched))}",
        f"feed={clean_line(story.feed_name)}",
        f"sources={len(story.sources)}",
        f"title={title}",
        f"url={url}",
        f"delivery={clean_line(alert.delivery_id)}",
    ]
    return " ".join(fields)


def sanitize_html(fragment: str) -> Markup:
    """Feed HTML made safe to show: a few formatting tags, http(s)/mailto links only."""
    cleaned = nh3.clean(
        encodable(fragment),
        tags=_ALLOWED_TAGS,
        attributes=_ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
    )
    return Markup(cleaned)  # nh3 output is the sanitised fragment, safe to insert as is


def html_to_text(fragment: str) -> str:
    """Feed HTML reduced to plain text (scripts and styles dropped with their content)."""
    return _SPACES.sub(" ", html.unescape(nh3.clean(encodable(fragment), tags=set()))).strip()


def _http_url(url: str | None) -> str | None:
    """The URL if it is safe to link (http or https), else None."""
    if url and url.strip().lower().startswith(("http://", "https://")):
        return url.strip()
    return None


@dataclass(frozen=True, slots=True)
class MarkedSnippet:
    """A highlight split around its hit, for templates to mark the hit."""

    field: str
    term: str
    before: str
    hit: str
    after: str


def _fold(text: str) -> tuple[str, list[int]]:
    """Case-folded text without diacritics, and for each folded char its source index."""
    folded: list[str] = []
    index: list[int] = []
    for i, ch in enumerate(text):
        for part in unicodedata.normalize("NFKD", ch):
            if unicodedata.combining(part):
                continue
            for out in part.casefold():
                folded.append(out)
                index.append(i)
    return "".join(folded), index


def mark_hit(highlight: Highlight) -> MarkedSnippet:
    """Find the term in the snippet as the matcher does (case, diacritics, whole words)."""
    snippet, term = highlight.snippet, highlight.term.strip().strip("\"'")
    prefix = term.endswith("*")
    words = re.findall(r"\w+", _fold(term.rstrip("*"))[0])
    found = None
    if words:
        pattern = r"(?<!\w)" + r"\W+".join(map(re.escape, words)) + ("" if prefix else r"(?!\w)")
        folded, index = _fold(snippet)
        found = re.search(pattern, folded)
    if found is None:
        return MarkedSnippet(highlight.field, highlight.term, snippet, "", "")
    start, end = index[found.start()], index[found.end() - 1] + 1
    if prefix:  # mark the whole word the prefix began
        while end < len(snippet) and (snippet[end].isalnum() or snippet[end] == "_"):
            end += 1
    return MarkedSnippet(
        highlight.field, highlight.term, snippet[:start], snippet[start:end], snippet[end:]
    )


@cache
def _environment(autoescape: bool) -> Environment:
    return Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=autoescape,
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _context(alert: Alert) -> dict[str, Any]:
    story = alert.story
    published = iso_utc(story.published)
    return {
        "watchlist": alert.watchlist,
        "title": clean_line(story.title) or "(untitled)",
        "url": _http_url(story.url),
        "feed_name": story.feed_name,
        "feed_url": _http_url(story.feed_url),
        "published": published.replace("T", " ").replace("Z", " UTC") if published else None,
        "matched": alert.matched,
        "highlights": [mark_hit(h) for h in alert.highlights],
        "snippet": story.snippet,
        "summary_html": sanitize_html(story.summary) if story.summary else None,
        "summary_text": html_to_text(story.summary) if story.summary else "",
        "sources": [(s.feed, _http_url(s.url)) for s in story.sources],
        "delivery_id": alert.delivery_id,
    }


def email_bodies(alert: Alert) -> tuple[str, str]:
    """The (plain text, HTML) bodies of an alert email, from templates/alert.{txt,html}."""
    context = _context(alert)
    text = _environment(False).get_template("alert.txt").render(context)
    page = _environment(True).get_template("alert.html").render(context)
    return encodable(text), encodable(page)
