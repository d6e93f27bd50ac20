"""Fixtures of the vocab tests: a tiny simulated lake shared by the tests of one module."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.registry import make_adapter
from emgcorpus.ingest import ingest

#: The tiny simulated corpus: 2 subjects x 2 devices (a 200 Hz Myo-like ring and a 2 kHz
#: bipolar amplifier), 2 gestures x 1 repetition, 4 recordings of 5 s.
SIM = {
    "subjects": 2,
    "gestures": 2,
    "repetitions": 1,
    "contraction_s": 1.0,
    "rest_s": 1.0,
    "devices": "myo8,bipolar4",
}


@pytest.fixture(scope="module")
def sim_lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A lake holding the tiny simulated corpus, built once per test module.

    Tests may add vocabularies, shards and reports under it, never recordings.
    """
    path = tmp_path_factory.mktemp("vocab") / "lake"
    ingest(path, make_adapter("sim", "builtin", **SIM), progress=False)
    return path
