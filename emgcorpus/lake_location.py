"""Where a lake lives: a local folder or an object-store prefix (``s3://bucket/path``).

:func:`lake_location` is the one place a lake argument (a ``--lake`` value, a Python
``str``/``Path``) becomes a location: a local path becomes a resolved ``Path``; an
``s3://`` (or ``s3a://``) URL becomes a :class:`StorePath`, a small ``pathlib``-like
object over ``pyarrow.fs.S3FileSystem``, so the lake code (snapshot, journal, staging
list, table files) reads and writes either with the same calls. ``file://`` URLs are
local paths.

Object-store settings come from the environment, as the AWS tools read them:
``AWS_ENDPOINT_URL`` (an S3-compatible server: MinIO, moto, ...), ``AWS_ACCESS_KEY_ID``,
``AWS_SECRET_ACCESS_KEY``, ``AWS_SESSION_TOKEN``, ``AWS_REGION`` (default ``us-east-1``)
and ``AWS_ALLOW_HTTP`` (``true`` for a plain-http endpoint). Delta commits on S3 need
either a locking provider or ``AWS_S3_ALLOW_UNSAFE_RENAME=true``; emgcorpus sets the
latter unless the environment says otherwise, because its own writer lock
(:mod:`emgcorpus.lake_writer`) already allows one writer per lake at a time. On an
object store that lock is advisory (see :func:`emgcorpus.lake_writer.LakeWriter`).

Things a lake keeps beside its tables that are not lake data (token shards, the
vocabulary store) stay on local disk: :func:`local_side` names the local folder that
stands for a remote lake.
"""

from __future__ import annotations

import functools
import os
import posixpath
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from emgcorpus.errors import LakeError

if TYPE_CHECKING:
    import pyarrow.fs as pafs

#: URL schemes read as an S3 object store.
S3_SCHEMES = ("s3", "s3a")
#: Environment variable naming the local folder of remote lakes' shards and vocabularies.
LOCAL_SIDE_ENV = "EMGCORPUS_LOCAL_STORE"
#: Default parent of those folders (one sub-folder per bucket/prefix).
DEFAULT_LOCAL_SIDE = "./emg-lake-local"

_URL = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://(.*)$")
_TRUE = ("1", "true", "yes", "on")


def storage_options() -> dict[str, str]:
    """The ``deltalake`` storage options of an S3 lake, from the environment."""
    names = (
        "AWS_ENDPOINT_URL",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_REGION",
        "AWS_ALLOW_HTTP",
        "AWS_S3_ALLOW_UNSAFE_RENAME",
        "AWS_S3_LOCKING_PROVIDER",
    )
    options = {n: os.environ[n] for n in names if os.environ.get(n)}
    options.setdefault("AWS_REGION", "us-east-1")
    if "AWS_S3_LOCKING_PROVIDER" not in options:
        options.setdefault("AWS_S3_ALLOW_UNSAFE_RENAME", "true")
    return options


def _s3_filesystem() -> pafs.S3FileSystem:
    """A pyarrow S3 filesystem configured like :func:`storage_options` (one per setting)."""
    return _s3_filesystem_for(tuple(sorted(storage_options().items())))


@functools.lru_cache(maxsize=8)
def _s3_filesystem_for(settings: tuple[tuple[str, str], ...]) -> pafs.S3FileSystem:
    import pyarrow.fs as pafs

    env = dict(settings)
    kwargs: dict[str, Any] = {"region": env["AWS_REGION"]}
    if "AWS_ACCESS_KEY_ID" in env:
        kwargs["access_key"] = env["AWS_ACCESS_KEY_ID"]
        kwargs["secret_key"] = env.get("AWS_SECRET_ACCESS_KEY", "")
        if "AWS_SESSION_TOKEN" in env:
            kwargs["session_token"] = env["AWS_SESSION_TOKEN"]
    endpoint = env.get("AWS_ENDPOINT_URL")
    if endpoint:
        match = _URL.match(endpoint)
        scheme, rest = (match.group(1), match.group(2)) if match else ("https", endpoint)
        kwargs["endpoint_override"] = rest.rstrip("/")
        kwargs["scheme"] = scheme
    elif env.get("AWS_ALLOW_HTTP", "").lower() in _TRUE:
        kwargs["scheme"] = "http"
    return pafs.S3FileSystem(**kwargs)


class StoreError(LakeError, OSError):
    """An object-store request failed (unreachable endpoint, denied, no such bucket): a
    LakeError naming the object, and an OSError (code that copes with an unwritable
    local lake copes with an unwritable bucket the same way)."""


@dataclass(frozen=True)
class StoreStat:
    """What :meth:`StorePath.stat` tells: size [bytes] and modification time [ns]."""

    st_size: int
    st_mtime_ns: int
    st_ino: int = 0


class StorePath:
    """An object-store key under a lake, with the part of ``pathlib.Path`` the lake code
    uses (``/``, ``name``, ``parent``, ``exists``, ``read_text``, ``write_text``,
    ``unlink``, ...). ``str()`` is the URL; :attr:`fs` and :attr:`key` are what pyarrow
    calls take. Writing an object is atomic (a reader sees all of it or none)."""

    def __init__(self, scheme: str, key: str, fs: pafs.FileSystem | None = None) -> None:
        self.scheme = scheme
        self.key = key.strip("/")
        self.fs = fs if fs is not None else _s3_filesystem()

    # --- names ----------------------------------------------------------------------
    def __str__(self) -> str:
        return f"{self.scheme}://{self.key}"

    def __repr__(self) -> str:
        return f"StorePath({str(self)!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, StorePath) and str(self) == str(other)

    def __hash__(self) -> int:
        return hash(str(self))

    def __truediv__(self, part: str | Path) -> StorePath:
        return StorePath(self.scheme, posixpath.join(self.key, str(part)), self.fs)

    @property
    def name(self) -> str:
        return posixpath.basename(self.key)

    @property
    def parent(self) -> StorePath:
        return StorePath(self.scheme, posixpath.dirname(self.key), self.fs)

    def with_name(self, name: str) -> StorePath:
        return self.parent / name

    def absolute(self) -> StorePath:
        return self

    def resolve(self) -> StorePath:
        return self

    # --- objects --------------------------------------------------------------------
    def _failed(self, what: str, exc: OSError) -> StoreError:
        return StoreError(f"{self}: cannot {what} ({exc})")

    def _info(self) -> pafs.FileInfo:
        try:
            return self.fs.get_file_info(self.key)
        except OSError as exc:
            raise self._failed("stat", exc) from None

    def _type(self) -> str:
        """``NotFound``, ``File`` or ``Directory``."""
        return str(self._info().type.name)

    def exists(self) -> bool:
        return self._type() != "NotFound"

    def is_file(self) -> bool:
        return self._type() == "File"

    def is_dir(self) -> bool:
        return self._type() == "Directory"

    def stat(self) -> StoreStat:
        info = self._info()
        if info.type.name == "NotFound":
            raise FileNotFoundError(str(self))
        return StoreStat(int(info.size or 0), int(info.mtime_ns or 0))

    def read_bytes(self) -> bytes:
        try:
            with self.fs.open_input_stream(self.key) as f:
                return bytes(f.read())
        except FileNotFoundError:
            raise
        except OSError as exc:
            if not self.exists():
                raise FileNotFoundError(str(self)) from exc
            raise self._failed("read", exc) from None

    def read_text(self) -> str:
        return self.read_bytes().decode()

    def write_bytes(self, data: bytes) -> None:
        try:
            with self.fs.open_output_stream(self.key) as f:
                f.write(data)
        except OSError as exc:
            raise self._failed("write", exc) from None

    def write_text(self, text: str) -> None:
        self.write_bytes(text.encode())

    def unlink(self, missing_ok: bool = False) -> None:
        try:
            self.fs.delete_file(self.key)
        except (FileNotFoundError, OSError):
            if not missing_ok and not self.exists():
                raise FileNotFoundError(str(self)) from None

    def mkdir(self, parents: bool = False, exist_ok: bool = False) -> None:
        """Nothing to do on an object store (a prefix exists once an object is under it)."""


LakePath = Path | StorePath


def lake_location(lake: str | Path | StorePath) -> Path | str:
    """A lake argument normalised: a local path (or ``file://`` URL) as a resolved
    ``Path``, an ``s3://bucket/path`` URL kept as a string (LakeError for another
    scheme). What the CLI hands to the library; every function that takes a lake takes
    either."""
    root = lake_root(lake)
    return str(root) if isinstance(root, StorePath) else root


def lake_root(lake: str | Path | StorePath) -> LakePath:
    """A lake argument as the object the lake code reads and writes through: a local
    path resolved, ``file://`` as a local path, ``s3://bucket/path`` as a
    :class:`StorePath`; LakeError for another scheme."""
    if isinstance(lake, StorePath):
        return lake
    if isinstance(lake, Path):
        return lake.expanduser().resolve()
    match = _URL.match(str(lake))
    if match is None:
        return Path(lake).expanduser().resolve()
    scheme, rest = match.group(1).lower(), match.group(2)
    if scheme == "file":
        return Path(rest).resolve()
    if scheme in S3_SCHEMES:
        if not rest.strip("/"):
            raise LakeError(f"{lake}: an object-store lake needs a bucket (s3://bucket/path)")
        return StorePath(scheme, rest)
    raise LakeError(f"{lake}: unsupported lake URL scheme {scheme!r} (local paths and s3:// work)")


def is_remote(lake: LakePath) -> bool:
    """True for an object-store location."""
    return isinstance(lake, StorePath)


def table_uri(lake: LakePath, table: str) -> str:
    """The URI ``deltalake`` opens for ``table`` of the lake."""
    return str(lake / table)


def delta_options(lake: LakePath) -> dict[str, str] | None:
    """``deltalake`` storage options for the lake (None for a local one)."""
    return storage_options() if is_remote(lake) else None


def filesystem_and_path(path: LakePath) -> tuple[pafs.FileSystem | None, str]:
    """(filesystem, path) that pyarrow readers and writers take for ``path`` (None: local)."""
    if isinstance(path, StorePath):
        return path.fs, path.key
    return None, str(path)


def local_side(lake: str | Path | StorePath) -> Path:
    """The local folder that holds what is kept beside the lake but is not lake data
    (token shards, vocabularies): the lake folder itself for a local lake; for a remote
    one ``$EMGCORPUS_LOCAL_STORE`` (default ``./emg-lake-local``) / bucket / path."""
    where = lake_root(lake)
    if isinstance(where, StorePath):
        root = Path(os.environ.get(LOCAL_SIDE_ENV, DEFAULT_LOCAL_SIDE))
        return (root / where.key).resolve()
    return where


def open_output(path: LakePath) -> Any:
    """A new file (or object) at ``path`` as a pyarrow output stream; an object appears
    when the stream is closed."""
    if isinstance(path, StorePath):
        return path.fs.open_output_stream(path.key)
    import pyarrow as pa

    return pa.OSFile(str(path), "wb")


def parquet_source(path: LakePath) -> Any:
    """What ``pyarrow.parquet`` readers take for ``path``: the local path as a string, or an
    open random-access file of the object."""
    if isinstance(path, StorePath):
        return path.fs.open_input_file(path.key)
    return str(path)
