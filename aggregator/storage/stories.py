"""Stories: place each new entry in one (found, create or merge), and read a story back.

A story is one piece of news across feeds: entries sharing a canonical URL, or whose
text is near-identical within the dedup window (the decision is `aggregator.dedup`'s;
the lookups are `clusters`'). Work is batched per feed: a handful of queries for all of a
poll's new entries, whatever the history. Concurrent creation of the same URL's story is
made harmless by the unique canonical URL (insert ... on conflict do nothing, then read
back). A changed entry keeps its story. Never commits.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import insert
from sqlmodel import Session, col, select

from aggregator.dedup import DedupPolicy, Existing, Incoming, place
from aggregator.storage import clusters
from aggregator.storage.entries import Known
from aggregator.storage.models import Entry, Feed, Story
from aggregator.storage.upsert import insert_ignoring_conflicts
from aggregator.types import EntryData, Fingerprint, StorySource

_STORIES = Story.__table__  # type: ignore[attr-defined]
_CHUNK = 500


def _story_values(
    data: EntryData, feed_id: int, fingerprint: Fingerprint | None, now: datetime
) -> dict[str, Any]:
    return {
        "canonical_url": data.canonical_url,
        "title": data.title,
        "url": data.link,
        "feed_id": feed_id,
        "published": data.published,
        "created_at": now,
        "signature": fingerprint.signature if fingerprint else None,
    }


def _create(session: Session, rows: Sequence[dict[str, Any]]) -> list[int]:
    """Insert stories; one whose URL another writer just took resolves to that story."""
    ids: list[int] = [0] * len(rows)
    with_url = [i for i, r in enumerate(rows) if r["canonical_url"]]
    lone = [i for i, r in enumerate(rows) if not r["canonical_url"]]
    if with_url:
        stmt = insert_ignoring_conflicts(session, _STORIES, None)
        stmt = stmt.returning(_STORIES.c.canonical_url, _STORIES.c.id)
        found = {str(u): int(i) for u, i in session.execute(stmt, [rows[i] for i in with_url])}
        taken = [u for u in (rows[i]["canonical_url"] for i in with_url) if u not in found]
        found.update(clusters.url_owners(session, taken) if taken else {})
        for i in with_url:
            ids[i] = found[rows[i]["canonical_url"]]
    if lone:
        returning = insert(_STORIES).returning(_STORIES.c.id, sort_by_parameter_order=True)
        created = session.execute(returning, [rows[i] for i in lone])
        for i, row in zip(lone, created, strict=True):
            ids[i] = int(row[0])
    return ids


def story_ids(
    session: Session,
    feed_id: int,
    new: Sequence[EntryData],
    changed: Sequence[tuple[Known, EntryData]],
    now: datetime,
    fingerprints: Mapping[str, Fingerprint] | None = None,
    policy: DedupPolicy | None = None,
) -> dict[str, int]:
    """entry key -> story id (always a root): a changed entry keeps its story, a new one
    joins the story of its canonical URL or of a near-identical text, else founds one."""
    policy = policy or DedupPolicy()
    prints = fingerprints or {}
    kept = {d.entry_key: k.story_id for k, d in changed if k.story_id is not None}
    homeless = [d for k, d in changed if k.story_id is None]
    placed = _place(session, feed_id, [*new, *homeless], prints, policy, now)
    resolved = clusters.roots(session, set(kept.values())) if kept else {}
    return {**{key: resolved[sid] for key, sid in kept.items()}, **placed}


def _place(
    session: Session,
    feed_id: int,
    entries: Sequence[EntryData],
    prints: Mapping[str, Fingerprint],
    policy: DedupPolicy,
    now: datetime,
) -> dict[str, int]:
    if not entries:
        return {}
    since = now - policy.window
    urls = {d.canonical_url for d in entries if d.canonical_url}
    owners = clusters.url_owners(session, urls) if urls else {}
    keys = {k for d in entries if d.entry_key in prints for k in prints[d.entry_key].bands}
    hits = clusters.band_hits(session, keys) if keys else {}
    candidates = {s for ids in hits.values() for s in ids}
    known = clusters.known_stories(session, candidates, since) if candidates else {}
    items = []
    for data in entries:
        fp = prints.get(data.entry_key)
        near = {s for k in (fp.bands if fp else ()) for s in hits.get(k, ())}
        owner = owners.get(data.canonical_url) if data.canonical_url else None
        items.append(Incoming(data.entry_key, data.canonical_url, fp, owner, tuple(near)))
    plan = place(items, known, policy, now)
    clusters.merge(session, plan.merges)
    by_key = {d.entry_key: d for d in entries}
    rows = [_story_values(by_key[k], feed_id, prints.get(k), now) for k in plan.founders]
    created = _create(session, rows)
    founded = zip(created, plan.founders, strict=True)
    clusters.add_bands(session, {sid: prints[k].bands for sid, k in founded if k in prints})
    return {
        key: where.id if isinstance(where, Existing) else created[where.index]
        for key, where in plan.story_of.items()
    }


def story_sources(session: Session, story_id: int) -> list[StorySource]:
    """Every feed that carried the story, or the story it was merged into, or any story
    merged into that one: first seen first."""
    group = clusters.group_ids(session, clusters.root_of(session, story_id))
    rows = session.exec(
        select(Feed.name, Entry.link)
        .join(Feed, col(Feed.id) == col(Entry.feed_id))
        .where(col(Entry.story_id).in_(group))
        .order_by(col(Entry.first_seen_at), col(Entry.id))
    ).all()
    return [StorySource(feed=name, url=link) for name, link in rows]
