"""Generate, compile and cache the model function of the stochastic simulator.

Like the ODE engine (``_codegen``), a model becomes one numba ``cfunc`` with a ``mode``
argument, written to the cache directory under a key derived from the spec hash, with a JSON
side file of metadata, so that a warm start needs no sympy work and no compilation. The
signature adds a pointer to the run's random generator state (four uint64 words), used by the
draws of SBML ``distrib`` math::

    model(mode, idx, t, x, p, out, rng)

Modes: ``PROPENSITIES`` (``out[j]`` = propensity of reaction j), ``FIRE`` (apply reaction
``idx`` to ``x``), ``OUTPUTS``, ``TRIGGERS`` (0/1 per event), ``EVENT_VALUES`` (assignment
values of event ``idx``), ``EVENT_APPLY`` (write them into ``x``), ``INIT`` (initial state),
``DELAYS``, ``PRIORITIES``, ``RATES`` (rate of each clock state, 0 for the others) and
``CONDITIONS`` (0/1 per condition that may flip between reactions).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import sympy as sp
from numba import types

from ..errors import UnsupportedFeature
from ..model import DISTRIBUTIONS, ModelSpec, distrib_draws
from ._codegen import _Writer, cache_dir
from ._printer import _Printer
from ._ssa_model import BACKEND, SSAModel, ssa_model
from ._ssa_random import DRAW_CODES

__all__ = ["SSA_SIG", "CompiledSSA", "compile_ssa"]

SSA_CODEGEN_VERSION = "1"

SSA_SIG = types.void(
    types.int64,
    types.int64,
    types.float64,
    types.CPointer(types.float64),  # type: ignore[no-untyped-call]
    types.CPointer(types.float64),  # type: ignore[no-untyped-call]
    types.CPointer(types.float64),  # type: ignore[no-untyped-call]
    types.CPointer(types.uint64),  # type: ignore[no-untyped-call]
)

PROPENSITIES, FIRE, OUTPUTS, TRIGGERS, EVENT_VALUES, EVENT_APPLY = range(6)
INIT, DELAYS, PRIORITIES, RATES, CONDITIONS = range(6, 11)

_PARAMS = {
    "normal": 2,
    "uniform": 2,
    "bernoulli": 1,
    "binomial": 2,
    "cauchy": 2,
    "chisquare": 1,
    "exponential": 1,
    "gamma": 2,
    "laplace": 2,
    "lognormal": 2,
    "poisson": 1,
    "rayleigh": 1,
}
_LOCATION_DEFAULT = frozenset({"cauchy", "laplace"})
"""Distributions whose one-argument form is (scale) with location 0."""


class _SSAPrinter(_Printer):
    """The ODE engine's printer, plus draws: ``_draw(rng, code, a, b, lower, upper)``."""

    def _print_Function(self, expr: sp.Basic) -> str:
        name = expr.func.__name__
        if name not in DISTRIBUTIONS:
            return str(super()._print_Function(expr))
        args = [self._print(a) for a in expr.args]
        k = _PARAMS[name]
        if name in _LOCATION_DEFAULT and len(args) == 1:
            args = ["0.0", *args]
        if len(args) == k:
            args += ["(-math.inf)", "math.inf"]
        elif len(args) != k + 2:
            raise UnsupportedFeature(
                f"{name}() with {len(expr.args)} arguments", str(expr), backend=BACKEND
            )
        params = [*args[:k], *(["0.0"] * (2 - k))]
        return f"_draw(rng, {DRAW_CODES[name]}, {', '.join(params + args[k:])})"


def _branches(w: _Writer, mode: int, bodies: list[list[str]]) -> None:
    """A mode whose work depends on ``idx``: one ``if idx == k`` branch per body."""
    lines: list[str] = []
    for k, body in enumerate(bodies):
        lines.append(f"        {'if' if k == 0 else 'elif'} idx == {k}:")
        lines.extend(f"            {b}" for b in body or ["pass"])
    w.block(mode, [], [], extra=lines)


def _plain(w: _Writer, mode: int, targets: list[str], exprs: list[sp.Basic]) -> None:
    """A block without common-subexpression elimination (each draw must stay its own)."""
    w.block(
        mode,
        [],
        [],
        extra=[f"        {t} = {w.code(e)}" for t, e in zip(targets, exprs, strict=True)],
    )


def generate_ssa_source(m: SSAModel) -> str:
    """The Python source of the stochastic model function of ``m``."""
    flat = m.flat
    w = _Writer(flat)
    w.printer = _SSAPrinter(
        {"fully_qualified_modules": True, "inline": True, "allow_unknown_functions": False}
    )
    n = len(flat.states)
    w.block(PROPENSITIES, [f"out[{j}]" for j in range(len(m.propensities))], list(m.propensities))
    fire = []
    for rd in m.deltas:
        body = [f"_d{a} = {w.code(d)}" for a, (_, d) in enumerate(rd)]
        body += [f"x[{i}] += _d{a}" for a, (i, _) in enumerate(rd)]
        fire.append(body)
    _branches(w, FIRE, fire)
    w.block(OUTPUTS, [f"out[{k}]" for k in range(len(flat.outputs))], list(flat.output_exprs))
    events = [flat.events[k] for k in m.events]
    w.block(
        TRIGGERS,
        [f"out[{k}]" for k in range(len(events))],
        [e.trigger for e in events],
        boolean=True,
    )
    _branches(
        w,
        EVENT_VALUES,
        [[f"out[{j}] = {w.code(v)}" for j, v in enumerate(e.values)] for e in events],
    )
    _branches(
        w, EVENT_APPLY, [[f"x[{ti}] = out[{j}]" for j, ti in enumerate(e.targets)] for e in events]
    )
    init_targets = [f"out[{i}]" for i in range(n)]
    if any(distrib_draws(e) for e in flat.init):
        _plain(w, INIT, init_targets, list(flat.init))
    else:
        w.block(INIT, init_targets, list(flat.init))
    zero = sp.Integer(0)
    w.block(
        DELAYS,
        [f"out[{k}]" for k in range(len(events))],
        [e.delay if e.delay is not None else zero for e in events],
    )
    w.block(
        PRIORITIES,
        [f"out[{k}]" for k in range(len(events))],
        [e.priority if e.priority is not None else zero for e in events],
    )
    rates: list[sp.Basic] = [zero] * n
    for i, r in m.clocks:
        rates[i] = r
    w.block(RATES, [f"out[{i}]" for i in range(n)], rates, zero_len=n)
    w.block(
        CONDITIONS,
        [f"out[{k}]" for k in range(len(m.conditions))],
        list(m.conditions),
        boolean=True,
    )
    header = [
        f'"""Generated by immunetwin.simulate._ssa_codegen for model {flat.model_id!r}. Do not edit."""',
        "import math",
        "from numba import carray, cfunc",
        "from immunetwin.simulate._ssa_codegen import SSA_SIG",
        "from immunetwin.simulate._ssa_random import draw as _draw",
        "",
        "",
        "@cfunc(SSA_SIG, cache=True, error_model='numpy', fastmath=False)",
        "def model(mode, idx, t, x, p, out, rngp):",
        "    rng = carray(rngp, 4)",
    ]
    return "\n".join(header + w.lines) + "\n"


@dataclass(frozen=True)
class CompiledSSA:
    """A model compiled for the stochastic simulator, with the metadata its kernel needs."""

    key: str
    model_id: str
    fn: Any
    states: tuple[str, ...]
    slots: tuple[str, ...]
    slot_values: np.ndarray[Any, Any]
    slot_kinds: tuple[str, ...]
    outputs: tuple[str, ...]
    output_kinds: tuple[str, ...]
    reactions: tuple[str, ...]
    events: tuple[str, ...]
    ev_persistent: np.ndarray[Any, Any]
    ev_initial_value: np.ndarray[Any, Any]
    ev_from_trigger: np.ndarray[Any, Any]
    ev_has_delay: np.ndarray[Any, Any]
    ev_has_priority: np.ndarray[Any, Any]
    ev_n_assign: np.ndarray[Any, Any]
    n_conditions: int
    has_clocks: bool
    nu_ptr: np.ndarray[Any, Any]
    """CSR row pointers of the numeric stoichiometry (empty when a change is an expression)."""
    nu_idx: np.ndarray[Any, Any]
    nu_val: np.ndarray[Any, Any]
    hor: np.ndarray[Any, Any]
    """Highest order of a reaction each state is a reactant of (tau-leaping)."""
    hos: np.ndarray[Any, Any]
    """Highest stoichiometry of each state as a reactant in such a reaction (tau-leaping)."""

    @property
    def n_states(self) -> int:
        """Number of states."""
        return len(self.states)

    @property
    def constant_stoichiometry(self) -> bool:
        """Whether the state changes are numbers (needed by tau-leaping)."""
        return self.nu_ptr.size > 0


def _meta(m: SSAModel) -> dict[str, Any]:
    flat = m.flat
    events = [flat.events[k] for k in m.events]
    ptr, idx, val = [0], [], []
    if m.constant_stoichiometry:
        for rd in m.deltas:
            for i, d in rd:
                idx.append(i)
                val.append(float(d))
            ptr.append(len(idx))
    else:
        ptr = []
    return {
        "model_id": flat.model_id,
        "states": list(flat.states),
        "slots": list(flat.slots),
        "slot_values": [float(v) for v in flat.slot_values],
        "slot_kinds": list(flat.slot_kinds),
        "outputs": list(flat.outputs),
        "output_kinds": list(flat.output_kinds),
        "reactions": list(m.reactions),
        "events": [e.id for e in events],
        "ev_persistent": [e.persistent for e in events],
        "ev_initial_value": [e.initial_value for e in events],
        "ev_from_trigger": [e.from_trigger_time for e in events],
        "ev_has_delay": [e.delay is not None for e in events],
        "ev_has_priority": [e.priority is not None for e in events],
        "ev_n_assign": [len(e.targets) for e in events],
        "n_conditions": len(m.conditions),
        "has_clocks": bool(m.clocks),
        "nu_ptr": ptr,
        "nu_idx": idx,
        "nu_val": val,
        "hor": [o for o, _ in m.reactant_order],
        "hos": [s for _, s in m.reactant_order],
    }


_MEMO: dict[str, CompiledSSA] = {}
_FINGERPRINT: list[str] = []
_LOCK = threading.Lock()


def _fingerprint() -> str:
    """Hash of the generators, so that a changed generator never reuses stale cached code."""
    if not _FINGERPRINT:
        here = Path(__file__).resolve().parent
        h = hashlib.sha256(SSA_CODEGEN_VERSION.encode())
        for name in (
            "_ssa_codegen.py",
            "_ssa_model.py",
            "_ssa_random.py",
            "_flatten.py",
            "_codegen.py",
            "_printer.py",
            "_flatten_rules.py",
            "_flatten_values.py",
        ):
            h.update((here / name).read_bytes())
        _FINGERPRINT.append(h.hexdigest()[:16])
    return _FINGERPRINT[0]


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def compile_ssa(spec: ModelSpec, *, outputs: tuple[str, ...] = ()) -> CompiledSSA:
    """Compile ``spec`` for the stochastic simulator (or load it from the memory or disk cache).

    Raises
    ------
    UnsupportedFeature
        For what exact stochastic simulation cannot do (see :func:`ssa_model`).
    """
    raw = f"{spec.hash()}|ssa|{','.join(outputs)}|{_fingerprint()}"
    key = hashlib.sha256(raw.encode()).hexdigest()[:24]
    with _LOCK:
        if key in _MEMO:
            return _MEMO[key]
        folder = cache_dir()
        src_path = folder / f"ssa_{key}.py"
        meta_path = folder / f"ssa_{key}.json"
        if src_path.exists() and meta_path.exists():
            meta = json.loads(meta_path.read_text())
        else:
            m = ssa_model(spec, outputs=outputs)
            source = generate_ssa_source(m)
            meta = _meta(m)
            _write_atomic(src_path, source)
            _write_atomic(meta_path, json.dumps(meta))
        modname = f"immunetwin_generated_ssa_{key}"
        mspec = importlib.util.spec_from_file_location(modname, src_path)
        assert mspec is not None and mspec.loader is not None
        module = importlib.util.module_from_spec(mspec)
        sys.modules[modname] = module
        mspec.loader.exec_module(module)

        def b(k: str) -> np.ndarray[Any, Any]:
            return np.asarray(meta[k], dtype=np.bool_)

        def i64(k: str) -> np.ndarray[Any, Any]:
            return np.asarray(meta[k], dtype=np.int64)

        cm = CompiledSSA(
            key=key,
            model_id=meta["model_id"],
            fn=module.model,
            states=tuple(meta["states"]),
            slots=tuple(meta["slots"]),
            slot_values=np.asarray(meta["slot_values"], dtype=float),
            slot_kinds=tuple(meta["slot_kinds"]),
            outputs=tuple(meta["outputs"]),
            output_kinds=tuple(meta["output_kinds"]),
            reactions=tuple(meta["reactions"]),
            events=tuple(meta["events"]),
            ev_persistent=b("ev_persistent"),
            ev_initial_value=b("ev_initial_value"),
            ev_from_trigger=b("ev_from_trigger"),
            ev_has_delay=b("ev_has_delay"),
            ev_has_priority=b("ev_has_priority"),
            ev_n_assign=i64("ev_n_assign"),
            n_conditions=int(meta["n_conditions"]),
            has_clocks=bool(meta["has_clocks"]),
            nu_ptr=i64("nu_ptr"),
            nu_idx=i64("nu_idx"),
            nu_val=np.asarray(meta["nu_val"], dtype=float),
            hor=i64("hor"),
            hos=i64("hos"),
        )
        _MEMO[key] = cm
        return cm
