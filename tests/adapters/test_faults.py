"""Mutated-file fault tests for every adapter that reads files (issue 12).

For each registered adapter, the first unit of its contract source is copied (only that
unit's files) and every applicable mutation of :mod:`tests.adapters.mutations` is applied
to each of its files in turn, with a seed derived from (adapter, file, mutation). Then:

- reading never raises anything but the project's errors (``EmgCorpusError``), and such
  an error names the mutated file; a recording read from a mutated file either passes
  ``validate_recording`` (a mutation the format cannot see, such as a flipped sample byte
  of a headerless binary) or is refused by it (as ingest refuses it, naming the unit's
  first file); an empty file is always an error;
- the lake is unchanged: the clean unit is ingested first; every mutation that is an
  error then goes through ``ingest`` with ``on_error="skip"`` in one run: nothing is
  added, every unit is reported, the snapshot and the lake's files stay identical and
  ``verify_lake`` passes.

``test_faults_many_seeds`` (slow) repeats the reading half with more seeds of the random
mutations.
"""

from __future__ import annotations

import importlib
import os
import shutil
import zlib
from pathlib import Path

import numpy as np
import pytest

from adapters.registry import adapter_names, get_adapter_class, make_adapter
from emgcorpus.errors import EmgCorpusError
from emgcorpus.ingest import ingest
from emgcorpus.lake_writer import read_snapshot
from emgcorpus.recording import Adapter, Recording, SourceUnit, validate_recording
from emgcorpus.verify import verify_lake
from tests.adapters.mutations import MUTATIONS

FILE_READERS = [n for n in adapter_names() if get_adapter_class(n).reads_files]
#: mutations whose bytes depend on the seed (the others are the same for every seed)
RANDOM = ("header-flips", "data-flips", "nan-text", "mat-types")


def test_every_adapter_but_the_simulated_corpus_is_fuzzed() -> None:
    assert set(adapter_names()) - set(FILE_READERS) == {"sim"}


def _clean_unit(name: str, tmp_path: Path) -> tuple[Path, Path, SourceUnit, dict[str, str]]:
    """(source root, adapter source, first unit, options) of the contract source."""
    module = importlib.import_module(f"tests.adapters.contract_sources.{name.replace('-', '_')}")
    (tmp_path / "contract").mkdir(parents=True)
    source, options = module.make_source(tmp_path / "contract")
    source = Path(source)
    unit = make_adapter(name, str(source), **options).discover()[0]
    root = source if source.is_dir() else source.parent
    return root, source, unit, options


def _mirror(root: Path, source: Path, unit: SourceUnit, dest: Path) -> tuple[Path, SourceUnit]:
    """Copy the unit's files below ``dest`` with their paths relative to ``root``."""
    files = []
    for f in unit.files:
        rel = Path(os.path.relpath(f, root))
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(f, target)
        files.append(target)
    return dest / os.path.relpath(source, root), SourceUnit(unit.key, tuple(files))


def _seed(*parts: str) -> int:
    return zlib.crc32("\x1f".join(parts).encode())


class _Units(Adapter):
    """Hands ingest a fixed list of (adapter, unit): the mutated copies, one run."""

    name = "fuzz"
    reads_files = False

    def __init__(self, items: list[tuple[Adapter, SourceUnit]], dataset: str, tag: str) -> None:
        super().__init__(".", dataset=dataset)
        self.items = {f"{tag}{k}/{u.key}": (a, u) for k, (a, u) in enumerate(items)}

    def discover(self) -> list[SourceUnit]:
        return [SourceUnit(key, u.files) for key, (_, u) in self.items.items()]

    def read(self, unit: SourceUnit) -> Recording:
        adapter, original = self.items[unit.key]
        return adapter.read(original)


def _read_mutated(
    name: str, options: dict[str, str], source: Path, unit: SourceUnit, target: Path, mutation: str
) -> tuple[Adapter, EmgCorpusError | None]:
    """Read the mutated unit; the adapter and the project error it raised (None if read)."""
    adapter = make_adapter(name, str(source), **options)
    for step in (adapter.discover, lambda: adapter.read(unit)):  # discover may look too
        try:
            rec = step()
        except EmgCorpusError as exc:
            assert target.name in str(exc), f"{name} {mutation} of {target.name}: no file: {exc}"
            assert len(str(exc)) > len(str(target)) + 10, f"{name}: error says no problem: {exc}"
            if step is adapter.discover:
                continue
            return adapter, exc
        except Exception as exc:  # noqa: BLE001 - the point of the test
            pytest.fail(f"{name}: {mutation} of {target.name} raised {type(exc).__name__}: {exc}")
    assert mutation != "empty", f"{name} read an empty {target.name}"
    try:  # what ingest applies next: a recording that breaks the contract is refused too
        validate_recording(rec, unit.files[0], dataset=adapter.dataset)
    except EmgCorpusError as exc:
        assert unit.files[0].name in str(exc)
        return adapter, exc
    return adapter, None


def _fuzz(name: str, tmp_path: Path, seeds: range) -> list[tuple[Adapter, SourceUnit]]:
    """Every mutation x file x seed; returns the (adapter, unit) pairs that were errors."""
    root, source, unit, options = _clean_unit(name, tmp_path)
    failing: list[tuple[Adapter, SourceUnit]] = []
    applied = 0
    for k, original in enumerate(unit.files):
        for mutation, mutate in MUTATIONS.items():
            for seed in seeds if mutation in RANDOM else seeds[:1]:
                dest = tmp_path / f"m{k}-{mutation}-{seed}"
                src, copy = _mirror(root, source, unit, dest)
                target = copy.files[k]
                rng = np.random.default_rng(_seed(name, original.name, mutation, str(seed)))
                if not mutate(target, rng):
                    shutil.rmtree(dest)
                    continue
                applied += 1
                adapter, error = _read_mutated(name, options, src, copy, target, mutation)
                if error is not None:
                    failing.append((adapter, copy))
    assert applied >= 5 * len(unit.files), f"{name}: only {applied} mutations applied"
    return failing


@pytest.mark.parametrize("name", FILE_READERS)
def test_mutated_files_give_named_errors_and_leave_the_lake_unchanged(
    name: str, tmp_path: Path
) -> None:
    failing = _fuzz(name, tmp_path, range(1))
    assert failing, f"{name}: no mutation was an error"
    root, source, unit, options = _clean_unit(name, tmp_path / "lake-source")
    src, copy = _mirror(root, source, unit, tmp_path / "clean")
    clean = make_adapter(name, str(src), **options)
    lake = tmp_path / "lake"
    first = ingest(lake, _Units([(clean, copy)], clean.dataset, "clean"), progress=False)
    assert len(first.added) == 1 and not first.errors, first.errors
    before = read_snapshot(lake)
    files_before = sorted((p.relative_to(lake), p.stat().st_size) for p in lake.rglob("*.parquet"))
    report = ingest(lake, _Units(failing, clean.dataset, "fuzz"), on_error="skip", progress=False)
    assert report.added == [] and len(report.errors) == len(failing)
    assert read_snapshot(lake) == before
    files_after = sorted((p.relative_to(lake), p.stat().st_size) for p in lake.rglob("*.parquet"))
    assert files_after == files_before, "failed units left sample files in the lake"
    assert verify_lake(lake) == []


@pytest.mark.slow
@pytest.mark.parametrize("name", FILE_READERS)
def test_faults_many_seeds(name: str, tmp_path: Path) -> None:
    assert _fuzz(name, tmp_path, range(1, 6))
