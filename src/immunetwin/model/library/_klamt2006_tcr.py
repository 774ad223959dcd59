"""Klamt et al. 2006: Boolean model of T-cell receptor signalling (40 components).

The rules are written out below from the model of the paper (as distributed by the GINsim
model repository, TCRsig40). The three inputs (CD8 co-receptor, CD45, TCR ligand) are input
species: they keep their level.
"""

from __future__ import annotations

from .._logical_spec import LogicalModelBuilder, LogicalModelSpec
from . import _terms as t
from ._metadata import ModelMetadata, Term

NAME = "klamt2006_tcr"

METADATA = ModelMetadata(
    name=NAME,
    title="T-cell receptor signalling, Boolean model (40 components)",
    citation=(
        "Klamt S, Saez-Rodriguez J, Lindquist JA, Simeoni L, Gilles ED. A methodology for the "
        "structural and functional analysis of signaling and regulatory networks. "
        "BMC Bioinformatics. 2006;7:56."
    ),
    doi="10.1186/1471-2105-7-56",
    pubmed="16464248",
    disease=Term(id="DOID:2914", label="immune system disease", qualifier="isVersionOf"),
    taxon=t.HUMAN,
    tags=("logical", "boolean", "t-cell", "tcr", "signalling", "activation"),
    state_terms=(
        (
            "TCRlig",
            (
                Term(
                    id="GO:0050852",
                    label="T cell receptor signaling pathway",
                    qualifier="isVersionOf",
                ),
            ),
        ),
        ("NFAT", (t.T_CELL,)),
    ),
    authors=(
        "Steffen Klamt",
        "Julio Saez-Rodriguez",
        "Jonathan A. Lindquist",
        "Luca Simeoni",
        "Ernst D. Gilles",
    ),
    version="1.0.0",
    time_unit="step",
    paper_check=(
        "GINsim repository page (TCRsig40): seven stable states, one for each combination of the "
        "three inputs except all three on, where the system oscillates (negative circuit ZAP70 -| cCbl)."
    ),
    caveats=(
        "Logical model: levels, no time scale. Inputs are input species rather than GINsim's "
        "self-loops (same dynamics). Citation identifiers as recalled; check before citing."
    ),
)

RULES: tuple[tuple[str, str], ...] = (
    ("ZAP70", "LCK & TCRphos & !cCbl"),
    ("PLCg_b", "LAT"),
    ("LAT", "ZAP70"),
    ("Fyn", "CD45 & LCK | CD45 & TCRbind"),
    ("Rsk", "ERK"),
    ("PAGCsk", "!TCRbind"),
    ("TCRbind", "TCRlig & !cCbl"),
    ("JNK", "SEK"),
    ("DAG", "PLCg_a"),
    ("LCK", "CD45 & CD8 & !PAGCsk"),
    ("CRE", "CREB"),
    ("IKK", "PKCth"),
    ("MEK", "Raf"),
    ("Raf", "Ras"),
    ("cCbl", "ZAP70"),
    ("Fos", "ERK"),
    ("NFAT", "Calcin"),
    ("PLCg_a", "Itk & PLCg_b & Slp76 & ZAP70 | PLCg_b & Rlk & Slp76 & ZAP70"),
    ("Rlk", "LCK"),
    ("Jun", "JNK"),
    ("ERK", "MEK"),
    ("SEK", "PKCth"),
    ("Calcin", "Ca"),
    ("CREB", "Rsk"),
    ("PKCth", "DAG"),
    ("Ras", "Grb2Sos & RasGRP1"),
    ("AP1", "Fos & Jun"),
    ("IP3", "PLCg_a"),
    ("RasGRP1", "DAG & PKCth"),
    ("Grb2Sos", "LAT"),
    ("Slp76", "Gads"),
    ("Ca", "IP3"),
    ("NFkB", "!IkB"),
    ("TCRphos", "Fyn | LCK & TCRbind"),
    ("Gads", "LAT"),
    ("Itk", "Slp76 & ZAP70"),
    ("IkB", "!IKK"),
)
INPUTS = ("CD8", "CD45", "TCRlig")


def build() -> LogicalModelSpec:
    """Build the model."""
    b = LogicalModelBuilder(NAME, name=METADATA.title)
    for sid in INPUTS:
        b.species(sid)
    for sid, _ in RULES:
        b.species(sid)
    for sid, rule in RULES:
        b.rule(sid, rule)
    b.meta("doi", METADATA.doi)
    b.meta("citation", METADATA.citation)
    return b.build()
