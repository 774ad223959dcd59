"""Format dispatch by file extension: :func:`read_dataset` and :func:`write_dataset`.

============  ==========================  ===================
extension     format                      read / write
============  ==========================  ===================
``.csv``      tidy CSV (+ sidecar)        both
``.parquet``  tidy Parquet (+ sidecar)    both
``.tsv``      PEtab measurement table     both
``.json``     FHIR R4 Bundle              both
``.yaml``     Shedding Hub dataset, or    read
              a PEtab problem (its
              measurement table)
folder        ``shared/data`` adapter     read
============  ==========================  ===================
"""

from __future__ import annotations

from pathlib import Path

from immunetwin.errors import DataError

from ._adapters import ADAPTERS, read_adapter
from ._csv import read_csv, read_parquet, write_csv, write_parquet
from ._fhir import read_fhir, write_fhir
from ._petab import read_petab, write_petab
from ._records import Dataset
from ._shedding_hub import read_shedding_hub

__all__ = ["read_dataset", "write_dataset"]


def _petab_measurements(p: Path) -> Path | None:
    """The measurement table of a PEtab problem YAML file (``None`` for other YAML files)."""
    import yaml

    try:
        spec = yaml.safe_load(p.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None
    if not (isinstance(spec, dict) and "format_version" in spec and "problems" in spec):
        return None
    files = [f for prob in spec.get("problems") or [] for f in prob.get("measurement_files") or []]
    if len(files) != 1:
        raise DataError(
            f"a PEtab problem with {len(files)} measurement tables (one is read)", file=str(p)
        )
    return p.parent / str(files[0])


def read_dataset(path: str | Path) -> Dataset:
    """Read a dataset, choosing the reader from the extension (or adapter folder name).

    Raises
    ------
    DataError
        Unknown extension, missing file, or anything the reader rejects.
    """
    p = Path(path)
    if p.is_dir():
        if p.name in ADAPTERS:
            return read_adapter(p)
        raise DataError(f"no adapter for folder (known: {sorted(ADAPTERS)})", file=str(p))
    if not p.exists():
        raise DataError("no such file", file=str(p))
    suffix = p.suffix.lower()
    if suffix == ".csv":
        return read_csv(p)
    if suffix == ".parquet":
        return read_parquet(p)
    if suffix == ".tsv":
        return read_petab(p)
    if suffix == ".json":
        return read_fhir(p)
    if suffix in (".yaml", ".yml"):
        petab_table = _petab_measurements(p)
        if petab_table is not None:
            return read_petab(petab_table)
        return read_shedding_hub(p)
    raise DataError(
        f"unknown input format {suffix!r} (use .csv .parquet .tsv .json .yaml)", file=str(p)
    )


def write_dataset(dataset: Dataset, path: str | Path) -> Path:
    """Write a dataset, choosing the writer from the extension (always with a sidecar).

    Raises
    ------
    DataError
        Unknown or read-only extension, or an unwritable path.
    """
    p = Path(path)
    suffix = p.suffix.lower()
    writers = {
        ".csv": write_csv,
        ".parquet": write_parquet,
        ".tsv": write_petab,
        ".json": write_fhir,
    }
    if suffix not in writers:
        raise DataError(
            f"cannot write format {suffix!r} (use .csv .parquet .tsv .json)", file=str(p)
        )
    try:
        return writers[suffix](dataset, p)
    except OSError as exc:
        raise DataError(f"cannot write: {exc.strerror}", file=str(p)) from None
