"""The twin directory: atomic, versioned, checksummed saves (the only module that knows the format).

A twin directory holds complete versions and a pointer to the current one::

    DIR/CURRENT                      {"version": 3, "twin_json_sha256": "..."}
    DIR/versions/000003/twin.json    settings, prior, state, history, checksums of the files below
    DIR/versions/000003/model.xml    the model as SBML (immunetwin annotation, so it round-trips)
    DIR/versions/000003/data.parquet (+ .meta.json)  the assimilated data
    DIR/versions/000003/particles.parquet            ``theta_<id>``, ``<id>``, log weight/posterior

A save writes the new version into a temporary folder inside ``DIR/versions``, flushes every file
to disk, renames the folder into place (atomic) and then replaces ``CURRENT`` (atomic
``os.replace``): a reader sees the old version or the new one, never a mixture, and a killed
save leaves the old version current. The newest ``keep`` versions are kept. A directory written
before versioning (``DIR/twin.json`` and its files) is still read. Loading verifies the checksum
of every file and the model hash, and re-simulates the particle trajectories (deterministic).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..data import Dataset, read_dataset, sha256_file, write_dataset
from ..errors import ImmunetwinError, TwinFormatError
from ..model import ModelSpec
from ._document import (
    READABLE,
    TwinContents,
    config_from_doc,
    document,
    history_from_dict,
    jsonable,
    prior_from_dict,
)
from ._state import Particles, TwinState, UpdateStep

__all__ = [
    "TwinContents",
    "TwinInfo",
    "TwinVersion",
    "read_twin",
    "read_twin_info",
    "restore_version",
    "save_twin",
    "twin_versions",
]

POINTER = "CURRENT"
VERSIONS = "versions"
META = "twin.json"
#: Versions kept by default.
KEEP = 10


Array = np.ndarray[Any, Any]


@dataclass(frozen=True)
class TwinInfo:
    """What a twin directory's current version says about itself (read without loading it)."""

    path: Path
    version: int | None
    name: str
    subject: str
    model_id: str
    model_hash: str
    data_sha256: str
    immunetwin_version: str
    created_at: str | None
    saved_at: str | None
    n_updates: int
    observations: int


@dataclass(frozen=True)
class TwinVersion:
    """One saved version of a twin directory."""

    number: int
    saved_at: str | None
    n_updates: int
    observations: int
    current: bool
    readable: bool


# ---------------------------------------------------------------------- low-level file helpers
def _fsync_file(path: Path) -> None:
    with open(path, "rb") as fh:
        os.fsync(fh.fileno())


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # platforms without directory handles
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _read_json(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise TwinFormatError(f"{path}: missing") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise TwinFormatError(f"{path}: unreadable ({exc})") from None
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise TwinFormatError(f"{path}: truncated or garbled JSON ({exc})") from None
    if not isinstance(doc, dict):
        raise TwinFormatError(f"{path}: not a twin metadata document")
    return doc


def _write_particles(tw: TwinContents, ps: Particles, path: Path) -> None:
    names = [e.id for e in tw.config.estimate]
    cols: dict[str, Any] = {f"theta_{n}": ps.theta[:, j] for j, n in enumerate(names)}
    if tw.natural is not None:
        cols.update({n: tw.natural[:, j] for j, n in enumerate(names)})
    cols["log_weight"] = ps.log_weight
    cols["log_posterior"] = ps.log_posterior
    pd.DataFrame(cols).to_parquet(path, index=False)


def _write_version(tw: TwinContents, folder: Path) -> str:
    """Write every file of the twin into ``folder`` (flushed); returns twin.json's checksum."""
    from ..model import to_sbml

    (folder / "model.xml").write_text(to_sbml(tw.model), encoding="utf-8")
    write_dataset(tw.data, folder / "data.parquet")
    if tw.state.particles is not None:
        _write_particles(tw, tw.state.particles, folder / "particles.parquet")
    files = {p.name: sha256_file(p) for p in sorted(folder.iterdir()) if p.is_file()}
    text = json.dumps(document(tw, files), indent=1, default=jsonable) + "\n"
    (folder / META).write_text(text, encoding="utf-8")
    for p in folder.iterdir():
        _fsync_file(p)
    _fsync_dir(folder)
    return _sha256_bytes(text.encode("utf-8"))


def _numbers(versions: Path) -> list[int]:
    if not versions.is_dir():
        return []
    return sorted(int(p.name) for p in versions.iterdir() if p.is_dir() and p.name.isdigit())


def _publish(path: Path, number: int, meta_sha: str) -> None:
    """Make version ``number`` current: write the pointer to a temporary file, replace."""
    text = json.dumps({"version": number, "twin_json_sha256": meta_sha}) + "\n"
    fd, tmp = tempfile.mkstemp(prefix=".CURRENT-", dir=path)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path / POINTER)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(path)


def _prune(versions: Path, keep: int, current: int) -> None:
    for p in versions.iterdir():  # folders of saves that never completed
        if p.name.startswith(".tmp-") and p.is_dir():
            shutil.rmtree(p, ignore_errors=True)
    numbers = _numbers(versions)
    for n in numbers[: max(0, len(numbers) - keep)]:
        if n != current:
            shutil.rmtree(versions / f"{n:06d}", ignore_errors=True)


def _refuse_other_subject(path: Path, subject: str, force: bool) -> None:
    if force or not (path / POINTER).exists() and not (path / META).exists():
        return
    try:
        info = read_twin_info(path, verify=False)
    except TwinFormatError:
        return  # a damaged twin may be replaced by a complete new version
    if info.subject != subject:
        raise TwinFormatError(
            f"{path}: holds the twin of subject '{info.subject}', not '{subject}'; "
            "pass force=True (--force) to replace it"
        )


def save_twin(tw: TwinContents, path: Path, *, keep: int = KEEP, force: bool = False) -> Path:
    """Write a twin as a new version of the directory ``path`` and make it current.

    ``keep`` versions are kept (the newest); ``force`` allows replacing another subject's twin.
    """
    if keep < 1:
        raise TwinFormatError(f"{path}: keep must be >= 1, got {keep}")
    path.mkdir(parents=True, exist_ok=True)
    if tw.config.subject is None or tw.config.horizon is None:
        raise TwinFormatError(
            f"{path}: the twin's configuration is not resolved (subject, horizon)"
        )
    _refuse_other_subject(path, tw.config.subject, force)
    versions = path / VERSIONS
    versions.mkdir(exist_ok=True)
    numbers = _numbers(versions)
    number = (numbers[-1] if numbers else 0) + 1
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=versions))
    try:
        meta_sha = _write_version(tw, tmp)
        os.rename(tmp, versions / f"{number:06d}")
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _fsync_dir(versions)
    _publish(path, number, meta_sha)
    _prune(versions, keep, number)
    for stale in path.glob(".CURRENT-*"):  # pointers of saves killed while publishing
        stale.unlink(missing_ok=True)
    return path


# ---------------------------------------------------------------------- reading
def _current(path: Path) -> tuple[Path, int | None, dict[str, Any]]:
    """The folder, number and metadata document of the current version."""
    pointer = path / POINTER
    if pointer.is_file():
        ptr = _read_json(pointer)
        try:
            number = int(ptr["version"])
            want = str(ptr["twin_json_sha256"])
        except (KeyError, TypeError, ValueError):
            raise TwinFormatError(f"{pointer}: not a version pointer") from None
        folder = path / VERSIONS / f"{number:06d}"
        meta = folder / META
        if not meta.is_file():
            raise TwinFormatError(f"{meta}: missing (the current version {number} is incomplete)")
        if _sha256_bytes(meta.read_bytes()) != want:
            raise TwinFormatError(f"{meta}: checksum mismatch; the file was changed after saving")
        return folder, number, _read_json(meta)
    if (path / META).is_file():  # a directory written before versioning
        return path, None, _read_json(path / META)
    raise TwinFormatError(f"{path} is not a twin directory (no twin.json)")


def _check_format(meta: Path, doc: Mapping[str, Any]) -> None:
    if doc.get("format") not in READABLE:
        raise TwinFormatError(f"{meta}: unknown format {doc.get('format')!r}")


def _verify_files(folder: Path, doc: Mapping[str, Any]) -> None:
    files = doc.get("files") or {doc["data"]["file"]: doc["data"]["sha256"]}
    for name, digest in files.items():
        f = folder / name
        if not f.is_file():
            raise TwinFormatError(f"{f}: missing")
        if sha256_file(f) != digest:
            raise TwinFormatError(f"{f}: checksum mismatch; the file was changed after saving")


def _info_from(path: Path, number: int | None, doc: Mapping[str, Any]) -> TwinInfo:
    history = [history_from_dict(h) for h in doc.get("history") or []]
    return TwinInfo(
        path=path,
        version=number,
        name=str(doc.get("name") or path.name),
        subject=str(doc["subject"]),
        model_id=str(doc["model"]["id"]),
        model_hash=str(doc["model"]["hash"]),
        data_sha256=str(doc["data"]["sha256"]),
        immunetwin_version=str(doc["immunetwin_version"]),
        created_at=history[0].at if history else None,
        saved_at=doc.get("saved_at"),
        n_updates=sum(isinstance(h, UpdateStep) for h in history),
        observations=int(doc["data"]["observations"]),
    )


def read_twin_info(path: str | Path, *, verify: bool = True) -> TwinInfo:
    """The metadata of the current version of a twin directory, without loading the twin.

    With ``verify``, the checksum of every file of the version is checked.

    Raises
    ------
    TwinFormatError
        Not a twin directory, or a missing, garbled or changed file (named).
    """
    path = Path(path)
    folder, number, doc = _current(path)
    meta = folder / META
    _check_format(meta, doc)
    try:
        info = _info_from(path, number, doc)
        if verify:
            _verify_files(folder, doc)
    except (KeyError, TypeError, ValueError) as exc:
        raise TwinFormatError(f"{meta}: missing or malformed field ({exc!r})") from None
    return info


def _model_of(folder: Path, doc: Mapping[str, Any]) -> ModelSpec:
    from ..model import from_sbml, library

    mid, mhash = doc["model"]["id"], doc["model"]["hash"]
    try:
        cand = library.get(mid)
        if cand.hash() == mhash:
            return cand
    except ImmunetwinError:  # not a library model
        pass
    sbml = folder / doc["model"]["sbml"]
    if not sbml.is_file():
        raise TwinFormatError(f"{sbml}: missing")
    try:
        spec = from_sbml(sbml)
    except ImmunetwinError as exc:
        raise TwinFormatError(f"{sbml}: unreadable model ({exc})") from None
    if spec.hash() != mhash:
        raise TwinFormatError(f"{sbml}: the model's hash does not match the saved {mhash[:12]}")
    return spec


def _state_from(folder: Path, doc: Mapping[str, Any], names: tuple[str, ...]) -> TwinState:
    particles = None
    if doc.get("particles"):
        f = folder / doc["particles"]
        try:
            frame = pd.read_parquet(f)
        except Exception as exc:  # noqa: BLE001 - any parquet failure is a damaged file
            raise TwinFormatError(f"{f}: unreadable particles ({exc})") from None
        particles = Particles(
            theta=frame[[f"theta_{n}" for n in names]].to_numpy(dtype=float),
            log_weight=frame["log_weight"].to_numpy(dtype=float),
            log_posterior=frame["log_posterior"].to_numpy(dtype=float),
        )

    def arr(key: str) -> np.ndarray[Any, Any] | None:
        v = doc.get(key)
        return None if v is None else np.asarray(v, dtype=float)

    return TwinState(
        particles=particles,
        grid=arr("grid"),
        map_theta=arr("map_theta"),
        floor_cov=arr("floor_cov"),
        history=tuple(history_from_dict(h) for h in doc.get("history") or []),
        rng_state=doc.get("rng_state"),
    )


def _contents(folder: Path, doc: Mapping[str, Any]) -> TwinContents:
    _verify_files(folder, doc)
    spec = _model_of(folder, doc)
    data: Dataset = read_dataset(folder / doc["data"]["file"])
    config = config_from_doc(doc)
    names = tuple(e.id for e in config.estimate)
    state = _state_from(folder, doc, names)
    return TwinContents(spec, data, config, prior_from_dict(doc["prior"]), state)


def read_twin(path: str | Path) -> TwinContents:
    """Read the current version of a twin directory written by :func:`save_twin`.

    Raises
    ------
    TwinFormatError
        Not a twin directory, an unknown format, or a missing, garbled or changed file (named).
    """
    folder, _, doc = _current(Path(path))
    meta = folder / META
    _check_format(meta, doc)
    try:
        return _contents(folder, doc)
    except (KeyError, TypeError, ValueError) as exc:
        raise TwinFormatError(f"{meta}: missing or malformed field ({exc!r})") from None


def twin_versions(path: str | Path) -> tuple[TwinVersion, ...]:
    """The saved versions of a twin directory, oldest first (one, numbered 0, for a directory
    written before versioning)."""
    path = Path(path)
    _, current, _ = _current(path)
    if current is None:
        info = read_twin_info(path, verify=False)
        return (TwinVersion(0, info.saved_at, info.n_updates, info.observations, True, True),)
    out = []
    for n in _numbers(path / VERSIONS):
        folder = path / VERSIONS / f"{n:06d}"
        try:
            doc = _read_json(folder / META)
            info = _info_from(path, n, doc)
            out.append(
                TwinVersion(n, info.saved_at, info.n_updates, info.observations, n == current, True)
            )
        except (TwinFormatError, KeyError, TypeError, ValueError):
            out.append(TwinVersion(n, None, 0, 0, n == current, False))
    return tuple(out)


def restore_version(path: str | Path, number: int, *, keep: int = KEEP) -> int:
    """Make an older version current again, as a new version (a copy; history is linear).

    Returns the number of the new version.

    Raises
    ------
    TwinFormatError
        No such version, or that version is damaged.
    """
    path = Path(path)
    versions = path / VERSIONS
    src = versions / f"{int(number):06d}"
    if not (src / META).is_file():
        have = [v.number for v in twin_versions(path)]
        raise TwinFormatError(f"{path}: no version {number} (have {have})")
    doc = _read_json(src / META)
    _check_format(src / META, doc)
    _verify_files(src, doc)
    numbers = _numbers(versions)
    new = numbers[-1] + 1
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=versions))
    try:
        for f in src.iterdir():
            shutil.copy2(f, tmp / f.name)
            _fsync_file(tmp / f.name)
        _fsync_dir(tmp)
        os.rename(tmp, versions / f"{new:06d}")
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _fsync_dir(versions)
    _publish(path, new, _sha256_bytes((versions / f"{new:06d}" / META).read_bytes()))
    _prune(versions, keep, new)
    return new
