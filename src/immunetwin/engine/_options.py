"""Choosing an engine: a typed option object, a short text form, and the environment default."""

from __future__ import annotations

import atexit
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Literal

from ..errors import EngineError
from ._base import AbstractEngine
from ._dask import DaskEngine
from ._local import ProcessEngine, SerialEngine

__all__ = [
    "ENV_VAR",
    "EngineOptions",
    "default_engine",
    "make_engine",
    "resolve_engine",
    "using_engine",
]

ENV_VAR = "IMMUNETWIN_ENGINE"
"""Environment variable read by :func:`default_engine`."""

_KINDS = ("serial", "processes", "dask")


@dataclass(frozen=True, slots=True, kw_only=True)
class EngineOptions:
    """Which engine to run on.

    Attributes
    ----------
    kind : "serial", "processes" or "dask"
        In the calling process, a local process pool, or a Dask cluster.
    workers : int or None
        Worker processes (default: the cores available; for ``"dask"`` with an ``address``,
        the cluster's own workers).
    address : str or None
        Dask scheduler address (``"tcp://host:8786"``); ``None`` starts a local cluster.
    threads_per_worker : int
        Kernel threads each worker may use.
    chunksize : int or None
        Tasks per submission (default: about four chunks per worker).
    """

    kind: Literal["serial", "processes", "dask"] = "serial"
    workers: int | None = None
    address: str | None = None
    threads_per_worker: int = 1
    chunksize: int | None = None

    def __post_init__(self) -> None:
        if self.kind not in _KINDS:
            raise EngineError(f"engine kind must be one of {', '.join(_KINDS)}; got {self.kind!r}")
        if self.workers is not None and self.workers < 1:
            raise EngineError(f"engine workers must be >= 1; got {self.workers}")
        if self.address is not None and self.kind != "dask":
            raise EngineError("an engine address needs kind='dask'")

    @classmethod
    def parse(cls, text: str) -> EngineOptions:
        """Read the short form: ``serial``, ``processes[:N]``, ``dask[:N]`` or ``dask:ADDRESS``.

        ``ADDRESS`` is a scheduler address such as ``tcp://10.0.0.5:8786``.

        Raises
        ------
        EngineError
            For any other text.
        """
        raw = text.strip()
        kind, _, arg = raw.partition(":")
        kind = kind.strip().lower()
        bad = EngineError(
            f"cannot read engine {text!r}: use serial, processes[:N], dask[:N] or dask:ADDRESS"
        )
        if kind not in _KINDS:
            raise bad
        if not arg:
            return cls(kind=kind)  # type: ignore[arg-type]
        if kind == "serial":
            raise bad
        if arg.isdigit():
            return cls(kind=kind, workers=int(arg))  # type: ignore[arg-type]
        if kind == "dask" and "//" in arg or kind == "dask" and ":" in arg:
            return cls(kind="dask", address=arg)
        raise bad


def make_engine(options: EngineOptions | str) -> AbstractEngine:
    """A new engine for ``options`` (an :class:`EngineOptions` or its short text form)."""
    opts = EngineOptions.parse(options) if isinstance(options, str) else options
    if opts.kind == "serial":
        return SerialEngine()
    if opts.kind == "processes":
        return ProcessEngine(
            opts.workers, threads_per_worker=opts.threads_per_worker, chunksize=opts.chunksize
        )
    return DaskEngine(
        opts.address,
        workers=opts.workers,
        threads_per_worker=opts.threads_per_worker,
        chunksize=opts.chunksize,
    )


_DEFAULT: dict[str, AbstractEngine] = {}


def _close_defaults() -> None:
    for eng in _DEFAULT.values():
        eng.close()
    _DEFAULT.clear()


atexit.register(_close_defaults)


def default_engine() -> AbstractEngine:
    """The engine named by ``$IMMUNETWIN_ENGINE`` (default ``serial``), shared per process.

    Raises
    ------
    EngineError
        If the variable cannot be read (see :meth:`EngineOptions.parse`).
    """
    text = os.environ.get(ENV_VAR, "").strip() or "serial"
    eng = _DEFAULT.get(text)
    if eng is None:
        try:
            eng = make_engine(text)
        except EngineError as exc:
            raise EngineError(f"${ENV_VAR}: {exc}") from exc
        _DEFAULT[text] = eng
    return eng


def resolve_engine(engine: AbstractEngine | EngineOptions | str | None) -> AbstractEngine:
    """The engine for an ``engine=`` keyword: as given, built from options, or the default."""
    if engine is None:
        return default_engine()
    if isinstance(engine, AbstractEngine):
        return engine
    if isinstance(engine, EngineOptions | str):
        return make_engine(engine)
    raise EngineError(
        f"engine must be an engine, EngineOptions or text; got {type(engine).__name__}"
    )


@contextmanager
def using_engine(
    engine: AbstractEngine | EngineOptions | str | None,
) -> Iterator[AbstractEngine]:
    """The engine for an ``engine=`` keyword, closed at the end if it was built here.

    A given engine (and the shared default) stays open for its owner; one built from
    :class:`EngineOptions` or text lives for the ``with`` block only.
    """
    eng = resolve_engine(engine)
    try:
        yield eng
    finally:
        if isinstance(engine, EngineOptions | str):
            eng.close()
