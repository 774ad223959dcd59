"""immunetwin.twin: the digital twin of one person.

:func:`build_twin` is the recipe (subject, cutoff, detection limits, start time, per-model
defaults) that makes a :class:`DigitalTwin`; the twin personalises a model to one subject's data
(MAP fit, Laplace proposal and a particle posterior), assimilates new observations by sequential
Monte Carlo (:meth:`DigitalTwin.update`), forecasts with posterior predictive quantiles
(:class:`Forecast`), compares intervention :class:`Scenario` s (:class:`Comparison`), searches
intervention spaces (:meth:`DigitalTwin.optimise`) and saves itself as atomic, versioned open
formats (:func:`twin_versions`, :func:`restore_version`). Its settings are a frozen
:class:`TwinConfig`, what it has learnt a frozen :class:`TwinState`. See ``docs/twin.md``.
"""

from ._config import TwinConfig as TwinConfig
from ._config import default_lod as default_lod
from ._config import fill_missing_limits as fill_missing_limits
from ._config import model_twin_defaults as model_twin_defaults
from ._config import subject_dataset as subject_dataset
from ._document import config_to_dict as config_to_dict
from ._document import history_to_dict as history_to_dict
from ._format import TwinInfo as TwinInfo
from ._format import TwinVersion as TwinVersion
from ._format import read_twin_info as read_twin_info
from ._format import restore_version as restore_version
from ._format import twin_versions as twin_versions
from ._predict import QCOLS as QCOLS
from ._predict import QUANTILES as QUANTILES
from ._predict import Forecast as Forecast
from ._recipe import analyte_map as analyte_map
from ._recipe import build_twin as build_twin
from ._recipe import default_t0 as default_t0
from ._recipe import new_observations as new_observations
from ._recipe import split_observations as split_observations
from ._recipe import subject_training_data as subject_training_data
from ._recipe import twin_config as twin_config
from ._report import write_report as write_report
from ._scenarios import Comparison as Comparison
from ._scenarios import Constraint as Constraint
from ._scenarios import OptimiseResult as OptimiseResult
from ._scenarios import Scenario as Scenario
from ._state import CalibrationStep as CalibrationStep
from ._state import HistoryEntry as HistoryEntry
from ._state import NewObservation as NewObservation
from ._state import Particles as Particles
from ._state import TwinState as TwinState
from ._state import UpdateStep as UpdateStep
from ._twin import DigitalTwin as DigitalTwin
