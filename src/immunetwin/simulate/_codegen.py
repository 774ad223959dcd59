"""Generate, compile and cache the model function of a flattened model.

The model function follows the ABI in ``docs/engine.md``: one numba ``cfunc`` with a ``mode``
argument. Its Python source is written to the cache directory under a key derived from the spec
hash, so that numba's own cache makes a second process pay no compile cost. A JSON side file holds
the metadata (states, slots, outputs, events), so a warm start needs no sympy work at all.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import pickle
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import sympy as sp
from numba import types

from ..model import ModelSpec
from ._flatten import FlatModel, flatten
from ._printer import _T, _prepare, _Printer

__all__ = ["MODEL_SIG", "CompiledModel", "cache_dir", "compile_model"]

CODEGEN_VERSION = "2"

MODEL_SIG = types.void(
    types.int64,
    types.int64,
    types.float64,
    types.CPointer(types.float64),  # type: ignore[no-untyped-call]
    types.CPointer(types.float64),  # type: ignore[no-untyped-call]
    types.CPointer(types.float64),  # type: ignore[no-untyped-call]
)

RHS, JAC, OUTPUTS, TRIGGERS, EVENT_VALUES, EVENT_APPLY, DFDP, INIT, DX0DP = range(9)
DELAYS, PRIORITIES, DFDT, DOUT_DX, DOUT_DP, EVENT_DX, EVENT_DP = range(9, 16)


def cache_dir() -> Path:
    """The on-disk cache of generated models (``$IMMUNETWIN_CACHE`` or ``~/.cache/immunetwin``)."""
    root = os.environ.get("IMMUNETWIN_CACHE") or os.path.join(
        os.path.expanduser("~"), ".cache", "immunetwin"
    )
    path = Path(root) / f"models-v{CODEGEN_VERSION}"
    path.mkdir(parents=True, exist_ok=True)
    return path


class _Writer:
    def __init__(self, flat: FlatModel) -> None:
        self.flat = flat
        self.printer = _Printer(
            {"fully_qualified_modules": True, "inline": True, "allow_unknown_functions": False}
        )
        names = {s: f"x[{i}]" for i, s in enumerate(flat.x)} | {
            s: f"p[{j}]" for j, s in enumerate(flat.p)
        }
        self.names = names
        self.lines: list[str] = []

    def code(self, expr: sp.Basic) -> str:
        expr = _prepare(expr)
        subs = {s: sp.Symbol(self.names[s]) for s in expr.free_symbols if s in self.names}
        return str(self.printer.doprint(expr.xreplace(subs)))

    def block(
        self,
        mode: int,
        targets: list[str],
        exprs: list[sp.Basic],
        *,
        boolean: bool = False,
        zero_len: int = 0,
        extra: list[str] | None = None,
    ) -> None:
        self.lines.append(f"    {'if' if not self.lines else 'elif'} mode == {mode}:")
        body: list[str] = []
        if zero_len:
            body.append(f"        for _i in range({zero_len}):\n            out[_i] = 0.0")
        pairs = [(t, e) for t, e in zip(targets, exprs, strict=True) if not (zero_len and e == 0)]
        if pairs and not boolean:
            repl, reduced = sp.cse(
                [_prepare(e) for _, e in pairs],
                symbols=sp.numbered_symbols("_c"),
                optimizations=None,
            )
            for sym, sub in repl:
                body.append(f"        {sym} = {self.code(sub)}")
            for (target, _), red in zip(pairs, reduced, strict=True):
                body.append(f"        {target} = {self.code(red)}")
        else:
            for target, e in pairs:
                c = self.code(e)
                body.append(
                    f"        {target} = (1.0 if ({c}) else 0.0)"
                    if boolean
                    else f"        {target} = {c}"
                )
        body.extend(extra or [])
        if not body:
            body.append("        pass")
        self.lines.extend(body)


def _diff(expr: sp.Basic, sym: sp.Symbol) -> sp.Basic:
    if sym not in expr.free_symbols:
        return sp.Integer(0)
    d = sp.diff(expr, sym)
    if d.has(sp.Subs):
        d = d.doit()
        d = d.replace(lambda e: isinstance(e, sp.Subs), lambda e: sp.Integer(0))
    return d


def generate_source(flat: FlatModel, *, sensitivities: bool) -> str:
    """The Python source of the model function for ``flat``."""
    w = _Writer(flat)
    n, m, ne, np_ = len(flat.states), len(flat.outputs), len(flat.events), len(flat.p)
    out = [f"out[{i}]" for i in range(n)]
    w.block(RHS, out, list(flat.rhs))
    jac = [_diff(f, xj) for f in flat.rhs for xj in flat.x]
    w.block(JAC, [f"out[{k}]" for k in range(n * n)], jac, zero_len=n * n)
    w.block(OUTPUTS, [f"out[{k}]" for k in range(m)], list(flat.output_exprs))
    w.block(
        TRIGGERS, [f"out[{k}]" for k in range(ne)], [e.trigger for e in flat.events], boolean=True
    )
    # event values / apply: one branch per event
    ev_val: list[str] = []
    ev_apply: list[str] = []
    for k, e in enumerate(flat.events):
        ev_val.append(f"        {'if' if k == 0 else 'elif'} idx == {k}:")
        for j, v in enumerate(e.values):
            ev_val.append(f"            out[{j}] = {w.code(v)}")
        if not e.values:
            ev_val.append("            pass")
        ev_apply.append(f"        {'if' if k == 0 else 'elif'} idx == {k}:")
        for j, ti in enumerate(e.targets):
            ev_apply.append(f"            x[{ti}] = out[{j}]")
        if not e.targets:
            ev_apply.append("            pass")
    w.block(EVENT_VALUES, [], [], extra=ev_val)
    w.block(EVENT_APPLY, [], [], extra=ev_apply)
    w.block(INIT, out, list(flat.init))
    w.block(
        DELAYS,
        [f"out[{k}]" for k in range(ne)],
        [e.delay if e.delay is not None else sp.Integer(0) for e in flat.events],
    )
    w.block(
        PRIORITIES,
        [f"out[{k}]" for k in range(ne)],
        [e.priority if e.priority is not None else sp.Integer(0) for e in flat.events],
    )
    w.block(DFDT, out, [_diff(_prepare(f), _T) for f in flat.rhs])
    if sensitivities:
        w.block(
            DFDP,
            [f"out[{k}]" for k in range(n * np_)],
            [_diff(f, pj) for f in flat.rhs for pj in flat.p],
            zero_len=n * np_,
        )
        w.block(
            DX0DP,
            [f"out[{k}]" for k in range(n * np_)],
            [_diff(f, pj) for f in flat.init for pj in flat.p],
            zero_len=n * np_,
        )
        w.block(
            DOUT_DX,
            [f"out[{k}]" for k in range(m * n)],
            [_diff(f, xj) for f in flat.output_exprs for xj in flat.x],
            zero_len=m * n,
        )
        w.block(
            DOUT_DP,
            [f"out[{k}]" for k in range(m * np_)],
            [_diff(f, pj) for f in flat.output_exprs for pj in flat.p],
            zero_len=m * np_,
        )
        ev_dx: list[str] = []
        ev_dp: list[str] = []
        for k, e in enumerate(flat.events):
            ev_dx.append(f"        {'if' if k == 0 else 'elif'} idx == {k}:")
            ev_dp.append(f"        {'if' if k == 0 else 'elif'} idx == {k}:")
            ev_dx.append(f"            for _i in range({n * n}):\n                out[_i] = 0.0")
            ev_dx.append(
                f"            for _i in range({n}):\n                out[_i * {n} + _i] = 1.0"
            )
            ev_dp.append(f"            for _i in range({n * np_}):\n                out[_i] = 0.0")
            for ti, v in zip(e.targets, e.values, strict=True):
                ev_dx.append(f"            out[{ti * n + ti}] = 0.0")
                for j, xj in enumerate(flat.x):
                    d = _diff(v, xj)
                    if d != 0:
                        ev_dx.append(f"            out[{ti * n + j}] = {w.code(d)}")
                for j, pj in enumerate(flat.p):
                    d = _diff(v, pj)
                    if d != 0:
                        ev_dp.append(f"            out[{ti * np_ + j}] = {w.code(d)}")
        w.block(EVENT_DX, [], [], extra=ev_dx)
        w.block(EVENT_DP, [], [], extra=ev_dp)
    header = [
        f'"""Generated by immunetwin.simulate._codegen for model {flat.model_id!r}. Do not edit."""',
        "import math",
        "from numba import cfunc",
        "from immunetwin.simulate._codegen import MODEL_SIG",
        "",
        "",
        "@cfunc(MODEL_SIG, cache=True, error_model='numpy', fastmath=False)",
        "def model(mode, idx, t, x, p, out):",
    ]
    return "\n".join(header + w.lines) + "\n"


@dataclass(frozen=True)
class CompiledModel:
    """A model compiled to a numba model function, with the metadata the solver needs."""

    key: str
    model_id: str
    fn: Any
    states: tuple[str, ...]
    state_kinds: tuple[str, ...]
    slots: tuple[str, ...]
    slot_values: np.ndarray[Any, Any]
    slot_kinds: tuple[str, ...]
    outputs: tuple[str, ...]
    output_kinds: tuple[str, ...]
    events: tuple[str, ...]
    ev_persistent: np.ndarray[Any, Any]
    ev_initial_value: np.ndarray[Any, Any]
    ev_from_trigger: np.ndarray[Any, Any]
    ev_has_delay: np.ndarray[Any, Any]
    ev_has_priority: np.ndarray[Any, Any]
    ev_n_assign: np.ndarray[Any, Any]
    ev_time_only: np.ndarray[Any, Any]
    sensitivities: bool
    scale_slots: tuple[int, ...]
    """For each state: index of the slot holding its compartment size (amount states) or -1."""

    @property
    def n_states(self) -> int:
        """Number of states."""
        return len(self.states)

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickle by cache key and spec: a worker reloads the code from the on-disk cache."""
        return _reduce_compiled(self)

    def run(
        self,
        times: np.ndarray[Any, Any],
        ps: np.ndarray[Any, Any],
        *,
        x0: np.ndarray[Any, Any] | None = None,
        sens_idx: np.ndarray[Any, Any] | None = None,
        method: int | str = 0,
        rtol: float = 1e-6,
        atol: float = 1e-9,
        max_steps: int = 100_000,
        t0: float = 0.0,
        parallel: bool = True,
    ) -> tuple[
        np.ndarray[Any, Any], np.ndarray[Any, Any], np.ndarray[Any, Any], np.ndarray[Any, Any]
    ]:
        """Run a batch on raw arrays (the fast path for algorithms that simulate in a loop).

        Parameters
        ----------
        times
            Sorted output times, shape ``(T,)``.
        ps
            Slot vectors, shape ``(N, P)`` (columns in :attr:`slots` order; start from
            :attr:`slot_values`).
        x0
            Initial states ``(N, n)``; NaN entries (or ``None``) use the model's initial values.
        sens_idx
            Slot indices to compute sensitivities for (requires ``sensitivities=True``).
        method
            A registered solver name or its code (``solvers.solver_code``): 0 auto,
            1 stiff (Rodas5), 2 non-stiff (Dormand-Prince 5(4)).

        Returns
        -------
        y, dy, status, t_reached
            Outputs ``(N, T, m)``, sensitivities ``(N, T, m, k)``, solver status per member
            (0 = ok, see ``STATUS_MESSAGES``) and the time each member reached.
        """
        from .solvers import event_flags, solve_batch

        ps = np.ascontiguousarray(np.atleast_2d(ps), dtype=float)
        n_members = ps.shape[0]
        if x0 is None:
            x0 = np.full((n_members, self.n_states), np.nan)
        idx = (
            np.zeros(0, dtype=np.int64)
            if sens_idx is None
            else np.asarray(sens_idx, dtype=np.int64)
        )
        if idx.size and not self.sensitivities:
            raise ValueError("this compiled model was built without sensitivities")
        events = event_flags(  # type: ignore[no-untyped-call]
            len(self.events),
            self.ev_persistent,
            self.ev_initial_value,
            self.ev_from_trigger,
            self.ev_has_delay,
            self.ev_has_priority,
            self.ev_n_assign,
            self.ev_time_only,
        )
        out: tuple[Any, Any, Any, Any] = solve_batch(  # type: ignore[no-untyped-call]
            self.fn,
            self.n_states,
            len(self.outputs),
            len(self.slots),
            len(self.events),
            float(t0),
            np.ascontiguousarray(times, dtype=float),
            np.ascontiguousarray(x0, dtype=float),
            ps,
            method,
            float(rtol),
            float(atol),
            int(max_steps),
            0.0,
            idx,
            events,
            parallel=parallel,
        )
        return out


_MEMO: dict[str, CompiledModel] = {}
_FINGERPRINT: list[str] = []


def _generator_fingerprint() -> str:
    """Hash of the code generator itself, so a changed generator never reuses stale cached code."""
    if not _FINGERPRINT:
        here = Path(__file__).resolve().parent
        h = hashlib.sha256(CODEGEN_VERSION.encode())
        for name in (
            "_codegen.py",
            "_printer.py",
            "_flatten.py",
            "_flatten_rules.py",
            "_flatten_values.py",
        ):
            h.update((here / name).read_bytes())
        _FINGERPRINT.append(h.hexdigest()[:16])
    return _FINGERPRINT[0]


_LOCK = threading.Lock()


def _meta(flat: FlatModel) -> dict[str, Any]:
    slot_index = {s: j for j, s in enumerate(flat.p)}
    scale = []
    for e in flat.state_scale:
        scale.append(slot_index[e] if isinstance(e, sp.Symbol) and e in slot_index else -1)
    return {
        "model_id": flat.model_id,
        "states": list(flat.states),
        "state_kinds": list(flat.state_kinds),
        "slots": list(flat.slots),
        "slot_values": [float(v) for v in flat.slot_values],
        "slot_kinds": list(flat.slot_kinds),
        "outputs": list(flat.outputs),
        "output_kinds": list(flat.output_kinds),
        "events": [e.id for e in flat.events],
        "ev_persistent": [e.persistent for e in flat.events],
        "ev_initial_value": [e.initial_value for e in flat.events],
        "ev_from_trigger": [e.from_trigger_time for e in flat.events],
        "ev_has_delay": [e.delay is not None for e in flat.events],
        "ev_has_priority": [e.priority is not None for e in flat.events],
        "ev_n_assign": [len(e.targets) for e in flat.events],
        "ev_time_only": [e.time_only for e in flat.events],
        "scale_slots": scale,
    }


def compile_model(
    spec: ModelSpec, *, outputs: tuple[str, ...] = (), sensitivities: bool = False
) -> CompiledModel:
    """Compile ``spec`` (or load it from the memory or disk cache)."""
    variant = "s" if sensitivities else "b"
    raw = f"{spec.hash()}|{variant}|{','.join(outputs)}|{_generator_fingerprint()}"
    key = hashlib.sha256(raw.encode()).hexdigest()[:24]
    with _LOCK:
        if key in _MEMO:
            return _MEMO[key]
        folder = cache_dir()
        src_path = folder / f"m_{key}.py"
        meta_path = folder / f"m_{key}.json"
        if src_path.exists() and meta_path.exists():
            meta = json.loads(meta_path.read_text())
        else:
            flat = flatten(spec, extra_outputs=outputs)
            source = generate_source(flat, sensitivities=sensitivities)
            meta = _meta(flat)
            tmp = src_path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(source)
            os.replace(tmp, src_path)
            tmpm = meta_path.with_suffix(f".{os.getpid()}.tmp")
            tmpm.write_text(json.dumps(meta))
            os.replace(tmpm, meta_path)
        cm = _load_cached(key, src_path, meta, sensitivities)
        _MEMO[key] = cm
        _ORIGIN[key] = (spec, tuple(outputs))
        return cm


def _load_cached(
    key: str, src_path: Path, meta: dict[str, Any], sensitivities: bool
) -> CompiledModel:
    """Import the generated module of ``key`` and assemble its :class:`CompiledModel`."""
    modname = f"immunetwin_generated_{key}"
    mspec = importlib.util.spec_from_file_location(modname, src_path)
    assert mspec is not None and mspec.loader is not None
    module = importlib.util.module_from_spec(mspec)
    sys.modules[modname] = module
    mspec.loader.exec_module(module)

    def b(k: str) -> np.ndarray[Any, Any]:
        return np.asarray(meta[k], dtype=np.bool_)

    return CompiledModel(
        key=key,
        model_id=meta["model_id"],
        fn=module.model,
        states=tuple(meta["states"]),
        state_kinds=tuple(meta["state_kinds"]),
        slots=tuple(meta["slots"]),
        slot_values=np.asarray(meta["slot_values"], dtype=float),
        slot_kinds=tuple(meta["slot_kinds"]),
        outputs=tuple(meta["outputs"]),
        output_kinds=tuple(meta["output_kinds"]),
        events=tuple(meta["events"]),
        ev_persistent=b("ev_persistent"),
        ev_initial_value=b("ev_initial_value"),
        ev_from_trigger=b("ev_from_trigger"),
        ev_has_delay=b("ev_has_delay"),
        ev_has_priority=b("ev_has_priority"),
        ev_n_assign=np.asarray(meta["ev_n_assign"], dtype=np.int64),
        ev_time_only=b("ev_time_only"),
        sensitivities=sensitivities,
        scale_slots=tuple(meta["scale_slots"]),
    )


# ---------------------------------------------------------------------- pickling
_ORIGIN: dict[str, tuple[ModelSpec, tuple[str, ...]]] = {}
"""The spec and extra outputs each compiled key came from (to pickle a CompiledModel)."""
_SPEC_BLOBS: dict[str, bytes] = {}


def _reduce_compiled(cm: CompiledModel) -> tuple[Any, ...]:
    """Pickle a compiled model as its cache key, options and (pickled) spec, not its code."""
    origin = _ORIGIN.get(cm.key)
    if origin is None:
        raise pickle.PicklingError(
            f"compiled model '{cm.model_id}' ({cm.key}) was not made by compile_model in this process"
        )
    blob = _SPEC_BLOBS.get(cm.key)
    if blob is None:
        blob = _SPEC_BLOBS[cm.key] = pickle.dumps(origin[0], protocol=pickle.HIGHEST_PROTOCOL)
    return (_restore_compiled, (cm.key, cm.sensitivities, origin[1], blob))


def _restore_compiled(
    key: str, sensitivities: bool, outputs: tuple[str, ...], spec_blob: bytes
) -> CompiledModel:
    """Unpickle a compiled model: from memory, else from the disk cache by key, else compile."""
    with _LOCK:
        cm = _MEMO.get(key)
        if cm is not None:
            return cm
        folder = cache_dir()
        src_path = folder / f"m_{key}.py"
        meta_path = folder / f"m_{key}.json"
        if src_path.exists() and meta_path.exists():
            cm = _load_cached(key, src_path, json.loads(meta_path.read_text()), sensitivities)
            _MEMO[key] = cm
            _SPEC_BLOBS[key] = spec_blob
            _ORIGIN[key] = (pickle.loads(spec_blob), outputs)
            return cm
    spec = pickle.loads(spec_blob)
    if not isinstance(spec, ModelSpec):
        raise pickle.UnpicklingError(f"compiled model {key}: the payload is not a ModelSpec")
    return compile_model(spec, outputs=outputs, sensitivities=sensitivities)
