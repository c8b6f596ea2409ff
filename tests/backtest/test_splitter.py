"""WalkForward: fold arithmetic, purge, expanding windows, errors, skfolio agreement."""

from __future__ import annotations

import numpy as np
import pytest

from allocgym.backtest import WalkForward


def test_rolling_folds_are_consecutive_and_cover_the_tail() -> None:
    folds = list(WalkForward(train=5, test=3).split(15))
    assert len(folds) == WalkForward(5, 3).get_n_splits(15) == 4
    np.testing.assert_array_equal(folds[0][0], np.arange(0, 5))
    np.testing.assert_array_equal(folds[0][1], np.arange(5, 8))
    np.testing.assert_array_equal(folds[1][0], np.arange(3, 8))
    np.testing.assert_array_equal(folds[-1][1], np.arange(14, 15))  # short last window
    tests = np.concatenate([t for _, t in folds])
    np.testing.assert_array_equal(tests, np.arange(5, 15))


def test_purge_expanding_and_step() -> None:
    folds = list(WalkForward(train=4, test=2, step=3, expanding=True, purge=1).split(12))
    for train, test in folds:
        assert train[0] == 0 and train[-1] + 2 == test[0]  # one purged day between
    assert [int(t[0]) for _, t in folds] == [5, 8, 11]


def test_no_train_index_at_or_after_its_test() -> None:
    for train, test in WalkForward(train=10, test=7, purge=2).split(100):
        assert train.max() < test.min() - 2


def test_agrees_with_skfolio_walk_forward() -> None:
    skf = pytest.importorskip("skfolio.model_selection")
    ours = list(WalkForward(train=252, test=21).split(2000))
    theirs = list(skf.WalkForward(test_size=21, train_size=252).split(np.zeros((2000, 2))))
    assert len(theirs) <= len(ours)
    for (a, b), (c, d) in zip(ours, theirs, strict=False):
        np.testing.assert_array_equal(a, c)
        np.testing.assert_array_equal(b, d)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"train": 0, "test": 5}, "train=0"),
        ({"train": 5, "test": -1}, "test=-1"),
        ({"train": 5, "test": 5, "step": 0}, "step=0"),
        ({"train": 5, "test": 5, "purge": -2}, "purge=-2"),
    ],
)
def test_invalid_sizes_are_rejected(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        WalkForward(**kwargs)


def test_too_little_data_names_the_numbers() -> None:
    with pytest.raises(ValueError, match="train \\+ purge = 12 dates; got 10"):
        list(WalkForward(train=10, test=5, purge=2).split(10))
