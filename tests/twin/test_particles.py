"""SMC building blocks: resampling, copies, moves of copies only."""

from __future__ import annotations

import numpy as np

from immunetwin.twin._particles import duplicates, systematic_resample


def test_duplicates_marks_all_but_the_first_copy() -> None:
    idx = np.array([0, 0, 2, 2, 2, 5])
    assert duplicates(idx).tolist() == [False, True, False, True, True, False]
    assert not duplicates(np.arange(5)).any()


def test_systematic_resample_keeps_weights_in_expectation() -> None:
    rng = np.random.default_rng(0)
    w = np.array([0.5, 0.25, 0.125, 0.125])
    counts = np.zeros(4)
    for _ in range(2000):
        counts += np.bincount(systematic_resample(rng, np.log(w)), minlength=4)
    assert np.allclose(counts / counts.sum(), w, atol=0.01)
    # each particle is copied floor(N w) or ceil(N w) times
    idx = systematic_resample(rng, np.log(w))
    assert np.bincount(idx, minlength=4).tolist() == [2, 1, 0, 1] or np.bincount(
        idx, minlength=4
    ).tolist() == [2, 1, 1, 0]
