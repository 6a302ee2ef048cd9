"""Text fingerprints of entries for cross-feed story clustering (the CPU half of dedup).

Responsible for: reducing an entry to the words that identify its story (title without
"BREAKING:"-style prefixes and "(update)"-style suffixes; body without URLs, datelines,
trailers such as "(Reporting by ...)" or "The post ... appeared first on ...", a
"Related:" link list and everything after it, and sentences its own feed repeats in
several entries; the title and the first MAX_WORDS words of the body), and turning
those words into a `Fingerprint` with minhash.py: the bottom-128 sketch of their word
3-shingles (the stored signature, to verify a candidate) and the LSH band keys of a
one-permutation MinHash of the same shingles to find candidates. Runs in the parse
workers (`process.process_body`), about 0.1 ms an entry; `dedup.py` decides with
the result.

Must not: do any I/O, read the clock or settings, or change its constants or rules
lightly: the signatures and band keys are stored, so a change makes new entries miss
the stories of the last window (harmless, but dedup is blind for that long);
tests/test_stored_values.py pins some.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Collection, Sequence

from aggregator.match.fold import fold_each, fold_words
from aggregator.minhash import (
    BANDS,
    BINS,
    MIN_SHINGLES,
    ROWS,
    SHINGLE,
    SKETCH,
    band_keys,
    fingerprint_words,
    shingles,
    sketch,
    unpack,
)
from aggregator.types import EntryData, Fingerprint

__all__ = [
    "BANDS",
    "BINS",
    "MIN_SHINGLES",
    "ROWS",
    "SHINGLE",
    "SKETCH",
    "band_keys",
    "body_sentences",
    "feed_boilerplate",
    "feed_fingerprints",
    "fingerprint",
    "shingles",
    "sketch",
    "story_words",
    "title_words",
    "unpack",
]

MAX_WORDS = 150  # of the body: the lead and the first paragraphs identify a story
FEED_REPEAT = 3  # a sentence in this many entries of one feed document is boilerplate

_URL = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
_TITLE_PREFIX = re.compile(
    r"^\s*(?:(?:breaking|update[sd]?(?:\s*\d+)?|exclusive|urgent|just in|watch|live|video|"
    r"analysis|factbox|explainer|corrected|refile|developing|new|photos?)\s*[:|\-–—]+\s*)+",
    re.IGNORECASE,
)
_TITLE_SUFFIX = re.compile(
    r"(?:\s*[\(\[](?:update[sd]?|updating|live|video|photos?|corrected|\d+)[^\)\]]{0,20}[\)\]]"
    r"|\s+[|\-–—]\s+[^|\-–—]{1,40})\s*$",
    re.IGNORECASE,
)
_DATELINE = re.compile(r"^[A-Z][A-Z .,'/-]{1,40}(?:\s*\([^)]{1,40}\))?\s*[-–—:]\s+")
_RELATED = re.compile(
    r"^\s*(?:related(?:\s+(?:stories|articles|coverage|links|news|content|reading))?|"
    r"read more|read also|also read|see also|more on this(?: story)?|more from [^:]{1,40}|"
    r"recommended(?: for you)?|you may also like|further reading|more stories)\s*:?",
    re.IGNORECASE,
)
_TRAILER_START = re.compile(
    r"\s*(?:\(?(?:(?:additional\s+)?reporting|writing|editing|compiled|translated)\s+by\b"
    r"|©|\(c\)|copyright\b|(?:follow|like) us\b|click here\b|(?:share|tweet|email) this\b"
    r"|(?:photo|image|file photo|picture)\s*:)",
    re.IGNORECASE,
)
_TRAILER_PHRASES = (
    "all rights reserved",
    "appeared first on",
    "originally published",
    "originally appeared",
    "sign up",
    "subscribe",
    "newsletter",
)
# A sentence ends after [.!?], and the quotes, brackets and spaces that follow go. The
# punctuation is captured and put back (`_sentences`): a look-behind makes the regex
# engine try every position of the text, the captured class lets it skip ahead.
_SENTENCE_END = re.compile(r"([.!?])[\"'”’)]*\s+")
# Characters without which _TITLE_SUFFIX cannot match.
_SUFFIX_HINT = re.compile(r"[\(\[|\-–—]")


def title_words(title: str) -> list[str]:
    """The title's words without editorial prefixes and update/outlet suffixes."""
    text = _TITLE_PREFIX.sub("", title)
    for _ in range(2 if _SUFFIX_HINT.search(text) else 0):
        text = _TITLE_SUFFIX.sub("", text)
    return fold_words(text or title)


def _sentences(line: str) -> list[str]:
    """`line` split after each [.!?] (and the quotes and spaces that follow it)."""
    parts = _SENTENCE_END.split(line)  # text, [.!?], text, [.!?], ..., text
    pieces = [text + end for text, end in zip(parts[0::2], parts[1::2], strict=False)]
    pieces.append(parts[-1])
    return pieces


def body_sentences(text: str) -> list[str]:
    """The body's sentences up to a related-links list, without URLs and trailers.

    Most bodies hold neither a URL nor a trailer phrase, which one look at the whole
    body tells (a regex search for URLs costs more). A sentence is a piece of a line
    with URLs blanked up to a space (no phrase spans one) and a dateline cut off, so a
    phrase in its lower case is in the body's: lower-casing goes character by
    character (only a capital sigma looks at its neighbours, and no phrase holds one).
    """
    lower = text.lower()
    urls = "://" in text or "www." in lower
    phrases = any(phrase in lower for phrase in _TRAILER_PHRASES)
    starts = _TRAILER_START.match
    kept: list[str] = []
    for number, line in enumerate(text.splitlines()):
        if _RELATED.match(line):
            break
        if urls:
            line = _URL.sub(" ", line)
        if number == 0:
            line = _DATELINE.sub("", line)
        for sentence in _sentences(line):
            trailer = starts(sentence) or (phrases and _has_phrase(sentence))
            if sentence.strip() and not trailer:
                kept.append(sentence)
    return kept


def _has_phrase(sentence: str) -> bool:
    lower = sentence.lower()
    return any(phrase in lower for phrase in _TRAILER_PHRASES)


def _body(entry: EntryData) -> str:
    return entry.content if len(entry.content) >= len(entry.summary) else entry.summary


class _Body:
    """An entry's body sentences as folded words, and each joined by spaces (its key)."""

    __slots__ = ("keys", "words")

    def __init__(self, entry: EntryData) -> None:
        self.words = [w for w in fold_each(body_sentences(_body(entry))) if w]
        self.keys = [" ".join(w) for w in self.words]


def _repeated(bodies: Sequence[_Body]) -> frozenset[str]:
    """Sentences (folded) that FEED_REPEAT or more entries of one feed document share."""
    if len(bodies) < FEED_REPEAT:
        return frozenset()
    counts: Counter[str] = Counter()
    for body in bodies:
        counts.update(set(body.keys))
    return frozenset(k for k, n in counts.items() if n >= FEED_REPEAT)


def feed_boilerplate(entries: Sequence[EntryData]) -> frozenset[str]:
    """Sentences (folded, words joined by spaces) that the feed repeats: its boilerplate."""
    return _repeated([_Body(e) for e in entries])


def _words(title: str, body: _Body, boilerplate: frozenset[str]) -> list[str]:
    words = title_words(title)
    budget = MAX_WORDS
    for folded, key in zip(body.words, body.keys, strict=True):
        if budget <= 0:
            break
        if key not in boilerplate:
            words.extend(folded[:budget])
            budget -= len(folded)
    return words


def story_words(entry: EntryData, boilerplate: frozenset[str] = frozenset()) -> list[str]:
    """The words that identify the entry's story: cleaned title, then cleaned body."""
    return _words(entry.title, _Body(entry), boilerplate)


def fingerprint(entry: EntryData, boilerplate: frozenset[str] = frozenset()) -> Fingerprint | None:
    """The entry's fingerprint, or None when its text is too short to compare safely."""
    return fingerprint_words(story_words(entry, boilerplate))


def feed_fingerprints(
    entries: Sequence[EntryData], skip: Collection[str] = frozenset()
) -> dict[str, Fingerprint]:
    """Fingerprints of one feed document's entries, by entry key (short ones left out).

    Entries whose keys are in `skip` (known already: only new entries are clustered) get
    none, but their sentences still count towards the feed's boilerplate."""
    bodies = [_Body(e) for e in entries]
    boilerplate = _repeated(bodies)
    found: dict[str, Fingerprint] = {}
    for entry, body in zip(entries, bodies, strict=True):
        if entry.entry_key not in found and entry.entry_key not in skip:
            print_ = fingerprint_words(_words(entry.title, body, boilerplate))
            if print_ is not None:
                found[entry.entry_key] = print_
    return found
