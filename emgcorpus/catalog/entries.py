"""The dataset catalog: ``catalog.yaml`` read into typed, validated entries.

``catalog.yaml`` lists the public EMG datasets emgcorpus knows: which adapter reads
them (with its options), where to download them (URL, relative path, size [bytes] and
sha256 per file where known), whether a login is needed, licence, citation, device,
channel count and layout, sampling rate [Hz], subjects, sessions, classes and size.

Where the file lives: ``$EMGCORPUS_CATALOG`` if set, else ``catalog.yaml`` at the root
of a source checkout, else the copy packaged next to this module.
"""

from __future__ import annotations

import difflib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from emgcorpus.errors import ConfigError

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
ACCESS_KINDS = ("open", "login")


@dataclass(frozen=True)
class CatalogFile:
    """One downloadable file: ``path`` is relative to the dataset folder; ``size`` in bytes.

    ``extract``: unpack the file after download (``None``: yes when the name ends like a
    zip or tar archive, see :data:`emgcorpus.catalog.archive.ARCHIVE_SUFFIXES`).
    """

    url: str
    path: str
    sha256: str | None = None
    size: int | None = None
    extract: bool | None = None

    @property
    def is_extracted(self) -> bool:
        """True when ``fetch`` unpacks this file into the dataset folder."""
        from emgcorpus.catalog.archive import is_archive

        return self.extract if self.extract is not None else is_archive(self.path)


@dataclass(frozen=True)
class CatalogEntry:
    """One dataset of the catalog. ``None`` means the fact is not known (never invented).

    ``fs_hz`` is the native sampling rate [Hz]; ``channels`` counts the EMG channels;
    ``size`` is a human-readable approximate download size (e.g. ``"2.3 GB"``).
    ``expect_glob`` is a glob (relative to the dataset folder) of the files a user must
    place by hand when the file names are not listed (``login`` datasets);
    ``extract_glob`` a glob of archives a user placed by hand that ``fetch`` extracts
    (e.g. NinaPro's per-subject zip files).

    ``dataset`` is the name the recordings get in the lake (the ``dataset`` column), which
    links the entry to what was ingested; default: the ``dataset`` adapter option, else
    the entry's name (see :attr:`lake_dataset`). Several entries may share one lake name
    (both LibEMG CIIL sets are ``ciil``). ``source`` is the folder, relative to the
    dataset folder, to give the adapter once the files are fetched and extracted
    (default: see :func:`emgcorpus.catalog.fetch.source_dir`).
    """

    name: str
    title: str
    adapter: str
    homepage: str
    access: str
    licence: str
    citation: str
    doi: str | None
    device: str
    channels: int
    layout: str
    fs_hz: float
    subjects: int | None
    sessions: int | None
    classes: int | None
    tasks: str
    size: str
    options: dict[str, Any] = field(default_factory=dict)
    files: list[CatalogFile] = field(default_factory=list)
    manual_steps: str | None = None
    expect_glob: str | None = None
    extract_glob: str | None = None
    notes: str | None = None
    dataset: str | None = None
    source: str | None = None

    @property
    def lake_dataset(self) -> str:
        """The ``dataset`` name this entry's recordings carry in the lake."""
        alias = self.options.get("dataset")
        return self.dataset or (alias if isinstance(alias, str) and alias else self.name)

    def to_dict(self) -> dict[str, Any]:
        """A plain, JSON-ready mapping of this entry."""
        d = {k: getattr(self, k) for k in self.__dataclass_fields__}
        d["files"] = [vars(f).copy() for f in self.files]
        d["options"] = dict(self.options)
        d["lake_dataset"] = self.lake_dataset
        return d


# field name -> (accepted types, required). ``int`` fields refuse bools.
_FIELDS: dict[str, tuple[tuple[type, ...], bool]] = {
    "name": ((str,), True),
    "title": ((str,), True),
    "adapter": ((str,), True),
    "homepage": ((str,), True),
    "access": ((str,), True),
    "licence": ((str,), True),
    "citation": ((str,), True),
    "doi": ((str, type(None)), True),
    "device": ((str,), True),
    "channels": ((int,), True),
    "layout": ((str,), True),
    "fs_hz": ((int, float), True),
    "subjects": ((int, type(None)), True),
    "sessions": ((int, type(None)), True),
    "classes": ((int, type(None)), True),
    "tasks": ((str,), True),
    "size": ((str,), True),
    "options": ((dict,), False),
    "files": ((list,), False),
    "manual_steps": ((str, type(None)), False),
    "expect_glob": ((str, type(None)), False),
    "extract_glob": ((str, type(None)), False),
    "notes": ((str, type(None)), False),
    "dataset": ((str, type(None)), False),
    "source": ((str, type(None)), False),
}
_FILE_FIELDS: dict[str, tuple[tuple[type, ...], bool]] = {
    "url": ((str,), True),
    "path": ((str,), True),
    "sha256": ((str, type(None)), False),
    "size": ((int, type(None)), False),
    "extract": ((bool, type(None)), False),
}


def default_catalog_path() -> Path:
    """Where ``catalog.yaml`` is read from when no path is given (see module docstring)."""
    env = os.environ.get("EMGCORPUS_CATALOG")
    if env:
        return Path(env)
    here = Path(__file__).resolve().parent
    checkout = here.parent.parent / "catalog.yaml"
    if checkout.is_file():
        return checkout
    return here / "catalog.yaml"


def _type_names(types: tuple[type, ...]) -> str:
    names = {int: "integer", float: "number", str: "string", dict: "mapping", list: "list"}
    return " or ".join("null" if t is type(None) else names.get(t, t.__name__) for t in types)


def _check_fields(
    where: str, raw: dict[str, Any], spec: dict[str, tuple[tuple[type, ...], bool]]
) -> None:
    unknown = sorted(set(raw) - set(spec))
    if unknown:
        raise ConfigError(f"{where}: unknown field(s) {', '.join(unknown)}")
    for key, (types, required) in spec.items():
        if key not in raw:
            if required:
                raise ConfigError(f"{where}: missing required field {key!r}")
            continue
        value = raw[key]
        bad_bool = isinstance(value, bool) and bool not in types
        if bad_bool or not isinstance(value, types):
            raise ConfigError(
                f"{where}: field {key!r} must be {_type_names(types)}, "
                f"got {type(value).__name__} {value!r}"
            )


def _parse_file(where: str, raw: Any) -> CatalogFile:
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a mapping with url/path/sha256/size, got {raw!r}")
    _check_fields(where, raw, _FILE_FIELDS)
    path = _relative_path(where, "path", raw["path"])
    sha = raw.get("sha256")
    if sha is not None and not _SHA256.match(sha):
        raise ConfigError(f"{where}: field 'sha256' must be 64 lower-case hex digits, got {sha!r}")
    size = raw.get("size")
    if size is not None and size < 0:
        raise ConfigError(f"{where}: field 'size' must be >= 0 bytes, got {size}")
    return CatalogFile(url=raw["url"], path=path, sha256=sha, size=size, extract=raw.get("extract"))


def _relative_path(where: str, key: str, value: str) -> str:
    """``value`` as a normalised relative path inside the dataset folder, else ConfigError."""
    path = PurePosixPath(value)
    if not value.strip() or path.is_absolute() or ".." in path.parts:
        raise ConfigError(
            f"{where}: field {key!r} must be a relative path inside the dataset folder, "
            f"got {value!r}"
        )
    return str(path)


def _parse_entry(index: int, raw: Any, source: Path) -> CatalogEntry:
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: datasets[{index}] must be a mapping, got {raw!r}")
    name = raw.get("name")
    label = f"dataset {name!r}" if isinstance(name, str) else f"datasets[{index}]"
    where = f"{source}: {label}"
    _check_fields(where, raw, _FIELDS)
    if not _NAME.match(raw["name"]):
        raise ConfigError(
            f"{where}: field 'name' must be lower-case letters, digits, '.', '_' "
            f"or '-', got {raw['name']!r}"
        )
    from adapters.registry import ADAPTERS

    if raw["adapter"] not in ADAPTERS:
        raise ConfigError(
            f"{where}: field 'adapter' names {raw['adapter']!r}, which is not a "
            f"registered adapter ({', '.join(sorted(ADAPTERS))})"
        )
    if raw["access"] not in ACCESS_KINDS:
        raise ConfigError(
            f"{where}: field 'access' must be 'open' or 'login', got {raw['access']!r}"
        )
    if raw["access"] == "login" and not raw.get("manual_steps"):
        raise ConfigError(
            f"{where}: a 'login' dataset needs 'manual_steps' telling the user how to get the files"
        )
    for key in ("channels", "subjects", "sessions", "classes"):
        value = raw.get(key)
        if value is not None and value <= 0:
            raise ConfigError(f"{where}: field {key!r} must be > 0, got {value}")
    if raw.get("dataset") is not None and not _NAME.match(raw["dataset"]):
        raise ConfigError(
            f"{where}: field 'dataset' must be lower-case letters, digits, '.', '_' "
            f"or '-', got {raw['dataset']!r}"
        )
    if raw.get("source") is not None:
        raw = {**raw, "source": _relative_path(where, "source", raw["source"])}
    if raw["fs_hz"] <= 0:
        raise ConfigError(f"{where}: field 'fs_hz' must be > 0 Hz, got {raw['fs_hz']}")
    files = [_parse_file(f"{where}, files[{i}]", f) for i, f in enumerate(raw.get("files", []))]
    paths = [f.path for f in files]
    dupes = sorted({p for p in paths if paths.count(p) > 1})
    if dupes:
        raise ConfigError(f"{where}: files list the same path twice: {', '.join(dupes)}")
    values: dict[str, Any] = {
        k: raw.get(k) for k in _FIELDS if k not in ("files", "fs_hz", "options")
    }
    return CatalogEntry(
        **values,
        fs_hz=float(raw["fs_hz"]),
        options=dict(raw.get("options") or {}),
        files=files,
    )


def load_catalog(path: Path | None = None) -> dict[str, CatalogEntry]:
    """Read and validate the catalog: dataset name -> entry, in file order.

    Raises ConfigError naming the entry and field for any schema problem (missing or
    mistyped field, duplicate name, unknown adapter, bad checksum syntax).
    """
    source = Path(path) if path is not None else default_catalog_path()
    if not source.is_file():
        raise ConfigError(f"{source}: catalog file not found")
    try:
        doc = yaml.safe_load(source.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: not valid YAML: {exc}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("datasets"), list):
        raise ConfigError(f"{source}: expected a top-level mapping with a 'datasets' list")
    entries: dict[str, CatalogEntry] = {}
    for i, raw in enumerate(doc["datasets"]):
        entry = _parse_entry(i, raw, source)
        if entry.name in entries:
            raise ConfigError(
                f"{source}: dataset name {entry.name!r} appears twice "
                f"(datasets[{i}] repeats an earlier entry)"
            )
        entries[entry.name] = entry
    return entries


def get_entry(name: str, path: Path | None = None) -> CatalogEntry:
    """The catalog entry ``name``; ConfigError listing close names when it is unknown."""
    catalog = load_catalog(path)
    if name in catalog:
        return catalog[name]
    close = difflib.get_close_matches(name, list(catalog), n=5, cutoff=0.5)
    hint = f"did you mean {', '.join(close)}?" if close else f"known: {', '.join(catalog)}"
    raise ConfigError(f"unknown dataset {name!r} in the catalog: {hint}")


def entries_for_dataset(dataset: str, catalog_path: Path | None = None) -> list[CatalogEntry]:
    """The catalog entries whose recordings are stored under lake name ``dataset``."""
    return [e for e in load_catalog(catalog_path).values() if e.lake_dataset == dataset]


def checksums_for(dataset: str, catalog_path: Path | None = None) -> dict[str, str]:
    """Path -> sha256 of the files with a known sha256 of the entries ingested as ``dataset``.

    ``dataset`` is the lake name (:attr:`CatalogEntry.lake_dataset`, what an adapter writes,
    e.g. ``ninapro-db2`` or ``ciil``). Paths are relative to the folder given to the
    adapter: the entry's ``source`` prefix is removed from files below it. ``{}`` when no
    entry matches (ingest then checks nothing).
    """
    sums: dict[str, str] = {}
    for entry in entries_for_dataset(dataset, catalog_path):
        prefix = f"{entry.source}/" if entry.source else ""
        for f in entry.files:
            if f.sha256 is not None:
                key = f.path[len(prefix) :] if prefix and f.path.startswith(prefix) else f.path
                sums[key] = f.sha256
    return sums
