"""Ke et al. 2022: SARS-CoV-2 within-host dynamics with innate (refractory cells) and adaptive (effector) responses."""

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

NAME = "ke2022_sarscov2"
_FIX = "Ke et al. 2022 Nat Microbiol 7:640, Methods (fixed value, as in Ke et al. 2021 PNAS)"
_ILL = "illustrative value within the range of Ke et al. 2022 individual fits (Fig. 2, Supplementary Table)"

METADATA = ModelMetadata(
    name=NAME,
    title="SARS-CoV-2 upper-respiratory infection with interferon-induced refractory cells and effector-cell killing",
    citation=(
        "Ke R, Martinez PP, Smith RL, Gibson LL, Mirza A, Conte M, et al. Daily longitudinal sampling of SARS-CoV-2 "
        "infection reveals substantial heterogeneity in infectiousness. Nat Microbiol. 2022;7(5):640-652."
    ),
    doi="10.1038/s41564-022-01105-z",
    pubmed="35484231",
    disease=Term(id="DOID:0080600", label="COVID-19"),
    taxon=t.HUMAN,
    pathogen=t.SARS_COV_2,
    tags=(
        "sars-cov-2",
        "covid-19",
        "respiratory",
        "acute",
        "virus",
        "innate",
        "adaptive",
        "interferon",
        "antiviral",
    ),
    state_terms=(
        ("T", (t.EPITHELIAL,)),
        ("R", (t.EPITHELIAL, t.IFN_SIGNALLING)),
        ("E", (t.EPITHELIAL, t.VIRAL_PROCESS)),
        ("I", (t.EPITHELIAL, t.VIRAL_PROCESS)),
        ("V", (t.SARS_COV_2, t.VIRION)),
        (
            "F",
            (
                Term(
                    id="GO:0032606", label="type I interferon production", qualifier="isVersionOf"
                ),
                t.IFN_SIGNALLING,
            ),
        ),
        ("X", (t.CD8_T, t.T_CYTOTOX)),
    ),
    authors=(
        "Ruian Ke",
        "Pamela P. Martinez",
        "Rebecca L. Smith",
        "Laura L. Gibson",
        "Agha Mirza",
        "Madison Conte",
    ),
    version="1.0.0",
    interventions=(
        Intervention(
            name="antiviral",
            kind="antiviral",
            parameters=("eps_av", "t_av"),
            description="Reduces virus production by eps_av from day t_av (e.g. nirmatrelvir/remdesivir-like).",
        ),
    ),
    observables=(
        ObservableInfo(
            id="viral_rna",
            measurement="Nasal-swab SARS-CoV-2 RNA, copies/mL (RT-qPCR)",
            noise="log10normal, sigma in log10 units; values under the LoD are censored",
        ),
        ObservableInfo(
            id="ct",
            measurement="RT-qPCR cycle threshold via a standard curve Ct = ct_intercept - ct_slope*log10(copies/mL)",
            noise="normal, in cycles",
        ),
        ObservableInfo(
            id="infectious_virus",
            measurement="Culture-positive infectious virus, TCID50/mL (proportional to RNA)",
            noise="log10normal",
        ),
    ),
    paper_check=(
        "Fig. 2a model structure: infected cells produce interferon that converts target cells into refractory "
        "cells, and effector cells raise the infected-cell death rate from delta1 to delta1 + delta2. The test "
        "checks an acute course (exponential growth, peak within the first week, decline below the RT-qPCR limit of "
        "detection within the 14-day follow-up) and that each response lowers the peak or shortens shedding."
    ),
    caveats=(
        "k and c are fixed as in the paper; the other values are illustrative, chosen within the range of the "
        "individual fits, not one patient's estimates. The paper fitted the refractory and effector variants "
        "separately; here both responses are combined."
    ),
    twin=TwinDefaults(
        # V0 wide, so that it absorbs the unknown infection time on a symptom-onset clock
        estimate=(
            EstimateDefault(id="beta", lower=1e-10, upper=1e-6),
            EstimateDefault(id="delta1"),
            EstimateDefault(id="delta2"),
            EstimateDefault(id="piv"),
            EstimateDefault(id="V0", lower=1e-12, upper=1e2),
            EstimateDefault(id="sigma_v"),
        ),
        fixed=(("rho", 0.0),),
        intervention="antiviral",
        note=(
            "rho = 0: no reversion of refractory cells, so that every course is acute; with rho > 0 "
            "the model has a chronic equilibrium fed by reverting cells, and twins fitted to a few "
            "early values settled on it (a plateau for weeks where every later test was negative)."
        ),
    ),
)


def build() -> ModelSpec:
    """Build the model (time in days since infection)."""
    b = ModelBuilder(NAME, name=METADATA.title, time_unit="day")
    b.parameter(
        "beta",
        5e-9,
        unit="mL/(copy d)",
        lower=1e-12,
        upper=1e-6,
        estimate=True,
        source=_ILL,
        name="infection rate",
    )
    b.parameter(
        "k",
        4.0,
        unit="1/d",
        lower=1.0,
        upper=10.0,
        source=_FIX + ": eclipse phase 6 h",
        name="eclipse rate",
    )
    b.parameter(
        "delta1",
        1.0,
        unit="1/d",
        lower=0.1,
        upper=5.0,
        estimate=True,
        source=_ILL,
        name="infected cell death (innate)",
    )
    b.parameter(
        "delta2",
        6.0,
        unit="1/d",
        lower=0.0,
        upper=20.0,
        log_scale=False,
        estimate=True,
        source=_ILL,
        name="extra killing by effectors",
    )
    b.parameter(
        "piv",
        1000.0,
        unit="copies/mL/d per cell",
        lower=1.0,
        upper=1e6,
        estimate=True,
        source=_ILL,
        name="virus production pi",
    )
    b.parameter("c", 10.0, unit="1/d", lower=1.0, upper=50.0, source=_FIX, name="virus clearance")
    b.parameter(
        "T0",
        8e7,
        unit="cells",
        lower=1e6,
        upper=1e10,
        source="Ke et al. 2021 PNAS: ~8e7 target cells in the upper respiratory tract",
        name="target cells",
    )
    b.parameter(
        "V0", 1e-2, unit="copies/mL", lower=1e-5, upper=1e2, source=_ILL, name="initial virus"
    )
    b.parameter(
        "phi",
        1e-5,
        unit="1/(IFN-unit d)",
        lower=0.0,
        upper=1.0,
        log_scale=False,
        estimate=True,
        source=_ILL,
        name="antiviral-state induction Phi",
    )
    b.parameter(
        "rho",
        0.01,
        unit="1/d",
        lower=0.0,
        upper=5.0,
        log_scale=False,
        source=_ILL,
        name="refractory reversion rate",
    )
    b.parameter(
        "sF",
        1.0,
        unit="IFN-units/d per cell",
        lower=0.0,
        upper=1e3,
        source=_ILL,
        name="interferon production s",
    )
    b.parameter("muF", 2.0, unit="1/d", lower=0.1, upper=20.0, source=_ILL, name="interferon decay")
    b.parameter(
        "omega",
        1.5,
        unit="1/d",
        lower=0.0,
        upper=10.0,
        log_scale=False,
        estimate=True,
        source=_ILL,
        name="effector activation rate",
    )
    b.parameter(
        "I50",
        1e5,
        unit="cells",
        lower=1.0,
        upper=1e9,
        source=_ILL,
        name="infected cells for half-maximal activation",
    )
    b.fraction("eps_av", name="antiviral efficacy")
    b.start_time("t_av", unit="d", name="antiviral start")
    b.parameter(
        "ct_intercept",
        40.93733,
        unit="cycles",
        lower=30.0,
        upper=50.0,
        source="illustrative assay standard curve (Ct at 1 copy/mL)",
        name="Ct intercept",
    )
    b.parameter(
        "ct_slope",
        3.60971,
        unit="cycles per log10",
        lower=3.0,
        upper=4.0,
        source="illustrative standard curve (~3.3-3.6 cycles per log10 for 90-100% efficiency)",
        name="Ct slope",
    )
    b.parameter(
        "tcid_ratio",
        1e-5,
        unit="TCID50 per copy",
        lower=1e-8,
        upper=1e-2,
        source=_ILL,
        name="infectious fraction",
    )
    b.parameter(
        "sigma_v", 0.5, unit="log10", lower=0.05, upper=2.0, source="assumed", name="RNA noise"
    )
    b.parameter(
        "sigma_ct", 1.5, unit="cycles", lower=0.1, upper=5.0, source="assumed", name="Ct noise"
    )
    b.state("T", 8e7, "-beta*V*T - phi*F*T + rho*R", unit="cells")
    b.state("R", 0.0, "phi*F*T - rho*R", unit="cells")
    b.state("E", 0.0, "beta*V*T - k*E", unit="cells")
    b.state("I", 0.0, "k*E - (delta1 + delta2*X)*I", unit="cells")
    b.state("V", 1e-2, "(1 - piecewise(eps_av, time >= t_av, 0))*piv*I - c*V", unit="copies/mL")
    b.state("F", 0.0, "sF*I - muF*F", unit="IFN-units")
    b.state("X", 0.0, "omega*I/(I + I50)*(1 - X)", unit="fraction of maximal response")
    b.initial("T", "T0")
    b.initial("V", "V0")
    b.observable("viral_rna", "V", noise="log10normal", sigma="sigma_v", unit="copies/mL")
    b.observable(
        "ct",
        "ct_intercept - ct_slope*log10(max(V, 1))",
        noise="normal",
        sigma="sigma_ct",
        unit="cycles",
    )
    b.observable(
        "infectious_virus", "tcid_ratio*V", noise="log10normal", sigma="sigma_v", unit="TCID50/mL"
    )
    b.meta(
        citation=METADATA.citation,
        doi=METADATA.doi,
        pubmed=METADATA.pubmed,
        licence=METADATA.licence,
    )
    b.notes(
        "TEIV model with interferon F converting target cells T into refractory cells R (reverting at rho) and "
        "effector cells X (0-1) raising the infected-cell death rate from delta1 to delta1 + delta2."
    )
    return b.build()
