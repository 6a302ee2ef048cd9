"""The email channel: one multipart/alternative message per alert, sent over SMTP.

smtplib runs in a worker thread (asyncio.to_thread). Security is "none" (plain SMTP),
"starttls" (upgrade required: a server that does not offer it is an error, never a
silent plaintext fallback) or "tls" (implicit TLS, SMTP_SSL); login when the channel has
a username. The Message-ID is derived from the delivery id, so a retried alert carries
the same Message-ID and mail software can drop the duplicate.

Failures become DeliveryError: 4xx replies, network errors and timeouts are retryable;
a 5xx refusal of every recipient or of the message data is permanent; a refused login,
a refused sender or a missing STARTTLS is retryable (the config can be fixed) with a
message that says what to fix.

Must not: let the password (or its base64 forms) reach a message, log or exception,
build headers from unsanitised feed text (the subject comes from render.email_subject),
or raise anything but DeliveryError from `send` (an alert that cannot be built is a
permanent failure, recorded, so it never blocks the outbox).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
import re
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import format_datetime

from aggregator.alerts.render import email_bodies, email_subject
from aggregator.clock import utcnow
from aggregator.errors import DeliveryError
from aggregator.settings import EmailChannel
from aggregator.types import Alert

__all__ = ["EmailSender", "build_message", "message_id"]

log = logging.getLogger(__name__)
_ID_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


def message_id(delivery_id: str) -> str:
    """`<{delivery_id}@aggregator>`, with any character unsafe in a Message-ID removed
    (an id with nothing safe in it is replaced by its hash)."""
    safe = _ID_UNSAFE.sub("", delivery_id)
    if not safe:
        safe = hashlib.sha256(delivery_id.encode("utf-8", "replace")).hexdigest()[:32]
    return f"<{safe}@aggregator>"


def build_message(alert: Alert, settings: EmailChannel) -> EmailMessage:
    """The complete message: plain text and HTML alternatives, headers from the alert."""
    text, page = email_bodies(alert)
    message = EmailMessage()
    message["Subject"] = email_subject(alert)
    message["From"] = settings.from_addr
    message["To"] = ", ".join(settings.to)
    message["Date"] = format_datetime(utcnow(), usegmt=True)
    message["Message-ID"] = message_id(alert.delivery_id)
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(text)
    message.add_alternative(page, subtype="html")
    return message


class EmailSender:
    """A Channel that mails alerts through one SMTP server (a new connection per alert).

    `ssl_context` defaults to the system's verifying context; tests pass one that trusts
    their own certificate.
    """

    def __init__(self, settings: EmailChannel, *, ssl_context: ssl.SSLContext | None = None):
        self.name = settings.name
        self._settings = settings
        self._ssl = ssl_context
        port = settings.smtp_port
        self._where = f"{settings.smtp_host}:{port} ({settings.security})"

    async def send(self, alert: Alert) -> None:
        try:
            message = build_message(alert, self._settings)
            message.as_bytes()  # what smtplib will do: fail here, not half-way through SMTP
        except Exception as exc:  # render.py makes this unreachable; never block the outbox
            raise self._fail(
                f"cannot build the message: {exc.__class__.__name__}: {exc}", permanent=True
            ) from None
        await asyncio.to_thread(self._deliver, message)

    async def aclose(self) -> None:
        """Nothing to close: each delivery opens and closes its own connection."""

    def _fail(self, reason: str, *, permanent: bool = False) -> DeliveryError:
        return DeliveryError(
            f"email {self.name!r} via {self._where}: {self._redact(reason)}", permanent=permanent
        )

    def _redact(self, text: str) -> str:
        secret = self._settings.password.reveal() if self._settings.password else ""
        if secret:
            user = (self._settings.username or "").encode()
            forms = [
                secret,
                base64.b64encode(secret.encode()).decode(),
                base64.b64encode(b"\0" + user + b"\0" + secret.encode()).decode(),
            ]
            for form in forms:
                text = text.replace(form, "***")
        return text[:300]

    def _connect(self) -> smtplib.SMTP:
        s = self._settings
        timeout = s.timeout.total_seconds()
        context = self._ssl or ssl.create_default_context()
        if s.security == "tls":
            return smtplib.SMTP_SSL(s.smtp_host, s.smtp_port, timeout=timeout, context=context)
        smtp = smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=timeout)
        if s.security == "starttls":
            try:
                smtp.ehlo()
                if not smtp.has_extn("starttls"):
                    raise self._fail(
                        "the server does not offer STARTTLS; not sending in plain text"
                        ' (set security = "none" only if that is acceptable)'
                    )
                smtp.starttls(context=context)
            except BaseException:
                smtp.close()
                raise
        return smtp

    def _deliver(self, message: EmailMessage) -> None:
        """Connect, upgrade, log in and send; runs in a worker thread."""
        s = self._settings
        try:
            with self._connect() as smtp:
                if s.username is not None and s.password is not None:
                    smtp.login(s.username, s.password.reveal())
                refused = smtp.send_message(message, s.from_addr, list(s.to))
        except DeliveryError:
            raise
        except smtplib.SMTPAuthenticationError as exc:
            raise self._fail(
                f"the server refused the login of user {s.username!r} ({exc.smtp_code}"
                f" {_text(exc.smtp_error)}); check username and password_env"
            ) from None
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            replies = "; ".join(
                f"{rcpt}: {code} {_text(reply)}" for rcpt, (code, reply) in exc.recipients.items()
            )
            permanent = all(code >= 500 for code in codes)
            raise self._fail(f"every recipient refused: {replies}", permanent=permanent) from None
        except smtplib.SMTPSenderRefused as exc:
            raise self._fail(
                f"the server refused the sender {s.from_addr} ({exc.smtp_code}"
                f" {_text(exc.smtp_error)}); check the channel's from address"
            ) from None
        except smtplib.SMTPDataError as exc:
            permanent = exc.smtp_code >= 500
            kind = "rejected" if permanent else "deferred"
            raise self._fail(
                f"message {kind}: {exc.smtp_code} {_text(exc.smtp_error)}", permanent=permanent
            ) from None
        except smtplib.SMTPNotSupportedError as exc:
            raise self._fail(f"not supported by the server: {exc}") from None
        except smtplib.SMTPResponseException as exc:
            raise self._fail(f"{exc.smtp_code} {_text(exc.smtp_error)}") from None
        except (smtplib.SMTPException, OSError) as exc:
            reason = getattr(exc, "strerror", None) or str(exc) or exc.__class__.__name__
            raise self._fail(f"{exc.__class__.__name__}: {reason}") from None
        if refused:
            log.warning(
                "email %r: delivered, but the server refused %s", self.name, ", ".join(refused)
            )


def _text(reply: bytes | str) -> str:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply
    return " ".join(text.split())
