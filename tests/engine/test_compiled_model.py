"""Compiled models pickle by cache key and run in other processes (subprocess, process pool)."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from functools import partial
from pathlib import Path

import numpy as np
import pytest

from immunetwin.engine import ProcessEngine, SerialEngine
from immunetwin.model import ModelSpec, library
from immunetwin.simulate import compile_model

TIMES = np.linspace(0.0, 6.0, 13)


@pytest.fixture(scope="module")
def spec() -> ModelSpec:
    return library.get("baccam2006_influenza")


def _members(cm, n: int) -> np.ndarray:  # type: ignore[no-untyped-def]
    ps = np.tile(cm.slot_values, (n, 1))
    ps[:, cm.slots.index("beta")] *= np.linspace(0.5, 2.0, n)
    return ps


def test_pickle_is_small_and_memoised(spec: ModelSpec) -> None:
    cm = compile_model(spec, sensitivities=True)
    blob = pickle.dumps(cm)
    assert len(blob) < 50_000  # the spec and the key, not generated code
    assert pickle.loads(blob) is cm  # same process: the memoised object


def test_round_trip_in_a_fresh_process_compiles_only_without_cache(
    spec: ModelSpec, tmp_path: Path
) -> None:
    cm = compile_model(spec)
    ps = _members(cm, 3)
    y_here = cm.run(TIMES, ps, parallel=False)[0]
    code = (
        "import pickle, sys, numpy as np\n"
        "cm, times, ps = pickle.loads(sys.stdin.buffer.read())\n"
        "y = cm.run(times, ps, parallel=False)[0]\n"
        "sys.stdout.buffer.write(pickle.dumps((cm.key, y)))\n"
    )
    env = dict(os.environ)
    env["IMMUNETWIN_CACHE"] = str(tmp_path)  # empty cache: the worker must compile
    src = str(Path(__file__).resolve().parents[2] / "src")
    env["PYTHONPATH"] = os.pathsep.join([src, env.get("PYTHONPATH", "")])
    out = subprocess.run(
        [sys.executable, "-c", code],
        input=pickle.dumps((cm, TIMES, ps)),
        capture_output=True,
        env=env,
        check=False,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr.decode()[-3000:]
    key, y_there = pickle.loads(out.stdout)
    assert key == cm.key
    np.testing.assert_array_equal(y_there, y_here)
    assert list(tmp_path.glob(f"models-v*/m_{cm.key}.py"))  # compiled into the new cache


def test_process_engine_runs_a_compiled_model(spec: ModelSpec, process_pool: ProcessEngine) -> None:
    cm = compile_model(spec, sensitivities=True)
    blocks = [_members(cm, n) for n in (1, 3, 2, 5)]
    run = partial(cm.run, TIMES, sens_idx=np.array([cm.slots.index("beta")]), parallel=False)
    here = SerialEngine().map(run, blocks)
    there = process_pool.map(run, blocks)
    for (y0, dy0, s0, _), (y1, dy1, s1, _) in zip(here, there, strict=True):
        np.testing.assert_array_equal(y0, y1)
        np.testing.assert_array_equal(dy0, dy1)
        np.testing.assert_array_equal(s0, s1)
