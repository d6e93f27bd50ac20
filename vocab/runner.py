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
        from distributed import Client, LocalCluster

        if self.scheduler is None:
            n = self.n_workers or os.cpu_count() or 1
            self._cluster = LocalCluster(
                n_workers=n,
                threads_per_worker=1,
                processes=True,
                dashboard_address=":0",  # any free port: never collide with another cluster
                silence_logs=40,
            )
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
        """Compute ``tasks``; results in task order. A progress bar counts finished tasks."""
        bar = tqdm(total=len(tasks), desc=desc, disable=not self.progress, leave=False)
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
