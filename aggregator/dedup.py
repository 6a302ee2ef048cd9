"""Story clustering decisions: which existing story (if any) a new entry belongs to.

Responsible for the pure half of cross-feed dedup. Given a feed's new entries, what the
database knows about them (the story that already has the entry's canonical URL, and the
stories whose LSH band keys the entry's fingerprint shares), `place` decides for each
entry: join an existing story, found a new one, or join one and merge others into it.

The rules, in order:

1. Same canonical URL (tracking parameters dropped, see normalize.canonical_url): same
   story, whatever its age.
2. Near-identical title and text: the entry's fingerprint (aggregator.fingerprint)
   resembles the signature of a story created within the window (default 3 days) at
   least `similarity` (default 0.5, estimated Jaccard resemblance of word 3-shingles).
3. An entry that qualifies for several stories joins the oldest (lowest id) and the
   others are merged into it: their sources, and the watchlists that already alerted
   on them, become the surviving story's (storage keeps that promise).
4. Otherwise a new story. Texts under fingerprint.MIN_SHINGLES shingles have no
   fingerprint, so short items are only ever merged by URL.

Why MinHash with LSH banding and not SimHash: syndicated copies differ by a lead
sentence, a dropped paragraph, a trailer, so what separates them from other stories is
the share of word 3-shingles they have in common (Jaccard resemblance). Measured on the
labelled set (benchmarks/dedup_corpus.py, after the cleaning in aggregator.fingerprint),
98% of the 2,418 true pairs resemble each other at 0.5 or more and 99.5% at 0.45; of the
358,000 pairs of distinct stories less than 3 days apart, 60 reach 0.3, 4 reach 0.4 and
1 reaches 0.45. MinHash estimates exactly that quantity, and banding turns "resemblance
above t" into "shares one of 20 keys" with a tunable S-curve (3 values per band: a 0.5
pair is a candidate with probability 0.93, a 0.7 pair 0.9998, a 0.1 pair 0.02).
SimHash's banded index (Manku et al.) suits fingerprints within about 3 bits of 64; on
the same set, a 64-bit SimHash of the same shingles puts true pairs a median 9 bits
apart (only 22% within 3, 10% beyond 17) and distinct ones 13 or more: a cut near 12
bits would need 13 blocks of 5 bits, each block a candidate for 1 stored story in 32.
Candidates are verified with a bottom-128 sketch, so resemblance is exact for texts of
up to 128 shingles (most feed items) and closely estimated above. The threshold, 0.5,
gives the pairwise precision 1.0 and recall 0.99 of benchmarks/dedup.py; 0.45 would gain
half a point of recall for a thin margin over the hardest distinct pairs.

Must not: touch the database, read the clock or settings (the caller passes `now` and a
`DedupPolicy`), or fingerprint text (the parse workers did).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from sys import byteorder

from aggregator.minhash import SKETCH, unpack
from aggregator.types import Fingerprint

DEFAULT_WINDOW = timedelta(days=3)
# Sketches are packed little-endian 32-bit (aggregator.minhash.sketch).
_LITTLE_ENDIAN = byteorder == "little" and memoryview(b"\0\0\0\0").cast("I").itemsize == 4
DEFAULT_SIMILARITY = 0.5


@dataclass(frozen=True, slots=True)
class DedupPolicy:
    window: timedelta = DEFAULT_WINDOW  # stories older than this are not text candidates
    similarity: float = DEFAULT_SIMILARITY  # minimum resemblance to join a story by text


@dataclass(frozen=True, slots=True)
class KnownStory:
    """A stored story that a band key pointed at."""

    id: int
    root: int  # the story it was merged into, else its own id
    signature: bytes | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Incoming:
    """A new entry with what the database said about it."""

    key: str
    canonical_url: str | None
    fingerprint: Fingerprint | None
    url_story: int | None = None  # root of the story that has this canonical URL
    candidates: tuple[int, ...] = ()  # stories sharing a band key with the fingerprint


@dataclass(frozen=True, slots=True, order=True)
class Existing:
    id: int


@dataclass(frozen=True, slots=True, order=True)
class New:
    index: int  # into Plan.founders


Story = Existing | New


@dataclass
class Plan:
    """Where each entry goes; `founders[i]` is the key of the entry that founds New(i)."""

    story_of: dict[str, Story] = field(default_factory=dict)
    founders: list[str] = field(default_factory=list)
    merges: dict[int, int] = field(default_factory=dict)  # absorbed root -> surviving root


def resemblance(a: bytes, b: bytes, at_least: float = 0.0) -> float:
    """Estimated Jaccard resemblance of two bottom-k sketches (exact below SKETCH): of
    the SKETCH smallest values of both, the share that both have. 0.0 as soon as it is
    clear that the result would be under `at_least`.

    Most comparisons are of a new entry (`a`, compared with each of its candidates) with
    a stored story that turns out not to resemble it: `a`'s values are memoised as a set,
    `b`'s are only unpacked, and the shared count alone rejects the usual candidate."""
    first, second = _values(a), _ints(b)
    shared = len(first.intersection(second))
    size = min(SKETCH, len(first) + len(second) - shared)
    if not size or shared < at_least * size:  # the shared values bound the result
        return 0.0
    both = first.intersection(second)
    union = sorted(first.union(second))[:SKETCH]
    return len(both.intersection(union)) / size


def _ints(packed: bytes) -> Sequence[int]:
    """A sketch's values, read in place where the machine's byte order is the stored one."""
    return memoryview(packed).cast("I") if _LITTLE_ENDIAN else unpack(packed)


@lru_cache(maxsize=1024)
def _values(packed: bytes) -> frozenset[int]:
    """A sketch's values as a set, memoised for the entry compared with its candidates."""
    return frozenset(unpack(packed))


def is_candidate(story: KnownStory, now: datetime, policy: DedupPolicy) -> bool:
    return story.signature is not None and now - story.created_at <= policy.window


def similar(fingerprint: Fingerprint, signature: bytes, policy: DedupPolicy) -> bool:
    limit = policy.similarity
    return resemblance(fingerprint.signature, signature, limit) >= limit


def _survivor(a: Story, b: Story) -> Story:
    """The oldest stored story survives; two new ones: the first founded."""
    if isinstance(a, Existing) != isinstance(b, Existing):
        return a if isinstance(a, Existing) else b
    return min(a, b)


class _Placer:
    """Union-find over stories, stored and founded in this batch."""

    def __init__(self, known: Mapping[int, KnownStory], policy: DedupPolicy, now: datetime):
        self.known, self.policy, self.now = known, policy, now
        self.parent: dict[Story, Story] = {}
        self.node: dict[str, Story] = {}  # entry key -> the story it was placed in
        self.founders: list[tuple[str, Fingerprint | None]] = []
        # band key -> the first founder with it; keys of several founders also in `shared`.
        # Set operations on dict keys, not a loop per key: placing is per entry.
        self.bands: dict[int, int] = {}
        self.shared: dict[int, list[int]] = {}
        self.urls: dict[str, New] = {}  # canonical URL -> the story founded with it

    def find(self, story: Story) -> Story:
        while (parent := self.parent.get(story, story)) != story:
            self.parent[story] = self.parent.get(parent, parent)
            story = parent
        return story

    def union(self, a: Story, b: Story) -> Story:
        a, b = self.find(a), self.find(b)
        survivor = _survivor(a, b)
        self.parent[a if survivor == b else b] = survivor
        return survivor

    def targets(self, item: Incoming) -> list[Story]:
        found: list[Story] = []
        if item.url_story is not None:
            found.append(Existing(item.url_story))
        if item.canonical_url in self.urls:
            found.append(self.urls[item.canonical_url])
        fp = item.fingerprint
        if fp is None:
            return found
        for story_id in item.candidates:
            story = self.known.get(story_id)
            if story is not None and is_candidate(story, self.now, self.policy):
                assert story.signature is not None
                if similar(fp, story.signature, self.policy):
                    found.append(Existing(story.root))
        for index in sorted(self._near(fp)):
            founder = self.founders[index][1]
            if founder is not None and similar(fp, founder.signature, self.policy):
                found.append(New(index))
        return found

    def _near(self, fp: Fingerprint) -> set[int]:
        """Founders of this batch that share a band key with `fp`."""
        keys = self.bands.keys() & fp.bands
        near = {self.bands[key] for key in keys}
        for key in keys & self.shared.keys():
            near.update(self.shared[key])
        return near

    def _index(self, fp: Fingerprint, founder: int) -> None:
        own = dict.fromkeys(fp.bands, founder)
        for key in own.keys() & self.bands.keys():
            self.shared.setdefault(key, [self.bands[key]]).append(founder)
            del own[key]
        self.bands.update(own)

    def place(self, item: Incoming) -> None:
        found = self.targets(item)
        story: Story
        if not found:
            story = fresh = New(len(self.founders))
            self.founders.append((item.key, item.fingerprint))
            if item.fingerprint:
                self._index(item.fingerprint, fresh.index)
            if item.canonical_url:
                self.urls[item.canonical_url] = fresh
        else:
            story = found[0]
            for other in found[1:]:
                story = self.union(story, other)
        self.node[item.key] = story

    def finish(self) -> Plan:
        plan, numbers = Plan(), {}
        for key, story in self.node.items():
            root = self.find(story)
            if isinstance(root, New) and root.index not in numbers:
                numbers[root.index] = len(plan.founders)
                plan.founders.append(self.founders[root.index][0])
            plan.story_of[key] = New(numbers[root.index]) if isinstance(root, New) else root
        for story in self.parent:
            root = self.find(story)
            if isinstance(story, Existing) and story != root:
                assert isinstance(root, Existing)
                plan.merges[story.id] = root.id
        return plan


def place(
    items: Sequence[Incoming],
    known: Mapping[int, KnownStory],
    policy: DedupPolicy,
    now: datetime,
) -> Plan:
    """Decide the story of each new entry, in order (an entry may join one found earlier
    in the same batch). `known` holds the stories that `candidates` name."""
    placer = _Placer(known, policy, now)
    for item in items:
        placer.place(item)
    return placer.finish()
