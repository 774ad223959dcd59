"""Units, UCUM codes and Ct standard curves."""

from __future__ import annotations

import math

import numpy as np
import pytest

from immunetwin.data import (
    STANDARD_CURVES,
    StandardCurve,
    convert_value,
    is_known_unit,
    normalize_unit,
    parse_unit,
    ucum_code,
)
from immunetwin.errors import DataError


def test_aliases_normalise() -> None:
    assert normalize_unit("gc/mL") == "copies/mL"
    assert normalize_unit("cycle threshold") == "Ct"
    assert normalize_unit("gc/wet gram") == "copies/wet_gram"
    assert normalize_unit("log10 gc/mL") == "log10 copies/mL"


def test_concentration_conversions() -> None:
    assert convert_value(1.0, "copies/mL", "copies/L") == pytest.approx(1000.0)
    assert convert_value(1.0, "pg/mL", "ng/L") == pytest.approx(1.0)
    assert convert_value(2.0, "log10 copies/mL", "copies/mL") == pytest.approx(100.0)
    assert convert_value(100.0, "copies/mL", "log10 copies/L") == pytest.approx(5.0)
    assert convert_value(3.0, "log10 copies/mL", "log10 copies/L") == pytest.approx(6.0)
    arr = convert_value(np.array([1.0, 2.0]), "copies/uL", "copies/mL")
    assert np.allclose(arr, [1000.0, 2000.0])


def test_incompatible_and_unknown_units_raise() -> None:
    with pytest.raises(DataError):
        convert_value(30.0, "Ct", "copies/mL")
    with pytest.raises(DataError):
        convert_value(1.0, "copies/swab", "copies/mL")
    with pytest.raises(DataError):
        convert_value(1.0, "copies/wet_gram", "copies/dry_gram")
    with pytest.raises(DataError):
        parse_unit("furlongs of virus")
    assert not is_known_unit("bogons/mL")
    assert is_known_unit("log10 TCID50/mL") and parse_unit("log10 TCID50/mL").log10


def test_ucum_codes() -> None:
    assert ucum_code("copies/mL") == "{copies}/mL"
    assert ucum_code("pg/mL") == "pg/mL"
    assert ucum_code("log10 copies/mL").startswith("{log10}")


def test_standard_curve_round_trip_and_kissler_formula() -> None:
    curve = STANDARD_CURVES["kissler2021"]
    ct = np.array([20.0, 30.0, 40.0])
    assert np.allclose(curve.log10_to_ct(curve.ct_to_log10(ct)), ct)
    expected = (30.0 - 40.93733) / (-3.609714) + math.log10(250)
    assert curve.ct_to_log10(30.0) == pytest.approx(expected)
    assert 0.8 < curve.efficiency < 1.0


def test_standard_curve_validation() -> None:
    with pytest.raises(DataError):
        StandardCurve("bad", slope=3.3, intercept=40.0)
    with pytest.raises(DataError):
        StandardCurve("bad", slope=-3.3, intercept=40.0, unit="copies/mL")
