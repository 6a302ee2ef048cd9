"""feedparser's own test corpus (2,107 files) through the whole ingest path, over HTTP.

Every file is served on loopback with the Content-Type its `Header:` comment asks for
(application/xml otherwise) and polled by `aggregator poll` in batches of BATCH feeds
sharing one config, on SQLite and on PostgreSQL. Each feed must end stored (HTTP 200,
no error) or with a recorded per-feed error; no exception may escape, and no error may
be one of ours ("internal error", a database error). The sanitizer cases' HTML also
goes through the email renderer, which must leave no script, event handler or
javascript: link.

The corpus lives outside the repository (../shared/corpora/feedparser-tests); the tests
skip, saying so, where it is absent.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import quote

import pytest
from sqlalchemy import create_engine, text

from aggregator.alerts.render import email_bodies
from aggregator.cli import main
from aggregator.errors import ParseError
from aggregator.parse import parse_feed
from tests.conftest import ConfigMaker
from tests.helpers.feedserver import FeedServer
from tests.helpers.receivers import make_alert

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpora" / "feedparser-tests"
BATCH = 200
_HEADER_TYPE = re.compile(rb"Header:\s*Content-type:\s*([^\r\n]*)", re.IGNORECASE)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not CORPUS.is_dir(), reason=f"feedparser test corpus not found at {CORPUS}"),
]


def corpus_files() -> list[Path]:
    if not CORPUS.is_dir():
        return []
    skip = {"README.md", "LICENSE"}
    return sorted(p for p in CORPUS.rglob("*") if p.is_file() and p.name not in skip)


FILES = corpus_files()
BATCHES = [FILES[i : i + BATCH] for i in range(0, len(FILES), BATCH)] or [[]]


def content_type(path: Path, body: bytes) -> str:
    found = _HEADER_TYPE.search(body)
    if found:
        return found.group(1).decode("latin-1").strip()
    return "application/json" if path.suffix == ".json" else "application/xml"


def test_the_corpus_is_complete() -> None:
    assert len(FILES) == 2107, f"expected 2,107 corpus files, found {len(FILES)}"


@pytest.mark.parametrize(
    "batch",
    BATCHES,
    ids=[f"files{i * BATCH}-{i * BATCH + len(b) - 1}" for i, b in enumerate(BATCHES)],
)
def test_corpus_batch_is_stored_or_recorded(
    batch: list[Path],
    db_url: str,
    feed_server: FeedServer,
    make_config: ConfigMaker,
    capsys: pytest.CaptureFixture[str],
) -> None:
    feeds = []
    for index, path in enumerate(batch):
        body = path.read_bytes()
        route = "/c/" + quote(str(path.relative_to(CORPUS)))
        feeds.append(
            (f"f{index}", feed_server.set(route, body, content_type=content_type(path, body)))
        )
    config = make_config(
        feeds,
        storage_url=db_url,
        extra='[[channels]]\nname = "journal"\ntype = "log"\n',
        watchlists='[[watchlists]]\nname = "w"\nany = ["the", "example", "entry"]\n'
        'channels = ["journal"]\n',
    )
    assert main(["poll", "--config", str(config), "--deliver-timeout", "0"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{len(batch)} feeds: "), out
    engine = create_engine(db_url)
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT name, last_status, last_error, consecutive_errors FROM feeds")
        ).all()
    engine.dispose()
    assert len(rows) == len(batch)
    names = {f"f{i}": path.relative_to(CORPUS) for i, path in enumerate(batch)}
    ours = re.compile(r"internal error|database error|write failed|parse failed|died")
    for name, status, error, errors in rows:
        where = names[name]
        if error is None:
            assert status == 200 and errors == 0, f"{where}: neither stored nor recorded"
        else:
            assert errors == 1, f"{where}: error {error!r} not counted"
            assert error.startswith("not a feed"), f"{where}: {error}"
            assert not ours.search(error), f"{where}: {error}"


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, attrs))


def _unsafe(page: str) -> list[str]:
    tags = _Tags()
    tags.feed(page)
    problems = []
    for tag, attrs in tags.found:
        if tag in ("script", "iframe", "object", "embed", "style", "form", "meta", "base"):
            problems.append(f"<{tag}>")
        for name, value in attrs:
            if name.startswith("on"):
                problems.append(f"{tag} {name}=")
            squashed = re.sub(r"[\s\x00-\x1f]", "", (value or "")).lower()
            if name in ("href", "src", "action", "style") and re.match(
                r"(javascript|vbscript|data|livescript):|.*expression\(", squashed
            ):
                problems.append(f"{tag} {name}={value!r}")
    return problems


def test_sanitizer_corpus_html_is_safe_in_email() -> None:
    sanitize = sorted((CORPUS / "wellformed" / "sanitize").glob("*.xml"))
    assert len(sanitize) > 700
    assert len(_unsafe('<a href=" java\tscript:x" onclick="y"><script>')) == 3  # the checker
    _, plain_page = email_bodies(make_alert(summary="<p>plain</p>", title="plain"))
    template_own = _unsafe(plain_page)  # the template's own <meta>, <style>
    checked = 0
    for path in sanitize:
        try:
            parsed = parse_feed(path.read_bytes(), url="http://127.0.0.1/feed")
        except ParseError:
            continue
        for entry in parsed.entries:
            for fragment in (entry.content_html, entry.summary_html, entry.title):
                if not fragment:
                    continue
                _, page = email_bodies(make_alert(summary=fragment, title=fragment))
                assert _unsafe(page) == template_own, f"{path.name}: {_unsafe(page)}"
                checked += 1
    assert checked > 500
