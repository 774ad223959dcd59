"""Perelson, Kirschner & De Boer 1993: HIV infection of CD4+ T cells (latent and productive)."""

from __future__ import annotations

from .._builder import ModelBuilder
from .._spec import ModelSpec
from . import _terms as t
from ._metadata import Intervention, ModelMetadata, ObservableInfo, Term

NAME = "perelson1993_hiv"
_T1 = "Perelson, Kirschner & De Boer 1993 Math Biosci 114:81, Table 1"

METADATA = ModelMetadata(
    name=NAME,
    title="HIV infection of CD4+ T cells with latently and actively infected cells",
    citation=(
        "Perelson AS, Kirschner DE, De Boer R. Dynamics of HIV infection of CD4+ T cells. "
        "Math Biosci. 1993;114(1):81-125."
    ),
    doi="10.1016/0025-5564(93)90043-A",
    pubmed="8096155",
    disease=Term(id="DOID:526", label="human immunodeficiency virus infectious disease"),
    taxon=t.HUMAN,
    pathogen=t.HIV1,
    tags=("hiv", "chronic", "virus", "cd4", "t-cell", "antiviral"),
    state_terms=(
        ("T", (t.CD4_T,)),
        ("T1", (t.CD4_T, t.VIRAL_PROCESS)),
        ("T2", (t.CD4_T, t.VIRAL_PROCESS)),
        ("V", (t.HIV1, t.VIRION)),
    ),
    authors=("Alan S. Perelson", "Denise E. Kirschner", "Rob De Boer"),
    version="1.0.0",
    interventions=(
        Intervention(
            name="reverse_transcriptase_inhibitor",
            kind="antiviral",
            parameters=("eps_rti", "t_rti"),
            description="Blocks infection: k1 is multiplied by (1 - eps_rti) from day t_rti (AZT-like).",
        ),
    ),
    observables=(
        ObservableInfo(
            id="cd4_count",
            measurement="Blood CD4+ T-cell count, cells/mm^3 (flow cytometry)",
            noise="lognormal (multiplicative, ~10-20%)",
        ),
        ObservableInfo(
            id="viral_load", measurement="Free virus, particles/mm^3", noise="log10normal"
        ),
    ),
    paper_check=(
        "Table 1 / Sec. 2: the uninfected steady state is T0 = 1000 CD4+ cells/mm^3; infection with N above the "
        "critical burst size Ncrit = (k2 + muT)(k1 T0 + muV)/(k1 k2 T0) drives a slow decline of CD4+ counts "
        "over years (the AIDS-like depletion the paper describes)."
    ),
    caveats="N = 1000 is one value of the range the paper explores (its Table 1 lists N as variable).",
)


def build() -> ModelSpec:
    """Build the model (time in days, cells per mm^3)."""
    b = ModelBuilder(NAME, name=METADATA.title, time_unit="day")
    b.parameter(
        "s",
        10.0,
        unit="cells/mm^3/d",
        lower=1.0,
        upper=100.0,
        source=_T1,
        name="T-cell supply from precursors",
    )
    b.parameter(
        "r", 0.03, unit="1/d", lower=0.001, upper=0.3, source=_T1, name="T-cell proliferation rate"
    )
    b.parameter(
        "Tmax",
        1500.0,
        unit="cells/mm^3",
        lower=500.0,
        upper=5000.0,
        source=_T1,
        name="max T-cell population",
    )
    b.parameter(
        "muT",
        0.02,
        unit="1/d",
        lower=0.002,
        upper=0.2,
        source=_T1,
        name="uninfected/latent T-cell death",
    )
    b.parameter(
        "mub",
        0.24,
        unit="1/d",
        lower=0.02,
        upper=2.0,
        source=_T1,
        name="actively infected cell death",
    )
    b.parameter(
        "muV", 2.4, unit="1/d", lower=0.2, upper=30.0, source=_T1, name="free virus clearance"
    )
    b.parameter(
        "k1", 2.4e-5, unit="mm^3/d", lower=1e-7, upper=1e-3, source=_T1, name="infection rate"
    )
    b.parameter(
        "k2", 3e-3, unit="1/d", lower=1e-4, upper=0.1, source=_T1, name="latent-to-active rate"
    )
    b.parameter(
        "N",
        1000.0,
        unit="virions/cell",
        lower=10.0,
        upper=1e4,
        source=_T1 + " (N varied; 1000 used here)",
        name="burst size",
    )
    b.fraction("eps_rti", name="RTI efficacy")
    b.start_time("t_rti", unit="d", name="RTI start")
    b.parameter(
        "sigma_cd4",
        0.15,
        unit="dimensionless",
        lower=0.01,
        upper=1.0,
        source="assumed",
        name="CD4 noise (log scale)",
    )
    b.parameter(
        "sigma_v", 0.3, unit="log10", lower=0.01, upper=2.0, source="assumed", name="virus noise"
    )
    infect = "(1 - piecewise(eps_rti, time >= t_rti, 0))*k1*V*T"
    b.state("T", 1000.0, f"s - muT*T + r*T*(1 - (T + T1 + T2)/Tmax) - {infect}", unit="cells/mm^3")
    b.state("T1", 0.0, f"{infect} - muT*T1 - k2*T1", unit="cells/mm^3")
    b.state("T2", 0.0, "k2*T1 - mub*T2", unit="cells/mm^3")
    b.state("V", 1e-3, f"N*mub*T2 - {infect} - muV*V", unit="particles/mm^3")
    b.observable(
        "cd4_count", "T + T1 + T2", noise="lognormal", sigma="sigma_cd4", unit="cells/mm^3"
    )
    b.observable("viral_load", "V", noise="log10normal", sigma="sigma_v", unit="particles/mm^3")
    b.meta(
        citation=METADATA.citation,
        doi=METADATA.doi,
        pubmed=METADATA.pubmed,
        licence=METADATA.licence,
    )
    b.notes(
        "Uninfected CD4+ T cells T (logistic proliferation plus thymic supply), latently infected T1, "
        "actively infected T2 that burst releasing N virions, and free virus V."
    )
    return b.build()
