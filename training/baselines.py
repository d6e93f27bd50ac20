"""Classical baselines on the same windows as the model.

- ``td-lda``: Hudgins' TD features (MAV, RMS, WL, ZC, SSC) + linear discriminant analysis,
  the field's reference.
- ``strong``: the strong feature set (time, spectral, AR, spatial) + sklearn
  HistGradientBoostingClassifier, fit on at most ``STRONG_MAX_ROWS`` training windows
  taken at an even stride (50 ms-hop windows of 250 ms overlap by 80 %, so neighbours add
  little; this bounds the boosting cost whatever the dataset size). By default
  (``fast``) it bins features into ``STRONG_MAX_BINS`` bins, runs on at most
  ``STRONG_THREADS`` OpenMP threads and stops early: up to ``STRONG_VALIDATION_ROWS`` of
  the windows the stride left out (never fitted on) are the validation set, and boosting
  stops when their loss has not improved for ``STRONG_PATIENCE`` iterations, at learning
  rate ``STRONG_LEARNING_RATE`` (0.2: on the Cote-Allard pre-training part's 22 LOSO folds
  38 % less CPU than 0.1, every regime's mean window accuracy within 0.3 point;
  bench/bench_eval.py); ``fast=False`` is the earlier fixed-iteration, 255-bin fit at 0.1.
- ``window``: the window tokenizer's shards (reference-paper style) embedded by
  bag-of-tokens (token frequencies of the tokens whose onset falls in the window) + the
  same linear probe the model gets.

The first two read raw samples from the lake at the native rate (``Lake.read_samples``),
EMG channels with status ``good`` only, and cut exactly the evaluation's window list.
"""

from __future__ import annotations

import sys
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from scipy import linalg
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from threadpoolctl import threadpool_info, threadpool_limits
from tqdm import tqdm

from emgcorpus.errors import ConfigError, LakeError
from emgcorpus.shards.reader import RecordingTokens
from training.features import strong_features, td_features
from training.windows import Window

BASELINES = ("td-lda", "strong", "window")
LAKE_BASELINES = ("td-lda", "strong")


#: heads of the model and window methods: two linear probes, and ``boost`` (the strong
#: baseline's boosted trees on the model's features: same classifier, other features)
PROBES = ("logreg", "lda", "boost")
#: the strong baseline fits on at most this many training windows (evenly strided)
STRONG_MAX_ROWS = 6000
#: fast strong baseline: feature bins, OpenMP threads, early-stopping validation rows
#: (taken from the windows the stride left out) and patience [iterations]
STRONG_MAX_BINS = 63
STRONG_THREADS = 2
STRONG_VALIDATION_ROWS = 2000
STRONG_PATIENCE = 10
#: fast strong baseline: boosting learning rate (the earlier fit: 0.1)
STRONG_LEARNING_RATE = 0.2
#: without a stride, early stopping splits off a validation set only if every class has
#: at least this many rows
MIN_CLASS_ROWS = 20


class StridedFit:
    """Fit ``estimator`` on at most ``max_rows`` training rows taken at an even stride.

    Rows keep their order (time order within a subject), so a stride keeps every part of
    every recording; prediction uses the fitted estimator unchanged. With
    ``validation_rows`` > 0 (and a stride of at least 2), up to that many of the rows the
    stride skipped (the ones halfway between two fitted rows, evenly thinned) are passed
    as ``X_val``/``y_val`` for early stopping. ``threads``: at most this many OpenMP threads
    in fit and predict (None: the library's default).
    """

    def __init__(
        self,
        estimator: Any,
        max_rows: int,
        validation_rows: int = 0,
        threads: int | None = None,
    ) -> None:
        self.estimator = estimator
        self.max_rows = max_rows
        self.validation_rows = validation_rows
        self.threads = threads

    def fit(self, x: np.ndarray, y: np.ndarray) -> StridedFit:
        step = max(1, -(-len(x) // self.max_rows))
        xs, ys = x[::step], y[::step]
        kw: dict[str, np.ndarray] = {}
        if self.validation_rows > 0 and step > 1:
            xv, yv = x[step // 2 :: step], y[step // 2 :: step]
            thin = max(1, -(-len(xv) // self.validation_rows))
            keep = np.isin(yv[::thin], ys)  # a class the fit never sees cannot be scored
            kw = {"X_val": xv[::thin][keep], "y_val": yv[::thin][keep]}
        elif self.validation_rows > 0:
            # no stride: the estimator's own stratified validation split, where every class
            # has enough rows for one; else no early stopping
            counts = np.unique(ys, return_counts=True)[1]
            self.estimator.set_params(early_stopping=bool(counts.min() >= MIN_CLASS_ROWS))
        with threadpool_limits(limits=self._threads(), user_api="openmp"):
            self.estimator.fit(xs, ys, **kw)
        return self

    def predict(self, x: np.ndarray) -> np.ndarray:
        with threadpool_limits(limits=self._threads(), user_api="openmp"):
            return np.asarray(self.estimator.predict(x))

    def _threads(self) -> int | None:
        """``threads`` as an upper bound: never more OpenMP threads than the process has
        now (OMP_NUM_THREADS=1 stays 1: on busy cores extra threads spin and cost 10x)."""
        if self.threads is None:
            return None
        now = [int(i["num_threads"]) for i in threadpool_info() if i["user_api"] == "openmp"]
        return min([self.threads, *now])


class ShrinkageLDA:
    """Linear discriminant analysis with Ledoit-Wolf shrinkage: the same model and the same
    predictions as sklearn's ``LinearDiscriminantAnalysis(solver="lsqr", shrinkage="auto")``
    (tests/training/test_shrinkage_lda.py), in about a third of its time.

    Per class the rows are standardised, their covariance shrunk by the Ledoit-Wolf
    formula and scaled back; the class covariances are averaged with the class priors.
    sklearn forms three d x d products per class (covariance, and twice more for the
    shrinkage); here one, since the shrinkage's sum of ``X2.T @ X2`` equals the sum of
    the rows' squared norms squared (O(n d)).
    """

    def fit(self, x: np.ndarray, y: np.ndarray) -> ShrinkageLDA:
        x = np.asarray(x, dtype=np.float64)
        self.classes_, yi, counts = np.unique(y, return_inverse=True, return_counts=True)
        if len(self.classes_) < 2:
            raise ConfigError(f"LDA needs at least 2 classes, got {len(self.classes_)}")
        priors = counts / float(len(x))
        d = x.shape[1]
        means = np.zeros((len(self.classes_), d))
        cov = np.zeros((d, d))
        for k in range(len(self.classes_)):
            xg = x[yi == k]
            means[k] = xg.mean(axis=0)
            cov += priors[k] * _shrunk_cov(xg - means[k])
        self.means_, self.priors_, self.covariance_ = means, priors, cov
        self.coef_ = linalg.lstsq(cov, means.T)[0].T
        self.intercept_ = -0.5 * np.einsum("kd,kd->k", means, self.coef_) + np.log(priors)
        return self

    def decision_function(self, x: np.ndarray) -> np.ndarray:
        """Class scores (n, n_classes)."""
        return np.asarray(x, dtype=np.float64) @ self.coef_.T + self.intercept_

    def predict(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(self.classes_[np.argmax(self.decision_function(x), axis=1)])


def _shrunk_cov(xc: np.ndarray) -> np.ndarray:
    """Ledoit-Wolf shrunk covariance of centred rows ``xc`` (n, d), computed on the
    standardised rows and scaled back (sklearn.discriminant_analysis._cov, "auto")."""
    n, d = xc.shape
    sd = xc.std(axis=0)
    sd[sd < 10 * np.finfo(np.float64).eps] = 1.0
    z = xc / sd
    z -= z.mean(axis=0)
    emp = z.T @ z / n
    if d == 1:
        return emp * sd[:, None] * sd[None, :]
    trace = np.trace(emp)
    mu = trace / d
    delta_ = float(np.sum(emp**2))
    beta_ = float(np.sum(np.einsum("nd,nd->n", z, z) ** 2))
    beta = 1.0 / (d * n) * (beta_ / n - delta_)
    delta = (delta_ - 2.0 * mu * trace + d * mu**2) / d
    beta = min(beta, delta)
    shrinkage = 0.0 if beta == 0 else beta / delta
    shrunk = (1.0 - shrinkage) * emp
    shrunk.flat[:: d + 1] += shrinkage * mu
    return shrunk * sd[:, None] * sd[None, :]


def linear_probe(kind: str = "logreg", fast: bool = True) -> Any:
    """The linear probe shared by the model and the window-tokenizer baseline.

    ``logreg``: multinomial logistic regression (lbfgs, C = 1); ``lda``: shrinkage LDA
    (closed form, much faster on tens of thousands of wide feature rows):
    :class:`ShrinkageLDA`, or sklearn's own when not ``fast``. (``boost``, the third head of
    PROBES, is not linear: :func:`make_classifier` gives :func:`boosted_trees` for it.)
    """
    if kind == "logreg":
        return LogisticRegression(max_iter=2000, C=1.0)
    if kind == "lda":
        if fast:
            return ShrinkageLDA()
        return LinearDiscriminantAnalysis(solver="lsqr", shrinkage="auto")
    raise ConfigError(f"invalid linear probe {kind!r}: expected logreg or lda")


def boosted_trees(seed: int = 0, max_iter: int = 150, fast: bool = True) -> StridedFit:
    """The strong baseline's classifier (module docstring): gradient-boosted trees on at most
    STRONG_MAX_ROWS strided training windows; ``fast``: binning, thread bound and early
    stopping."""
    if not fast:
        return StridedFit(
            HistGradientBoostingClassifier(max_iter=max_iter, learning_rate=0.1, random_state=seed),
            STRONG_MAX_ROWS,
        )
    return StridedFit(
        HistGradientBoostingClassifier(
            max_iter=max_iter,
            learning_rate=STRONG_LEARNING_RATE,
            max_bins=STRONG_MAX_BINS,
            early_stopping=True,
            n_iter_no_change=STRONG_PATIENCE,
            random_state=seed,
        ),
        STRONG_MAX_ROWS,
        validation_rows=STRONG_VALIDATION_ROWS,
        threads=STRONG_THREADS,
    )


def make_classifier(
    method: str,
    seed: int = 0,
    strong_max_iter: int = 150,
    probe: str = "logreg",
    fast: bool = True,
) -> Any:
    """A fresh, unfitted classifier for ``method`` (``model*`` and ``window`` get the probe).

    ``strong_max_iter``: boosting iterations of the strong baseline (at most, when
    ``fast``); ``probe``: see :func:`linear_probe`; ``fast``: the strong baseline's
    binning, thread bound and early stopping (module docstring) and :class:`ShrinkageLDA`
    for TD+LDA; False: the earlier fit (fixed iterations, 255 bins, library threads,
    sklearn's LDA), kept to measure against.
    """
    if method == "td-lda":
        if fast:
            return ShrinkageLDA()
        return LinearDiscriminantAnalysis(solver="lsqr", shrinkage="auto")
    if method == "strong" or (method in ("model", "window") and probe == "boost"):
        return boosted_trees(seed, strong_max_iter, fast)
    if method in ("model", "window"):
        return linear_probe(probe, fast)
    raise ConfigError(f"unknown method {method!r}: expected model or one of {BASELINES}")


def parse_baselines(text: str | Sequence[str]) -> list[str]:
    """``"td-lda,strong"`` -> ["td-lda", "strong"]; ConfigError on unknown names."""
    names = [t.strip() for t in (text.split(",") if isinstance(text, str) else text) if t.strip()]
    bad = [n for n in names if n not in BASELINES]
    if bad:
        raise ConfigError(f"invalid --baselines {bad}: expected a comma list of {BASELINES}")
    return names


def cut_windows(samples: np.ndarray, fs: float, windows: Sequence[Window]) -> np.ndarray:
    """Windows of one recording as (n_windows, n, n_channels), n = round(window length * fs).

    Every window must have the same length and lie inside the recording (LakeError else).
    """
    if not windows:
        return np.zeros((0, 0, samples.shape[1]), samples.dtype)
    n = int(round((windows[0].end_s - windows[0].start_s) * fs))
    starts = np.array([int(round(w.start_s * fs)) for w in windows])
    if starts.min() < 0 or starts.max() + n > samples.shape[0]:
        raise LakeError(
            f"recording {windows[0].recording_id}: a window runs past its {samples.shape[0]} "
            f"samples at {fs} Hz (events longer than the signal?)"
        )
    idx = starts[:, None] + np.arange(n)[None, :]
    return samples[idx]


def lake_features(
    lake_path: str | Path,
    windows: Sequence[Window],
    methods: Sequence[str] = LAKE_BASELINES,
    progress: bool = True,
) -> dict[str, np.ndarray]:
    """Feature matrices (row i = windows[i]) for each lake baseline in ``methods``.

    Reads each recording once, raw at its native rate, physical units, EMG channels with
    status ``good``. Raises LakeError if the recordings of one dataset differ in channel
    count (features would not line up).
    """
    from emgcorpus.lake import Lake

    lake = Lake.open(lake_path)
    by_rec: dict[str, list[int]] = defaultdict(list)
    for i, w in enumerate(windows):
        by_rec[w.recording_id].append(i)
    fns: dict[str, Callable[[np.ndarray, float], np.ndarray]] = {
        "td-lda": lambda x, fs: td_features(x),
        "strong": strong_features,
    }
    out: dict[str, np.ndarray | None] = {m: None for m in methods}
    n_channels: int | None = None
    bar = tqdm(
        by_rec.items(),
        desc="baseline features",
        unit="rec",
        disable=not progress or not sys.stderr.isatty(),
    )
    for rid, idx in bar:
        row = lake.recording_row(rid)
        fs = float(row["native_fs"])
        chans = [
            k
            for k, c in enumerate(lake.channel_infos(rid))
            if c.type == "EMG" and c.status != "bad"
        ]
        if n_channels is None:
            n_channels = len(chans)
        elif len(chans) != n_channels:
            raise LakeError(
                f"recording {rid} has {len(chans)} good EMG channels, others {n_channels}: "
                "the feature baselines need one channel count per dataset"
            )
        x = lake.read_samples(rid, channels=chans, physical=True)
        cut = cut_windows(x, fs, [windows[i] for i in idx])
        for m in methods:
            f = fns[m](cut, fs)
            arr = out[m]
            if arr is None:
                arr = np.zeros((len(windows), f.shape[1]), np.float64)
                out[m] = arr
            arr[idx] = f
    return {m: (a if a is not None else np.zeros((len(windows), 0))) for m, a in out.items()}


def bag_of_tokens(
    tokens: dict[str, RecordingTokens], windows: Sequence[Window], max_vocab: int = 2048
) -> np.ndarray:
    """Token frequencies of the tokens whose onset falls in each window.

    Columns are the ``max_vocab`` most frequent ids over these windows (rows sum to <= 1;
    a window without tokens is all zeros). Raises ConfigError if a window's recording has
    no tokens in the window tokenizer's shards.
    """
    missing = sorted({w.recording_id for w in windows} - set(tokens))
    if missing:
        raise ConfigError(
            f"{len(missing)} evaluation recordings are not in the window-tokenizer shards "
            f"(e.g. {missing[:3]}): tokenize the same lake snapshot with the window tokenizer"
        )
    per_window = [tokens[w.recording_id].between(w.start_s, w.end_s)["token_ids"] for w in windows]
    allids = np.concatenate(per_window) if per_window else np.zeros(0, np.int64)
    uniq, counts = np.unique(allids, return_counts=True)
    keep = uniq[np.argsort(-counts, kind="stable")[:max_vocab]]
    col = {int(t): j for j, t in enumerate(np.sort(keep))}
    out = np.zeros((len(windows), len(col)), np.float32)
    for i, ids in enumerate(per_window):
        for t in ids:
            j = col.get(int(t))
            if j is not None:
                out[i, j] += 1.0
        if len(ids):
            out[i] /= len(ids)
    return out
