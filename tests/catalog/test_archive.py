"""Safe archive extraction: zip and tar.*, traversal and escaping links refused, idempotent."""

from __future__ import annotations

import io
import stat
import tarfile
import zipfile
from pathlib import Path

import pytest

from emgcorpus.catalog.archive import ArchiveError, extract_archive, is_archive, marker_path

FILES = {"set/s1/a.dat": b"\x01\x02" * 64, "set/s1/b.csv": b"1,2\n3,4\n", "set/README": b"hi"}


def make_zip(path: Path, files: dict[str, bytes], links: dict[str, str] | None = None) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
        for name, target in (links or {}).items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, target)
    return path


def _tar_entry(name: str, kind: bytes = tarfile.REGTYPE, link: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = link
    info.mode = 0o644
    return info


def make_tar(
    path: Path, files: dict[str, bytes], extra: list[tarfile.TarInfo] | None = None
) -> Path:
    mode = "w:gz" if path.name.endswith((".tar.gz", ".tgz")) else "w"
    with tarfile.open(path, mode) as tf:
        for name, data in files.items():
            info = _tar_entry(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
        for info in extra or []:
            tf.addfile(info)
    return path


def _tree(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.name.startswith(".")
    }


@pytest.mark.parametrize("name", ["data.zip", "data.tar.gz", "data.tar"])
def test_extracts_every_file_once(tmp_path: Path, name: str) -> None:
    src = tmp_path / name
    (make_zip if name.endswith(".zip") else make_tar)(src, FILES)
    out = tmp_path / "out"
    first = extract_archive(src, out)
    assert _tree(out) == FILES
    assert (first.top_level, first.members, first.skipped) == (("set",), 3, False)
    assert marker_path(src, out).is_file()
    stamp = (out / "set/s1/a.dat").stat().st_mtime_ns
    second = extract_archive(src, out)
    assert second.skipped and second.top_level == ("set",)
    assert (out / "set/s1/a.dat").stat().st_mtime_ns == stamp
    assert [p.name for p in out.iterdir() if p.name.startswith(".extracting")] == []


def test_changed_archive_replaces_what_it_produced(tmp_path: Path) -> None:
    src = make_zip(tmp_path / "d.zip", FILES)
    extract_archive(src, tmp_path)
    (tmp_path / "set" / "stale.txt").write_bytes(b"left from before")
    newer = {"set/s1/a.dat": b"new", "other/x.txt": b"x"}
    make_zip(src, newer)
    result = extract_archive(src, tmp_path)
    assert not result.skipped and result.top_level == ("other", "set")
    assert _tree(tmp_path / "set") == {"s1/a.dat": b"new"}


def test_existing_foreign_folder_is_never_overwritten(tmp_path: Path) -> None:
    src = make_zip(tmp_path / "d.zip", FILES)
    (tmp_path / "out" / "set").mkdir(parents=True)
    (tmp_path / "out" / "set" / "mine.txt").write_bytes(b"user data")
    with pytest.raises(ArchiveError, match="set already exist"):
        extract_archive(src, tmp_path / "out")
    assert _tree(tmp_path / "out") == {"set/mine.txt": b"user data"}
    assert not marker_path(src, tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("member", "why"),
    [
        ("../evil.txt", r"'\.\./evil\.txt'.*leaves the target folder"),
        ("set/../../evil.txt", "leaves the target folder"),
        ("/tmp/evil.txt", "absolute path"),
        ("C:\\evil.txt", "absolute path"),
        ("set\\..\\..\\evil.txt", "leaves the target folder"),
    ],
)
def test_zip_path_traversal_is_refused_before_writing(
    tmp_path: Path, member: str, why: str
) -> None:
    src = make_zip(tmp_path / "bad.zip", {"set/ok.txt": b"fine", member: b"pwned"})
    out = tmp_path / "a" / "b"
    with pytest.raises(ArchiveError, match=why) as err:
        extract_archive(src, out)
    assert str(src) in str(err.value)
    assert not list(tmp_path.rglob("evil.txt"))
    assert [p.name for p in out.iterdir()] == []


@pytest.mark.parametrize(
    ("extra", "why"),
    [
        (_tar_entry("set/up", tarfile.SYMTYPE, "../../outside"), "symbolic link.*outside"),
        (_tar_entry("set/abs", tarfile.SYMTYPE, "/etc"), "symbolic link to absolute path"),
        (_tar_entry("set/hard", tarfile.LNKTYPE, "../outside"), "hard link.*outside"),
        (_tar_entry("set/dev", tarfile.CHRTYPE), "special file"),
        (_tar_entry("set/fifo", tarfile.FIFOTYPE), "special file"),
        (_tar_entry("../evil.txt"), "leaves the target folder"),
    ],
)
def test_tar_links_and_special_files_escaping_are_refused(
    tmp_path: Path, extra: tarfile.TarInfo, why: str
) -> None:
    src = make_tar(tmp_path / "bad.tar", FILES, [extra])
    out = tmp_path / "out"
    with pytest.raises(ArchiveError, match=why):
        extract_archive(src, out)
    assert list(out.iterdir()) == []


def test_link_chain_that_really_escapes_is_refused(tmp_path: Path) -> None:
    # q/up -> .. stays inside (it is the root); x -> q/up/.. looks inside lexically but
    # really resolves to the root's parent: caught on the resolved path (by tarfile's data
    # filter, which resolves the links already written, or by the check after writing).
    chain = [
        _tar_entry("root/q", tarfile.DIRTYPE),
        _tar_entry("root/q/up", tarfile.SYMTYPE, ".."),
        _tar_entry("root/q/up2", tarfile.SYMTYPE, "up/.."),
        _tar_entry("root/x", tarfile.SYMTYPE, "q/up2/.."),
    ]
    src = make_tar(tmp_path / "chain.tar", {}, chain)
    out = tmp_path / "deep" / "out"
    with pytest.raises(ArchiveError, match="goes through a link that leaves|data filter"):
        extract_archive(src, out)
    assert list(out.iterdir()) == []


def test_zip_symlink_escaping_is_refused_inside_link_is_kept(tmp_path: Path) -> None:
    bad = make_zip(tmp_path / "bad.zip", FILES, {"set/up": "../../../etc"})
    with pytest.raises(ArchiveError, match="symbolic link"):
        extract_archive(bad, tmp_path / "o1")
    good = make_zip(tmp_path / "good.zip", FILES, {"set/latest": "s1"})
    extract_archive(good, tmp_path / "o2")
    link = tmp_path / "o2" / "set" / "latest"
    assert link.is_symlink() and (link / "b.csv").read_bytes() == FILES["set/s1/b.csv"]


def test_corrupt_archive_is_a_clear_error(tmp_path: Path) -> None:
    src = make_tar(tmp_path / "d.tar.gz", FILES)
    src.write_bytes(src.read_bytes()[: src.stat().st_size // 2])
    with pytest.raises(ArchiveError, match="not a readable tar archive"):
        extract_archive(src, tmp_path / "out")
    assert list((tmp_path / "out").iterdir()) == []
    (tmp_path / "z.zip").write_bytes(b"PK\x03\x04 not really")
    with pytest.raises(ArchiveError, match="not a readable zip archive"):
        extract_archive(tmp_path / "z.zip", tmp_path / "out")


def test_archive_names() -> None:
    assert all(is_archive(n) for n in ("a.zip", "b.TAR.GZ", "c.tgz", "d.tar.xz", "e.tar"))
    assert not any(is_archive(n) for n in ("a.whl", "b.mat", "c.gz", "tar"))
