"""immunetwin.data: curated immunology data with units, detection limits, doses and provenance.

Typed records (:class:`Subject`, :class:`Observation`, :class:`Intervention`,
:class:`Dataset`), pint units and Ct standard curves, readers / writers (tidy CSV / Parquet,
Shedding Hub YAML, PEtab measurement tables, FHIR R4 Bundles, adapters for paper supplements),
curation lint and provenance. See ``docs/data.md``.
"""

from ._adapters import ADAPTERS as ADAPTERS
from ._adapters import read_adapter as read_adapter
from ._adapters import read_baccam2006 as read_baccam2006
from ._adapters import read_cart_cd22 as read_cart_cd22
from ._adapters import read_kissler2021 as read_kissler2021
from ._adapters import read_liang2010 as read_liang2010
from ._adapters import read_lucas2020 as read_lucas2020
from ._checks import MAX_ABS_TIME as MAX_ABS_TIME
from ._checks import check_times as check_times
from ._checks import check_units as check_units
from ._checks import dedupe as dedupe
from ._checks import harmonize_units as harmonize_units
from ._csv import read_csv as read_csv
from ._csv import read_parquet as read_parquet
from ._csv import write_csv as write_csv
from ._csv import write_parquet as write_parquet
from ._curation import LimitPlaceholder as LimitPlaceholder
from ._curation import censor_placeholder as censor_placeholder
from ._curation import find_limit_placeholder as find_limit_placeholder
from ._fhir import DEFAULT_LOINC as DEFAULT_LOINC
from ._fhir import from_fhir_bundle as from_fhir_bundle
from ._fhir import read_fhir as read_fhir
from ._fhir import to_fhir_bundle as to_fhir_bundle
from ._fhir import write_fhir as write_fhir
from ._io import read_dataset as read_dataset
from ._io import write_dataset as write_dataset
from ._lint import DEFAULT_RULES as DEFAULT_RULES
from ._lint import CensoredWithoutLimit as CensoredWithoutLimit
from ._lint import ConflictingValues as ConflictingValues
from ._lint import DuplicateRecords as DuplicateRecords
from ._lint import EmptyDataset as EmptyDataset
from ._lint import Finding as Finding
from ._lint import LimitPlaceholderRule as LimitPlaceholderRule
from ._lint import LintReport as LintReport
from ._lint import MissingMetadata as MissingMetadata
from ._lint import MissingValue as MissingValue
from ._lint import MixedUnits as MixedUnits
from ._lint import NonMonotoneDoses as NonMonotoneDoses
from ._lint import NonNumericCovariate as NonNumericCovariate
from ._lint import NonPositiveLinearValue as NonPositiveLinearValue
from ._lint import Rule as Rule
from ._lint import Severity as Severity
from ._lint import TimeBeforeReference as TimeBeforeReference
from ._lint import UncensoredBelowLimit as UncensoredBelowLimit
from ._lint import UnknownUnit as UnknownUnit
from ._lint import lint as lint
from ._petab import read_petab as read_petab
from ._petab import to_petab_frame as to_petab_frame
from ._petab import write_petab as write_petab
from ._provenance import Provenance as Provenance
from ._provenance import sha256_file as sha256_file
from ._records import FRAME_COLUMNS as FRAME_COLUMNS
from ._records import TIDY_COLUMNS as TIDY_COLUMNS
from ._records import Censoring as Censoring
from ._records import Dataset as Dataset
from ._records import Intervention as Intervention
from ._records import InterventionKind as InterventionKind
from ._records import Observation as Observation
from ._records import SkippedRecord as SkippedRecord
from ._records import Subject as Subject
from ._shedding_hub import load_yaml as load_yaml
from ._shedding_hub import read_shedding_hub as read_shedding_hub
from ._units import STANDARD_CURVES as STANDARD_CURVES
from ._units import StandardCurve as StandardCurve
from ._units import analyte_unit_problem as analyte_unit_problem
from ._units import convert_value as convert_value
from ._units import is_known_unit as is_known_unit
from ._units import normalize_unit as normalize_unit
from ._units import parse_unit as parse_unit
from ._units import ucum_code as ucum_code
