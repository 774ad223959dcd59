"""Engines: order, typed errors naming the task, chunking, options, thread policy, Dask."""

from __future__ import annotations

import math
import operator
from functools import partial

import numpy as np
import pytest

from immunetwin.engine import (
    MIN_PARALLEL_BATCH,
    AbstractEngine,
    DaskEngine,
    EngineOptions,
    ProcessEngine,
    SerialEngine,
    default_engine,
    make_engine,
    resolve_engine,
    threads_for,
    using_engine,
)
from immunetwin.engine._base import plan_chunks
from immunetwin.errors import EngineError, ImmunetwinError, TaskError


@pytest.fixture
def pool(process_pool: ProcessEngine) -> ProcessEngine:
    return process_pool


@pytest.fixture(scope="module")
def dask_engine() -> DaskEngine:  # type: ignore[misc]
    pytest.importorskip("distributed")
    with DaskEngine(workers=2) as eng:
        yield eng


def _engines(request: pytest.FixtureRequest, which: str) -> AbstractEngine:
    if which == "serial":
        return SerialEngine()
    return request.getfixturevalue(which)  # type: ignore[no-any-return]


@pytest.mark.parametrize("which", ["serial", "pool", "dask_engine"])
def test_order_errors_and_progress(request: pytest.FixtureRequest, which: str) -> None:
    eng = _engines(request, which)
    tasks = list(range(-3, 40))
    seen: list[tuple[int, int]] = []
    out = eng.map(operator.neg, tasks, progress=lambda d, n: seen.append((d, n)))
    assert out == [-t for t in tasks]
    assert seen[-1] == (len(tasks), len(tasks))
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)
    assert eng.map(operator.neg, []) == []
    # a foreign exception becomes a TaskError naming the task and the original type
    with pytest.raises(TaskError, match=r"task 2 of 4: ValueError: math domain error") as ei:
        eng.map(math.sqrt, [1.0, 4.0, -1.0, 9.0], chunksize=1)
    assert ei.value.index == 2
    assert ei.value.kind == "builtins.ValueError"
    # an immunetwin error keeps its type; the message names the task
    with pytest.raises(EngineError, match=r"task 1 of 3: cannot read engine 'bogus'") as ej:
        eng.map(EngineOptions.parse, ["serial", "bogus", "dask:2"], chunksize=3)
    assert not isinstance(ej.value, TaskError)
    assert ej.value.task_index == 1  # type: ignore[attr-defined]


def test_unpicklable_task_is_a_task_error(pool: ProcessEngine) -> None:
    with pytest.raises(TaskError, match="could not be run in a worker"):
        pool.map(lambda x: x, [1, 2])


def test_plan_chunks_cover_the_tasks() -> None:
    for n in (1, 2, 7, 100, 1001):
        for workers in (1, 2, 3, 16):
            chunks = plan_chunks(n, workers, None)
            assert chunks[0][0] == 0 and chunks[-1][1] == n
            assert all(a < b for a, b in chunks)
            assert all(chunks[i][1] == chunks[i + 1][0] for i in range(len(chunks) - 1))
            assert len(chunks) <= 4 * workers
    assert plan_chunks(10, 2, 3) == [(0, 3), (3, 6), (6, 9), (9, 10)]
    assert plan_chunks(0, 2, None) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("serial", EngineOptions()),
        (" processes ", EngineOptions(kind="processes")),
        ("processes:3", EngineOptions(kind="processes", workers=3)),
        ("dask", EngineOptions(kind="dask")),
        ("dask:4", EngineOptions(kind="dask", workers=4)),
        ("dask:tcp://10.0.0.5:8786", EngineOptions(kind="dask", address="tcp://10.0.0.5:8786")),
    ],
)
def test_options_parse(text: str, expected: EngineOptions) -> None:
    assert EngineOptions.parse(text) == expected


@pytest.mark.parametrize("text", ["", "threads", "serial:2", "processes:x", "processes:0"])
def test_options_parse_errors(text: str) -> None:
    with pytest.raises(EngineError):
        EngineOptions.parse(text)


def test_options_checks() -> None:
    with pytest.raises(EngineError, match="workers"):
        EngineOptions(kind="processes", workers=0)
    with pytest.raises(EngineError, match="address"):
        EngineOptions(kind="processes", address="tcp://x:1")
    with pytest.raises(EngineError, match="workers"):
        ProcessEngine(0)


def test_default_engine_reads_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("IMMUNETWIN_ENGINE", raising=False)
    assert isinstance(default_engine(), SerialEngine)
    assert default_engine() is default_engine()
    monkeypatch.setenv("IMMUNETWIN_ENGINE", "processes:2")
    eng = default_engine()
    assert isinstance(eng, ProcessEngine) and eng.workers == 2  # no pool started yet
    monkeypatch.setenv("IMMUNETWIN_ENGINE", "cluster")
    with pytest.raises(EngineError, match="IMMUNETWIN_ENGINE"):
        default_engine()
    assert isinstance(make_engine("dask:3"), DaskEngine)
    assert isinstance(resolve_engine(EngineOptions(kind="processes", workers=1)), ProcessEngine)
    serial = SerialEngine()
    assert resolve_engine(serial) is serial
    with using_engine("processes:1") as built:
        assert isinstance(built, ProcessEngine)
    with using_engine(serial) as given:
        assert given is serial
    with pytest.raises(EngineError):
        resolve_engine(3)  # type: ignore[arg-type]


def test_thread_policy(pool: ProcessEngine) -> None:
    assert threads_for(1) == 1
    assert threads_for(MIN_PARALLEL_BATCH - 1) == 1
    assert threads_for(10_000) >= 1
    # inside a worker of a process engine, kernels get the worker's budget (one thread)
    assert pool.map(threads_for, [10_000, 10_000], chunksize=1) == [1, 1]


def test_errors_pickle_across_processes() -> None:
    import pickle

    e = TaskError("task 3 of 5: boom", index=3, kind="builtins.KeyError", remote_traceback="tb")
    back = pickle.loads(pickle.dumps(e))
    assert isinstance(back, TaskError) and back.index == 3 and str(back) == str(e)
    assert isinstance(back, ImmunetwinError)


def test_dask_runs_numpy_tasks_in_worker_processes(dask_engine: DaskEngine) -> None:
    rows = [np.arange(i, i + 5, dtype=float) for i in range(12)]
    out = dask_engine.map(partial(np.sum, axis=0), rows)
    assert out == [float(r.sum()) for r in rows]
    assert dask_engine.workers == 2
    assert dask_engine.address is not None and dask_engine.address.startswith("tcp://")
