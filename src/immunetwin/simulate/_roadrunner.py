"""The ``"roadrunner"`` backend: libRoadRunner (CVODE) as the reference simulator.

One :class:`roadrunner.RoadRunner` is built per call and reused for every member of a batch.
Between members the instance is reset so that each member starts from the model's own initial
state with its own parameter values:

* ``resetAll()`` restores every value to its initial value and re-evaluates the initial
  assignments; the member's values are then set on top of that state;
* an id that an initial assignment depends on (directly or through assignment rules), and any
  compartment (species initial concentrations scale with it), is set instead through its
  *initial value* ``init(x)`` before ``resetAll()``, so that the initial assignments see the new
  value; libRoadRunner makes this slow (tens of ms), hence only where it matters. Values set
  this way are restored to the model's before the next member;
* an id that is itself the target of an initial assignment is set after the reset (setting its
  ``init(x)`` would replace the initial assignment for the rest of the run).

Outputs are read as libRoadRunner selections: a species as SBML reports it (``[S]``, or ``S``
when it has only substance units), ``amount(S)`` as the amount ``S``, parameters, compartments
and rule targets by id; observables are evaluated with numpy from the selections they use.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import sympy as sp

from ..errors import ModelError, UnsupportedFeature
from ..model import AVOGADRO_VALUE, DELAY, RATE_OF, ModelSpec, free_names

__all__ = ["run_roadrunner"]

_Array = np.ndarray[Any, Any]
_AMOUNT_PREFIX = "amount("


def _species_selection(spec: ModelSpec, sid: str) -> str:
    """The selection of species ``sid`` as SBML reports it."""
    species = spec.species_by_id(sid)
    return sid if species.has_only_substance_units else f"[{sid}]"


def _selection_for_id(spec: ModelSpec, kinds_by_id: dict[str, str], name: str) -> str:
    """The libRoadRunner selection giving the value that symbol ``name`` has in model math."""
    if name == "time":
        return "time"
    if kinds_by_id.get(name) == "species":
        return _species_selection(spec, name)
    return name


def _inline_functions(spec: ModelSpec, expr: sp.Basic, where: str) -> sp.Basic:
    """Replace calls of the model's function definitions by their bodies (recursively)."""
    defs = {f.id: f for f in spec.functions}
    for _ in range(64):
        calls = [
            f
            for f in expr.atoms(sp.Function)
            if isinstance(f.func, sp.core.function.UndefinedFunction) and f.func.__name__ in defs
        ]
        if not calls:
            return expr
        subs: dict[sp.Basic, sp.Basic] = {}
        for call in calls:
            fdef = defs[call.func.__name__]
            if len(call.args) != len(fdef.args):
                raise ModelError(
                    f"model '{spec.id}': '{where}' calls '{fdef.id}' with {len(call.args)} arguments"
                )
            arg_syms = {s.name: s for s in fdef.body.free_symbols if isinstance(s, sp.Symbol)}
            mapping = {
                arg_syms[a]: v for a, v in zip(fdef.args, call.args, strict=True) if a in arg_syms
            }
            subs[call] = fdef.body.xreplace(mapping)
        expr = expr.xreplace(subs)
    raise ModelError(f"model '{spec.id}': '{where}': function definitions nest too deeply")


def _initial_dependencies(spec: ModelSpec) -> set[str]:
    """Ids whose value the initial assignments depend on (through assignment rules too)."""
    rules = {a.variable: a.expr for a in spec.assignment_rules}
    initials = {ia.variable: ia.expr for ia in spec.initial_assignments}
    stack = [name for expr in initials.values() for name in free_names(expr)]
    deps: set[str] = set()
    while stack:
        name = stack.pop()
        if name in deps:
            continue
        deps.add(name)
        for table in (rules, initials):
            if name in table:
                stack.extend(free_names(table[name]))
    return deps


class _Observable:
    """An observable compiled to a numpy function of libRoadRunner selections."""

    def __init__(self, spec: ModelSpec, oid: str, kinds_by_id: dict[str, str]) -> None:
        expr = self._expand(spec, oid, kinds_by_id, ())
        if expr.atoms(DELAY):
            raise UnsupportedFeature("delay() in an observable", oid, backend="roadrunner")
        arg_syms: list[sp.Symbol] = []
        self.selections: list[str] = []
        subs: dict[sp.Basic, sp.Basic] = {}
        for call in sorted(expr.atoms(RATE_OF), key=str):
            (target,) = call.args
            if not (isinstance(target, sp.Symbol) and kinds_by_id.get(target.name) == "species"):
                raise UnsupportedFeature(
                    f"rateOf({target}) in an observable", oid, backend="roadrunner"
                )
            dummy = sp.Dummy(f"rate_{target.name}", real=True)
            subs[call] = dummy
            arg_syms.append(dummy)
            self.selections.append(_species_selection(spec, target.name) + "'")
        expr = expr.xreplace(subs)
        expr = expr.xreplace({sp.Symbol("avogadro", real=True): sp.Float(AVOGADRO_VALUE)})
        for sym in sorted(
            (s for s in expr.free_symbols if isinstance(s, sp.Symbol)), key=lambda s: s.name
        ):
            if sym in arg_syms:
                continue
            arg_syms.append(sym)
            self.selections.append(_selection_for_id(spec, kinds_by_id, sym.name))
        self._fn: Callable[..., Any] = sp.lambdify(arg_syms, expr, modules="numpy", dummify=True)

    @staticmethod
    def _expand(
        spec: ModelSpec, oid: str, kinds_by_id: dict[str, str], seen: tuple[str, ...]
    ) -> sp.Basic:
        if oid in seen:
            raise ModelError(f"model '{spec.id}': observable '{oid}' refers to itself")
        expr = _inline_functions(spec, spec.observable(oid).expr, oid)
        subs: dict[sp.Basic, sp.Basic] = {}
        for sym in expr.free_symbols:
            if isinstance(sym, sp.Symbol) and kinds_by_id.get(sym.name) == "observable":
                subs[sym] = _Observable._expand(spec, sym.name, kinds_by_id, (*seen, oid))
        return expr.xreplace(subs) if subs else expr

    def __call__(self, columns: Sequence[_Array], n_times: int) -> _Array:
        with np.errstate(all="ignore"):
            value = self._fn(*columns)
        return np.broadcast_to(np.asarray(value, dtype=float), (n_times,))


def _output_selection(spec: ModelSpec, kinds_by_id: dict[str, str], name: str, kind: str) -> str:
    if kind == "amount" or name.startswith(_AMOUNT_PREFIX):
        sid = (
            name[len(_AMOUNT_PREFIX) : -1]
            if name.startswith(_AMOUNT_PREFIX) and name.endswith(")")
            else name
        )
        if kinds_by_id.get(sid) != "species":
            raise ModelError(f"model '{spec.id}': output '{name}' is not the amount of a species")
        return sid
    return _selection_for_id(spec, kinds_by_id, name)


def _initial_key(spec: ModelSpec, kinds_by_id: dict[str, str], name: str, what: str) -> str:
    """The selection whose value is ``name``'s value as the user gives it."""
    kind = kinds_by_id.get(name)
    if kind is None:
        raise ModelError(f"model '{spec.id}': unknown {what} '{name}'")
    if kind == "species":
        return _species_selection(spec, name)
    if kind in ("parameter", "compartment", "species_reference"):
        return name
    raise ModelError(f"model '{spec.id}': '{name}' is a {kind}, not a {what}")


def run_roadrunner(
    spec: ModelSpec,
    sbml: str,
    times: _Array,
    t0: float,
    param_sets: list[dict[str, float]],
    initial_sets: list[dict[str, float]],
    outputs: tuple[str, ...],
    kinds: tuple[str, ...],
    rtol: float,
    atol: float,
    max_steps: int,
) -> tuple[_Array, list[tuple[int, str, float]]]:
    """Simulate every member of a batch with libRoadRunner.

    Parameters
    ----------
    spec : ModelSpec
        The model (used for species units, observables and function definitions).
    sbml : str
        The model as SBML (the same model as ``spec``).
    times : numpy.ndarray
        Output times, shape ``(T,)``, increasing, all ``>= t0``.
    t0 : float
        The initial time.
    param_sets, initial_sets : list of dict
        Per member: parameter (or compartment) values, and species initial values in reported
        units (concentration unless the species has only substance units). Equal lengths ``N``.
    outputs, kinds : tuple of str
        Output ids and their kinds (``"species"``, ``"amount"``, ``"parameter"``,
        ``"compartment"``, ``"rule"``, ``"observable"``, ...), length ``m``.
    rtol, atol : float
        CVODE's relative and absolute tolerances.
    max_steps : int
        CVODE's maximum number of steps between two output times.

    Returns
    -------
    values : numpy.ndarray
        Shape ``(N, T, m)``; rows of failed members are NaN.
    failures : list of (int, str, float)
        ``(member, reason, time reached)`` for each failed member.
    """
    import roadrunner

    if len(param_sets) != len(initial_sets):
        raise ValueError("run_roadrunner: param_sets and initial_sets differ in length")
    if len(outputs) != len(kinds):
        raise ValueError("run_roadrunner: outputs and kinds differ in length")
    times = np.asarray(times, dtype=float)
    n_members, n_times, n_out = len(param_sets), times.shape[0], len(outputs)
    rr = _load(sbml, rtol, atol, max_steps)
    selections, recipes = _read_plan(spec, rr, outputs, kinds)
    member_settings, defaults = _member_settings(spec, rr, param_sets, initial_sets)
    prepend = not (n_times > 0 and times[0] == t0)
    sim_times = np.concatenate([[t0], times]) if prepend else times
    values = np.full((n_members, n_times, n_out), np.nan)
    failures: list[tuple[int, str, float]] = []
    log_level = roadrunner.Logger.getLevel()
    roadrunner.Logger.setLevel(roadrunner.Logger.LOG_FATAL)  # failures are reported, not logged
    try:
        _run_members(
            rr,
            member_settings,
            defaults,
            sim_times,
            t0,
            times,
            prepend,
            selections,
            recipes,
            values,
            failures,
        )
    finally:
        roadrunner.Logger.setLevel(log_level)
    return values, failures


def _load(sbml: str, rtol: float, atol: float, max_steps: int) -> Any:
    """A RoadRunner on ``sbml`` with CVODE at the given tolerances."""
    import roadrunner

    # libRoadRunner's "dynamic properties" put every species id on the RoadRunner *class*, and
    # delete them again on the next load: a model with a species named "reset" or "simulate"
    # would remove that method from the class for the rest of the process.
    roadrunner.Config.setValue(roadrunner.Config.ROADRUNNER_DISABLE_PYTHON_DYNAMIC_PROPERTIES, True)
    rr = roadrunner.RoadRunner(sbml)
    rr.setIntegrator("cvode")
    integrator = rr.getIntegrator()
    integrator.setValue("relative_tolerance", float(rtol))
    integrator.setValue("absolute_tolerance", float(atol))
    integrator.setValue("maximum_num_steps", int(max_steps))
    return rr


_Recipe = int | tuple[_Observable, list[int]]


def _read_plan(
    spec: ModelSpec, rr: Any, outputs: tuple[str, ...], kinds: tuple[str, ...]
) -> tuple[list[str], list[_Recipe]]:
    """What to read: unique selections, then a recipe per output (a column or an observable)."""
    kinds_by_id = spec.ids()
    selections: list[str] = []
    position: dict[str, int] = {}

    def column(sel: str) -> int:
        if sel not in position:
            position[sel] = len(selections)
            selections.append(sel)
        return position[sel]

    recipes: list[_Recipe] = []
    for name, kind in zip(outputs, kinds, strict=True):
        if kind == "observable":
            obs = _Observable(spec, name, kinds_by_id)
            recipes.append((obs, [column(s) for s in obs.selections]))
        else:
            recipes.append(column(_output_selection(spec, kinds_by_id, name, kind)))
    if not selections:
        column("time")
    for sel in selections:
        if sel == "time" or sel.endswith("'"):
            continue
        try:
            rr.getValue(sel)
        except Exception as exc:
            raise ModelError(
                f"model '{spec.id}': libRoadRunner has no value '{sel}' ({exc})"
            ) from None
    return selections, recipes


def _member_settings(
    spec: ModelSpec,
    rr: Any,
    param_sets: list[dict[str, float]],
    initial_sets: list[dict[str, float]],
) -> tuple[list[tuple[dict[str, float], dict[str, float]]], dict[str, float]]:
    """How to set each member's values, and the defaults of what is set before a reset.

    ``init(x)`` is set before the reset (slow in libRoadRunner, ~25 ms, so only for ids that
    initial values depend on), any other value after the reset.
    """
    kinds_by_id = spec.ids()
    ia_targets = {ia.variable for ia in spec.initial_assignments}
    slow = _initial_dependencies(spec) - ia_targets
    member_settings: list[tuple[dict[str, float], dict[str, float]]] = []
    for params, initial in zip(param_sets, initial_sets, strict=True):
        before: dict[str, float] = {}
        after: dict[str, float] = {}
        for given, what in ((params, "parameter"), (initial, "species")):
            for name, value in given.items():
                key = _initial_key(spec, kinds_by_id, name, what)
                if name in slow or kinds_by_id.get(name) == "compartment":
                    before[f"init({key})"] = float(value)
                else:
                    after[key] = float(value)
        member_settings.append((before, after))
    defaults: dict[str, float] = {}
    for before, _ in member_settings:
        for key in before:
            if key not in defaults:
                try:
                    defaults[key] = float(rr.getValue(key))
                except Exception as exc:
                    raise ModelError(
                        f"model '{spec.id}': cannot set '{key}' in libRoadRunner ({exc})"
                    ) from None
    return member_settings, defaults


def _run_members(
    rr: Any,
    member_settings: list[tuple[dict[str, float], dict[str, float]]],
    defaults: dict[str, float],
    sim_times: _Array,
    t0: float,
    times: _Array,
    prepend: bool,
    selections: list[str],
    recipes: list[_Recipe],
    values: _Array,
    failures: list[tuple[int, str, float]],
) -> None:
    n_times = times.shape[0]
    changed: set[str] = set()
    for member, (before, after) in enumerate(member_settings):
        for key in changed - before.keys():
            rr.setValue(key, defaults[key])
        for key, value in before.items():
            rr.setValue(key, value)
        changed = set(before)
        rr.resetAll()
        for key, value in after.items():
            rr.setValue(key, value)
        try:
            raw = _simulate_once(rr, sim_times, t0, selections)
        except Exception as exc:  # CVODE failures and the like: reported per member
            failures.append((member, _reason(exc), _time_reached(rr, t0)))
            continue
        if prepend:
            raw = raw[1:]
        finite = np.isfinite(raw)
        if not finite.all():
            row, col = np.argwhere(~finite)[0]
            failures.append((member, f"non-finite value of '{selections[col]}'", float(times[row])))
            continue
        for j, recipe in enumerate(recipes):
            if isinstance(recipe, int):
                values[member, :, j] = raw[:, recipe]
            else:
                obs, cols = recipe
                values[member, :, j] = obs([raw[:, c] for c in cols], n_times)


def _simulate_once(rr: Any, sim_times: _Array, t0: float, selections: list[str]) -> _Array:
    if sim_times.shape[0] >= 2:
        result = rr.simulate(times=sim_times.tolist(), selections=selections)
        return np.array(result, dtype=float).reshape(sim_times.shape[0], len(selections))
    # a single output time equal to t0: the state after the reset
    rr.getModel().setTime(t0)
    return np.array(
        [[t0 if s == "time" else float(rr.getValue(s)) for s in selections]], dtype=float
    )


def _reason(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"libRoadRunner: {text[:300]}" if text else f"libRoadRunner: {type(exc).__name__}"


def _time_reached(rr: Any, t0: float) -> float:
    try:
        return float(rr.getModel().getTime())
    except Exception:
        return float(t0)
