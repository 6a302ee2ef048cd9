"""Content-Encoding undone by fetch.py itself, in bounded steps: every form servers send."""

from __future__ import annotations

import gzip
import zlib

import pytest

from aggregator.errors import FetchError
from aggregator.fetch import FetchLimits
from tests.helpers.feedserver import FeedServer
from tests.test_fetch import fetch

BODY = b"<rss><channel><title>" + b"words " * 50_000 + b"</title></channel></rss>"


def _raw_deflate(data: bytes) -> bytes:
    packer = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    return packer.compress(data) + packer.flush()


@pytest.mark.parametrize(
    ("encoding", "body"),
    [
        ("gzip", gzip.compress(BODY)),
        ("x-gzip", gzip.compress(BODY)),
        ("GZIP", gzip.compress(BODY)),
        ("deflate", zlib.compress(BODY)),  # zlib-wrapped, as the RFC says
        ("deflate", _raw_deflate(BODY)),  # raw, as many servers send it
        ("gzip, gzip", gzip.compress(gzip.compress(BODY))),
        ("deflate, gzip", gzip.compress(zlib.compress(BODY))),
        ("identity", BODY),
        ("identity, gzip", gzip.compress(BODY)),
    ],
)
def test_encodings_are_undone(feed_server: FeedServer, encoding: str, body: bytes) -> None:
    url = feed_server.set("/f", body, headers={"Content-Encoding": encoding})
    assert fetch(url).body == BODY
    assert feed_server.requests_for("/f")[0].headers["Accept-Encoding"] == "gzip, deflate"


def test_cap_counts_decompressed_bytes_of_every_layer(feed_server: FeedServer) -> None:
    url = feed_server.set(
        "/f", gzip.compress(gzip.compress(BODY)), headers={"Content-Encoding": "gzip, gzip"}
    )
    with pytest.raises(FetchError, match=r"limit \(decompressed\)"):
        fetch(url, FetchLimits(max_body=len(BODY) - 1, allow_private_networks=True))


@pytest.mark.parametrize(
    ("encoding", "message"),
    [
        ("br", "unsupported Content-Encoding 'br'"),
        ("gzip, gzip, gzip, gzip", "too many Content-Encoding layers"),
    ],
)
def test_unusable_encodings_are_fetch_errors(
    feed_server: FeedServer, encoding: str, message: str
) -> None:
    url = feed_server.set("/f", BODY, headers={"Content-Encoding": encoding})
    with pytest.raises(FetchError, match=message):
        fetch(url)
