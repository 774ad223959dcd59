"""Raw calls into a stochastic model function, and its SBML event queue; numba-compiled.

The model function (see ``_ssa_codegen``) is called by address with raw pointers: passing numba
first-class functions or arrays between compiled functions costs reference counting on every
call, a raw C call costs nothing. The event queue follows SBML Level 3 (triggers on a false ->
true transition, delays, persistence, values from trigger time or execution time, priorities
with random order among equal priorities, cascades); pending executions live in fixed arrays
``pend_ev`` (event), ``pend_t`` (execution time), ``pend_on`` (0/1), ``pend_seq`` (insertion
order) and ``pend_vals`` (values computed at trigger time); ``cnt[0]`` counts insertions.
"""

from __future__ import annotations

import math

from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

from ._ssa_random import uniform01

TRIGGERS, EVENT_VALUES, EVENT_APPLY = 3, 4, 5
DELAYS, PRIORITIES = 7, 8

OK = 0
MAX_STEPS = 1
BAD_PROPENSITY = 2
CASCADE = 3
NAN_STATE = 4
MAX_EXECUTIONS = 100_000
"""Event executions at one time point before a cascade is declared."""


@intrinsic
def ptr(typingctx, arr, off):
    """Raw pointer to ``arr.flat[off]`` of a C-contiguous array (no reference counting)."""
    sig = types.CPointer(arr.dtype)(arr, off)

    def codegen(context, builder, signature, args):
        ary = context.make_array(signature.args[0])(context, builder, args[0])
        return builder.gep(ary.data, [args[1]])

    return sig, codegen


@intrinsic
def call(typingctx, addr, mode, idx, t, x, p, out, rng):
    """Call the model function at address ``addr`` with raw pointers."""
    sig = types.void(types.int64, types.int64, types.int64, types.float64, x, p, out, rng)

    def codegen(context, builder, signature, args):
        i64 = ir.IntType(64)
        dptr = context.get_value_type(types.CPointer(types.float64))
        uptr = context.get_value_type(types.CPointer(types.uint64))
        fnty = ir.FunctionType(ir.VoidType(), [i64, i64, ir.DoubleType(), dptr, dptr, dptr, uptr])
        fn = builder.inttoptr(args[0], fnty.as_pointer())
        builder.call(fn, args[1:])
        return context.get_dummy_value()

    return sig, codegen


@njit(cache=True, error_model="numpy")
def on_triggers(f, t, x, p, rng, ne, trig_prev, trig_now, persistent, from_trigger, has_delay,
                n_assign, pend_ev, pend_t, pend_on, pend_seq, pend_vals, cnt, dbuf, vbuf):  # fmt: skip
    """Queue the events whose trigger went false -> true; drop non-persistent ones that went off."""
    delays_done = False
    Q = pend_ev.shape[0]
    for e in range(ne):
        now = trig_now[e] > 0.5
        before = trig_prev[e] > 0.5
        trig_prev[e] = trig_now[e]
        if now and not before:
            d = 0.0
            if has_delay[e]:
                if not delays_done:
                    call(f, DELAYS, 0, t, ptr(x, 0), ptr(p, 0), ptr(dbuf, 0), ptr(rng, 0))
                    delays_done = True
                d = dbuf[e] if dbuf[e] > 0.0 else 0.0
            slot = -1
            for s in range(Q):
                if pend_on[s] == 0:
                    slot = s
                    break
            if slot < 0:
                return CASCADE
            pend_ev[slot] = e
            pend_t[slot] = t + d
            pend_on[slot] = 1
            pend_seq[slot] = cnt[0]
            cnt[0] += 1
            if from_trigger[e]:
                call(f, EVENT_VALUES, e, t, ptr(x, 0), ptr(p, 0), ptr(vbuf, 0), ptr(rng, 0))
                for a in range(n_assign[e]):
                    pend_vals[slot, a] = vbuf[a]
        elif before and not now and not persistent[e]:
            for s in range(Q):
                if pend_on[s] != 0 and pend_ev[s] == e:
                    pend_on[s] = 0
    return OK


@njit(cache=True, error_model="numpy")
def next_pending(pend_t, pend_on):
    """The earliest pending execution time (infinity when none)."""
    tn = math.inf
    for s in range(pend_t.shape[0]):
        if pend_on[s] != 0 and pend_t[s] < tn:
            tn = pend_t[s]
    return tn


@njit(cache=True, error_model="numpy")
def _pick(t, pend_ev, pend_t, pend_on, pend_seq, has_priority, prbuf, n_due, rng):
    """The pending execution to run next: highest priority, random among equal explicit ones,
    else model order, else insertion order."""
    best = -1
    ties = 0
    for s in range(pend_ev.shape[0]):
        if pend_on[s] == 0 or pend_t[s] > t:
            continue
        if best < 0:
            best = s
            ties = 1
            continue
        e, eb = pend_ev[s], pend_ev[best]
        ps = prbuf[e] if has_priority[e] else 0.0
        pb = prbuf[eb] if has_priority[eb] else 0.0
        if n_due > 1 and ps != pb:
            if ps > pb:
                best = s
                ties = 1
        elif e != eb:
            if has_priority[e] and has_priority[eb]:
                ties += 1
                if uniform01(rng) * ties < 1.0:
                    best = s
            elif e < eb:
                best = s
        elif pend_seq[s] < pend_seq[best]:
            best = s
    return best


@njit(cache=True, error_model="numpy")
def process_due(f, t, x, p, rng, ne, trig_prev, trig_now, persistent, from_trigger, has_delay,
                has_priority, n_assign, pend_ev, pend_t, pend_on, pend_seq, pend_vals, cnt, dbuf,
                vbuf, prbuf):  # fmt: skip
    """Execute every event due at time ``t`` (priority order, with cascades)."""
    for _ in range(MAX_EXECUTIONS):
        n_due = 0
        for s in range(pend_ev.shape[0]):
            if pend_on[s] != 0 and pend_t[s] <= t:
                n_due += 1
        if n_due == 0:
            return OK
        if n_due > 1:
            call(f, PRIORITIES, 0, t, ptr(x, 0), ptr(p, 0), ptr(prbuf, 0), ptr(rng, 0))
        best = _pick(t, pend_ev, pend_t, pend_on, pend_seq, has_priority, prbuf, n_due, rng)
        e = pend_ev[best]
        if from_trigger[e]:
            for a in range(n_assign[e]):
                vbuf[a] = pend_vals[best, a]
        else:
            call(f, EVENT_VALUES, e, t, ptr(x, 0), ptr(p, 0), ptr(vbuf, 0), ptr(rng, 0))
        call(f, EVENT_APPLY, e, t, ptr(x, 0), ptr(p, 0), ptr(vbuf, 0), ptr(rng, 0))
        pend_on[best] = 0
        call(f, TRIGGERS, 0, t, ptr(x, 0), ptr(p, 0), ptr(trig_now, 0), ptr(rng, 0))
        st = on_triggers(
            f, t, x, p, rng, ne, trig_prev, trig_now, persistent, from_trigger, has_delay,
            n_assign, pend_ev, pend_t, pend_on, pend_seq, pend_vals, cnt, dbuf, vbuf,
        )  # fmt: skip
        if st != OK:
            return st
    return CASCADE
