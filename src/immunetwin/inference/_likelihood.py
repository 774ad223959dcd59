"""Likelihood terms in residual form, so that least squares (Gauss-Newton, trust region) works.

Every observation contributes ``0.5 * r**2`` (plus a constant) to the negative log likelihood:

* an observed value, normal noise: ``r = (y - mu) / sigma`` (the ``log sigma`` term is added
  separately, see :mod:`immunetwin.inference._problem`);
* an observed value, Student-t noise with ``df`` degrees of freedom:
  ``r = sign(z) * sqrt((df + 1) * log1p(z**2 / df))`` with ``z = (y - mu) / sigma``;
* a censored value (M3 method): ``r = sqrt(-2 log P)`` where ``P`` is the probability of the
  censoring event: ``F(zL)`` (left, below the limit), ``1 - F(zL)`` (right, above the limit),
  ``F(zU) - F(zL)`` (interval), ``z = (bound - mu) / sigma``.

The functions return ``r`` and its derivatives with respect to ``mu`` and ``sigma``; they are safe
in the tails (``log_ndtr`` and logs of probabilities throughout).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import special, stats

Array = np.ndarray[Any, Any]

__all__ = ["CENSOR_CODES", "residuals"]

#: integer codes of the censoring kinds used in the stacked arrays
CENSOR_CODES = {"none": 0, "left": 1, "right": 2, "interval": 3}
_LOG_SQRT_2PI = 0.5 * np.log(2.0 * np.pi)


def _logcdf(z: Array, df: Array) -> Array:
    out = np.empty_like(z)
    gauss = ~np.isfinite(df)
    if gauss.any():
        out[gauss] = special.log_ndtr(z[gauss])
    if (~gauss).any():
        out[~gauss] = stats.t.logcdf(z[~gauss], df[~gauss])
    return out


def _logpdf(z: Array, df: Array) -> Array:
    out = np.empty_like(z)
    gauss = ~np.isfinite(df)
    if gauss.any():
        out[gauss] = -0.5 * z[gauss] ** 2 - _LOG_SQRT_2PI
    if (~gauss).any():
        out[~gauss] = stats.t.logpdf(z[~gauss], df[~gauss])
    return out


def _from_logp(logp: Array) -> tuple[Array, Array]:
    """``r = sqrt(-2 logp)`` and ``log r`` (``-inf`` where ``r`` is 0)."""
    g = np.maximum(-2.0 * logp, 0.0)
    r = np.sqrt(g)
    with np.errstate(divide="ignore"):
        logr = np.log(r)
    return r, logr


def residuals(
    mu: Array,
    sigma: Array,
    value: Array,
    lower: Array,
    upper: Array,
    code: Array,
    df: Array,
) -> tuple[Array, Array, Array]:
    """Residuals of observations and their derivatives.

    Parameters
    ----------
    mu, sigma
        Predictions and noise scales on the observation scale, shape ``(N, n)`` (``N`` parameter
        vectors, ``n`` observations).
    value, lower, upper, code, df
        Per observation, shape ``(n,)``: the value (uncensored), the bounds (``lower`` is the
        limit of left/right censoring and the lower end of an interval), the censoring code
        (:data:`CENSOR_CODES`) and the Student-t degrees of freedom (``inf`` for normal noise).

    Returns
    -------
    r, dr_dmu, dr_dsigma
        Arrays of shape ``(N, n)``.
    """
    mu = np.asarray(mu, dtype=float)
    sigma = np.broadcast_to(np.asarray(sigma, dtype=float), mu.shape)
    N, n = mu.shape
    r = np.zeros((N, n))
    dmu = np.zeros((N, n))
    dsig = np.zeros((N, n))
    dfb = np.broadcast_to(df, (N, n))

    # ---- observed values
    obs = code == 0
    if obs.any():
        z = (value[obs] - mu[:, obs]) / sigma[:, obs]
        d = dfb[:, obs]
        gauss = ~np.isfinite(d)
        rr = np.where(gauss, z, 0.0)
        drdz = np.where(gauss, 1.0, 0.0)
        t = ~gauss
        if t.any():
            zt, dt = z[t], d[t]
            f = (dt + 1.0) * np.log1p(zt**2 / dt)
            rt = np.sign(zt) * np.sqrt(f)
            small = np.abs(zt) < 1e-6
            fprime = (dt + 1.0) * 2.0 * zt / (dt + zt**2)
            with np.errstate(divide="ignore", invalid="ignore"):
                drt = np.where(small, np.sqrt((dt + 1.0) / dt), np.abs(fprime) / (2.0 * np.abs(rt)))
            rr[t] = rt
            drdz[t] = drt
        r[:, obs] = rr
        dmu[:, obs] = -drdz / sigma[:, obs]
        dsig[:, obs] = -drdz * z / sigma[:, obs]

    # ---- one-sided censoring: left uses F(zL), right uses F(-zL)
    for c, sgn in ((1, 1.0), (2, -1.0)):
        sel = code == c
        if not sel.any():
            continue
        z = (lower[sel] - mu[:, sel]) / sigma[:, sel]
        u = sgn * z
        d = dfb[:, sel]
        logp = _logcdf(u, d)
        rr, logr = _from_logp(logp)
        # dr/du = -pdf(u)/P / r
        with np.errstate(invalid="ignore", over="ignore"):
            ratio = np.exp(_logpdf(u, d) - logp - logr)
        ratio = np.where(rr > 1e-150, ratio, 0.0)
        drdz = -ratio * sgn
        r[:, sel] = rr
        dmu[:, sel] = -drdz / sigma[:, sel]
        dsig[:, sel] = -drdz * z / sigma[:, sel]

    # ---- interval censoring
    sel = code == 3
    if sel.any():
        zl = (lower[sel] - mu[:, sel]) / sigma[:, sel]
        zu = (upper[sel] - mu[:, sel]) / sigma[:, sel]
        d = dfb[:, sel]
        upper_tail = zl > 0
        # P = F(zu) - F(zl) = F(-zl) - F(-zu)
        a = np.where(upper_tail, -zl, zu)
        b = np.where(upper_tail, -zu, zl)
        la, lb = _logcdf(a, d), _logcdf(b, d)
        with np.errstate(divide="ignore", invalid="ignore"):
            logp = la + np.log1p(-np.exp(np.minimum(lb - la, 0.0)))
        logp = np.where(np.isfinite(logp), logp, -745.0)
        rr, logr = _from_logp(logp)
        with np.errstate(invalid="ignore", over="ignore"):
            ru = np.exp(_logpdf(zu, d) - logp - logr)
            rl = np.exp(_logpdf(zl, d) - logp - logr)
        ok = rr > 1e-150
        ru = np.where(ok, ru, 0.0)
        rl = np.where(ok, rl, 0.0)
        # dr/dzu = -pdf(zu)/P/r ; dr/dzl = +pdf(zl)/P/r
        r[:, sel] = rr
        s = sigma[:, sel]
        dmu[:, sel] = (ru - rl) / s
        dsig[:, sel] = (ru * zu - rl * zl) / s
    return r, dmu, dsig


def observation_constant(code: Array, df: Array) -> float:
    """The constant part of the negative log likelihood of the observed (uncensored) values.

    ``0.5 log(2 pi)`` per normal value, the Student-t normaliser per Student-t value; the
    ``log sigma`` terms are not included.
    """
    obs = code == 0
    d = df[obs]
    gauss = ~np.isfinite(d)
    const = float(gauss.sum()) * _LOG_SQRT_2PI
    dt = d[~gauss]
    if dt.size:
        const += float(
            np.sum(
                -special.gammaln((dt + 1.0) / 2.0)
                + special.gammaln(dt / 2.0)
                + 0.5 * np.log(dt * np.pi)
            )
        )
    return float(const)
