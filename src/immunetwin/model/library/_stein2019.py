"""Stein et al. 2019: tisagenlecleucel (CAR-T) cellular kinetics, plus a cytokine-release extension."""

from __future__ import annotations

from .._builder import ModelBuilder
from .._spec import ModelSpec
from . import _terms as t
from ._metadata import Intervention, ModelMetadata, ObservableInfo, Term

NAME = "stein2019_cart"
_T1 = "Stein et al. 2019 CPT Pharmacometrics Syst Pharmacol 8:285, Table 1 (typical value)"
_EXT = "immunetwin extension (not in Stein 2019): illustrative"

METADATA = ModelMetadata(
    name=NAME,
    title="CAR-T (tisagenlecleucel) expansion, biphasic contraction/persistence and cytokine release",
    citation=(
        "Stein AM, Grupp SA, Levine JE, Laetsch TW, Pulsipher MA, Boyer MW, et al. Tisagenlecleucel model-based "
        "cellular kinetic analysis of chimeric antigen receptor-T cells. CPT Pharmacometrics Syst Pharmacol. "
        "2019;8(5):285-295."
    ),
    doi="10.1002/psp4.12388",
    pubmed="30848084",
    disease=Term(id="DOID:0080638", label="B-cell acute lymphoblastic leukemia"),
    taxon=t.HUMAN,
    tags=("car-t", "cell-therapy", "cancer", "leukaemia", "cytokine", "crs"),
    state_terms=(
        ("E", (t.T_CELL, t.EFFECTOR_T)),
        ("M", (t.T_CELL, t.MEMORY_T)),
        ("IL6", (t.IL6,)),
    ),
    authors=(
        "Andrew M. Stein",
        "Stephan A. Grupp",
        "John E. Levine",
        "Theodore W. Laetsch",
        "Michael A. Pulsipher",
        "Michael W. Boyer",
    ),
    version="1.0.0",
    interventions=(
        Intervention(
            name="car_t_infusion",
            kind="cell_therapy",
            parameters=("Cmax", "foldx"),
            description="Single infusion at t = 0: the initial transgene level is Cmax/foldx (Stein 2019 Fig. 2 definitions).",
            default_on=True,
        ),
        Intervention(
            name="il6_blockade",
            kind="cytokine_blockade",
            parameters=("eps_toci", "t_toci"),
            description="Tocilizumab-like blockade from day t_toci: IL-6 signalling (the IL6 state's production) reduced by eps_toci (extension).",
        ),
    ),
    observables=(
        ObservableInfo(
            id="transgene",
            measurement="CAR transgene in peripheral blood, copies/ug genomic DNA (qPCR)",
            noise="lognormal: constant error on the log scale, sigma = 0.56 (Stein 2019 Table 1 residual error)",
        ),
        ObservableInfo(
            id="il6", measurement="Serum IL-6, pg/mL (immunoassay)", noise="lognormal (extension)"
        ),
    ),
    paper_check=(
        "Table 1 and Fig. 2: transgene rises by foldx = 3900 to Cmax = 24000 copies/ug at Tmax = 9.3 d and then "
        "follows (1 - FB) Cmax exp(-alpha (t - Tmax)) + FB Cmax exp(-beta (t - Tmax)) with alpha = 0.16/d, "
        "FB = 0.0079, beta = 0.0032/d; the test checks the peak and the analytical solution at days 28, 90, 365."
    ),
    caveats="The IL-6 compartment and the blockade are an immunetwin extension with illustrative parameters, not part of Stein 2019.",
)


def build() -> ModelSpec:
    """Build the model (time in days since infusion)."""
    b = ModelBuilder(NAME, name=METADATA.title, time_unit="day")
    b.parameter(
        "foldx",
        3900.0,
        unit="dimensionless",
        lower=10.0,
        upper=1e6,
        estimate=True,
        source=_T1,
        name="fold expansion",
    )
    b.parameter(
        "Tmax",
        9.3,
        unit="d",
        lower=3.0,
        upper=30.0,
        estimate=True,
        source=_T1,
        name="time of maximal expansion",
    )
    b.parameter(
        "Cmax",
        24000.0,
        unit="copies/ug",
        lower=100.0,
        upper=1e6,
        estimate=True,
        source=_T1,
        name="maximal transgene level",
    )
    b.parameter(
        "alpha",
        0.16,
        unit="1/d",
        lower=0.01,
        upper=2.0,
        estimate=True,
        source=_T1,
        name="rapid contraction rate",
    )
    b.parameter(
        "FB",
        0.0079,
        unit="dimensionless",
        lower=1e-5,
        upper=0.5,
        estimate=True,
        source=_T1,
        name="fraction entering persistence",
    )
    b.parameter(
        "beta",
        0.0032,
        unit="1/d",
        lower=1e-5,
        upper=0.1,
        estimate=True,
        source=_T1,
        name="slow persistence decline rate",
    )
    b.parameter(
        "sigma_tg",
        0.56,
        unit="log-scale SD",
        lower=0.05,
        upper=2.0,
        source=_T1 + " (residual error, log scale)",
        name="transgene noise",
    )
    b.parameter(
        "rho",
        0.889,
        unit="1/d",
        constant=False,
        source="Stein 2019 Fig. 2: rho = ln(foldx)/Tmax (derived)",
        name="expansion rate",
    )
    b.assign("rho", "log(foldx)/Tmax")
    b.parameter(
        "k_il6",
        0.02,
        unit="pg/mL per (copies/ug)",
        lower=0.0,
        upper=10.0,
        source=_EXT,
        name="IL-6 release per expanding CAR-T",
    )
    b.parameter(
        "il6_base",
        5.0,
        unit="pg/mL",
        lower=0.1,
        upper=50.0,
        source=_EXT + " (normal serum IL-6 < 7 pg/mL)",
        name="baseline IL-6",
    )
    b.parameter("k_deg", 2.0, unit="1/d", lower=0.1, upper=20.0, source=_EXT, name="IL-6 clearance")
    b.fraction("eps_toci", source="intervention input (extension)", name="blockade efficacy")
    b.start_time("t_toci", unit="d", name="blockade start")
    b.parameter(
        "sigma_il6",
        0.5,
        unit="log-scale SD",
        lower=0.05,
        upper=2.0,
        source="assumed",
        name="IL-6 noise",
    )
    b.state("E", 6.15, "piecewise(rho*E, time < Tmax, -alpha*E)", unit="copies/ug")
    b.state("M", 0.0, "-beta*M", unit="copies/ug")
    b.state(
        "IL6",
        5.0,
        "k_deg*il6_base + (1 - piecewise(eps_toci, time >= t_toci, 0))*k_il6*piecewise(rho*E, time < Tmax, 0)"
        " - k_deg*IL6",
        unit="pg/mL",
    )
    b.initial("E", "Cmax/foldx")
    b.initial("IL6", "il6_base")
    b.event("contraction", "time >= Tmax", {"E": "(1 - FB)*E", "M": "M + FB*E"})
    b.observable("transgene", "E + M", noise="lognormal", sigma="sigma_tg", unit="copies/ug")
    b.observable("il6", "IL6", noise="lognormal", sigma="sigma_il6", unit="pg/mL")
    b.meta(
        citation=METADATA.citation,
        doi=METADATA.doi,
        pubmed=METADATA.pubmed,
        licence=METADATA.licence,
    )
    b.notes(
        "Effector CAR-T cells E expand at rho = ln(foldx)/Tmax until Tmax; then a fraction FB becomes a memory-like "
        "pool M declining at beta while the rest contracts at alpha (Stein 2019 Fig. 2). IL-6 release proportional "
        "to the expansion flux is an immunetwin extension."
    )
    return b.build()
