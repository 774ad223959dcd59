"""How many threads a compiled kernel may use: the one place that decides in-kernel parallelism.

A batched simulation can spread its members over threads (numba ``prange``). Whether it should
depends on where it runs: in the main process it may use the machine's cores once the batch is
large enough to pay for starting the threads; inside an engine worker the engine already keeps
the cores busy with one worker each, so the kernel runs on the worker's own thread budget
(one thread by default).
"""

from __future__ import annotations

import os

__all__ = ["MIN_PARALLEL_BATCH", "available_cores", "in_worker", "threads_for"]

MIN_PARALLEL_BATCH = 4
"""Smallest batch (members) for which a kernel spreads its members over threads."""

_WORKER_THREADS: list[int] = []


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity, else ``os.cpu_count()``)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # pragma: no cover - platforms without affinity
        return max(1, os.cpu_count() or 1)


def in_worker() -> bool:
    """Whether this process is an engine worker (its thread budget set by the engine)."""
    return bool(_WORKER_THREADS)


def set_worker_threads(threads: int) -> None:
    """Mark this process as an engine worker allowed ``threads`` kernel threads (engine use)."""
    n = max(1, int(threads))
    if not _WORKER_THREADS:
        # numba reads this when it starts its thread pool; set before the first parallel kernel
        os.environ.setdefault("NUMBA_NUM_THREADS", str(n))
        _WORKER_THREADS.append(n)
    else:
        _WORKER_THREADS[0] = n


def threads_for(batch_size: int) -> int:
    """Threads a kernel should use for a batch of ``batch_size`` independent members.

    Returns 1 (run the members one after another on the calling thread) for batches smaller
    than :data:`MIN_PARALLEL_BATCH` or when the thread budget is one (an engine worker, a
    single-core machine); otherwise the budget, at most one thread per member.

    Parameters
    ----------
    batch_size
        Members of the batch.
    """
    budget = _WORKER_THREADS[0] if _WORKER_THREADS else available_cores()
    if budget <= 1 or batch_size < MIN_PARALLEL_BATCH:
        return 1
    return min(budget, int(batch_size))
