"""The webhook channel: POST an alert as JSON, signed per the Standard Webhooks spec.

Headers `webhook-id` (the delivery id, so a retry carries the same id), `webhook-timestamp`
(Unix seconds) and, when the channel has a secret, `webhook-signature` ("v1," + base64
HMAC-SHA256 over "{id}.{timestamp}." + body, keyed with the base64-decoded secret). A 2xx
is delivered; everything else raises DeliveryError: 410 as permanent, 429/503 with the
server's Retry-After, any other status, a redirect, a timeout or a network failure as
retryable. Unless private networks are allowed, the host must resolve to public
addresses only, and the address actually connected to is checked again.

Must not: follow redirects, read the response body (a hostile receiver could send an
endless one), or put the secret, the URL's path, query or credentials in any message.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac

import httpx

from aggregator import __version__
from aggregator.alerts.render import webhook_body
from aggregator.clock import utcnow
from aggregator.errors import DeliveryError
from aggregator.hints import parse_retry_after
from aggregator.netpolicy import AddressRefused, check_host, is_public
from aggregator.settings import WebhookChannel
from aggregator.types import Alert

__all__ = ["USER_AGENT", "WebhookSender", "parse_retry_after", "sign"]


USER_AGENT = f"aggregator/{__version__} (feed alerts; webhook)"
_SECRET_PREFIX = "whsec_"


def secret_key(secret: str) -> bytes:
    """The HMAC key of a Standard Webhooks secret ("whsec_" + base64)."""
    encoded = secret.removeprefix(_SECRET_PREFIX)
    return base64.b64decode(encoded + "=" * (-len(encoded) % 4))


def sign(key: bytes, delivery_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` value for one request."""
    digest = hmac.new(key, f"{delivery_id}.{timestamp}.".encode() + body, hashlib.sha256)
    return "v1," + base64.b64encode(digest.digest()).decode("ascii")


class WebhookSender:
    """A Channel that POSTs alerts to one webhook URL; one HTTP client, made on first use."""

    def __init__(self, settings: WebhookChannel, *, allow_private_networks: bool) -> None:
        self.name = settings.name
        self._raw_url = settings.url
        self._url = httpx.URL(settings.url)
        self._key = secret_key(settings.secret.reveal()) if settings.secret else None
        self._timeout = settings.timeout.total_seconds()
        self._allow_private = allow_private_networks
        self._client: httpx.AsyncClient | None = None
        port = f":{self._url.port}" if self._url.port else ""
        self._where = f"{self._url.scheme}://{self._url.host}{port}"  # no path, query, userinfo

    def _fail(
        self, reason: str, *, retry_after: float | None = None, permanent: bool = False
    ) -> DeliveryError:
        return DeliveryError(
            f"webhook {self.name!r} to {self._where}: {self._redact(reason)}",
            retry_after=retry_after,
            permanent=permanent,
        )

    def _redact(self, text: str) -> str:
        """Remove the URL, its credentials, path and query from a library's message."""
        url = self._url
        for private in (self._raw_url, str(url), url.password, url.raw_path.decode()):
            if private and private != "/":
                text = text.replace(private, "<redacted>")
        return text[:300]

    def headers(self, alert: Alert, body: bytes, timestamp: int) -> dict[str, str]:
        """The request headers, signed when the channel has a secret."""
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "webhook-id": alert.delivery_id,
            "webhook-timestamp": str(timestamp),
        }
        if self._key is not None:
            headers["webhook-signature"] = sign(self._key, alert.delivery_id, timestamp, body)
        return headers

    async def send(self, alert: Alert) -> None:
        body = webhook_body(alert)
        if not self._allow_private:
            try:
                await check_host(self._url.host, self._url.port or _default_port(self._url))
            except AddressRefused as exc:
                raise self._fail(str(exc)) from None
        headers = self.headers(alert, body, int(utcnow().timestamp()))
        if self._client is None:
            self._client = httpx.AsyncClient(
                follow_redirects=False, timeout=httpx.Timeout(self._timeout)
            )
        try:
            async with asyncio.timeout(self._timeout):
                request = self._client.stream("POST", self._url, content=body, headers=headers)
                async with request as response:
                    self._check_peer(response)
                    status, response_headers = response.status_code, response.headers
        except TimeoutError:
            raise self._fail(f"no answer within {self._timeout:g}s") from None
        except httpx.TimeoutException:
            raise self._fail(f"timed out (limit {self._timeout:g}s)") from None
        except httpx.ConnectError as exc:
            raise self._fail(f"cannot connect: {exc or 'connection failed'}") from None
        except httpx.HTTPError as exc:
            raise self._fail(f"{exc.__class__.__name__}: {exc}") from None
        self._judge(status, response_headers)

    def _check_peer(self, response: httpx.Response) -> None:
        """Refuse an answer from a non-public address (DNS may have changed since the check)."""
        if self._allow_private:
            return
        stream = response.extensions.get("network_stream")
        peer = stream.get_extra_info("server_addr") if stream is not None else None
        if peer and not is_public(str(peer[0])):
            raise self._fail(f"refused: connected to the non-public address {peer[0]}")

    def _judge(self, status: int, headers: httpx.Headers) -> None:
        if 200 <= status < 300:
            return
        if status == 410:
            raise self._fail(
                "the receiver answered 410 Gone: it no longer accepts alerts. This alert will"
                f" not be retried; fix or remove channel {self.name!r} in aggregator.toml",
                permanent=True,
            )
        if 300 <= status < 400:
            target = httpx.URL(headers.get("location", ""))
            moved = f" to {target.scheme}://{target.host}" if target.host else ""
            raise self._fail(
                f"answered {status}, a redirect{moved}; redirects are not followed,"
                " update the channel's url"
            )
        retry_after = None
        if status in (429, 503):
            retry_after = parse_retry_after(headers.get("retry-after"), utcnow())
        hint = f", retry after {retry_after:g}s" if retry_after is not None else ""
        raise self._fail(f"answered HTTP {status}{hint}", retry_after=retry_after)

    async def aclose(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            await client.aclose()


def _default_port(url: httpx.URL) -> int:
    return 443 if url.scheme == "https" else 80
