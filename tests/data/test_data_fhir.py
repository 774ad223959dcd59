"""FHIR R4 Bundles to and from a Dataset."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from datahelpers import SHEDDING_HUB, same_records, shared, small_dataset

from immunetwin.data import (
    DEFAULT_LOINC,
    Censoring,
    from_fhir_bundle,
    read_fhir,
    read_liang2010,
    read_shedding_hub,
    to_fhir_bundle,
    write_fhir,
)
from immunetwin.errors import DataError


def _resources(bundle: object, rtype: str) -> list[dict]:
    raw = json.loads(bundle.model_dump_json())  # type: ignore[attr-defined]
    return [e["resource"] for e in raw["entry"] if e["resource"]["resourceType"] == rtype]


def test_round_trip_small_dataset(tmp_path: Path) -> None:
    ds = small_dataset()
    back = read_fhir(write_fhir(ds, tmp_path / "b.json"))
    same_records(ds, back)
    assert dict(back.analytes) == dict(ds.analytes)
    assert back.provenance.doi == ds.provenance.doi


def test_resources_use_standard_elements() -> None:
    ds = small_dataset()
    bundle = to_fhir_bundle(ds)
    obs = _resources(bundle, "Observation")
    assert len(obs) == len(ds.observations)
    assert obs[0]["valueQuantity"]["system"] == "http://unitsofmeasure.org"
    assert obs[0]["valueQuantity"]["code"] == "{copies}/mL"
    assert obs[1]["valueQuantity"]["comparator"] == "<"
    assert obs[1]["interpretation"][0]["coding"][0]["code"] == "NEG"
    assert "valueRange" in obs[4]
    ct = obs[5]["code"]["coding"][0]
    assert ct["system"] == "http://loinc.org" and ct["code"] == DEFAULT_LOINC["SARS-CoV-2|Ct"][0]
    assert len(_resources(bundle, "MedicationAdministration")) == 2
    imm = _resources(bundle, "Immunization")
    assert imm[0]["protocolApplied"][0]["doseNumberPositiveInt"] == 2
    pats = _resources(bundle, "Patient")
    assert pats[0]["gender"] == "male"


def test_user_loinc_map() -> None:
    bundle = to_fhir_bundle(small_dataset(), loinc={"load": ("12345-6", "made up")})
    assert _resources(bundle, "Observation")[0]["code"]["coding"][0]["code"] == "12345-6"


def test_round_trip_real_datasets() -> None:
    shared("shedding-hub")
    for ds in (
        read_shedding_hub(SHEDDING_HUB / "woelfel2020virological.yaml"),
        read_liang2010(shared("hiv-liang2010")),
    ):
        same_records(ds, from_fhir_bundle(to_fhir_bundle(ds)))


def test_foreign_bundle_without_extensions() -> None:
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {"resource": {"resourceType": "Patient", "id": "p"}},
            {
                "resource": {
                    "resourceType": "Observation",
                    "status": "final",
                    "code": {"text": "IL-6"},
                    "subject": {"reference": "Patient/p"},
                    "effectiveDateTime": "2020-03-01T00:00:00Z",
                    "valueQuantity": {"value": 12.5, "unit": "pg/mL"},
                }
            },
            {
                "resource": {
                    "resourceType": "Observation",
                    "status": "final",
                    "code": {"text": "IL-6"},
                    "subject": {"reference": "Patient/p"},
                    "effectiveDateTime": "2020-03-03T12:00:00Z",
                    "valueQuantity": {"value": 2, "unit": "pg/mL", "comparator": "<"},
                }
            },
        ],
    }
    ds = from_fhir_bundle(bundle)
    assert [o.time for o in ds.observations] == [0.0, 2.5]
    assert ds.observations[1].censoring is Censoring.LEFT and ds.observations[1].limit == 2.0
    assert ds.reference_events["IL-6"] == "first observation"


def test_invalid_bundles_raise(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="FHIR"):
        from_fhir_bundle('{"resourceType": "Patient", "id": "p"}')
    with pytest.raises(DataError, match="FHIR"):
        from_fhir_bundle('{"resourceType": "Bundle", "type": "collection", "entry": "x"}')
    with pytest.raises(DataError, match="unknown patient"):
        from_fhir_bundle(
            {
                "resourceType": "Bundle",
                "type": "collection",
                "entry": [
                    {
                        "resource": {
                            "resourceType": "Observation",
                            "status": "final",
                            "code": {"text": "x"},
                            "subject": {"reference": "Patient/zz"},
                            "valueQuantity": {"value": 1},
                        }
                    }
                ],
            }
        )
    p = tmp_path / "x.json"
    p.write_text("{not json")
    with pytest.raises(DataError):
        read_fhir(p)
