"""Safe, idempotent extraction of downloaded dataset archives (zip and tar, any compression).

Dataset hosts ship most public EMG sets as one archive. :func:`extract_archive` unpacks
one into a folder with these guarantees:

- **no escape**: a member whose path is absolute, has a drive letter or a ``..`` part, a
  symbolic link whose target leaves the folder, a hard link to something outside it, and
  device or FIFO members are refused with :class:`ArchiveError` naming the archive and the
  member; each member is checked before it is written, and again on the real (resolved)
  paths while writing, which catches link chains;
- **all or nothing**: members are written to a hidden staging folder beside the result and
  moved into place only when every member is out; on any error the staging folder is
  removed and the target folder is as before. A tar archive is read in one pass (a
  compressed tar is decompressed once), a zip archive's whole member list is checked
  first from its central directory;
- **idempotent**: a marker file ``.<archive name>.extracted.json`` in the target records
  the archive's size [bytes] and mtime [ns] and the top-level names it produced; a second
  call with the same archive does nothing. When the archive changed (downloaded again),
  the names the previous extraction produced are replaced; a name that exists but did not
  come from this archive is never overwritten (ArchiveError);
- permissions: files get 0644 (0755 when the member was executable); owners, set-uid
  bits and timestamps of the archive are not applied;
- **the standard library's filter too**: every tar member also passes
  :func:`tarfile.data_filter` (the ``filter="data"`` policy of Python 3.12+), so a member
  that policy refuses is refused even where the checks above would let it through;
- **no bombs**: the members' sizes (declared in the zip central directory or each tar
  header; zipfile and tarfile never read past them) may add up to at most ``max_bytes``,
  and above ``RATIO_FLOOR_BYTES`` neither one zip member nor the whole archive may expand
  more than ``max_ratio`` times its compressed size; otherwise ArchiveError before
  anything past the limit is written.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import sys
import tarfile
import zipfile
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path, PurePosixPath
from typing import IO, Any, Literal

from emgcorpus.errors import SourceError
from emgcorpus.progress import progress_bar

#: File-name endings read as archives (lower case), longest first.
ARCHIVE_SUFFIXES = (
    ".tar.gz", ".tar.bz2", ".tar.xz", ".tgz", ".tbz2", ".txz", ".tar", ".zip",
)  # fmt: skip
MARKER_FORMAT = 1
#: Most bytes one archive may expand to (1 TiB: above the largest public EMG set).
MAX_EXTRACT_BYTES = 1 << 40
#: Most a zip member or a whole archive may expand over its compressed size (raw EMG
#: compresses 2-10x; deflate bombs reach ~1000x).
MAX_RATIO = 100.0
#: Expanded sizes [bytes] below which the ratio is not checked (small files of zeros).
RATIO_FLOOR_BYTES = 100 * 1024 * 1024
_DRIVE = re.compile(r"^[A-Za-z]:")

MemberKind = Literal["file", "dir", "symlink", "hardlink"]


class ArchiveError(SourceError):
    """An archive is unreadable or holds a member that would land outside its folder."""


class ArchiveClashError(ArchiveError):
    """Extracting would overwrite names in the target that did not come from the archive."""


@dataclass(frozen=True)
class _Member:
    """One archive member, already checked: ``path`` is relative and normalised."""

    path: PurePosixPath
    kind: MemberKind
    executable: bool = False
    link: str = ""  # symlink target as stored, or the hard link's member path


@dataclass(frozen=True)
class ExtractResult:
    """What :func:`extract_archive` did. ``top_level``: names created in ``target``."""

    archive: Path
    target: Path
    top_level: tuple[str, ...]
    members: int
    skipped: bool  # True: the marker said it was already extracted


def is_archive(name: str) -> bool:
    """True when ``name`` ends with one of :data:`ARCHIVE_SUFFIXES` (case-insensitive)."""
    return name.lower().endswith(ARCHIVE_SUFFIXES)


def marker_path(archive: Path, target: Path) -> Path:
    """The marker file that records an extraction of ``archive`` into ``target``."""
    return Path(target) / f".{Path(archive).name}.extracted.json"


def _safe_relative(archive: Path, name: str) -> PurePosixPath | None:
    """The member path normalised; None for the archive root; ArchiveError when unsafe."""
    if "\x00" in name:
        raise ArchiveError(archive, f"unsafe member {name!r}: NUL byte in the name")
    text = name.replace("\\", "/")
    if text.startswith("/") or _DRIVE.match(text):
        raise ArchiveError(archive, f"unsafe member {name!r}: absolute path; nothing extracted")
    parts = [p for p in text.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise ArchiveError(
            archive,
            f"unsafe member {name!r}: path leaves the target folder (..); nothing extracted",
        )
    return PurePosixPath(*parts) if parts else None


def _check_link(archive: Path, member: PurePosixPath, target: str, *, hard: bool) -> None:
    """Refuse a link whose target (lexically) leaves the extraction folder."""
    text = target.replace("\\", "/")
    if not text or text.startswith("/") or _DRIVE.match(text):
        kind = "hard link" if hard else "symbolic link"
        raise ArchiveError(
            archive, f"unsafe member {str(member)!r}: {kind} to absolute path {target!r}"
        )
    base = [] if hard else list(member.parent.parts)
    depth = len(base)
    for part in text.split("/"):
        if part in ("", "."):
            continue
        depth = depth - 1 if part == ".." else depth + 1
        if depth < 0:
            kind = "hard link" if hard else "symbolic link"
            raise ArchiveError(
                archive,
                f"unsafe member {str(member)!r}: {kind} to {target!r} points outside the "
                "target folder; nothing extracted",
            )


@dataclass
class _Budget:
    """Running total of the bytes an archive expands to, against the bomb limits."""

    archive: Path
    max_bytes: int
    max_ratio: float
    floor: int = RATIO_FLOOR_BYTES
    total: int = 0

    def add(self, name: str, size: int, packed: int | None = None) -> None:
        """Count a member of ``size`` bytes (``packed``: its compressed size, zip only)."""
        self.total += max(int(size), 0)
        if self.total > self.max_bytes:
            raise ArchiveError(
                self.archive,
                f"members add up to more than {self.max_bytes} bytes (at {name!r}): refused "
                "as a possible zip bomb; nothing extracted",
            )
        if packed is not None and size > self.floor and size > self.max_ratio * max(packed, 1):
            raise ArchiveError(
                self.archive,
                f"member {name!r} expands {size} bytes from {packed} (more than "
                f"{self.max_ratio:g}x): refused as a possible zip bomb; nothing extracted",
            )
        whole = self.archive.stat().st_size
        if self.total > self.floor and self.total > self.max_ratio * max(whole, 1):
            raise ArchiveError(
                self.archive,
                f"members add up to {self.total} bytes from a {whole}-byte archive (more "
                f"than {self.max_ratio:g}x, at {name!r}): refused as a possible zip bomb; "
                "nothing extracted",
            )


def _zip_members(
    archive: Path, zf: zipfile.ZipFile, budget: _Budget
) -> list[tuple[_Member, zipfile.ZipInfo]]:
    out = []
    for info in zf.infolist():
        path = _safe_relative(archive, info.filename)
        if path is None:
            continue
        budget.add(info.filename, info.file_size, info.compress_size)
        mode = info.external_attr >> 16
        if stat.S_ISLNK(mode):
            target = zf.read(info).decode("utf-8", errors="replace")
            _check_link(archive, path, target, hard=False)
            out.append((_Member(path, "symlink", link=target), info))
        elif info.is_dir():
            out.append((_Member(path, "dir"), info))
        else:
            out.append((_Member(path, "file", executable=bool(mode & 0o100)), info))
    return out


def _data_filter(archive: Path, info: tarfile.TarInfo, dest: Path) -> tarfile.TarInfo:
    """``info`` through the standard library's ``data`` extraction filter."""
    try:
        return tarfile.data_filter(info, str(dest))
    except tarfile.FilterError as exc:
        raise ArchiveError(
            archive, f"unsafe member {info.name!r}: {exc} (tarfile data filter); nothing extracted"
        ) from None


def _tar_members(
    archive: Path, tf: tarfile.TarFile, dest: Path, budget: _Budget
) -> Iterator[tuple[_Member, tarfile.TarInfo]]:
    """Checked members in archive order, read one header at a time (one pass over a tar)."""
    for raw in tf:
        path = _safe_relative(archive, raw.name)
        if path is None:
            continue
        budget.add(raw.name, raw.size if raw.isfile() else 0)
        info = raw
        if raw.issym() or raw.islnk():
            _check_link(archive, path, raw.linkname, hard=raw.islnk())
        if raw.isfile() or raw.isdir() or raw.issym() or raw.islnk():
            info = _data_filter(archive, raw, dest)
        if info.issym():
            _check_link(archive, path, info.linkname, hard=False)
            yield _Member(path, "symlink", link=info.linkname), info
        elif info.islnk():
            _check_link(archive, path, info.linkname, hard=True)
            linked = _safe_relative(archive, info.linkname)
            yield _Member(path, "hardlink", link=str(linked)), info
        elif info.isdir():
            yield _Member(path, "dir"), info
        elif info.isfile():
            yield _Member(path, "file", executable=bool(info.mode & 0o100)), info
        else:
            raise ArchiveError(
                archive,
                f"unsafe member {info.name!r}: device, FIFO or other special file; "
                "nothing extracted",
            )


Opener = Callable[[], IO[bytes]]


@contextmanager
def _open_members(
    archive: Path, dest: Path, budget: _Budget
) -> Iterator[Iterator[tuple[_Member, Opener]]]:
    """The checked members of a zip or tar archive (to be written under ``dest``), each
    with a function opening its bytes.

    Read each member's bytes before advancing to the next (tar archives are streamed).
    """
    name = archive.name.lower()
    try:
        if name.endswith(".zip"):
            with zipfile.ZipFile(archive) as zf:
                zmembers = _zip_members(archive, zf, budget)
                yield iter([(m, partial(zf.open, i)) for m, i in zmembers])
        else:
            with tarfile.open(archive, "r:*") as tf:

                def opener(info: tarfile.TarInfo) -> IO[bytes]:
                    fh = tf.extractfile(info)
                    if fh is None:
                        raise ArchiveError(archive, f"member {info.name!r} has no data")
                    return fh

                members = _tar_members(archive, tf, dest, budget)
                yield ((m, partial(opener, i)) for m, i in members)
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, zlib.error) as exc:
        kind = "zip" if name.endswith(".zip") else "tar"
        raise ArchiveError(archive, f"not a readable {kind} archive ({exc})") from None


def _inside(root: Path, path: Path) -> bool:
    return path == root or root in path.parents


def _check_real(archive: Path, staging: Path, member: PurePosixPath, path: Path) -> None:
    """Refuse when ``path`` really (links resolved) lies outside the staging folder."""
    if not _inside(staging, Path(os.path.realpath(path))):
        raise ArchiveError(
            archive,
            f"unsafe member {str(member)!r}: its path goes through a link that leaves the "
            "target folder; nothing extracted",
        )


def _write_member(archive: Path, staging: Path, member: _Member, open_bytes: Opener) -> None:
    dest = staging / member.path
    _check_real(archive, staging, member.path, dest.parent)
    if member.kind == "dir":
        dest.mkdir(parents=True, exist_ok=True)
        _check_real(archive, staging, member.path, dest)
        return
    dest.parent.mkdir(parents=True, exist_ok=True)
    _check_real(archive, staging, member.path, dest.parent)
    if dest.is_symlink() or dest.is_file():
        dest.unlink()  # a later member of the same name wins, as with tar
    if member.kind == "symlink":
        os.symlink(member.link, dest)
        return
    if member.kind == "hardlink":
        source = staging / member.link
        _check_real(archive, staging, member.path, source)
        if not source.is_file():
            raise ArchiveError(
                archive, f"member {str(member.path)!r}: hard link to missing {member.link!r}"
            )
        shutil.copyfile(source, dest)
    else:
        with open_bytes() as src, open(dest, "wb") as out:
            shutil.copyfileobj(src, out, 1 << 20)
    dest.chmod(0o755 if member.executable else 0o644)


def _check_links(archive: Path, staging: Path) -> None:
    """After writing: every symbolic link must resolve inside the staging folder."""
    for dirpath, dirnames, filenames in os.walk(staging):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            if path.is_symlink():
                rel = PurePosixPath(path.relative_to(staging).as_posix())
                _check_real(archive, staging, rel, path)


def _read_marker(marker: Path) -> dict[str, Any] | None:
    try:
        doc = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) else None


def _stamp(archive: Path) -> dict[str, int]:
    st = archive.stat()
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns}


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def _move_into_place(
    archive: Path, staging: Path, target: Path, top: list[str], owned: set[str]
) -> None:
    """Move the staged top-level names into ``target``; never overwrite what is not ours."""
    clash = [
        n for n in top if n not in owned and ((target / n).exists() or (target / n).is_symlink())
    ]
    if clash:
        raise ArchiveClashError(
            archive,
            f"cannot extract into {target}: {', '.join(clash)} already exist(s) and did not "
            "come from this archive; move them away and run again",
        )
    for name in top:
        _remove(target / name)
        os.replace(staging / name, target / name)


def extract_archive(
    archive: Path,
    target: Path | None = None,
    *,
    progress: bool | None = None,
    max_bytes: int = MAX_EXTRACT_BYTES,
    max_ratio: float = MAX_RATIO,
) -> ExtractResult:
    """Extract ``archive`` into ``target`` (default: the archive's folder), safely.

    Returns what was created; does nothing when the marker shows that this archive (same
    size and mtime) was extracted there before and its top-level names still exist.
    ``progress``: a member-count bar on stderr (default: when stderr is a terminal).
    ``max_bytes`` [bytes] and ``max_ratio`` are the bomb limits (module docstring).
    Raises ArchiveError naming the archive and the offending member (see module docstring).
    """
    archive = Path(archive)
    target = Path(target) if target is not None else archive.parent
    if not archive.is_file():
        raise ArchiveError(archive, "archive not found")
    marker = marker_path(archive, target)
    previous = _read_marker(marker) or {}
    stamp = _stamp(archive)
    owned = [str(n) for n in previous.get("top_level", []) or []]
    same = bool(previous) and all(previous.get(k) == v for k, v in stamp.items())
    if same and all((target / n).exists() or (target / n).is_symlink() for n in owned):
        n_done = int(previous.get("members", 0))
        return ExtractResult(archive, target, tuple(owned), n_done, skipped=True)
    target.mkdir(parents=True, exist_ok=True)
    staging = target / f".extracting-{archive.name}"
    _remove(staging)
    staging.mkdir()
    try:
        count = 0
        show = sys.stderr.isatty() if progress is None else progress
        bar = progress_bar(show, desc=f"extract {archive.name}", unit=" files", leave=False)
        real_staging = Path(os.path.realpath(staging))
        budget = _Budget(archive, int(max_bytes), float(max_ratio))
        with _open_members(archive, real_staging, budget) as members, bar:
            for member, open_bytes in members:
                _write_member(archive, real_staging, member, open_bytes)
                count += 1
                bar.update()
            _check_links(archive, real_staging)
        top = sorted(p.name for p in staging.iterdir())
        _move_into_place(archive, staging, target, top, set(owned))
    except OSError as exc:
        raise ArchiveError(archive, f"cannot extract into {target}: {exc}") from None
    finally:
        _remove(staging)
    doc = {"format": MARKER_FORMAT, "archive": archive.name, **stamp, "members": count,
           "top_level": top}  # fmt: skip
    tmp = marker.with_name(marker.name + ".tmp")
    tmp.write_text(json.dumps(doc, indent=1), encoding="utf-8")
    os.replace(tmp, marker)
    return ExtractResult(archive, target, tuple(top), count, skipped=False)
