"""Baccam et al. 2006: influenza A target-cell-limited model with an eclipse phase."""

from __future__ import annotations

from .._builder import ModelBuilder
from .._spec import ModelSpec
from . import _terms as t
from ._metadata import (
    EstimateDefault,
    Intervention,
    ModelMetadata,
    ObservableInfo,
    Term,
    TwinDefaults,
)

NAME = "baccam2006_influenza"
_SRC = "Baccam et al. 2006 J Virol 80:7590, parameter table of the model with delayed virus production (average of the 6 volunteers)"

METADATA = ModelMetadata(
    name=NAME,
    title="Influenza A target-cell-limited model with eclipse phase (human challenge)",
    citation=(
        "Baccam P, Beauchemin C, Macken CA, Hayden FG, Perelson AS. Kinetics of influenza A virus "
        "infection in humans. J Virol. 2006;80(15):7590-7599."
    ),
    doi="10.1128/JVI.01623-05",
    pubmed="16840338",
    disease=Term(id="DOID:8469", label="influenza"),
    taxon=t.HUMAN,
    pathogen=t.INFLUENZA_A,
    tags=("influenza", "respiratory", "acute", "virus", "target-cell-limited", "antiviral"),
    state_terms=(
        ("T", (t.EPITHELIAL,)),
        ("I1", (t.EPITHELIAL, t.VIRAL_PROCESS)),
        ("I2", (t.EPITHELIAL, t.VIRAL_PROCESS)),
        ("V", (t.INFLUENZA_A, t.VIRION)),
    ),
    authors=(
        "Prasith Baccam",
        "Catherine Beauchemin",
        "Catherine A. Macken",
        "Frederick G. Hayden",
        "Alan S. Perelson",
    ),
    version="1.0.0",
    interventions=(
        Intervention(
            name="neuraminidase_inhibitor",
            kind="antiviral",
            parameters=("eps_nai", "t_nai"),
            description="Blocks release of infectious virus: production p is multiplied by (1 - eps_nai) from day t_nai on (zanamivir/oseltamivir).",
        ),
    ),
    observables=(
        ObservableInfo(
            id="titer",
            measurement="Nasal-wash infectious virus titre, TCID50/mL (detection limit about 10^0.5 TCID50/mL)",
            noise="log10normal: log10(measured) ~ Normal(log10(V), sigma) with sigma in log10 units",
        ),
    ),
    paper_check=(
        "Abstract: R0 = beta*p*T0/(c*delta) ~ 22, infected-cell lifetime 1/k + 1/delta ~ 11 h "
        "(eclipse ~6 h, production ~5 h), free-virus half-life ln2/c ~ 3 h; titre peaks on day 2 post-inoculation "
        "(Fig. 1/3 fits)."
    ),
    caveats=(
        "Parameter values are the average best fit of the eclipse-phase model as recalled from the paper's "
        "parameter table; they reproduce every quantity stated in the abstract (see the test)."
    ),
    twin=TwinDefaults(
        # V0 wide, so that it absorbs the unknown infection time
        estimate=(
            EstimateDefault(id="beta"),
            EstimateDefault(id="delta"),
            EstimateDefault(id="p"),
            EstimateDefault(id="c"),
            EstimateDefault(id="V0", lower=1e-8, upper=10.0),
            EstimateDefault(id="sigma_titer"),
        ),
    ),
)


def build() -> ModelSpec:
    """Build the model (time in days)."""
    b = ModelBuilder(NAME, name=METADATA.title, time_unit="day")
    b.parameter(
        "beta",
        3.2e-5,
        unit="(TCID50/mL)^-1 d^-1",
        lower=1e-8,
        upper=1e-2,
        estimate=True,
        source=_SRC,
        name="infection rate",
    )
    b.parameter(
        "k",
        4.0,
        unit="1/d",
        lower=0.5,
        upper=24.0,
        source=_SRC + "; fixed: eclipse ~6 h (abstract)",
        name="eclipse-to-productive transition rate",
    )
    b.parameter(
        "delta",
        5.2,
        unit="1/d",
        lower=0.1,
        upper=50.0,
        estimate=True,
        source=_SRC,
        name="productively infected cell death rate",
    )
    b.parameter(
        "p",
        4.6e-2,
        unit="TCID50/mL/d per cell",
        lower=1e-5,
        upper=10.0,
        estimate=True,
        source=_SRC,
        name="virus production rate",
    )
    b.parameter(
        "c",
        5.2,
        unit="1/d",
        lower=0.1,
        upper=100.0,
        estimate=True,
        source=_SRC,
        name="virus clearance rate",
    )
    b.parameter(
        "T0",
        4e8,
        unit="cells",
        lower=1e7,
        upper=1e10,
        source="Baccam 2006 Methods: ~4e8 epithelial target cells in the upper respiratory tract",
        name="initial target cells",
    )
    b.parameter(
        "V0",
        7.5e-2,
        unit="TCID50/mL",
        lower=1e-4,
        upper=10.0,
        estimate=True,
        source=_SRC,
        name="initial virus titre",
    )
    b.fraction(
        "eps_nai",
        source="intervention input (0 = untreated); Baccam 2006 zanamivir analysis",
        name="NAI efficacy",
    )
    b.start_time(
        "t_nai",
        unit="d",
        source="intervention input (start of NAI therapy; default never)",
        name="NAI start",
    )
    b.parameter(
        "sigma_titer",
        0.5,
        unit="log10 TCID50/mL",
        lower=0.05,
        upper=2.0,
        source="assumed measurement error of log10 titres",
        name="titre noise",
    )
    b.state("T", 4e8, "-beta*T*V", unit="cells")
    b.state("I1", 0.0, "beta*T*V - k*I1", unit="cells")
    b.state("I2", 0.0, "k*I1 - delta*I2", unit="cells")
    b.state("V", 7.5e-2, "(1 - piecewise(eps_nai, time >= t_nai, 0))*p*I2 - c*V", unit="TCID50/mL")
    b.initial("T", "T0")
    b.initial("V", "V0")
    b.observable(
        "titer",
        "V",
        noise="log10normal",
        sigma="sigma_titer",
        unit="TCID50/mL",
        name="nasal wash titre",
    )
    b.meta(
        citation=METADATA.citation,
        doi=METADATA.doi,
        pubmed=METADATA.pubmed,
        licence=METADATA.licence,
    )
    b.notes(
        "Target cells T are infected by virus V; newly infected cells I1 pass an eclipse phase (rate k) "
        "before producing virus as I2, which die at rate delta. Virus is cleared at rate c."
    )
    return b.build()
