"""The engine interface: algorithms hand over a batch of tasks, the engine decides where they run.

An engine maps a picklable function over a sequence of tasks and returns the results in task
order. Process and cluster engines send tasks in chunks (several tasks per submission) so that
the cost of a round trip stays small beside the work; a task that raises is reported with its
index (see :func:`raise_failure`).
"""

from __future__ import annotations

import abc
import importlib
import math
import pickle
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, TypeVar

from ..errors import ImmunetwinError, TaskError
from ._policy import set_worker_threads, threads_for

__all__ = ["AbstractEngine", "Progress"]

T = TypeVar("T")
R = TypeVar("R")

Progress = Callable[[int, int], None]
"""A progress hook, called as ``progress(done, total)`` in the calling process."""

CHUNKS_PER_WORKER = 4
"""Default number of chunks per worker: enough to balance uneven tasks, few enough to keep the
per-submission overhead small."""


class _RemoteTraceback(Exception):
    """The traceback of an exception raised in another process (shown as the cause)."""

    def __init__(self, text: str) -> None:
        super().__init__(text)

    def __str__(self) -> str:
        return "\n" + str(self.args[0])


@dataclass(frozen=True, slots=True)
class _Failure:
    """A task's exception in a picklable form."""

    index: int
    module: str
    qualname: str
    message: str
    traceback: str
    state: dict[str, Any] | None


def _failure(index: int, exc: BaseException) -> _Failure:
    state: dict[str, Any] | None = dict(getattr(exc, "__dict__", {}))
    try:
        pickle.dumps(state)
    except Exception:  # attributes that do not pickle: keep the message only
        state = None
    cls = type(exc)
    return _Failure(
        index=index,
        module=cls.__module__,
        qualname=cls.__qualname__,
        message=str(exc),
        traceback="".join(traceback.format_exception(exc)),
        state=state,
    )


def _resolve(module: str, qualname: str) -> type | None:
    try:
        obj: Any = importlib.import_module(module)
        for part in qualname.split("."):
            obj = getattr(obj, part)
    except Exception:
        return None
    return obj if isinstance(obj, type) else None


def as_task_error(f: _Failure, total: int) -> Exception:
    """The error to raise for a failed task: its own type for immunetwin errors, else TaskError."""
    prefix = f"task {f.index} of {total}: "
    cls = _resolve(f.module, f.qualname)
    if cls is not None and issubclass(cls, ImmunetwinError):
        exc: Exception = cls.__new__(cls)
        Exception.__init__(exc, prefix + f.message)
        exc.__dict__.update(f.state or {})
        exc.__dict__["task_index"] = f.index
    else:
        exc = TaskError(
            f"{prefix}{f.qualname}: {f.message}",
            index=f.index,
            kind=f"{f.module}.{f.qualname}",
            remote_traceback=f.traceback,
        )
    exc.__cause__ = _RemoteTraceback(f.traceback)
    return exc


def run_chunk(
    fn: Callable[[Any], Any], start: int, items: Sequence[Any], threads: int | None
) -> list[Any] | _Failure:
    """Run ``fn`` on ``items`` (tasks ``start, start+1, ...``); in a worker, or in-process.

    Returns the results, or the first failure. ``threads`` (when given) marks this process as
    an engine worker with that kernel thread budget.
    """
    if threads is not None:
        set_worker_threads(threads)
    out: list[Any] = []
    for j, item in enumerate(items):
        try:
            out.append(fn(item))
        except Exception as exc:
            return _failure(start + j, exc)
    return out


def plan_chunks(n_tasks: int, workers: int, chunksize: int | None) -> list[tuple[int, int]]:
    """Split ``n_tasks`` into ``(start, stop)`` chunks: ``chunksize`` each, or about
    :data:`CHUNKS_PER_WORKER` chunks per worker."""
    if n_tasks <= 0:
        return []
    size = chunksize or math.ceil(n_tasks / (max(1, workers) * CHUNKS_PER_WORKER))
    size = max(1, int(size))
    return [(a, min(a + size, n_tasks)) for a in range(0, n_tasks, size)]


class AbstractEngine(abc.ABC):
    """Runs batches of independent tasks: in this process, a process pool or a Dask cluster.

    Subclasses implement :meth:`_map`; :meth:`map` is the one entry point. An engine that
    holds resources (a pool, a cluster) starts them on first use and frees them on
    :meth:`close` or at the end of a ``with`` block.
    """

    @property
    @abc.abstractmethod
    def workers(self) -> int:
        """How many tasks can run at the same time."""

    @property
    def kind(self) -> str:
        """Short name: ``"serial"``, ``"processes"`` or ``"dask"``."""
        return type(self).__name__.removesuffix("Engine").lower()

    def map(
        self,
        fn: Callable[[T], R],
        tasks: Sequence[T],
        *,
        progress: Progress | None = None,
        chunksize: int | None = None,
    ) -> list[R]:
        """Apply ``fn`` to every task; results in task order.

        Parameters
        ----------
        fn
            A function of one task. For process and cluster engines it and the tasks must
            pickle (a module-level function or a :func:`functools.partial` of one).
        tasks
            The tasks.
        progress
            Called as ``progress(done, total)`` after each finished chunk.
        chunksize
            Tasks per submission (default: about four chunks per worker).

        Raises
        ------
        ImmunetwinError
            A task's own immunetwin error (same type, message prefixed ``task i of n:``).
        TaskError
            Any other exception in a task, naming the task index and the original type.
        """
        items = list(tasks)
        if not items:
            return []
        results: list[Any] = self._map(fn, items, progress, chunksize)
        return results

    @abc.abstractmethod
    def _map(
        self,
        fn: Callable[[Any], Any],
        items: list[Any],
        progress: Progress | None,
        chunksize: int | None,
    ) -> list[Any]:
        """Run the tasks (non-empty) and return their results in order."""

    def threads_for(self, batch_size: int) -> int:
        """Kernel threads for a batch of ``batch_size`` members run in the calling process."""
        return threads_for(batch_size)

    def close(self) -> None:  # noqa: B027 - engines without resources need nothing
        """Free the engine's resources (a no-op for engines without any)."""

    def __enter__(self) -> AbstractEngine:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(workers={self.workers})"


def collect(
    chunks: list[tuple[int, int]],
    outcomes: Any,
    n_tasks: int,
    progress: Progress | None,
) -> list[Any]:
    """Place chunk outcomes ``(chunk number, result)`` (any order) into one ordered list."""
    results: list[Any] = [None] * n_tasks
    done = 0
    for c, out in outcomes:
        if isinstance(out, _Failure):
            raise as_task_error(out, n_tasks)
        a, b = chunks[c]
        results[a:b] = out
        done += b - a
        if progress is not None:
            progress(done, n_tasks)
    return results
