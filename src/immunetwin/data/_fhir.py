"""HL7 FHIR R4 Bundles (``fhir.resources``, R4B models) to and from a Dataset.

Resources
---------
* ``Patient`` per subject: ``identifier`` (system ``urn:immunetwin:subject``) holds the subject
  id, ``gender`` the sex, an extension the covariates (JSON).
* ``Observation`` per observation: ``code`` = LOINC coding where the code map has one, plus the
  analyte name (system ``urn:immunetwin:analyte``); ``valueQuantity`` with the UCUM code; a
  censored value is ``valueQuantity.comparator`` ``<`` (left) or ``>`` (right) at the limit,
  with ``interpretation`` (``<`` off scale low / ``>`` off scale high, ``NEG`` / ``POS`` for
  qualitative results); interval censoring is ``valueRange``; a censored record of unknown
  limit is ``valueString`` (the qualitative result). ``method`` = assay, ``specimen.display`` =
  specimen, ``effectiveDateTime`` = anchor + time.
* ``MedicationAdministration`` (antiviral, drug, cytokine blockade) / ``Immunization``
  (vaccine) per intervention.
* one ``Basic`` resource with the dataset metadata (reference events, analytes, skipped
  records, provenance) as JSON.

Exact relative times, reference events and other details without a FHIR element travel in
extensions under ``https://immunetwin.org/fhir/StructureDefinition/``, so that
Dataset -> FHIR -> Dataset is lossless. Bundles from elsewhere (without these extensions) are
read with times in days since ``anchor`` (or since each patient's first observation).

The code is split into :mod:`immunetwin.data._fhir_common` (code systems, extension namespace,
LOINC map), :mod:`immunetwin.data._fhir_write` (Dataset -> Bundle) and
:mod:`immunetwin.data._fhir_read` (Bundle -> Dataset); this module re-exports them.
"""

from ._fhir_common import DEFAULT_LOINC as DEFAULT_LOINC
from ._fhir_common import EXT as EXT
from ._fhir_common import LOINC as LOINC
from ._fhir_common import UCUM as UCUM
from ._fhir_read import from_fhir_bundle as from_fhir_bundle
from ._fhir_read import read_fhir as read_fhir
from ._fhir_write import to_fhir_bundle as to_fhir_bundle
from ._fhir_write import write_fhir as write_fhir

__all__ = [
    "DEFAULT_LOINC",
    "EXT",
    "from_fhir_bundle",
    "read_fhir",
    "to_fhir_bundle",
    "write_fhir",
]
