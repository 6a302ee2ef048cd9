"""Field-level validation for the config files: typed readers that collect errors.

Responsible for: reading one TOML file into a `Table` (a syntax error becomes a ConfigError
with line and column), turning raw TOML values into typed values (strings, bounded
integers, durations, sizes, URLs, lists, secrets named by `*_env` keys), and recording each
problem as a ConfigError naming the file and the key path, so one pass reports them all.
`Table` walks one TOML table; leaving its `with` block reports the keys nobody asked for.

Must not: know the config's sections, defaults or cross-references (settings.py does),
raise on a bad value (it records the error and carries on), or put a secret's value into
a message, a repr or a str.
"""

from __future__ import annotations

import difflib
import json
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from types import TracebackType
from typing import TypeVar
from urllib.parse import urlsplit

from aggregator.errors import ConfigError

T = TypeVar("T")

DURATION_HINT = "(use e.g. 90s, 15m, 2h, 7d)"
SIZE_HINT = "(use e.g. 512KiB, 15MiB, 1MB or a number of bytes)"
_DURATION_RE = re.compile(r"(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?", re.ASCII)
_SIZE_RE = re.compile(r"(\d+(?:\.\d+)?)\s*([kmg]i?b|b)?", re.ASCII | re.IGNORECASE)
_SIZE_UNITS = {
    "b": 1,
    "kb": 10**3,
    "mb": 10**6,
    "gb": 10**9,
    "kib": 1024,
    "mib": 2**20,
    "gib": 2**30,
}
_ENV_NAME_RE = re.compile(r"[A-Z_][A-Z0-9_]*", re.ASCII)
_BARE_KEY_RE = re.compile(r"[A-Za-z0-9_-]+", re.ASCII)
_EMAIL_RE = re.compile(r"[^@\s]+@[^@\s]+")
_DB_URL_RE = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://.*", re.DOTALL)
_TOML_POSITION_RE = re.compile(r"(.*) \(at (line \d+, column \d+|end of document)\)", re.DOTALL)
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
_TOML_TYPES = {bool: "boolean", int: "integer", float: "float", str: "string", list: "array"}


@dataclass(frozen=True, slots=True)
class Secret:
    """A secret value (password, signing key). Its repr and str never show it."""

    _value: str = field(repr=False)

    def reveal(self) -> str:
        """The secret itself, for the one place that must use it."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    def __str__(self) -> str:
        return "Secret('***')"


def parse_duration(text: str) -> timedelta:
    """Parse "90s", "15m", "2h", "7d" or a combination in that order such as "1h30m"."""
    match = _DURATION_RE.fullmatch(text.strip()) if isinstance(text, str) else None
    if match is None or not any(match.groups()):
        raise ValueError(f"invalid duration {text!r} {DURATION_HINT}")
    days, hours, minutes, seconds = (int(part or 0) for part in match.groups())
    try:
        return timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
    except OverflowError:
        raise ValueError(f"duration {text!r} is too long") from None


def parse_size(value: str | int) -> int:
    """Parse a byte count: an int, or a string such as "15MiB", "512KiB", "1MB", "100B"."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    match = _SIZE_RE.fullmatch(value.strip()) if isinstance(value, str) else None
    if match is None:
        raise ValueError(f"invalid size {value!r} {SIZE_HINT}")
    size = Decimal(match.group(1)) * _SIZE_UNITS[(match.group(2) or "b").lower()]
    if size != size.to_integral_value():
        raise ValueError(f"invalid size {value!r}: not a whole number of bytes")
    return int(size)


class Invalid(ValueError):
    """A value failed validation; `at` extends the key path (e.g. "[2]" for a list item)."""

    def __init__(self, message: str, at: str = "") -> None:
        super().__init__(message)
        self.at = at


def type_name(value: object) -> str:
    """The TOML name of a parsed value's type, for messages."""
    if isinstance(value, dict):
        return "table"
    return _TOML_TYPES.get(type(value), "date/time")


def as_str(value: object) -> str:
    if not isinstance(value, str):
        raise Invalid(f"expected a string, got {type_name(value)}")
    return value


def as_name(value: object) -> str:
    """A non-empty string, surrounding whitespace removed."""
    text = as_str(value).strip()
    if not text:
        raise Invalid("must not be empty")
    return text


def as_bool(value: object) -> bool:
    if not isinstance(value, bool):
        raise Invalid(f"expected true or false, got {type_name(value)}")
    return value


def int_in(low: int, high: int) -> Callable[[object], int]:
    def convert(value: object) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise Invalid(f"expected an integer, got {type_name(value)}")
        if not low <= value <= high:
            raise Invalid(f"must be between {low} and {high}, got {value}")
        return value

    return convert


def float_in(low: float, high: float) -> Callable[[object], float]:
    def convert(value: object) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise Invalid(f"expected a number, got {type_name(value)}")
        if not low <= value <= high:
            raise Invalid(f"must be between {low} and {high}, got {value}")
        return float(value)

    return convert


def one_of(*choices: str) -> Callable[[object], str]:
    def convert(value: object) -> str:
        text = as_str(value)
        if text not in choices:
            raise Invalid(f"must be one of {', '.join(choices)}, got {text!r}")
        return text

    return convert


def as_duration(value: object) -> timedelta:
    """A positive duration written as a string such as "15m"."""
    if not isinstance(value, str):
        raise Invalid(f"expected a duration string {DURATION_HINT}, got {type_name(value)}")
    duration = parse_duration(value)
    if duration <= timedelta(0):
        raise Invalid(f"must be longer than zero, got {value!r}")
    return duration


def as_size(value: object) -> int:
    """A positive byte count: a string such as "15MiB" or an integer."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise Invalid(f"expected a size {SIZE_HINT}, got {type_name(value)}")
    size = parse_size(value)
    if size <= 0:
        raise Invalid(f"must be larger than zero, got {value!r}")
    return size


def as_http_url(value: object) -> str:
    """An absolute http:// or https:// URL with a host."""
    text = as_str(value).strip()
    try:
        parts = urlsplit(text)
        ok = parts.scheme.lower() in ("http", "https") and bool(parts.hostname)
    except ValueError:  # e.g. a malformed IPv6 host or port
        ok = False
    if not ok or any(char.isspace() for char in text):
        raise Invalid("must be an http:// or https:// URL with a host")
    return text


def as_email(value: object) -> str:
    text = as_str(value).strip()
    if not _EMAIL_RE.fullmatch(text):
        raise Invalid(f"invalid email address {text!r}")
    return text


def as_database_url(value: object) -> str:
    # Never echo the value: a database URL may carry a password.
    if not _DB_URL_RE.fullmatch(as_str(value).strip()):
        raise Invalid(
            "expected a database URL such as sqlite:///data/aggregator.db"
            " or postgresql+psycopg://user@host/dbname"
        )
    return as_str(value).strip()


def as_log_level(value: object) -> str:
    level = as_str(value).strip().upper()
    if level not in LOG_LEVELS:
        raise Invalid(f"must be one of {', '.join(LOG_LEVELS)}, got {as_str(value)!r}")
    return level


def list_of(
    item: Callable[[object], T], *, empty: str | None = None
) -> Callable[[object], tuple[T, ...]]:
    """An array whose items pass `item`; `empty` is the error for an empty array, if any."""

    def convert(value: object) -> tuple[T, ...]:
        if not isinstance(value, list):
            raise Invalid(f"expected an array, got {type_name(value)}")
        if not value and empty is not None:
            raise Invalid(empty)
        items: list[T] = []
        for index, raw in enumerate(value):
            try:
                items.append(item(raw))
            except ValueError as exc:
                raise Invalid(str(exc), f"[{index}]") from None
        return tuple(items)

    return convert


class Table:
    """One TOML table under validation. Accessors record errors and return a fallback.

    Every key an accessor asks for counts as known; leaving the `with` block reports the
    table's other keys as unknown, so a typo never passes silently.
    """

    def __init__(
        self, file: str, path: str, data: Mapping[str, object], errors: list[ConfigError]
    ) -> None:
        self.file = file
        self.path = path
        self.errors = errors
        self._data = data
        self._known: set[str] = set()

    def __enter__(self) -> Table:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self._report_unknown()

    def __contains__(self, name: str) -> bool:
        return name in self._data

    def key(self, name: str) -> str:
        part = name if _BARE_KEY_RE.fullmatch(name) else json.dumps(name, ensure_ascii=False)
        return f"{self.path}.{part}" if self.path else part

    def error(self, name: str, message: str, at: str = "") -> None:
        """Record an error on key `name` (with `at` appended to its path)."""
        self.errors.append(ConfigError(self.file, self.key(name) + at, message))

    def optional(self, name: str, convert: Callable[[object], T]) -> T | None:
        self._known.add(name)
        if name not in self._data:
            return None
        try:
            return convert(self._data[name])
        except ValueError as exc:
            self.error(name, str(exc), exc.at if isinstance(exc, Invalid) else "")
            return None

    def get(self, name: str, convert: Callable[[object], T], default: T) -> T:
        value = self.optional(name, convert)
        return default if value is None else value

    def require(self, name: str, convert: Callable[[object], T]) -> T | None:
        if name not in self._data:
            self._known.add(name)
            self.error(name, "missing required key")
            return None
        return self.optional(name, convert)

    def env(self, name: str, environ: Mapping[str, str]) -> tuple[str, str] | None:
        """(variable, value) for a `*_env` key naming a set environment variable."""
        variable = self.optional(name, as_str)
        if variable is None:
            return None
        if not _ENV_NAME_RE.fullmatch(variable):
            # Never echo it: a user may have pasted the secret itself here.
            message = "must name an environment variable such as SMTP_PASSWORD"
            self.error(name, f"{message} (A-Z, 0-9, _); the secret itself never goes here")
            return None
        value = environ.get(variable)
        if not value:
            state = "not set" if value is None else "empty"
            self.error(name, f"environment variable {variable} is {state}")
            return None
        return variable, value

    def table(self, name: str) -> Table:
        """The sub-table `name` ([name]); an empty one if it is absent or not a table."""
        value = self.optional(name, lambda v: v)
        if value is not None and not isinstance(value, dict):
            self.error(name, f"expected a table ([{name}]), got {type_name(value)}")
        data = value if isinstance(value, dict) else {}
        return Table(self.file, self.key(name), data, self.errors)

    def tables(self, name: str) -> list[Table]:
        """The array of tables `name` ([[name]]), each with its 0-based index in its path."""
        value = self.optional(name, lambda v: v)
        if value is None:
            return []
        if not isinstance(value, list):
            self.error(name, f"expected an array of tables ([[{name}]]), got {type_name(value)}")
            return []
        found: list[Table] = []
        for index, item in enumerate(value):
            if isinstance(item, dict):
                path = f"{self.key(name)}[{index}]"
                found.append(Table(self.file, path, item, self.errors))
            else:
                self.error(name, f"expected a table, got {type_name(item)}", f"[{index}]")
        return found

    def ignore_rest(self) -> None:
        """Count every key as known (when the table's schema could not be determined)."""
        self._known.update(self._data)

    def _report_unknown(self) -> None:
        known = sorted(self._known)
        for name in self._data:
            if name in self._known:
                continue
            close = difflib.get_close_matches(name, known, n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"known: {', '.join(known)}"
            self.error(name, f"unknown key ({hint})")


def read_toml(config_dir: Path, filename: str, errors: list[ConfigError]) -> Table | None:
    """The file's root table; empty if the file is absent, None if it cannot be parsed."""
    try:
        with (config_dir / filename).open("rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError:
        data = {}
    except tomllib.TOMLDecodeError as exc:
        match = _TOML_POSITION_RE.fullmatch(str(exc))
        where, message = (match.group(2), match.group(1)) if match else ("", str(exc))
        errors.append(ConfigError(filename, where, message))
        return None
    except UnicodeDecodeError:
        errors.append(ConfigError(filename, "", "not valid UTF-8"))
        return None
    except OSError as exc:
        errors.append(ConfigError(filename, "", f"cannot read: {exc.strerror or exc}"))
        return None
    return Table(filename, "", data, errors)
