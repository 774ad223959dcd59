"""Pawelek et al. 2012: influenza with interferon (antiviral state and IFN-activated killing) and adaptive clearance."""

from __future__ import annotations

from .._builder import ModelBuilder
from .._spec import ModelSpec
from . import _terms as t
from ._metadata import Intervention, ModelMetadata, ObservableInfo, Term

NAME = "pawelek2012_influenza"
_ILL = "illustrative value chosen to reproduce the qualitative kinetics described by Pawelek et al. 2012 (abstract)"

METADATA = ModelMetadata(
    name=NAME,
    title="Influenza with interferon: antiviral (refractory) state, IFN-activated killing and adaptive clearance",
    citation=(
        "Pawelek KA, Huynh GT, Quinlivan M, Cullinane A, Rong L, Perelson AS. Modeling within-host dynamics of "
        "influenza virus infection including immune responses. PLoS Comput Biol. 2012;8(6):e1002588."
    ),
    doi="10.1371/journal.pcbi.1002588",
    pubmed="22761567",
    disease=Term(id="DOID:8469", label="influenza"),
    taxon=t.HORSE,
    pathogen=t.INFLUENZA_A,
    tags=("influenza", "respiratory", "acute", "virus", "interferon", "innate", "adaptive"),
    state_terms=(
        ("T", (t.EPITHELIAL,)),
        ("R", (t.EPITHELIAL, t.IFN_SIGNALLING)),
        ("I", (t.EPITHELIAL, t.VIRAL_PROCESS)),
        ("V", (t.INFLUENZA_A, t.VIRION)),
        (
            "F1",
            (Term(id="GO:0032606", label="type I interferon production", qualifier="isVersionOf"),),
        ),
        ("F", (t.IFN_SIGNALLING, t.DEFENSE_VIRUS)),
    ),
    authors=(
        "Kasia A. Pawelek",
        "Giao T. Huynh",
        "Michelle Quinlivan",
        "Ann Cullinane",
        "Libin Rong",
        "Alan S. Perelson",
    ),
    version="1.0.0",
    interventions=(
        Intervention(
            name="neuraminidase_inhibitor",
            kind="antiviral",
            parameters=("eps_nai", "t_nai"),
            description="Reduces virus release by eps_nai from day t_nai.",
        ),
        Intervention(
            name="interferon_pretreatment",
            kind="drug",
            parameters=("F_pre",),
            description="Exogenous interferon present at infection (initial F = F_pre), inducing the antiviral state early.",
        ),
    ),
    observables=(
        ObservableInfo(
            id="titer",
            measurement="Nasopharyngeal virus shedding, EID50/mL (egg infectious dose)",
            noise="log10normal, sigma in log10 units",
        ),
        ObservableInfo(
            id="ifn",
            measurement="Serum/nasal type I interferon bioactivity, IFN-units (arbitrary)",
            noise="lognormal",
        ),
    ),
    paper_check=(
        "Abstract: after the peak the virus falls by about 2 to 4 logs within 1 day (IFN-activated killing), then "
        "a short plateau follows as the antiviral state is lost, and an adaptive response is needed for final "
        "clearance. The test checks the peak timing, a >= 2-log fall within one day after the peak, a plateau "
        "(slope near zero) and that without the adaptive term the virus is not cleared."
    ),
    caveats=(
        "The structure follows the paper (target, refractory and infected cells, virus, interferon with delayed "
        "production, IFN-activated killing, adaptive clearance from t_a); the parameter values are illustrative, "
        "NOT the paper's fitted estimates, and should be replaced by its table before quantitative use."
    ),
)


def build() -> ModelSpec:
    """Build the model (time in days since infection)."""
    b = ModelBuilder(NAME, name=METADATA.title, time_unit="day")
    b.parameter(
        "beta",
        3e-6,
        unit="(EID50/mL)^-1 d^-1",
        lower=1e-10,
        upper=1e-2,
        estimate=True,
        source=_ILL,
        name="infection rate",
    )
    b.parameter(
        "delta",
        1.5,
        unit="1/d",
        lower=0.1,
        upper=20.0,
        estimate=True,
        source=_ILL,
        name="infected cell death",
    )
    b.parameter(
        "p",
        0.1,
        unit="EID50/mL/d per cell",
        lower=1e-4,
        upper=1e3,
        estimate=True,
        source=_ILL,
        name="virus production",
    )
    b.parameter(
        "c",
        10.0,
        unit="1/d",
        lower=1.0,
        upper=50.0,
        estimate=True,
        source=_ILL,
        name="virus clearance",
    )
    b.parameter(
        "T0", 1e9, unit="cells", lower=1e6, upper=1e12, source=_ILL, name="initial target cells"
    )
    b.parameter(
        "V0", 1.0, unit="EID50/mL", lower=1e-4, upper=1e4, source=_ILL, name="initial virus"
    )
    b.parameter(
        "phi",
        1.0,
        unit="1/(IFN-unit d)",
        lower=0.0,
        upper=100.0,
        log_scale=False,
        source=_ILL,
        name="antiviral-state induction",
    )
    b.parameter(
        "rho",
        0.5,
        unit="1/d",
        lower=0.0,
        upper=10.0,
        log_scale=False,
        source=_ILL,
        name="loss of antiviral state",
    )
    b.parameter(
        "kappa",
        3.0,
        unit="1/(IFN-unit d)",
        lower=0.0,
        upper=100.0,
        log_scale=False,
        source=_ILL,
        name="IFN-activated killing",
    )
    b.parameter(
        "q",
        1e-7,
        unit="IFN-units/d per cell",
        lower=1e-12,
        upper=1e-2,
        source=_ILL,
        name="IFN production",
    )
    b.parameter(
        "kF", 2.0, unit="1/d", lower=0.1, upper=20.0, source=_ILL, name="IFN production delay rate"
    )
    b.parameter("dF", 2.0, unit="1/d", lower=0.1, upper=20.0, source=_ILL, name="IFN decay")
    b.parameter(
        "da",
        3.0,
        unit="1/d",
        lower=0.0,
        upper=50.0,
        log_scale=False,
        source=_ILL,
        name="adaptive killing rate",
    )
    b.parameter(
        "ta", 6.0, unit="d", lower=2.0, upper=15.0, source=_ILL, name="onset of adaptive response"
    )
    b.parameter(
        "F_pre",
        0.0,
        unit="IFN-units",
        lower=0.0,
        upper=100.0,
        log_scale=False,
        source="intervention input",
        name="interferon pretreatment",
    )
    b.fraction("eps_nai", name="NAI efficacy")
    b.start_time("t_nai", unit="d", name="NAI start")
    b.parameter(
        "sigma_v", 0.5, unit="log10", lower=0.05, upper=2.0, source="assumed", name="titre noise"
    )
    b.parameter(
        "sigma_f",
        0.5,
        unit="dimensionless",
        lower=0.05,
        upper=2.0,
        source="assumed",
        name="IFN noise (log scale)",
    )
    b.state("T", 1e9, "-beta*V*T - phi*F*T + rho*R", unit="cells")
    b.state("R", 0.0, "phi*F*T - rho*R", unit="cells")
    b.state("I", 0.0, "beta*V*T - (delta + kappa*F + piecewise(da, time >= ta, 0))*I", unit="cells")
    b.state("V", 1.0, "(1 - piecewise(eps_nai, time >= t_nai, 0))*p*I - c*V", unit="EID50/mL")
    b.state("F1", 0.0, "q*I - kF*F1", unit="IFN-units")
    b.state("F", 0.0, "kF*F1 - dF*F", unit="IFN-units")
    b.initial("T", "T0")
    b.initial("V", "V0")
    b.initial("F", "F_pre")
    b.observable("titer", "V", noise="log10normal", sigma="sigma_v", unit="EID50/mL")
    b.observable("ifn", "F", noise="lognormal", sigma="sigma_f", unit="IFN-units")
    b.meta(
        citation=METADATA.citation,
        doi=METADATA.doi,
        pubmed=METADATA.pubmed,
        licence=METADATA.licence,
    )
    b.notes(
        "Interferon F (produced by infected cells after a delay through F1) puts target cells into an antiviral "
        "state R (reverting at rho) and activates killing of infected cells (kappa F I); an adaptive response "
        "adds killing da from day ta."
    )
    return b.build()
