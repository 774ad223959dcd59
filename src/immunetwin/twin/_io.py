"""Saving and loading twins as open formats.

A twin directory holds:

* ``twin.json``: format version, package version, model id and hash, the calibration settings,
  the prior, the seed and the state of the random generator, the data checksum, the MAP, and the
  provenance record of every calibration and update;
* ``model.xml``: the model as SBML (with the immunetwin annotation, so it round-trips);
* ``data.parquet`` (+ ``data.parquet.meta.json``): the assimilated data (tidy table + sidecar);
* ``particles.parquet``: the posterior particles (estimation scale ``theta_<id>``, natural
  scale ``<id>``, and ``log_weight``).

On loading, the model hash and the data checksum are verified and the particle trajectories are
re-simulated (deterministic), so a loaded twin forecasts exactly as the saved one.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..data import read_dataset, sha256_file, write_dataset
from ..errors import FitError
from ..inference import GaussianPrior, PopulationPrior
from ._config import TwinConfig
from ._particles import Evaluator, ParticleSet

if TYPE_CHECKING:
    from ._twin import DigitalTwin

__all__ = ["load_twin", "save_twin"]

FORMAT = "immunetwin-twin/1"


def _prior_to_dict(prior: PopulationPrior | GaussianPrior | None) -> dict[str, Any] | None:
    if prior is None:
        return None
    names = list(prior.mean)
    out: dict[str, Any] = {
        "kind": "population" if isinstance(prior, PopulationPrior) else "gaussian",
        "mean": {k: float(v) for k, v in prior.mean.items()},
        "cov": prior.cov.loc[names, names].to_numpy().tolist(),
        "names": names,
        "source": prior.source,
    }
    if isinstance(prior, PopulationPrior):
        out["covariate_effects"] = {p: dict(e) for p, e in prior.covariate_effects.items()}
    return out


def _prior_from_dict(d: dict[str, Any] | None) -> PopulationPrior | GaussianPrior | None:
    if d is None:
        return None
    names = list(d["names"])
    cov = pd.DataFrame(np.asarray(d["cov"], dtype=float), index=names, columns=names)
    if d["kind"] == "population":
        return PopulationPrior(
            mean=d["mean"],
            cov=cov,
            covariate_effects=d.get("covariate_effects", {}),
            source=d["source"],
        )
    return GaussianPrior(mean=d["mean"], cov=cov, source=d["source"])


def save_twin(twin: DigitalTwin, path: Path) -> Path:
    """Write ``twin`` to the directory ``path`` (created; files overwritten)."""
    from .. import __version__
    from ..model import to_sbml

    path.mkdir(parents=True, exist_ok=True)
    (path / "model.xml").write_text(to_sbml(twin.model))
    data_file = write_dataset(twin.data, path / "data.parquet")
    checksum = sha256_file(data_file)
    particles = None
    if twin._particles is not None:
        ps = twin._particles
        cols: dict[str, Any] = {f"theta_{n}": ps.theta[:, j] for j, n in enumerate(twin.names)}
        nat = twin.problem.to_natural(ps.theta)
        cols.update({n: nat[:, j] for j, n in enumerate(twin.names)})
        cols["log_weight"] = ps.logw
        cols["log_posterior"] = ps.logpost
        pd.DataFrame(cols).to_parquet(path / "particles.parquet", index=False)
        particles = "particles.parquet"
    ev = twin._ev
    doc = {
        "format": FORMAT,
        "immunetwin_version": __version__,
        "name": twin.name,
        "model": {"id": twin.model.id, "hash": twin.model.hash(), "sbml": "model.xml"},
        "subject": twin.subject,
        "config": twin.config.to_dict(),
        "prior": _prior_to_dict(twin.prior),
        "data": {
            "file": data_file.name,
            "sha256": checksum,
            "observations": len(twin.data.observations),
        },
        "particles": particles,
        "n_particles": twin.n_particles,
        "horizon": twin.horizon,
        "seed": twin.seed,
        "rng_state": twin._rng.bit_generator.state,
        "map_theta": None if twin._map is None else [float(x) for x in twin._map],
        "grid": None if ev is None else [float(x) for x in ev.grid],
        "floor_cov": None
        if getattr(twin, "_floor_cov", None) is None
        else np.asarray(twin._floor_cov).tolist(),
        "history": twin.history,
        "data_provenance": twin.data.provenance.to_dict(),
    }
    (path / "twin.json").write_text(json.dumps(doc, indent=1, default=_jsonable) + "\n")
    return path


def _jsonable(x: Any) -> Any:
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, np.ndarray):
        return x.tolist()
    raise TypeError(f"not JSON-serialisable: {type(x)}")


def load_twin(path: Path) -> DigitalTwin:
    """Read a twin directory written by :func:`save_twin`."""
    from ..model import from_sbml, library
    from ._twin import DigitalTwin

    meta_file = path / "twin.json"
    if not meta_file.exists():
        raise FitError(f"{path} is not a twin directory (no twin.json)")
    doc = json.loads(meta_file.read_text())
    if doc.get("format") != FORMAT:
        raise FitError(f"{meta_file}: unknown format {doc.get('format')!r}")
    mid, mhash = doc["model"]["id"], doc["model"]["hash"]
    spec = None
    try:
        cand = library.get(mid)
        if cand.hash() == mhash:
            spec = cand
    except Exception:  # noqa: BLE001 - not a library model, or the library changed
        spec = None
    if spec is None:
        spec = from_sbml(path / doc["model"]["sbml"])
        if spec.hash() != mhash:
            raise FitError(f"{path}: the model's hash does not match the saved hash {mhash[:12]}")
    data_file = path / doc["data"]["file"]
    if sha256_file(data_file) != doc["data"]["sha256"]:
        raise FitError(f"{data_file}: checksum mismatch; the data were changed after saving")
    data = read_dataset(data_file)
    cfg = TwinConfig.from_dict(doc["config"])
    twin = DigitalTwin(
        spec,
        data,
        prior=_prior_from_dict(doc["prior"]),
        observables=cfg.observables,
        estimate=list(cfg.estimate),
        interventions=cfg.interventions,
        noise=cfg.noise,
        fixed=cfg.fixed,
        t0=cfg.t0,
        lod=cfg.lod,
        subject=doc["subject"],
        particles=int(doc["n_particles"]),
        horizon=float(doc["horizon"]),
        seed=int(doc["seed"]),
        name=doc.get("name"),
    )
    twin.history = list(doc.get("history", []))
    twin._rng.bit_generator.state = doc["rng_state"]
    if doc.get("map_theta") is not None:
        twin._map = np.asarray(doc["map_theta"], dtype=float)
    if doc.get("floor_cov") is not None:
        twin._floor_cov = np.asarray(doc["floor_cov"], dtype=float)
    if doc.get("particles"):
        frame = pd.read_parquet(path / doc["particles"])
        theta = frame[[f"theta_{n}" for n in twin.names]].to_numpy(dtype=float)
        ev = Evaluator(twin.problem, np.asarray(doc["grid"], dtype=float))
        y = ev.simulate(theta)
        twin._particles = ParticleSet(
            theta=theta,
            logw=frame["log_weight"].to_numpy(dtype=float),
            logpost=frame["log_posterior"].to_numpy(dtype=float),
            y=y,
        )
        twin._ev = ev
    return twin
