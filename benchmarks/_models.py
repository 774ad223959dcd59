"""Models shared by the benchmark scripts, written with :class:`immunetwin.model.ModelBuilder`."""

from __future__ import annotations

from immunetwin.model import ModelBuilder, ModelSpec

__all__ = ["BUILTIN", "RATE_CONSTANTS", "within_host"]

RATE_CONSTANTS = ("beta", "p", "c", "delta")
"""The four rate constants the cohort benchmark spreads (log-normal, 30%)."""


def within_host() -> ModelSpec:
    """A 7-state stiff within-host model of influenza with interferon and CD8 effectors.

    States: target cells T, refractory (interferon-protected) cells R, eclipse cells E, infected
    cells I, virus V (TCID50/mL), interferon F and CD8 effector cells C. Time in days. Rates span
    about 1e-1 to 1e4 per day (beta*T0 ~ 1e4/d), which makes the system stiff. Parameter values
    are of the magnitude of published influenza fits (Baccam et al. 2006; Saenz et al. 2010;
    Miao et al. 2010); they are illustrative, not a calibrated model.
    """
    b = ModelBuilder(
        "within_host", name="Influenza within-host model with interferon and CD8 effectors"
    )
    b.parameter(
        "beta",
        2.7e-5,
        unit="1/(TCID50/mL)/d",
        lower=1e-8,
        upper=1e-2,
        estimate=True,
        source="Baccam 2006",
    )
    b.parameter("phi", 0.05, unit="1/(pg/mL)/d", lower=1e-4, upper=10.0)
    b.parameter("rho", 0.5, unit="1/d", lower=1e-3, upper=10.0)
    b.parameter("k", 4.0, unit="1/d", lower=0.1, upper=20.0, source="Baccam 2006")
    b.parameter("delta", 2.0, unit="1/d", lower=0.1, upper=20.0, estimate=True)
    b.parameter("kC", 5e-6, unit="1/cell/d", lower=1e-9, upper=1e-3)
    b.parameter("p", 0.04, unit="TCID50/mL/cell/d", lower=1e-5, upper=10.0, estimate=True)
    b.parameter("c", 10.0, unit="1/d", lower=0.1, upper=100.0, estimate=True)
    b.parameter("q", 1e-6, unit="pg/mL/cell/d", lower=1e-10, upper=1e-2)
    b.parameter("d", 10.0, unit="1/d", lower=0.1, upper=100.0)
    b.parameter("r", 1.0, unit="1/d", lower=0.01, upper=5.0)
    b.parameter("Kc", 1e5, unit="cell", lower=1.0, upper=1e9)
    b.parameter("sC", 10.0, unit="cell/d", lower=0.0, upper=1e4)
    b.parameter("dC", 0.1, unit="1/d", lower=1e-3, upper=5.0)
    b.state("T", 4e8, "-beta*T*V - phi*F*T + rho*R", unit="cell", name="target cells")
    b.state("R", 0.0, "phi*F*T - rho*R", unit="cell", name="refractory cells")
    b.state("E", 0.0, "beta*T*V - k*E", unit="cell", name="eclipse cells")
    b.state("I", 0.0, "k*E - delta*I - kC*C*I", unit="cell", name="infected cells")
    b.state("V", 9.3e-2, "p*I - c*V", unit="TCID50/mL", name="virus")
    b.state("F", 0.0, "q*I - d*F", unit="pg/mL", name="interferon")
    b.state("C", 100.0, "r*I*C/(I + Kc) + sC - dC*C", unit="cell", name="CD8 effector cells")
    b.observable("log10_V", "log10(V + 1)", noise="normal", sigma=0.5)
    b.meta(description="benchmark model of immunetwin (benchmarks/_models.py)")
    return b.build()


BUILTIN = {"within_host": within_host}
"""Built-in benchmark models by name."""
