"""Text folding and word tokenisation: the one definition of "the same word".

Responsible for:

* `fold`: turning a piece of text into the form words are compared in: compatibility
  decomposition (NFKD), combining marks dropped (Yarmūk == Yarmuk), case folded
  (ß == ss), and the Arabic-script spelling variants that readers treat as one word
  unified (harakat and tatweel dropped, alef forms, taa marbuta, alef maqsura, hamza
  seats, Persian/Urdu yeh and kaf).
* `tokenize`: splitting text into words, each with its folded form and its span in the
  original text, so a hit can be shown to a user in the text as it was written.
* `fold_words`: the folded words alone, as fast as the text allows (the matcher's scan
  runs it on every field of every entry): ASCII text (also once typographic
  punctuation is blanked out) is lower-cased and split in one C-level pass, text
  without combining marks or vanishing letters is split by a simple regex, and only
  the rest takes the full word regex. All three give exactly
  `[t.folded for t in tokenize(text)]` (tests check this on random text).
* `Words`: the same words for scanning, spans computed only on demand.

Watchlist terms and entry text are split and folded by this one definition, so a term
matches a word exactly when their folded forms are equal.

Must not: do any I/O, import storage or network code, know about watchlists, fields or
snippets (that is `matcher.py`), or change the original text it is given.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from functools import lru_cache
from itertools import accumulate
from typing import Final, NamedTuple

__all__ = ["Token", "Words", "fold", "fold_each", "fold_words", "tokenize", "word_spans"]


def _arabic_table() -> dict[int, str | None]:
    """The translation applied after NFKD, mark removal and case folding."""
    table: dict[int, str | None] = {}
    # Harakat/tashkeel and the superscript (dagger) alef. Most are already gone as
    # combining marks; listing them keeps the rule explicit and independent of that.
    for cp in range(0x064B, 0x0660):
        table[cp] = None
    table[0x0670] = None
    table[0x0640] = None  # tatweel (kashida), a stretching character, not a letter
    # Format characters that can sit inside a word without ending it: soft hyphen
    # (left in by HTML conversion), zero-width non-joiner and joiner (Persian).
    for cp in (0x00AD, 0x200C, 0x200D):
        table[cp] = None
    # Alef forms. أ إ آ decompose to ا + a combining mark under NFKD; ٱ (wasla) does not.
    for ch in "أإآٱ":
        table[ord(ch)] = "ا"
    table[ord("ة")] = "ه"  # taa marbuta -> haa
    table[ord("ى")] = "ي"  # alef maqsura -> yaa
    table[ord("ؤ")] = "و"  # hamza on waw
    table[ord("ئ")] = "ي"  # hamza on yaa
    table[ord("ی")] = "ي"  # Persian/Urdu yeh (U+06CC)
    table[ord("ک")] = "ك"  # Persian/Urdu keheh (U+06A9)
    return table


_TABLE: Final = _arabic_table()


def _strip_marks(text: str) -> str:
    combining = unicodedata.combining
    return "".join(ch for ch in text if not combining(ch))


def fold(text: str) -> str:
    """Return `text` in comparison form: NFKD, marks dropped, casefolded, Arabic unified.

    >>> fold("Yarmūk") == fold("YARMUK")
    True
    >>> fold("الْيَرْمُوك") == fold("ٱليرموك") == "اليرموك"
    True
    """
    if text.isascii():
        return text.lower()  # casefold and lower agree on ASCII; NFKD is the identity
    folded = unicodedata.normalize("NFKD", text).casefold()
    # Case folding can produce characters that decompose further (and vice versa).
    if not unicodedata.is_normalized("NFKD", folded):
        folded = unicodedata.normalize("NFKD", folded)
    return _strip_marks(folded).translate(_TABLE)


@lru_cache(maxsize=65536)
def _fold_word(word: str) -> str:
    return fold(word)


def _mark_ranges(lo: int, hi: int) -> str:
    """A regex character class body for the combining marks (Mn, Mc, Me) in [lo, hi).

    Python's `\\w` does not include marks, so a decomposed "Yarmu\\u0304k" or Arabic with
    harakat would otherwise fall apart into several words. The in-word format
    characters (soft hyphen, ZWNJ, ZWJ) are included with them.
    """
    ranges: list[tuple[int, int]] = []
    for cp in range(lo, hi):
        if unicodedata.category(chr(cp))[0] == "M" or cp in (0x00AD, 0x200C, 0x200D):
            if ranges and ranges[-1][1] == cp - 1:
                ranges[-1] = (ranges[-1][0], cp)
            else:
                ranges.append((cp, cp))
    return "".join(
        re.escape(chr(a)) if a == b else f"{re.escape(chr(a))}-{re.escape(chr(b))}"
        for a, b in ranges
    )


# Letters that fold to nothing: tatweel, Arabic presentation forms of tatweel with a
# haraka or shadda, halfwidth katakana voiced sound marks. A run of these alone is not a
# word (tests check this list against every code point), so every word folds to
# something and `Words` and `tokenize` see the same words.
_VANISHING: Final = "\u0640\ufcf2\ufcf3\ufcf4\ufe71\ufe77\ufe79\ufe7b\ufe7d\ufe7f\uff9e\uff9f"

# A word starts with a letter or digit (`[^\W_]`: word characters except underscore) and
# goes on through letters, digits and marks. Letters and marks are disjoint, so the
# nested repetition cannot backtrack badly. Marks outside the BMP (plane 1, variation
# selectors in plane 14) sit behind a one-range look-ahead: a class holding them is much
# slower to test, and it would otherwise be tested after every word.
_BMP_MARKS: Final = _mark_ranges(0, 0x10000)
_ASTRAL_MARKS: Final = _mark_ranges(0x10000, 0x20000) + _mark_ranges(0xE0000, 0xE1000)
_WORD_RE: Final = re.compile(
    rf"[{_VANISHING}]*[^\W_{_VANISHING}][^\W_]*"
    rf"(?:(?:[{_BMP_MARKS}]|(?=[\U00010000-\U0010ffff])[{_ASTRAL_MARKS}])+[^\W_]*)*"
)


# Characters after which the simple word regex `[^\W_]+` no longer finds the same words
# as `_WORD_RE`: combining marks and in-word format characters (they continue a word),
# vanishing letters (they do not start one), and anything outside the BMP.
_SLOW_CHARS: Final = re.compile(rf"[{_VANISHING}{_BMP_MARKS}\U00010000-\U0010ffff]")
_SIMPLE_WORD_RE: Final = re.compile(r"[^\W_]+")
_SPLIT_RE: Final = re.compile(f"({_WORD_RE.pattern})")
_SIMPLE_SPLIT_RE: Final = re.compile(r"([^\W_]+)")
_ASCII_SPLIT_RE: Final = re.compile(r"([A-Za-z0-9]+)")
# Separators that make otherwise-ASCII text non-ASCII: the General Punctuation block
# (dashes, curly quotes, ellipsis, thin and no-break spaces) except ZWNJ and ZWJ, which
# sit inside words; no-break space, guillemets, ideographic space, BOM.
_PUNCTUATION_RE: Final = re.compile("[\u00a0\u00ab\u00bb\u3000\ufeff\u2000-\u200b\u200e-\u206f]")
# ASCII: letters lower-cased, every other character a separator.
_ASCII_TABLE: Final = {
    code: (chr(code).lower() if chr(code).isalnum() else " ") for code in range(128)
}

_ASCII_LINES: Final = {**_ASCII_TABLE, ord("\n"): "\n"}  # the same, keeping line breaks


class Token(NamedTuple):
    """One word: its folded form and its span `text[start:end]` in the original text."""

    folded: str
    start: int
    end: int


def tokenize(text: str) -> list[Token]:
    """Split `text` into words with their folded forms and original spans.

    Letters, digits and combining marks inside a word make up words; everything else
    (whitespace, punctuation, hyphens, apostrophes, underscore, symbols) separates them.
    A lone tatweel is not a word. Every token's `folded` is non-empty.

    >>> [t.folded for t in tokenize("al-Yarmouk's camp")]
    ['al', 'yarmouk', 's', 'camp']
    """
    fold_word, new = _fold_word, tuple.__new__  # Token(...) goes through Python code
    tokens: list[Token] = []
    append = tokens.append
    for m in _WORD_RE.finditer(text):
        start, end = m.span()
        append(new(Token, (fold_word(m.group()), start, end)))
    return tokens


def fold_words(text: str) -> list[str]:
    """The folded words of `text`, in order: `[t.folded for t in tokenize(text)]`, faster."""
    if text.isascii():
        return text.translate(_ASCII_TABLE).split()
    plain = _PUNCTUATION_RE.sub(" ", text)  # typographic quotes, dashes, no-break spaces
    if plain.isascii():
        return plain.translate(_ASCII_TABLE).split()
    if _SLOW_CHARS.search(text) is None:
        return list(map(_fold_word, _SIMPLE_WORD_RE.findall(text)))
    return list(map(_fold_word, _WORD_RE.findall(text)))


def fold_each(texts: Sequence[str]) -> list[list[str]]:
    """`[fold_words(t) for t in texts]`, faster for many short ASCII texts (sentences).

    ASCII texts without line breaks are translated in one call: joined by "\n", which
    `_ASCII_LINES` keeps, and split apart again.
    """
    joined = "\n".join(texts)
    if joined.isascii() and joined.count("\n") == len(texts) - 1:
        return [line.split() for line in joined.translate(_ASCII_LINES).split("\n")]
    return list(map(fold_words, texts))


def word_spans(text: str) -> list[int]:
    """Where the words of `text` are: word `i` is `text[spans[2 * i] : spans[2 * i + 1]]`.

    Worked out in C from the lengths of the pieces the text splits into (separator,
    word, separator, ..., separator), with the same three paths as `fold_words`.
    """
    if text.isascii():
        split = _ASCII_SPLIT_RE.split
    elif _SLOW_CHARS.search(text) is None:
        split = _SIMPLE_SPLIT_RE.split
    else:
        split = _SPLIT_RE.split
    return list(accumulate(map(len, split(text))))


class Words:
    """The words of one text, for scanning: `folded` as `tokenize` gives them.

    Spans are worked out only when asked for (`span`): most texts have no hit, and
    those that do have few.
    """

    __slots__ = ("_spans", "_text", "folded")

    def __init__(self, text: str) -> None:
        self._text = text
        self._spans: list[int] | None = None
        self.folded: list[str] = fold_words(text)

    def span(self, index: int) -> tuple[int, int]:
        """The span `(start, end)` of word `index` in the original text."""
        if self._spans is None:
            self._spans = word_spans(self._text)
        return self._spans[2 * index], self._spans[2 * index + 1]
