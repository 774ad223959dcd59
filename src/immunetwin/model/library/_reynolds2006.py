"""Reynolds et al. 2006: reduced model of the acute inflammatory response (P, N*, D, Ca)."""

from __future__ import annotations

from .._builder import ModelBuilder
from .._spec import ModelSpec
from . import _terms as t
from ._metadata import Intervention, ModelMetadata, ObservableInfo, Term

NAME = "reynolds2006_inflammation"
_T1 = "Reynolds et al. 2006 J Theor Biol 242:220, Table 1"

# (id, value, unit, description)
_PARAMS: tuple[tuple[str, float, str, str], ...] = (
    ("kpg", 0.3, "1/h", "pathogen growth rate"),
    ("pinf", 20.0, "10^6 cells/cc", "pathogen carrying capacity P_inf"),
    (
        "kpm",
        0.6,
        "1/(M-units h)",
        "rate of pathogen elimination by the local (non-specific) response",
    ),
    ("sm", 0.005, "M-units/h", "source of the non-specific local response"),
    ("mum", 0.002, "1/h", "decay rate of the non-specific local response"),
    (
        "kmp",
        0.01,
        "1/(10^6 cells/cc h)",
        "rate at which the local response is exhausted by pathogen",
    ),
    ("kpn", 1.8, "1/(N*-units h)", "rate of pathogen elimination by activated phagocytes"),
    ("knn", 0.01, "1/h", "activation of resting phagocytes by activated phagocytes"),
    ("knp", 0.1, "1/(10^6 cells/cc h)", "activation of resting phagocytes by pathogen"),
    ("knd", 0.02, "1/(D-units h)", "activation of resting phagocytes by tissue damage"),
    ("snr", 0.08, "N_R-units/h", "source of resting phagocytes"),
    ("munr", 0.12, "1/h", "decay rate of resting phagocytes"),
    ("mun", 0.05, "1/h", "decay rate of activated phagocytes"),
    ("kdn", 0.35, "D-units/h", "maximum rate of damage produced by activated phagocytes"),
    ("xdn", 0.06, "N*-units", "N* level for half-maximal damage production"),
    ("mud", 0.02, "1/h", "decay rate of damage"),
    ("cinf", 0.28, "Ca-units", "strength of anti-inflammatory inhibition c_inf"),
    ("sc", 0.0125, "Ca-units/h", "source of anti-inflammatory mediator"),
    ("kcn", 0.04, "Ca-units/h", "maximum production of anti-inflammatory mediator"),
    ("kcnd", 48.0, "N*-units/D-units", "relative effectiveness of damage in inducing Ca"),
    ("muc", 0.1, "1/h", "decay rate of anti-inflammatory mediator"),
)

METADATA = ModelMetadata(
    name=NAME,
    title="Reduced model of the acute inflammatory response to infection",
    citation=(
        "Reynolds A, Rubin J, Clermont G, Day J, Vodovotz Y, Ermentrout GB. A reduced mathematical model of the "
        "acute inflammatory response: I. Derivation of model and analysis of anti-inflammation. "
        "J Theor Biol. 2006;242(1):220-236."
    ),
    doi="10.1016/j.jtbi.2006.02.016",
    pubmed="16584750",
    disease=Term(id="DOID:0040085", label="bacterial sepsis"),
    taxon=t.HUMAN,
    pathogen=t.BACTERIA,
    tags=("inflammation", "sepsis", "innate", "bacteria", "anti-inflammatory", "time-hours"),
    state_terms=(
        ("P", (t.BACTERIA,)),
        ("Nstar", (t.NEUTROPHIL, t.INFLAMMATION)),
        ("D", (t.CELL_DEATH,)),
        ("Ca", (t.NEG_INFLAMMATION,)),
    ),
    authors=(
        "Angela Reynolds",
        "Jonathan Rubin",
        "Gilles Clermont",
        "Judy Day",
        "Yoram Vodovotz",
        "G. Bard Ermentrout",
    ),
    version="1.0.0",
    time_unit="hour",
    interventions=(
        Intervention(
            name="anti_inflammatory_dose",
            kind="drug",
            parameters=("ca_dose", "t_ca"),
            description="A bolus of anti-inflammatory mediator: Ca := Ca + ca_dose at hour t_ca (Reynolds 2006 Sec. 5).",
        ),
        Intervention(
            name="antibiotic",
            kind="antibiotic",
            parameters=("k_abx", "t_abx"),
            description="Extra first-order pathogen killing k_abx*P from hour t_abx (immunetwin extension).",
        ),
    ),
    observables=(
        ObservableInfo(
            id="pathogen",
            measurement="Pathogen load, 10^6 cells/cc (CFU-derived)",
            noise="log10normal, sigma in log10 units",
        ),
        ObservableInfo(
            id="damage",
            measurement="Tissue damage / dysfunction index, arbitrary D-units (e.g. organ-failure score proxy)",
            noise="normal, additive",
        ),
        ObservableInfo(
            id="anti_inflammation",
            measurement="Anti-inflammatory mediator (IL-10/TGF-beta proxy), Ca-units",
            noise="lognormal (multiplicative)",
        ),
    ),
    paper_check=(
        "Sec. 3/Fig. 2 outcomes: from the healthy state (N*=D=0, Ca=0.125) a small inoculum resolves to health "
        "(P, N*, D -> 0) while a large inoculum leads to persistent inflammation (D stays high: the 'aseptic death' "
        "state) even though the pathogen is cleared; with kpg raised, large inocula give septic death (P -> high)."
    ),
    caveats="Variables are in the paper's abstract units (N*-, D-, Ca-units); time in hours.",
)


def build() -> ModelSpec:
    """Build the model (time in hours)."""
    b = ModelBuilder(NAME, name=METADATA.title, time_unit="hour")
    for pid, val, unit, desc in _PARAMS:
        b.parameter(pid, val, unit=unit, lower=val / 10, upper=val * 10, source=_T1, name=desc)
    b.parameter(
        "P0",
        0.5,
        unit="10^6 cells/cc",
        lower=0.0,
        upper=20.0,
        log_scale=False,
        source="Reynolds 2006 Fig. 2: initial pathogen load (varied)",
        name="initial pathogen",
    )
    b.parameter(
        "ca_dose",
        0.0,
        unit="Ca-units",
        lower=0.0,
        upper=10.0,
        log_scale=False,
        source="intervention input",
        name="anti-inflammatory dose",
    )
    b.start_time("t_ca", unit="h", name="dose time")
    b.parameter(
        "k_abx",
        0.0,
        unit="1/h",
        lower=0.0,
        upper=10.0,
        log_scale=False,
        source="intervention input (immunetwin extension)",
        name="antibiotic kill rate",
    )
    b.start_time("t_abx", unit="h", name="antibiotic start")
    b.parameter(
        "sigma_p", 0.3, unit="log10", lower=0.01, upper=2.0, source="assumed", name="pathogen noise"
    )
    b.parameter(
        "sigma_d", 0.5, unit="D-units", lower=0.01, upper=5.0, source="assumed", name="damage noise"
    )
    b.parameter(
        "sigma_ca",
        0.2,
        unit="dimensionless",
        lower=0.01,
        upper=2.0,
        source="assumed",
        name="Ca noise (log scale)",
    )
    b.function("finh", ["v", "ca", "cinf"], "v/(1 + (ca/cinf)^2)")
    b.parameter(
        "R",
        0.0,
        unit="N*-units",
        constant=False,
        source="Reynolds 2006 eq. (2): R = f(knn N* + knp P + knd D)",
        name="phagocyte activation signal",
    )
    b.parameter(
        "fcn",
        0.0,
        unit="N*-units",
        constant=False,
        source="Reynolds 2006 eq. (4): f(N* + kcnd D)",
        name="Ca induction signal",
    )
    b.assign("R", "finh(knn*Nstar + knp*P + knd*D, Ca, cinf)")
    b.assign("fcn", "finh(Nstar + kcnd*D, Ca, cinf)")
    b.state(
        "P",
        0.5,
        "kpg*P*(1 - P/pinf) - kpm*sm*P/(mum + kmp*P) - kpn*finh(Nstar, Ca, cinf)*P"
        " - piecewise(k_abx, time >= t_abx, 0)*P",
        unit="10^6 cells/cc",
    )
    b.state("Nstar", 0.0, "snr*R/(munr + R) - mun*Nstar", unit="N*-units")
    b.state(
        "D",
        0.0,
        "kdn*finh(Nstar, Ca, cinf)^6/(xdn^6 + finh(Nstar, Ca, cinf)^6) - mud*D",
        unit="D-units",
    )
    b.state("Ca", 0.125, "sc + kcn*fcn/(1 + fcn) - muc*Ca", unit="Ca-units")
    b.initial("P", "P0")
    b.event("ca_bolus", "time >= t_ca", {"Ca": "Ca + ca_dose"})
    b.observable("pathogen", "P", noise="log10normal", sigma="sigma_p", unit="10^6 cells/cc")
    b.observable("damage", "D", noise="normal", sigma="sigma_d", unit="D-units")
    b.observable("anti_inflammation", "Ca", noise="lognormal", sigma="sigma_ca", unit="Ca-units")
    b.meta(
        citation=METADATA.citation,
        doi=METADATA.doi,
        pubmed=METADATA.pubmed,
        licence=METADATA.licence,
    )
    b.notes(
        "Pathogen P grows logistically and is removed by a local non-specific response and by activated "
        "phagocytes N*; N* are activated through R = f(knn N* + knp P + knd D), cause damage D, and both N* and D "
        "induce the anti-inflammatory mediator Ca, which inhibits every pro-inflammatory action through "
        "f(V) = V/(1 + (Ca/cinf)^2)."
    )
    return b.build()
