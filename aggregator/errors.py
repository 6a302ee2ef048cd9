"""The exception hierarchy: every error the project raises derives from AggregatorError.

Library errors (httpx, feedparser, SQLAlchemy, smtplib) are translated into these where
they cross into our code, so callers catch one family. This module must not import
anything from the rest of the package.
"""


class AggregatorError(Exception):
    """Root of every error aggregator raises on purpose."""


class ConfigError(AggregatorError):
    """A config file is missing, unreadable or invalid; the message names file and key."""

    def __init__(self, file: str, key: str, message: str) -> None:
        self.file = file
        self.key = key
        self.message = message
        where = f"{file}: {key}: " if key else f"{file}: "
        super().__init__(f"{where}{message}")


class ConfigErrors(AggregatorError):
    """Several config errors found in one validation pass, reported together."""

    def __init__(self, errors: list[ConfigError]) -> None:
        self.errors = errors
        super().__init__("\n".join(str(e) for e in errors))


class FetchError(AggregatorError):
    """A feed could not be fetched: network, HTTP status, size or time limit."""

    def __init__(
        self, message: str, status: int | None = None, retry_after: str | None = None
    ) -> None:
        self.status = status
        self.retry_after = retry_after  # the raw Retry-After header of a 429 or 503
        super().__init__(message)


class ParseError(AggregatorError):
    """A fetched body yielded no feed at all."""


class StorageError(AggregatorError):
    """The database refused or failed an operation."""


class DeliveryError(AggregatorError):
    """An alert could not be delivered through a channel.

    `retry_after` carries a server's hint in seconds; `permanent` means retrying is useless.
    """

    def __init__(
        self, message: str, *, retry_after: float | None = None, permanent: bool = False
    ) -> None:
        self.retry_after = retry_after
        self.permanent = permanent
        super().__init__(message)
