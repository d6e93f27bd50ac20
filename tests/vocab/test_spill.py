"""Scratch files of the vocabulary compiler: atomic writes, bounded block reads, cleanup."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from emgcorpus.errors import LakeError
from vocab.spill import SCRATCH_DIRNAME, ScratchDir, read_blocks, save_rows


def test_save_and_read_back_in_blocks(tmp_path: Path) -> None:
    rows = np.arange(70, dtype=np.float32).reshape(35, 2)
    with ScratchDir(tmp_path / "lake", None, "t") as scratch:
        path = scratch.part(3)
        assert path.endswith("part-00003.npy")
        save_rows(path, rows)
        assert [p.name for p in scratch.path.iterdir()] == ["part-00003.npy"]  # no temp file
        blocks = list(read_blocks(path, 35, block_rows=16))
        assert [b.shape[0] for b in blocks] == [16, 16, 3]
        np.testing.assert_array_equal(np.concatenate(blocks), rows)
        assert list(read_blocks(path, 0)) == []
        with pytest.raises(LakeError, match="35 rows, expected 36"):
            list(read_blocks(path, 36))
    assert not (tmp_path / "lake" / SCRATCH_DIRNAME).exists()


def test_missing_scratch_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(LakeError, match="not visible on this worker"):
        save_rows(str(tmp_path / "gone" / "part-00000.npy"), np.zeros((2, 2), np.float32))
    with pytest.raises(LakeError, match="cannot be read"):
        list(read_blocks(str(tmp_path / "nope.npy"), 3))


def test_scratch_is_removed_on_error_and_builds_do_not_collide(tmp_path: Path) -> None:
    with ScratchDir(tmp_path, None, "same") as a, ScratchDir(tmp_path, None, "same") as b:
        assert a.path != b.path and a.path.parent == b.path.parent
    with pytest.raises(RuntimeError), ScratchDir(tmp_path, tmp_path / "mine", "t") as c:
        save_rows(c.part(0), np.ones((1, 1), np.float32))
        raise RuntimeError("task failed")
    assert not c.path.exists()
    assert (tmp_path / "mine").is_dir()  # a folder the user gave is kept
