"""The log channel: one line per alert on standard output (the journal, under systemd).

Useful to try a watchlist before wiring email or webhooks, and as a record beside them.
The line comes from render.one_line, which strips control characters, so a feed cannot
forge extra log lines.

Must not: write anything but that one line, buffer it (it is flushed at once), or use the
logging module (whose level and handlers the user may configure away).
"""

from __future__ import annotations

import sys

from aggregator.alerts.render import one_line
from aggregator.errors import DeliveryError
from aggregator.settings import LogChannel
from aggregator.types import Alert

__all__ = ["LogSender"]


class LogSender:
    """A Channel that prints each alert as one line and flushes."""

    def __init__(self, settings: LogChannel) -> None:
        self.name = settings.name

    async def send(self, alert: Alert) -> None:
        line = one_line(alert)
        try:
            stream = sys.stdout
            stream.write(line + "\n")
            stream.flush()
        except (OSError, ValueError) as exc:  # closed or broken stdout
            raise DeliveryError(
                f"log {self.name!r}: cannot write to standard output: {exc.__class__.__name__}"
            ) from None

    async def aclose(self) -> None:
        """Nothing to close; standard output belongs to the process."""
