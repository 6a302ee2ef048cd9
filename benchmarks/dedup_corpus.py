"""A labelled set for story clustering: syndicated copies and look-alike distinct stories.

`labelled_set(seed)` builds, deterministically, entries as feeds carry them (HTML bodies,
links with tracking parameters), each labelled with its true story:

* `stories` wire stories, each syndicated by 1 to 8 outlets with the variations real
  outlets make: retouched titles (prefixes such as "BREAKING:", "(update)", " - Outlet"
  suffixes, case and punctuation, a word swapped, now and then a new headline), a
  dateline or a different lead sentence, a sentence dropped or added, spelling and
  number styles, the outlet's trailer, a "Related:" list of other stories' titles, and
  links on the outlet's own site with tracking parameters (some link to the original);
* distinct stories that share a topic with a wire story (same place, organisation and
  people, other sentences), follow-ups that reuse a background sentence of an earlier
  story, and short items (briefs, live-page stubs) that share their wording and the
  outlet's boilerplate.

`python benchmarks/dedup_corpus.py OUT.jsonl` writes the set as JSON lines.
"""

from __future__ import annotations

import html
import json
import random
import re
import sys
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.dedup_words import (
    DAYNAMES,
    FIRST,
    KINDS,
    LAST,
    ORGS,
    OUTLETS,
    PLACES,
    PREFIXES,
    ROLES,
    SWAPS,
    WITH_RELATED,
)

T0 = datetime(2026, 11, 1, tzinfo=UTC)
DAYS = 21


@dataclass(frozen=True)
class LabelledEntry:
    cluster: str  # the true story
    feed: str
    guid: str
    link: str
    title: str
    html: str  # the body as the feed carries it (content or description)
    arrival: datetime


@dataclass
class _Story:
    id: str
    kind: str
    place: str
    org: str
    people: tuple[str, str]
    title: str
    sentences: list[str]
    time: datetime
    url: str
    templates: tuple[str, ...] = ()


QUALIFIERS = [" in {p}", " on {d}", ", {x} said", ", according to {o}", " in {p} this week"]


def _fill(rng: random.Random, template: str, place: str, org: str, people: tuple[str, str]) -> str:
    if "{" not in template:  # every sentence carries something of its own story
        template = template[:-1] + rng.choice(QUALIFIERS) + template[-1]
    text = template.format(
        p=place,
        o=org,
        x=people[0],
        y=people[1],
        r=rng.choice(ROLES),
        n=rng.randint(3, 95),
        m=rng.randint(2, 9),
        d=rng.choice(DAYNAMES),
    )
    return text[0].upper() + text[1:]


def _person(rng: random.Random) -> str:
    return f"{rng.choice(FIRST)} {rng.choice(LAST)}"


def _story(
    rng: random.Random,
    sid: str,
    topic: tuple[str, str, str, tuple[str, str]] | None,
    when: datetime,
    sentences: int,
    avoid: tuple[str, ...] = (),
) -> _Story:
    kind, place, org, people = topic or (
        rng.choice(list(KINDS)),
        rng.choice(PLACES),
        rng.choice(ORGS),
        (_person(rng), _person(rng)),
    )
    heads, templates = KINDS[kind]
    unused = [t for t in templates if t not in avoid]
    chosen = rng.sample(unused, min(sentences, len(unused)))
    text = [_fill(rng, t, place, org, people) for t in chosen]
    title = _fill(rng, rng.choice(heads), place, org, people)
    slug = "-".join(title.lower().split()[:7]).strip(".,'")
    url = f"https://{rng.choice(OUTLETS)[0]}.example/{when:%Y/%m/%d}/{slug}-{sid}"
    return _Story(sid, kind, place, org, people, title, text, when, url, tuple(chosen))


def _retitle(rng: random.Random, story: _Story, outlet: str) -> str:
    title, roll = story.title, rng.random()
    if roll < 0.45:
        return title
    if roll < 0.57:
        return rng.choice(PREFIXES) + title
    if roll < 0.67:
        return title + rng.choice([" (update)", " (Updated)", " [VIDEO]", " (update 3)"])
    if roll < 0.75:
        return f"{title} - {outlet.replace('-', ' ').title()}"
    if roll < 0.83:
        return title.title() if rng.random() < 0.5 else title.upper()
    if roll < 0.90:
        return title.replace(" as ", ": ").replace(" after ", ", after ") + "."
    if roll < 0.96:
        words = title.split()
        words[rng.randrange(len(words))] = rng.choice(["new", "deadly", "latest", "more"])
        return " ".join(words)
    return f"{story.place}: {story.org} says situation is worsening"  # a new headline


def _vary_body(rng: random.Random, story: _Story) -> list[str]:
    text = list(story.sentences)
    if rng.random() < 0.3:  # a different lead written by the outlet
        lead = _fill(rng, rng.choice(KINDS[story.kind][1]), story.place, story.org, story.people)
        text[0] = lead
    if rng.random() < 0.2 and len(text) > 5:
        text.pop()
    if rng.random() < 0.1 and len(text) > 5:
        text.pop(rng.randrange(1, len(text) - 1))
    if rng.random() < 0.15:
        text.insert(len(text) - 1, f"{story.org} did not respond to a request for comment.")
    if rng.random() < 0.2:
        text = [_swap(rng, s) for s in text]
    if rng.random() < 0.15:
        text[0] = f"{story.place.upper()} ({rng.choice(['Reuters', 'AFP', 'AP'])}) - {text[0]}"
    return text


def _swap(rng: random.Random, sentence: str) -> str:
    for old, new in SWAPS.items():
        if rng.random() < 0.5:
            sentence = re.sub(rf"\b{old}\b", new, sentence)
    return sentence


def _html(rng: random.Random, sentences: list[str], extras: list[str]) -> str:
    paragraphs, i = [], 0
    while i < len(sentences):
        step = rng.randint(1, 3)
        paragraphs.append("<p>" + html.escape(" ".join(sentences[i : i + step])) + "</p>")
        i += step
    return "".join(paragraphs) + "".join(extras)


def _link(rng: random.Random, outlet: str, story: _Story, n: int) -> str:
    if rng.random() < 0.12:  # an aggregator linking to the original, with its own tracking
        return story.url + rng.choice(["?utm_source=rss&utm_medium=feed", "?fbclid=IwAR0x", ""])
    query = rng.choice(["", "?utm_source=rss", "?utm_campaign=feed&utm_medium=rss", "?ref=rss"])
    return f"https://{outlet}.example/news/{story.id}-{n}{query}"


class _Builder:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.entries: list[LabelledEntry] = []
        self.titles: list[str] = []
        self.counter = 0

    def _extras(self, outlet: str, trailer: str, title: str, story: _Story) -> list[str]:
        rng, extras = self.rng, []
        if trailer:
            text = trailer.format(
                t=title, a=_person(rng), b=_person(rng), p=story.place, src=rng.choice(OUTLETS)[0]
            )
            extras.append(f"<p><em>{html.escape(text)}</em></p>")
        if outlet in WITH_RELATED and self.titles:
            related = rng.sample(self.titles[-60:], min(3, len(self.titles)))
            items = "".join(
                f'<li><a href="https://{outlet}.example/r">{html.escape(t)}</a></li>'
                for t in related
            )
            extras.append(f"<h3>Related:</h3><ul>{items}</ul>")
        return extras

    def publish(
        self,
        story: _Story,
        copies: int,
        exact: bool = False,
        outlets: list[tuple[str, str]] | None = None,
    ) -> None:
        outlets = outlets or self.rng.sample(OUTLETS, copies)
        for n, (outlet, trailer) in enumerate(outlets):
            rng = self.rng
            delay = timedelta(minutes=0 if n == 0 else int(rng.expovariate(1 / 600)))
            title = story.title if exact or n == 0 else _retitle(rng, story, outlet)
            body = story.sentences if exact or n == 0 else _vary_body(rng, story)
            self.counter += 1
            link = story.url if n == 0 else _link(rng, outlet, story, n)
            self.entries.append(
                LabelledEntry(
                    cluster=story.id,
                    feed=outlet,
                    guid=f"{outlet}:{self.counter}",
                    link=link,
                    title=title,
                    html=_html(rng, body, self._extras(outlet, trailer, title, story)),
                    arrival=story.time + delay,
                )
            )
        self.titles.append(story.title)


def labelled_set(seed: int = 2026, stories: int = 320) -> list[LabelledEntry]:
    """The set, in arrival order; deterministic for a seed."""
    b = _Builder(seed)
    rng = b.rng
    wire: list[_Story] = []
    for i in range(stories):
        when = T0 + timedelta(minutes=rng.randrange(DAYS * 24 * 60))
        story = _story(rng, f"s{i}", None, when, rng.randint(5, 9))
        copies = rng.choices(range(1, 9), weights=[22, 20, 15, 12, 10, 8, 7, 6])[0]
        b.publish(story, copies)
        wire.append(story)
    for i, base in enumerate(rng.sample(wire, stories // 2)):  # same topic, other news
        when = base.time + timedelta(hours=rng.uniform(-30, 30))
        topic = (base.kind, base.place, base.org, base.people)
        other = _story(rng, f"t{i}", topic, when, rng.randint(5, 8), base.templates)
        b.publish(other, rng.randint(1, 3))
    for i, base in enumerate(rng.sample(wire, stories // 5)):  # follow-ups with background
        when = base.time + timedelta(hours=rng.uniform(6, 48))
        topic = (base.kind, base.place, base.org, base.people)
        follow = _story(rng, f"f{i}", topic, when, rng.randint(5, 7), base.templates)
        follow.sentences[-2:] = rng.sample(base.sentences, 2)
        b.publish(follow, rng.randint(1, 3))
    for i in range(stories // 4):  # short stories from outlets with heavy boilerplate
        when = T0 + timedelta(minutes=rng.randrange(DAYS * 24 * 60))
        note = _story(rng, f"n{i}", None, when, rng.randint(2, 3))
        b.publish(note, 1, outlets=[OUTLETS[6 if i % 2 else 9]])
    for i in range(stories // 4):  # short items with shared wording
        base = rng.choice(wire)
        when = T0 + timedelta(minutes=rng.randrange(DAYS * 24 * 60))
        brief = _Story(
            f"b{i}",
            base.kind,
            base.place,
            base.org,
            base.people,
            rng.choice(
                [
                    f"Live: {base.place} updates",
                    f"{base.place} briefing",
                    "Morning briefing",
                    "What we know so far",
                ]
            ),
            [
                rng.choice(
                    [
                        f"Follow our live coverage of events in {base.place}.",
                        f"The latest news from {base.place} and the region.",
                        "Here is what you need to know this morning.",
                    ]
                )
            ],
            when,
            f"https://brief.example/{i}",
        )
        b.publish(brief, 1, exact=True)
    return sorted(b.entries, key=lambda e: (e.arrival, e.guid))


def main(argv: list[str]) -> int:
    entries = labelled_set()
    with open(argv[0], "w", encoding="utf-8") if argv else sys.stdout as out:
        for entry in entries:
            out.write(json.dumps({**asdict(entry), "arrival": entry.arrival.isoformat()}) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
