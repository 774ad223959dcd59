"""immunetwin.twin: the digital twin of one person.

:class:`DigitalTwin` personalises a model to one subject's data (MAP fit, Laplace proposal and a
particle posterior), assimilates new observations by sequential Monte Carlo
(:meth:`DigitalTwin.update`), forecasts with posterior predictive quantiles
(:class:`Forecast`), compares intervention :class:`Scenario` s (:class:`Comparison`), searches
intervention spaces (:meth:`DigitalTwin.optimise`) and saves/loads itself as open formats.
See ``docs/twin.md``.
"""

from ._config import TwinConfig as TwinConfig
from ._config import default_lod as default_lod
from ._config import fill_missing_limits as fill_missing_limits
from ._config import subject_dataset as subject_dataset
from ._predict import QCOLS as QCOLS
from ._predict import QUANTILES as QUANTILES
from ._predict import Forecast as Forecast
from ._report import write_report as write_report
from ._scenarios import Comparison as Comparison
from ._scenarios import Constraint as Constraint
from ._scenarios import OptimiseResult as OptimiseResult
from ._scenarios import Scenario as Scenario
from ._twin import DigitalTwin as DigitalTwin
