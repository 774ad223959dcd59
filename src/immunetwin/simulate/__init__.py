"""How to integrate: compile a spec into a fast, batched simulator with sensitivities."""

from ._api import Backend as Backend
from ._api import Method as Method
from ._api import SolverOptions as SolverOptions
from ._api import method_code as method_code
from ._api import simulate as simulate
from ._codegen import CompiledModel as CompiledModel
from ._codegen import cache_dir as cache_dir
from ._codegen import compile_model as compile_model
from ._ssa import SSAOptions as SSAOptions
from ._trajectory import MemberFailure as MemberFailure
from ._trajectory import NegativeState as NegativeState
from ._trajectory import Trajectory as Trajectory
from ._trajectory import find_negative_states as find_negative_states
from ._warmup import warmup as warmup
