"""An HTML report of one vocabulary with PNG plots (matplotlib, Agg backend).

Plots: code usage (counts per code, and sorted on a log scale), usage per device (share
of each device's tokens per code), and example contractions of the most frequent codes
drawn over their signal: a few recordings are read from the lake, tokenized with the
vocabulary, and the first segment of each code is shaded over the band-limited signal
and its moving-RMS envelope.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from emgcorpus.shards.special_tokens import FIRST_CODE_ID  # noqa: E402
from vocab.artifact import Vocabulary, default_store  # noqa: E402
from vocab.lake_partitions import RecordingRef, open_lake, segment_recording  # noqa: E402

REPORTS_DIRNAME = "_vocab_reports"
#: Moving-RMS window of the drawn envelope [s].
ENVELOPE_WINDOW_S = 0.05
#: Signal drawn before and after an example segment [s].
EXAMPLE_MARGIN_S = 0.5


def default_report_dir(lake_path: str | Path, vocab_id: str) -> Path:
    """``<lake>/_vocab_reports/<vocab_id>`` (outside the immutable artifact folder)."""
    return Path(lake_path) / REPORTS_DIRNAME / vocab_id


def moving_rms(x: np.ndarray, fs: float, window_s: float = ENVELOPE_WINDOW_S) -> np.ndarray:
    """Moving RMS of a 1-D signal over ``window_s`` seconds (same length as ``x``)."""
    n = max(1, int(round(window_s * fs)))
    kernel = np.ones(n) / n
    return np.sqrt(np.convolve(np.asarray(x, np.float64) ** 2, kernel, mode="same"))


def plot_usage(vocab: Vocabulary, path: Path) -> None:
    """Counts per code id, and the same counts sorted (log scale)."""
    counts = np.asarray(vocab.statistics.get("counts", [0] * vocab.size), dtype=np.int64)
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 3.6))
    a.bar(np.arange(counts.size), counts, width=1.0, color="#3b6ea8")
    a.set_xlabel("code")
    a.set_ylabel("tokens")
    a.set_title("code usage")
    ranked = np.sort(counts)[::-1]
    b.semilogy(np.arange(1, ranked.size + 1), np.maximum(ranked, 0.8), ".-", color="#3b6ea8")
    b.set_xlabel("rank")
    b.set_ylabel("tokens (log)")
    b.set_title(
        f"sorted: perplexity {vocab.statistics.get('perplexity', 0):.1f}, "
        f"dead {vocab.statistics.get('dead_codes', 0)}"
    )
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_device_usage(vocab: Vocabulary, path: Path) -> None:
    """Share of each device's tokens per code (one row per device)."""
    per_device = vocab.statistics.get("per_device", {})
    devices = sorted(per_device)
    if not devices:
        devices = ["(none)"]
        share = np.zeros((1, vocab.size))
    else:
        counts = np.array([per_device[d]["counts"] for d in devices], dtype=np.float64)
        share = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1.0)
    fig, ax = plt.subplots(figsize=(11, 0.6 * len(devices) + 1.8))
    im = ax.imshow(share, aspect="auto", cmap="viridis", interpolation="nearest")
    ax.set_yticks(range(len(devices)), devices)
    ax.set_xlabel("code")
    ax.set_title(
        f"usage per device (share of the device's tokens); "
        f"{vocab.statistics.get('codes_multi_device', 0)} codes used by > 1 device"
    )
    fig.colorbar(im, ax=ax, fraction=0.03)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def find_examples(
    lake_path: Path, vocab: Vocabulary, codes: list[int], max_recordings: int = 4
) -> dict[int, dict[str, Any]]:
    """The first segment of each code in the first ``max_recordings`` recordings: code ->
    {recording_id, device, channel, units, onset_s, duration_s, signal, fs}."""
    lake = open_lake(lake_path)
    datasets = vocab.meta["params"].get("datasets")
    fs = vocab.meta["params"].get("fs")
    table = lake.recordings(datasets=datasets).sort("recording_id")
    tokenizer = vocab.tokenizer()
    found: dict[int, dict[str, Any]] = {}
    wanted = set(codes)
    for r in table.head(max_recordings).iter_rows(named=True):
        ref = RecordingRef(str(r["recording_id"]), str(r["dataset"]), str(r["device"]))
        seg, _, _, infos = segment_recording(lake, ref, tokenizer, fs, float(r["native_fs"]))
        ids = vocab.encode(seg)
        rate = float(fs) if fs is not None else float(r["native_fs"])
        x: np.ndarray | None = None
        for i in np.flatnonzero(ids >= FIRST_CODE_ID):
            code = int(ids[i]) - FIRST_CODE_ID
            if code not in wanted or code in found or seg.channel[i] < 0:
                continue
            if x is None:
                x = lake.read_samples(ref.recording_id, fs=fs, physical=True)
            assert x is not None
            ch = int(seg.channel[i])
            units = infos[ch].units
            found[code] = {
                "units": units,
                "recording_id": ref.recording_id,
                "device": ref.device,
                "channel": ch,
                "onset_s": float(seg.onset_s[i]),
                "duration_s": float(seg.duration_s[i]),
                "signal": np.asarray(x[:, ch], np.float64),
                "fs": rate,
            }
        if len(found) == len(wanted):
            break
    return found


def plot_examples(examples: dict[int, dict[str, Any]], path: Path) -> None:
    """One panel per code: signal (grey), moving-RMS envelope (blue), segment shaded."""
    n = max(1, len(examples))
    cols = min(3, n)
    rows = int(np.ceil(n / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 2.8 * rows), squeeze=False)
    for ax in axes.ravel()[len(examples) :]:
        ax.axis("off")
    for ax, (code, ex) in zip(axes.ravel(), sorted(examples.items())):
        fs, sig = ex["fs"], ex["signal"]
        t0 = max(0.0, ex["onset_s"] - EXAMPLE_MARGIN_S)
        t1 = min(sig.size / fs, ex["onset_s"] + ex["duration_s"] + EXAMPLE_MARGIN_S)
        sl = slice(int(t0 * fs), max(int(t0 * fs) + 1, int(t1 * fs)))
        t = np.arange(sl.start, sl.stop) / fs
        centred = sig - np.median(sig)
        env = moving_rms(centred, fs)
        ax.plot(t, centred[sl], color="0.65", lw=0.5, label="signal")
        ax.plot(t, env[sl], color="#1f5fa8", lw=1.4, label="RMS envelope")
        ax.axvspan(ex["onset_s"], ex["onset_s"] + ex["duration_s"], color="#f2a541", alpha=0.3)
        ax.set_title(f"code {code}: {ex['device']} ch {ex['channel']}", fontsize=9)
        ax.set_xlabel("time [s]", fontsize=8)
        ax.set_ylabel(ex["units"], fontsize=8)
        ax.tick_params(labelsize=7)
    if examples:
        axes.ravel()[0].legend(fontsize=7, loc="upper right")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _table(rows: list[tuple[str, Any]]) -> str:
    body = "".join(
        f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(str(v))}</td></tr>" for k, v in rows
    )
    return f"<table>{body}</table>"


def write_vocab_report(
    lake_path: str | Path,
    vocab_id: str,
    out_dir: str | Path | None = None,
    store: str | Path | None = None,
    n_examples: int = 6,
) -> Path:
    """Write ``index.html`` and its PNGs for vocabulary ``vocab_id``; return the HTML path."""
    lake_path = Path(lake_path)
    vocab = Vocabulary.load(store if store is not None else default_store(lake_path), vocab_id)
    out = Path(out_dir) if out_dir is not None else default_report_dir(lake_path, vocab.id)
    out.mkdir(parents=True, exist_ok=True)
    plot_usage(vocab, out / "usage.png")
    plot_device_usage(vocab, out / "devices.png")
    counts = np.asarray(vocab.statistics.get("counts", []), dtype=np.int64)
    top = [int(c) for c in np.argsort(-counts, kind="stable")[:n_examples] if counts[c] > 0]
    examples = find_examples(lake_path, vocab, top)
    plot_examples(examples, out / "examples.png")
    stats = vocab.statistics
    summary = _table(
        [
            ("id", vocab.id),
            ("tokenizer", f"{vocab.tokenizer_config['name']} {vocab.tokenizer_config['version']}"),
            ("size", vocab.size),
            ("snapshot", vocab.snapshot),
            ("recordings", vocab.meta["corpus"].get("recordings")),
            ("code tokens", stats.get("code_tokens")),
            ("perplexity", stats.get("perplexity")),
            ("dead codes", stats.get("dead_codes")),
            ("codes used by > 1 device", stats.get("codes_multi_device")),
            ("Lloyd iterations", vocab.meta["fit"]["iterations_run"]),
        ]
    )
    per_ds = _table(
        [
            (ds, f"{d['tokens_per_second']:.2f} tokens/s ({d['recordings']} recordings)")
            for ds, d in sorted(stats.get("per_dataset", {}).items())
        ]
    )
    page = f"""<!doctype html>
<html><head><meta charset="utf-8"><title>vocabulary {vocab.id}</title>
<style>body{{font-family:sans-serif;max-width:1150px;margin:2em auto}}
th{{text-align:left;padding-right:1em}}img{{max-width:100%}}</style></head>
<body><h1>Vocabulary {vocab.id}</h1>
{summary}
<h2>Tokens per second of EMG, per dataset</h2>{per_ds}
<h2>Code usage</h2><img src="usage.png" alt="code usage">
<h2>Usage per device</h2><img src="devices.png" alt="usage per device">
<h2>Frequent codes over their signal</h2>
<p>First occurrence of the {len(examples)} most frequent codes; shaded: the segment.</p>
<img src="examples.png" alt="example contractions">
</body></html>
"""
    html_path = out / "index.html"
    html_path.write_text(page)
    return html_path
