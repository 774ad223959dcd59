"""Nowak & Bangham 1996: persistent virus (HIV) with a CTL (CD8) response."""

from __future__ import annotations

from .._builder import ModelBuilder
from .._spec import ModelSpec
from . import _terms as t
from ._metadata import Intervention, ModelMetadata, ObservableInfo, Term

NAME = "nowak1996_hiv_ctl"
_ILL = "illustrative value (Nowak & Bangham 1996 analyse the model for general parameters)"

METADATA = ModelMetadata(
    name=NAME,
    title="Persistent virus infection controlled by a CTL (CD8+) response",
    citation=(
        "Nowak MA, Bangham CRM. Population dynamics of immune responses to persistent viruses. "
        "Science. 1996;272(5258):74-79."
    ),
    doi="10.1126/science.272.5258.74",
    pubmed="8600540",
    disease=Term(id="DOID:526", label="human immunodeficiency virus infectious disease"),
    taxon=t.HUMAN,
    pathogen=t.HIV1,
    tags=("hiv", "chronic", "virus", "ctl", "cd8", "t-cell", "antiviral"),
    state_terms=(
        ("x", (t.CD4_T,)),
        ("y", (t.CD4_T, t.VIRAL_PROCESS)),
        ("v", (t.HIV1, t.VIRION)),
        ("z", (t.CD8_T, t.T_CYTOTOX)),
    ),
    authors=("Martin A. Nowak", "Charles R. M. Bangham"),
    version="1.0.0",
    interventions=(
        Intervention(
            name="reverse_transcriptase_inhibitor",
            kind="antiviral",
            parameters=("eps_rti", "t_rti"),
            description="Blocks new infections: beta is multiplied by (1 - eps_rti) from day t_rti.",
        ),
        Intervention(
            name="cd8_depletion",
            kind="depletion",
            parameters=("f_dep", "t_dep"),
            description="Depletes a fraction f_dep of CTL at day t_dep (anti-CD8 antibody experiment).",
        ),
    ),
    observables=(
        ObservableInfo(
            id="viral_load",
            measurement="Plasma viral RNA, copies/uL-equivalents",
            noise="log10normal, sigma in log10 units",
        ),
        ObservableInfo(
            id="ctl",
            measurement="Virus-specific CD8+ T cells per uL (tetramer staining)",
            noise="lognormal",
        ),
    ),
    paper_check=(
        "Equilibrium with CTL given in the paper: y* = b/c, v* = k b/(c u), x* = lambda c u/(d c u + beta b k), "
        "z* = (a/p)(beta lambda c k/(a (d c u + beta b k)) - 1); basic reproductive ratio R0 = beta lambda k/(a d u). "
        "The simulation converges to these closed forms; CTL depletion raises viral load."
    ),
    caveats="Parameter values are illustrative (the paper studies the model analytically).",
)


def build() -> ModelSpec:
    """Build the model (time in days, concentrations per microlitre)."""
    b = ModelBuilder(NAME, name=METADATA.title, time_unit="day")
    b.parameter(
        "lam",
        10.0,
        unit="cells/uL/d",
        lower=0.1,
        upper=1e3,
        source=_ILL,
        name="target cell production lambda",
    )
    b.parameter(
        "d", 0.01, unit="1/d", lower=1e-3, upper=1.0, source=_ILL, name="target cell death rate"
    )
    b.parameter(
        "beta", 0.001, unit="uL/(copy d)", lower=1e-7, upper=1.0, source=_ILL, name="infection rate"
    )
    b.parameter(
        "a", 0.2, unit="1/d", lower=0.01, upper=5.0, source=_ILL, name="infected cell death rate"
    )
    b.parameter(
        "pk",
        0.02,
        unit="uL/(cell d)",
        lower=1e-5,
        upper=10.0,
        source=_ILL,
        name="CTL killing rate p",
    )
    b.parameter(
        "k",
        50.0,
        unit="copies/(cell d)",
        lower=1.0,
        upper=1e5,
        source=_ILL,
        name="virion production",
    )
    b.parameter("u", 5.0, unit="1/d", lower=0.5, upper=50.0, source=_ILL, name="virion clearance")
    b.parameter(
        "c",
        0.005,
        unit="uL/(cell d)",
        lower=1e-6,
        upper=1.0,
        source=_ILL,
        name="CTL proliferation rate",
    )
    b.parameter("bz", 0.1, unit="1/d", lower=0.001, upper=1.0, source=_ILL, name="CTL decay rate b")
    b.fraction("eps_rti", name="RTI efficacy")
    b.start_time("t_rti", unit="d", name="RTI start")
    b.fraction("f_dep", name="depleted fraction")
    b.start_time("t_dep", unit="d", name="depletion time")
    b.parameter(
        "sigma_v",
        0.3,
        unit="log10",
        lower=0.01,
        upper=2.0,
        source="assumed",
        name="viral load noise",
    )
    b.parameter(
        "sigma_z",
        0.3,
        unit="dimensionless",
        lower=0.01,
        upper=2.0,
        source="assumed",
        name="CTL noise (log scale)",
    )
    infect = "(1 - piecewise(eps_rti, time >= t_rti, 0))*beta*x*v"
    b.state("x", 1000.0, f"lam - d*x - {infect}", unit="cells/uL")
    b.state("y", 0.0, f"{infect} - a*y - pk*y*z", unit="cells/uL")
    b.state("v", 1e-3, "k*y - u*v", unit="copies/uL")
    b.state("z", 1.0, "c*y*z - bz*z", unit="cells/uL")
    b.event("deplete", "time >= t_dep", {"z": "z*(1 - f_dep)"})
    b.observable("viral_load", "v", noise="log10normal", sigma="sigma_v", unit="copies/uL")
    b.observable("ctl", "z", noise="lognormal", sigma="sigma_z", unit="cells/uL")
    b.meta(
        citation=METADATA.citation,
        doi=METADATA.doi,
        pubmed=METADATA.pubmed,
        licence=METADATA.licence,
    )
    b.notes(
        "Uninfected cells x, infected cells y, free virus v and CTL z; CTL expand in proportion to "
        "their encounters with infected cells (c y z) and kill them (p y z)."
    )
    return b.build()
