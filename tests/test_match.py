"""Tests for aggregator.match: folding, tokenising, terms, the compiled matcher, snippets."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aggregator.match import (
    FIELDS,
    Matcher,
    Term,
    WatchlistSpec,
    entry_fields,
    make_snippet,
    match_entry,
)
from aggregator.match.fold import Words, fold, tokenize
from aggregator.types import EntryData, Highlight, MatchResult

# --------------------------------------------------------------------------- helpers


def one(*terms: str, name: str = "w") -> Matcher:
    return Matcher.compile([WatchlistSpec(name, terms)])


def hits(term: str, text: str, field: str = "content") -> bool:
    return bool(one(term).match({field: text}))


# ------------------------------------------------------------------------------ fold


@pytest.mark.parametrize(
    ("text", "folded"),
    [
        ("Yarmūk", "yarmuk"),  # precomposed macron
        ("Yarmu\u0304k", "yarmuk"),  # decomposed macron
        ("YARMOUK", "yarmouk"),
        ("Ÿarmoük", "yarmouk"),
        ("École Française", "ecole francaise"),
        ("Straße", "strasse"),  # casefold, not lower
        ("STRASSE", "strasse"),
        ("ﬁnance", "finance"),  # NFKD compatibility ligature
        ("ΣΊΣΥΦΟΣ", "σισυφοσ"),  # final sigma casefolds to σ, tonos dropped
        ("الْيَرْمُوك", "اليرموك"),  # harakat
        ("ٱليرموك", "اليرموك"),  # alef wasla
        ("الـيرمـوك", "اليرموك"),  # tatweel
        ("أحمد", "احمد"),  # alef with hamza above
        ("إسلام", "اسلام"),  # alef with hamza below
        ("آمن", "امن"),  # alef madda
        ("مدرسة", "مدرسه"),  # taa marbuta
        ("مستشفى", "مستشفي"),  # alef maqsura
        ("مؤتمر", "موتمر"),  # hamza on waw
        ("رئيس", "رييس"),  # hamza on yaa
        ("هٰذا", "هذا"),  # superscript alef
        ("ایران", "ايران"),  # Persian yeh
        ("کتاب", "كتاب"),  # Persian keheh
        ("Yar\u00admouk", "yarmouk"),  # soft hyphen
    ],
)
def test_fold(text: str, folded: str) -> None:
    assert fold(text) == folded


@pytest.mark.parametrize(
    "variants",
    [
        ("اليرموك", "الْيَرْمُوك", "ٱليرموك", "الـيرموك", "اليَرموك"),
        ("Yarmouk", "YARMOUK", "yarmouk", "Yármouk"),
        ("Yarmuk", "Yarmūk", "Yarmu\u0304k", "YARMŪK"),
    ],
)
def test_fold_variants_compare_equal(variants: tuple[str, ...]) -> None:
    assert len({fold(v) for v in variants}) == 1


def test_fold_keeps_distinct_words_distinct() -> None:
    assert fold("Yarmouk") != fold("Yarmuk")
    assert fold("كتاب") != fold("كتب")


@given(st.text())
@settings(max_examples=300)
def test_fold_is_idempotent(text: str) -> None:
    assert fold(fold(text)) == fold(text)


# -------------------------------------------------------------------------- tokenize


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("al-Yarmouk's camp", ["al", "Yarmouk", "s", "camp"]),
        ("  Yarmouk,camp.  ", ["Yarmouk", "camp"]),
        ("Yarmu\u0304k camp", ["Yarmu\u0304k", "camp"]),  # a mark does not end a word
        ("Cafe\u0301", ["Cafe\u0301"]),  # nor does one at the end
        ("الْيَرْمُوك، دمشق", ["الْيَرْمُوك", "دمشق"]),
        ("الـيرموك ـ دمشق", ["الـيرموك", "دمشق"]),  # lone tatweel folds to nothing
        ("snake_case", ["snake", "case"]),
        ("Yar\u00admouk", ["Yar\u00admouk"]),
        ("2024-11-20: 3 killed", ["2024", "11", "20", "3", "killed"]),
        ("«Yarmouk» (camp) / [refugees]", ["Yarmouk", "camp", "refugees"]),
        ("", []),
        ("— … !!", []),
    ],
)
def test_tokenize_words_and_spans(text: str, words: list[str]) -> None:
    tokens = tokenize(text)
    assert [text[t.start : t.end] for t in tokens] == words
    assert [t.folded for t in tokens] == [fold(w) for w in words]


def test_every_word_folds_to_something() -> None:
    """Letters that fold to nothing (tatweel and kin) do not make a word on their own."""
    letters = [chr(cp) for cp in range(0x30000) if chr(cp).isalnum()]
    tokens = tokenize(" ".join(letters))
    assert all(token.folded for token in tokens)
    assert len(tokens) == sum(1 for ch in letters if fold(ch))
    assert len(tokens) < len(letters)  # tatweel and kin were left out


def test_tokenize_token_fields() -> None:
    token = tokenize("The Yarmūk camp")[1]
    assert (token.folded, token.start, token.end) == ("yarmuk", 4, 10)


_ODD_CHARACTERS = [*"aZé_- '\n,.ـًٰ\u0304\u00adßİΣ", "ي", "ة", "أ", "ﬁ", "٣"]
_TEXTS = st.text(alphabet=st.sampled_from(_ODD_CHARACTERS)) | st.text()


@given(_TEXTS)
@settings(max_examples=300)
def test_tokenize_spans_map_back_to_original(text: str) -> None:
    tokens = tokenize(text)
    previous_end = 0
    for token in tokens:
        assert previous_end <= token.start < token.end <= len(text)
        assert fold(text[token.start : token.end]) == token.folded
        assert token.folded
        previous_end = token.end
    words = Words(text)
    assert words.folded == [t.folded for t in tokens]
    assert [words.span(i) for i in range(len(tokens))] == [(t.start, t.end) for t in tokens]


# ----------------------------------------------------------------------------- terms


@pytest.mark.parametrize(
    ("raw", "words", "prefix"),
    [
        ("Yarmouk", ("yarmouk",), False),
        ("  Yarmūk ", ("yarmuk",), False),
        ("Red Crescent", ("red", "crescent"), False),
        ("World Food Programme", ("world", "food", "programme"), False),
        ("al-Yarmouk", ("al", "yarmouk"), False),
        ("Palestin*", ("palestin",), True),
        ("Red Cresc*", ("red", "cresc"), True),
        ("الْيَرْمُوك", ("اليرموك",), False),
    ],
)
def test_term_parse(raw: str, words: tuple[str, ...], prefix: bool) -> None:
    term = Term.parse(raw)
    assert (term.raw, term.words, term.prefix) == (raw, words, prefix)


@pytest.mark.parametrize("raw", ["", "   ", "*", " * ", "!!!", "-", "Pal*stine", "camp* refugees"])
def test_bad_terms_raise(raw: str) -> None:
    with pytest.raises(ValueError):
        Term.parse(raw)


def test_compile_errors_name_the_watchlist() -> None:
    with pytest.raises(ValueError, match="'camp'"):
        Matcher.compile([WatchlistSpec("ok", ("Yarmouk",)), WatchlistSpec("camp", ("x", " "))])
    with pytest.raises(ValueError, match="'empty'"):
        Matcher.compile([WatchlistSpec("empty", ())])
    with pytest.raises(ValueError, match="list of terms"):
        Matcher.compile([WatchlistSpec("a", "Yarmouk")])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="twice"):
        Matcher.compile([WatchlistSpec("a", ("x",)), WatchlistSpec("a", ("y",))])


# ------------------------------------------------------------------ word boundaries


@pytest.mark.parametrize(
    ("term", "text", "expected"),
    [
        ("Yarmouk", "the Yarmouk camp", True),
        ("Yarmouk", "Yarmoukian poetry", False),
        ("Yarmouk", "pre-Yarmouk era", True),
        ("Yarmouk", "in al-Yarmouk today", True),
        ("Yarmouk", "YARMOUK", True),
        ("Yarmouk", "Yarmouk's streets", True),
        ("Yarmouk", "Yarmouk_camp", True),
        ("Yarmouk", "Yarmouk2", False),
        ("Yarmouk", "Yarmuk", False),
        ("Yarmuk", "Yarmūk", True),
        ("Yarmuk", "Yarmu\u0304k", True),
        ("Yarmūk", "YARMUK", True),
        ("camp", "refugee camps", False),
        ("camp", "decamp", False),
        ("camp", "a camp.", True),
        ("camp*", "refugee camps", True),
        ("اليرموك", "مخيم الْيَرْمُوك للاجئين", True),
        ("اليرموك", "مخيم ٱليرموك", True),
        ("الْيَرْمُوك", "مخيم اليرموك", True),
        ("اليرموك", "مخيم اليرموكي", False),
        ("Straße", "STRASSE", True),
    ],
)
def test_word_boundaries(term: str, text: str, expected: bool) -> None:
    assert hits(term, text) is expected


# ---------------------------------------------------------------------------- phrases


@pytest.mark.parametrize(
    ("term", "text", "expected"),
    [
        ("Red Crescent", "the Red Crescent said", True),
        ("Red Crescent", "the red-crescent said", True),
        ("Red Crescent", "Red, Crescent", True),
        ("Red Crescent", "Red\n\tCrescent", True),
        ("Red Crescent", "Red (Crescent)", True),
        ("Red Crescent", "Red Cross Crescent", False),
        ("Red Crescent", "Crescent Red", False),
        ("Red Crescent", "Reds Crescent", False),
        ("Red Crescent", "the Red", False),
        ("Red Crescent", "Red Crescents", False),
        ("Red Crescent", "Red Crescent's", True),
        ("World Food Programme", "the World Food Programme (WFP)", True),
        ("World Food Programme", "World Food Program", False),
        ("World Food Programme", "world food", False),
        ("World Food Programme", "World food, world food programme", True),
        ("al-Yarmouk", "Al Yarmouk", True),
        ("refugee cam*", "refugee camps", True),
        ("refugee cam*", "refugee, campaign", True),
        ("refugee cam*", "refugees camps", False),
        ("refugee cam*", "camps refugee", False),
    ],
)
def test_phrases(term: str, text: str, expected: bool) -> None:
    assert hits(term, text) is expected


# ----------------------------------------------------------------------------- prefix


@pytest.mark.parametrize(
    ("term", "text", "expected"),
    [
        ("Palestin*", "Palestine", True),
        ("Palestin*", "palestinians", True),
        ("Palestin*", "PALESTINIAN", True),
        ("Palestin*", "Palestin", True),
        ("Palestin*", "Pales", False),
        ("Palestin*", "aPalestine", False),
        ("Palestin*", "Pal-estine", False),
        ("a*", "apple", True),
        ("a*", "banana", False),
        ("Yarmū*", "Yarmukian", True),
        ("فلسطين*", "الفلسطينيون فلسطينيون", True),
        ("فلسطين*", "الفلسطينيون", False),
    ],
)
def test_prefix_terms(term: str, text: str, expected: bool) -> None:
    assert hits(term, text) is expected


def test_many_prefixes_sharing_a_start() -> None:
    matcher = one("pal*", "pale*", "palest*", "p*", "pb*")
    [result] = matcher.match({"content": "pale"})
    assert result.terms == ("pal*", "pale*", "p*")


# ----------------------------------------------------------------------------- fields


def test_hit_in_author_reports_author() -> None:
    [result] = one("Yarmouk").match({"title": "News", "author": "Yarmouk Desk"})
    assert result.highlights == (Highlight("author", "Yarmouk", "Yarmouk Desk"),)


def test_hit_in_categories_reports_categories_and_the_category() -> None:
    [result] = one("Yarmouk").match({"title": "News", "categories": "Middle East\nYarmouk\nSyria"})
    assert result.highlights == (Highlight("categories", "Yarmouk", "Yarmouk"),)


def test_category_highlights_in_text_order() -> None:
    [result] = one("Yarmouk", "Gaza").match({"categories": "Middle East Gaza\nYarmouk"})
    assert [h.term for h in result.highlights] == ["Gaza", "Yarmouk"]
    assert [h.snippet for h in result.highlights] == ["Middle East Gaza", "Yarmouk"]


def test_phrase_does_not_run_across_categories() -> None:
    assert one("East Yarmouk").match({"categories": "Middle East\nYarmouk"}) == []
    assert one("East Yarmouk").match({"content": "Middle East\nYarmouk"}) != []


def test_highlights_follow_field_order_not_mapping_order() -> None:
    fields = {"categories": "Yarmouk", "content": "Yarmouk c", "title": "Yarmouk t"}
    [result] = one("Yarmouk").match(fields)
    assert [h.field for h in result.highlights] == ["title", "content", "categories"]
    assert result.snippet == "Yarmouk t"
    assert list(FIELDS) == ["title", "summary", "content", "author", "categories"]


def test_unknown_field_is_an_error() -> None:
    with pytest.raises(ValueError, match="body"):
        one("Yarmouk").match({"body": "Yarmouk"})


def test_entry_fields_and_match_entry() -> None:
    entry = EntryData(
        entry_key="k",
        link=None,
        canonical_url=None,
        title="T",
        summary="S",
        content="C",
        author="A",
        categories=("Middle East", "Yarmouk"),
        published=None,
        updated=None,
        content_hash="h",
    )
    assert entry_fields(entry) == {
        "title": "T",
        "summary": "S",
        "content": "C",
        "author": "A",
        "categories": "Middle East\nYarmouk",
    }
    [result] = match_entry(one("Yarmouk"), entry)
    assert result.highlights[0].field == "categories"


# ------------------------------------------------------------------- results, highlights


def test_one_highlight_per_field_and_term_at_first_occurrence() -> None:
    text = "Yarmouk first. " + "filler " * 40 + "Yarmouk second."
    [result] = one("Yarmouk").match({"title": "Yarmouk", "content": text})
    assert [(h.field, h.term) for h in result.highlights] == [
        ("title", "Yarmouk"),
        ("content", "Yarmouk"),
    ]
    assert "first" in result.highlights[1].snippet
    assert "second" not in result.highlights[1].snippet


def test_terms_in_watchlist_order_highlights_in_text_order() -> None:
    [result] = one("Damascus", "Yarmouk", "Gaza").match({"content": "Yarmouk, near Damascus"})
    assert result.terms == ("Damascus", "Yarmouk")
    assert [h.term for h in result.highlights] == ["Yarmouk", "Damascus"]


def test_terms_are_the_original_strings_and_distinct() -> None:
    [result] = one("YARMŪK", "Yarmuk", "YARMŪK").match({"content": "yarmuk yarmuk"})
    assert result.terms == ("YARMŪK", "Yarmuk")
    assert [h.term for h in result.highlights] == ["YARMŪK", "Yarmuk"]


def test_several_watchlists_sharing_a_term() -> None:
    matcher = Matcher.compile(
        [
            WatchlistSpec("a", ("Yarmouk", "camp")),
            WatchlistSpec("gaza", ("Gaza",)),
            WatchlistSpec("b", ("Damascus", "yarmouk")),
            WatchlistSpec("c", ("YARMOUK",)),
        ]
    )
    results = matcher.match({"title": "Damascus: Yarmouk"})
    assert [r.watchlist for r in results] == ["a", "b", "c"]
    assert [r.terms for r in results] == [("Yarmouk",), ("Damascus", "yarmouk"), ("YARMOUK",)]
    assert results[2].highlights == (Highlight("title", "YARMOUK", "Damascus: Yarmouk"),)
    assert matcher.watchlists == ("a", "gaza", "b", "c")


def test_no_match_returns_empty_list() -> None:
    matcher = one("Yarmouk", "Red Crescent", "Palestin*")
    assert matcher.match({"title": "Gaza", "content": "red cross; Pales"}) == []
    assert matcher.match({}) == []
    assert matcher.match({"title": "", "content": ""}) == []


def test_result_type() -> None:
    [result] = one("Yarmouk").match({"title": "Yarmouk"})
    assert isinstance(result, MatchResult)
    assert result == MatchResult("w", ("Yarmouk",), (Highlight("title", "Yarmouk", "Yarmouk"),))


# ---------------------------------------------------------------------------- snippets

_LEFT = " ".join(f"left{i:02d}" for i in range(40))  # 279 characters of whole words
_RIGHT = " ".join(f"right{i:02d}" for i in range(40))


def _snippet(term: str, text: str) -> str:
    [result] = one(term).match({"content": text})
    return result.snippet


@pytest.mark.parametrize("pad", range(1, 9))  # shifts where the 80-character cuts fall
def test_snippet_is_cut_at_words_with_ellipses_and_bounded(pad: int) -> None:
    text = f"{_LEFT} {'z' * pad} Yarmouk {'z' * pad} {_RIGHT}"
    snippet = _snippet("Yarmouk", text)
    assert snippet.startswith("…") and snippet.endswith("…")
    assert f" {'z' * pad} Yarmouk {'z' * pad} " in snippet
    assert len(snippet) <= 2 * 80 + len("Yarmouk") + 2
    assert len(snippet) >= 2 * 70  # about 80 characters either side, not a stub
    words = set(text.split())
    assert all(word in words for word in snippet.strip("…").split())


def test_snippet_whole_text_when_short() -> None:
    assert _snippet("Yarmouk", "  The  Yarmouk\n\tcamp. ") == "The Yarmouk camp."


def test_snippet_only_cut_side_gets_ellipsis() -> None:
    start = _snippet("Yarmouk", f"Yarmouk {_RIGHT}")
    assert start.startswith("Yarmouk ") and start.endswith("…")
    end = _snippet("Yarmouk", f"{_LEFT} Yarmouk")
    assert end.startswith("…") and end.endswith(" Yarmouk")


def test_snippet_keeps_original_case_diacritics_and_punctuation() -> None:
    snippet = _snippet("yarmuk", f"{_LEFT} the AL-YARMŪK camp {_RIGHT}")
    assert "the AL-YARMŪK camp" in snippet
    arabic = _snippet("اليرموك", "مخيم الْيَرْمُوك للاجئين")
    assert arabic == "مخيم الْيَرْمُوك للاجئين"


def test_snippet_keeps_a_long_hit_whole() -> None:
    phrase = " ".join(["word"] * 60)  # 299 characters, longer than the context
    snippet = _snippet(phrase, f"{_LEFT} {phrase} {_RIGHT}")
    assert phrase in snippet
    assert len(snippet) <= len(phrase) + 2 * 80 + 2


def test_snippet_of_unspaced_text_is_bounded() -> None:
    text = "字" * 300 + "Yarmouk" + "字" * 300
    snippet = make_snippet(text, 300, 307)
    assert snippet == "…" + "字" * 80 + "Yarmouk" + "字" * 80 + "…"


def test_snippet_does_not_split_a_combining_mark_from_its_letter() -> None:
    before = "a\u0304" * 100 + "-Yarmouk"  # no whitespace: a hard cut, 80 before the hit
    snippet = make_snippet(before, 201, 208)
    assert snippet.startswith("…a\u0304") and snippet.endswith("-Yarmouk")
    after = "Yarmouk-" + "a\u0304" * 100
    snippet = make_snippet(after, 0, 7)
    assert snippet.startswith("Yarmouk-") and snippet.endswith("a\u0304…")
    assert all(unicodedata.combining(c) for c in snippet[9:-1:2])


# ---------------------------------------------------------------- property: reference

_VOCAB = [
    "Yarmouk",
    "yarmouk",
    "YARMOUK",
    "Yarmūk",
    "Yarmu\u0304k",
    "Yarmuk",
    "Yarmoukian",
    "camp",
    "Camps",
    "refugee",
    "Refugees",
    "red",
    "Red",
    "crescent",
    "CRESCENT",
    "اليرموك",
    "الْيَرْمُوك",
    "ٱليرموك",
    "Straße",
    "strasse",
    "Palestine",
    "palestinians",
]
_SEPARATORS = [" ", "  ", ", ", "-", "'", "\n", " — ", "_", ". ", "…"]


@st.composite
def _texts(draw: st.DrawFn) -> str:
    words = draw(st.lists(st.sampled_from(_VOCAB), max_size=12))
    parts = [draw(st.sampled_from(["", " ", "«"]))]
    for word in words:
        parts += [word, draw(st.sampled_from(_SEPARATORS))]
    return "".join(parts)


@st.composite
def _terms(draw: st.DrawFn) -> str:
    words = draw(st.lists(st.sampled_from(_VOCAB), min_size=1, max_size=3))
    if draw(st.booleans()):  # cut the last word to a prefix
        last = words[-1]
        words[-1] = last[: draw(st.integers(1, len(last)))]
        return " ".join(words) + "*"
    return draw(st.sampled_from([" ", "-", ", "])).join(words)


def _reference_first_hit(term: str, text: str) -> tuple[int, int] | None:
    """Brute force over token positions: the span of the first occurrence, or None."""
    prefix = term.strip().endswith("*")
    words = [t.folded for t in tokenize(term.strip().rstrip("*"))]
    tokens = tokenize(text)
    for i in range(len(tokens) - len(words) + 1):
        window = [t.folded for t in tokens[i : i + len(words)]]
        head_ok = window[:-1] == words[:-1]
        last_ok = window[-1].startswith(words[-1]) if prefix else window[-1] == words[-1]
        if head_ok and last_ok:
            return tokens[i].start, tokens[i + len(words) - 1].end
    return None


def _reference(
    watchlists: list[list[str]], fields: dict[str, str]
) -> list[tuple[str, tuple[str, ...], list[tuple[str, str, str]]]]:
    expected = []
    for n, terms in enumerate(watchlists):
        distinct = list(dict.fromkeys(terms))
        hit_terms: set[str] = set()
        marks: list[tuple[int, int, int, tuple[str, str, str]]] = []
        for f, field in enumerate(FIELDS):
            segments = fields.get(field, "")
            for pos, term in enumerate(distinct):
                lines = segments.split("\n") if field == "categories" else [segments]
                offset = 0  # of the line in the field
                for line in lines:
                    span = _reference_first_hit(term, line)
                    if span is not None:
                        hit_terms.add(term)
                        snippet = make_snippet(line, *span)
                        marks.append((f, offset + span[0], pos, (field, term, snippet)))
                        break
                    offset += len(line) + 1
        if hit_terms:
            marks.sort(key=lambda m: m[:3])
            ordered = tuple(t for t in distinct if t in hit_terms)
            expected.append((f"w{n}", ordered, [m[3] for m in marks]))
    return expected


@given(
    watchlists=st.lists(st.lists(_terms(), min_size=1, max_size=4), min_size=1, max_size=5),
    title=_texts(),
    content=_texts(),
    categories=st.lists(_texts(), max_size=3),
)
@settings(max_examples=400, deadline=None)
def test_matcher_agrees_with_brute_force_reference(
    watchlists: list[list[str]], title: str, content: str, categories: list[str]
) -> None:
    matcher = Matcher.compile(
        [WatchlistSpec(f"w{n}", tuple(terms)) for n, terms in enumerate(watchlists)]
    )
    fields = {"title": title, "content": content, "categories": "\n".join(categories)}
    actual = [
        (r.watchlist, r.terms, [(h.field, h.term, h.snippet) for h in r.highlights])
        for r in matcher.match(fields)
    ]
    assert actual == _reference(watchlists, fields)
