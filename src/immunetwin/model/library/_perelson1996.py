"""Perelson et al. 1996: HIV-1 decline after a protease inhibitor (infectious and non-infectious virus)."""

from __future__ import annotations

from .._builder import ModelBuilder
from .._spec import ModelSpec
from . import _terms as t
from ._metadata import Intervention, ModelMetadata, ObservableInfo, Term

NAME = "perelson1996_hiv"
_ABS = "Perelson et al. 1996 Science 271:1582, abstract (mean over 5 patients)"

METADATA = ModelMetadata(
    name=NAME,
    title="HIV-1 dynamics under protease-inhibitor therapy (infectious and non-infectious virions)",
    citation=(
        "Perelson AS, Neumann AU, Markowitz M, Leonard JM, Ho DD. HIV-1 dynamics in vivo: virion clearance "
        "rate, infected cell life-span, and viral generation time. Science. 1996;271(5255):1582-1586."
    ),
    doi="10.1126/science.271.5255.1582",
    pubmed="8599114",
    disease=Term(id="DOID:526", label="human immunodeficiency virus infectious disease"),
    taxon=t.HUMAN,
    pathogen=t.HIV1,
    tags=("hiv", "chronic", "virus", "therapy", "protease-inhibitor"),
    state_terms=(
        ("Tstar", (t.CD4_T, t.VIRAL_PROCESS)),
        ("VI", (t.HIV1, t.VIRION)),
        ("VNI", (t.HIV1, t.VIRION)),
    ),
    authors=(
        "Alan S. Perelson",
        "Avidan U. Neumann",
        "Martin Markowitz",
        "John M. Leonard",
        "David D. Ho",
    ),
    version="1.0.0",
    interventions=(
        Intervention(
            name="protease_inhibitor",
            kind="antiviral",
            parameters=("eta_pi", "t_pi"),
            description="From day t_pi a fraction eta_pi of new virions is non-infectious (ritonavir; the paper assumes eta_pi = 1).",
            default_on=True,
        ),
    ),
    observables=(
        ObservableInfo(
            id="viral_load",
            measurement="Plasma HIV-1 RNA, copies/mL (bDNA / RT-PCR), infectious plus non-infectious virions",
            noise="log10normal: log10 copies/mL with sigma in log10 units",
        ),
    ),
    paper_check=(
        "Abstract: virion half-life 0.24 d and productively infected cell half-life 1.6 d (means); viral "
        "generation time 2.6 d. The simulated decline after therapy equals the paper's closed-form solution "
        "(its eq. for V(t) with eta_pi = 1) and its terminal slope gives delta."
    ),
    caveats=(
        "c and delta are set from the abstract's mean half-lives; the baseline viral load V0 and burst size N "
        "are illustrative (N cancels out of V(t) when the pre-therapy state is a steady state)."
    ),
)


def build() -> ModelSpec:
    """Build the model (time in days; therapy starts at t_pi = 0 by default)."""
    b = ModelBuilder(NAME, name=METADATA.title, time_unit="day")
    b.parameter(
        "c",
        2.888,
        unit="1/d",
        lower=0.5,
        upper=40.0,
        estimate=True,
        source=_ABS + ": virion half-life 0.24 d, c = ln2/0.24",
        name="virion clearance rate",
    )
    b.parameter(
        "delta",
        0.4332,
        unit="1/d",
        lower=0.05,
        upper=2.0,
        estimate=True,
        source=_ABS + ": infected-cell half-life 1.6 d, delta = ln2/1.6",
        name="infected cell death rate",
    )
    b.parameter(
        "N",
        100.0,
        unit="virions/cell",
        lower=1.0,
        upper=1e5,
        source="illustrative burst size (cancels from V(t) at pre-therapy steady state)",
        name="burst size",
    )
    b.parameter(
        "V0",
        1e5,
        unit="copies/mL",
        lower=1e2,
        upper=1e7,
        estimate=True,
        source="illustrative baseline viral load (patients in Perelson 1996 had 10^4-10^5.5 copies/mL)",
        name="baseline viral load",
    )
    b.parameter(
        "eta_pi",
        1.0,
        unit="dimensionless",
        lower=0.0,
        upper=1.0,
        log_scale=False,
        source="Perelson 1996: protease inhibitor assumed 100% effective",
        name="PI efficacy",
    )
    b.parameter(
        "t_pi",
        0.0,
        unit="d",
        lower=0.0,
        upper=1e6,
        log_scale=False,
        source="intervention input: start of ritonavir",
        name="PI start",
    )
    b.parameter(
        "kT",
        0.02888,
        unit="mL/(copy d) * cells",
        constant=False,
        source="derived: k*T0 = c/N at the pre-therapy steady state (Perelson 1996 model assumption)",
        name="infection rate times target cells",
    )
    b.assign("kT", "c/N")
    b.parameter(
        "sigma_vl",
        0.2,
        unit="log10 copies/mL",
        lower=0.05,
        upper=1.0,
        source="assumed assay error of log10 RNA",
        name="viral load noise",
    )
    b.state("Tstar", 0.0, "kT*VI - delta*Tstar", unit="cells/mL")
    b.state(
        "VI", 1e5, "(1 - piecewise(eta_pi, time >= t_pi, 0))*N*delta*Tstar - c*VI", unit="copies/mL"
    )
    b.state(
        "VNI", 0.0, "piecewise(eta_pi, time >= t_pi, 0)*N*delta*Tstar - c*VNI", unit="copies/mL"
    )
    b.initial("Tstar", "c*V0/(N*delta)")
    b.initial("VI", "V0")
    b.observable(
        "viral_load",
        "VI + VNI",
        noise="log10normal",
        sigma="sigma_vl",
        unit="copies/mL",
        name="plasma HIV-1 RNA",
    )
    b.meta(
        citation=METADATA.citation,
        doi=METADATA.doi,
        pubmed=METADATA.pubmed,
        licence=METADATA.licence,
    )
    b.notes(
        "Target cells are constant over the first week (kT = k*T0). Infected cells Tstar die at rate delta and "
        "release N virions each; under the protease inhibitor a fraction eta_pi of virions is non-infectious (VNI)."
    )
    return b.build()
