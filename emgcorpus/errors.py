"""Error types and the uniform validation helpers that turn bad input into one clear sentence.

Every error a user can act on names the file (or table, or option) and says what was
expected and what was found.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any


class EmgCorpusError(Exception):
    """Base class of every error emgcorpus raises on purpose."""


class SourceError(EmgCorpusError):
    """A source file cannot be read as the adapter's documented format.

    The message always starts with the file path so a user knows which file to look at.
    """

    def __init__(self, path: str | Path, problem: str) -> None:
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


class ChecksumError(SourceError):
    """A source file's sha256 differs from the one catalog.yaml lists."""

    def __init__(self, path: str | Path, expected: str, found: str) -> None:
        self.expected = expected
        self.found = found
        super().__init__(path, f"sha256 mismatch: catalog.yaml lists {expected}, file has {found}")


class LakeError(EmgCorpusError):
    """The lakehouse is missing, inconsistent, or asked for something it does not hold."""


class ConfigError(EmgCorpusError):
    """A user-supplied option, mapping or parameter is invalid."""


def check_option(name: str, value: Any, allowed: Iterable[Any]) -> Any:
    """Return ``value`` if it is one of ``allowed``, else raise ConfigError naming the option."""
    allowed = list(allowed)
    if value not in allowed:
        choices = ", ".join(repr(a) for a in allowed)
        raise ConfigError(f"invalid value {value!r} for {name}: expected one of {choices}")
    return value


def check_positive(name: str, value: float, unit: str = "") -> float:
    """Return ``value`` if it is a finite number > 0, else raise ConfigError with its unit."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ConfigError(
            f"{name} must be a number{' in ' + unit if unit else ''}, got {value!r}"
        ) from None
    if not (v > 0 and v < float("inf")):
        raise ConfigError(f"{name} must be > 0{' ' + unit if unit else ''}, got {value!r}")
    return v
