"""What the biology is: the frozen :class:`ModelSpec`, the builder, SBML I/O and the model library."""

from ._builder import ModelBuilder as ModelBuilder
from ._math import AVOGADRO as AVOGADRO
from ._math import DELAY as DELAY
from ._math import RATE_OF as RATE_OF
from ._math import TIME as TIME
from ._math import as_expr as as_expr
from ._sbml import from_sbml as from_sbml
from ._sbml import to_sbml as to_sbml
from ._spec import AlgebraicRule as AlgebraicRule
from ._spec import AssignmentRule as AssignmentRule
from ._spec import Compartment as Compartment
from ._spec import Event as Event
from ._spec import EventAssignment as EventAssignment
from ._spec import FunctionDefinition as FunctionDefinition
from ._spec import InitialAssignment as InitialAssignment
from ._spec import ModelSpec as ModelSpec
from ._spec import NoiseKind as NoiseKind
from ._spec import NoiseModel as NoiseModel
from ._spec import Observable as Observable
from ._spec import Parameter as Parameter
from ._spec import Prior as Prior
from ._spec import RateRule as RateRule
from ._spec import Reaction as Reaction
from ._spec import Species as Species
from ._spec import SpeciesReference as SpeciesReference
