"""Alert channels against real receivers on loopback: webhook, SMTP (plain, STARTTLS, TLS), log."""

from __future__ import annotations

import asyncio
import base64
import json
import shutil
import ssl
import subprocess
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from aggregator.alerts.channels import CHANNEL_TYPES, Channel, build_channels
from aggregator.alerts.email import EmailSender, message_id
from aggregator.alerts.log import LogSender
from aggregator.alerts.render import email_subject, one_line, webhook_body
from aggregator.alerts.webhook import WebhookSender, parse_retry_after, secret_key, sign
from aggregator.errors import DeliveryError
from aggregator.settings import EmailChannel, LogChannel, Secret, WebhookChannel
from aggregator.types import Alert
from tests.helpers import receivers
from tests.helpers.receivers import (
    SmtpServer,
    WebhookReceiver,
    free_port,
    make_alert,
    new_secret,
)

# The receivers' fixtures, until they move into conftest.py.
webhook_receiver = receivers.webhook_receiver
smtp_server = receivers.smtp_server

Outcome = DeliveryError | None


def send_all(channel: Channel, *alerts: Alert) -> list[Outcome]:
    """Send each alert in turn within one event loop; the error each raised, or None."""

    async def go() -> list[Outcome]:
        outcomes: list[Outcome] = []
        try:
            for alert in alerts:
                try:
                    await channel.send(alert)
                    outcomes.append(None)
                except DeliveryError as exc:
                    outcomes.append(exc)
        finally:
            await channel.aclose()
        return outcomes

    return asyncio.run(go())


def hook(
    url: str, secret: str | None, *, timeout: float = 5.0, private: bool = True
) -> WebhookSender:
    settings = WebhookChannel(
        name="ops-webhook",
        url=url,
        secret=Secret(secret) if secret else None,
        timeout=timedelta(seconds=timeout),
    )
    return WebhookSender(settings, allow_private_networks=private)


def retryable(outcome: Outcome) -> DeliveryError:
    assert isinstance(outcome, DeliveryError)
    assert not outcome.permanent
    return outcome


# -- webhook ---------------------------------------------------------------------------


def test_webhook_is_signed_verifiably_and_id_matches_body(
    webhook_receiver: WebhookReceiver,
) -> None:
    alert = make_alert()
    before = time.time()
    assert send_all(hook(webhook_receiver.url, webhook_receiver.secret), alert) == [None]
    [attempt] = webhook_receiver.attempts
    assert attempt.verified  # standardwebhooks accepted the signature
    assert webhook_receiver.deliveries == [(alert.delivery_id, json.loads(attempt.body))]
    assert attempt.headers["webhook-id"] == alert.delivery_id
    assert json.loads(attempt.body)["id"] == alert.delivery_id
    assert attempt.body == webhook_body(alert)
    assert attempt.headers["content-type"] == "application/json"
    assert "aggregator" in attempt.headers["user-agent"]
    assert before - 1 <= int(attempt.headers["webhook-timestamp"]) <= time.time() + 1
    assert attempt.headers["webhook-signature"].startswith("v1,")


def test_signature_matches_the_reference_and_fails_with_another_secret() -> None:
    secret, body, stamp = new_secret(), webhook_body(make_alert()), 1_790_000_000
    ours = sign(secret_key(secret), "dlv-1", stamp, body)
    reference = Webhook(secret).sign("dlv-1", datetime.fromtimestamp(stamp, UTC), body.decode())
    assert ours == reference
    headers = {"webhook-id": "dlv-1", "webhook-timestamp": str(int(time.time()))}
    headers["webhook-signature"] = sign(secret_key(secret), "dlv-1", int(time.time()), body)
    Webhook(secret).verify(body, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret()).verify(body, headers)


def test_webhook_with_a_wrong_secret_is_refused_by_the_receiver(
    webhook_receiver: WebhookReceiver,
) -> None:
    [outcome] = send_all(hook(webhook_receiver.url, new_secret()), make_alert())
    assert "401" in str(retryable(outcome))
    assert [a.verified for a in webhook_receiver.attempts] == [False]
    assert webhook_receiver.deliveries == []


def test_webhook_without_secret_is_sent_unsigned() -> None:
    receiver = WebhookReceiver(secret=None)
    try:
        assert send_all(hook(receiver.url, None), make_alert()) == [None]
        [attempt] = receiver.attempts
        assert "webhook-signature" not in attempt.headers
        assert attempt.headers["webhook-id"] == "dlv-01J9Z6"
    finally:
        receiver.close()


def test_webhook_500_is_retryable_and_the_retry_reuses_the_id(
    webhook_receiver: WebhookReceiver,
) -> None:
    webhook_receiver.answer(500)
    alert = make_alert()
    first, second = send_all(hook(webhook_receiver.url, webhook_receiver.secret), alert, alert)
    error = retryable(first)
    assert "500" in str(error) and error.retry_after is None
    assert second is None
    assert [a.headers["webhook-id"] for a in webhook_receiver.attempts] == [alert.delivery_id] * 2
    assert [d[0] for d in webhook_receiver.deliveries] == [alert.delivery_id]


def test_webhook_410_is_permanent_and_says_so(webhook_receiver: WebhookReceiver) -> None:
    webhook_receiver.answer(410)
    [outcome] = send_all(hook(webhook_receiver.url, webhook_receiver.secret), make_alert())
    assert isinstance(outcome, DeliveryError) and outcome.permanent
    assert "410" in str(outcome) and "ops-webhook" in str(outcome)
    assert webhook_receiver.secret is not None
    assert webhook_receiver.secret not in str(outcome)


@pytest.mark.parametrize("status", [429, 503])
def test_webhook_retry_after_seconds_is_passed_on(
    webhook_receiver: WebhookReceiver, status: int
) -> None:
    webhook_receiver.answer(status, headers={"Retry-After": "120"})
    [outcome] = send_all(hook(webhook_receiver.url, webhook_receiver.secret), make_alert())
    assert retryable(outcome).retry_after == 120.0


def test_webhook_retry_after_http_date_is_passed_on(webhook_receiver: WebhookReceiver) -> None:
    when = datetime.now(UTC) + timedelta(seconds=300)
    webhook_receiver.answer(
        429, headers={"Retry-After": when.strftime("%a, %d %b %Y %H:%M:%S GMT")}
    )
    [outcome] = send_all(hook(webhook_receiver.url, webhook_receiver.secret), make_alert())
    retry_after = retryable(outcome).retry_after
    assert retry_after is not None and 290 <= retry_after <= 301


def test_parse_retry_after_forms() -> None:
    now = datetime(2026, 11, 21, tzinfo=UTC)
    assert parse_retry_after("30", now) == 30.0
    assert parse_retry_after("Sat, 21 Nov 2026 00:01:00 GMT", now) == 60.0
    assert parse_retry_after("Fri, 20 Nov 2026 00:00:00 GMT", now) == 0.0
    assert parse_retry_after("soon", now) is None
    assert parse_retry_after(None, now) is None


def test_webhook_redirect_is_not_followed(webhook_receiver: WebhookReceiver) -> None:
    webhook_receiver.answer(302, headers={"Location": webhook_receiver.url + "/elsewhere"})
    [outcome] = send_all(hook(webhook_receiver.url, webhook_receiver.secret), make_alert())
    assert "redirect" in str(retryable(outcome))
    assert len(webhook_receiver.attempts) == 1


def test_webhook_refused_connection_is_retryable_and_hides_url_secrets() -> None:
    url = f"http://user:pa55word@127.0.0.1:{free_port()}/hooks/T0KEN-path?token=qs-secret"
    secret = new_secret()
    [outcome] = send_all(hook(url, secret), make_alert())
    message = str(retryable(outcome))
    assert "127.0.0.1" in message
    for private in ("pa55word", "T0KEN", "qs-secret", secret, secret.removeprefix("whsec_")):
        assert private not in message


def test_webhook_timeout_is_retryable(webhook_receiver: WebhookReceiver) -> None:
    webhook_receiver.stall(5)
    started = time.monotonic()
    [outcome] = send_all(
        hook(webhook_receiver.url, webhook_receiver.secret, timeout=0.3), make_alert()
    )
    assert time.monotonic() - started < 2.5
    assert "0.3s" in str(retryable(outcome))


def test_webhook_slow_answer_hits_the_overall_deadline(webhook_receiver: WebhookReceiver) -> None:
    webhook_receiver.trickle(0.05)  # every read gets a byte in time; the whole takes 10s
    started = time.monotonic()
    [outcome] = send_all(
        hook(webhook_receiver.url, webhook_receiver.secret, timeout=0.5), make_alert()
    )
    assert time.monotonic() - started < 2.5
    assert "0.5s" in str(retryable(outcome))


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "[::1]"])
def test_webhook_to_private_address_is_refused_by_default(
    webhook_receiver: WebhookReceiver, host: str
) -> None:
    url = webhook_receiver.url.replace("127.0.0.1", host)
    [outcome] = send_all(hook(url, webhook_receiver.secret, private=False), make_alert())
    assert "non-public" in str(retryable(outcome))
    assert webhook_receiver.attempts == []


# -- registry --------------------------------------------------------------------------


def test_registry_builds_every_channel_type_by_name() -> None:
    settings: Sequence[WebhookChannel | EmailChannel | LogChannel] = (
        WebhookChannel(name="hook", url="https://hooks.example.org/x"),
        EmailChannel(name="mail", to=("a@example.org",), from_addr="b@example.org"),
        LogChannel(name="journal"),
    )
    assert set(CHANNEL_TYPES) == {"webhook", "email", "log"}
    channels = build_channels(settings, allow_private_networks=False)
    assert list(channels) == ["hook", "mail", "journal"]
    assert isinstance(channels["hook"], WebhookSender)
    assert isinstance(channels["mail"], EmailSender)
    assert isinstance(channels["journal"], LogSender)
    assert all(isinstance(c, Channel) and c.name == n for n, c in channels.items())


# -- email -----------------------------------------------------------------------------


def mailer(
    server: SmtpServer | None,
    *,
    security: str = "none",
    username: str | None = None,
    password: str | None = None,
    context: ssl.SSLContext | None = None,
    to: tuple[str, ...] = ("desk@example.org",),
) -> EmailSender:
    settings = EmailChannel(
        name="desk-email",
        to=to,
        from_addr="aggregator@example.org",
        smtp_host="127.0.0.1",
        smtp_port=server.port if server else free_port(),
        security=security,  # type: ignore[arg-type]
        username=username,
        password=Secret(password) if password else None,
        timeout=timedelta(seconds=5),
    )
    return EmailSender(settings, ssl_context=context)


def test_email_is_multipart_with_headers_from_the_alert(smtp_server: SmtpServer) -> None:
    alert = make_alert()
    assert send_all(mailer(smtp_server), alert) == [None]
    [received] = smtp_server.messages
    message = received.message
    assert received.mail_from == "aggregator@example.org"
    assert received.rcpt_tos == ["desk@example.org"]
    assert message.get_content_type() == "multipart/alternative"
    parts = [p.get_content_type() for p in message.iter_parts()]
    assert parts == ["text/plain", "text/html"]
    assert message["Message-ID"] == f"<{alert.delivery_id}@aggregator>" == message_id("dlv-01J9Z6")
    assert message["Subject"] == email_subject(alert)
    assert message["From"] == "aggregator@example.org"
    assert message["To"] == "desk@example.org"
    assert message["Date"].datetime.tzinfo is not None
    plain, page = (p.get_content() for p in message.iter_parts())
    assert "*Yarmouk* Palestinian refugee camp" in plain
    assert "<mark>Yarmouk</mark>" in page


def test_email_subject_injection_makes_no_header(smtp_server: SmtpServer) -> None:
    alert = make_alert(title="Camp news\r\nBcc: evil@x\r\n\r\nbody")
    assert send_all(mailer(smtp_server), alert) == [None]
    [received] = smtp_server.messages
    assert received.message["Bcc"] is None
    assert received.rcpt_tos == ["desk@example.org"]
    subject = received.message["Subject"]
    assert "\r" not in subject and "\n" not in subject
    assert subject.startswith("[yarmouk] Camp news") and "Bcc: evil@x" in subject


def test_email_html_is_sanitised(smtp_server: SmtpServer) -> None:
    summary = '<p onclick="x()">a<script>alert(1)</script><a href="javascript:go()">b</a></p>'
    alert = make_alert(summary=summary, url="javascript:alert(2)")
    assert send_all(mailer(smtp_server), alert) == [None]
    page = smtp_server.messages[0].message.get_body(("html",))
    assert page is not None
    html = page.get_content().lower()
    assert "<script" not in html and "onclick" not in html and "javascript:" not in html


def test_email_451_is_retryable_then_the_retry_succeeds(smtp_server: SmtpServer) -> None:
    smtp_server.handler.data_replies.append("451 4.3.0 try later")
    alert = make_alert()
    first, second = send_all(mailer(smtp_server), alert, alert)
    assert "451" in str(retryable(first))
    assert second is None
    assert smtp_server.handler.data_commands == 2
    assert [m.message["Message-ID"] for m in smtp_server.messages] == ["<dlv-01J9Z6@aggregator>"]


def test_email_554_data_rejection_is_permanent(smtp_server: SmtpServer) -> None:
    smtp_server.handler.data_replies.append("554 5.6.0 message refused")
    [outcome] = send_all(mailer(smtp_server), make_alert())
    assert isinstance(outcome, DeliveryError) and outcome.permanent and "554" in str(outcome)


def test_email_recipients_refused_5xx_is_permanent_4xx_retryable(smtp_server: SmtpServer) -> None:
    smtp_server.handler.refuse["desk@example.org"] = "550 5.1.1 no such user"
    [outcome] = send_all(mailer(smtp_server), make_alert())
    assert isinstance(outcome, DeliveryError) and outcome.permanent and "550" in str(outcome)
    smtp_server.handler.refuse["desk@example.org"] = "450 4.2.1 mailbox busy"
    [outcome] = send_all(mailer(smtp_server), make_alert())
    assert "450" in str(retryable(outcome))
    assert smtp_server.messages == []


def test_email_one_refused_recipient_of_two_still_delivers(smtp_server: SmtpServer) -> None:
    smtp_server.handler.refuse["gone@example.org"] = "550 5.1.1 no such user"
    sender = mailer(smtp_server, to=("gone@example.org", "desk@example.org"))
    assert send_all(sender, make_alert()) == [None]
    assert [m.rcpt_tos for m in smtp_server.messages] == [["desk@example.org"]]


def test_email_login_succeeds_with_the_right_password(smtp_server: SmtpServer) -> None:
    sender = mailer(smtp_server, username=SmtpServer.USER, password=SmtpServer.PASSWORD)
    assert send_all(sender, make_alert()) == [None]
    assert (SmtpServer.USER, True) in smtp_server.logins
    assert len(smtp_server.messages) == 1


def test_email_refused_login_is_retryable_and_never_shows_the_password(
    smtp_server: SmtpServer,
) -> None:
    password = "wrong-Pa55-xyz"
    sender = mailer(smtp_server, username=SmtpServer.USER, password=password)
    [outcome] = send_all(sender, make_alert())
    message = str(retryable(outcome))
    assert "login" in message and SmtpServer.USER in message and "password_env" in message
    assert password not in message  # the test server echoes it in its 535 reply
    assert base64.b64encode(password.encode()).decode() not in message
    assert smtp_server.messages == []


def test_email_connection_refused_is_retryable() -> None:
    [outcome] = send_all(mailer(None), make_alert())
    assert "127.0.0.1" in str(retryable(outcome))


def test_email_starttls_never_falls_back_to_plain_text(smtp_server: SmtpServer) -> None:
    [outcome] = send_all(mailer(smtp_server, security="starttls"), make_alert())
    assert "STARTTLS" in str(retryable(outcome))
    assert smtp_server.handler.data_commands == 0


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a test certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


@pytest.mark.parametrize("security", ["starttls", "tls"])
def test_email_over_tls_with_login(tls_files: tuple[Path, Path], security: str) -> None:
    cert, key = tls_files
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(cert, key)
    options = (
        {"tls_context": server_context, "require_starttls": True}
        if security == "starttls"
        else {"ssl_context": server_context}
    )
    server = SmtpServer(**options)
    try:
        client_context = ssl.create_default_context(cafile=str(cert))
        sender = mailer(
            server,
            security=security,
            username=SmtpServer.USER,
            password=SmtpServer.PASSWORD,
            context=client_context,
        )
        assert send_all(sender, make_alert()) == [None]
        assert len(server.messages) == 1 and (SmtpServer.USER, True) in server.logins
        untrusting = mailer(server, security=security)  # system CAs: the test cert is unknown
        assert "SSL" in str(retryable(send_all(untrusting, make_alert())[0]))
    finally:
        server.close()


# -- log -------------------------------------------------------------------------------


def test_log_channel_prints_one_line_per_alert(capsys: pytest.CaptureFixture[str]) -> None:
    first, second = make_alert(title="two\nlines"), make_alert("dlv-2")
    assert send_all(LogSender(LogChannel(name="journal")), first, second) == [None, None]
    out = capsys.readouterr().out
    assert out == one_line(first) + "\n" + one_line(second) + "\n"
    assert out.count("\n") == 2
