"""The worker stage's fast paths give exactly what the plain definitions give.

HTML to text, sentence splitting, folding, the token cache and the MinHash steps each
have a quicker route for the common case (see their modules); the stored values they
feed (content hashes, signatures, band keys) must not move. Each test below states the
plain definition and compares on generated input.
"""

from __future__ import annotations

import hashlib
import json
import re

from hypothesis import example, given, settings
from hypothesis import strategies as st

from aggregator import minhash
from aggregator.fingerprint import (
    _DATELINE,
    _RELATED,
    _TRAILER_PHRASES,
    _TRAILER_START,
    _URL,
    body_sentences,
)
from aggregator.htmltext import _SPECIAL, _plain_text, _TextExtractor, _tidy_lines
from aggregator.match.fold import fold_each, fold_words
from aggregator.normalize import content_hash

_TAGS = ["<p>", "</p>", "<br/>", "<td>", "<TD x='<'>", '<a href="x">', "</a>", "<?pi?>"]
_TAGS += ["<P", "<div\n>", "<b>", "<x a='1' b=\"2\">", "<scrip>", "<!x>", "<", ">", '"', "'"]
_CHARS = ["&amp;", "&", "&#0;", " ", "  ", "\n", "\t", "\xa0", "\x1c", "é", "a", "\u2028"]
_MARKUP = st.lists(st.sampled_from(_TAGS + _CHARS), max_size=40).map("".join)
_WORDS = ["Word", "word", " ", "  ", ".", "!", "?", '"', "”", ")", "\n", "\r\n", "\u2028"]
_WORDS += ["http://x.example/a", "www.Y.org", "WWW.z", "Reporting by", "(c)", "©", "é", "İ"]
_WORDS += ["Sign up", "SUBSCRIBE", "all rights reserved", "Related:", "DAMASCUS -", "Σ"]
_TEXT = st.lists(st.sampled_from(_WORDS), max_size=30).map("".join)


@given(_MARKUP)
@settings(max_examples=800)
@example("<p>a</p>x<br>y<!-- no")
def test_plain_markup_gives_what_the_extractor_gives(markup: str) -> None:
    if _SPECIAL.search(markup) is None:
        assert _plain_text(markup) == _TextExtractor(markup).run()


@given(st.lists(_MARKUP))
def test_tidy_lines_is_split_and_join(lines: list[str]) -> None:
    cleaned = (" ".join(line.split()) for line in lines)
    assert _tidy_lines(lines) == "\n".join(line for line in cleaned if line)


def _plain_body_sentences(text: str) -> list[str]:
    end = re.compile(r"(?<=[.!?])[\"'”’)]*\s+")
    kept: list[str] = []
    for number, line in enumerate(text.splitlines()):
        if _RELATED.match(line):
            break
        line = _URL.sub(" ", line)
        if number == 0:
            line = _DATELINE.sub("", line)
        for sentence in (s for s in end.split(line) if s.strip()):
            lower = sentence.lower()
            if not _TRAILER_START.match(sentence) and not any(p in lower for p in _TRAILER_PHRASES):
                kept.append(sentence)
    return kept


@given(_TEXT)
@settings(max_examples=800)
def test_body_sentences_as_defined(text: str) -> None:
    assert body_sentences(text) == _plain_body_sentences(text)


@given(st.lists(_TEXT))
def test_fold_each_is_fold_words_of_each(texts: list[str]) -> None:
    assert fold_each(texts) == [fold_words(t) for t in texts]


def _plain_minhash(tops: list[int]) -> list[int]:
    bins = [minhash._EMPTY] * minhash.BINS
    for top in tops:
        if bins[top % minhash.BINS] == minhash._EMPTY:
            bins[top % minhash.BINS] = top
    filled = [i for i, value in enumerate(bins) if value != minhash._EMPTY]
    result = list(bins)
    for index, value in enumerate(bins):
        if value == minhash._EMPTY and filled:
            borrow = (j for j in minhash._BORROW[index] if bins[j] != minhash._EMPTY)
            result[index] = bins[next(borrow, filled[0])]
    return result


def _plain_band_keys(values: list[int]) -> tuple[int, ...]:
    keys = []
    for band in range(minhash.BANDS):
        key = band + 1
        for value in values[band * minhash.ROWS : (band + 1) * minhash.ROWS]:
            key = ((key * 0x9E3779B97F4A7C15) ^ value) & minhash._MASK64
        key = ((key ^ (key >> 31)) * 0xBF58476D1CE4E5B9) & minhash._MASK64
        key ^= key >> 29
        keys.append(key - (1 << 64) if key >= 1 << 63 else key)
    return tuple(keys)


@given(st.sets(st.integers(0, (1 << 32) - 1), max_size=300))
@settings(max_examples=500)
@example(set())
@example(set(range(0, 6000, 7)))
def test_minhash_and_band_keys_as_defined(values: set[int]) -> None:
    tops = sorted(values)
    bins = minhash._minhash(tops)
    assert bins == _plain_minhash(tops)
    assert minhash.band_keys(bins) == _plain_band_keys(bins)


@given(st.lists(st.sampled_from(["a", "b", "c", "é", "اليرموك", "x y"]), max_size=40))
def test_shingles_as_defined(words: list[str]) -> None:
    token = {w: minhash._hash64(w) for w in words}
    k1, k2, mask = 0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, minhash._MASK64
    h = [token[w] for w in words]
    expected = {(a * k1 + b * k2 + c) & mask for a, b, c in zip(h, h[1:], h[2:], strict=False)}
    assert minhash.shingles(words) == expected


_ANY_TEXT = st.text(st.characters(blacklist_categories=()), max_size=20)


@given(_ANY_TEXT, _ANY_TEXT, st.one_of(st.none(), _ANY_TEXT), st.lists(_ANY_TEXT, max_size=3))
@example("\ud800 \x00 \x1f \u2028 \"'\\", "</script>", None, [])
def test_content_hash_is_sha256_of_json_dumps(
    title: str, text: str, link: str | None, categories: list[str]
) -> None:
    fields = [title, text, text[::-1], link or "", title + text, categories]
    encoded = json.dumps(fields, ensure_ascii=False, separators=(",", ":"))
    digest = hashlib.sha256(encoded.encode("utf-8", "surrogatepass")).hexdigest()
    assert digest == content_hash(
        title=title,
        summary=text,
        content=text[::-1],
        link=link,
        author=title + text,
        categories=categories,
    )
