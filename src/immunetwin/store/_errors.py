"""Typed errors of the twin registry."""

from __future__ import annotations

from ..errors import ImmunetwinError

__all__ = ["RegistryError", "TwinNotFound"]


class RegistryError(ImmunetwinError):
    """A registry problem: not a twin directory, unreadable metadata, unreachable database."""


class TwinNotFound(RegistryError, KeyError):
    """No twin with the requested id in the registry."""

    def __init__(self, twin_id: str, url: str):
        self.twin_id = twin_id
        self.url = url
        super().__init__(f"no twin with id {twin_id!r} in the registry {url}")

    def __str__(self) -> str:  # KeyError would otherwise quote the message
        return str(self.args[0])
