"""A pooled LSTM forecaster of realised variance (torch), point in time.

One network per horizon h is shared by every asset. The input of asset i at row t is
the window of rows t-w+1..t of seven causal inputs (standardised with the training
rows' mean and standard deviation, clipped to +-5): the daily return ``r_t``,
``log(r_t^2 + 1e-8)``, the log realised volatilities over 5, 21 and 63 days
(``0.5 log mean r^2``) and the two market inputs of the regime models
(:func:`~allocgym.predictors.regimes.regime_inputs`: equal-weight index return, pooled
5-day log realised volatility). The target of a sample at row t is the log of the
realised variance over the next h days,

    ``y_t(h) = mean(r_{t+1}^2, ..., r_{t+h}^2)``,  trained on ``log(y_t(h) + c)``,

with ``c`` 1 % of the training window's mean squared return (a zero return has no
logarithm). A sample is used only if ``t + h <= until``: the targets are computed on
``market[: until + 1]``, so none reaches past the fit cut-off.

The network, the Huber loss and the early stopping on a time-ordered validation tail
(purged by h rows) are those of :class:`~allocgym.predictors.lstm.LSTMForecaster`,
reused unchanged. A forecast of the log is a forecast of a median, not of a mean
(``E y = exp(E log y + var/2)`` for a lognormal ``y``): the variance forecast is
``k exp(f) - c`` with the smearing factor ``k = mean((y + c) / exp(f))`` over the
fitted samples (Duan 1983), which is also the scale that minimises their QLIKE
(Patton 2011). For h = 1 it is large (about ``exp(1.27) = 3.6`` for Gaussian returns,
since ``E log z^2 = -1.27``); the validation tail alone (the last 20 % of the window,
one regime or two) gave less stable factors than the whole window.

:data:`DEFAULT_VOL_CONFIG` (window 20, hidden 16, mini-batches of 64, learning rate
3e-3, at most 10 epochs) trains each horizon's network in a few seconds on one core;
the return forecaster's defaults (mini-batches of 256 at 1e-3) take too few steps on
a few thousand samples to learn the level of the variance.

References
----------
Duan, N. (1983). Smearing estimate: a nonparametric retransformation method. *JASA* 78.
Patton, A. J. (2011). Volatility forecast comparison using imperfect volatility
proxies. *Journal of Econometrics* 160.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch

from allocgym._threads import torch_threads
from allocgym._typing import FloatArray
from allocgym.data import MarketData
from allocgym.exceptions import DataError
from allocgym.predictors.config import LSTMConfig
from allocgym.predictors.lstm import (
    LSTMForecaster,
    LSTMNet,
    input_scaling,
    standardise,
)
from allocgym.predictors.regimes import regime_inputs
from allocgym.predictors.schedule import check_predict_range
from allocgym.predictors.technical import _rolling

__all__ = [
    "DEFAULT_VOL_CONFIG",
    "VOL_INPUTS",
    "LSTMVolatility",
    "forward_realised_variance",
    "volatility_inputs",
]

VOL_INPUTS = (
    "return", "log_sq_return", "log_rvol_5", "log_rvol_21", "log_rvol_63",
    "market_return", "market_log_rvol_5",
)  # fmt: skip
_SQ_EPS = 1e-8  # inside log(r^2 + eps): a zero return stays finite
_RVOL_WINDOWS = (5, 21, 63)
_FLOOR = 0.01  # the log target's offset c, as a fraction of the mean squared return
DEFAULT_VOL_CONFIG = LSTMConfig(
    window=20, hidden=16, batch_size=64, lr=3e-3, max_epochs=10, patience=3
)


def forward_realised_variance(returns: FloatArray, horizon: int) -> FloatArray:
    """``mean(r_{t+1}^2 .. r_{t+h}^2)`` at row t, shape (n_dates, n_assets).

    NaN for the last ``horizon`` rows and wherever one of the h returns is missing.
    """
    r2 = np.asarray(returns, dtype=np.float64) ** 2
    out = np.full(r2.shape, np.nan)
    out[:-horizon] = _rolling(r2[1:], horizon, "mean")[horizon - 1 :]
    return out


def volatility_inputs(market: MarketData) -> FloatArray:
    """The raw causal inputs of :data:`VOL_INPUTS`, shape (n_dates, n_assets, 7)."""
    r = np.asarray(market.returns, dtype=np.float64)
    r2 = r**2
    with np.errstate(divide="ignore", invalid="ignore"):
        own = [r, np.log(r2 + _SQ_EPS)]
        own += [0.5 * np.log(_rolling(r2, w, "mean") + _SQ_EPS) for w in _RVOL_WINDOWS]
    market_x = regime_inputs(market, vol_window=5)
    shared = [np.broadcast_to(market_x[:, [k]], r.shape) for k in range(2)]
    return np.stack(own + shared, axis=-1)


class LSTMVolatility:
    """Pooled LSTM forecasts of the mean daily variance over the next h days.

    Parameters
    ----------
    config : LSTMConfig, optional
        Network and training settings (``window``, ``hidden``, ``max_samples``,
        ``train_window``, ...; :data:`DEFAULT_VOL_CONFIG` if None); its ``horizon`` is
        not read: see ``horizons``.
    horizons : tuple of int
        One network per horizon; feature ``lstm_var_{h}d`` is the forecast of
        ``mean(r_{t+1}^2 .. r_{t+h}^2)`` made at the close of t (daily units).
    seed : int
        Seeds each network's initialisation, mini-batch order and subsample.

    Attributes
    ----------
    nets_ : dict of int to LSTMNet
        The network of each horizon (best validation loss).
    input_mean_, input_scale_ : ndarray, shape (7,)
    target_mean_, target_scale_, smearing_ : dict of int to float
        Standardisation of the log target and the smearing factor ``k`` per horizon.
    floor_ : float
        ``c``: 1 % of the training window's mean squared return (pooled over assets).
    n_train_, n_val_ : dict of int to int
    until_ : int
    """

    level = "asset"

    def __init__(
        self,
        config: LSTMConfig | None = None,
        horizons: tuple[int, ...] = (1, 21),
        seed: int = 0,
    ) -> None:
        self.config = config
        self.horizons = horizons
        self.seed = seed

    @property
    def _config(self) -> LSTMConfig:
        return self.config or DEFAULT_VOL_CONFIG

    def feature_names_for(self, market: MarketData) -> tuple[str, ...]:
        return tuple(f"lstm_var_{h}d" for h in self.horizons)

    def _check(self) -> tuple[int, ...]:
        horizons = tuple(self.horizons)
        ok = len(horizons) > 0 and all(
            isinstance(h, int | np.integer) and not isinstance(h, bool) and h >= 1 for h in horizons
        )
        if not ok or len(set(horizons)) != len(horizons):
            raise ValueError(
                f"horizons={self.horizons!r} is invalid; expected distinct integers >= 1"
            )
        return horizons

    def _standardise(self, x: FloatArray) -> FloatArray:
        return standardise(x, self.input_mean_, self.input_scale_)

    # ------------------------------------------------------------------ fit
    def fit(self, market: MarketData, until: int, start: int = 0) -> LSTMVolatility:
        """Train on samples at rows ``t`` with ``start + w - 1 <= t`` and ``t + h <= until``."""
        cfg = self._config
        horizons = self._check()
        market = market[: until + 1]
        x = volatility_inputs(market)
        first = max(start, until - cfg.train_window + 1)
        train_x = x[max(first - cfg.window + 1, 0) : until + 1].reshape(-1, x.shape[2])
        self.input_mean_, self.input_scale_ = input_scaling(train_x, "LSTMVolatility", start, until)
        z = self._standardise(x)
        returns = np.asarray(market.returns, dtype=np.float64)
        self.floor_ = _FLOOR * float(np.nanmean(returns[first : until + 1] ** 2))
        self.nets_: dict[int, LSTMNet] = {}
        self.target_mean_: dict[int, float] = {}
        self.target_scale_: dict[int, float] = {}
        self.smearing_: dict[int, float] = {}
        self.n_train_: dict[int, int] = {}
        self.n_val_: dict[int, int] = {}
        for h in horizons:
            self._fit_horizon(z, returns, first, until, h)
        self.until_ = int(until)
        return self

    def _fit_horizon(
        self, z: FloatArray, returns: FloatArray, first: int, until: int, h: int
    ) -> None:
        """Fit the network of horizon h; sets its entries of the fitted dicts."""
        cfg = replace(self._config, horizon=h)
        trainer = LSTMForecaster(cfg, seed=self.seed)  # its windowing and training loop
        rows = np.arange(first, until - h + 1)
        # Computed on market[: until + 1]: a target past `until` is NaN and dropped.
        target = forward_realised_variance(returns, h)[rows]
        windows, valid = trainer._windows(z, rows)
        valid &= np.isfinite(target).reshape(-1)
        t_of = np.repeat(rows, z.shape[1])[valid]
        xs, ys = windows[valid], target.reshape(-1)[valid]
        if len(ys) > cfg.max_samples:  # a seeded subsample, kept in time order
            rng = np.random.default_rng(self.seed)
            keep = np.sort(rng.choice(len(ys), size=cfg.max_samples, replace=False))
            xs, ys, t_of = xs[keep], ys[keep], t_of[keep]
        split_t = np.quantile(t_of, 1.0 - cfg.val_fraction) if len(t_of) else 0
        train = t_of + h <= split_t  # purge: training targets end before validation starts
        val = t_of > split_t
        if train.sum() < cfg.batch_size // 4 or val.sum() < 1:
            raise DataError(
                f"LSTMVolatility: only {int(train.sum())} training and {int(val.sum())} "
                f"validation samples for horizon {h} up to row {until}; expected at least "
                f"{cfg.batch_size // 4} and 1"
            )
        log_y = np.log(ys + self.floor_)
        mean, scale = float(log_y[train].mean()), float(log_y[train].std() + 1e-12)
        yz = ((log_y - mean) / scale).astype(np.float32)
        with torch_threads(cfg.threads), torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            trainer._train(xs[train], yz[train], xs[val], yz[val])
            with torch.no_grad():
                fitted = trainer.net_(torch.from_numpy(xs)).numpy().astype(np.float64)
        self.nets_[h] = trainer.net_
        self.target_mean_[h], self.target_scale_[h] = mean, scale
        self.smearing_[h] = float(np.mean((ys + self.floor_) / np.exp(mean + scale * fitted)))
        self.n_train_[h], self.n_val_[h] = int(train.sum()), int(val.sum())

    # ------------------------------------------------------------------ predict
    def predict(self, market: MarketData, start: int, stop: int) -> FloatArray:
        """Variance forecasts for rows ``[start, stop)``, shape (stop - start, n_assets, H).

        Row t uses the input window ending at t; NaN where that window is incomplete.
        """
        check_predict_range(self.until_, start, stop, market.n_dates)
        market = market[:stop]
        z = self._standardise(volatility_inputs(market))
        rows = np.arange(start, stop)
        windows, valid = LSTMForecaster(self._config)._windows(z, rows)
        out = np.full((len(rows) * market.n_assets, len(self.nets_)), np.nan)
        with torch_threads(self._config.threads), torch.no_grad():
            for k, (h, net) in enumerate(self.nets_.items()):
                f = net(torch.from_numpy(windows)).numpy().astype(np.float64)
                log_v = self.target_mean_[h] + self.target_scale_[h] * f
                v = self.smearing_[h] * np.exp(log_v) - self.floor_
                out[:, k] = np.maximum(v, self.floor_)
        out[~valid] = np.nan
        return out.reshape(len(rows), market.n_assets, len(self.nets_))
