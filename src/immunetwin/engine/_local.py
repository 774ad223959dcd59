"""Engines on this machine: in the calling process, or on a pool of worker processes."""

from __future__ import annotations

import multiprocessing as mp
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Literal

from ..errors import EngineError, ImmunetwinError, TaskError
from ._base import AbstractEngine, Progress, collect, plan_chunks, run_chunk
from ._policy import available_cores, set_worker_threads

__all__ = ["ProcessEngine", "SerialEngine"]


class SerialEngine(AbstractEngine):
    """Runs every task in the calling process, one after another (the default engine).

    Kernels called by the tasks may still use threads (see :func:`threads_for`).
    """

    @property
    def workers(self) -> int:
        """One."""
        return 1

    def _map(
        self,
        fn: Callable[[Any], Any],
        items: list[Any],
        progress: Progress | None,
        chunksize: int | None,
    ) -> list[Any]:
        out: list[Any] = []
        n = len(items)
        for i, item in enumerate(items):
            try:
                out.append(fn(item))
            except ImmunetwinError as exc:
                exc.args = (f"task {i} of {n}: {exc}",)
                exc.__dict__["task_index"] = i
                raise
            except Exception as exc:
                kind = f"{type(exc).__module__}.{type(exc).__qualname__}"
                raise TaskError(
                    f"task {i} of {n}: {type(exc).__qualname__}: {exc}", index=i, kind=kind
                ) from exc
            if progress is not None:
                progress(i + 1, n)
        return out


def _init_worker(threads: int) -> None:
    set_worker_threads(threads)


class ProcessEngine(AbstractEngine):
    """Runs tasks on a pool of worker processes on this machine.

    The pool starts on first use (``spawn`` or ``forkserver`` processes, never ``fork``, so
    that threads of the parent are never copied) and lives until :meth:`close`. Each worker
    runs one chunk of tasks at a time with ``threads_per_worker`` kernel threads.

    Parameters
    ----------
    workers
        Worker processes (default: the cores available).
    threads_per_worker
        Kernel threads per worker (default 1).
    start_method
        ``"spawn"`` (default) or ``"forkserver"``.
    chunksize
        Default tasks per submission (see :meth:`map`).
    """

    def __init__(
        self,
        workers: int | None = None,
        *,
        threads_per_worker: int = 1,
        start_method: Literal["spawn", "forkserver"] = "spawn",
        chunksize: int | None = None,
    ) -> None:
        n = available_cores() if workers is None else int(workers)
        if n < 1:
            raise EngineError(f"ProcessEngine: workers must be >= 1, got {workers}")
        if threads_per_worker < 1:
            raise EngineError("ProcessEngine: threads_per_worker must be >= 1")
        if start_method not in ("spawn", "forkserver"):
            raise EngineError(
                f"ProcessEngine: start_method must be 'spawn' or 'forkserver', got {start_method!r}"
            )
        self._workers = n
        self._threads = int(threads_per_worker)
        self._start_method = start_method
        self._chunksize = chunksize
        self._pool: ProcessPoolExecutor | None = None

    @property
    def workers(self) -> int:
        """Worker processes."""
        return self._workers

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                max_workers=self._workers,
                mp_context=mp.get_context(self._start_method),
                initializer=_init_worker,
                initargs=(self._threads,),
            )
        return self._pool

    def _map(
        self,
        fn: Callable[[Any], Any],
        items: list[Any],
        progress: Progress | None,
        chunksize: int | None,
    ) -> list[Any]:
        chunks = plan_chunks(len(items), self._workers, chunksize or self._chunksize)
        pool = self._executor()
        futures: dict[Future[Any], int] = {
            pool.submit(run_chunk, fn, a, items[a:b], None): c for c, (a, b) in enumerate(chunks)
        }

        def outcomes() -> Iterator[tuple[int, Any]]:
            for fut in as_completed(futures):
                c = futures[fut]
                try:
                    out = fut.result()
                except BrokenProcessPool as exc:
                    self._pool = None
                    raise EngineError(f"ProcessEngine: a worker process died ({exc})") from exc
                except Exception as exc:  # the chunk could not be sent or its result returned
                    a, b = chunks[c]
                    raise TaskError(
                        f"tasks {a}-{b - 1} of {len(items)}: could not be run in a worker "
                        f"process: {type(exc).__qualname__}: {exc}",
                        index=a,
                        kind=f"{type(exc).__module__}.{type(exc).__qualname__}",
                    ) from exc
                yield c, out

        try:
            return collect(chunks, outcomes(), len(items), progress)
        except BaseException:
            for fut in futures:
                fut.cancel()
            raise

    def close(self) -> None:
        """Shut the pool down (a later :meth:`map` starts a new one)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
