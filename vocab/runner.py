"""Where the vocabulary jobs run: a Dask LocalCluster, a scheduler address, or in-process.

:class:`DaskRunner` hides only *how* a list of delayed tasks is executed; the graph is the
same for every scheduler:

- ``scheduler=None``: a ``dask.distributed.LocalCluster`` (``n_workers`` processes,
  default one per core, one thread each), started and closed by the runner;
- ``scheduler="tcp://host:port"`` (or any address ``distributed.Client`` accepts): that
  scheduler's workers; the workers must import this package and see the lake path;
- ``scheduler="sync"``: dask's synchronous scheduler in this process (tests, debugging).

Results always come back in task order (never completion order), so reductions done by
the caller are deterministic.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from types import TracebackType
from typing import Any

import dask
from dask.delayed import Delayed
from tqdm.auto import tqdm

from emgcorpus.errors import ConfigError

SYNC = "sync"

#: Dask settings of the LocalCluster this package starts (:func:`local_cluster`). Dask's
#: nanny sets MALLOC_TRIM_THRESHOLD_=65536 in every worker, so glibc hands freed memory
#: back to the OS at once and the next large numpy temporary faults its pages in again:
#: on the NCT's per-recording arrays that doubled a worker's CPU seconds (half of them
#: system time, bench/bench_scale.py). glibc's adaptive thresholds (unset) reuse them only
#: once they have grown, so a fresh worker's first build still faulted its temporaries in
#: anew (its map pass ~20 % more CPU than the next build's); fixed thresholds
#: (WORKER_MALLOC_ENV: blocks up to 64 MiB from the heap, up to 256 MiB of freed heap kept)
#: reuse them from the first task on, at the same peak RSS (bench_scale 1 h: 500-520 MiB
#: either way). The statistical profiler (a stack sample every 10 ms) is off, nobody
#: reads it, and the event-loop health check, system monitor and memory monitor run less
#: often (20 ms, 500 ms and 100 ms by default): an idle 2-worker cluster then burns 0.004
#: CPU s/s per worker and 0.01 in the client process (scheduler, nannies), not 0.025 and
#: 0.056.
WORKER_MALLOC_ENV: dict[str, str] = {
    "MALLOC_MMAP_THRESHOLD_": str(64 * 2**20),
    "MALLOC_TRIM_THRESHOLD_": str(256 * 2**20),
}
LOCAL_CLUSTER_CONFIG: dict[str, Any] = {
    **{f"distributed.nanny.pre-spawn-environ.{k}": v for k, v in WORKER_MALLOC_ENV.items()},
    "distributed.worker.profile.enabled": False,
    "distributed.admin.tick.interval": "1s",
    "distributed.admin.system-monitor.interval": "2s",
    "distributed.admin.system-monitor.disk": False,
    "distributed.admin.system-monitor.gil.enabled": False,
    "distributed.worker.memory.monitor-interval": "500ms",
}


def local_cluster(n_workers: int) -> Any:
    """A ``distributed.LocalCluster`` of ``n_workers`` one-thread worker processes on a
    free dashboard port, with LOCAL_CLUSTER_CONFIG (the caller closes it)."""
    from distributed import LocalCluster

    with dask.config.set(LOCAL_CLUSTER_CONFIG):
        return LocalCluster(
            n_workers=int(n_workers),
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",  # any free port: never collide with another cluster
            silence_logs=40,
        )


def progress_enabled(progress: bool) -> bool:
    """Progress bars only when asked for and stderr is a terminal."""
    return bool(progress) and sys.stderr.isatty()


class DaskRunner:
    """Context manager that executes delayed tasks on the chosen scheduler."""

    def __init__(
        self, scheduler: str | None = None, n_workers: int | None = None, progress: bool = True
    ) -> None:
        if n_workers is not None and int(n_workers) < 1:
            raise ConfigError(f"n_workers must be >= 1, got {n_workers}")
        if scheduler is not None and scheduler != SYNC and "://" not in scheduler:
            raise ConfigError(
                f"invalid scheduler {scheduler!r}: expected None (LocalCluster), 'sync', "
                "or a scheduler address such as tcp://127.0.0.1:8786"
            )
        self.scheduler = scheduler
        self.n_workers = n_workers
        self.progress = progress_enabled(progress)
        self.client: Any = None
        self._cluster: Any = None

    def __enter__(self) -> DaskRunner:
        if self.scheduler == SYNC:
            return self
        from distributed import Client

        if self.scheduler is None:
            self._cluster = local_cluster(self.n_workers or os.cpu_count() or 1)
            self.client = Client(self._cluster, set_as_default=False)
        else:
            self.client = Client(self.scheduler, set_as_default=False)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.client is not None:
            self.client.close()
            self.client = None
        if self._cluster is not None:
            self._cluster.close()
            self._cluster = None

    @property
    def description(self) -> str:
        if self.scheduler == SYNC:
            return "synchronous"
        if self.scheduler is None:
            return f"LocalCluster({self.n_workers or os.cpu_count()} workers)"
        return self.scheduler

    def persist(self, tasks: Sequence[Delayed]) -> list[Delayed]:
        """Compute ``tasks`` and keep the results where they were computed (workers)."""
        if self.client is not None:
            return list(self.client.persist(list(tasks)))
        return list(dask.persist(*tasks, scheduler="sync"))

    def compute(self, tasks: Sequence[Delayed], desc: str = "") -> list[Any]:
        """Compute ``tasks``; results in task order. A progress bar counts finished tasks.

        Every task finishes (or fails) before the first error is raised. Without a bar
        the futures are waited for together: following each task's completion
        (``as_completed``) and a disabled bar cost a few ms of client CPU and wall per
        call, and a build makes one call per Lloyd iteration."""
        if not self.progress:
            if self.client is None:
                return [dask.compute(t, scheduler="sync")[0] for t in tasks]
            from distributed import wait

            with self.client.as_current():
                futures = self.client.compute(list(tasks))
                wait(futures)
                return list(self.client.gather(futures))
        bar = tqdm(total=len(tasks), desc=desc, leave=False)
        try:
            if self.client is None:
                out = []
                for t in tasks:
                    out.append(dask.compute(t, scheduler="sync")[0])
                    bar.update(1)
                return out
            from distributed import as_completed

            with self.client.as_current():
                futures = self.client.compute(list(tasks))
                for _ in as_completed(futures):
                    bar.update(1)
                return list(self.client.gather(futures))
        finally:
            bar.close()
