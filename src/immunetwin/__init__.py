"""immunetwin: immune digital twins.

Build, personalise, validate and serve mechanistic models of one person's immune response.
"""

from .errors import DataError as DataError
from .errors import FitError as FitError
from .errors import ImmunetwinError as ImmunetwinError
from .errors import ModelError as ModelError
from .errors import SBMLError as SBMLError
from .errors import SimulationError as SimulationError
from .errors import UnsupportedSBMLFeature as UnsupportedSBMLFeature
from .model import ModelBuilder as ModelBuilder
from .model import ModelSpec as ModelSpec

__version__ = "0.1.0"
