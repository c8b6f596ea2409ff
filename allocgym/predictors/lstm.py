"""A pooled LSTM forecaster of next-h-day returns (torch), point in time.

One network is shared by every asset (pooled training). The input of asset i at row
t is the window of its causal technical features at rows t-w+1..t (standardised with
the training rows' mean and standard deviation, clipped to +-5); the target is the
simple return from the close of t to the close of t+h, ``p_{t+h} / p_t - 1``. A
training sample at row t is used only if ``t + h <= until``, so no target reaches
past the fit cut-off.

Architecture (the user's design): stacked LSTM (Hochreiter & Schmidhuber 1997) ->
optional additive attention over the time window (Bahdanau, Cho & Bengio 2015),
``a_s = softmax_s(v' tanh(W h_s))``, ``c = sum_s a_s h_s`` -> dense head ->
standardised forecast. Loss: Huber. Early stopping on the time-ordered validation
tail of the training samples (separated from the training part by an h-row purge).
Given a seed, a fit is deterministic on a given machine and thread count.
"""

from __future__ import annotations

import copy
import os

import numpy as np
import torch
from torch import nn

from allocgym._io import atomic_write
from allocgym._threads import torch_threads
from allocgym._typing import BoolArray, FloatArray, IntArray
from allocgym.data import MarketData
from allocgym.exceptions import DataError
from allocgym.predictors.config import LSTMConfig
from allocgym.predictors.schedule import check_predict_range
from allocgym.predictors.technical import TechnicalFeatures

__all__ = ["INPUT_FEATURES", "LSTMForecaster", "LSTMNet"]

INPUT_FEATURES = (
    "mom_1", "mom_5", "mom_21", "mom_63", "rvol_21", "rvol_63", "rsi_14", "ma_ratio_5",
    "ma_ratio_20", "ma_ratio_50", "macd", "macd_signal", "bollinger_pb",
)  # fmt: skip
_CLIP = 5.0


class LSTMNet(nn.Module):
    """Stacked LSTM, optional additive attention over time, dense head -> one output."""

    def __init__(
        self, n_inputs: int, hidden: int, num_layers: int, attention: bool, dropout: float
    ) -> None:
        super().__init__()
        self.lstm = nn.LSTM(
            n_inputs,
            hidden,
            num_layers=num_layers,
            batch_first=True,
            dropout=dropout if num_layers > 1 else 0.0,
        )
        self.attention = (
            nn.Sequential(nn.Linear(hidden, hidden), nn.Tanh(), nn.Linear(hidden, 1, bias=False))
            if attention
            else None
        )
        self.head = nn.Sequential(
            nn.Linear(hidden, hidden), nn.ReLU(), nn.Dropout(dropout), nn.Linear(hidden, 1)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x``: (batch, window, n_inputs) -> (batch,)."""
        h, _ = self.lstm(x)
        if self.attention is None:
            context = h[:, -1]
        else:
            weights = torch.softmax(self.attention(h).squeeze(-1), dim=1)
            context = (weights.unsqueeze(-1) * h).sum(dim=1)
        return self.head(context).squeeze(-1)


def input_scaling(
    train_x: FloatArray, who: str, start: int, until: int
) -> tuple[FloatArray, FloatArray]:
    """Mean and standard deviation (+1e-12) of the finite rows of ``train_x`` (rows x
    inputs), the training rows' standardisation of an LSTM's inputs."""
    finite = np.isfinite(train_x).all(axis=1)
    if finite.sum() < 2:
        raise DataError(f"{who}: no finite inputs on rows {start}..{until}")
    return train_x[finite].mean(axis=0), train_x[finite].std(axis=0) + 1e-12


def standardise(x: FloatArray, mean: FloatArray, scale: FloatArray) -> FloatArray:
    """``(x - mean) / scale`` clipped to +-_CLIP, as float32 (the network's input)."""
    return np.clip((x - mean) / scale, -_CLIP, _CLIP).astype(np.float32)


class LSTMForecaster:
    """Pooled LSTM forecast of the next-h-day simple return of every asset.

    Parameters
    ----------
    config : LSTMConfig, optional
    seed : int
        Seeds the weights' initialisation and the mini-batch order.
    volume : bool
        Add ``volume_ratio`` to the inputs when the market has volume.

    Notes
    -----
    Cost in the number of assets N: a fit draws at most ``config.max_samples``
    asset-days (8,192 by default; a seeded subsample, in time order) from the
    ``train_window x N`` candidates, and only those windows are built, so an epoch
    trains on at most ``(1 - val_fraction) max_samples`` samples whatever N is. The
    cap already binds on 20 assets (1,260 days x 20 = 25,200 candidates), so large
    universes change which asset-days are drawn, not how many. What grows with N is
    linear: the input features, the candidate mask and the forecasts (one window per
    asset-day predicted).

    Attributes
    ----------
    net_ : LSTMNet
        The network with the best validation loss.
    input_names_ : tuple of str
    input_mean_, input_scale_ : ndarray, shape (n_inputs,)
    target_mean_, target_scale_ : float
        Standardisation of the target on the training samples.
    history_ : list of (train_loss, val_loss) per epoch
    n_train_, n_val_ : int
        Samples used for training and validation.
    until_ : int
    """

    level = "asset"

    def __init__(self, config: LSTMConfig | None = None, seed: int = 0, volume: bool = True):
        self.config = config
        self.seed = seed
        self.volume = volume

    @property
    def _config(self) -> LSTMConfig:
        return self.config or LSTMConfig()

    def feature_names_for(self, market: MarketData) -> tuple[str, ...]:
        return ("lstm_forecast",)

    # ------------------------------------------------------------------ inputs
    def _inputs(self, market: MarketData) -> FloatArray:
        """Raw causal inputs, shape (n_dates, n_assets, n_inputs)."""
        tech = TechnicalFeatures(volume=self.volume)
        names = tech.feature_names_for(market)
        wanted = INPUT_FEATURES + (("volume_ratio",) if "volume_ratio" in names else ())
        self.input_names_ = wanted
        values = tech.transform(market)
        return values[:, :, [names.index(n) for n in wanted]]

    def _standardise(self, x: FloatArray) -> FloatArray:
        return standardise(x, self.input_mean_, self.input_scale_)

    def _windows(self, z: FloatArray, rows: np.ndarray) -> tuple[FloatArray, BoolArray]:
        """Windows ending at each row for every asset: (len(rows) * n_assets, w, F)."""
        w = self._config.window
        n_assets, n_inputs = z.shape[1], z.shape[2]
        out = np.zeros((len(rows), n_assets, w, n_inputs), dtype=np.float32)
        for k, t in enumerate(rows):
            if t - w + 1 >= 0:
                out[k] = z[t - w + 1 : t + 1].transpose(1, 0, 2)
        valid = np.isfinite(out).all(axis=(2, 3))
        valid &= (rows - w + 1 >= 0)[:, None]
        out[~np.isfinite(out)] = 0.0
        return out.reshape(-1, w, n_inputs), valid.reshape(-1)

    def _complete(self, z: FloatArray, rows: IntArray) -> BoolArray:
        """Whether the window ending at each row is complete and finite for each asset:
        shape (len(rows), n_assets); the ``valid`` of :meth:`_windows` without building
        the windows."""
        w = self._config.window
        bad = ~np.isfinite(z).all(axis=2)
        # bad_before[t] = incomplete rows among 0..t-1, so a window's count is a difference
        bad_before = np.zeros((len(z) + 1, z.shape[1]), dtype=np.int64)
        np.cumsum(bad, axis=0, out=bad_before[1:])
        first = rows - w + 1
        inside = first >= 0
        counts = bad_before[rows + 1] - bad_before[np.maximum(first, 0)]
        return (counts == 0) & inside[:, None]

    def _gather(self, z: FloatArray, rows: IntArray, assets: IntArray) -> FloatArray:
        """The window of ``assets[k]`` ending at ``rows[k]``: (len(rows), w, n_inputs)."""
        lags = np.arange(-self._config.window + 1, 1)
        return z[rows[:, None] + lags, assets[:, None]]

    # ------------------------------------------------------------------ fit
    def fit(
        self, market: MarketData, until: int, start: int = 0, *, rows: IntArray | None = None
    ) -> LSTMForecaster:
        """Train on samples at rows ``t`` with ``start + w - 1 <= t`` and ``t + h <= until``.

        ``rows``, if given, are the only sample rows used (those in ``start..until - h``),
        and the inputs are standardised on those rows: the training samples of a purged
        cross-validation fold (:mod:`allocgym.predictors.selection`).
        """
        cfg = self._config
        market = market[: until + 1]
        x = self._inputs(market)
        prices = np.asarray(market.prices)
        first = max(start, until - cfg.train_window + 1)
        if rows is None:
            rows = np.arange(first, until - cfg.horizon + 1)
            train_x = x[max(first - cfg.window + 1, 0) : until + 1].reshape(-1, x.shape[2])
        else:
            rows = np.asarray(rows, dtype=np.int64)
            rows = rows[(rows >= start) & (rows + cfg.horizon <= until)]
            train_x = x[rows].reshape(-1, x.shape[2])
        if len(rows) == 0:
            raise DataError(
                f"LSTMForecaster: no training rows in {start}..{until} for horizon="
                f"{cfg.horizon}; supply a longer training window"
            )
        target = prices[rows + cfg.horizon] / prices[rows] - 1.0
        self.input_mean_, self.input_scale_ = input_scaling(train_x, "LSTMForecaster", start, until)
        z = self._standardise(x)
        valid = self._complete(z, rows) & np.isfinite(target)
        sample = np.flatnonzero(valid)  # (row, asset) pairs, flattened in time order
        if len(sample) > cfg.max_samples:  # a seeded subsample, kept in time order
            rng = np.random.default_rng(self.seed)
            sample = sample[np.sort(rng.choice(len(sample), size=cfg.max_samples, replace=False))]
        k_row, k_asset = np.divmod(sample, market.n_assets)
        t_of = rows[k_row]
        # Only the kept windows are built: memory and time stay O(max_samples), not
        # O(rows x assets), however many assets there are.
        xs = self._gather(z, t_of, k_asset)
        ys = target[k_row, k_asset]
        split_t = np.quantile(t_of, 1.0 - cfg.val_fraction) if len(t_of) else 0
        train = t_of + cfg.horizon <= split_t  # purge: train targets end before val starts
        val = t_of > split_t
        if train.sum() < cfg.batch_size // 4 or val.sum() < 1:
            raise DataError(
                f"LSTMForecaster: only {int(train.sum())} training and {int(val.sum())} "
                f"validation samples on rows {start}..{until}; expected at least "
                f"{cfg.batch_size // 4} and 1"
            )
        self.target_mean_ = float(ys[train].mean())
        self.target_scale_ = float(ys[train].std() + 1e-12)
        yz = ((ys - self.target_mean_) / self.target_scale_).astype(np.float32)
        self.n_train_, self.n_val_ = int(train.sum()), int(val.sum())
        with torch_threads(cfg.threads), torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            self._train(xs[train], yz[train], xs[val], yz[val])
        self.until_ = int(until)
        return self

    def _train(self, xt: FloatArray, yt: FloatArray, xv: FloatArray, yv: FloatArray) -> None:
        cfg = self._config
        net = LSTMNet(xt.shape[2], cfg.hidden, cfg.num_layers, cfg.attention, cfg.dropout)
        opt = torch.optim.Adam(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        loss_fn = nn.HuberLoss(delta=cfg.huber_delta)
        gen = torch.Generator().manual_seed(self.seed)
        xt_t, yt_t = torch.from_numpy(xt), torch.from_numpy(yt)
        xv_t, yv_t = torch.from_numpy(xv), torch.from_numpy(yv)
        best, best_state, stale = np.inf, copy.deepcopy(net.state_dict()), 0
        self.history_: list[tuple[float, float]] = []
        for _ in range(cfg.max_epochs):
            net.train()
            order = torch.randperm(len(xt_t), generator=gen)
            total = 0.0
            for i in range(0, len(order), cfg.batch_size):
                idx = order[i : i + cfg.batch_size]
                opt.zero_grad()
                loss = loss_fn(net(xt_t[idx]), yt_t[idx])
                loss.backward()
                nn.utils.clip_grad_norm_(net.parameters(), 1.0)
                opt.step()
                total += loss.item() * len(idx)
            net.eval()
            with torch.no_grad():
                val_loss = float(loss_fn(net(xv_t), yv_t))
            self.history_.append((total / len(xt_t), val_loss))
            if val_loss < best - 1e-6:
                best, best_state, stale = val_loss, copy.deepcopy(net.state_dict()), 0
            else:
                stale += 1
                if stale >= cfg.patience:
                    break
        net.load_state_dict(best_state)
        net.eval()
        self.net_ = net

    # ------------------------------------------------------------------ predict
    def predict(self, market: MarketData, start: int, stop: int) -> FloatArray:
        """Forecasts for rows ``[start, stop)``, shape (stop - start, n_assets, 1).

        Row t uses the input window ending at t; NaN where that window is incomplete.
        """
        check_predict_range(self.until_, start, stop, market.n_dates)
        return self.forecast_at(market[:stop], np.arange(start, stop))[:, :, None]

    def forecast_at(self, market: MarketData, rows: IntArray) -> FloatArray:
        """Forecasts at any ``rows`` of ``market``, shape (len(rows), n_assets).

        Each from the input window ending at its row (NaN where incomplete). Unlike
        :meth:`predict` it does not refuse rows before the fit: cross-validation scores
        test folds that precede training data (:mod:`allocgym.predictors.selection`).
        """
        z = self._standardise(self._inputs(market))
        rows = np.asarray(rows, dtype=np.int64)
        windows, valid = self._windows(z, rows)
        with torch_threads(self._config.threads), torch.no_grad():
            out = self.net_(torch.from_numpy(windows)).numpy().astype(np.float64)
        forecast = self.target_mean_ + self.target_scale_ * out
        forecast[~valid] = np.nan
        return forecast.reshape(len(rows), market.n_assets)

    # ------------------------------------------------------------------ persistence
    def save_weights(self, path: str | os.PathLike) -> None:
        """Save the network's weights and the input/target standardisation (tensors only),
        atomically (the old file or the new one, never half of one)."""
        state = {
            "state_dict": self.net_.state_dict(),
            "input_mean": torch.from_numpy(np.asarray(self.input_mean_)),
            "input_scale": torch.from_numpy(np.asarray(self.input_scale_)),
            "target": torch.tensor([self.target_mean_, self.target_scale_], dtype=torch.float64),
            "input_names": list(self.input_names_),
            "until": self.until_,
        }
        atomic_write(path, lambda tmp: torch.save(state, tmp))

    def load_weights(self, path: str | os.PathLike) -> LSTMForecaster:
        """Restore a model saved by :meth:`save_weights` (``weights_only=True``: no pickle).

        The forecaster's ``config`` must describe the same architecture.

        Raises
        ------
        DataError
            The file is missing, unreadable, not a weights file written by
            :meth:`save_weights` (a pickled object in it is refused, not run) or of
            another architecture; the message names it.
        """
        try:
            self._restore(torch.load(path, map_location="cpu", weights_only=True))
        except Exception as e:  # OSError, UnpicklingError, RuntimeError (shapes), KeyError...
            raise DataError(
                f"{path}: cannot load LSTM weights ({type(e).__name__}: {e}); expected a file "
                "written by LSTMForecaster.save_weights with the same config (hidden, "
                "num_layers, attention); save it again or fit the forecaster instead"
            ) from e
        return self

    def _restore(self, saved: dict) -> None:
        """Set the fitted attributes from a loaded state, all or (on an error) none."""
        cfg = self._config
        names = tuple(saved["input_names"])
        net = LSTMNet(len(names), cfg.hidden, cfg.num_layers, cfg.attention, cfg.dropout)
        net.load_state_dict(saved["state_dict"])
        target_mean, target_scale = (float(v) for v in saved["target"])
        self.input_mean_ = saved["input_mean"].numpy()
        self.input_scale_ = saved["input_scale"].numpy()
        self.until_ = int(saved["until"])
        self.input_names_, self.net_ = names, net.eval()
        self.target_mean_, self.target_scale_ = target_mean, target_scale
