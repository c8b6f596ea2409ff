"""The scheduled policy whose weights come from a covariance estimate alone.

Risk parity, hierarchical risk parity and the cluster allocation need no expected
returns: at each rebalance they estimate ``Σ`` on the trailing ``lookback`` returns
dated <= t of the assets with a full history (:func:`return_window`) and map it to
weights. Their weights do not change when ``Σ`` is scaled, so ``Σ`` stays in daily units.
"""

from __future__ import annotations

import numpy as np

from allocgym._typing import FloatArray, IntArray
from allocgym.baselines._schedule import ScheduledPolicy, full_weights, return_window
from allocgym.baselines.covariance import CovarianceEstimator, get_covariance
from allocgym.baselines.policies import check_lookback
from allocgym.exceptions import OptimizationError
from allocgym.policy import PolicyState

__all__ = ["RiskBasedPolicy"]


class RiskBasedPolicy(ScheduledPolicy):
    """Weights ``allocate(Σ)`` from a point-in-time covariance, on a rebalance schedule.

    Subclasses implement ``_allocate(cov, columns, state) -> (k,)`` weights over the
    ``k`` assets of ``columns`` (long-only, summing to 1), raising
    :class:`~allocgym.exceptions.OptimizationError` to fall back to the previous weights.

    Parameters
    ----------
    lookback : int
        Trailing window of daily returns for the covariance (default 252).
    rebalance_every : int
        Days between rebalances (default 21).
    covariance : str or CovarianceEstimator
        ``ledoit_wolf`` (default), ``sample``, ``ewma``, ``garch``, ``graphical_lasso`` or
        an estimator object (:func:`~allocgym.baselines.get_covariance`).

    Attributes
    ----------
    columns_ : ndarray of int, shape (k,)
        Asset positions of the last rebalance's universe (None before the first).
    assets_ : tuple of str
        Their names.
    """

    def __init__(
        self,
        *,
        lookback: int = 252,
        rebalance_every: int = 21,
        covariance: str | CovarianceEstimator = "ledoit_wolf",
    ) -> None:
        check_lookback(lookback)
        self.lookback = int(lookback)
        self.covariance = get_covariance(covariance)
        super().__init__(rebalance_every)

    @property
    def required_features(self) -> dict[str, tuple[str, str]]:
        """The covariance estimator's features (``garch_vol`` for ``covariance='garch'``)."""
        return dict(getattr(self.covariance, "required_features", {}))

    @property
    def kind(self) -> str:
        """``"ML-enhanced"`` with a covariance that reads predictor features, else traditional."""
        garch = getattr(self.covariance, "uses_features", False)
        return "ML-enhanced" if self.required_features or garch else "traditional"

    def reset(self) -> None:
        super().reset()
        self.columns_: IntArray | None = None
        self.assets_: tuple[str, ...] = ()

    def _target(self, state: PolicyState) -> FloatArray:
        cols, window = return_window(state, self.lookback)
        cov = self.covariance.estimate(window, state, cols)
        if not np.isfinite(cov).all():
            raise OptimizationError(f"non-finite covariance at {state.date.date()}")
        self.columns_ = cols
        self.assets_ = tuple(state.history.assets[i] for i in cols)
        if cols.size == 1:
            return full_weights(state.n_assets, cols, np.ones(1))
        return full_weights(state.n_assets, cols, self._allocate(cov, cols, state))

    def _allocate(
        self, cov: FloatArray, columns: IntArray, state: PolicyState
    ) -> FloatArray:  # pragma: no cover - abstract
        raise NotImplementedError
