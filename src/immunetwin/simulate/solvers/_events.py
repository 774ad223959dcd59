"""SBML Level 3 event queue (triggers, delays, persistence, priorities, cascades); numba-compiled.

Pending executions live in fixed-capacity arrays: ``pend_ev`` (event index), ``pend_t``
(execution time), ``pend_active`` (0/1), ``pend_seq`` (insertion order, breaks ties) and
``pend_vals`` (assignment values computed at trigger time when ``from_trigger_time``).
``cnt[0]`` is the insertion counter.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
from numba import njit

from ._ffi import (
    DELAYS,
    EVENT_APPLY,
    EVENT_DP,
    EVENT_DX,
    EVENT_VALUES,
    PRIORITIES,
    TRIGGERS,
    call_model,
    ptr,
)

EV_OK = 0
EV_SENS_UNSUPPORTED = 4
EV_CASCADE = 5


@njit(cache=True, error_model="numpy")
def on_triggers(
    f, t, z, p, k, ne, trig_prev, trig_now,
    ev_persistent, ev_from_trigger, ev_has_delay, ev_time_only, ev_n_assign,
    pend_ev, pend_t, pend_active, pend_seq, pend_vals, cnt, dbuf, vbuf,
):  # fmt: skip
    """Handle trigger transitions trig_prev -> trig_now at (t, z); update trig_prev. Returns status."""
    delays_done = False
    Q = pend_ev.shape[0]
    for e in range(ne):
        now = trig_now[e] > 0.5
        before = trig_prev[e] > 0.5
        if now and not before:
            if k > 0 and not ev_time_only[e]:
                return EV_SENS_UNSUPPORTED
            d = 0.0
            if ev_has_delay[e]:
                if not delays_done:
                    call_model(f, DELAYS, 0, t, ptr(z, 0), ptr(p, 0), ptr(dbuf, 0))
                    delays_done = True
                d = dbuf[e]
                if not (d > 0.0):
                    d = 0.0
            slot = -1
            for s in range(Q):
                if pend_active[s] == 0:
                    slot = s
                    break
            if slot < 0:
                return EV_CASCADE
            pend_ev[slot] = e
            pend_t[slot] = t + d
            pend_active[slot] = 1
            pend_seq[slot] = cnt[0]
            cnt[0] += 1
            if ev_from_trigger[e]:
                call_model(f, EVENT_VALUES, e, t, ptr(z, 0), ptr(p, 0), ptr(vbuf, 0))
                for a in range(ev_n_assign[e]):
                    pend_vals[slot, a] = vbuf[a]
        elif before and not now and not ev_persistent[e]:
            for s in range(Q):
                if pend_active[s] != 0 and pend_ev[s] == e:
                    pend_active[s] = 0
        trig_prev[e] = trig_now[e]
    return EV_OK


@njit(cache=True, error_model="numpy")
def next_pending_time(pend_t, pend_active, t_limit):
    tn = t_limit
    for s in range(pend_t.shape[0]):
        if pend_active[s] != 0 and pend_t[s] < tn:
            tn = pend_t[s]
    return tn


@njit(cache=True, error_model="numpy")
def process_due(
    f, t, z, p, n, k, P, ne, sens_idx, trig_prev, trig_now,
    ev_persistent, ev_from_trigger, ev_has_delay, ev_has_priority, ev_time_only, ev_n_assign,
    pend_ev, pend_t, pend_active, pend_seq, pend_vals, cnt, dbuf, vbuf, prbuf, edx, edp, stmp,
    max_exec,
):  # fmt: skip
    """Execute every event due at time t (priority order, cascades). Returns (status, n_executed)."""
    Q = pend_ev.shape[0]
    n_exec = 0
    while True:
        n_due = 0
        for s in range(Q):
            if pend_active[s] != 0 and pend_t[s] <= t:
                n_due += 1
        if n_due == 0:
            break
        if n_exec >= max_exec:
            return EV_CASCADE, n_exec
        if n_due > 1:
            call_model(f, PRIORITIES, 0, t, ptr(z, 0), ptr(p, 0), ptr(prbuf, 0))
        best = -1
        ties = 0
        for s in range(Q):
            if pend_active[s] == 0 or pend_t[s] > t:
                continue
            if best < 0:
                best = s
                ties = 1
                continue
            e, eb = pend_ev[s], pend_ev[best]
            ps = prbuf[e] if ev_has_priority[e] else 0.0
            pb = prbuf[eb] if ev_has_priority[eb] else 0.0
            if n_due > 1 and ps != pb:
                if ps > pb:
                    best = s
                    ties = 1
            elif e != eb:
                if n_due > 1 and ev_has_priority[e] and ev_has_priority[eb]:
                    # equal explicit priorities: SBML leaves the order to chance
                    ties += 1
                    if np.random.random() * ties < 1.0:
                        best = s
                elif e < eb:
                    best = s
            elif pend_seq[s] < pend_seq[best]:
                best = s
        e = pend_ev[best]
        ka = ev_n_assign[e]
        if ev_from_trigger[e]:
            for a in range(ka):
                vbuf[a] = pend_vals[best, a]
        else:
            call_model(f, EVENT_VALUES, e, t, ptr(z, 0), ptr(p, 0), ptr(vbuf, 0))
        if k > 0:
            call_model(f, EVENT_DX, e, t, ptr(z, 0), ptr(p, 0), ptr(edx, 0))
            call_model(f, EVENT_DP, e, t, ptr(z, 0), ptr(p, 0), ptr(edp, 0))
            for j in range(k):
                col = sens_idx[j]
                off = n + j * n
                for i in range(n):
                    s_ = edp[i * P + col]
                    for ll in range(n):
                        s_ += edx[i * n + ll] * z[off + ll]
                    stmp[i] = s_
                for i in range(n):
                    z[off + i] = stmp[i]
        call_model(f, EVENT_APPLY, e, t, ptr(z, 0), ptr(p, 0), ptr(vbuf, 0))
        pend_active[best] = 0
        n_exec += 1
        if ne > 0:
            call_model(f, TRIGGERS, 0, t, ptr(z, 0), ptr(p, 0), ptr(trig_now, 0))
            st = on_triggers(
                f, t, z, p, k, ne, trig_prev, trig_now,
                ev_persistent, ev_from_trigger, ev_has_delay, ev_time_only, ev_n_assign,
                pend_ev, pend_t, pend_active, pend_seq, pend_vals, cnt, dbuf, vbuf,
            )  # fmt: skip
            if st != EV_OK:
                return st, n_exec
    return EV_OK, n_exec


class EventQueue(NamedTuple):
    """An integration's event state: trigger values, scratch buffers and the pending queue."""

    trig_prev: Any
    trig_now: Any
    dbuf: Any
    prbuf: Any
    vbuf: Any
    edx: Any
    edp: Any
    pend_ev: Any
    pend_t: Any
    pend_active: Any
    pend_seq: Any
    pend_vals: Any
    cnt: Any
    max_exec: Any


@njit(cache=True, error_model="numpy")
def new_queue(ne, n, k, P, n_assign):
    """An empty queue for ``ne`` events (room for 8 pending executions per event, plus 8)."""
    ne1 = max(ne, 1)
    kmax = 1
    for e in range(ne):
        kmax = max(kmax, n_assign[e])
    nP = n * P if k > 0 else 1
    Q = 8 * ne + 8
    return EventQueue(
        np.zeros(ne1),
        np.zeros(ne1),
        np.zeros(ne1),
        np.zeros(ne1),
        np.zeros(kmax),
        np.zeros(max(n * n, 1) if k > 0 else 1),
        np.zeros(max(nP, 1)),
        np.zeros(Q, np.int64),
        np.zeros(Q),
        np.zeros(Q, np.int64),
        np.zeros(Q, np.int64),
        np.zeros((Q, kmax)),
        np.zeros(1, np.int64),
        max(1000, 100 * ne),
    )


@njit(cache=True, error_model="numpy")
def queue_triggers(w, ev, q, ne, t):
    """Evaluate the triggers at ``(t, w.z)`` and queue the events that turned true."""
    call_model(w.f, TRIGGERS, 0, t, ptr(w.z, 0), ptr(w.p, 0), ptr(q.trig_now, 0))
    return on_triggers(
        w.f, t, w.z, w.p, w.k, ne, q.trig_prev, q.trig_now,
        ev.persistent, ev.from_trigger, ev.has_delay, ev.time_only, ev.n_assign,
        q.pend_ev, q.pend_t, q.pend_active, q.pend_seq, q.pend_vals, q.cnt, q.dbuf, q.vbuf,
    )  # fmt: skip


@njit(cache=True, error_model="numpy")
def execute_due(w, ev, q, ne, sens_idx, t):
    """Execute the events due at ``t``; returns ``(status, number executed)``."""
    return process_due(
        w.f, t, w.z, w.p, w.n, w.k, w.P, ne, sens_idx, q.trig_prev, q.trig_now,
        ev.persistent, ev.from_trigger, ev.has_delay, ev.has_priority, ev.time_only,
        ev.n_assign, q.pend_ev, q.pend_t, q.pend_active, q.pend_seq, q.pend_vals, q.cnt,
        q.dbuf, q.vbuf, q.prbuf, q.edx, q.edp, w.stmp, q.max_exec,
    )  # fmt: skip


@njit(cache=True, error_model="numpy")
def any_due(q, t):
    """Whether a pending execution is due at ``t``."""
    for s_ in range(q.pend_t.shape[0]):  # noqa: SIM110 - explicit loop for numba
        if q.pend_active[s_] != 0 and q.pend_t[s_] <= t:
            return True
    return False


@njit(cache=True, error_model="numpy")
def next_stop(q, t_final):
    """The earlier of ``t_final`` and the next pending execution."""
    t_stop = t_final
    for s_ in range(q.pend_t.shape[0]):
        if q.pend_active[s_] != 0 and q.pend_t[s_] < t_stop:
            t_stop = q.pend_t[s_]
    return t_stop


@njit(cache=True, error_model="numpy")
def triggers_differ(f, t, zz, p, q, ne):
    """Whether any trigger at ``(t, zz)`` differs from its last known value."""
    call_model(f, TRIGGERS, 0, t, ptr(zz, 0), ptr(p, 0), ptr(q.trig_now, 0))
    dif = False
    for e in range(ne):
        if (q.trig_now[e] > 0.5) != (q.trig_prev[e] > 0.5):
            dif = True
    return dif
