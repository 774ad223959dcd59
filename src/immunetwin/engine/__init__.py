"""immunetwin.engine: where batches of independent work run.

Algorithms hand a batch of tasks to an engine; the engine decides where they run:

* :class:`SerialEngine` -- in the calling process (the default);
* :class:`ProcessEngine` -- a pool of worker processes on this machine;
* :class:`DaskEngine` -- a ``dask.distributed`` cluster (a local one by default, or a scheduler
  address to scale out).

``engine.map(fn, tasks, progress=...)`` returns the results in task order; a failing task is
reported with its index. :func:`default_engine` reads ``$IMMUNETWIN_ENGINE`` (``serial``,
``processes:N``, ``dask:N`` or ``dask:tcp://host:port``). :func:`threads_for` is the one
policy for how many threads a compiled kernel may use. Nothing else in the package starts
processes or threads.
"""

from ._base import AbstractEngine as AbstractEngine
from ._base import Progress as Progress
from ._dask import DaskEngine as DaskEngine
from ._local import ProcessEngine as ProcessEngine
from ._local import SerialEngine as SerialEngine
from ._options import ENV_VAR as ENV_VAR
from ._options import EngineOptions as EngineOptions
from ._options import default_engine as default_engine
from ._options import make_engine as make_engine
from ._options import resolve_engine as resolve_engine
from ._options import using_engine as using_engine
from ._policy import MIN_PARALLEL_BATCH as MIN_PARALLEL_BATCH
from ._policy import available_cores as available_cores
from ._policy import in_worker as in_worker
from ._policy import threads_for as threads_for
