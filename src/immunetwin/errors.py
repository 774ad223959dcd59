"""Typed errors and warnings of immunetwin.

Every error names *what* went wrong and *where* (file, row, element id, parameter set, time).
"""

from __future__ import annotations

from typing import Any


class ImmunetwinError(Exception):
    """Base class of every error raised by immunetwin."""


class ImmunetwinWarning(UserWarning):
    """Base class of every warning issued by immunetwin."""


class ModelError(ImmunetwinError):
    """An invalid model specification (unknown symbol, duplicate id, bad expression...)."""


class SBMLError(ModelError):
    """An SBML document that cannot be read (malformed XML, libsbml errors)."""

    def __init__(self, message: str, *, source: str | None = None, messages: tuple[str, ...] = ()):
        self.source = source
        self.messages = messages
        where = f"{source}: " if source else ""
        detail = ("\n  " + "\n  ".join(messages)) if messages else ""
        super().__init__(f"{where}{message}{detail}")


class UnsupportedSBMLFeature(SBMLError):
    """An SBML construct that immunetwin does not (yet) support.

    Attributes
    ----------
    construct : str
        The SBML construct, e.g. ``"AlgebraicRule"`` or ``"fast reaction"``.
    element : str | None
        The id of the element that uses it.
    """

    def __init__(self, construct: str, element: str | None = None, *, source: str | None = None):
        self.construct = construct
        self.element = element
        at = f" (element '{element}')" if element else ""
        super().__init__(f"unsupported SBML feature: {construct}{at}", source=source)


class UnsupportedFeature(ImmunetwinError):
    """A model feature that a particular simulation backend cannot handle."""

    def __init__(self, construct: str, element: str | None = None, *, backend: str = "compiled"):
        self.construct = construct
        self.element = element
        self.backend = backend
        at = f" (element '{element}')" if element else ""
        super().__init__(f"backend '{backend}' does not support {construct}{at}")


class SimulationError(ImmunetwinError):
    """A solver failure: too many steps, step-size underflow, NaN or negative state.

    Attributes
    ----------
    model : str
        The model id.
    member : int | None
        Index of the failing parameter set in a batch (``None`` for a single simulation).
    time : float | None
        The time the solver reached.
    reason : str
        What went wrong.
    """

    def __init__(
        self,
        reason: str,
        *,
        model: str = "",
        member: int | None = None,
        time: float | None = None,
        params: dict[str, float] | None = None,
    ):
        self.reason = reason
        self.model = model
        self.member = member
        self.time = time
        self.params = params
        parts = [f"simulation of model '{model}' failed: {reason}"]
        if member is not None:
            parts.append(f"parameter set #{member}")
        if time is not None:
            parts.append(f"at t = {time:.6g}")
        if params:
            shown = ", ".join(f"{k}={v:.4g}" for k, v in list(params.items())[:8])
            parts.append(f"params: {shown}")
        super().__init__("; ".join(parts))


class NegativeStateError(SimulationError):
    """A species went meaningfully negative (``simulate(..., on_negative="raise")``).

    Attributes
    ----------
    states : tuple of str
        The species that went negative.
    value : float
        The most negative value reached (of the first of :attr:`states`).
    """

    def __init__(
        self,
        reason: str,
        *,
        states: tuple[str, ...],
        value: float,
        model: str = "",
        member: int | None = None,
        time: float | None = None,
        params: dict[str, float] | None = None,
    ):
        self.states = states
        self.value = value
        super().__init__(reason, model=model, member=member, time=time, params=params)


class NegativeStateWarning(ImmunetwinWarning):
    """A species went meaningfully negative during a simulation.

    Issued by :func:`~immunetwin.simulate.simulate` (``on_negative="warn"``, the default); the
    message names the species, the most negative value and the time it was reached. The
    result records them in :attr:`~immunetwin.simulate.Trajectory.negative_states`.
    """


class DataError(ImmunetwinError):
    """Bad input data: malformed file, wrong type, unknown analyte or unit.

    The message names the file and the row or element.
    """

    def __init__(self, message: str, *, file: str | None = None, row: int | str | None = None):
        self.file = file
        self.row = row
        where = ""
        if file:
            where += f"{file}"
        if row is not None:
            where += f" [row {row}]" if isinstance(row, int) else f" [{row}]"
        super().__init__(f"{where}: {message}" if where else message)


class UnsupportedPetabFeature(DataError):
    """A PEtab feature that immunetwin's PEtab reader does not handle.

    The message names the feature and the table row (or file) that uses it.
    """

    def __init__(self, feature: str, where: str):
        self.feature = feature
        self.where = where
        ImmunetwinError.__init__(self, f"unsupported PEtab feature: {feature} ({where})")
        self.file = None
        self.row = where


class FitError(ImmunetwinError):
    """A calibration problem that cannot be set up or solved."""


class TwinFormatError(ImmunetwinError):
    """A damaged or foreign twin directory: a missing, truncated or garbled file, an unknown
    format, or a checksum that does not match. The message names the file."""


class EngineError(ImmunetwinError):
    """An execution engine that cannot be set up (bad ``IMMUNETWIN_ENGINE``, no scheduler...)."""


class TaskError(EngineError):
    """A task run by an engine raised an error that is not one of immunetwin's own.

    (An immunetwin error raised in a task is re-raised with its own type, its message prefixed
    by the task index.)

    Attributes
    ----------
    index : int
        Position of the failing task in the batch handed to the engine.
    kind : str
        The qualified name of the original exception type.
    remote_traceback : str
        The traceback of the original exception, as text.
    """

    def __init__(self, message: str, *, index: int, kind: str = "", remote_traceback: str = ""):
        self.index = index
        self.kind = kind
        self.remote_traceback = remote_traceback
        super().__init__(message)

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild_task_error, (self.args[0], self.index, self.kind, self.remote_traceback))


def _rebuild_task_error(message: str, index: int, kind: str, remote_traceback: str) -> TaskError:
    return TaskError(message, index=index, kind=kind, remote_traceback=remote_traceback)
