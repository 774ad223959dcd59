"""An engine on a Dask cluster: a local one started on demand, or a running scheduler."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any

from ..errors import EngineError, TaskError
from ._base import AbstractEngine, Progress, collect, plan_chunks, run_chunk
from ._policy import available_cores

__all__ = ["DaskEngine"]


class DaskEngine(AbstractEngine):
    """Runs tasks on a ``dask.distributed`` cluster.

    With no ``address`` a :class:`distributed.LocalCluster` of ``workers`` single-threaded
    worker processes is started on first use; with ``address`` (``"tcp://host:8786"``) the
    engine connects to a running scheduler. :meth:`close` (or the end of a ``with`` block)
    closes the client and any cluster the engine started.

    Parameters
    ----------
    address
        Scheduler address, or ``None`` for a local cluster.
    workers
        Worker processes of the local cluster (default: the cores available).
    threads_per_worker
        Kernel threads each task may use (default 1).
    chunksize
        Default tasks per submission (see :meth:`map`).
    """

    def __init__(
        self,
        address: str | None = None,
        *,
        workers: int | None = None,
        threads_per_worker: int = 1,
        chunksize: int | None = None,
    ) -> None:
        n = available_cores() if workers is None else int(workers)
        if n < 1:
            raise EngineError(f"DaskEngine: workers must be >= 1, got {workers}")
        if threads_per_worker < 1:
            raise EngineError("DaskEngine: threads_per_worker must be >= 1")
        self._address = address
        self._n = n
        self._threads = int(threads_per_worker)
        self._chunksize = chunksize
        self._client: Any = None
        self._cluster: Any = None

    @property
    def address(self) -> str | None:
        """The scheduler address (of the local cluster once it is started)."""
        if self._cluster is not None:
            return str(self._cluster.scheduler_address)
        return self._address

    @property
    def workers(self) -> int:
        """Workers of the cluster (the configured count until connected)."""
        if self._client is not None:
            info = self._client.scheduler_info()
            return max(1, len(info.get("workers", {})))
        return self._n

    def client(self) -> Any:
        """The ``distributed.Client`` (connecting, or starting the local cluster, on first use)."""
        if self._client is not None:
            return self._client
        try:
            from distributed import Client, LocalCluster
        except ImportError as exc:  # pragma: no cover - dask is an optional extra
            raise EngineError(
                "DaskEngine needs dask.distributed: pip install 'immunetwin[dask]'"
            ) from exc
        try:
            if self._address is None:
                self._cluster = LocalCluster(  # type: ignore[no-untyped-call]
                    n_workers=self._n,
                    threads_per_worker=1,
                    processes=True,
                    dashboard_address=None,
                    silence_logs=logging.ERROR,
                )
                self._client = Client(self._cluster)  # type: ignore[no-untyped-call]
            else:
                self._client = Client(self._address, timeout=30)  # type: ignore[no-untyped-call]
        except (OSError, TimeoutError) as exc:
            self.close()
            where = self._address or "a local cluster"
            raise EngineError(f"DaskEngine: cannot connect to {where}: {exc}") from exc
        return self._client

    def _map(
        self,
        fn: Callable[[Any], Any],
        items: list[Any],
        progress: Progress | None,
        chunksize: int | None,
    ) -> list[Any]:
        from distributed import as_completed

        client = self.client()
        chunks = plan_chunks(len(items), self.workers, chunksize or self._chunksize)
        fn_future = client.scatter(fn, broadcast=True, hash=False)
        futures = {
            client.submit(run_chunk, fn_future, a, items[a:b], self._threads, pure=False): c
            for c, (a, b) in enumerate(chunks)
        }

        def outcomes() -> Iterator[tuple[int, Any]]:
            for fut in as_completed(futures):  # type: ignore[no-untyped-call]
                c = futures[fut]
                try:
                    out = fut.result()
                except Exception as exc:  # the chunk could not be sent or its worker died
                    a, b = chunks[c]
                    raise TaskError(
                        f"tasks {a}-{b - 1} of {len(items)}: could not be run on the Dask "
                        f"cluster: {type(exc).__qualname__}: {exc}",
                        index=a,
                        kind=f"{type(exc).__module__}.{type(exc).__qualname__}",
                    ) from exc
                yield c, out

        try:
            return collect(chunks, outcomes(), len(items), progress)
        finally:
            client.cancel(list(futures))

    def close(self) -> None:
        """Close the client and the local cluster this engine started."""
        if self._client is not None:
            self._client.close()
            self._client = None
        if self._cluster is not None:
            self._cluster.close()
            self._cluster = None
