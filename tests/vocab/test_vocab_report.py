"""The vocabulary report: an HTML page and readable PNG plots."""

from __future__ import annotations

from pathlib import Path

import matplotlib.image as mpimg
import numpy as np

from vocab.compiler import VocabularyBuilder
from vocab.vocab_report import default_report_dir, moving_rms, write_vocab_report


def test_report_writes_html_and_plots(sim_lake: Path) -> None:
    lake = sim_lake
    vocab = VocabularyBuilder(
        lake, "nct", size=6, sample_size=200, scheduler="sync", partition_size=2
    ).build(progress=False)
    html = write_vocab_report(lake, vocab.id[:7], n_examples=4)
    assert html == default_report_dir(lake, vocab.id) / "index.html"
    text = html.read_text()
    assert vocab.id in text
    for png in ("usage.png", "devices.png", "examples.png"):
        assert f'src="{png}"' in text
        img = mpimg.imread(html.parent / png)
        assert img.shape[0] > 200 and img.shape[1] > 600
        assert img[..., :3].std() > 0.05  # not a blank canvas
    assert "most frequent codes" in text and "tokens/s" in text


def test_moving_rms_of_a_sine() -> None:
    fs = 1000.0
    t = np.arange(0, 2, 1 / fs)
    env = moving_rms(3.0 * np.sin(2 * np.pi * 50 * t), fs, window_s=0.1)
    assert np.allclose(env[200:-200], 3.0 / np.sqrt(2), rtol=1e-3)
