"""Alert channel settings: one frozen dataclass and one builder per channel `type`.

Responsible for: validating a `[[channels]]` table of aggregator.toml and building its
dataclass. The builder is chosen from the `CHANNEL_TYPES` registry by the table's `type`
key; a new channel type is a new dataclass, a new builder and one registry entry.

Must not: send anything or import the alert delivery code, read files, or let a secret's
value reach a message or repr (secrets arrive from the environment wrapped in `Secret`).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from types import MappingProxyType
from typing import Literal, TypeAlias, cast

from aggregator.settings_fields import (
    Secret,
    Table,
    as_duration,
    as_email,
    as_http_url,
    as_name,
    as_str,
    int_in,
    list_of,
    one_of,
)

Security: TypeAlias = Literal["none", "starttls", "tls"]
WEBHOOK_SECRET_PREFIX = "whsec_"
_WEBHOOK_TIMEOUT = timedelta(seconds=10)
_EMAIL_TIMEOUT = timedelta(seconds=30)
_SMTP_PORTS: Mapping[str, int] = {"none": 25, "starttls": 587, "tls": 465}  # default per security


@dataclass(frozen=True, slots=True)
class WebhookChannel:
    """POST a signed JSON event (Standard Webhooks) to `url`; unsigned if no secret."""

    name: str
    url: str
    secret: Secret | None = None
    timeout: timedelta = _WEBHOOK_TIMEOUT
    type: Literal["webhook"] = "webhook"


@dataclass(frozen=True, slots=True)
class EmailChannel:
    """Send a multipart email through an SMTP server; login if `username` is set."""

    name: str
    to: tuple[str, ...]
    from_addr: str
    smtp_host: str = "localhost"
    smtp_port: int = 25
    security: Security = "none"
    username: str | None = None
    password: Secret | None = None
    timeout: timedelta = _EMAIL_TIMEOUT
    type: Literal["email"] = "email"


@dataclass(frozen=True, slots=True)
class LogChannel:
    """Write alerts to standard output (the journal, under systemd)."""

    name: str
    type: Literal["log"] = "log"


ChannelSettings: TypeAlias = WebhookChannel | EmailChannel | LogChannel
ChannelBuilder: TypeAlias = Callable[[Table, str, Mapping[str, str]], ChannelSettings | None]


def _is_webhook_secret(value: str) -> bool:
    if not value.startswith(WEBHOOK_SECRET_PREFIX):
        return False
    try:
        return bool(base64.b64decode(value[len(WEBHOOK_SECRET_PREFIX) :], validate=True))
    except (binascii.Error, ValueError):
        return False


def _webhook(table: Table, name: str, environ: Mapping[str, str]) -> WebhookChannel | None:
    url = table.require("url", as_http_url)
    timeout = table.get("timeout", as_duration, _WEBHOOK_TIMEOUT)
    secret = None
    found = table.env("secret_env", environ)
    if found is not None:
        variable, value = found
        if _is_webhook_secret(value):
            secret = Secret(value)
        else:
            table.error(
                "secret_env",
                f"environment variable {variable} does not hold a Standard Webhooks secret"
                f" ('{WEBHOOK_SECRET_PREFIX}' followed by base64)",
            )
    if url is None:
        return None
    return WebhookChannel(name=name, url=url, secret=secret, timeout=timeout)


def _email(table: Table, name: str, environ: Mapping[str, str]) -> EmailChannel | None:
    to = table.require("to", list_of(as_email, empty="must list at least one address"))
    from_addr = table.require("from", as_email)
    host = table.get("smtp_host", as_name, "localhost")
    security = cast(Security, table.get("security", one_of(*_SMTP_PORTS), "none"))
    port = table.get("smtp_port", int_in(1, 65535), _SMTP_PORTS[security])
    username = table.optional("username", as_name)
    found = table.env("password_env", environ)
    timeout = table.get("timeout", as_duration, _EMAIL_TIMEOUT)
    if "username" in table and "password_env" not in table:
        table.error("username", "SMTP login needs password_env as well")
    elif "password_env" in table and "username" not in table:
        table.error("password_env", "SMTP login needs username as well")
    if to is None or from_addr is None:
        return None
    return EmailChannel(
        name=name,
        to=to,
        from_addr=from_addr,
        smtp_host=host,
        smtp_port=port,
        security=security,
        username=username,
        password=Secret(found[1]) if found else None,
        timeout=timeout,
    )


def _log(table: Table, name: str, environ: Mapping[str, str]) -> LogChannel:
    return LogChannel(name=name)


CHANNEL_TYPES: Mapping[str, ChannelBuilder] = MappingProxyType(
    {"email": _email, "log": _log, "webhook": _webhook}
)


def build_channel(
    table: Table, environ: Mapping[str, str]
) -> tuple[str | None, ChannelSettings | None]:
    """Validate one [[channels]] table: (its name if valid, its settings if all valid)."""
    name = table.require("name", as_name)
    kind = table.optional("type", as_str)
    builder = CHANNEL_TYPES.get(kind) if kind is not None else None
    if builder is None:
        known = ", ".join(sorted(CHANNEL_TYPES))
        if "type" not in table:
            table.error("type", f"missing required key (one of: {known})")
        elif kind is not None:
            table.error("type", f"unknown channel type {kind!r} (known: {known})")
        table.ignore_rest()  # without a type, no key can be judged unknown
        return name, None
    channel = builder(table, name or "", environ)
    return name, channel if name is not None else None
