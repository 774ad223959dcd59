"""Neumann et al. 1998: hepatitis C viral dynamics and the efficacy of interferon-alpha."""

from __future__ import annotations

from .._builder import ModelBuilder
from .._spec import ModelSpec
from . import _terms as t
from ._metadata import Intervention, ModelMetadata, ObservableInfo, Term

NAME = "neumann1998_hcv"
_ABS = "Neumann et al. 1998 Science 282:103, abstract"

METADATA = ModelMetadata(
    name=NAME,
    title="Hepatitis C virus dynamics under interferon-alpha (production-blocking efficacy epsilon)",
    citation=(
        "Neumann AU, Lam NP, Dahari H, Gretch DR, Wiley TE, Layden TJ, Perelson AS. Hepatitis C viral dynamics "
        "in vivo and the antiviral efficacy of interferon-alpha therapy. Science. 1998;282(5386):103-107."
    ),
    doi="10.1126/science.282.5386.103",
    pubmed="9756471",
    disease=Term(id="DOID:1883", label="hepatitis C"),
    taxon=t.HUMAN,
    pathogen=t.HCV,
    tags=("hcv", "hepatitis", "chronic", "virus", "therapy", "interferon"),
    state_terms=(
        ("T", (t.HEPATOCYTE,)),
        ("I", (t.HEPATOCYTE, t.VIRAL_PROCESS)),
        ("V", (t.HCV, t.VIRION)),
    ),
    authors=(
        "Avidan U. Neumann",
        "Nancy P. Lam",
        "Harel Dahari",
        "David R. Gretch",
        "Thelma E. Wiley",
        "Thomas J. Layden",
        "Alan S. Perelson",
    ),
    version="1.0.0",
    interventions=(
        Intervention(
            name="interferon_alpha",
            kind="antiviral",
            parameters=("eps", "eta", "t_ifn"),
            description=(
                "From day t_ifn interferon blocks virion production by a fraction eps (81/95/96% for 5/10/15 MU "
                "daily) and de novo infection by a fraction eta (the paper finds eta small)."
            ),
            default_on=True,
        ),
    ),
    observables=(
        ObservableInfo(
            id="viral_load",
            measurement="Serum HCV RNA, copies/mL (bDNA / RT-PCR)",
            noise="log10normal: log10 copies/mL with sigma in log10 units",
        ),
    ),
    paper_check=(
        "Abstract: production-blocking efficacies 81/95/96% for 5/10/15 MU IFN; virion half-life 2.7 h. The "
        "simulated biphasic decline has a first-phase drop of -log10(1 - eps) and a second-phase slope eps*delta "
        "(the paper's approximations), checked for the three doses."
    ),
    caveats=(
        "delta = 0.14/d is one value inside the abstract's range of infected-cell half-lives (1.7-70 d); "
        "baseline viral load and the hepatocyte turnover parameters (d, p, beta) are illustrative; the starting "
        "state is the pre-treatment steady state."
    ),
)


def build() -> ModelSpec:
    """Build the model (time in days; interferon starts at t_ifn = 0 by default)."""
    b = ModelBuilder(NAME, name=METADATA.title, time_unit="day")
    b.parameter(
        "c",
        6.2,
        unit="1/d",
        lower=0.5,
        upper=50.0,
        estimate=True,
        source=_ABS + ": virion half-life 2.7 h (c = ln2/(2.7/24) = 6.2/d)",
        name="virion clearance rate",
    )
    b.parameter(
        "delta",
        0.14,
        unit="1/d",
        lower=0.01,
        upper=1.0,
        estimate=True,
        source=_ABS + ": infected-cell half-life 1.7-70 d (value within range)",
        name="infected cell death rate",
    )
    b.parameter(
        "eps",
        0.96,
        unit="dimensionless",
        lower=0.0,
        upper=1.0,
        log_scale=False,
        source=_ABS + ": 96% at 15 MU daily (81% at 5 MU, 95% at 10 MU)",
        name="production-blocking efficacy",
    )
    b.fraction(
        "eta",
        source="Neumann 1998: infection-blocking efficacy found small (set 0)",
        name="infection-blocking efficacy",
    )
    b.parameter(
        "t_ifn",
        0.0,
        unit="d",
        lower=0.0,
        upper=1e6,
        log_scale=False,
        source="intervention input: start of IFN",
        name="IFN start",
    )
    b.parameter(
        "V0",
        3e6,
        unit="copies/mL",
        lower=1e3,
        upper=1e8,
        estimate=True,
        source="illustrative pre-treatment viral load (typical of the cohort, 10^6-10^7 copies/mL)",
        name="baseline viral load",
    )
    b.parameter(
        "p",
        10.0,
        unit="copies/mL/d per cell",
        lower=1e-3,
        upper=1e4,
        source="illustrative (scales I only; V(t) does not depend on it at steady state)",
        name="virion production rate",
    )
    b.parameter(
        "beta",
        1e-7,
        unit="mL/(copy d)",
        lower=1e-12,
        upper=1e-3,
        source="illustrative (sets the target-cell level only)",
        name="infection rate",
    )
    b.parameter(
        "d",
        0.003,
        unit="1/d",
        lower=1e-4,
        upper=0.1,
        source="illustrative hepatocyte death rate",
        name="target cell death rate",
    )
    b.parameter(
        "s",
        1.0,
        unit="cells/mL/d",
        constant=False,
        source="derived: the supply that makes the initial state the pre-treatment steady state",
        name="target cell supply",
    )
    b.assign("s", "d*delta*c/(beta*p) + delta*c*V0/p")
    b.parameter(
        "sigma_vl",
        0.2,
        unit="log10 copies/mL",
        lower=0.05,
        upper=1.0,
        source="assumed assay error of log10 RNA",
        name="viral load noise",
    )
    b.state("T", 1.0, "s - d*T - (1 - piecewise(eta, time >= t_ifn, 0))*beta*V*T", unit="cells/mL")
    b.state("I", 0.0, "(1 - piecewise(eta, time >= t_ifn, 0))*beta*V*T - delta*I", unit="cells/mL")
    b.state("V", 1.0, "(1 - piecewise(eps, time >= t_ifn, 0))*p*I - c*V", unit="copies/mL")
    b.initial("T", "delta*c/(beta*p)")
    b.initial("I", "c*V0/p")
    b.initial("V", "V0")
    b.observable(
        "viral_load",
        "V",
        noise="log10normal",
        sigma="sigma_vl",
        unit="copies/mL",
        name="serum HCV RNA",
    )
    b.meta(
        citation=METADATA.citation,
        doi=METADATA.doi,
        pubmed=METADATA.pubmed,
        licence=METADATA.licence,
    )
    b.notes(
        "Standard target-cell model started at the chronic steady state; interferon reduces production by eps."
    )
    return b.build()
