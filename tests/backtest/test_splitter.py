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
    # anything with a length (a MarketData, a list) gives the same folds as its length
    same = list(WalkForward(5, 3).split(list(range(15))))
    assert [(a.tolist(), b.tolist()) for a, b in same] == [
        (a.tolist(), b.tolist()) for a, b in folds
    ]
    assert all(a.dtype == b.dtype == np.int64 for a, b in folds)


def test_purge_expanding_and_step() -> None:
    folds = list(WalkForward(train=4, test=2, step=3, expanding=True, purge=1).split(12))
    for train, test in folds:
        assert train[0] == 0 and train[-1] + 2 == test[0]  # one purged day between
    assert [int(t[0]) for _, t in folds] == [5, 8, 11]


def test_no_train_index_at_or_after_its_test() -> None:
    for train, test in WalkForward(train=10, test=7, purge=2).split(100):
        assert train.max() < test.min() - 2


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        ({"train": 252, "test": 21}, {"train_size": 252, "test_size": 21}),
        (
            {"train": 100, "test": 30, "expanding": True},
            {"train_size": 100, "test_size": 30, "expand_train": True},
        ),
        (
            {"train": 100, "test": 30, "purge": 5},
            {"train_size": 100, "test_size": 30, "purged_size": 5},
        ),
        (
            {"train": 100, "test": 25, "purge": 3, "expanding": True},
            {"train_size": 100, "test_size": 25, "purged_size": 3, "expand_train": True},
        ),
    ],
)
def test_agrees_with_skfolio_walk_forward(ours: dict, theirs: dict) -> None:
    """Same folds as skfolio's WalkForward, fold for fold, including the short last one.

    skfolio drops a last test window shorter than ``test_size`` unless
    ``reduce_test=True``; allocgym always keeps it (2000 - 252 is not a multiple of 21).
    """
    skf = pytest.importorskip("skfolio.model_selection")
    n = 2000
    mine = list(WalkForward(**ours).split(n))
    other = list(skf.WalkForward(**theirs, reduce_test=True).split(np.zeros((n, 2))))
    assert len(mine) == len(other) == WalkForward(**ours).get_n_splits(n) > 0
    for (a, b), (c, d) in zip(mine, other, strict=True):
        np.testing.assert_array_equal(a, c)
        np.testing.assert_array_equal(b, d)


def _docstring_folds(n: int, train: int, test: int, step: int | None, expanding: bool, purge: int):
    """The folds as the class docstring defines them, with plain ranges."""
    stride = test if step is None else step
    k = 0
    while (s := train + purge + k * stride) < n:
        lo = 0 if expanding else s - purge - train
        yield list(range(lo, s - purge)), list(range(s, min(s + test, n)))
        k += 1


@pytest.mark.parametrize("expanding", [False, True])
@pytest.mark.parametrize("step", [None, 1, 2, 5])
def test_matches_the_docstring_definition_on_a_grid(step: int | None, expanding: bool) -> None:
    """Fold ``k`` tests on ``[s_k, s_k + test)``, ``s_k = train + purge + k·step``, cut at n;
    trains on ``[s_k − purge − train, s_k − purge)`` or ``[0, s_k − purge)``."""
    for n in range(1, 30):
        for train in (1, 3, 7):
            for test in (1, 2, 4):
                for purge in (0, 2):
                    wf = WalkForward(
                        train=train, test=test, step=step, expanding=expanding, purge=purge
                    )
                    expected = list(_docstring_folds(n, train, test, step, expanding, purge))
                    assert wf.get_n_splits(n) == len(expected)
                    if not expected:
                        with pytest.raises(ValueError, match="needs more than"):
                            list(wf.split(n))
                        continue
                    got = [(a.tolist(), b.tolist()) for a, b in wf.split(n)]
                    assert got == expected


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
