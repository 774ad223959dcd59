"""Logical (Boolean / multi-valued) models of the library, kept apart from the ODE registry.

Each module defines ``build() -> LogicalModelSpec`` and ``METADATA`` (a :class:`ModelMetadata`).
"""

from __future__ import annotations

import importlib
from functools import cache

from ...errors import ModelError
from .._logical_spec import LogicalModelSpec
from ._metadata import ModelMetadata

__all__ = ["LOGICAL_MODULES", "get_logical", "logical_card", "logical_names"]

LOGICAL_MODULES: tuple[str, ...] = ("_klamt2006_tcr", "_mendoza2006_th")


@cache
def _modules() -> dict[str, object]:
    out: dict[str, object] = {}
    for name in LOGICAL_MODULES:
        mod = importlib.import_module(f"{__package__}.{name}")
        out[mod.METADATA.name] = mod
    return out


def logical_names() -> list[str]:
    """Names of the library's logical models, sorted."""
    return sorted(_modules())


def _module(name: str) -> object:
    try:
        return _modules()[name]
    except KeyError:
        known = ", ".join(logical_names())
        raise ModelError(f"library: no logical model named '{name}' (known: {known})") from None


@cache
def get_logical(name: str) -> LogicalModelSpec:
    """The :class:`LogicalModelSpec` of library model ``name`` (built once)."""
    spec: LogicalModelSpec = _module(name).build()  # type: ignore[attr-defined]
    return spec


def logical_card(name: str) -> ModelMetadata:
    """The metadata of logical library model ``name``."""
    meta: ModelMetadata = _module(name).METADATA  # type: ignore[attr-defined]
    return meta
