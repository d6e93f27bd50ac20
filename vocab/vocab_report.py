"""An HTML report of one vocabulary with PNG plots (matplotlib, Agg backend) and the
numbers behind them in ``report.json``.

- Code usage (counts per code, and sorted on a log scale) and usage per device (share of
  each device's tokens per code), from the vocabulary's statistics (its whole corpus).
- Usage per dataset and which codes go with which gesture, from labelled tokens: the
  shards of this vocabulary when they exist (``<lake>/_shards/<id>``, or ``shards=``; every
  tokenized recording and the events stored with it), else a few recordings per dataset
  tokenized here from the lake (``max_recordings`` each, the lake's events). A code token
  belongs to the event whose [onset, onset + duration) holds its onset.
- The centroids in physical units (NCT descriptors, vocab.descriptors): the codebook is
  stored standardised, so ``mean + std * centroid`` undoes the standardisation with the
  vocabulary's own ``standardization``, then log entries are exponentiated (a mean in log
  space: a geometric mean): durations in ms, intensities as multiples of the channel's
  noise floor, frequencies in Hz, band-power ratios as plain ratios.
- Example contractions of the most frequent codes drawn over their signal: a few
  recordings are read from the lake, tokenized with the vocabulary, and the first segment
  of each code is shaded over the band-limited signal and its moving-RMS envelope.
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402

from emgcorpus.errors import ConfigError  # noqa: E402
from emgcorpus.shards.index import default_shard_dir  # noqa: E402
from emgcorpus.shards.reader import ShardSet, read_dataset_recordings  # noqa: E402
from emgcorpus.shards.special_tokens import FIRST_CODE_ID  # noqa: E402
from vocab.artifact import Vocabulary, default_store  # noqa: E402
from vocab.descriptors import DESCRIPTOR_NAMES, OPTIONAL_DIMS  # noqa: E402
from vocab.lake_partitions import RecordingRef, open_lake, segment_recording  # noqa: E402
from vocab.stats import perplexity  # noqa: E402

REPORTS_DIRNAME = "_vocab_reports"
#: Moving-RMS window of the drawn envelope [s].
ENVELOPE_WINDOW_S = 0.05
#: Signal drawn before and after an example segment [s].
EXAMPLE_MARGIN_S = 0.5
#: Recordings per dataset tokenized for the dataset/gesture tables when no shards exist.
MAX_RECORDINGS_PER_DATASET = 8
#: Codes shown per gesture in the code x gesture table, and in its heatmap per dataset.
CODES_PER_GESTURE = 5
HEATMAP_CODES = 24
#: Label of the tokens that fall in a rest event.
REST_LABEL = "(rest)"

_Convert = Callable[[np.ndarray], np.ndarray]


def _identity(v: np.ndarray) -> np.ndarray:
    return v


def _ms(v: np.ndarray) -> np.ndarray:
    return np.exp(v) * 1000.0


def _pow10(v: np.ndarray) -> np.ndarray:
    return np.power(10.0, v)


#: NCT descriptor entry -> (readable name, physical unit, raw descriptor -> physical value)
PHYSICAL: dict[str, tuple[str, str, _Convert]] = {
    "log_duration": ("duration", "ms", _ms),
    "log_intensity": ("intensity (RMS)", "x noise floor", np.exp),
    "log_contraction_peak": ("contraction peak", "x noise floor", np.exp),
    "shape_q1": ("envelope, 1st quarter", "x segment mean", _identity),
    "shape_q2": ("envelope, 2nd quarter", "x segment mean", _identity),
    "shape_q3": ("envelope, 3rd quarter", "x segment mean", _identity),
    "shape_q4": ("envelope, 4th quarter", "x segment mean", _identity),
    "is_first": ("opens its contraction", "share", _identity),
    "is_last": ("closes its contraction", "share", _identity),
    "mean_frequency": ("mean frequency (20-95 Hz)", "Hz", _identity),
    "median_frequency": ("median frequency (20-95 Hz)", "Hz", _identity),
    "spectral_edge_90": ("90 % spectral edge (20-95 Hz)", "Hz", _identity),
    "spectral_spread": ("spectral spread (20-95 Hz)", "Hz", _identity),
    "low_high_ratio": ("power density 20-50 / 50-95 Hz", "ratio", _pow10),
    "band_mid": ("power density 95-150 Hz / 20-95 Hz", "ratio", _pow10),
    "band_high": ("power density 150-450 Hz / 20-95 Hz", "ratio", _pow10),
}


def physical_centroids(vocab: Vocabulary) -> dict[str, Any] | None:
    """The codebook in physical units: ``{"names", "units", "values"}`` with values a
    (size, dim) list, raw descriptor = mean + std * centroid (the vocabulary's stored
    standardisation) converted per entry as :data:`PHYSICAL` says. None when the
    tokenizer's descriptors are not the NCT layout (vocab.descriptors)."""
    if vocab.tokenizer_config.get("name") != "nct" or vocab.codebook.shape[1] != len(
        DESCRIPTOR_NAMES
    ):
        return None
    raw = vocab.mean[None, :] + vocab.std[None, :] * vocab.codebook.astype(np.float64)
    cols = [PHYSICAL[n][2](raw[:, j]) for j, n in enumerate(DESCRIPTOR_NAMES)]
    values = np.stack(cols, axis=1)
    for j, n in enumerate(DESCRIPTOR_NAMES):
        if PHYSICAL[n][1] == "share":  # a centroid's mean of 0/1 flags (float32 rounding)
            values[:, j] = np.clip(values[:, j], 0.0, 1.0)
    # an optional entry no device of the corpus recorded keeps the empty standardisation
    # (mean 0, std 1, vocab.codebook.MomentStats) and centroid 0: not a measurement
    for j in OPTIONAL_DIMS:
        if vocab.mean[j] == 0.0 and vocab.std[j] == 1.0 and np.allclose(vocab.codebook[:, j], 0):
            values[:, j] = np.nan
    return {
        "names": [PHYSICAL[n][0] for n in DESCRIPTOR_NAMES],
        "descriptors": list(DESCRIPTOR_NAMES),
        "units": [PHYSICAL[n][1] for n in DESCRIPTOR_NAMES],
        # None where the corpus never measured the entry (an optional band)
        "values": [[float(v) if math.isfinite(v) else None for v in row] for row in values],
    }


@dataclass
class LabelledUsage:
    """Code tokens counted per dataset, and per (dataset, event label).

    ``by_dataset``: dataset -> int64 (size,) counts of every code token;
    ``by_label``: dataset -> label -> int64 (size,) counts of the code tokens whose onset
    lies in an event of that label (rest events: :data:`REST_LABEL`).
    """

    size: int
    source: str = ""
    recordings: dict[str, int] = field(default_factory=dict)
    by_dataset: dict[str, np.ndarray] = field(default_factory=dict)
    by_label: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)

    def add(
        self, dataset: str, token_ids: np.ndarray, onset_s: np.ndarray, events: list[dict[str, Any]]
    ) -> None:
        """Count one recording's tokens (token ids of the shard space, onsets [s]) against
        its events (dicts with onset [s], duration [s], label, kind)."""
        ids = np.asarray(token_ids, np.int64)
        onset = np.asarray(onset_s, np.float64)
        is_code = ids >= FIRST_CODE_ID
        codes, onset = ids[is_code] - FIRST_CODE_ID, onset[is_code]
        self.recordings[dataset] = self.recordings.get(dataset, 0) + 1
        total = self.by_dataset.setdefault(dataset, np.zeros(self.size, np.int64))
        total += np.bincount(codes, minlength=self.size)[: self.size]
        labels = self.by_label.setdefault(dataset, {})
        for ev in events:
            kind = ev.get("kind") or "gesture"
            if kind not in ("gesture", "rest") or not ev.get("label"):
                continue
            name = REST_LABEL if kind == "rest" else str(ev["label"])
            t0 = float(ev["onset"])
            inside = (onset >= t0) & (onset < t0 + float(ev["duration"]))
            if inside.any():
                row = labels.setdefault(name, np.zeros(self.size, np.int64))
                row += np.bincount(codes[inside], minlength=self.size)[: self.size]


def shard_usage(shards: ShardSet, size: int) -> LabelledUsage:
    """LabelledUsage of every recording in the shards (tokens and events as stored)."""
    usage = LabelledUsage(size, source=f"token shards at {shards.root}")
    datasets = sorted(
        {
            str(d)
            for f in shards.files
            for d in pq.read_table(f, columns=["dataset"])["dataset"].to_pylist()
        }
    )
    for ds in datasets:
        for rec in read_dataset_recordings(shards, ds):
            usage.add(ds, rec.tokens.ids, rec.tokens.onset_s, rec.events)
    return usage


def lake_usage(lake_path: Path, vocab: Vocabulary, max_recordings: int) -> LabelledUsage:
    """LabelledUsage of ``max_recordings`` recordings of each dataset of the vocabulary
    (:func:`pick_recordings`: covering its gestures first), tokenized here one recording at
    a time, with the lake's events."""
    lake = open_lake(lake_path)
    fs = vocab.meta["params"].get("fs")
    table = lake.recordings(datasets=vocab.meta["params"].get("datasets")).sort("recording_id")
    tokenizer = vocab.tokenizer()
    usage = LabelledUsage(
        vocab.size,
        source=f"{max_recordings} recordings of each dataset (covering its gestures first), "
        "tokenized from the lake",
    )
    events = lake.events()
    for ds in sorted({str(d) for d in table["dataset"].to_list()}):
        rows = pick_recordings(table.filter(table["dataset"] == ds), events, max_recordings)
        for r in rows:
            ref = RecordingRef(str(r["recording_id"]), ds, str(r["device"]))
            seg, _, _, _ = segment_recording(lake, ref, tokenizer, fs, float(r["native_fs"]))
            events = lake.events(ref.recording_id).to_dicts()
            usage.add(ds, vocab.encode(seg), seg.onset_s, events)
    return usage


def pick_recordings(table: Any, events: Any, n: int) -> list[dict[str, Any]]:
    """Up to ``n`` rows of ``table`` (recordings of one dataset, in id order): first each
    recording that adds a gesture label not yet covered, then the rest in order, so a
    dataset with one gesture per recording still shows its gestures."""
    gestures = events.filter(events["kind"] == "gesture")
    labels: dict[str, set[str]] = {}
    for rid, label in zip(gestures["recording_id"].to_list(), gestures["label"].to_list()):
        labels.setdefault(str(rid), set()).add(str(label))
    rows = list(table.iter_rows(named=True))
    seen: set[str] = set()
    first: list[dict[str, Any]] = []
    for r in rows:
        new = labels.get(str(r["recording_id"]), set()) - seen
        if new and len(first) < n:
            first.append(r)
            seen |= new
    chosen = {id(r) for r in first}
    rest = [r for r in rows if id(r) not in chosen]
    return first + rest[: max(0, n - len(first))]


def labelled_usage(
    lake_path: Path, vocab: Vocabulary, shards: str | Path | None, max_recordings: int
) -> LabelledUsage:
    """From ``shards`` (ConfigError unless this vocabulary's), else the lake's
    default shard folder of the vocabulary if it is complete, else :func:`lake_usage`."""
    candidate = Path(shards) if shards is not None else default_shard_dir(lake_path, vocab.id)
    if shards is not None or (candidate / "index.json").is_file():
        shard_set = ShardSet.open(candidate)
        if shard_set.vocab_id != vocab.id:
            raise ConfigError(
                f"shards at {candidate} were tokenized with vocabulary {shard_set.vocab_id}, "
                f"not {vocab.id}"
            )
        return shard_usage(shard_set, vocab.size)
    return lake_usage(lake_path, vocab, max_recordings)


def gesture_table(usage: LabelledUsage, top: int = CODES_PER_GESTURE) -> dict[str, Any]:
    """Dataset -> label -> {tokens, codes: [{code, share, lift}]}: the ``top`` codes of
    each label by share of the label's code tokens, with lift = that share / the code's
    share of all the dataset's code tokens (> 1: the code is typical of the gesture)."""
    out: dict[str, Any] = {}
    for ds, labels in sorted(usage.by_label.items()):
        total = usage.by_dataset[ds].astype(np.float64)
        base = total / max(total.sum(), 1.0)
        out[ds] = {}
        for label, counts in sorted(labels.items()):
            n = float(counts.sum())
            share = counts / max(n, 1.0)
            order = np.argsort(-counts, kind="stable")[:top]
            out[ds][label] = {
                "tokens": int(n),
                "codes": [
                    {
                        "code": int(c),
                        "share": round(float(share[c]), 6),
                        "lift": round(float(share[c] / base[c]), 4) if base[c] > 0 else None,
                    }
                    for c in order
                    if counts[c] > 0
                ],
            }
    return out


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


def plot_share_rows(
    rows: dict[str, np.ndarray], size: int, path: Path, title: str, what: str
) -> None:
    """Heatmap of each row's share of its tokens per code (one row per device/dataset)."""
    names = sorted(rows) or ["(none)"]
    if rows:
        counts = np.array([rows[n] for n in names], dtype=np.float64)
        share = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1.0)
    else:
        share = np.zeros((1, size))
    fig, ax = plt.subplots(figsize=(11, 0.6 * len(names) + 1.8))
    im = ax.imshow(share, aspect="auto", cmap="viridis", interpolation="nearest")
    ax.set_yticks(range(len(names)), names)
    ax.set_xlabel("code")
    ax.set_title(title)
    fig.colorbar(im, ax=ax, fraction=0.03, label=f"share of the {what}'s code tokens")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_device_usage(vocab: Vocabulary, path: Path) -> None:
    """Share of each device's tokens per code (one row per device)."""
    per_device = vocab.statistics.get("per_device", {})
    plot_share_rows(
        {d: np.asarray(v["counts"], np.float64) for d, v in per_device.items()},
        vocab.size,
        path,
        f"usage per device (share of the device's tokens); "
        f"{vocab.statistics.get('codes_multi_device', 0)} codes used by > 1 device",
        "device",
    )


def plot_gestures(usage: LabelledUsage, path: Path, n_codes: int = HEATMAP_CODES) -> None:
    """Per dataset: share of each label's code tokens (rows) in the dataset's ``n_codes``
    most used codes (columns), with the share in the cells."""
    datasets = [ds for ds in sorted(usage.by_label) if usage.by_label[ds]] or ["(none)"]
    heights = [0.42 * max(1, len(usage.by_label.get(ds, {}))) + 1.6 for ds in datasets]
    fig, axes = plt.subplots(
        len(datasets), 1, figsize=(12, sum(heights)), squeeze=False, height_ratios=heights
    )
    for ax, ds in zip(axes[:, 0], datasets):
        labels = sorted(usage.by_label.get(ds, {}))
        if not labels:
            ax.axis("off")
            ax.set_title(f"{ds}: no labelled tokens")
            continue
        codes = np.argsort(-usage.by_dataset[ds], kind="stable")[:n_codes]
        counts = np.array([usage.by_label[ds][lab] for lab in labels], dtype=np.float64)
        share = (counts / np.maximum(counts.sum(axis=1, keepdims=True), 1.0))[:, codes]
        ax.imshow(share, aspect="auto", cmap="magma_r", vmin=0, interpolation="nearest")
        ax.set_yticks(range(len(labels)), labels, fontsize=7)
        ax.set_xticks(range(len(codes)), [str(int(c)) for c in codes], fontsize=7, rotation=90)
        ax.set_xlabel("code (the dataset's most used first)", fontsize=8)
        ax.set_title(f"{ds}: share of each label's code tokens [%]", fontsize=9)
        if share.size <= 40 * n_codes:
            for i in range(share.shape[0]):
                for j in range(share.shape[1]):
                    ax.text(
                        j,
                        i,
                        f"{100 * share[i, j]:.0f}",
                        ha="center",
                        va="center",
                        fontsize=5.5,
                        color="white" if share[i, j] > 0.5 * share.max() else "black",
                    )
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


def _grid(header: list[str], rows: list[list[Any]]) -> str:
    """An HTML table with a header row (cells escaped)."""
    e = html.escape
    head = "".join(f"<th>{e(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{e(str(c))}</td>" for c in r) + "</tr>" for r in rows)
    return f'<table class="grid"><tr>{head}</tr>{body}</table>'


def _num(x: float | None, unit: str) -> str:
    """A physical value with 3 significant digits (a share: 2 decimals)."""
    if x is None:
        return "n/a"
    return f"{x:.2f}" if unit == "share" else f"{x:.3g}"


def dataset_rows(usage: LabelledUsage) -> dict[str, Any]:
    """Dataset -> recordings counted, code tokens, codes used, perplexity, counts."""
    return {
        ds: {
            "recordings": usage.recordings.get(ds, 0),
            "code_tokens": int(c.sum()),
            "codes_used": int((c > 0).sum()),
            "perplexity": round(perplexity(c), 6),
            "counts": [int(v) for v in c],
        }
        for ds, c in sorted(usage.by_dataset.items())
    }


def write_vocab_report(
    lake_path: str | Path,
    vocab_id: str,
    out_dir: str | Path | None = None,
    store: str | Path | None = None,
    n_examples: int = 6,
    shards: str | Path | None = None,
    max_recordings: int = MAX_RECORDINGS_PER_DATASET,
    n_centroids: int = 20,
) -> Path:
    """Write ``index.html``, its PNGs and ``report.json`` for vocabulary ``vocab_id``;
    return the HTML path.

    ``shards``: token shards of this vocabulary for the per-dataset and per-gesture tables
    (default: ``<lake>/_shards/<id>`` if complete, else ``max_recordings`` recordings per
    dataset tokenized from the lake). ``n_centroids``: codes (most used first) listed in the
    page's physical-units table (report.json lists every code).
    """
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
    usage = labelled_usage(lake_path, vocab, shards, max_recordings)
    plot_share_rows(
        usage.by_dataset,
        vocab.size,
        out / "datasets.png",
        f"usage per dataset (share of the dataset's code tokens; {usage.source})",
        "dataset",
    )
    plot_gestures(usage, out / "gestures.png")
    per_dataset = dataset_rows(usage)
    gestures = gesture_table(usage)
    centroids = physical_centroids(vocab)
    doc = {
        "vocab_id": vocab.id,
        "labelled_tokens_from": usage.source,
        "per_dataset": per_dataset,
        "per_device": {
            d: {k: v[k] for k in ("tokens", "codes_used", "perplexity")}
            for d, v in sorted(vocab.statistics.get("per_device", {}).items())
        },
        "code_by_label": {
            ds: {lab: [int(v) for v in c] for lab, c in sorted(labels.items())}
            for ds, labels in sorted(usage.by_label.items())
        },
        "gestures": gestures,
        "centroids_physical": centroids,
    }
    (out / "report.json").write_text(json.dumps(doc, indent=1, sort_keys=True, allow_nan=False))
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
    ds_table = _grid(
        ["dataset", "recordings", "code tokens", "codes used", "perplexity"],
        [
            [ds, d["recordings"], d["code_tokens"], d["codes_used"], f"{d['perplexity']:.1f}"]
            for ds, d in per_dataset.items()
        ],
    )
    gesture_rows = [
        [
            ds,
            label,
            g["tokens"],
            ", ".join(
                f"{c['code']} ({100 * c['share']:.0f} %"
                + (f", lift {c['lift']:.1f})" if c["lift"] is not None else ")")
                for c in g["codes"]
            ),
        ]
        for ds, labels in gestures.items()
        for label, g in labels.items()
    ]
    gesture_html = _grid(
        ["dataset", "label", "code tokens", f"top {CODES_PER_GESTURE} codes (share, lift)"],
        gesture_rows,
    )
    if centroids is None:
        centroid_html = (
            f"<p>Tokenizer {html.escape(str(vocab.tokenizer_config.get('name')))}: its "
            "descriptors have no physical layout here; centroids stay standardised.</p>"
        )
    else:
        shown = [int(c) for c in np.argsort(-counts, kind="stable")[:n_centroids]]
        centroid_html = _grid(
            ["code", "tokens"]
            + [f"{n} [{u}]" for n, u in zip(centroids["names"], centroids["units"])],
            [
                [c, int(counts[c])]
                + [_num(v, u) for v, u in zip(centroids["values"][c], centroids["units"])]
                for c in shown
            ],
        )
    page = f"""<!doctype html>
<html><head><meta charset="utf-8"><title>vocabulary {vocab.id}</title>
<style>body{{font-family:sans-serif;max-width:1150px;margin:2em auto}}
th{{text-align:left;padding-right:1em}}img{{max-width:100%}}
table.grid{{border-collapse:collapse;font-size:85%}}
table.grid td,table.grid th{{border:1px solid #ccc;padding:2px 6px}}</style></head>
<body><h1>Vocabulary {vocab.id}</h1>
{summary}
<h2>Tokens per second of EMG, per dataset</h2>{per_ds}
<h2>Code usage</h2><img src="usage.png" alt="code usage">
<h2>Usage per device</h2><img src="devices.png" alt="usage per device">
<h2>Usage per dataset</h2>
<p>Code tokens from {html.escape(usage.source)}.</p>{ds_table}
<img src="datasets.png" alt="usage per dataset">
<h2>Which codes go with which gesture</h2>
<p>A code token counts for the labelled event (gesture, or {REST_LABEL} for rest) whose
span holds its onset. Share: of the label's code tokens; lift: that share over the code's
share of all the dataset's code tokens (&gt; 1: typical of the gesture).</p>{gesture_html}
<img src="gestures.png" alt="codes per gesture">
<h2>Centroids in physical units</h2>
<p>The {min(n_centroids, vocab.size)} most used codes (report.json: every code). Descriptor =
mean + std &times; centroid (the vocabulary's standardisation), log entries exponentiated
(geometric means); intensities are multiples of the channel's noise floor.</p>{centroid_html}
<h2>Frequent codes over their signal</h2>
<p>First occurrence of the {len(examples)} most frequent codes; shaded: the segment.</p>
<img src="examples.png" alt="example contractions">
</body></html>
"""
    html_path = out / "index.html"
    html_path.write_text(page)
    return html_path
