"""Speed of the compiled solvers on a 7-state stiff within-host influenza model.

Run: ``.venv/bin/python benchmarks/_solver_speed.py [N_batch]``
(warm timings: the first call compiles or loads the solvers from numba's cache).
"""

from __future__ import annotations

import sys
import time

import numpy as np
from numba import cfunc

from immunetwin.simulate.solvers import MODEL_SIG, solve_batch, solve_one

# states: T R E I V F C ; parameters:
#  0 beta 1 phi 2 rho 3 k 4 delta 5 kC 6 p 7 c 8 q 9 d 10 r 11 Kc 12 sC 13 dC
#  14..20 initial values T0 R0 E0 I0 V0 F0 C0
PNAMES = [
    "beta",
    "phi",
    "rho",
    "k",
    "delta",
    "kC",
    "p",
    "c",
    "q",
    "d",
    "r",
    "Kc",
    "sC",
    "dC",
    "T0",
    "R0",
    "E0",
    "I0",
    "V0",
    "F0",
    "C0",
]
P_DEFAULT = np.array(
    [2.7e-5, 0.5, 2.6, 4.0, 4.0, 2e-8, 0.03, 10.0, 1e-6, 40.0, 1.5, 1e4, 100.0, 0.3,
     4e8, 0.0, 0.0, 0.0, 1.0, 0.0, 300.0]
)  # fmt: skip
N_STATES, N_PARAMS = 7, P_DEFAULT.size


def within_host(mode, idx, t, x, p, out):  # noqa: C901 - hand-written model function
    T, R, E, I, V, F, C = x[0], x[1], x[2], x[3], x[4], x[5], x[6]  # noqa: E741
    beta, phi, rho, k, delta, kC, pv, c, q, d, r, Kc, sC, dC = (
        p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], p[8], p[9], p[10], p[11], p[12], p[13]
    )  # fmt: skip
    n = 7
    if mode == 0:
        out[0] = -beta * T * V - phi * F * T + rho * R
        out[1] = phi * F * T - rho * R
        out[2] = beta * T * V - k * E
        out[3] = k * E - delta * I - kC * C * I
        out[4] = pv * I - c * V
        out[5] = q * I - d * F
        out[6] = r * I * C / (I + Kc) + sC - dC * C
    elif mode == 1:
        for i in range(n * n):
            out[i] = 0.0
        out[0 * n + 0] = -beta * V - phi * F
        out[0 * n + 1] = rho
        out[0 * n + 4] = -beta * T
        out[0 * n + 5] = -phi * T
        out[1 * n + 0] = phi * F
        out[1 * n + 1] = -rho
        out[1 * n + 5] = phi * T
        out[2 * n + 0] = beta * V
        out[2 * n + 2] = -k
        out[2 * n + 4] = beta * T
        out[3 * n + 2] = k
        out[3 * n + 3] = -delta - kC * C
        out[3 * n + 6] = -kC * I
        out[4 * n + 3] = pv
        out[4 * n + 4] = -c
        out[5 * n + 3] = q
        out[5 * n + 5] = -d
        out[6 * n + 3] = r * C * Kc / ((I + Kc) * (I + Kc))
        out[6 * n + 6] = r * I / (I + Kc) - dC
    elif mode == 2:
        for i in range(n):
            out[i] = x[i]
    elif mode == 6:
        P = 21
        for i in range(n * P):
            out[i] = 0.0
        out[0 * P + 0] = -T * V
        out[0 * P + 1] = -F * T
        out[0 * P + 2] = R
        out[1 * P + 1] = F * T
        out[1 * P + 2] = -R
        out[2 * P + 0] = T * V
        out[2 * P + 3] = -E
        out[3 * P + 3] = E
        out[3 * P + 4] = -I
        out[3 * P + 5] = -C * I
        out[4 * P + 6] = I
        out[4 * P + 7] = -V
        out[5 * P + 8] = I
        out[5 * P + 9] = -F
        out[6 * P + 10] = I * C / (I + Kc)
        out[6 * P + 11] = -r * I * C / ((I + Kc) * (I + Kc))
        out[6 * P + 12] = 1.0
        out[6 * P + 13] = -C
    elif mode == 7:
        for i in range(n):
            out[i] = p[14 + i]
    elif mode == 8:
        P = 21
        for i in range(n * P):
            out[i] = 0.0
        for i in range(n):
            out[i * P + 14 + i] = 1.0
    elif mode == 11:
        for i in range(n):
            out[i] = 0.0
    elif mode == 12:
        for i in range(n * n):
            out[i] = 0.0
        for i in range(n):
            out[i * n + i] = 1.0
    elif mode == 13:
        for i in range(n * 21):
            out[i] = 0.0


model = cfunc(MODEL_SIG)(within_host)
T_OUT = np.linspace(0.0, 21.0, 85)
X0 = np.full(N_STATES, np.nan)


def one(p, method, sens=None):
    return solve_one(model, 7, 7, N_PARAMS, 0, 0.0, T_OUT, X0, p, method, 1e-6, 1e-6, 100_000,
                     0.0, sens)  # fmt: skip


def timeit(fn, reps):
    fn()
    best = np.inf
    for _ in range(3):
        t = time.process_time()
        for _ in range(reps):
            fn()
        best = min(best, (time.process_time() - t) / reps)
    return best


def batch(PS, method, sens=None, parallel=True):
    return solve_batch(model, 7, 7, N_PARAMS, 0, 0.0, T_OUT, X0, PS, method, 1e-6, 1e-6, 100_000,
                       0.0, sens, parallel=parallel)  # fmt: skip


def main() -> None:
    import numba

    nb = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    sens4 = np.array([0, 4, 6, 7])  # beta, delta, p, c
    for meth, name in ((1, "rodas5"), (2, "dopri5"), (0, "auto")):
        Y, DY, st, tr = one(P_DEFAULT, meth)
        print(f"{name}: status {st}, V(21)={Y[-1, 4]:.4g}, peak V={Y[:, 4].max():.4g}")
        us = timeit(lambda m=meth: one(P_DEFAULT, m), 200) * 1e6
        us4 = timeit(lambda m=meth: one(P_DEFAULT, m, sens4), 50) * 1e6
        print(f"  single: {us:.1f} us; with 4 sensitivities {us4:.1f} us ({us4 / us:.2f}x)")
    rng = np.random.default_rng(1)
    PS = np.tile(P_DEFAULT, (nb, 1))
    for j in (0, 4, 6, 7):
        PS[:, j] *= rng.lognormal(0.0, 0.3, nb)
    print(f"threads: {numba.get_num_threads()}")
    for meth, name in ((1, "rodas5"), (2, "dopri5"), (0, "auto")):
        batch(PS[:10], meth)
        batch(PS[:10], meth, sens4)
        batch(PS[:10], meth, None, False)
        batch(PS[:10], meth, sens4, False)
        t = time.perf_counter()
        Y, DY, st, tr = batch(PS, meth)
        dt = time.perf_counter() - t
        print(
            f"{name}: batch {nb}: {dt:.3f} s = {nb / dt:,.0f} sets/s; failures {int((st != 0).sum())}"
        )
        t = time.perf_counter()
        batch(PS, meth, sens4)
        dt4 = time.perf_counter() - t
        print(f"   with 4 sensitivities: {nb / dt4:,.0f} sets/s ({dt4 / dt:.2f}x)")
        # CPU time per set of the serial kernel (robust on a shared machine)
        c = time.process_time()
        batch(PS[:2000], meth, None, False)
        c1 = (time.process_time() - c) / 2000
        c = time.process_time()
        batch(PS[:2000], meth, sens4, False)
        c4 = (time.process_time() - c) / 2000
        print(
            f"   serial CPU: {c1 * 1e6:.1f} us/set (= {2 / c1:,.0f} sets/s on 2 ideal cores); "
            f"with 4 sensitivities {c4 * 1e6:.1f} us/set ({c4 / c1:.2f}x)"
        )


if __name__ == "__main__":
    main()
