"""Where the pulls run: the distributed cluster in use, else Dask's local scheduler; how many
at once, and their progress."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from alloy_data.errors import ConfigurationError
from alloy_data.progress import ProgressOption

__all__ = ["Cluster", "check_progress"]


def check_progress(progress: ProgressOption) -> None:
    """Refuse a progress function, which the pulls on the cluster cannot call.

    Raises:
        ConfigurationError: For a callable ``progress``.
    """
    if callable(progress):
        raise ConfigurationError(
            "progress cannot be a function on Dask: the pulls run in the cluster's worker "
            "processes, which cannot call a function of this session. Pass progress=True (or "
            '"auto", "terminal") for Dask\'s progress bar, or False for none.'
        )


class Cluster:
    """The scheduler that runs a job's pulls, and the limit on how many run at once.

    Args:
        tasks: How many credentials there are.
        workers: At most this many pulled at once (None: as many as the scheduler runs).
        cap_total: Whether the requests of all credentials together are capped, which needs
            a known limit: then the scheduler's threads are the limit when ``workers`` is None.
    """

    def __init__(self, tasks: int, *, workers: int | None, cap_total: bool) -> None:
        self.client = _distributed_client()
        self.threads = _threads(self.client)
        limit = workers if workers is not None else (self.threads if cap_total else None)
        self.limit = limit
        #: The most pulls that can run at once, which share a total request rate.
        self.at_once = max(1, min(tasks, limit if limit is not None else self.threads))
        self._lease: Any = None
        if self.client is not None and limit is not None and limit < tasks:
            from distributed import Semaphore

            self._lease = Semaphore(max_leases=limit, name=f"alloy-data-{uuid.uuid4().hex}")

    @property
    def lease(self) -> Any:
        """What each pull holds while it runs (a ``distributed.Semaphore``), or None."""
        return self._lease

    def persist(self, tasks: Sequence[Any], progress: ProgressOption) -> list[Any]:
        """Start the tasks (on a distributed cluster) or run them (locally), showing progress.

        Returns:
            The persisted tasks, whose results stay where they were computed.
        """
        import dask

        if self.client is None:
            options = {} if self.limit is None else {"num_workers": self.limit}
            with _local_bar(progress):
                return list(dask.persist(*tasks, **options))
        persisted = list(dask.persist(*tasks))
        if progress not in (False, None):
            from distributed import progress as show

            show(*persisted, notebook=False if progress == "terminal" else None)
        return persisted

    def gather(self, function: Callable[[Any], Any], persisted: Sequence[Any]) -> list[Any]:
        """Apply ``function`` to each persisted result where it lies; bring back the answers.

        Returns:
            The answers, in order.
        """
        import dask

        return list(dask.compute(*[dask.delayed(function)(item) for item in persisted]))

    def cancel(self, persisted: Sequence[Any]) -> None:
        """Stop the pulls that still run (after one failed)."""
        if self.client is not None:
            from distributed import futures_of

            self.client.cancel(futures_of(persisted))

    def close(self) -> None:
        """Release the limit's semaphore, once no pull holds it."""
        lease, self._lease = self._lease, None
        if lease is not None and not lease.get_value():
            lease.close()


def _distributed_client() -> Any:
    """The distributed client that ``dask.compute`` uses now, or None."""
    import dask

    try:
        from distributed import default_client
    except ImportError:
        return None
    try:
        client = default_client()
    except ValueError:
        return None
    return client if dask.base.get_scheduler() == client.get else None


def _threads(client: Any) -> int:
    """How many tasks the scheduler runs at once now."""
    import dask
    import dask.local
    import dask.system

    if client is not None:
        workers = client.scheduler_info(n_workers=-1)["workers"].values()
        return max(1, sum(worker.get("nthreads", 1) for worker in workers))
    if dask.base.get_scheduler() is dask.local.get_sync:
        return 1
    return int(dask.config.get("num_workers", None) or dask.system.CPU_COUNT)


@contextlib.contextmanager
def _local_bar(progress: ProgressOption) -> Iterator[None]:
    if progress in (False, None):
        yield
        return
    from dask.diagnostics import ProgressBar

    with ProgressBar():
        yield
