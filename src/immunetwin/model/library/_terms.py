"""Ontology terms shared by several library models."""

from __future__ import annotations

from ._metadata import Term

HUMAN = Term(id="NCBITaxon:9606", label="Homo sapiens")
MOUSE = Term(id="NCBITaxon:10090", label="Mus musculus")
HORSE = Term(id="NCBITaxon:9796", label="Equus caballus")

INFLUENZA_A = Term(id="NCBITaxon:11320", label="Influenza A virus")
HIV1 = Term(id="NCBITaxon:11676", label="Human immunodeficiency virus 1")
HCV = Term(id="NCBITaxon:11103", label="Hepacivirus C")
SARS_COV_2 = Term(id="NCBITaxon:2697049", label="Severe acute respiratory syndrome coronavirus 2")
LCMV = Term(id="NCBITaxon:11623", label="Lymphocytic choriomeningitis mammarenavirus")
HAV = Term(id="NCBITaxon:12092", label="Hepatovirus A")
BACTERIA = Term(id="NCBITaxon:2", label="Bacteria", qualifier="isVersionOf")

EPITHELIAL = Term(id="CL:0000066", label="epithelial cell", qualifier="isVersionOf")
HEPATOCYTE = Term(id="CL:0000182", label="hepatocyte")
CD4_T = Term(id="CL:0000624", label="CD4-positive, alpha-beta T cell")
CD8_T = Term(id="CL:0000625", label="CD8-positive, alpha-beta T cell")
EFFECTOR_T = Term(id="CL:0000911", label="effector T cell", qualifier="isVersionOf")
MEMORY_T = Term(id="CL:0000813", label="memory T cell", qualifier="isVersionOf")
T_CELL = Term(id="CL:0000084", label="T cell", qualifier="isVersionOf")
NEUTROPHIL = Term(id="CL:0000775", label="neutrophil", qualifier="isVersionOf")
PLASMA_CELL = Term(id="CL:0000786", label="plasma cell", qualifier="isVersionOf")
MALIGNANT = Term(id="CL:0001063", label="neoplastic cell", qualifier="isVersionOf")

VIRAL_PROCESS = Term(id="GO:0016032", label="viral process", qualifier="isVersionOf")
VIRION = Term(id="GO:0019012", label="virion", qualifier="isVersionOf")
IFN_SIGNALLING = Term(
    id="GO:0060337", label="type I interferon-mediated signaling pathway", qualifier="isVersionOf"
)
DEFENSE_VIRUS = Term(id="GO:0051607", label="defense response to virus", qualifier="isVersionOf")
INFLAMMATION = Term(id="GO:0006954", label="inflammatory response", qualifier="isVersionOf")
NEG_INFLAMMATION = Term(
    id="GO:0050728", label="negative regulation of inflammatory response", qualifier="isVersionOf"
)
CELL_DEATH = Term(id="GO:0008219", label="cell death", qualifier="isVersionOf")
ANTIBODY = Term(
    id="GO:0042571", label="immunoglobulin complex, circulating", qualifier="isVersionOf"
)
T_CYTOTOX = Term(id="GO:0001913", label="T cell mediated cytotoxicity", qualifier="isVersionOf")
IL6 = Term(id="PR:000001393", label="interleukin-6", qualifier="isVersionOf")
