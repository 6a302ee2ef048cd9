"""Story clustering decisions: fingerprints of retouched copies, `dedup.place`, settings,
and precision/recall on the labelled set through the real storage path."""

from __future__ import annotations

import struct
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from aggregator.dedup import (
    SKETCH,
    DedupPolicy,
    Existing,
    Incoming,
    KnownStory,
    New,
    place,
    resemblance,
    similar,
)
from aggregator.errors import ConfigErrors
from aggregator.fingerprint import body_sentences, feed_fingerprints, fingerprint, title_words
from aggregator.minhash import unpack
from aggregator.normalize import canonical_url
from aggregator.settings import DedupSettings, RetentionSettings, Settings, load_settings
from aggregator.storage.db import Database
from aggregator.types import EntryData, Fingerprint
from benchmarks.dedup import pairwise, replay
from benchmarks.dedup_corpus import labelled_set
from tests.helpers.stories import BODY, HOUSE, LEAD, OTHER, RELATED, TRAILER, WP

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
POLICY = DedupPolicy()


def entry(key: str, title: str, text: str, link: str | None = None) -> EntryData:
    url = canonical_url(link)
    return EntryData(key, link, url, title, "", text, "", (), None, None, f"h-{key}")


def fp(title: str, text: str) -> Fingerprint | None:
    return fingerprint(entry("k", title, text))


def alike(a: tuple[str, str], b: tuple[str, str]) -> bool:
    first, second = fp(*a), fp(*b)
    assert first is not None and second is not None
    return similar(first, second.signature, POLICY)


BASE = ("Fighters seize Yarmouk camp in Damascus", "\n".join([LEAD, *BODY]))


@pytest.mark.parametrize(
    ("copy", "same"),
    [
        (BASE, True),
        (("BREAKING: Fighters seize Yarmouk camp in Damascus (update)", BASE[1]), True),
        (("Fighters seize Yarmouk camp in Damascus - Levant Daily", BASE[1]), True),
        ((BASE[0], "DAMASCUS (Reuters) - " + BASE[1]), True),
        (  # another lead sentence written by the outlet
            (BASE[0], "\n".join(["Yarmouk has fallen, residents told us on Wednesday.", *BODY])),
            True,
        ),
        ((BASE[0], "\n".join([LEAD, *BODY[:-1]])), True),  # last paragraph cut
        ((BASE[0], BASE[1] + "\n" + TRAILER + "\n" + RELATED), True),
        ((BASE[0], BASE[1] + "\n" + WP.format(t=BASE[0]) + "\nFollow us on Twitter."), True),
        ((BASE[0], BASE[1] + "\nRead more: https://example.org/x?utm_source=rss"), True),
        (("Yarmouk camp shelled for third day", "\n".join(OTHER)), False),
        (  # a follow-up that reuses two background paragraphs
            ("Shelling resumes in Yarmouk", "\n".join([*OTHER[:4], *BODY[:2]])),
            False,
        ),
    ],
    ids=[
        "identical",
        "prefix-and-update",
        "outlet-suffix",
        "dateline",
        "other-lead",
        "cut",
        "trailer-related",
        "wordpress-trailer",
        "read-more-link",
        "same-topic",
        "follow-up",
    ],
)
def test_retouched_copies_are_one_story_and_others_are_not(
    copy: tuple[str, str], same: bool
) -> None:
    assert alike(BASE, copy) is same


def test_resemblance_is_exact_for_short_sketches_and_estimated_for_long_ones() -> None:
    def packed(values: range) -> bytes:
        return struct.pack(f"<{len(values)}I", *values)

    assert resemblance(packed(range(1, 11)), packed(range(6, 16))) == 5 / 15
    assert resemblance(packed(range(1, 11)), packed(range(1, 11))) == 1.0
    assert resemblance(packed(range(1, 11)), packed(range(20, 30))) == 0.0
    # Two 128-value sketches of large sets: of the 128 smallest of both, 64 are shared.
    assert resemblance(packed(range(0, 256, 2)), packed(range(0, 128))) == 64 / 128
    assert resemblance(packed(range(1, 11)), packed(range(6, 16)), at_least=0.5) == 0.0


def test_title_prefixes_and_suffixes_are_editorial() -> None:
    assert title_words("BREAKING: Camp falls (update 2)") == ["camp", "falls"]
    assert title_words("UPDATE 3-Camp falls - Reuters") == ["camp", "falls"]
    assert title_words("Exclusive: Camp falls [VIDEO]") == ["camp", "falls"]


def test_body_cleaning_drops_datelines_trailers_links_and_related_lists() -> None:
    text = "\n".join(
        [
            "DAMASCUS (Reuters) - Fighters took the camp. More at https://x.example/a?b=c now.",
            "(Reporting by Suleiman Al-Khalidi; Editing by Tom Perry)",
            "© 2026 Levant Daily. All rights reserved.",
            "The post Camp falls appeared first on Levant Daily.",
            "Follow us on Twitter. Sign up for our newsletter.",
            "Photo: a street in the camp.",
            "Residents fled.",
            "Related:",
            "Syria talks stall in Geneva",
        ]
    )
    assert body_sentences(text) == ["Fighters took the camp.", "More at   now.", "Residents fled."]


def test_short_texts_get_no_fingerprint() -> None:
    assert fp("Morning briefing", "Here is what you need to know this morning.") is None
    assert fp("Live: Damascus updates", "Follow our live coverage.\n" + TRAILER) is None
    assert fp(*BASE) is not None


def test_texts_sharing_only_boilerplate_stay_apart() -> None:
    first = "\n".join([LEAD, BODY[0]]) + "\n" + TRAILER + "\n" + RELATED
    second = "\n".join([OTHER[0], OTHER[1]]) + "\n" + TRAILER + "\n" + RELATED
    assert not alike(("Camp falls", first), ("Camp shelled", second))


def test_a_feeds_repeated_house_trailer_is_boilerplate() -> None:
    texts = [
        ("Camp falls", "\n".join([LEAD, BODY[0], HOUSE])),
        ("Camp shelled", "\n".join([OTHER[0], OTHER[1], HOUSE])),
        ("Border closes", "Jordan closed its northern border crossing on Monday.\n" + HOUSE),
    ]
    entries = [entry(f"k{i}", t, x) for i, (t, x) in enumerate(texts)]
    alone = [fingerprint(e) for e in entries[:2]]
    assert alone[0] and alone[1] and similar(alone[0], alone[1].signature, POLICY), (
        "without the feed's other entries the trailer dominates: the case this guards"
    )
    prints = feed_fingerprints(entries)
    assert not similar(prints["k0"], prints["k1"].signature, POLICY)
    known = feed_fingerprints(entries, skip={"k0", "k2"})  # entries stored last time
    assert set(known) == {"k1"} and known["k1"] == prints["k1"], "boilerplate still seen"


def test_tracking_parameters_give_one_canonical_url() -> None:
    a = canonical_url("https://News.example.org/2026/yarmouk?utm_source=rss&id=7#top")
    b = canonical_url("https://news.example.org/2026/yarmouk?id=7&fbclid=abc")
    assert a == b == "https://news.example.org/2026/yarmouk?id=7"


# --- dedup.place: the decision table ----------------------------------------------------


def _print(title: str, text: str) -> Fingerprint:
    found = fp(title, text)
    assert found is not None
    return found


A = _print(*BASE)
B = _print("Yarmouk camp shelled for third day", "\n".join(OTHER))
HOUR, WEEK = timedelta(hours=1), timedelta(days=7)


def known(story_id: int, text: Fingerprint, age: timedelta, root: int | None = None) -> KnownStory:
    return KnownStory(story_id, root or story_id, text.signature, NOW - age)


def text_item(*candidates: int, url: str | None = None, owner: int | None = None) -> Incoming:
    return Incoming("e", url, A, url_story=owner, candidates=candidates)


PLACE_CASES = [
    ("same URL", Incoming("e", "u", None, url_story=4), {}, Existing(4), {}),
    ("same text", text_item(5), {5: known(5, A, HOUR)}, Existing(5), {}),
    ("outside window", text_item(5), {5: known(5, A, WEEK)}, New(0), {}),
    ("other text", text_item(5), {5: known(5, B, HOUR)}, New(0), {}),
    ("short text", Incoming("e", None, None, candidates=(5,)), {5: known(5, A, HOUR)}, New(0), {}),
    ("URL beats window", text_item(url="u", owner=2), {}, Existing(2), {}),
    ("merged story", text_item(8), {8: known(8, A, HOUR, root=3)}, Existing(3), {}),
    ("two texts merge", text_item(9, 5), {5: known(5, A, HOUR), 9: known(9, A, HOUR)},
     Existing(5), {9: 5}),
    ("URL and text merge", text_item(5, url="u", owner=9), {5: known(5, A, HOUR)},
     Existing(5), {9: 5}),
]  # fmt: skip


@pytest.mark.parametrize(
    ("item", "stories", "expected", "merges"),
    [case[1:] for case in PLACE_CASES],
    ids=[case[0] for case in PLACE_CASES],
)
def test_place(
    item: Incoming,
    stories: dict[int, KnownStory],
    expected: Existing | New,
    merges: dict[int, int],
) -> None:
    plan = place([item], stories, POLICY, NOW)
    assert plan.story_of == {"e": expected}
    assert plan.merges == merges
    assert plan.founders == (["e"] if isinstance(expected, New) else [])


def test_policy_similarity_is_the_threshold() -> None:
    half = _print("Fighters seize Yarmouk camp", "\n".join([LEAD, *BODY[:3], *OTHER[:3]]))
    item = Incoming("e", None, half, candidates=(5,))
    stories = {5: known(5, A, HOUR)}
    assert place([item], stories, DedupPolicy(similarity=0.3), NOW).story_of["e"] == Existing(5)
    assert place([item], stories, DedupPolicy(similarity=0.9), NOW).story_of["e"] == New(0)


def test_entries_of_one_batch_join_each_other_and_fold_into_a_stored_story() -> None:
    items = [
        Incoming("a", "u1", A),
        Incoming("b", "u1", None),  # same URL as a, founded in this batch
        Incoming("c", "u3", replace(A)),  # same text as a (another object)
        Incoming("d", None, B),  # another story
        Incoming("e", None, A, candidates=(7,)),  # a's text is also stored story 7's
    ]
    plan = place(items, {7: known(7, A, HOUR)}, POLICY, NOW)
    assert plan.story_of == {
        "a": Existing(7),
        "b": Existing(7),
        "c": Existing(7),
        "d": New(0),
        "e": Existing(7),
    }
    assert plan.founders == ["d"] and plan.merges == {}


# --- the labelled set, through ingest and the database -------------------------------


def test_labelled_set_precision_and_recall(tmp_path: Path) -> None:
    items = labelled_set(seed=7, stories=160)
    db = Database(f"sqlite:///{tmp_path / 'd.db'}")
    db.migrate()
    run = replay(db, items, POLICY)
    db.dispose()
    stories = [run.stories[i.guid] for i in items]
    precision, recall, _, _ = pairwise([i.cluster for i in items], stories)
    assert precision >= 0.99 and recall >= 0.95, (precision, recall)


# --- settings ---------------------------------------------------------------------------


def _settings(tmp_path: Path, text: str) -> Settings:
    config = tmp_path / "config"
    config.mkdir(exist_ok=True)
    (config / "aggregator.toml").write_text(text)
    return load_settings(config, {})


def test_dedup_and_retention_settings(tmp_path: Path) -> None:
    settings = _settings(tmp_path, "")
    assert settings.dedup == DedupSettings(timedelta(days=3), 0.5)
    assert settings.retention == RetentionSettings(timedelta(days=90))
    text = '[dedup]\nwindow = "36h"\nsimilarity = 0.6\n[retention]\nmax_age = "30d"\n'
    settings = _settings(tmp_path, text)
    assert settings.dedup == DedupSettings(timedelta(hours=36), 0.6)
    assert settings.retention.max_age == timedelta(days=30)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[dedup]\nsimilarity = 1.5\n", "dedup.similarity: must be between 0.2 and 1.0, got 1.5"),
        ('[dedup]\nsimilarity = "high"\n', "dedup.similarity: expected a number, got string"),
        ('[dedup]\nwindow = "40d"\n', "dedup.window: must be at most 30d"),
        ('[dedup]\nwindow = "soon"\n', "dedup.window: invalid duration 'soon'"),
        ("[dedup]\nthreshold = 0.5\n", "dedup.threshold: unknown key"),
        ('[retention]\nmax_age = "2h"\n', "retention.max_age: must be at least 1d"),
    ],
)
def test_dedup_and_retention_settings_are_checked(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigErrors) as info:
        _settings(tmp_path, text)
    first = str(info.value.errors[0])
    assert first.startswith(f"aggregator.toml: {message}"), first


def _packed(values: list[int]) -> bytes:
    return struct.pack(f"<{len(values)}I", *values)


def _plain_resemblance(a: bytes, b: bytes, at_least: float) -> float:
    """The definition, spelled out: of the SKETCH smallest values of both, the share
    both have (0.0 below `at_least`)."""
    first, second = set(unpack(a)), set(unpack(b))
    both = first & second
    size = min(SKETCH, len(first | second))
    if not size or len(both) < at_least * size:
        return 0.0
    return len(both & set(sorted(first | second)[:SKETCH])) / size


@settings(max_examples=500, deadline=None)
@example(set(range(1, 129)), {0, *range(2, 200)}, 0, 0.0)  # the 129th smallest is shared
@example(set(range(0, 300, 2)), set(range(0, 300, 3)), 7, 0.5)
@given(
    st.sets(st.integers(0, 400), min_size=1, max_size=300),
    st.sets(st.integers(0, 400), min_size=1, max_size=300),
    st.integers(0, 2**32 - 402),
    st.floats(0.0, 1.0),
)
def test_resemblance_is_the_plain_definition(
    first: set[int], second: set[int], offset: int, at_least: float
) -> None:
    a = _packed(sorted(v + offset for v in first)[:SKETCH])
    b = _packed(sorted(v + offset for v in second)[:SKETCH])
    assert resemblance(a, b, at_least) == _plain_resemblance(a, b, at_least)
