"""`WalkForward`: a pure index generator of (train, test) folds with a purge gap."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from allocgym._typing import IntArray

__all__ = ["WalkForward"]


@dataclass(frozen=True)
class WalkForward:
    """Consecutive out-of-sample test windows, each preceded by its training window.

    Fold ``k`` (0-based) tests on ``[s_k, s_k + test)`` with ``s_k = train + purge +
    k·step`` and trains on ``[s_k − purge − train, s_k − purge)`` (rolling) or
    ``[0, s_k − purge)`` (expanding). The ``purge`` days between train and test are in
    neither, so labels that look ahead cannot leak (López de Prado 2018, ch. 7). The
    last test window is cut at the end of the data (it may be shorter than ``test``).

    Parameters
    ----------
    train : int
        Training window length (the minimum when ``expanding``), >= 1.
    test : int
        Test window length, >= 1.
    step : int, optional
        Distance between consecutive test starts; default ``test`` (no overlap, no gap).
    expanding : bool
        Grow the training window from the first date instead of rolling it.
    purge : int
        Days dropped between the end of training and the start of testing, >= 0.
    """

    train: int
    test: int
    step: int | None = None
    expanding: bool = False
    purge: int = 0

    def __post_init__(self) -> None:
        for name in ("train", "test"):
            v = getattr(self, name)
            if not isinstance(v, int | np.integer) or v < 1:
                raise ValueError(f"WalkForward {name}={v!r}; expected an integer >= 1")
        if self.step is not None and (not isinstance(self.step, int | np.integer) or self.step < 1):
            raise ValueError(f"WalkForward step={self.step!r}; expected an integer >= 1 or None")
        if not isinstance(self.purge, int | np.integer) or self.purge < 0:
            raise ValueError(f"WalkForward purge={self.purge!r}; expected an integer >= 0")

    @property
    def stride(self) -> int:
        return self.test if self.step is None else int(self.step)

    def get_n_splits(self, n_samples: int) -> int:
        """Number of folds over ``n_samples`` dates (0 raises in :meth:`split`)."""
        first = self.train + self.purge
        if n_samples <= first:
            return 0
        return 1 + (n_samples - first - 1) // self.stride

    def split(self, n_samples: int | object) -> Iterator[tuple[IntArray, IntArray]]:
        """Yield ``(train_indices, test_indices)`` over ``n_samples`` positions.

        ``n_samples`` may be an int or anything with ``len`` (e.g. a MarketData).
        """
        n = n_samples if isinstance(n_samples, int | np.integer) else len(n_samples)
        if self.get_n_splits(n) == 0:
            raise ValueError(
                f"WalkForward(train={self.train}, test={self.test}, purge={self.purge}) needs "
                f"more than train + purge = {self.train + self.purge} dates; got {n}"
            )
        start = self.train + self.purge
        while start < n:
            stop = min(start + self.test, n)
            train_end = start - self.purge
            train_start = 0 if self.expanding else train_end - self.train
            yield (
                np.arange(train_start, train_end, dtype=np.int64),
                np.arange(start, stop, dtype=np.int64),
            )
            start += self.stride
