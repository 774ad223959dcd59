"""Mendoza 2006: multi-valued logical model of Th1/Th2 differentiation (17 components).

IFN-gamma, its receptor, STAT1 and T-bet have three levels (0, 1, 2); the others are Boolean.
The rules are written out below from the model of the paper (as distributed by the GINsim
model repository, Th_17). The three environmental cytokines IL-12, IL-18 and IFN-beta are
input species here (the repository file holds them at 0).
"""

from __future__ import annotations

from .._logical_spec import LogicalModelBuilder, LogicalModelSpec
from . import _terms as t
from ._metadata import ModelMetadata, Term

NAME = "mendoza2006_th"

METADATA = ModelMetadata(
    name=NAME,
    title="Th1/Th2 differentiation, multi-valued logical model (17 components)",
    citation=(
        "Mendoza L. A network model for the control of the differentiation process in Th cells. "
        "Biosystems. 2006;84(2):101-114."
    ),
    doi="10.1016/j.biosystems.2005.10.004",
    pubmed="16386358",
    disease=Term(id="DOID:2914", label="immune system disease", qualifier="isVersionOf"),
    taxon=t.MOUSE,
    tags=("logical", "multi-valued", "t-helper", "th1", "th2", "differentiation", "cytokine"),
    state_terms=(
        ("Tbet", (Term(id="CL:0000545", label="T-helper 1 cell", qualifier="isVersionOf"),)),
        ("GATA3", (Term(id="CL:0000546", label="T-helper 2 cell", qualifier="isVersionOf"),)),
    ),
    authors=("Luis Mendoza",),
    version="1.0.0",
    time_unit="step",
    paper_check=(
        "Without external cytokines the network has the Th0 state (all off), Th1 states (T-bet and "
        "IFN-gamma on, GATA3 off) and a Th2 state (GATA3, IL-4, STAT6 on, T-bet off)."
    ),
    caveats=(
        "Logical model: levels, no time scale. IL-12, IL-18 and IFN-beta are inputs. Citation "
        "identifiers as recalled; check before citing."
    ),
)

LEVELS: tuple[tuple[str, int], ...] = (
    ("IL12", 1), ("IL18", 1), ("IFNb", 1),
    ("IFNg", 2), ("IFNgR", 2), ("STAT1", 2), ("Tbet", 2), ("SOCS1", 1), ("IFNbR", 1),
    ("IL18R", 1), ("IRAK", 1), ("IL12R", 1), ("STAT4", 1),
    ("IL4", 1), ("IL4R", 1), ("STAT6", 1), ("GATA3", 1),
)  # fmt: skip

RULES: tuple[tuple[str, dict[int, str]], ...] = (
    ("IL4R", {1: "IL4 & !SOCS1"}),
    ("IFNbR", {1: "IFNb"}),
    ("STAT4", {1: "IL12R & !GATA3"}),
    ("IFNgR", {2: "IFNg:2 & !SOCS1", 1: "IFNg"}),
    (
        "Tbet",
        {
            2: "STAT1:2 & !GATA3 | Tbet:2 & !GATA3 | STAT1 & Tbet:2 & !STAT1:2",
            1: "STAT1 & !GATA3 | Tbet & !GATA3 | STAT1 & Tbet & !STAT1:2",
        },
    ),
    ("STAT1", {2: "IFNgR:2", 1: "IFNbR | IFNgR"}),
    ("GATA3", {1: "STAT6 & !Tbet"}),
    ("IL12R", {1: "IL12 & !STAT6"}),
    ("IL4", {1: "GATA3 & !STAT1"}),
    ("SOCS1", {1: "STAT1 | Tbet"}),
    ("IFNg", {2: "Tbet:2 | IRAK & STAT4", 1: "STAT4 | Tbet"}),
    ("STAT6", {1: "IL4R"}),
    ("IL18R", {1: "IL18 & !STAT6"}),
    ("IRAK", {1: "IL18R"}),
)

PHENOTYPES: dict[str, dict[str, int]] = {
    "Th0": {"Tbet": 0, "GATA3": 0},
    "Th1": {"GATA3": 0, "IFNg": 1},
    "Th1_high": {"GATA3": 0, "IFNg": 2},
    "Th2": {"Tbet": 0, "GATA3": 1},
}
"""Marker-based phenotypes used in the docs' examples."""


def build() -> LogicalModelSpec:
    """Build the model."""
    b = LogicalModelBuilder(NAME, name=METADATA.title)
    for sid, top in LEVELS:
        b.species(sid, max_level=top)
    for sid, rule in RULES:
        b.rule(sid, rule)
    b.meta("doi", METADATA.doi)
    b.meta("citation", METADATA.citation)
    return b.build()
