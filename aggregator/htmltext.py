"""HTML to readable plain text, in linear time whatever the markup: `html_to_text`.

Responsible for: block elements -> line breaks, table cells -> spaces, scripts, styles,
comments and skipped elements (template, noscript) removed, entities unescaped,
whitespace collapsed within lines and blank lines dropped; `single_line`. Markup
without comments, CDATA or raw and skipped elements (most feed HTML) takes a shorter
path (`_plain_text`) that must give exactly what the general one (`_TextExtractor`)
gives.

Must not: raise on hostile input or take more than linear time on it (html.parser is
quadratic on unclosed constructs; tests/test_normalize.py and the hostile corpus check
both), do any I/O, or know about entries and their fields (normalize.py does).
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable

_TAG_LIKE = re.compile(r"<[a-zA-Z!/?]")
_SKIP_TAGS = frozenset({"template", "noscript"})
_RAW_TAGS = frozenset({"script", "style"})  # their text runs to the matching end tag
_CELL_TAGS = frozenset({"td", "th"})
_BLOCK_TAGS = frozenset(
    {"address", "article", "aside", "blockquote", "br", "caption", "dd", "details"}
    | {"dialog", "div", "dl", "dt", "fieldset", "figcaption", "figure", "footer", "form"}
    | {"h1", "h2", "h3", "h4", "h5", "h6", "header", "hgroup", "hr", "li", "main", "nav"}
    | {"ol", "p", "pre", "section", "summary", "table", "tbody", "tfoot", "thead", "tr"}
    | {"ul", "body", "html", "title", "option", "legend"}
)
_BREAK = "\x00"  # stands for a block boundary while text is collected
# One construct per match. A tag never spans a `<` (not even in a quoted attribute) and
# the quantifier is possessive, so every scan stops at the next `<`: linear time.
_CONSTRUCT = re.compile(
    r"""(?P<open><!--|<!\[CDATA\[)"""
    r"""|</?(?P<name>[a-zA-Z][^\s/<>]*)(?:[^<>"']|"[^"<]*"|'[^'<]*')*+>"""
    r"""|<[!?][^<>]*>"""
)
_RAW_END = {name: re.compile(rf"</{name}(?=[\s/>])[^<>]*>", re.IGNORECASE) for name in _RAW_TAGS}
# What needs `_TextExtractor`: comments, CDATA and declarations ("<!"), and the tags whose
# content is raw or skipped (also with a name that merely starts like theirs). Markup
# without any holds only tags and processing instructions, each ending where its match
# does, so one split finds them all (`_plain_text`) with _PLAIN_CONSTRUCT: _CONSTRUCT
# without what "<!" starts, and with the "<" in front, which the regex engine looks for
# fast (an alternation of groups makes it try every position).
_SPECIAL = re.compile(r"<(?:!|/?(?:script|style|template|noscript))", re.IGNORECASE)
_PLAIN_CONSTRUCT = re.compile(
    r"""<(?:/?([a-zA-Z][^\s/<>]*)(?:[^<>"']|"[^"<]*"|'[^'<]*')*+>|\?[^<>]*>)"""
)
_MARKS = {name: _BREAK for name in _BLOCK_TAGS} | {name: " " for name in _CELL_TAGS}


class _TextExtractor:
    """Linear-time HTML tokenizer keeping text and marking block boundaries.

    Not html.parser: on Python 3.11 it is quadratic on unclosed constructs (48 KB of
    `<div "` took 3.5 s). A `<` that starts no complete construct is kept as text.
    """

    def __init__(self, markup: str) -> None:
        self.src = markup
        self.parts: list[str] = []
        self.skip = 0
        self.unclosed: set[str] = set()  # "<!--"/"<![CDATA[" with no end after here

    def run(self) -> str:
        pos = 0
        while match := _CONSTRUCT.search(self.src, pos):
            self._text(self.src[pos : match.start()])
            pos = self._construct(match)
        self._text(self.src[pos:])
        return "".join(self.parts)

    def _text(self, chunk: str) -> None:
        if chunk and not self.skip:
            self.parts.append(html.unescape(chunk) if "&" in chunk else chunk)

    def _construct(self, match: re.Match[str]) -> int:
        opener, name = match.group("open"), match.group("name")
        if opener:
            return self._section(match.start(), opener)
        if name:
            return self._tag(name.lower(), match)
        return match.end()  # declaration or processing instruction

    def _section(self, start: int, opener: str) -> int:
        closer = "-->" if opener == "<!--" else "]]>"
        end = -1 if opener in self.unclosed else self.src.find(closer, start + len(opener))
        if end < 0:  # unclosed: keep it as text rather than lose the rest
            self.unclosed.add(opener)
            self._text("<")
            return start + 1
        if opener != "<!--" and not self.skip:
            self.parts.append(self.src[start + len(opener) : end])
        return end + len(closer)

    def _tag(self, name: str, match: re.Match[str]) -> int:
        closing = match.group().startswith("</")
        if name in _RAW_TAGS and not closing:
            end = _RAW_END[name].search(self.src, match.end())
            return end.end() if end else len(self.src)
        if name in _SKIP_TAGS:
            self.skip = max(0, self.skip + (-1 if closing else 1))
        elif name in _BLOCK_TAGS:
            self.parts.append(_BREAK)
        elif name in _CELL_TAGS:
            self.parts.append(" ")
        return match.end()


def _plain_text(markup: str) -> str:
    """What `_TextExtractor(markup).run()` gives for markup that `_SPECIAL` finds nothing in."""
    pieces = _PLAIN_CONSTRUCT.split(markup)  # text, tag name, text, ..., text
    parts: list[str] = []
    marks, unescape = _MARKS, html.unescape
    for text, name in zip(pieces[0::2], pieces[1::2], strict=False):
        if text:
            parts.append(unescape(text) if "&" in text else text)
        if name and (mark := marks.get(name.lower())):
            parts.append(mark)
    if pieces[-1]:
        parts.append(unescape(pieces[-1]) if "&" in pieces[-1] else pieces[-1])
    return "".join(parts)


def _tidy_lines(lines: Iterable[str]) -> str:
    """The lines with whitespace collapsed, blank ones dropped, joined by line breaks."""
    kept = []
    for line in lines:
        # Every whitespace character but the space is unprintable, so a printable line
        # without double, leading or trailing spaces is as `split` and `join` make it.
        if not line.isprintable() or "  " in line or line[:1] == " " or line[-1:] == " ":
            line = " ".join(line.split())
        if line:
            kept.append(line)
    return "\n".join(kept)


def _html_lines(markup: str) -> str:
    try:
        plain = _SPECIAL.search(markup) is None
        text = _plain_text(markup) if plain else _TextExtractor(markup).run()
    except Exception:  # defensive: never raise on hostile markup
        text = html.unescape(re.sub(r"<[^<>]*>", _BREAK, markup))
    return _tidy_lines(text.split(_BREAK))


def html_to_text(markup: str | None) -> str:
    """Readable plain text from HTML (or from plain text, which passes through intact).

    Block elements become line breaks, scripts/styles/comments vanish, entities are
    unescaped, whitespace is collapsed within lines and blank lines are dropped. Input
    without anything tag-like is treated as text: its own line breaks are kept.
    """
    if not markup:
        return ""
    markup = markup.replace(_BREAK, " ")
    if not _TAG_LIKE.search(markup):
        return _tidy_lines(html.unescape(markup).splitlines())
    return _html_lines(markup)


def single_line(text: str) -> str:
    """`text` with every run of whitespace, line breaks included, made one space."""
    return " ".join(text.split())
