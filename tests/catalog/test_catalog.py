"""The real catalog.yaml passes its schema, and bad catalogs fail with clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.registry import ADAPTERS
from emgcorpus.catalog.entries import (
    CatalogEntry,
    checksums_for,
    default_catalog_path,
    get_entry,
    load_catalog,
)
from emgcorpus.errors import ConfigError
from tests.catalog.catalog_factory import entry, write_catalog
from tests.conftest import REPO

REQUIRED = [
    *(f"ninapro-db{i}" for i in range(1, 9)),
    "capgmyo-dba",
    "capgmyo-dbb",
    "capgmyo-dbc",
    "csl-hdemg",
    "grabmyo",
    "hyser",
    "putemg",
    "emg2qwerty",
    "emg2pose",
    "epn612",
    "uci-gestures",
    "cote-allard",
    "ciil-electrodeshift",
    "ciil-minimal",
    "physionet-emgdb",
    "fors-emg",
    "flexemg",
    "openhdemg-otb",
]


@pytest.fixture(scope="module")
def catalog() -> dict[str, CatalogEntry]:
    return load_catalog(REPO / "catalog.yaml")


def test_default_path_is_the_repository_catalog(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EMGCORPUS_CATALOG", raising=False)
    assert default_catalog_path().resolve() == (REPO / "catalog.yaml").resolve()


def test_real_catalog_has_the_required_datasets(catalog: dict[str, CatalogEntry]) -> None:
    assert len(catalog) >= 20
    assert [n for n in REQUIRED if n not in catalog] == []


def test_every_entry_names_a_registered_adapter(catalog: dict[str, CatalogEntry]) -> None:
    assert {n: e.adapter for n, e in catalog.items() if e.adapter not in ADAPTERS} == {}


def test_real_catalog_entries_are_complete(catalog: dict[str, CatalogEntry]) -> None:
    for e in catalog.values():
        assert e.fs_hz > 0 and e.channels > 0, e.name
        assert e.homepage.startswith(("http://", "https://")), e.name
        assert e.files or e.manual_steps, f"{e.name}: neither files nor manual steps"
        for f in e.files:
            assert f.url.startswith(("http://", "https://")), (e.name, f.url)
    for n in (f"ninapro-db{i}" for i in range(1, 9)):
        assert catalog[n].access == "login" and "{dir}" in (catalog[n].manual_steps or "")


def test_known_facts(catalog: dict[str, CatalogEntry]) -> None:
    assert (catalog["putemg"].channels, catalog["putemg"].fs_hz) == (24, 5120.0)
    assert (catalog["emg2qwerty"].channels, catalog["emg2qwerty"].fs_hz) == (32, 2000.0)
    assert (catalog["epn612"].channels, catalog["epn612"].fs_hz) == (8, 200.0)
    assert (catalog["grabmyo"].fs_hz, catalog["hyser"].channels) == (2048.0, 256)


def test_checksums_for_lists_known_sha256(catalog: dict[str, CatalogEntry]) -> None:
    sums = checksums_for("flexemg", REPO / "catalog.yaml")
    assert len(sums) == 31
    assert sums["arraymap.mat"] == (
        "b85caf921a949e4bff5019dd3473a8981216476ebda8bc3c70e0653db804892c"
    )
    assert checksums_for("emg2qwerty", REPO / "catalog.yaml") == {}
    assert checksums_for("no-such-dataset", REPO / "catalog.yaml") == {}


def test_flexemg_checksums_match_the_shared_copy() -> None:
    from emgcorpus.checksums import file_sha256
    from tests.conftest import shared_data

    root = shared_data("flexemg_hd64")
    sums = checksums_for("flexemg", REPO / "catalog.yaml")
    assert {p: file_sha256(root / p) for p in list(sums)[:3]} == {
        p: sums[p] for p in list(sums)[:3]
    }


def test_get_entry_suggests_close_names(tmp_path: Path) -> None:
    cat = write_catalog(tmp_path / "c.yaml", [entry("ninapro-db1"), entry("ninapro-db2")])
    assert get_entry("ninapro-db2", cat).name == "ninapro-db2"
    with pytest.raises(ConfigError, match="unknown dataset 'ninapro-db9'.*ninapro-db1"):
        get_entry("ninapro-db9", cat)


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({"channels": "eight"}, r"dataset 'x': field 'channels' must be integer, got str"),
        ({"channels": True}, r"field 'channels' must be integer, got bool"),
        ({"fs_hz": -5}, r"field 'fs_hz' must be > 0 Hz"),
        ({"adapter": "nope"}, r"field 'adapter' names 'nope', which is not a registered"),
        ({"access": "paid"}, r"field 'access' must be 'open' or 'login'"),
        ({"access": "login"}, r"a 'login' dataset needs 'manual_steps'"),
        ({"colour": "red"}, r"unknown field\(s\) colour"),
        ({"name": "Bad Name"}, r"dataset 'Bad Name': field 'name' must be lower-case"),
        ({"files": [{"url": "http://h/a", "path": "../a"}]}, r"files\[0\]: field 'path'"),
        ({"files": [{"url": "http://h/a", "path": "a", "sha256": "abc"}]}, r"64 lower-case hex"),
        ({"files": [{"path": "a"}]}, r"files\[0\]: missing required field 'url'"),
    ],
)
def test_bad_entries_are_refused_naming_entry_and_field(
    tmp_path: Path, bad: dict[str, object], message: str
) -> None:
    cat = write_catalog(tmp_path / "c.yaml", [entry("x", **bad)])
    with pytest.raises(ConfigError, match=message) as err:
        load_catalog(cat)
    assert str(cat) in str(err.value)


def test_missing_field_is_named(tmp_path: Path) -> None:
    e = entry("x")
    del e["licence"]
    with pytest.raises(ConfigError, match=r"dataset 'x': missing required field 'licence'"):
        load_catalog(write_catalog(tmp_path / "c.yaml", [e]))


def test_duplicate_names_are_refused(tmp_path: Path) -> None:
    cat = write_catalog(tmp_path / "c.yaml", [entry("x"), entry("y"), entry("x")])
    with pytest.raises(ConfigError, match=r"dataset name 'x' appears twice \(datasets\[2\]"):
        load_catalog(cat)


def test_not_a_catalog(tmp_path: Path) -> None:
    (tmp_path / "c.yaml").write_text("- just a list\n")
    with pytest.raises(ConfigError, match="top-level mapping with a 'datasets' list"):
        load_catalog(tmp_path / "c.yaml")
    (tmp_path / "d.yaml").write_text("datasets: [\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_catalog(tmp_path / "d.yaml")
    with pytest.raises(ConfigError, match="catalog file not found"):
        load_catalog(tmp_path / "absent.yaml")


def test_every_entry_instantiates_its_adapter(
    catalog: dict[str, CatalogEntry], tmp_path: Path
) -> None:
    from adapters.registry import make_adapter

    for e in catalog.values():
        adapter = make_adapter(e.adapter, str(tmp_path), **e.options)
        assert adapter.name == e.adapter


def test_lake_names_link_entries_to_what_adapters_write(
    catalog: dict[str, CatalogEntry], tmp_path: Path
) -> None:
    from adapters.registry import make_adapter

    for n in range(1, 9):
        e = catalog[f"ninapro-db{n}"]
        written = make_adapter(e.adapter, str(tmp_path), **e.options).dataset
        assert e.lake_dataset == written == f"ninapro-db{n}"
    for x in "abc":
        e = catalog[f"capgmyo-db{x}"]
        written = make_adapter(e.adapter, str(tmp_path), **e.options).dataset
        assert e.lake_dataset == written == f"capgmyo-db{x}"
    assert catalog["ciil-electrodeshift"].lake_dataset == catalog["ciil-minimal"].lake_dataset
    assert make_adapter("ciil", str(tmp_path)).dataset == catalog["ciil-minimal"].lake_dataset
    assert catalog["emg2pose-mini"].lake_dataset == "emg2pose"
    assert catalog["cote-allard"].lake_dataset == "cote-allard"


def test_ingest_command_round_trips_options_and_adds_dataset_when_needed(
    catalog: dict[str, CatalogEntry], tmp_path: Path
) -> None:
    import shlex

    import yaml

    from adapters.registry import make_adapter
    from emgcorpus.catalog.fetch import ingest_command

    for e in catalog.values():
        argv = shlex.split(ingest_command(e, tmp_path / e.name))
        assert argv[:3] == ["emgcorpus", "ingest", e.adapter], e.name
        pairs = [argv[i + 1] for i, a in enumerate(argv) if a == "--option"]
        parsed = {p.split("=", 1)[0]: yaml.safe_load(p.split("=", 1)[1]) for p in pairs}
        assert parsed == {k: v for k, v in e.options.items() if k != "dataset"}, e.name
        default = make_adapter(e.adapter, argv[3], **parsed).dataset
        expected = [] if default == e.lake_dataset else ["--dataset", e.lake_dataset]
        tail = argv[argv.index("--dataset") :] if "--dataset" in argv else []
        assert tail == expected, e.name
    cote = shlex.split(ingest_command(catalog["cote-allard"], tmp_path / "cote-allard"))
    assert cote[3] == str(tmp_path / "cote-allard" / catalog["cote-allard"].source)


def test_checksums_follow_the_lake_name_and_the_source_folder(tmp_path: Path) -> None:
    sha = "ab" * 32
    cat = write_catalog(
        tmp_path / "c.yaml",
        [
            entry(
                "set-one",
                dataset="shared",
                source="pack/data",
                files=[{"url": "http://h/a", "path": "pack/data/s1/a.bin", "sha256": sha}],
            ),
            entry(
                "set-two",
                dataset="shared",
                files=[{"url": "http://h/b", "path": "b.bin", "sha256": "cd" * 32}],
            ),
            entry("other", files=[{"url": "http://h/c", "path": "c.bin", "sha256": "ef" * 32}]),
        ],
    )
    assert checksums_for("shared", cat) == {"s1/a.bin": sha, "b.bin": "cd" * 32}
    assert checksums_for("set-one", cat) == {}
    assert checksums_for("other", cat) == {"c.bin": "ef" * 32}


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({"dataset": "Bad Name"}, r"field 'dataset' must be lower-case"),
        ({"source": "../up"}, r"field 'source' must be a relative path"),
        ({"source": "/abs"}, r"field 'source' must be a relative path"),
        (
            {"files": [{"url": "http://h/a", "path": "a.zip", "extract": "yes"}]},
            r"files\[0\]: field 'extract' must be",
        ),
    ],
)
def test_bad_link_fields_are_refused(tmp_path: Path, bad: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_catalog(write_catalog(tmp_path / "c.yaml", [entry("x", **bad)]))
