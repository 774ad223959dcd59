"""The registry of library models: built-in models are loaded lazily on first use."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass

from ...errors import ModelError
from .._spec import ModelSpec
from ._metadata import ModelMetadata

__all__ = ["BUILTIN_MODULES", "Entry", "Registry", "REGISTRY"]

BUILTIN_MODULES: tuple[str, ...] = (
    "_baccam2006",
    "_pawelek2012",
    "_ke2022",
    "_perelson1996",
    "_perelson1993",
    "_nowak1996",
    "_neumann1998",
    "_reynolds2006",
    "_andraud2012",
    "_deboer2001",
    "_kuznetsov1994",
    "_stein2019",
)
"""Modules (in this package) that each define ``build() -> ModelSpec`` and ``METADATA``."""


@dataclass(frozen=True, slots=True)
class Entry:
    """A registered model: how to build it, and its metadata."""

    metadata: ModelMetadata
    build: Callable[[], ModelSpec]
    builtin: bool


class Registry:
    """Models by name. Built-in models are imported on first use; :meth:`register` adds others."""

    def __init__(self, modules: tuple[str, ...] = BUILTIN_MODULES) -> None:
        self._modules = modules
        self._entries: dict[str, Entry] = {}
        self._loaded = False
        self._cache: dict[str, ModelSpec] = {}

    def _load(self) -> None:
        if self._loaded:
            return
        for mod_name in self._modules:
            mod = importlib.import_module(f"{__package__}.{mod_name}")
            meta: ModelMetadata = mod.METADATA
            if meta.name in self._entries:
                raise ModelError(f"library: duplicate model name '{meta.name}'")
            self._entries[meta.name] = Entry(meta, mod.build, True)
        self._loaded = True

    def names(self) -> list[str]:
        """Every registered name, sorted."""
        self._load()
        return sorted(self._entries)

    def entry(self, name: str) -> Entry:
        """The entry called ``name``."""
        self._load()
        try:
            return self._entries[name]
        except KeyError:
            known = ", ".join(sorted(self._entries))
            raise ModelError(f"library: no model named '{name}' (known: {known})") from None

    def spec(self, name: str) -> ModelSpec:
        """The (cached) spec of model ``name``."""
        if name not in self._cache:
            spec = self.entry(name).build()
            if spec.id != name:
                raise ModelError(f"library: model '{name}' builds a spec with id '{spec.id}'")
            self._cache[name] = spec
        return self._cache[name]

    def register(self, spec: ModelSpec, metadata: ModelMetadata, *, replace: bool = False) -> None:
        """Add an external model (its spec id must equal ``metadata.name``)."""
        self._load()
        if spec.id != metadata.name:
            raise ModelError(
                f"library: spec id '{spec.id}' differs from metadata name '{metadata.name}'"
            )
        if metadata.name in self._entries and not replace:
            raise ModelError(f"library: a model named '{metadata.name}' is already registered")
        self._entries[metadata.name] = Entry(metadata, lambda: spec, False)
        self._cache[metadata.name] = spec

    def unregister(self, name: str) -> None:
        """Remove a model added with :meth:`register` (built-in models cannot be removed)."""
        entry = self.entry(name)
        if entry.builtin:
            raise ModelError(f"library: '{name}' is a built-in model and cannot be removed")
        del self._entries[name]
        self._cache.pop(name, None)


REGISTRY = Registry()
"""The process-wide registry (filled lazily on first use)."""
