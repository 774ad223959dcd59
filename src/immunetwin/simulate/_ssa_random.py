"""Random numbers for the stochastic simulator: one explicit generator state per run.

Each run owns a xoshiro256** state (four 64-bit words; Blackman and Vigna, "Scrambled linear
pseudorandom number generators", ACM TOMS 47(4), 2021), seeded by SplitMix64 from the run's key
``(seed, member)``. A run's draws therefore depend only on the seed and its member index, never
on which thread ran it or on the size of the batch.

Samplers (all ``@njit``, taking the state array first):

* uniform ``(0, 1)`` (53 random bits, never 0 or 1);
* normal: Marsaglia's polar method; exponential: inversion;
* gamma: Marsaglia and Tsang, ACM TOMS 26(3), 2000 (shape < 1 by the ``U**(1/a)`` boost);
* Poisson: multiplication for means below 10, else Hoermann's PTRS (transformed rejection with
  squeeze, Insurance: Mathematics and Economics 12, 1993);
* binomial: inversion for ``n * min(p, 1 - p) < 30``, else Hoermann's BTRS (J. Statist.
  Comput. Simul. 46, 1993);
* the rest by inversion or from the above (chi-square = 2 gamma(k/2), lognormal = exp normal,
  Cauchy, Laplace, Rayleigh, Bernoulli).

:func:`draw` is the one entry point of generated code: a distribution code, up to two
parameters and truncation bounds (sorted; rejection sampling, NaN after ``MAX_TRIES`` misses or
for invalid parameters).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

__all__ = ["DRAW_CODES", "MAX_TRIES", "draw", "seed_state", "uniform01"]

DRAW_CODES = {
    "normal": 0,
    "uniform": 1,
    "bernoulli": 2,
    "binomial": 3,
    "cauchy": 4,
    "chisquare": 5,
    "exponential": 6,
    "gamma": 7,
    "laplace": 8,
    "lognormal": 9,
    "poisson": 10,
    "rayleigh": 11,
}
"""Integer code of each distribution in :func:`draw`."""

MAX_TRIES = 1_000_000
"""Rejection attempts for a truncated draw before giving up (NaN)."""

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


@njit(cache=True, inline="always")
def _rotl(x, k):
    return (x << np.uint64(k)) | (x >> np.uint64(64 - k))


@njit(cache=True)
def _splitmix(z):
    z = (z ^ (z >> np.uint64(30))) * _M1
    z = (z ^ (z >> np.uint64(27))) * _M2
    return z ^ (z >> np.uint64(31))


@njit(cache=True)
def seed_state(state, key, member):
    """Fill ``state`` (uint64[4]) from a 64-bit ``key`` and a member index (SplitMix64)."""
    z = np.uint64(key) ^ _splitmix(np.uint64(member) * _GOLDEN + np.uint64(1))
    for i in range(4):
        z = z + _GOLDEN
        state[i] = _splitmix(z)
    if state[0] == 0 and state[1] == 0 and state[2] == 0 and state[3] == 0:
        state[0] = np.uint64(1)


@njit(cache=True)
def next_u64(s):
    """The next 64 random bits (xoshiro256**)."""
    result = _rotl(s[1] * np.uint64(5), 7) * np.uint64(9)
    t = s[1] << np.uint64(17)
    s[2] ^= s[0]
    s[3] ^= s[1]
    s[1] ^= s[2]
    s[0] ^= s[3]
    s[2] ^= t
    s[3] = _rotl(s[3], 45)
    return result


@njit(cache=True)
def uniform01(s):
    """A uniform draw in the open interval (0, 1)."""
    return (float(next_u64(s) >> np.uint64(11)) + 0.5) * (1.0 / 9007199254740992.0)


@njit(cache=True)
def std_normal(s):
    """A standard normal draw (Marsaglia's polar method)."""
    while True:
        u = 2.0 * uniform01(s) - 1.0
        v = 2.0 * uniform01(s) - 1.0
        q = u * u + v * v
        if 0.0 < q < 1.0:
            return u * math.sqrt(-2.0 * math.log(q) / q)


@njit(cache=True)
def std_gamma(s, a):
    """A gamma draw of shape ``a`` and scale 1 (Marsaglia-Tsang)."""
    if not a > 0.0:
        return math.nan
    if a < 1.0:
        return std_gamma(s, a + 1.0) * uniform01(s) ** (1.0 / a)
    d = a - 1.0 / 3.0
    c = 1.0 / math.sqrt(9.0 * d)
    while True:
        x = std_normal(s)
        v = 1.0 + c * x
        if v <= 0.0:
            continue
        v = v * v * v
        u = uniform01(s)
        if u < 1.0 - 0.0331 * x * x * x * x:
            return d * v
        if math.log(u) < 0.5 * x * x + d * (1.0 - v + math.log(v)):
            return d * v


@njit(cache=True)
def poisson(s, lam):
    """A Poisson draw of mean ``lam`` (multiplication below 10, else PTRS)."""
    if not lam >= 0.0 or math.isinf(lam):
        return math.nan
    if lam == 0.0:
        return 0.0
    if lam < 10.0:
        limit = math.exp(-lam)
        k = 0.0
        prod = uniform01(s)
        while prod > limit:
            k += 1.0
            prod *= uniform01(s)
        return k
    slam = math.sqrt(lam)
    loglam = math.log(lam)
    b = 0.931 + 2.53 * slam
    a = -0.059 + 0.02483 * b
    invalpha = 1.1239 + 1.1328 / (b - 3.4)
    vr = 0.9277 - 3.6224 / (b - 2.0)
    while True:
        u = uniform01(s) - 0.5
        v = uniform01(s)
        us = 0.5 - abs(u)
        k = math.floor((2.0 * a / us + b) * u + lam + 0.43)
        if us >= 0.07 and v <= vr:
            return k
        if k < 0.0 or (us < 0.013 and v > us):
            continue
        if math.log(v) + math.log(invalpha) - math.log(a / (us * us) + b) <= (
            -lam + k * loglam - math.lgamma(k + 1.0)
        ):
            return k


@njit(cache=True)
def _binomial_small(s, n, p):
    q = 1.0 - p
    ratio = p / q
    a = (n + 1.0) * ratio
    r = q**n
    u = uniform01(s)
    x = 0.0
    while u > r and x < n:
        u -= r
        x += 1.0
        r *= a / x - ratio
    return x


@njit(cache=True)
def binomial(s, n, p):
    """A binomial draw: ``n`` trials of probability ``p`` (inversion or BTRS)."""
    if not (n >= 0.0 and n == math.floor(n) and 0.0 <= p <= 1.0):
        return math.nan
    if p == 0.0 or n == 0.0:
        return 0.0
    if p == 1.0:
        return n
    if p > 0.5:
        return n - binomial(s, n, 1.0 - p)
    if n * p < 30.0:
        return _binomial_small(s, n, p)
    q = 1.0 - p
    spq = math.sqrt(n * p * q)
    b = 1.15 + 2.53 * spq
    a = -0.0873 + 0.0248 * b + 0.01 * p
    c = n * p + 0.5
    vr = 0.92 - 4.2 / b
    alpha = (2.83 + 5.1 / b) * spq
    lpq = math.log(p / q)
    m = math.floor((n + 1.0) * p)
    h = math.lgamma(m + 1.0) + math.lgamma(n - m + 1.0)
    while True:
        u = uniform01(s) - 0.5
        v = uniform01(s)
        us = 0.5 - abs(u)
        k = math.floor((2.0 * a / us + b) * u + c)
        if k < 0.0 or k > n:
            continue
        if us >= 0.07 and v <= vr:
            return k
        v = math.log(v * alpha / (a / (us * us) + b))
        if v <= h - math.lgamma(k + 1.0) - math.lgamma(n - k + 1.0) + (k - m) * lpq:
            return k


@njit(cache=True)
def _once(s, code, a, b):
    """One untruncated draw; NaN for invalid parameters."""
    if code == 0:
        return a + b * std_normal(s) if b >= 0.0 else math.nan
    if code == 1:
        return a + (b - a) * uniform01(s) if b >= a else math.nan
    if code == 2:
        return (1.0 if uniform01(s) < a else 0.0) if 0.0 <= a <= 1.0 else math.nan
    if code == 3:
        return binomial(s, a, b)
    if code == 4:
        return a + b * math.tan(math.pi * (uniform01(s) - 0.5)) if b > 0.0 else math.nan
    if code == 5:
        return 2.0 * std_gamma(s, 0.5 * a) if a > 0.0 else math.nan
    if code == 6:
        return -math.log(uniform01(s)) / a if a > 0.0 else math.nan
    if code == 7:
        return b * std_gamma(s, a) if (a > 0.0 and b > 0.0) else math.nan
    if code == 8:
        if not b > 0.0:
            return math.nan
        u = uniform01(s)
        if u < 0.5:
            return a + b * math.log(2.0 * u)
        return a - b * math.log(2.0 * (1.0 - u))
    if code == 9:
        return math.exp(a + b * std_normal(s)) if b >= 0.0 else math.nan
    if code == 10:
        return poisson(s, a)
    if code == 11:
        return a * math.sqrt(-2.0 * math.log(uniform01(s))) if a > 0.0 else math.nan
    return math.nan


@njit(cache=True)
def draw(s, code, a, b, lo, hi):
    """A draw of distribution ``code`` with parameters ``a, b``, truncated to ``[lo, hi]``.

    The bounds are sorted (``lo > hi`` means the same interval as ``hi, lo``); infinite bounds
    do not truncate. NaN when the parameters are invalid or ``MAX_TRIES`` draws all miss.
    """
    if math.isnan(lo) or math.isnan(hi):
        return math.nan
    if lo > hi:
        lo, hi = hi, lo
    for _ in range(MAX_TRIES):
        x = _once(s, code, a, b)
        if math.isnan(x):
            return x
        if lo <= x <= hi:
            return x
    return math.nan
