"""De Boer et al. 2001: CD8+ T-cell expansion, contraction and memory during acute LCMV infection."""

from __future__ import annotations

from .._builder import ModelBuilder
from .._spec import ModelSpec
from . import _terms as t
from ._metadata import Intervention, ModelMetadata, ObservableInfo, Term

NAME = "deboer2001_tcell"
_ABS = "De Boer et al. 2001 J Virol 75:10663, abstract"

METADATA = ModelMetadata(
    name=NAME,
    title="CD8+ T-cell response: recruitment, clonal expansion, contraction and memory (LCMV)",
    citation=(
        "De Boer RJ, Oprea M, Antia R, Murali-Krishna K, Ahmed R, Perelson AS. Recruitment times, proliferation, "
        "and apoptosis rates during the CD8+ T-cell response to lymphocytic choriomeningitis virus. "
        "J Virol. 2001;75(22):10663-10669."
    ),
    doi="10.1128/JVI.75.22.10663-10669.2001",
    pubmed="11602708",
    disease=Term(id="DOID:934", label="viral infectious disease"),
    taxon=t.MOUSE,
    pathogen=t.LCMV,
    tags=("t-cell", "cd8", "memory", "acute", "virus", "lcmv"),
    state_terms=(
        ("A", (t.CD8_T, t.EFFECTOR_T)),
        ("M", (t.CD8_T, t.MEMORY_T)),
    ),
    authors=(
        "Rob J. De Boer",
        "Mihaela Oprea",
        "Rustom Antia",
        "Kaja Murali-Krishna",
        "Rafi Ahmed",
        "Alan S. Perelson",
    ),
    version="1.0.0",
    interventions=(
        Intervention(
            name="cd8_depletion",
            kind="depletion",
            parameters=("f_dep", "t_dep"),
            description="Removes a fraction f_dep of activated and memory cells at day t_dep.",
        ),
    ),
    observables=(
        ObservableInfo(
            id="specific_cd8",
            measurement="Epitope-specific CD8+ T cells per spleen (tetramer / ICS)",
            noise="log10normal, sigma in log10 units",
        ),
    ),
    paper_check=(
        "Abstract: proliferation starts 1-2 d after infection at ~3/d, the peak is reached between days 5 and 6, "
        "the death phase declines at 0.5/d (2-day lifetime) and memory is ~5% of the peak via reversal of 1-2% "
        "of activated cells per day."
    ),
    caveats=(
        "Rates are the abstract's rounded averages over the NP118 and GP283 responses; the precursor number A0 "
        "is illustrative. Memory at the end is r/(r + alpha) of the peak, 4% with r = 0.02/d."
    ),
)


def build() -> ModelSpec:
    """Build the model (time in days since infection)."""
    b = ModelBuilder(NAME, name=METADATA.title, time_unit="day")
    b.parameter(
        "A0",
        300.0,
        unit="cells",
        lower=1.0,
        upper=1e5,
        source="illustrative precursor number",
        name="recruited precursors",
    )
    b.parameter(
        "ton",
        1.5,
        unit="d",
        lower=0.0,
        upper=5.0,
        source=_ABS + ": proliferation begins 1-2 d after infection",
        name="recruitment time",
    )
    b.parameter(
        "rho",
        3.0,
        unit="1/d",
        lower=0.5,
        upper=6.0,
        source=_ABS + ": average proliferation rate 3/d",
        name="expansion rate",
    )
    b.parameter(
        "tpeak",
        5.5,
        unit="d",
        lower=3.0,
        upper=12.0,
        source=_ABS + ": peak between days 5 and 6",
        name="end of expansion",
    )
    b.parameter(
        "alpha",
        0.48,
        unit="1/d",
        lower=0.05,
        upper=2.0,
        source=_ABS + ": death-phase decline 0.5/d (alpha + r = 0.5)",
        name="activated cell death rate",
    )
    b.parameter(
        "r",
        0.02,
        unit="1/d",
        lower=0.0,
        upper=0.2,
        log_scale=False,
        source=_ABS + ": reversal to memory of 1-2% of activated cells per day",
        name="memory formation rate",
    )
    b.parameter(
        "dM",
        0.0,
        unit="1/d",
        lower=0.0,
        upper=0.1,
        log_scale=False,
        source="De Boer 2001: memory is stable over the observation period",
        name="memory decay",
    )
    b.fraction("f_dep", name="depleted fraction")
    b.start_time("t_dep", unit="d", name="depletion time")
    b.parameter(
        "sigma_cd8", 0.3, unit="log10", lower=0.01, upper=2.0, source="assumed", name="count noise"
    )
    b.parameter(
        "g",
        0.0,
        unit="1/d",
        lower=-10.0,
        upper=10.0,
        log_scale=False,
        constant=False,
        source="phase switch set by the events 'recruit' (g := rho) and 'peak' (g := -(alpha + r))",
        name="current net growth rate of A",
    )
    b.parameter(
        "mem_on",
        0.0,
        unit="dimensionless",
        lower=0.0,
        upper=1.0,
        log_scale=False,
        constant=False,
        source="phase switch set to 1 by the event 'peak'",
        name="memory formation on",
    )
    b.state("A", 0.0, "g*A", unit="cells")
    b.state("M", 0.0, "mem_on*r*A - dM*M", unit="cells")
    b.event("recruit", "time >= ton", {"A": "A + A0", "g": "rho"})
    b.event("peak", "time >= tpeak", {"g": "-(alpha + r)", "mem_on": "1"})
    b.event("deplete", "time >= t_dep", {"A": "A*(1 - f_dep)", "M": "M*(1 - f_dep)"})
    b.observable("specific_cd8", "A + M", noise="log10normal", sigma="sigma_cd8", unit="cells")
    b.meta(
        citation=METADATA.citation,
        doi=METADATA.doi,
        pubmed=METADATA.pubmed,
        licence=METADATA.licence,
    )
    b.notes(
        "A0 precursors are recruited at ton and expand at rate rho until tpeak; afterwards activated cells A "
        "die at rate alpha and revert to memory M at rate r."
    )
    return b.build()
