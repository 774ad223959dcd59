"""Priors on the estimation scale: univariate priors from the model and Gaussian (population) priors.

Conventions
-----------
The *estimation scale* of a parameter is ``log(value)`` for a parameter estimated on log scale
(the default) and the value itself otherwise. The objective of a fit is the negative log posterior
*density on the estimation scale*, so a prior given for the natural value contributes its
change-of-variables term (``-theta`` for a log-scale parameter).

* :class:`~immunetwin.model.Prior` (``normal``, ``lognormal``, ``uniform``, ``loguniform``) is a
  prior on the natural value, as stored in a model's parameter table.
* :class:`GaussianPrior` is a (multivariate) normal prior directly on the estimation scale of
  named parameters: the form a population fit hands to a new subject.
* :class:`PopulationPrior` is what a population (mixed-effects) fit produces; its
  :meth:`PopulationPrior.for_subject` gives the :class:`GaussianPrior` of one subject.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..data import Subject
from ..errors import FitError
from ..model import Prior

__all__ = ["GaussianPrior", "PopulationPrior", "Prior"]

Array = np.ndarray[Any, Any]
_PRIOR_KINDS = ("normal", "lognormal", "uniform", "loguniform")


@dataclass(frozen=True, eq=False)
class GaussianPrior:
    """A multivariate normal prior on the estimation scale of named parameters.

    Attributes
    ----------
    mean : Mapping[str, float]
        Mean of each parameter on its estimation scale (``log`` value for log-scale parameters).
    cov : pandas.DataFrame
        Covariance, rows and columns labelled by parameter id (same set as ``mean``).
    source : str
        Where it comes from (e.g. ``"population fit of kissler2021, 46 subjects"``).
    """

    mean: Mapping[str, float]
    cov: pd.DataFrame
    source: str = ""

    def __post_init__(self) -> None:
        names = list(self.mean)
        if not names:
            raise FitError("GaussianPrior: no parameters")
        rows, cols = [str(c) for c in self.cov.index], [str(c) for c in self.cov.columns]
        if set(rows) != set(names) or set(cols) != set(names):
            raise FitError(
                f"GaussianPrior: covariance labels {sorted(rows)} do not match the means {sorted(names)}"
            )
        cov = self.cov.loc[names, names].to_numpy(dtype=float)
        if not np.all(np.isfinite(cov)) or not np.allclose(cov, cov.T, rtol=1e-8, atol=1e-12):
            raise FitError("GaussianPrior: covariance must be finite and symmetric")
        try:
            np.linalg.cholesky(cov)
        except np.linalg.LinAlgError:
            raise FitError("GaussianPrior: covariance is not positive definite") from None
        for k, v in self.mean.items():
            if not np.isfinite(v):
                raise FitError(f"GaussianPrior: mean of '{k}' is not finite")
        object.__setattr__(self, "mean", {str(k): float(v) for k, v in self.mean.items()})
        object.__setattr__(self, "cov", pd.DataFrame(cov, index=names, columns=names))

    @property
    def names(self) -> tuple[str, ...]:
        """Parameter ids, in order."""
        return tuple(self.mean)

    @property
    def sd(self) -> dict[str, float]:
        """Marginal standard deviations by parameter."""
        d = np.sqrt(np.diag(self.cov.to_numpy()))
        return dict(zip(self.names, (float(x) for x in d), strict=True))

    @classmethod
    def independent(
        cls, mean: Mapping[str, float], sd: Mapping[str, float], *, source: str = ""
    ) -> GaussianPrior:
        """A prior with independent components: ``mean`` and ``sd`` by parameter."""
        names = list(mean)
        if set(sd) != set(names):
            raise FitError("GaussianPrior.independent: mean and sd name different parameters")
        cov = pd.DataFrame(np.diag([float(sd[n]) ** 2 for n in names]), index=names, columns=names)
        return cls(mean=dict(mean), cov=cov, source=source)

    def marginal(self, names: list[str] | tuple[str, ...]) -> GaussianPrior:
        """The marginal prior of a subset of the parameters."""
        missing = [n for n in names if n not in self.mean]
        if missing:
            raise FitError(f"GaussianPrior: no parameter(s) {missing}")
        return GaussianPrior(
            mean={n: self.mean[n] for n in names},
            cov=self.cov.loc[list(names), list(names)],
            source=self.source,
        )


def _covariate_values(covariates: Mapping[str, Any] | Subject | None) -> dict[str, Any]:
    if covariates is None:
        return {}
    if isinstance(covariates, Subject):
        out: dict[str, Any] = dict(covariates.attributes)
        if covariates.age is not None:
            out["age"] = covariates.age
        if covariates.sex is not None:
            out["sex"] = covariates.sex
        return out
    return dict(covariates)


@dataclass(frozen=True, eq=False)
class PopulationPrior:
    """A population distribution of log-parameters, as produced by a population fit.

    For a subject with covariates ``c``, the log-parameters are normal with mean
    ``mean[p] + sum_k covariate_effects[p][k] * c[k]`` and covariance ``cov``.

    Attributes
    ----------
    mean : Mapping[str, float]
        Population means of the log-parameters (estimation scale), by parameter id.
    cov : pandas.DataFrame
        Covariance of the log-parameters (random effects), labelled by parameter id.
    covariate_effects : Mapping[str, Mapping[str, float]]
        ``{parameter: {covariate: coefficient}}``: the shift of the log-parameter per unit of the
        covariate (centre covariates in the producing fit if needed; a boolean covariate counts
        as 0/1).
    source : str
        Provenance (the data set and fit that produced it).
    """

    mean: Mapping[str, float]
    cov: pd.DataFrame
    covariate_effects: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    source: str = ""

    def __post_init__(self) -> None:
        base = GaussianPrior(mean=self.mean, cov=self.cov, source=self.source)
        object.__setattr__(self, "mean", dict(base.mean))
        object.__setattr__(self, "cov", base.cov)
        for p, effects in self.covariate_effects.items():
            if p not in base.mean:
                raise FitError(f"PopulationPrior: covariate effect on unknown parameter '{p}'")
            for c, beta in effects.items():
                if not np.isfinite(float(beta)):
                    raise FitError(f"PopulationPrior: effect of '{c}' on '{p}' is not finite")
        object.__setattr__(
            self,
            "covariate_effects",
            {
                p: {str(c): float(b) for c, b in e.items()}
                for p, e in self.covariate_effects.items()
            },
        )

    @property
    def names(self) -> tuple[str, ...]:
        """Parameter ids, in order."""
        return tuple(self.mean)

    def for_subject(self, covariates: Mapping[str, Any] | Subject | None = None) -> GaussianPrior:
        """The prior of one subject's log-parameters given its covariates.

        Raises
        ------
        FitError
            If a covariate that has an effect is missing or not numeric.
        """
        values = _covariate_values(covariates)
        mean = dict(self.mean)
        for p, effects in self.covariate_effects.items():
            for c, beta in effects.items():
                if c not in values or values[c] is None:
                    raise FitError(f"PopulationPrior: covariate '{c}' (effect on '{p}') is missing")
                v = values[c]
                try:
                    x = float(v)
                except (TypeError, ValueError):
                    raise FitError(
                        f"PopulationPrior: covariate '{c}' must be numeric, got {v!r}"
                    ) from None
                mean[p] += beta * x
        src = self.source + (f" | covariates {values}" if self.covariate_effects else "")
        return GaussianPrior(mean=mean, cov=self.cov, source=src)


# ---------------------------------------------------------------------- univariate priors
@dataclass(frozen=True)
class PriorTerms:
    """A prior of the estimation-scale vector, as least-squares pieces.

    ``-log p(theta) = 0.5*|L^-1 (A x(theta) - m)|^2 + sum_j coef_j * u_j(theta) + const`` where
    the squared part stacks ``rows`` residuals, and each linear/log term is ``coef * theta_i``
    (``kind == 0``) or ``coef * log theta_i`` (``kind == 1``).
    """

    # residuals of the form (f(theta_i) - a)/b with f = identity, exp or log
    sq_index: Array  # parameter index
    sq_fun: Array  # 0: theta, 1: exp(theta), 2: log(theta)
    sq_a: Array
    sq_b: Array
    # a multivariate Gaussian block on the estimation scale
    mvn_index: Array
    mvn_mean: Array
    mvn_chol_inv: Array
    # coefficient terms
    lin_index: Array
    lin_coef: Array
    lin_kind: Array  # 0: theta, 1: log(theta)
    const: float


def build_prior_terms(
    names: tuple[str, ...],
    log_scale: tuple[bool, ...],
    priors: Mapping[str, Prior],
    gaussian: GaussianPrior | None,
) -> PriorTerms:
    """Translate priors into :class:`PriorTerms` (see the module docstring for the scale)."""
    index = {n: i for i, n in enumerate(names)}
    sq_i: list[int] = []
    sq_f: list[int] = []
    sq_a: list[float] = []
    sq_b: list[float] = []
    lin_i: list[int] = []
    lin_c: list[float] = []
    lin_k: list[int] = []
    const = 0.0
    covered = set(gaussian.names) if gaussian is not None else set()
    for name, pr in priors.items():
        if name not in index:
            raise FitError(f"prior for '{name}', which is not estimated")
        if name in covered:
            continue
        i = index[name]
        lg = log_scale[i]
        kind = pr.kind
        a, b = float(pr.a), float(pr.b)
        if kind not in _PRIOR_KINDS:
            raise FitError(f"prior of '{name}': unknown kind '{kind}' (use one of {_PRIOR_KINDS})")
        if kind in ("normal", "lognormal") and not (b > 0 and np.isfinite(a)):
            raise FitError(
                f"prior of '{name}': {kind} needs a finite location and a positive scale"
            )
        if kind in ("uniform", "loguniform") and not (a < b):
            raise FitError(f"prior of '{name}': {kind} needs lower < upper")
        if kind == "loguniform" and a <= 0:
            raise FitError(f"prior of '{name}': loguniform needs a positive lower bound")
        if kind == "normal":
            sq_i.append(i)
            sq_f.append(1 if lg else 0)
            sq_a.append(a)
            sq_b.append(b)
            const += np.log(b) + 0.5 * np.log(2 * np.pi)
            if lg:  # density of theta = log x picks up + theta
                lin_i.append(i)
                lin_c.append(-1.0)
                lin_k.append(0)
        elif kind == "lognormal":
            sq_i.append(i)
            sq_f.append(0 if lg else 2)
            sq_a.append(a)
            sq_b.append(b)
            const += np.log(b) + 0.5 * np.log(2 * np.pi)
            if not lg:  # density of x: 1/x factor
                lin_i.append(i)
                lin_c.append(1.0)
                lin_k.append(1)
        elif kind == "uniform":
            const += np.log(b - a)
            if lg:
                lin_i.append(i)
                lin_c.append(-1.0)
                lin_k.append(0)
        else:  # loguniform
            const += np.log(np.log(b / a))
            if not lg:
                lin_i.append(i)
                lin_c.append(1.0)
                lin_k.append(1)
    if gaussian is not None:
        missing = [n for n in gaussian.names if n not in index]
        if missing:
            raise FitError(f"Gaussian prior names parameter(s) {missing} that are not estimated")
        mvn_index = np.asarray([index[n] for n in gaussian.names], dtype=np.int64)
        cov = gaussian.cov.to_numpy(dtype=float)
        chol = np.linalg.cholesky(cov)
        chol_inv = np.linalg.inv(chol)
        mvn_mean = np.asarray([gaussian.mean[n] for n in gaussian.names])
        const += float(np.sum(np.log(np.diag(chol)))) + 0.5 * len(mvn_index) * np.log(2 * np.pi)
    else:
        mvn_index = np.zeros(0, dtype=np.int64)
        mvn_mean = np.zeros(0)
        chol_inv = np.zeros((0, 0))
    return PriorTerms(
        sq_index=np.asarray(sq_i, dtype=np.int64),
        sq_fun=np.asarray(sq_f, dtype=np.int64),
        sq_a=np.asarray(sq_a, dtype=float),
        sq_b=np.asarray(sq_b, dtype=float),
        mvn_index=mvn_index,
        mvn_mean=mvn_mean,
        mvn_chol_inv=chol_inv,
        lin_index=np.asarray(lin_i, dtype=np.int64),
        lin_coef=np.asarray(lin_c, dtype=float),
        lin_kind=np.asarray(lin_k, dtype=np.int64),
        const=float(const),
    )
