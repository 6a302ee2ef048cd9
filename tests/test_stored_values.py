"""Values that are stored and compared across versions, pinned to what they were.

An entry's key and content hash, and a fingerprint's signature and band keys, are
written to the database; a later version that computes them differently makes every
stored entry look updated, or new entries miss the stories of the last window. The
expected values below were computed by the code as it was when they were written, so
a speed-up that changes any of them fails here. Change them only on purpose.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import pytest

from aggregator.fingerprint import feed_fingerprints, fingerprint
from aggregator.normalize import html_to_text, normalize_entry
from aggregator.process import BodyTask, process_parsed
from aggregator.settings import WatchlistSettings
from aggregator.types import EntryData, ParsedEntry, ParsedFeed
from aggregator.watch import WatchRules
from tests.helpers.stories import BODY, HOUSE, LEAD, OTHER, TRAILER

WHEN = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)
FEED = "https://levant.example/feed"
MIXED = (
    "Les combattants ont pris le contrôle du camp de Yarmūk, au sud de Damas, mercredi. "
    "قال سكان إن المقاتلين سيطروا على مخيم الْيَرْمُوك جنوب دمشق يوم الأربعاء. "
    "L’UNRWA — l’agence de l’ONU — réclame un passage sûr pour les civils « piégés » à "
    "l’intérieur, ﬁn."
)


def raw(i: int) -> ParsedEntry:
    paragraphs = "".join(f"<p>{s} &amp; more</p>" for s in BODY[i % 3 :])
    return ParsedEntry(
        guid=f"tag:levant.example,2026:{i}" if i else None,
        link=f"https://Levant.example:443/news/{i}?utm_source=rss&id={i}#top",
        title=f"BREAKING: Fighters seize Yarmūk camp in Damascus ({i})",
        summary_html=f"<p>{LEAD}</p>",
        content_html=f"<div><p>DAMASCUS (Reuters) - {LEAD}</p>{paragraphs}<p>{TRAILER}</p>"
        f"<p>{HOUSE}</p><script>x<y</script><!-- c --></div>",
        author="  Staff  Writer ",
        categories=("Middle East", "Aid", "Middle  East"),
        published=WHEN,
        updated=None,
    )


def bands(text: str) -> tuple[int, ...]:
    return tuple(map(int, text.split()))


def sha(value: bytes | str) -> str:
    return hashlib.sha256(value if isinstance(value, bytes) else value.encode()).hexdigest()


def test_entry_keys_and_content_hashes() -> None:
    entries = [normalize_entry(raw(i), feed_url=FEED) for i in range(4)]
    assert entries[0].entry_key == entries[0].canonical_url == "https://levant.example/news/0?id=0"
    assert entries[0].content_hash == (
        "0e2af348e7021c997301b728b3e580431b6bd36ede396a740220248847e79646"
    )
    assert entries[1].entry_key == "tag:levant.example,2026:1"
    assert entries[1].content_hash == (
        "c02839f2a0e1257e56f0e6816956ba4278598512ad18b64a1fd05f17008756e2"
    )
    assert sha(repr(entries)) == "cc8682d4566d4e2557f1a49231e94e7d0c5acfe3536732f0259d4b043459485c"


def test_html_to_text() -> None:
    markup = "<p>Yarmūk&nbsp;camp</p><table><tr><td>a</td><td>b</td></tr></table>x<br>y<!-- no"
    assert html_to_text(markup) == "Yarmūk camp\na b\nx\ny<!-- no"


def test_feed_fingerprints_with_boilerplate() -> None:
    entries = [normalize_entry(raw(i), feed_url=FEED) for i in range(4)]
    prints = feed_fingerprints(entries)
    assert list(prints) == ["https://levant.example/news/0?id=0", "tag:levant.example,2026:3"]
    for found in prints.values():
        assert sha(found.signature) == (
            "6e208468843bb4534e9a0692d5bcb464c6806fda49c30a1db68e92348eeea386"
        )
        assert found.size == 23
        assert found.bands == (
            *(-1520446449211550477, 5767829479205608095, 6464065125816021563),
            *(2595013208895918436, -6980540490288197156, 8910361847394311936),
            *(6674963781999817241, 143151658841175581, 8290807273900041915),
            *(7532370369987003719, 2309967004282411531, 3136040022878418640),
            *(-5856295923779712192, 1384959809267851898, 5423615084230137409),
            *(-3316073658672767401, -4200331478834571222, -1681517320401232681),
            *(-2489751017083921607, 2365134810131668066),
        )


ENGLISH = (
    "Yarmouk camp shelled",
    "",
    "\n".join([LEAD, *OTHER]),
    "8eaa09df35863ac4a3ad8b0a44e0e73a5cfbac898b1f4fd3bf8c2e179f81dafe",
    114,
    bands(
        "-6650929383034967791 -6479681555169957601 -2024990251125475422 1261381933175572508 "
        "-7520381348996382576 7753709624153958125 -389279606423469273 8402481886233913071 "
        "-7880611301833017766 -4753121327519887954 -5615206421047800899 4600617502315202061 "
        "-6069860920933675422 7103484428609097664 6291737620155998841 -7981536217615857888 "
        "-7745925258257547390 -2649286496144835257 -2838460085381107503 -904323161116186625"
    ),
)
MIXED_SCRIPT = (
    "Yarmūk : l’ONU s’inquiète",
    MIXED,
    "",
    "fd10393a588a92f659c90f0224f8e0fc34fe1f966d277a1d394b60bd2a878fe9",
    49,
    bands(
        "-2687808442430431161 -3022934664770432585 -760147464080933914 4495087515314778912 "
        "3118935163425464483 -6634514795564424748 2369280492791231004 -3392480099874030286 "
        "-7791200679697469547 4456884292577702325 -6143163336673130398 -6514927584730154713 "
        "1062058968698013619 4720750381107083171 -6185252529195115935 -4231849960446921822 "
        "7728280218596962288 -5833535568039195508 3596705503538945389 -957923295885985108"
    ),
)


@pytest.mark.parametrize(
    ("title", "summary", "content", "signature", "size", "bands"), [ENGLISH, MIXED_SCRIPT]
)
def test_fingerprint_of_one_entry(
    title: str, summary: str, content: str, signature: str, size: int, bands: tuple[int, ...]
) -> None:
    data = EntryData("k", None, None, title, summary, content, "", (), None, None, "h")
    found = fingerprint(data)
    assert found is not None
    assert (sha(found.signature), found.size, found.bands) == (signature, size, bands)


def test_processed_feed_routes_and_whole_result() -> None:
    rules = WatchRules(
        [
            WatchlistSettings("syria", any=("Yarmuk", "Red Crescent"), channels=("c",)),
            WatchlistSettings(
                "q", any=(), channels=("c",), query="Yarmouk NEAR/5 camp OR title:damascus"
            ),
        ]
    )
    parsed = ParsedFeed("t", None, tuple(raw(i) for i in range(4)))
    task = BodyTask(b"", FEED, None, (), datetime(2026, 11, 24, tzinfo=UTC))
    out = process_parsed(parsed, task, rules)
    first = out.routes["https://levant.example/news/0?id=0"]
    title = "BREAKING: Fighters seize Yarmūk camp in Damascus (0)"
    assert [(r.match.watchlist, r.match.terms) for r in first] == [
        ("syria", ("Yarmuk",)),
        ("q", ("Yarmouk", "camp", "damascus")),
    ]
    assert [(h.field, h.term, h.snippet) for h in first[1].match.highlights] == [
        ("title", "damascus", title),
        ("summary", "Yarmouk", LEAD),
        ("summary", "camp", LEAD),
    ]
    assert sha(repr(out)) == "c2bf21a588942c5316fe1b36270541f5cc72270d8d2595bea9e93cc1eaca1359"
