"""Text fingerprints of entries for cross-feed story clustering (the CPU half of dedup).

Responsible for: reducing an entry to the words that identify its story (title without
"BREAKING:"-style prefixes and "(update)"-style suffixes; body without URLs, datelines,
trailers such as "(Reporting by ...)" or "The post ... appeared first on ...", a
"Related:" link list and everything after it, and sentences its own feed repeats in
several entries; the title and the first MAX_WORDS words of the body), and turning
those words into a `Fingerprint`: the bottom-128 sketch of their word 3-shingles (the
stored signature, to verify a candidate) and the LSH band keys of a one-permutation
MinHash of the same shingles (60 bins with densification, 20 bands of 3) to find
candidates. Runs in the parse workers (`process.process_body`), about 0.1 ms an entry;
`dedup.py` decides with the result.

Must not: do any I/O, read the clock or settings, or change its constants lightly: the
signatures and band keys are stored, so a change makes new entries miss the stories of
the last window (harmless, but dedup is blind for that long). Hashes are computed here,
never with Python's `hash()`, so that every process and every instance agrees.
"""

from __future__ import annotations

import hashlib
import re
import struct
from collections import Counter
from collections.abc import Collection, Iterable, Sequence

from aggregator.match.fold import fold_words
from aggregator.types import EntryData, Fingerprint

SHINGLE = 3  # words per shingle
SKETCH = 128  # bottom-k sketch size: the stored signature, for verification
BINS = 60  # one-permutation MinHash bins, for the LSH bands
ROWS = 3  # MinHash values per LSH band (BANDS = 20 bands)
BANDS = BINS // ROWS
MIN_SHINGLES = 16  # shorter texts get no fingerprint: they are never merged by text
MAX_WORDS = 150  # of the body: the lead and the first paragraphs identify a story
FEED_REPEAT = 3  # a sentence in this many entries of one feed document is boilerplate

_EMPTY = 1 << 32
_MASK64 = (1 << 64) - 1
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
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"'”’)]*\s+")


def _hash64(data: str) -> int:
    digest = hashlib.blake2b(data.encode("utf-8", "surrogatepass"), digest_size=8)
    return int.from_bytes(digest.digest(), "little")


_TOKENS: dict[str, int] = {}  # word -> its hash; a worker sees the same words all day
_TOKENS_MAX = 200_000


def _token_hashes(words: Iterable[str]) -> dict[str, int]:
    if len(_TOKENS) > _TOKENS_MAX:
        _TOKENS.clear()
    cache = _TOKENS
    for word in words:
        if word not in cache:
            cache[word] = _hash64(word)
    return cache


def _densify_order() -> tuple[tuple[int, ...], ...]:
    """For each bin, the bins an empty one borrows from, in order (fixed forever)."""
    order = []
    for index in range(BINS):
        stream = hashlib.shake_128(f"densify:{index}".encode()).digest(4 * BINS)
        order.append(tuple(b % BINS for b in stream if b % BINS != index))
    return tuple(order)


_BORROW = _densify_order()


def title_words(title: str) -> list[str]:
    """The title's words without editorial prefixes and update/outlet suffixes."""
    text = _TITLE_PREFIX.sub("", title)
    for _ in range(2):
        text = _TITLE_SUFFIX.sub("", text)
    return fold_words(text or title)


def _sentences(text: str) -> list[str]:
    return [s for s in _SENTENCE_END.split(text) if s.strip()]


def _key(sentence: str) -> str:
    return " ".join(fold_words(sentence))


def body_sentences(text: str) -> list[str]:
    """The body's sentences up to a related-links list, without URLs and trailers."""
    kept: list[str] = []
    for number, line in enumerate(text.splitlines()):
        if _RELATED.match(line):
            break
        line = _URL.sub(" ", line)
        if number == 0:
            line = _DATELINE.sub("", line)
        kept.extend(s for s in _sentences(line) if not _is_trailer(s))
    return kept


def _is_trailer(sentence: str) -> bool:
    if _TRAILER_START.match(sentence):
        return True
    lower = sentence.lower()
    return any(phrase in lower for phrase in _TRAILER_PHRASES)


def _body(entry: EntryData) -> str:
    return entry.content if len(entry.content) >= len(entry.summary) else entry.summary


def _sentence_words(entry: EntryData) -> list[list[str]]:
    return [w for w in (fold_words(s) for s in body_sentences(_body(entry))) if w]


def _repeated(bodies: Sequence[list[list[str]]]) -> frozenset[str]:
    """Sentences (folded) that FEED_REPEAT or more entries of one feed document share."""
    if len(bodies) < FEED_REPEAT:
        return frozenset()
    counts: Counter[str] = Counter()
    for sentences in bodies:
        counts.update({" ".join(words) for words in sentences})
    return frozenset(k for k, n in counts.items() if n >= FEED_REPEAT)


def feed_boilerplate(entries: Sequence[EntryData]) -> frozenset[str]:
    """Sentences (folded, words joined by spaces) that the feed repeats: its boilerplate."""
    return _repeated([_sentence_words(e) for e in entries])


def _words(title: str, sentences: list[list[str]], boilerplate: frozenset[str]) -> list[str]:
    words = title_words(title)
    budget = MAX_WORDS
    for folded in sentences:
        if budget <= 0:
            break
        if " ".join(folded) not in boilerplate:
            words.extend(folded[:budget])
            budget -= len(folded)
    return words


def story_words(entry: EntryData, boilerplate: frozenset[str] = frozenset()) -> list[str]:
    """The words that identify the entry's story: cleaned title, then cleaned body."""
    return _words(entry.title, _sentence_words(entry), boilerplate)


def shingles(words: Sequence[str]) -> set[int]:
    """64-bit hashes of the word SHINGLE-grams: a multiply-add of the words' random
    64-bit hashes with two odd constants (each shingle's hash is as random as its words'
    are; the ~0.13 us per shingle that this costs is most of the fingerprint's price)."""
    token = _token_hashes(words)
    h = [token[w] for w in words]
    k1, k2, mask = 0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, _MASK64
    return {(a * k1 + b * k2 + c) & mask for a, b, c in zip(h, h[1:], h[2:], strict=False)}


def _minhash(tops: Sequence[int]) -> list[int]:
    """One-permutation MinHash over ascending distinct 32-bit values: the value's residue
    picks its bin, the first (smallest) value of each bin is its minimum. An empty bin
    takes the value of the first filled bin in its fixed borrowing order (densification).
    """
    bins = [_EMPTY] * BINS
    missing = BINS
    for top in tops:
        index = top % BINS
        if bins[index] == _EMPTY:
            bins[index] = top
            missing -= 1
            if not missing:
                return bins
    filled = [i for i in range(BINS) if bins[i] != _EMPTY]
    result = list(bins)
    for index in range(BINS):
        if bins[index] == _EMPTY and filled:
            donor = next((j for j in _BORROW[index] if bins[j] != _EMPTY), filled[0])
            result[index] = bins[donor]
    return result


def band_keys(values: Sequence[int]) -> tuple[int, ...]:
    """One signed 64-bit key per band of ROWS MinHash values (the band's number in it)."""
    keys = []
    for band in range(BANDS):
        key = band + 1
        for value in values[band * ROWS : (band + 1) * ROWS]:
            key = ((key * 0x9E3779B97F4A7C15) ^ value) & _MASK64
        key = ((key ^ (key >> 31)) * 0xBF58476D1CE4E5B9) & _MASK64
        key ^= key >> 29
        keys.append(key - (1 << 64) if key >= 1 << 63 else key)
    return tuple(keys)


def sketch(tops: Sequence[int]) -> bytes:
    """Bottom-k sketch: the SKETCH smallest of ascending distinct 32-bit values, packed.

    A text with no more than SKETCH shingles is kept whole, so its resemblance to
    another such text is computed exactly, not estimated.
    """
    smallest = tops[:SKETCH]
    return struct.pack(f"<{len(smallest)}I", *smallest)


def unpack(packed: bytes) -> tuple[int, ...]:
    return struct.unpack(f"<{len(packed) // 4}I", packed)


def _fingerprint(words: Sequence[str]) -> Fingerprint | None:
    hashes = shingles(words)
    if len(hashes) < MIN_SHINGLES:
        return None
    tops = sorted({h >> 32 for h in hashes})
    return Fingerprint(sketch(tops), band_keys(_minhash(tops)), size=len(hashes))


def fingerprint(entry: EntryData, boilerplate: frozenset[str] = frozenset()) -> Fingerprint | None:
    """The entry's fingerprint, or None when its text is too short to compare safely."""
    return _fingerprint(story_words(entry, boilerplate))


def feed_fingerprints(
    entries: Sequence[EntryData], skip: Collection[str] = frozenset()
) -> dict[str, Fingerprint]:
    """Fingerprints of one feed document's entries, by entry key (short ones left out).

    Entries whose keys are in `skip` (known already: only new entries are clustered) get
    none, but their sentences still count towards the feed's boilerplate."""
    bodies = [_sentence_words(e) for e in entries]
    boilerplate = _repeated(bodies)
    found: dict[str, Fingerprint] = {}
    for entry, sentences in zip(entries, bodies, strict=True):
        if entry.entry_key not in found and entry.entry_key not in skip:
            print_ = _fingerprint(_words(entry.title, sentences, boilerplate))
            if print_ is not None:
                found[entry.entry_key] = print_
    return found
