"""The adapter contract, checked against every registered adapter (MNE's
``_test_raw_reader`` idea): register an adapter and it gets this whole suite.

Each adapter ``name`` needs a module ``tests.adapters.contract_sources.<name with - -> _>``
with ``make_source(tmp_path) -> (source, options)``; a registered adapter without one
fails here. Only the first few units of a source are read, to keep the suite fast.
"""

from __future__ import annotations

import importlib
import inspect
import os
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from adapters.registry import adapter_names, get_adapter_class, make_adapter
from emgcorpus.errors import SourceError
from emgcorpus.recording import Adapter, SourceUnit, validate_recording
from tests.adapters.clocks import CLOCKS

N_UNITS = 3

# ---------------------------------------------------------------------------- file-open spy

_OPENED: list[str] | None = None


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if _OPENED is not None and event == "open" and args:
        target = args[0]
        if isinstance(target, (str, bytes, os.PathLike)):
            _OPENED.append(os.path.realpath(os.fsdecode(target)))


sys.addaudithook(_audit)  # audit hooks cannot be removed; it only records inside _spy()


@contextmanager
def _spy() -> Iterator[list[str]]:
    """Record the real paths of every file Python-level code opens inside the block."""
    global _OPENED
    _OPENED = []
    try:
        yield _OPENED
    finally:
        _OPENED = None


# ---------------------------------------------------------------------------- fixtures


def _contract_source(name: str, tmp_path: Path) -> tuple[Adapter, list[SourceUnit]]:
    module_name = f"tests.adapters.contract_sources.{name.replace('-', '_')}"
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name != module_name:
            raise
        pytest.fail(
            f"adapter {name!r} is registered but has no contract source: write "
            f"{module_name.replace('.', '/')}.py defining make_source(tmp_path) -> (path, options)"
        )
    source, options = module.make_source(tmp_path)
    adapter = make_adapter(name, str(source), **options)
    units = adapter.discover()
    return adapter, units


def _files(units: list[SourceUnit]) -> set[str]:
    return {os.path.realpath(f) for u in units for f in u.files}


# ---------------------------------------------------------------------------- the contract
# (each recording: emgcorpus.recording.validate_recording, the rules ingest applies; here
# the adapter's own duties: docs, sorted unique units, stable ids, repeatable reads, no
# other unit's files opened)


@pytest.mark.parametrize("name", adapter_names())
def test_adapter_contract(name: str, tmp_path: Path) -> None:
    cls = get_adapter_class(name)
    assert cls.name == name, f"{cls.__name__}.name is {cls.name!r}, registered as {name!r}"
    assert isinstance(cls.version, str) and cls.version
    assert inspect.getdoc(cls), f"{cls.__name__} needs a docstring"
    module_doc = inspect.getdoc(sys.modules[cls.__module__]) or ""
    assert len(module_doc) > 100, f"module {cls.__module__} needs a docstring with the facts"

    adapter, units = _contract_source(name, tmp_path)
    keys = [u.key for u in units]
    assert units, f"{name}: discover() found no units in the contract source"
    assert keys == sorted(keys), "discover() must return units sorted by key"
    assert len(set(keys)) == len(keys), "unit keys must be unique"
    assert [(u.key, u.files) for u in adapter.discover()] == [(u.key, u.files) for u in units]

    picked = units[:N_UNITS]
    ids = []
    for unit in picked:
        others = _files([u for u in units if u.key != unit.key]) - _files([unit])
        with _spy() as opened:
            first = adapter.read(unit)
        foreign = sorted(set(opened) & others)
        assert not foreign, f"reading {unit.key} opened other units' files: {foreign[:3]}"
        validate_recording(first, unit.key, dataset=adapter.dataset)
        second = adapter.read(unit)
        assert second.recording_id == first.recording_id, "recording id must be stable"
        assert second.samples.dtype == first.samples.dtype
        assert np.array_equal(second.samples, first.samples), "repeat read must be identical"
        assert second.channels == first.channels and second.events == first.events
        assert second.fs == first.fs
        ids.append(first.recording_id)
    assert len(set(ids)) == len(ids), f"recording ids must be unique across units: {ids}"


# ---------------------------------------------------------------------------- the clock rule
# An adapter whose source has time stamps checks them: an irregular clock, a gap or a
# duplicated row is either regularised by a recorded transform (meta["clock_transform"])
# or a SourceError naming the file; never stored as a regular rate.

_CLOCK_CHECKERS = re.compile(r"\b(check_regular_clock|clock_stats|check_mapped_clock)\b")


def _module_sources(cls: type[Adapter]) -> str:
    """Source text of the modules of ``cls`` and of its adapter base classes."""
    modules = {
        sys.modules[c.__module__]
        for c in cls.__mro__
        if issubclass(c, Adapter) and c is not Adapter
    }
    return "\n".join(inspect.getsource(m) for m in modules)


@pytest.mark.parametrize("name", adapter_names())
def test_time_stamp_readers_are_declared(name: str) -> None:
    """``reads_time_stamps`` is True exactly for the adapters that run the clock checker."""
    cls = get_adapter_class(name)
    uses = bool(_CLOCK_CHECKERS.search(_module_sources(cls)))
    assert cls.reads_time_stamps == uses, (
        f"{name}: reads_time_stamps is {cls.reads_time_stamps} but the adapter "
        f"{'calls' if uses else 'never calls'} the clock checker (adapters._common)"
    )


_CLOCK_READERS = [n for n in adapter_names() if get_adapter_class(n).reads_time_stamps]


@pytest.mark.parametrize("clock", CLOCKS)
@pytest.mark.parametrize("name", _CLOCK_READERS)
def test_time_stamps_are_checked(name: str, clock: str, tmp_path: Path) -> None:
    module = importlib.import_module(f"tests.adapters.contract_sources.{name.replace('-', '_')}")
    assert hasattr(module, "make_clock_source"), (
        f"{name} reads time stamps: its contract source needs make_clock_source(tmp_path, clock)"
    )
    source, options, stamps = module.make_clock_source(tmp_path, clock)
    adapter = make_adapter(name, str(source), **options)
    (unit,) = adapter.discover()
    try:
        rec = adapter.read(unit)
    except SourceError as exc:
        assert clock != "regular", f"{name} refused a regular clock: {exc}"
        assert unit.files[0].name in str(exc), f"error does not name the file: {exc}"
        return
    assert clock != "backwards", f"{name} stored a clock that goes back"
    validate_recording(rec, unit.key, dataset=adapter.dataset)
    if clock != "regular":
        assert rec.meta.get("clock_transform"), (
            f"{name} stored a {clock} clock as a regular {rec.fs:g} Hz without a recorded "
            "transform (meta['clock_transform'])"
        )
    assert rec.meta.get("clock_n") == str(stamps.size), "clock facts missing from meta"
    span = float(stamps[-1] - stamps[0])
    assert abs(rec.duration_s - span - 1.0 / rec.fs) <= 1.0 / rec.fs + 1e-9, (
        f"{name}: stored {rec.duration_s:.6f} s for a clock spanning {span:.6f} s"
    )
