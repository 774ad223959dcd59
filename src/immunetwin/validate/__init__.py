"""immunetwin.validate: does the twin predict data it has not seen?

:func:`validate_forecast` builds each subject's twin from its early data with a population prior
cross-fitted on the other subjects, forecasts the held-out observations and scores them (interval
coverage, median absolute error against a population baseline, CRPS; censored data scored
correctly). :func:`population_prior_from` gives the population prior.
"""

from ._forecast import DEFAULT_ESTIMATES as DEFAULT_ESTIMATES
from ._forecast import DEFAULT_FIXED as DEFAULT_FIXED
from ._forecast import ValidationResult as ValidationResult
from ._forecast import analyte_map as analyte_map
from ._forecast import default_t0 as default_t0
from ._forecast import load_result as load_result
from ._forecast import validate_forecast as validate_forecast
from ._population import fallback_population_prior as fallback_population_prior
from ._population import population_prior_from as population_prior_from
from ._scoring import crps_sample as crps_sample
