"""PurgedKFold and CombinatorialPurgedKFold: purge, embargo, coverage, counts, errors."""

from __future__ import annotations

from math import comb

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from allocgym.backtest import CombinatorialPurgedKFold, PurgedKFold


def _blocks(test: np.ndarray) -> list[tuple[int, int]]:
    cuts = np.flatnonzero(np.diff(test) > 1) + 1
    return [(int(b[0]), int(b[-1])) for b in np.split(test, cuts)]


def _check_purge_and_embargo(train, test, horizon, embargo):
    """No training label [j, j + h) overlaps a test label; the embargo after each block holds."""
    assert np.intersect1d(train, test).size == 0
    for s, e in _blocks(test):
        # the test labels span [s, e + h); a training label [j, j + h) must not meet it
        overlaps = (train < e + horizon) & (train + horizon > s)
        assert not overlaps.any(), (s, e, train[overlaps])
        assert not ((train >= e + horizon) & (train < e + horizon + embargo)).any()
    assert (np.diff(train) > 0).all() and (np.diff(test) > 0).all()
    assert train.dtype == test.dtype == np.int64


def test_hand_made_purged_kfold():
    # 12 samples, 3 folds of 4, 3-day labels (purge 2 each side), embargo 1
    folds = list(PurgedKFold(n_splits=3, horizon=3, embargo=1).split(12))
    expected = [
        (list(range(7, 12)), [0, 1, 2, 3]),  # purged 4, 5; embargoed 6
        ([0, 1, 11], [4, 5, 6, 7]),  # purged 2, 3 and 8, 9; embargoed 10
        ([0, 1, 2, 3, 4, 5], [8, 9, 10, 11]),  # purged 6, 7
    ]
    assert [(a.tolist(), b.tolist()) for a, b in folds] == expected


def test_next_day_labels_purge_nothing():
    # a 1-day label ends where the next sample starts: only the embargo removes data
    train, test = list(PurgedKFold(n_splits=4, horizon=1).split(20))[1]
    assert test.tolist() == list(range(5, 10))
    assert train.tolist() == [*range(0, 5), *range(10, 20)]


@given(
    n=st.integers(10, 300),
    k=st.integers(2, 8),
    horizon=st.integers(1, 6),
    embargo=st.integers(0, 6),
)
def test_purged_kfold_properties(n, k, horizon, embargo):
    cv = PurgedKFold(n_splits=k, horizon=horizon, embargo=embargo)
    if n < k:
        return
    try:
        folds = list(cv.split(n))
    except ValueError:  # a fold left without training data is an error, not a silent skip
        assert n // k <= 2 * (horizon + embargo) + k
        return
    assert len(folds) == cv.get_n_splits(n) == k
    tests = np.concatenate([t for _, t in folds])
    np.testing.assert_array_equal(tests, np.arange(n))  # every sample tested once, in order
    sizes = [len(t) for _, t in folds]
    assert max(sizes) - min(sizes) <= 1
    for train, test in folds:
        _check_purge_and_embargo(train, test, horizon, embargo)
        # nothing more than the purge and the embargo is dropped
        s, e = int(test[0]), int(test[-1])
        dropped = n - len(test) - len(train)
        assert dropped == (s - max(0, s - horizon + 1)) + (
            min(n, e + horizon + embargo) - (e + 1) if e + 1 < n else 0
        )


def test_cpcv_hand_made_and_paths():
    cv = CombinatorialPurgedKFold(n_groups=4, n_test_groups=2, horizon=2, embargo=1)
    folds = list(cv.split(12))  # groups 0..2, 3..5, 6..8, 9..11
    assert cv.get_n_splits(12) == len(folds) == comb(4, 2) == 6
    assert cv.n_paths == 3 == 2 * comb(4, 2) // 4
    assert cv.test_groups()[:2] == [(0, 1), (0, 2)]
    # groups 0 and 1 are one block 0..5: 6 purged, 7 embargoed
    assert folds[0][1].tolist() == [0, 1, 2, 3, 4, 5] and folds[0][0].tolist() == [8, 9, 10, 11]
    # groups 0 and 2 are two blocks: 3 purged, 4 embargoed; 5 and 9 purged, 10 embargoed
    assert folds[1][1].tolist() == [0, 1, 2, 6, 7, 8] and folds[1][0].tolist() == [11]
    paths = cv.path_assignments()
    assert paths.shape == (6, 4)
    for g in range(4):  # each group is tested once in each path
        assert sorted(paths[paths[:, g] >= 0, g].tolist()) == [0, 1, 2]


@pytest.mark.parametrize("n_groups,k", [(6, 2), (5, 1), (7, 3), (10, 2)])
def test_cpcv_every_sample_in_the_right_number_of_tests(n_groups, k):
    n, horizon, embargo = 103, 3, 2
    cv = CombinatorialPurgedKFold(n_groups, k, horizon=horizon, embargo=embargo)
    folds = list(cv.split(n))
    assert len(folds) == cv.get_n_splits(n) == comb(n_groups, k)
    counts = np.zeros(n, dtype=int)
    for train, test in folds:
        counts[test] += 1
        _check_purge_and_embargo(train, test, horizon, embargo)
    assert (counts == comb(n_groups - 1, k - 1)).all()
    assert cv.n_paths == k * comb(n_groups, k) // n_groups == comb(n_groups - 1, k - 1)
    if k == 1:  # CPCV with one test group is purged k-fold
        kfold = list(PurgedKFold(n_groups, horizon=horizon, embargo=embargo).split(n))
        for (a, b), (c, d) in zip(folds, kfold, strict=True):
            np.testing.assert_array_equal(a, c)
            np.testing.assert_array_equal(b, d)


def test_accepts_anything_with_a_length():
    a = [(x.tolist(), y.tolist()) for x, y in PurgedKFold(3).split(list(range(30)))]
    b = [(x.tolist(), y.tolist()) for x, y in PurgedKFold(3).split(30)]
    assert a == b


@pytest.mark.parametrize(
    "make,match",
    [
        (lambda: PurgedKFold(n_splits=1), "n_splits=1"),
        (lambda: PurgedKFold(n_splits=2.5), "n_splits=2.5"),
        (lambda: PurgedKFold(horizon=0), "horizon=0"),
        (lambda: PurgedKFold(embargo=True), "embargo=True"),
        (lambda: CombinatorialPurgedKFold(n_groups=1), "n_groups=1"),
        (lambda: CombinatorialPurgedKFold(n_groups=4, n_test_groups=4), "n_test_groups=4"),
        (lambda: CombinatorialPurgedKFold(n_test_groups=0), "n_test_groups=0"),
        (lambda: CombinatorialPurgedKFold(embargo=-2), "embargo=-2"),
    ],
)
def test_bad_parameters_name_the_value(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_too_few_samples_or_no_training_data_raise():
    with pytest.raises(ValueError, match="at least n_splits samples; got 3"):
        list(PurgedKFold(5).split(3))
    with pytest.raises(ValueError, match="no training sample"):
        list(PurgedKFold(2, horizon=10).split(12))
    with pytest.raises(ValueError, match="at least n_groups samples; got 4"):
        list(CombinatorialPurgedKFold(6, 2).split(4))
