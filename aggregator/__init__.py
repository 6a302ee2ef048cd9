"""aggregator: a feed alerting daemon (poll, dedup, match, alert)."""

__version__ = "0.1.0"
