"""Unsafe input stays refused: Python tags in a mapping file, zip and tar bombs, members
the standard library's tar ``data`` filter refuses (traversal and escaping links are in
test_archive.py)."""

from __future__ import annotations

import io
import tarfile
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from emgcorpus.catalog import archive
from emgcorpus.catalog.archive import RATIO_FLOOR_BYTES, ArchiveError, extract_archive
from emgcorpus.catalog.sources import read_options_file
from emgcorpus.cli import cli
from emgcorpus.errors import ConfigError

#: Just above the floor under which ratios are not checked.
BOMB_BYTES = RATIO_FLOOR_BYTES + (1 << 20)
_BLOCK = bytes(1 << 20)


def _zip_of_zeros(path: Path, name: str, size: int) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf, zf.open(name, "w") as out:
        for _ in range(size // len(_BLOCK)):
            out.write(_BLOCK)
    return path


class _Zeros(io.RawIOBase):
    """``size`` zero bytes, read in pieces (a tar member without holding it in memory)."""

    def __init__(self, size: int) -> None:
        self.left = size

    def readable(self) -> bool:
        return True

    def readinto(self, buf: bytearray | memoryview) -> int:  # type: ignore[override]
        n = min(len(buf), self.left)
        buf[:n] = bytes(n)
        self.left -= n
        return n


# --- mapping files --------------------------------------------------------------------
EVIL = "fs: 1000\nrun: !!python/object/apply:pathlib.Path.touch [{marker}]\n"


def test_a_mapping_file_with_python_tags_is_refused_and_runs_nothing(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text(EVIL.format(marker=marker))
    with pytest.raises(ConfigError, match="cannot read mapping file"):
        read_options_file(mapping)
    assert not marker.exists()


def test_cli_ingest_refuses_a_mapping_file_with_python_tags(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text(EVIL.format(marker=marker))
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.csv").write_text("1,2\n3,4\n")
    lake = tmp_path / "lake"
    args = ["--lake", str(lake), "ingest", "csv", str(src), "--mapping", str(mapping)]
    result = CliRunner().invoke(cli, args, obj={})
    assert result.exit_code == 1
    assert "cannot read mapping file" in result.output and str(mapping) in result.output
    assert "Traceback" not in result.output
    assert not marker.exists()


# --- bombs ----------------------------------------------------------------------------
def test_a_zip_bomb_is_refused_from_its_central_directory(tmp_path: Path) -> None:
    bomb = _zip_of_zeros(tmp_path / "bomb.zip", "set/zeros.dat", BOMB_BYTES)
    assert bomb.stat().st_size * archive.MAX_RATIO < BOMB_BYTES  # ~1000x: a real bomb
    out = tmp_path / "out"
    with pytest.raises(ArchiveError, match="zip bomb") as err:
        extract_archive(bomb, out)
    assert "set/zeros.dat" in str(err.value) and str(bomb) in str(err.value)
    assert list(out.iterdir()) == []  # nothing written


def test_a_tar_gz_bomb_is_refused_at_its_header(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.tar.gz"
    with tarfile.open(bomb, "w:gz", compresslevel=1) as tf:
        info = tarfile.TarInfo("set/zeros.dat")
        info.size = BOMB_BYTES
        tf.addfile(info, io.BufferedReader(_Zeros(BOMB_BYTES)))
    out = tmp_path / "out"
    with pytest.raises(ArchiveError, match="zip bomb"):
        extract_archive(bomb, out)
    assert list(out.iterdir()) == []


def test_the_total_size_limit_holds_whatever_the_ratio(tmp_path: Path) -> None:
    src = tmp_path / "big.zip"
    with zipfile.ZipFile(src, "w", zipfile.ZIP_STORED) as zf:  # ratio 1
        for i in range(3):
            zf.writestr(f"set/{i}.dat", bytes(range(256)) * 4096)  # 1 MiB each
    with pytest.raises(ArchiveError, match="add up to more than"):
        extract_archive(src, tmp_path / "out", max_bytes=2 * 1024 * 1024)
    assert extract_archive(src, tmp_path / "ok").members == 3  # within the default limit


def test_small_archives_compress_as_well_as_they_like(tmp_path: Path) -> None:
    src = _zip_of_zeros(tmp_path / "zeros.zip", "set/zeros.dat", 4 << 20)  # ~1000x, 4 MiB
    result = extract_archive(src, tmp_path / "out")
    assert (tmp_path / "out" / "set" / "zeros.dat").stat().st_size == 4 << 20
    assert result.members == 1


# --- the standard library's tar filter --------------------------------------------------
def test_every_tar_member_passes_tarfiles_data_filter(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[str] = []
    real = tarfile.data_filter

    def watching(member: tarfile.TarInfo, dest: str) -> tarfile.TarInfo:
        seen.append(member.name)
        if member.name == "set/refused.txt":  # stands for whatever the policy refuses
            raise tarfile.OutsideDestinationError(member, dest)
        return real(member, dest)

    monkeypatch.setattr(tarfile, "data_filter", watching)
    src = tmp_path / "set.tar"
    with tarfile.open(src, "w") as tf:
        for name in ("set/a.txt", "set/refused.txt"):
            info = tarfile.TarInfo(name)
            info.size = 2
            tf.addfile(info, io.BytesIO(b"hi"))
    out = tmp_path / "out"
    with pytest.raises(ArchiveError, match="set/refused.txt.*data filter"):
        extract_archive(src, out)
    assert seen == ["set/a.txt", "set/refused.txt"]
    assert list(out.iterdir()) == []
