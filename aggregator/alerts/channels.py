"""Channels: the protocol every delivery channel implements, and the registry of types.

A channel is built from its settings (aggregator.settings.ChannelSettings) and a
ChannelContext holding the process-wide options it may need. `CHANNEL_TYPES` maps the
config's `type` to a builder; a new channel type is a new module and one entry there,
never a branch in the callers. `build_channels` builds every configured channel.

Must not: deliver, retry or decide backoff (the outbox dispatcher does that with the
DeliveryError a channel raises: `permanent` and `retry_after`), read files or settings
beyond what it is given, or log secrets.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Protocol, TypeVar, runtime_checkable

from aggregator.alerts.email import EmailSender
from aggregator.alerts.log import LogSender
from aggregator.alerts.webhook import WebhookSender
from aggregator.settings import ChannelSettings, EmailChannel, LogChannel, WebhookChannel
from aggregator.types import Alert

__all__ = [
    "CHANNEL_TYPES",
    "Channel",
    "ChannelBuilder",
    "ChannelContext",
    "build_channel",
    "build_channels",
    "close_channels",
]


@runtime_checkable
class Channel(Protocol):
    """Delivers alerts somewhere. `send` returns when delivered, else raises DeliveryError.

    `send` may be called again with the same alert (a retry); it must reuse the alert's
    delivery id, never invent a new one. `aclose` releases connections; calling it twice
    is harmless.
    """

    name: str

    async def send(self, alert: Alert) -> None: ...

    async def aclose(self) -> None: ...


@dataclass(frozen=True, slots=True)
class ChannelContext:
    """Process-wide options a channel may need (from [http] and the like)."""

    allow_private_networks: bool = False


ChannelBuilder = Callable[[ChannelSettings, ChannelContext], Channel]
_S = TypeVar("_S", WebhookChannel, EmailChannel, LogChannel)


def _expect(settings: ChannelSettings, kind: type[_S]) -> _S:
    if not isinstance(settings, kind):
        raise TypeError(f"channel {settings.name!r} is {settings.type!r}, not {kind.__name__}")
    return settings


def _webhook(settings: ChannelSettings, context: ChannelContext) -> Channel:
    return WebhookSender(
        _expect(settings, WebhookChannel),
        allow_private_networks=context.allow_private_networks,
    )


def _email(settings: ChannelSettings, context: ChannelContext) -> Channel:
    return EmailSender(_expect(settings, EmailChannel))


def _log(settings: ChannelSettings, context: ChannelContext) -> Channel:
    return LogSender(_expect(settings, LogChannel))


CHANNEL_TYPES: Mapping[str, ChannelBuilder] = MappingProxyType(
    {"webhook": _webhook, "email": _email, "log": _log}
)


def build_channel(settings: ChannelSettings, context: ChannelContext) -> Channel:
    """Build one channel from its settings; KeyError names an unregistered type."""
    try:
        builder = CHANNEL_TYPES[settings.type]
    except KeyError:
        known = sorted(CHANNEL_TYPES)
        raise KeyError(f"no channel type {settings.type!r} (known: {known})") from None
    return builder(settings, context)


def build_channels(
    settings_channels: Iterable[ChannelSettings], allow_private_networks: bool
) -> dict[str, Channel]:
    """Every configured channel, by name (names are unique: settings checked that)."""
    context = ChannelContext(allow_private_networks=allow_private_networks)
    return {settings.name: build_channel(settings, context) for settings in settings_channels}


async def close_channels(channels: Mapping[str, Channel]) -> None:
    """Close every channel, even if closing one fails; the first failure is re-raised."""
    first: BaseException | None = None
    for channel in channels.values():
        try:
            await channel.aclose()
        except Exception as exc:
            first = first or exc
    if first is not None:
        raise first
