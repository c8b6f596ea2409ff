"""Purged and embargoed cross-validation splitters (López de Prado 2018, ch. 7 and 12).

Sample ``i`` is a decision at the close of row ``i`` whose label is realised over the
next ``horizon`` rows (an h-day forward return ``p_{i+h} / p_i - 1`` has
``horizon = h``): its label interval is ``[i, i + horizon)`` in López de Prado's
``(t0, t1)`` notation. For a test block of samples ``s..e`` the test labels span
``[s, e + horizon)``, and

- **purge**: every training sample whose label interval overlaps that span is dropped,
  i.e. ``s - horizon < j < e + horizon`` (``horizon - 1`` samples on each side);
- **embargo**: the ``embargo`` samples after the purge on the right,
  ``e + horizon <= j < e + horizon + embargo``, are dropped too, because their
  features (a filter, a window ending at j) contain the test labels.

Both splitters are pure index generators with the interface of
:class:`~allocgym.backtest.WalkForward`: ``split(n_samples)`` yields ``(train, test)``
int64 positions, ``get_n_splits(n_samples)`` counts them; consumers slice.

References
----------
López de Prado, M. (2018). *Advances in Financial Machine Learning*. Wiley. Ch. 7
(purged k-fold, embargo) and ch. 12 (combinatorial purged cross-validation).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from itertools import combinations
from math import comb

import numpy as np

from allocgym._typing import IntArray

__all__ = ["CombinatorialPurgedKFold", "PurgedKFold"]


def _check_int(owner: str, name: str, value: object, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
        raise ValueError(f"{owner} {name}={value!r}; expected an integer >= {low}")


def _n_of(n_samples: int | object) -> int:
    return int(n_samples) if isinstance(n_samples, int | np.integer) else len(n_samples)


def _groups(n: int, n_groups: int) -> list[IntArray]:
    """``n_groups`` contiguous groups of ``0..n-1``; the first ``n % n_groups`` one longer."""
    return [g.astype(np.int64) for g in np.array_split(np.arange(n), n_groups)]


def _purged_train(n: int, test: IntArray, horizon: int, embargo: int) -> IntArray:
    """All samples not in ``test`` and not purged or embargoed around its blocks."""
    keep = np.ones(n, dtype=bool)
    keep[test] = False
    # contiguous blocks of the (sorted) test samples
    cuts = np.flatnonzero(np.diff(test) > 1) + 1
    for block in np.split(test, cuts):
        s, e = int(block[0]), int(block[-1])
        lo = max(0, s - horizon + 1)
        hi = min(n, e + horizon + embargo)
        keep[lo:hi] = False
    return np.flatnonzero(keep).astype(np.int64)


@dataclass(frozen=True)
class PurgedKFold:
    """K contiguous test folds; training on the rest, purged and embargoed.

    Fold ``k`` tests on the ``k``-th of ``n_splits`` contiguous groups (sizes differ by
    at most one, as in scikit-learn's ``KFold``) and trains on every other sample except
    those whose label interval ``[j, j + horizon)`` overlaps the test labels' span
    ``[s, e + horizon)`` (purge) and the ``embargo`` samples after it (see the module
    docstring). Training data lie on both sides of the test fold: this is
    cross-validation for model selection inside a training window, not a backtest.

    Parameters
    ----------
    n_splits : int
        Number of folds, >= 2.
    horizon : int
        Label length in rows, >= 1 (1: a next-day label, which ends where the next
        sample starts, so nothing is purged; h: ``h - 1`` samples purged each side).
    embargo : int
        Samples dropped after each test fold's label span, >= 0 (López de Prado
        suggests about 1 % of the samples).
    """

    n_splits: int = 5
    horizon: int = 1
    embargo: int = 0

    def __post_init__(self) -> None:
        _check_int("PurgedKFold", "n_splits", self.n_splits, 2)
        _check_int("PurgedKFold", "horizon", self.horizon, 1)
        _check_int("PurgedKFold", "embargo", self.embargo, 0)

    def get_n_splits(self, n_samples: int | object = None) -> int:
        """Number of folds (``n_splits``, whatever ``n_samples``)."""
        return int(self.n_splits)

    def split(self, n_samples: int | object) -> Iterator[tuple[IntArray, IntArray]]:
        """Yield ``(train_indices, test_indices)``; ``n_samples`` is an int or has ``len``."""
        n = _n_of(n_samples)
        if n < self.n_splits:
            raise ValueError(
                f"PurgedKFold(n_splits={self.n_splits}) needs at least n_splits samples; got {n}"
            )
        for test in _groups(n, self.n_splits):
            train = _purged_train(n, test, self.horizon, self.embargo)
            if train.size == 0:
                raise ValueError(
                    f"PurgedKFold(n_splits={self.n_splits}, horizon={self.horizon}, "
                    f"embargo={self.embargo}) leaves no training sample for the test fold "
                    f"{int(test[0])}..{int(test[-1])} of {n} samples"
                )
            yield train, test


@dataclass(frozen=True)
class CombinatorialPurgedKFold:
    """Combinatorial purged cross-validation (CPCV; López de Prado 2018, ch. 12).

    The samples are cut into ``N = n_groups`` contiguous groups; every one of the
    ``C(N, k)`` choices of ``k = n_test_groups`` groups is a test set (groups in
    :func:`itertools.combinations` order), trained on the other groups, purged and
    embargoed around every contiguous block of test samples. Each group is tested in
    ``C(N - 1, k - 1)`` splits, so the out-of-sample forecasts assemble into

        φ[N, k] = k / N · C(N, k) = C(N - 1, k - 1)

    complete backtest paths (:attr:`n_paths`, :meth:`path_assignments`).

    Parameters
    ----------
    n_groups : int
        ``N`` >= 2.
    n_test_groups : int
        ``k``, 1 <= k < N.
    horizon, embargo : int
        As in :class:`PurgedKFold`.
    """

    n_groups: int = 6
    n_test_groups: int = 2
    horizon: int = 1
    embargo: int = 0

    def __post_init__(self) -> None:
        _check_int("CombinatorialPurgedKFold", "n_groups", self.n_groups, 2)
        _check_int("CombinatorialPurgedKFold", "n_test_groups", self.n_test_groups, 1)
        if self.n_test_groups >= self.n_groups:
            raise ValueError(
                f"CombinatorialPurgedKFold n_test_groups={self.n_test_groups!r}; expected an "
                f"integer below n_groups={self.n_groups}"
            )
        _check_int("CombinatorialPurgedKFold", "horizon", self.horizon, 1)
        _check_int("CombinatorialPurgedKFold", "embargo", self.embargo, 0)

    @property
    def n_paths(self) -> int:
        """``φ = k / N · C(N, k) = C(N - 1, k - 1)`` backtest paths."""
        return comb(self.n_groups - 1, self.n_test_groups - 1)

    def get_n_splits(self, n_samples: int | object = None) -> int:
        """``C(N, k)`` train/test splits (whatever ``n_samples``)."""
        return comb(self.n_groups, self.n_test_groups)

    def test_groups(self) -> list[tuple[int, ...]]:
        """The test groups of each split, in :meth:`split` order."""
        return list(combinations(range(self.n_groups), self.n_test_groups))

    def path_assignments(self) -> IntArray:
        """Path of each (split, group) test forecast, shape ``(C(N, k), N)``; -1: not tested.

        Group ``g``'s ``p``-th test (in split order) belongs to path ``p``, so path ``p``
        strings together one out-of-sample forecast of every group.
        """
        out = np.full((self.get_n_splits(), self.n_groups), -1, dtype=np.int64)
        seen = np.zeros(self.n_groups, dtype=np.int64)
        for i, groups in enumerate(self.test_groups()):
            for g in groups:
                out[i, g] = seen[g]
                seen[g] += 1
        return out

    def split(self, n_samples: int | object) -> Iterator[tuple[IntArray, IntArray]]:
        """Yield ``(train_indices, test_indices)``; ``n_samples`` is an int or has ``len``."""
        n = _n_of(n_samples)
        if n < self.n_groups:
            raise ValueError(
                f"CombinatorialPurgedKFold(n_groups={self.n_groups}) needs at least n_groups "
                f"samples; got {n}"
            )
        groups = _groups(n, self.n_groups)
        for chosen in self.test_groups():
            test = np.concatenate([groups[g] for g in chosen])
            train = _purged_train(n, test, self.horizon, self.embargo)
            if train.size == 0:
                raise ValueError(
                    f"CombinatorialPurgedKFold(n_groups={self.n_groups}, n_test_groups="
                    f"{self.n_test_groups}, horizon={self.horizon}, embargo={self.embargo}) "
                    f"leaves no training sample for test groups {chosen} of {n} samples"
                )
            yield train, test
