"""A sample alert for `aggregator send-test`: realistic, clearly marked as a test."""

from __future__ import annotations

from aggregator.clock import utcnow
from aggregator.storage.outbox import new_delivery_id
from aggregator.types import Alert, AlertStory, Highlight, StorySource

SNIPPET = (
    "… this is a test alert from aggregator: fighters have taken control of nearly the "
    "entire Yarmouk Palestinian refugee camp in Damascus …"
)


def sample_alert(channel: str) -> Alert:
    now = utcnow()
    return Alert(
        delivery_id=new_delivery_id(),
        channel=channel,
        watchlist="test",
        matched=("Yarmouk",),
        highlights=(Highlight("summary", "Yarmouk", SNIPPET),),
        story=AlertStory(
            id="test",
            title="[TEST] aggregator test alert: Yarmouk refugee camp",
            url="https://example.org/aggregator-test-alert",
            published=now,
            feed_name="aggregator-test",
            feed_url="https://example.org/feed.xml",
            sources=(StorySource("aggregator-test", "https://example.org/aggregator-test-alert"),),
            snippet=SNIPPET,
        ),
        created_at=now,
    )
