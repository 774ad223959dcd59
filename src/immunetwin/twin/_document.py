"""The ``twin.json`` document of a twin directory version: settings, prior, state and history
as plain JSON (part of the twin directory format with :mod:`immunetwin.twin._format`)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

from ..data import Dataset, StandardCurve
from ..inference import (
    Estimate,
    GaussianPrior,
    InterventionMap,
    Noise,
    ObservableMap,
    PopulationPrior,
    Transform,
)
from ..model import ModelSpec
from ._config import TwinConfig
from ._state import CalibrationStep, HistoryEntry, NewObservation, TwinState, UpdateStep

__all__ = ["FORMAT", "READABLE", "TwinContents", "config_to_dict", "history_to_dict"]

FORMAT = "immunetwin-twin/2"
#: Formats this version reads (1: before versioned directories).
READABLE = ("immunetwin-twin/1", FORMAT)

Array = np.ndarray[Any, Any]


@dataclass(frozen=True)
class TwinContents:
    """Everything a twin directory version holds (what :class:`DigitalTwin` is made of).

    ``natural`` (the particles on the natural scale, written for readers of the Parquet file)
    is only needed for writing.
    """

    model: ModelSpec
    data: Dataset
    config: TwinConfig
    prior: PopulationPrior | GaussianPrior | None
    state: TwinState
    natural: Array | None = None


# ---------------------------------------------------------------------- settings and prior
def _obsmap_to_dict(om: ObservableMap) -> dict[str, Any]:
    curve = None if om.standard_curve is None else dataclasses.asdict(om.standard_curve)
    tr = None if om.transform is None else str(Transform(om.transform).value)
    return {"target": om.target, "transform": tr, "standard_curve": curve}


def _obsmap_from_dict(d: Mapping[str, Any]) -> ObservableMap:
    curve = d.get("standard_curve")
    return ObservableMap(
        target=str(d["target"]),
        transform=d.get("transform"),
        standard_curve=None if curve is None else StandardCurve(**curve),
    )


def config_to_dict(config: TwinConfig) -> dict[str, Any]:
    """The calibration settings of ``config`` as plain JSON (also shown in reports)."""
    return {
        "observables": {a: _obsmap_to_dict(om) for a, om in config.observables.items()},
        "estimate": [dataclasses.asdict(e) for e in config.estimate],
        "interventions": {
            k: (None if v is None else {**dataclasses.asdict(v), "values": dict(v.values)})
            for k, v in config.interventions.items()
        },
        "noise": {a: dataclasses.asdict(n) for a, n in config.noise.items()},
        "fixed": dict(config.fixed),
        "t0": config.t0,
        "lod": dict(config.lod),
    }


def config_from_doc(doc: Mapping[str, Any]) -> TwinConfig:
    d = doc["config"]
    return TwinConfig(
        observables={a: _obsmap_from_dict(v) for a, v in d["observables"].items()},
        estimate=tuple(Estimate(**e) for e in d["estimate"]),
        interventions={
            k: (None if v is None else InterventionMap(**v))
            for k, v in d.get("interventions", {}).items()
        },
        noise={a: Noise(**n) for a, n in d.get("noise", {}).items()},
        fixed={k: float(v) for k, v in d.get("fixed", {}).items()},
        t0=float(d.get("t0", 0.0)),
        lod={k: float(v) for k, v in d.get("lod", {}).items()},
        subject=str(doc["subject"]),
        particles=int(doc["n_particles"]),
        horizon=float(doc["horizon"]),
        seed=int(doc["seed"]),
        name=doc.get("name"),
    )


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


def prior_from_dict(d: Mapping[str, Any] | None) -> PopulationPrior | GaussianPrior | None:
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


# ---------------------------------------------------------------------- history
def history_to_dict(entry: HistoryEntry) -> dict[str, Any]:
    """One history entry as plain JSON (``step`` first)."""
    body = dataclasses.asdict(entry)
    if isinstance(entry, CalibrationStep):
        body["map"] = dict(entry.map)
        body["fit_warnings"] = list(entry.fit_warnings)
    else:
        body["new_observations"] = [dataclasses.asdict(o) for o in entry.new_observations]
    return {"step": entry.step, **body}


def history_from_dict(d: Mapping[str, Any]) -> HistoryEntry:
    body = {k: v for k, v in d.items() if k != "step"}
    if d.get("step") == CalibrationStep.step:
        body["map"] = {str(k): float(v) for k, v in body["map"].items()}
        body["fit_warnings"] = tuple(body["fit_warnings"])
        return CalibrationStep(**body)
    if d.get("step") == UpdateStep.step:
        body["new_observations"] = tuple(NewObservation(**o) for o in body["new_observations"])
        return UpdateStep(**body)
    raise KeyError(f"unknown history step {d.get('step')!r}")


# ---------------------------------------------------------------------- writing
def _array_or_none(x: Any) -> list[Any] | None:
    return None if x is None else np.asarray(x, dtype=float).tolist()


def jsonable(x: Any) -> Any:
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, np.ndarray):
        return x.tolist()
    raise TypeError(f"not JSON-serialisable: {type(x)}")


def document(tw: TwinContents, files: Mapping[str, str]) -> dict[str, Any]:
    from .. import __version__

    cfg, state = tw.config, tw.state
    data_sha = files["data.parquet"]
    return {
        "format": FORMAT,
        "immunetwin_version": __version__,
        "saved_at": datetime.now(UTC).isoformat(timespec="microseconds"),
        "name": cfg.name,
        "model": {"id": tw.model.id, "hash": tw.model.hash(), "sbml": "model.xml"},
        "subject": cfg.subject,
        "config": config_to_dict(cfg),
        "prior": _prior_to_dict(tw.prior),
        "data": {
            "file": "data.parquet",
            "sha256": data_sha,
            "observations": len(tw.data.observations),
        },
        "files": dict(files),
        "particles": None if state.particles is None else "particles.parquet",
        "n_particles": cfg.particles,
        "horizon": cfg.horizon,
        "seed": cfg.seed,
        "rng_state": state.rng_state,
        "map_theta": _array_or_none(state.map_theta),
        "grid": _array_or_none(state.grid),
        "floor_cov": _array_or_none(state.floor_cov),
        "history": [history_to_dict(h) for h in state.history],
        "data_provenance": tw.data.provenance.to_dict(),
    }
