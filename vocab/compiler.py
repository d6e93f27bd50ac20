"""The vocabulary compiler: a Dask map-reduce from a lake snapshot to a codebook artifact.

This module is the builder (:class:`VocabularyBuilder`): it plans the passes and reduces
their partials on the client. The lake reading and partitioning are in
vocab.lake_partitions, the per-partition Dask tasks in vocab.partition_tasks.

Stages (every task opens the lake *at the snapshot taken once at the start*):

1. **map**: the recordings (sorted ids) are cut into partitions of whole sessions, at most
   ``partition_size`` recordings and ``partition_samples`` channel-samples each
   (vocab.lake_partitions.session_partitions), so a task's signal and descriptors are
   bounded. A task reads its recordings (EMG channels with status ``good``, at ``fs`` or
   the native rate), runs
   ``tokenizer.segment_session`` per session (the NCT pools one noise floor per channel
   over the session, e.g. from its rest recording; a session cut over several partitions
   gets floors pooled over all of its recordings by a floor pass before the map,
   vocab.partition_tasks.whole_session_floors, so tokens do not depend on the partition
   size) and keeps the descriptors of the active segments (float32) plus per-recording
   bookkeeping. What later passes read depends on ``descriptors``:

   - ``"spill"`` (default): the task writes the partition's descriptors to a file in a
     scratch folder the workers share (vocab.spill) and returns only bookkeeping; every
     later pass memory-maps the file and streams it in bounded blocks. The tokenizer runs
     once and a worker's memory does not grow with the corpus. The task also writes all
     of the partition's segments to the lake's segment cache (vocab.segment_cache), which
     vocab.tokenize reads instead of segmenting the same recordings again.
   - ``"memory"``: the mapped partitions are persisted in worker memory (fast, but the
     workers together hold every descriptor: memory grows with the corpus).
   - ``"recompute"``: every pass re-reads and re-tokenizes its partition (no scratch
     space, bounded memory, several times slower).
2. **statistics**: each partition returns its moments (count, mean, M2) (with
   ``"spill"``, from the map task itself); the client merges them in partition order ->
   standardisation. The initialisation sample is the ``sample_size`` descriptors of the
   corpus with the smallest hashes of (recording id, segment index): each partition keeps
   only its rows hashed below a threshold set from the row count (about its share of the
   sample; vocab.codebook.sample_threshold), a tree of merge tasks on the workers
   reduces them, and the client receives one bounded sample (retried with a higher
   threshold in the rare case too few rows fell below, so it is always exact).
3. **k-means**: k-means++ on the standardised sample (client, seeded); then each Lloyd
   iteration maps partitions to per-centroid sums/counts/inertia and reduces them in
   partition order. Dead codes are re-seeded from the sample; the loop stops when the
   relative inertia decrease drops below ``tol`` (or after ``iterations``).
4. **usage**: one more pass counts codes per device and tokens per dataset.

The same snapshot and parameters give a byte-identical vocabulary whatever the scheduler
or worker count: fixed partitions, float64 partials reduced in partition order, seeded
randomness, hash-based sampling. Scheduler, worker count and ``descriptors`` are not part
of the artifact: they give the same bytes.
"""

from __future__ import annotations

import hashlib
import json
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import numpy as np
from dask import delayed
from tqdm.auto import tqdm

from emgcorpus.errors import ConfigError, LakeError
from emgcorpus.lake_location import lake_location
from vocab.artifact import FORMAT, Vocabulary, default_store
from vocab.codebook import (
    DescriptorSample,
    MomentStats,
    converged,
    kmeans_plus_plus,
    merge_moments,
    merge_partials,
    sample_threshold,
    standardize,
    update_centroids,
)
from vocab.lake_partitions import (
    DEFAULT_PARTITION_SAMPLES,
    DEFAULT_PARTITION_SIZE,
    TOKENIZED_CHANNEL_TYPES,
    RecordingRef,
    check_partitioning,
    lake_snapshot,
    open_lake,
    plan_partitions,
    without_subjects,
)
from vocab.partition_tasks import (
    PassTasks,
    SpilledPartition,
    map_partition,
    partition_lloyd,
    partition_moments,
    partition_sample,
    partition_usage,
    spill_partition,
    spilled_lloyd,
    spilled_sample,
    spilled_usage,
    tree_merge_samples,
    whole_session_floors,
)
from vocab.runner import DaskRunner, progress_enabled
from vocab.segment_cache import (
    CachedRecordings,
    CacheWriter,
    SegmentCacheError,
    base_key,
    find_cached,
    plain_json,
    remove_cache,
)
from vocab.spill import ScratchDir
from vocab.stats import merge_usage, summarize_usage
from vocab.tokenizer_base import Tokenizer

#: Where later passes get a partition's descriptors (see the module docstring).
DESCRIPTOR_MODES = ("spill", "memory", "recompute")
#: Slack (standard deviations, see codebook.sample_threshold) of the successive sampling
#: attempts; None keeps every row (always exact). 8 sd fails with probability ~1e-15.
SAMPLE_SLACK: tuple[float | None, ...] = (8.0, 64.0, None)


class VocabularyBuilder:
    """Compile a vocabulary from a lake with Dask (see the module docstring).

    ``tokenizer`` is a registered name (``nct``, ``window``) or a Tokenizer instance;
    ``size`` the number of codes; ``datasets`` the datasets compiled on (None: all) and
    ``exclude_subjects`` the ``dataset:subject`` keys left out of them (e.g. a run's
    evaluation subjects); ``fs`` [Hz] the rate recordings are read at (None =
    native); ``iterations`` the maximum Lloyd iterations; ``sample_size`` the number of
    descriptors k-means++ initialises from; ``tol`` the relative inertia decrease that
    stops the fit. ``scheduler``/``n_workers`` choose where it runs (see vocab.runner);
    ``descriptors`` (``spill``, ``memory``, ``recompute``) how later passes get the
    descriptors and ``scratch_dir`` where ``spill`` writes them (default
    ``<lake>/_scratch``; it must be visible to every worker). ``segment_cache``: with
    ``spill``, the map pass also writes every segment to the lake's segment cache
    (vocab.segment_cache), so tokenizing the same recordings afterwards does not segment
    them again. None of these change the result.
    """

    def __init__(
        self,
        lake_path: str | Path,
        tokenizer: str | Tokenizer = "nct",
        size: int = 512,
        datasets: list[str] | None = None,
        fs: float | None = None,
        exclude_subjects: list[str] | None = None,
        tokenizer_params: dict[str, Any] | None = None,
        seed: int = 0,
        iterations: int = 20,
        sample_size: int = 20000,
        scheduler: str | None = None,
        n_workers: int | None = None,
        partition_size: int = DEFAULT_PARTITION_SIZE,
        partition_samples: int | None = DEFAULT_PARTITION_SAMPLES,
        tol: float = 1e-4,
        descriptors: str = "spill",
        scratch_dir: str | Path | None = None,
        store: str | Path | None = None,
        segment_cache: bool = True,
    ) -> None:
        if int(size) < 1:
            raise ConfigError(f"vocabulary size must be >= 1, got {size}")
        if int(iterations) < 1:
            raise ConfigError(f"iterations must be >= 1, got {iterations}")
        if int(sample_size) < int(size):
            raise ConfigError(
                f"sample_size ({sample_size}) must be >= vocabulary size ({size}): "
                "k-means++ draws the initial codes from the sample"
            )
        check_partitioning(partition_size, partition_samples)
        if fs is not None and not float(fs) > 0:
            raise ConfigError(f"fs must be > 0 Hz, got {fs}")
        if descriptors not in DESCRIPTOR_MODES:
            raise ConfigError(
                f"descriptors must be one of {', '.join(DESCRIPTOR_MODES)}, got {descriptors!r}"
            )
        if not tol >= 0:
            raise ConfigError(f"tol must be >= 0, got {tol}")
        self.lake_path = lake_location(lake_path)
        if isinstance(tokenizer, Tokenizer):
            if tokenizer_params:
                raise ConfigError("tokenizer_params only apply to a tokenizer given by name")
            self.tokenizer = tokenizer
        else:
            from vocab.tokenizers import get_tokenizer

            self.tokenizer = get_tokenizer(tokenizer, **(tokenizer_params or {}))
        self.size = int(size)
        self.datasets = sorted(datasets) if datasets else None
        self.exclude_subjects = sorted(set(exclude_subjects)) if exclude_subjects else None
        self.fs = float(fs) if fs is not None else None
        self.seed = int(seed)
        self.iterations = int(iterations)
        self.sample_size = int(sample_size)
        self.scheduler = scheduler
        self.n_workers = n_workers
        self.partition_size = int(partition_size)
        self.partition_samples = None if partition_samples is None else int(partition_samples)
        self.tol = float(tol)
        self.descriptors = descriptors
        self.scratch_dir = Path(scratch_dir) if scratch_dir is not None else None
        self.store = Path(store) if store is not None else default_store(self.lake_path)
        self.segment_cache = bool(segment_cache) and descriptors == "spill"

    def params(self, sample_budget_binds: bool = True) -> dict[str, Any]:
        """Every parameter that determines the result (recorded in vocab.json).

        ``partition_samples`` is recorded only when it is set and ``sample_budget_binds``
        (the build passes whether it cut the corpus differently from recording-count
        partitions). Left out, it changed nothing: rebuilding with None gives the same
        partitions and bytes, and vocabularies from before the budget keep their ids.
        """
        params = {
            "size": self.size,
            "datasets": self.datasets,
            "fs": self.fs,
            "seed": self.seed,
            "iterations": self.iterations,
            "sample_size": self.sample_size,
            "partition_size": self.partition_size,
            "tol": self.tol,
            "channel_types": list(TOKENIZED_CHANNEL_TYPES),
        }
        if self.partition_samples is not None and sample_budget_binds:
            params["partition_samples"] = self.partition_samples
        if self.exclude_subjects:  # recorded only when set: other vocabularies keep their ids
            params["exclude_subjects"] = self.exclude_subjects
        return params

    def _partitions(self, lake: Any) -> tuple[list[list[RecordingRef]], list[list[float]], bool]:
        """The partitions' refs and native rates [Hz], and whether ``partition_samples``
        made them differ from partitions by recording count alone."""
        table = without_subjects(lake.recordings(datasets=self.datasets), self.exclude_subjects)
        if table.height == 0:
            which = f" of datasets {', '.join(self.datasets)}" if self.datasets else ""
            which += " besides the excluded subjects" if self.exclude_subjects else ""
            raise LakeError(f"{self.lake_path}: no recordings{which} to compile a vocabulary from")
        plan = plan_partitions(table, self.partition_size, self.fs, self.partition_samples)
        refs = [[plan.refs[i] for i in p] for p in plan.partitions]
        nfs = [[plan.native_fs[i] for i in p] for p in plan.partitions]
        return refs, nfs, plan.samples_bind

    def _scratch(self, snapshot: dict[str, int]) -> ScratchDir | nullcontext[None]:
        """The build's scratch folder (``descriptors="spill"``), else a no-op context."""
        if self.descriptors != "spill":
            return nullcontext()
        inputs = {"params": self.params(), "snapshot": snapshot}
        inputs["tokenizer"] = plain_json(self.tokenizer.config())
        tag = hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()[:12]
        return ScratchDir(self.lake_path, self.scratch_dir, tag)

    def _map(
        self,
        run: DaskRunner,
        scratch: ScratchDir | None,
        parts: list[list[RecordingRef]],
        nfs: list[list[float]],
        snapshot: dict[str, int],
    ) -> tuple[list[Any], list[MomentStats], PassTasks]:
        """The map pass and the moments (one pass when spilling).

        Returns what later tasks take per partition (a SpilledPartition, a persisted or a
        lazy MappedPartition), the partitions' moments, and the sample, Lloyd and usage
        tasks that apply to them.
        """
        lake = str(self.lake_path)
        if scratch is None:
            floors = whole_session_floors(run, lake, snapshot, parts, nfs, self.tokenizer, self.fs)
            fl = delayed(floors)
            mapped = [
                delayed(map_partition, pure=True)(
                    lake, snapshot, refs, f, self.tokenizer, self.fs, self.seed, fl
                )
                for refs, f in zip(parts, nfs)
            ]
            if self.descriptors == "memory":
                mapped = run.persist(mapped)
            moments = run.compute([delayed(partition_moments)(m) for m in mapped], "moments")
            return mapped, moments, PassTasks(partition_sample, partition_lloyd, partition_usage)
        base = base_key(snapshot, plain_json(self.tokenizer.config()), self.fs)
        cached: list[CachedRecordings] = [{} for _ in parts]
        used: list[str] = []
        if self.segment_cache:
            cached, used = find_cached(self.lake_path, base, parts)
        try:
            done = self._spill_map(run, scratch, parts, nfs, snapshot, base, cached)
        except SegmentCacheError:
            if not used:
                raise
            for folder in used:  # damaged: drop them and segment from the lake
                remove_cache(folder)
            done = self._spill_map(run, scratch, parts, nfs, snapshot, base, [{} for _ in parts])
        later = PassTasks(spilled_sample, spilled_lloyd, spilled_usage)
        return [p for p, _ in done], [m for _, m in done], later

    def _spill_map(
        self,
        run: DaskRunner,
        scratch: ScratchDir,
        parts: list[list[RecordingRef]],
        nfs: list[list[float]],
        snapshot: dict[str, int],
        base: str,
        cached: list[CachedRecordings],
    ) -> list[tuple[SpilledPartition, MomentStats]]:
        """The spilling map pass. The sessions ``cached`` holds (per partition, from the
        segment cache) are read, the others segmented after a floor pass over the sessions
        the partitions cut; with ``segment_cache``, the segments are written to a new
        cache unless every recording came from one."""
        lake = str(self.lake_path)
        todo = [[r for r in refs if r.recording_id not in c] for refs, c in zip(parts, cached)]
        todo_fs = [
            [f for r, f in zip(refs, fs) if r.recording_id not in c]
            for refs, fs, c in zip(parts, nfs, cached)
        ]
        floors = whole_session_floors(run, lake, snapshot, todo, todo_fs, self.tokenizer, self.fs)
        fl = delayed(floors)
        writer = None
        if self.segment_cache and any(todo):
            writer = CacheWriter(self.lake_path, base, parts)
        spill = delayed(spill_partition, pure=True)
        with writer if writer is not None and not writer.exists else nullcontext() as cache:
            tasks = [
                spill(
                    lake,
                    snapshot,
                    refs,
                    f,
                    self.tokenizer,
                    self.fs,
                    self.seed,
                    scratch.part(i),
                    fl,
                    None if cache is None else cache.part(i),
                    cached[i],
                )
                for i, (refs, f) in enumerate(zip(parts, nfs))
            ]
            done: list[tuple[SpilledPartition, MomentStats]] = run.compute(tasks, "map")
            if cache is not None:
                cache.commit([p.cache_entry for p, _ in done if p.cache_entry is not None])
        return done

    def _sample(self, run: DaskRunner, mapped: list[Any], task: Any, rows: int) -> DescriptorSample:
        """The corpus's bottom-hash sample of ``sample_size`` rows (``rows`` in all).

        Each partition keeps only its rows hashed below sample_threshold (about its share
        of the sample), merged by a tree on the workers; if fewer than ``sample_size``
        rows fell below, it retries with more slack (finally every row), so the result is
        always exactly the bottom ``sample_size`` hashes of the corpus.
        """
        dim, size = self.tokenizer.descriptor_dim, self.sample_size
        for slack in SAMPLE_SLACK:
            threshold = sample_threshold(rows, size, slack) if slack is not None else None
            samples = [delayed(task)(m, threshold, size) for m in mapped]
            (merged,) = run.compute([tree_merge_samples(samples, size, dim)], "sample")
            if threshold is None or merged.hashes.shape[0] >= size:
                return merged
        raise AssertionError("unreachable: the last SAMPLE_SLACK keeps every row")

    def build(self, progress: bool = True, save: bool = True) -> Vocabulary:
        """Run the job; return the vocabulary (saved in the store unless ``save=False``)."""
        lake = open_lake(self.lake_path)
        snapshot = lake_snapshot(lake)
        parts, nfs, binds = self._partitions(lake)
        dim = self.tokenizer.descriptor_dim
        k = self.size
        stages = tqdm(
            total=3 + self.iterations,
            desc="vocab",
            disable=not progress_enabled(progress),
            leave=False,
        )
        with (
            self._scratch(snapshot) as scratch,
            DaskRunner(self.scheduler, self.n_workers, progress) as run,
        ):
            stages.set_postfix_str(f"map {len(parts)} partitions on {run.description}")
            mapped, moments, tasks = self._map(run, scratch, parts, nfs, snapshot)
            # wrapped once: dask would otherwise walk every partition's bookkeeping
            # (lists of RecordingRef) for dask collections in each of the later passes
            mapped = [delayed(m, traverse=False) for m in mapped]
            lloyd_task, usage_task = tasks.lloyd, tasks.usage
            # -- standardisation and initialisation sample
            stats = merge_moments(moments, dim)
            if stats.count == 0:
                raise LakeError(
                    f"{self.lake_path}: the tokenizer found no active segment in "
                    f"{sum(len(p) for p in parts)} recordings; nothing to compile"
                )
            sample = self._sample(run, mapped, tasks.sample, int(stats.count))
            mean, std = stats.mean, stats.std()
            z_sample = standardize(sample.descriptors, mean, std)
            stages.update(1)
            # -- k-means
            rng = np.random.default_rng(self.seed)
            centroids = kmeans_plus_plus(z_sample, k, rng)
            inertia: list[float] = []
            reseeded: list[list[int]] = []
            stages.update(1)
            for it in range(self.iterations):
                c = delayed(centroids)
                mu, sd = delayed(mean), delayed(std)
                partials = run.compute(
                    [delayed(lloyd_task)(m, mu, sd, c) for m in mapped], f"lloyd {it + 1}"
                )
                total = merge_partials(partials, k, dim)
                inertia.append(total.inertia)
                centroids, dead = update_centroids(centroids, total, z_sample)
                if dead:
                    reseeded.append([it, *dead])
                stages.update(1)
                stages.set_postfix_str(f"inertia {total.inertia:.4g}")
                if converged(inertia, self.tol) and not dead:
                    break
            codebook = centroids.astype(np.float32)
            # -- usage statistics with the stored (float32) codebook
            cb, mu, sd = delayed(codebook.astype(np.float64)), delayed(mean), delayed(std)
            usage_parts = run.compute(
                [delayed(usage_task)(m, mu, sd, cb) for m in mapped],
                "usage",
            )
            usage = merge_usage(usage_parts, k)
        stages.update(stages.total - stages.n)
        stages.close()
        from emgcorpus.shards.special_tokens import FIRST_CODE_ID, SPECIAL_TOKENS, vocab_size

        meta: dict[str, Any] = {
            "format": FORMAT,
            "tokenizer": plain_json(self.tokenizer.config()),
            "params": self.params(binds),
            "corpus": {
                "lake": str(self.lake_path),
                "snapshot": snapshot,
                "recordings": sum(len(p) for p in parts),
                "partitions": len(parts),
                "active_segments": int(stats.count),
            },
            "standardization": {
                "mean": [float(v) for v in mean],
                "std": [float(v) for v in std],
            },
            "fit": {
                "method": "k-means (Lloyd), k-means++ init on a hash-selected sample",
                "sample_rows": int(sample.descriptors.shape[0]),
                "iterations_run": len(inertia),
                "inertia": [float(v) for v in inertia],
                "converged": converged(inertia, self.tol),
                "reseeded": reseeded,
            },
            "statistics": summarize_usage(usage),
            "tokens": {
                "special": dict(SPECIAL_TOKENS),
                "first_code_id": FIRST_CODE_ID,
                "vocab_size": vocab_size(k),
            },
        }
        vocab = Vocabulary(meta=meta, codebook=codebook)
        if save:
            vocab.save(self.store)
        return vocab
