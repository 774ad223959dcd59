"""immunetwin.validate: does the twin predict data it has not seen?

:func:`validate_forecast` builds each subject's twin from its early data with a population prior
cross-fitted on the other subjects, forecasts the held-out observations and scores them (interval
coverage, median absolute error against a population baseline, CRPS; censored data scored
correctly); the result is typed (:class:`ValidationResult` of :class:`ForecastRecord` s and a
:class:`ValidationSummary`). :func:`population_prior_from` gives the population prior.
"""

from ..twin import analyte_map as analyte_map
from ..twin import default_t0 as default_t0
from ._forecast import validate_forecast as validate_forecast
from ._population import fallback_population_prior as fallback_population_prior
from ._population import population_prior_from as population_prior_from
from ._records import ForecastRecord as ForecastRecord
from ._records import RecordScore as RecordScore
from ._records import ScoreSummary as ScoreSummary
from ._records import ValidationSummary as ValidationSummary
from ._result import ValidationResult as ValidationResult
from ._result import load_result as load_result
from ._scoring import crps_sample as crps_sample
from ._subject import SubjectResult as SubjectResult
from ._subject import SubjectTask as SubjectTask
from ._subject import run_subject as run_subject
