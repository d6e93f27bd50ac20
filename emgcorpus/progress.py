"""Progress bars that cost nothing when none is shown.

A disabled ``tqdm`` still makes a multiprocessing lock and may start a monitor thread:
milliseconds per call, which the small-file paths (ingest of one recording, verify of a
small lake) pay on every command. :func:`progress_bar` gives a real ``tqdm`` only when it is
shown, else a :class:`NoProgress` with the same few methods the commands use.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, TypeVar, overload

from tqdm import tqdm

T = TypeVar("T")


class NoProgress(Iterable[T]):
    """The bar when none is shown: a context manager and an iterator over ``iterable``
    (empty when None) whose ``update`` does nothing."""

    def __init__(self, iterable: Iterable[T] | None = None) -> None:
        self._iterable: Iterable[T] = iterable if iterable is not None else ()

    def __enter__(self) -> NoProgress[T]:
        return self

    def __exit__(self, *_: object) -> None:
        return None

    def __iter__(self) -> Iterator[T]:
        return iter(self._iterable)

    def update(self, n: int = 1) -> None:
        return None


@overload
def progress_bar(
    show: bool, iterable: None = None, **options: Any
) -> tqdm[Any] | NoProgress[Any]: ...
@overload
def progress_bar(show: bool, iterable: Iterable[T], **options: Any) -> tqdm[T] | NoProgress[T]: ...
def progress_bar(
    show: bool, iterable: Iterable[T] | None = None, **options: Any
) -> tqdm[T] | NoProgress[T]:
    """A ``tqdm(iterable, **options)`` when ``show``, else a :class:`NoProgress` over
    ``iterable``; both work as context managers, iterators and ``update(n)``."""
    if show:
        return tqdm(iterable, **options)
    return NoProgress(iterable)
