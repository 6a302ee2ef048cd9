"""Config snippets that point channels at the loopback receivers."""

from __future__ import annotations

from tests.helpers.receivers import SmtpServer, WebhookReceiver

SECRET_ENV = "TEST_WEBHOOK_SECRET"


def channels_toml(webhook: WebhookReceiver | None, smtp: SmtpServer | None) -> str:
    parts = []
    if webhook is not None:
        parts.append(
            f'[[channels]]\nname = "hook"\ntype = "webhook"\nurl = "{webhook.url}"\n'
            f'secret_env = "{SECRET_ENV}"\ntimeout = "2s"\n'
        )
    if smtp is not None:
        parts.append(
            '[[channels]]\nname = "mail"\ntype = "email"\nto = ["desk@example.org"]\n'
            'from = "aggregator@example.org"\nsmtp_host = "127.0.0.1"\n'
            f'smtp_port = {smtp.port}\nsecurity = "none"\ntimeout = "5s"\n'
        )
    return "\n".join(parts)


def watchlist_toml(name: str, terms: list[str], channels: list[str]) -> str:
    quoted = ", ".join(f'"{t}"' for t in terms)
    chans = ", ".join(f'"{c}"' for c in channels)
    return f'[[watchlists]]\nname = "{name}"\nany = [{quoted}]\nchannels = [{chans}]\n'
