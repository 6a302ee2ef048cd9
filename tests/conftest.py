"""Shared fixtures: a loopback feed server, config directories, SQLite and PostgreSQL.

PostgreSQL tests create a throwaway database per test on the server named by
AGGREGATOR_TEST_PG_URL (default: the local server, database `test`). They skip when it
cannot be reached, unless AGGREGATOR_REQUIRE_PG=1 (set by .ci/run), where they fail.
"""

from __future__ import annotations

import os
import textwrap
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.helpers.feedserver import FeedServer

PG_URL = os.environ.get(
    "AGGREGATOR_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


@pytest.fixture
def feed_server() -> Iterator[FeedServer]:
    server = FeedServer()
    yield server
    server.close()


def _pg_admin_engine():  # type: ignore[no-untyped-def]
    return create_engine(PG_URL, isolation_level="AUTOCOMMIT")


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    name = f"agg_test_{uuid.uuid4().hex[:12]}"
    try:
        admin = _pg_admin_engine()
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        if os.environ.get("AGGREGATOR_REQUIRE_PG") == "1":
            pytest.fail(f"PostgreSQL required but unavailable: {exc}")
        pytest.skip(f"PostgreSQL unavailable at {PG_URL}: {exc.__class__.__name__}")
    url = make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'data' / 'aggregator.db'}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Runs a test once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'data' / 'aggregator.db'}"
    return str(request.getfixturevalue("pg_url"))


ConfigMaker = Callable[..., Path]


@pytest.fixture
def make_config(tmp_path: Path) -> ConfigMaker:
    """Write a config directory; feeds are (name, url) pairs or full TOML tables."""

    def make(
        feeds: list[tuple[str, str]] | None = None,
        *,
        storage_url: str | None = None,
        extra: str = "",
        watchlists: str = "",
        timeout: str = "5s",
    ) -> Path:
        config = tmp_path / "config"
        config.mkdir(exist_ok=True)
        url = storage_url or f"sqlite:///{tmp_path / 'data' / 'aggregator.db'}"
        (config / "aggregator.toml").write_text(
            textwrap.dedent(
                f"""\
                [storage]
                url = "{url}"
                [http]
                timeout = "{timeout}"
                allow_private_networks = true
                """
            )
            + extra
        )
        lines = [f'[[feeds]]\nname = "{n}"\nurl = "{u}"\n' for n, u in feeds or []]
        (config / "feeds.toml").write_text("\n".join(lines))
        (config / "watchlists.toml").write_text(watchlists)
        return config

    return make


# Real alert receivers (webhook with signature checks, SMTP), shared by alert tests.
from tests.helpers.receivers import smtp_server, webhook_receiver  # noqa: E402, F401
