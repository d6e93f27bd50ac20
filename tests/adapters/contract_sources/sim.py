"""Contract-test source of the ``sim`` adapter: the built-in corpus, kept tiny."""

from __future__ import annotations

from pathlib import Path


def make_source(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """SOURCE is ignored by ``sim``; options are strings, as the CLI passes them."""
    options = {
        "subjects": "2",
        "devices": "myo8,bipolar4",
        "gestures": "2",
        "repetitions": "1",
        "contraction_s": "1.0",
        "rest_s": "1.0",
    }
    return Path("builtin"), options
