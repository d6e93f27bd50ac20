"""Scratch files for the vocabulary compiler: each partition's descriptors, spilled once.

The first map pass writes every partition's descriptors (float32, ``(rows, dim)``) to
``<scratch>/part-NNNNN.npy``; later passes memory-map that file and read it in bounded
blocks, so a worker never holds more than one block of one partition, however large the
corpus, and the tokenizer still runs only once per recording.

The scratch folder must be visible to every worker under the same path (like the lake).
By default it is ``<lake>/_scratch/vocab-<build hash>-<random>``; a folder given by the
user gets the same unique sub-folder. It is deleted when the build ends, also on error.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

import numpy as np

from emgcorpus.errors import LakeError
from emgcorpus.lake_location import local_side
from vocab.codebook import DISTANCE_BLOCK_ROWS

#: Folder below the lake that holds the scratch folders of running builds.
SCRATCH_DIRNAME = "_scratch"
#: Rows per block when a pass reads a spilled partition (a multiple of the distance
#: block, see vocab.codebook.lloyd_partial_blocks): 65536 rows x dim x 8 bytes float64.
SPILL_BLOCK_ROWS = 8 * DISTANCE_BLOCK_ROWS


class ScratchDir:
    """A unique scratch folder for one build, removed on exit (context manager).

    ``root``: the folder to create it in (None: ``<lake>/_scratch``); ``tag`` names it
    (e.g. a hash of the build's inputs) so a left-over folder can be traced to its build.
    """

    def __init__(self, lake_path: str | Path, root: str | Path | None, tag: str) -> None:
        self._default_root = root is None
        self.root = local_side(lake_path) / SCRATCH_DIRNAME if root is None else Path(root)
        self.path = self.root.resolve() / f"vocab-{tag}-{uuid.uuid4().hex[:8]}"

    def __enter__(self) -> ScratchDir:
        try:
            self.path.mkdir(parents=True)
        except OSError as exc:
            raise LakeError(f"cannot create the scratch folder {self.path}: {exc}") from exc
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        shutil.rmtree(self.path, ignore_errors=True)
        if self._default_root:
            with contextlib.suppress(OSError):
                self.root.rmdir()  # only when no other build is using it

    def part(self, index: int) -> str:
        """The file of partition ``index`` (a string: it travels in task arguments)."""
        return str(self.path / f"part-{index:05d}.npy")


def save_rows(path: str, rows: np.ndarray) -> None:
    """Write ``rows`` to ``path`` (.npy) atomically (see save_file)."""
    save_file(path, lambda fh: np.save(fh, np.ascontiguousarray(rows), allow_pickle=False))


def save_file(path: str, write: Callable[[BinaryIO], object]) -> None:
    """Write a worker's file atomically (``write`` fills the open file): a retried task
    never leaves half a file.

    The folder must exist (created by the client): a worker that does not see it fails
    with a LakeError instead of recreating a folder that the client may have removed.
    """
    folder = os.path.dirname(path)
    if not os.path.isdir(folder):
        raise LakeError(
            f"scratch folder {folder} is not visible on this worker: the scratch folder "
            "must be on storage every worker sees under the same path (like the lake)"
        )
    tmp = f"{path}.{uuid.uuid4().hex[:8]}.tmp"
    try:
        with open(tmp, "wb") as fh:
            write(fh)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def read_blocks(path: str, rows: int, block_rows: int = SPILL_BLOCK_ROWS) -> Iterator[np.ndarray]:
    """The rows of a spilled file in consecutive blocks of ``block_rows`` (memory-mapped;
    each block is copied into memory). Checks the file holds ``rows`` rows."""
    if rows == 0:
        return
    try:
        x = np.load(path, mmap_mode="r", allow_pickle=False)
    except OSError as exc:
        raise LakeError(f"spilled descriptors {path} cannot be read: {exc}") from exc
    if x.shape[0] != rows:
        raise LakeError(f"spilled descriptors {path}: {x.shape[0]} rows, expected {rows}")
    for start in range(0, rows, block_rows):
        yield np.array(x[start : start + block_rows])
    del x
