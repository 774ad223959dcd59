"""immunetwin.inference: personalise a model to one person.

* :class:`CalibrationProblem` binds a model to one subject's data (:class:`ObservableMap`,
  :class:`Noise`, :class:`Estimate`, :class:`InterventionMap`) and evaluates the negative log
  posterior and its gradient for batches of parameter vectors (engine sensitivities);
* :func:`fit` finds the MAP by multi-start batched Levenberg-Marquardt (:class:`FitResult`);
* :func:`laplace` and :func:`sample` give a :class:`Posterior` (arviz export, R-hat, ESS);
* :func:`profile` and :func:`identifiability_report` check practical identifiability;
* :class:`PetabProblem` reads a PEtab (v1) problem into a multi-condition problem that ``fit``,
  ``profile`` and ``laplace`` accept; :func:`export_petab` writes any problem as PEtab;
* :class:`GaussianPrior` and :class:`PopulationPrior` carry population knowledge to a subject.

See ``docs/inference.md``.
"""

from ..model import Prior as Prior
from ._maps import Estimate as Estimate
from ._maps import InterventionMap as InterventionMap
from ._maps import Noise as Noise
from ._maps import ObservableMap as ObservableMap
from ._maps import Residuals as Residuals
from ._maps import Transform as Transform
from ._optimize import FitOptions as FitOptions
from ._optimize import FitResult as FitResult
from ._optimize import fit as fit
from ._optimize import least_squares_batch as least_squares_batch
from ._optimize import start_points as start_points
from ._petab_export import CENSORING_COLUMNS as CENSORING_COLUMNS
from ._petab_export import export_petab as export_petab
from ._petab_problem import PetabProblem as PetabProblem
from ._population import PopulationOptions as PopulationOptions
from ._population import PopulationResult as PopulationResult
from ._population import fit_population as fit_population
from ._population_eval import with_time_shift as with_time_shift
from ._posterior import Posterior as Posterior
from ._posterior import laplace as laplace
from ._posterior import sample as sample
from ._priors import GaussianPrior as GaussianPrior
from ._priors import PopulationPrior as PopulationPrior
from ._problem import CalibrationProblem as CalibrationProblem
from ._profile import Profile as Profile
from ._profile import identifiability_report as identifiability_report
from ._profile import profile as profile
