"""Provenance and FAIR metadata of a :class:`~immunetwin.data.Dataset`.

Every dataset records where it came from (DOI / URL, licence, citation), the SHA-256 checksum of
the source file, the reader (name and version) and the ordered list of curation steps applied
since. :func:`write_sidecar` writes this, together with everything that the tidy table itself
cannot hold, as JSON next to every exported file (``<file>.meta.json``).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from immunetwin.errors import DataError

__all__ = ["Provenance", "package_version", "sha256_file", "sidecar_path"]


def package_version() -> str:
    """Version of the installed ``immunetwin`` package (``"0+unknown"`` if not installed)."""
    try:
        from importlib.metadata import version

        return version("immunetwin")
    except Exception:  # pragma: no cover - not installed
        return "0+unknown"


def sha256_file(path: str | Path) -> str:
    """SHA-256 hex digest of a file's bytes.

    Parameters
    ----------
    path : str or Path
        The file.

    Returns
    -------
    str
        64 hexadecimal characters.

    Raises
    ------
    DataError
        If the file cannot be read.
    """
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
    except OSError as exc:
        raise DataError(f"cannot read file: {exc.strerror}", file=str(path)) from None
    return digest.hexdigest()


def sidecar_path(path: str | Path) -> Path:
    """Path of the JSON metadata sidecar of an exported file (``<file>.meta.json``)."""
    p = Path(path)
    return p.with_name(p.name + ".meta.json")


@dataclass(frozen=True)
class Provenance:
    """Where a dataset came from and what was done to it.

    Attributes
    ----------
    source_file : str
        The file read (as given to the reader).
    sha256 : str
        SHA-256 of that file ('' for datasets built in memory).
    reader : str
        Fully qualified name of the reader function.
    reader_version : str
        Version of immunetwin that read it.
    doi, url : str
        Identifier / address of the source publication or data repository.
    licence : str
        Licence of the data (e.g. ``"CC-BY-4.0"``).
    citation : str
        How to cite the source.
    title : str
        Title of the source.
    curation_steps : tuple of str
        Ordered, human-readable description of every curation step applied.
    derived_from : tuple of Provenance
        Provenance of earlier stages (e.g. the original source of an exported CSV).
    """

    source_file: str = ""
    sha256: str = ""
    reader: str = ""
    reader_version: str = ""
    doi: str = ""
    url: str = ""
    licence: str = ""
    citation: str = ""
    title: str = ""
    curation_steps: tuple[str, ...] = ()
    derived_from: tuple[Provenance, ...] = field(default=())

    def with_step(self, step: str) -> Provenance:
        """Return a copy with ``step`` appended to :attr:`curation_steps`."""
        return replace(self, curation_steps=(*self.curation_steps, step))

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable representation."""
        return {
            "source_file": self.source_file,
            "sha256": self.sha256,
            "reader": self.reader,
            "reader_version": self.reader_version,
            "doi": self.doi,
            "url": self.url,
            "licence": self.licence,
            "citation": self.citation,
            "title": self.title,
            "curation_steps": list(self.curation_steps),
            "derived_from": [p.to_dict() for p in self.derived_from],
        }

    @classmethod
    def from_dict(cls, data: Any, *, file: str | None = None) -> Provenance:
        """Inverse of :meth:`to_dict`.

        Raises
        ------
        DataError
            If ``data`` is not a provenance mapping.
        """
        if not isinstance(data, dict):
            raise DataError("provenance must be an object", file=file, row="provenance")
        kwargs: dict[str, Any] = {}
        for key in (
            "source_file",
            "sha256",
            "reader",
            "reader_version",
            "doi",
            "url",
            "licence",
            "citation",
            "title",
        ):
            value = data.get(key, "")
            if not isinstance(value, str):
                raise DataError(f"provenance.{key} must be a string", file=file, row="provenance")
            kwargs[key] = value
        steps = data.get("curation_steps", [])
        if not isinstance(steps, list) or not all(isinstance(s, str) for s in steps):
            raise DataError("provenance.curation_steps must be strings", file=file)
        parents = data.get("derived_from", [])
        if not isinstance(parents, list):
            raise DataError("provenance.derived_from must be a list", file=file)
        return cls(
            **kwargs,
            curation_steps=tuple(steps),
            derived_from=tuple(cls.from_dict(p, file=file) for p in parents),
        )
