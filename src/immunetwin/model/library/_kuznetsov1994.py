"""Kuznetsov et al. 1994: effector cell - tumour cell interaction (BCL1 lymphoma) with immunotherapy."""

from __future__ import annotations

from .._builder import ModelBuilder
from .._spec import ModelSpec
from . import _terms as t
from ._metadata import Intervention, ModelMetadata, ObservableInfo, Term

NAME = "kuznetsov1994_tumour"
_SRC = "Kuznetsov et al. 1994 Bull Math Biol 56:295, parameter estimates for BCL1 lymphoma in chimeric mice (Sec. 3)"

METADATA = ModelMetadata(
    name=NAME,
    title="Tumour-immune (effector cell) interaction with immunotherapy: dormancy and sneaking through",
    citation=(
        "Kuznetsov VA, Makalkin IA, Taylor MA, Perelson AS. Nonlinear dynamics of immunogenic tumors: parameter "
        "estimation and global bifurcation analysis. Bull Math Biol. 1994;56(2):295-321."
    ),
    doi="10.1007/BF02460644",
    pubmed="8186756",
    disease=Term(id="DOID:707", label="B-cell lymphoma"),
    taxon=t.MOUSE,
    tags=("cancer", "tumour", "immunotherapy", "effector-cells", "bistability"),
    state_terms=(
        (
            "E",
            (
                t.EFFECTOR_T,
                Term(id="CL:0000623", label="natural killer cell", qualifier="isVersionOf"),
            ),
        ),
        ("T", (t.MALIGNANT,)),
    ),
    authors=("Vladimir A. Kuznetsov", "Iliya A. Makalkin", "Mark A. Taylor", "Alan S. Perelson"),
    version="1.0.0",
    interventions=(
        Intervention(
            name="effector_cell_injection",
            kind="immunotherapy",
            parameters=("s_inj", "t_inj", "dur_inj"),
            description="Adoptive transfer: extra effector cell influx s_inj (cells/d) during [t_inj, t_inj + dur_inj) (the paper's immunotherapy term s).",
        ),
    ),
    observables=(
        ObservableInfo(
            id="tumour_cells",
            measurement="Tumour cells in spleen (cells), e.g. from flow cytometry of idiotype+ cells",
            noise="log10normal, sigma in log10 units",
        ),
    ),
    paper_check=(
        "Sec. 3: the dimensional estimates give the paper's dimensionless parameters sigma=0.1181, rho=1.131, "
        "eta=20.19, mu=0.00311, delta=0.3743, alpha=1.636, beta=2.0e-3 (E0=T0=1e6). Bistability: a small tumour "
        "is held in a dormant state (~1e6-1e7 cells, x~y regime of Fig. 4) while a large one escapes towards the "
        "carrying capacity 1/b = 5e8; raising the effector influx (immunotherapy) controls the large tumour."
    ),
)


def build() -> ModelSpec:
    """Build the model (time in days)."""
    b = ModelBuilder(NAME, name=METADATA.title, time_unit="day")
    b.parameter(
        "s", 1.3e4, unit="cells/d", lower=1e2, upper=1e6, source=_SRC, name="normal effector influx"
    )
    b.parameter(
        "p",
        0.1245,
        unit="1/d",
        lower=0.01,
        upper=1.0,
        source=_SRC,
        name="max effector proliferation",
    )
    b.parameter(
        "g",
        2.019e7,
        unit="cells",
        lower=1e5,
        upper=1e9,
        source=_SRC,
        name="half-saturation of proliferation",
    )
    b.parameter(
        "m",
        3.422e-10,
        unit="1/(cell d)",
        lower=1e-12,
        upper=1e-8,
        source=_SRC,
        name="effector inactivation by tumour",
    )
    b.parameter(
        "d", 0.0412, unit="1/d", lower=0.001, upper=1.0, source=_SRC, name="effector death rate"
    )
    b.parameter(
        "a", 0.18, unit="1/d", lower=0.01, upper=2.0, source=_SRC, name="max tumour growth rate"
    )
    b.parameter(
        "b",
        2.0e-9,
        unit="1/cell",
        lower=1e-11,
        upper=1e-7,
        source=_SRC,
        name="1/tumour carrying capacity",
    )
    b.parameter(
        "n",
        1.101e-7,
        unit="1/(cell d)",
        lower=1e-9,
        upper=1e-5,
        source=_SRC,
        name="tumour kill rate by effectors",
    )
    b.parameter(
        "s_inj",
        0.0,
        unit="cells/d",
        lower=0.0,
        upper=1e8,
        log_scale=False,
        source="intervention input (immunotherapy term)",
        name="injected effector influx",
    )
    b.parameter(
        "t_inj",
        0.0,
        unit="d",
        lower=0.0,
        upper=1e6,
        log_scale=False,
        source="intervention input",
        name="injection start",
    )
    b.parameter(
        "dur_inj",
        0.0,
        unit="d",
        lower=0.0,
        upper=1e6,
        log_scale=False,
        source="intervention input",
        name="injection duration",
    )
    b.parameter(
        "sigma_t",
        0.3,
        unit="log10 cells",
        lower=0.01,
        upper=2.0,
        source="assumed",
        name="tumour noise",
    )
    b.state(
        "E",
        3.2e5,
        "s + piecewise(s_inj, (time >= t_inj) and (time < t_inj + dur_inj), 0)"
        " + p*E*T/(g + T) - m*E*T - d*E",
        unit="cells",
    )
    b.state("T", 1e6, "a*T*(1 - b*T) - n*E*T", unit="cells")
    b.observable("tumour_cells", "T", noise="log10normal", sigma="sigma_t", unit="cells")
    b.meta(
        citation=METADATA.citation,
        doi=METADATA.doi,
        pubmed=METADATA.pubmed,
        licence=METADATA.licence,
    )
    b.notes(
        "Effector cells E (CTL/NK) are recruited by the tumour T (Michaelis-Menten), inactivated on contact and "
        "kill tumour cells by mass action; the tumour grows logistically."
    )
    return b.build()
