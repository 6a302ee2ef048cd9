"""Feed URLs made fit to show and store: no credentials, no secret query values."""

from __future__ import annotations

import pytest

from aggregator.fetch import redact_url, scrub, url_secrets


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://h.example/f?a=1", "https://h.example/f?a=1"),
        ("https://u:p4ss@h.example:8443/f", "https://h.example:8443/f"),
        ("https://h.example/f?token=abc&page=2", "https://h.example/f?token=***&page=2"),
        ("https://h.example/f?access_token=a&API_KEY=b&key=c&sig=d", None),
        ("http://u:p@[::1]:8080/x?Token=t#frag", "http://[::1]:8080/x?Token=***#frag"),
        ("https://h.example/f?flag&x=", "https://h.example/f?flag&x="),
        ("http://[::1", "<unparseable URL>"),
    ],
)
def test_redact_url(url: str, shown: str | None) -> None:
    expected = shown or "https://h.example/f?access_token=***&API_KEY=***&key=***&sig=***"
    assert redact_url(url) == expected


def test_scrub_removes_every_form_of_every_secret() -> None:
    url = "https://us%40er:p%2Fss@h.example/f?token=T0K3N&q=public"
    assert set(url_secrets(url)) >= {"us%40er", "us@er", "p%2Fss", "p/ss", "T0K3N"}
    text = f"failed: {url} (user us@er, password p/ss, token T0K3N)"
    cleaned = scrub(text, url)
    for secret in ("us@er", "p/ss", "p%2Fss", "T0K3N"):
        assert secret not in cleaned
    assert "q=public" in cleaned and "h.example" in cleaned
