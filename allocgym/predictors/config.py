"""Typed configuration of the feature panel: which predictors run and how they are refit.

A :class:`FeatureConfig` is a frozen dataclass, so it hashes into the cache key and is
saved resolved next to every run. The presets are

- ``"technical"``: technical features only (builds in seconds);
- ``"standard"``: technical + GARCH volatility + HMM regime probabilities
  (:data:`DEFAULT_PRESET`: what ``build_features(market)`` and a config without
  ``features.preset`` build);
- ``"full"``: standard + the LSTM return forecast.

A preset is always named: ``None`` means "no features" wherever features are optional
(the environments, the backtester), so it is not a preset.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any, Literal

from allocgym.exceptions import ConfigError

__all__ = [
    "DEFAULT_PRESET",
    "PRESETS",
    "FeatureConfig",
    "GarchConfig",
    "LSTMConfig",
    "RegimeConfig",
    "resolve_config",
]


def _require(ok: bool, name: str, value: Any, expected: str) -> None:
    if not ok:
        raise ConfigError(f"{name}={value!r} is invalid; expected {expected}")


def _positive_int(name: str, value: Any, low: int = 1) -> None:
    _require(
        isinstance(value, int) and not isinstance(value, bool) and value >= low,
        name,
        value,
        f"an integer >= {low}",
    )


@dataclass(frozen=True)
class GarchConfig:
    """Per-asset conditional volatility (:class:`~allocgym.predictors.GarchVolatility`).

    Attributes
    ----------
    kind : {"garch", "gjr", "egarch"}
        GARCH(1,1) (Bollerslev 1986), GJR-GARCH(1,1,1) (Glosten, Jagannathan & Runkle
        1993) or EGARCH(1,1,1) (Nelson 1991).
    dist : {"t", "normal", "skewt"}
        Innovation distribution of the maximum-likelihood fit.
    horizon : int
        ``h`` of the extra feature ``garch_vol_{h}d``: the square root of the average
        conditional variance over the next ``h`` days.
    ewma_lambda : float
        RiskMetrics decay of the EWMA fallback used when a fit fails.
    min_obs : int
        Fewest finite returns in the training window needed to fit an asset.
    variance_floor : float
        Forecast variances are floored at this fraction of the training window's
        mean squared return. Stale prices (long runs of zero returns, as in thinly
        traded early data) otherwise drive GARCH and EWMA variances towards 0.
    """

    kind: Literal["garch", "gjr", "egarch"] = "garch"
    dist: Literal["t", "normal", "skewt"] = "t"
    horizon: int = 21
    ewma_lambda: float = 0.94
    min_obs: int = 250
    variance_floor: float = 0.01

    def __post_init__(self) -> None:
        _require(self.kind in ("garch", "gjr", "egarch"), "garch.kind", self.kind,
                 "'garch', 'gjr' or 'egarch'")  # fmt: skip
        _require(self.dist in ("t", "normal", "skewt"), "garch.dist", self.dist,
                 "'t', 'normal' or 'skewt'")  # fmt: skip
        _positive_int("garch.horizon", self.horizon, 2)
        _require(0.0 < self.ewma_lambda < 1.0, "garch.ewma_lambda", self.ewma_lambda,
                 "0 < lambda < 1")  # fmt: skip
        _positive_int("garch.min_obs", self.min_obs, 50)
        _require(0.0 <= self.variance_floor < 1.0, "garch.variance_floor", self.variance_floor,
                 "0 <= variance_floor < 1")  # fmt: skip


@dataclass(frozen=True)
class RegimeConfig:
    """Market regime probabilities (:class:`~allocgym.predictors.RegimeHMM` or
    :class:`~allocgym.predictors.RegimeGMM`).

    Attributes
    ----------
    n_states : int
        Number of hidden states, 2 to 4; state 0 is always the calmest.
    vol_window : int
        Days in the realised-volatility input of the HMM.
    n_restarts : int
        Baum-Welch restarts (the first from volatility quantiles, the others from
        k-means with seeds ``seed + j``); the best log-likelihood wins.
    n_iter : int
        Maximum EM iterations per restart.
    model : {"hmm", "gmm"}
        ``"hmm"``: Gaussian HMM, forward-filtered (the default); ``"gmm"``: Gaussian
        mixture, the posterior of the inputs at t (no dynamics). Both fit the same
        inputs and give the same features ``regime_p{k}``. The default is left out of
        the cache key, so panels cached before this field existed are still found.
    """

    n_states: int = 3
    vol_window: int = 5
    n_restarts: int = 4
    n_iter: int = 100
    model: Literal["hmm", "gmm"] = "hmm"

    def __post_init__(self) -> None:
        _require(
            isinstance(self.n_states, int) and 2 <= self.n_states <= 4,
            "regime.n_states",
            self.n_states,
            "an integer in 2..4",
        )
        _positive_int("regime.vol_window", self.vol_window, 2)
        _positive_int("regime.n_restarts", self.n_restarts)
        _positive_int("regime.n_iter", self.n_iter)
        _require(self.model in ("hmm", "gmm"), "regime.model", self.model, "'hmm' or 'gmm'")


@dataclass(frozen=True)
class LSTMConfig:
    """The pooled LSTM return forecaster (:class:`~allocgym.predictors.LSTMForecaster`).

    The default is sized so that one refit on 20 assets trains in a few seconds on
    two CPU cores; raise ``hidden``, ``num_layers``, ``max_samples`` and
    ``max_epochs`` for a bigger model.

    Attributes
    ----------
    window : int
        Days in the input sequence ending at t.
    horizon : int
        ``h``: the target is the simple return from the close of t to the close of t+h.
    hidden, num_layers : int
        LSTM width and depth (stacked LSTM).
    attention : bool
        Additive attention over the time window (Bahdanau et al. 2015) before the
        dense head; otherwise the last hidden state is used.
    dropout : float
        Dropout between stacked LSTM layers and in the head.
    max_epochs, patience : int
        Early stopping on the validation tail: stop after ``patience`` epochs without
        improvement and keep the best weights.
    batch_size, max_samples : int
        Mini-batch size; training samples are capped at ``max_samples`` (a seeded
        random subsample of the training window, kept in time order).
    lr, weight_decay : float
        Adam learning rate and L2 penalty.
    huber_delta : float
        Huber loss threshold, in units of the training target's standard deviation.
    val_fraction : float
        Fraction of the (time-ordered) training samples held out as the validation tail.
    train_window : int
        Most recent days of the training window used to build samples.
    threads : int
        ``torch.set_num_threads`` during fit and predict (restored afterwards). One
        thread is the default: this small network gains little from more, and on a
        shared machine oversubscribed torch threads slow training down several-fold.
    """

    window: int = 30
    horizon: int = 1
    hidden: int = 32
    num_layers: int = 1
    attention: bool = True
    dropout: float = 0.0
    max_epochs: int = 8
    patience: int = 2
    batch_size: int = 256
    max_samples: int = 8192
    lr: float = 1e-3
    weight_decay: float = 0.0
    huber_delta: float = 1.0
    val_fraction: float = 0.2
    train_window: int = 1260
    threads: int = 1

    def __post_init__(self) -> None:
        for name in ("window", "horizon", "hidden", "num_layers", "max_epochs", "patience",
                     "batch_size", "max_samples", "train_window", "threads"):  # fmt: skip
            _positive_int(f"lstm.{name}", getattr(self, name))
        _require(0.0 <= self.dropout < 1.0, "lstm.dropout", self.dropout, "0 <= dropout < 1")
        _require(self.lr > 0, "lstm.lr", self.lr, "a positive learning rate")
        _require(self.weight_decay >= 0, "lstm.weight_decay", self.weight_decay, ">= 0")
        _require(self.huber_delta > 0, "lstm.huber_delta", self.huber_delta, "> 0")
        _require(0.0 < self.val_fraction < 0.5, "lstm.val_fraction", self.val_fraction,
                 "0 < val_fraction < 0.5")  # fmt: skip


@dataclass(frozen=True)
class FeatureConfig:
    """Which predictors build the panel and on which walk-forward schedule.

    Every predictor is refit at the dates ``min_train + k * refit_every`` (positions in
    the market's dates) on the data strictly before the refit date, restricted to the
    last ``train_window`` days (``None``: expanding window), and rolled forward day by
    day in between. Predictor features before the first refit are NaN.

    Attributes
    ----------
    garch, regime, lstm : sub-config or None
        ``None`` leaves that predictor out.
    volume : bool
        Add the volume ratio when the market has volume.
    refit_every : int
        Trading days between refits (252: yearly).
    min_train : int
        Position of the first refit, i.e. days of history before the first forecast.
    train_window : int or None
        Rolling training window in days; ``None`` for an expanding window.
    seed : int
        Seed of every stochastic fit (HMM restarts, LSTM initialisation and batches).
    """

    garch: GarchConfig | None = field(default_factory=GarchConfig)
    regime: RegimeConfig | None = field(default_factory=RegimeConfig)
    lstm: LSTMConfig | None = field(default_factory=LSTMConfig)
    volume: bool = True
    refit_every: int = 252
    min_train: int = 504
    train_window: int | None = 2520
    seed: int = 0

    def __post_init__(self) -> None:
        _positive_int("refit_every", self.refit_every)
        _positive_int("min_train", self.min_train, 20)
        if self.train_window is not None:
            _positive_int("train_window", self.train_window, 20)
        _require(
            isinstance(self.seed, int) and not isinstance(self.seed, bool),
            "seed",
            self.seed,
            "an integer",
        )
        for name, cls in (("garch", GarchConfig), ("regime", RegimeConfig), ("lstm", LSTMConfig)):
            value = getattr(self, name)
            _require(value is None or isinstance(value, cls), name, value,
                     f"a {cls.__name__} or None")  # fmt: skip

    def to_dict(self) -> dict[str, Any]:
        """Plain nested dict (for YAML/JSON and the cache key)."""
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        """Canonical JSON (sorted keys), used in the cache key.

        ``regime.model`` is omitted when it is the default ``"hmm"``: the JSON (and so
        every cache key) of a config is what it was before the field existed.
        """
        data = self.to_dict()
        if data["regime"] is not None and data["regime"]["model"] == "hmm":
            del data["regime"]["model"]
        return json.dumps(data, sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FeatureConfig:
        """Inverse of :meth:`to_dict`; unknown keys raise :class:`ConfigError`."""
        subs = {"garch": GarchConfig, "regime": RegimeConfig, "lstm": LSTMConfig}
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(
                f"unknown feature config keys {unknown}; expected any of {sorted(known)}"
            )
        kwargs: dict[str, Any] = {}
        for key, value in data.items():
            if key in subs and isinstance(value, dict):
                sub_known = {f.name for f in dataclasses.fields(subs[key])}
                bad = sorted(set(value) - sub_known)
                if bad:
                    raise ConfigError(
                        f"unknown keys {bad} in feature config {key!r}; expected any of "
                        f"{sorted(sub_known)}"
                    )
                value = subs[key](**value)
            kwargs[key] = value
        return cls(**kwargs)


PRESETS: dict[str, FeatureConfig] = {
    "technical": FeatureConfig(garch=None, regime=None, lstm=None),
    "standard": FeatureConfig(lstm=None),
    "full": FeatureConfig(),
}

DEFAULT_PRESET = "standard"
"""The preset built when none is named (``build_features``, a config's ``features``)."""


def resolve_config(config: FeatureConfig | str | dict[str, Any]) -> FeatureConfig:
    """A preset name, a dict of :class:`FeatureConfig` fields, or a FeatureConfig.

    ``None`` is refused: it means "no features" elsewhere, so it cannot also name a preset.
    """
    if config is None:
        raise TypeError(
            f"config=None names no feature preset; expected one of {sorted(PRESETS)} (default "
            f"{DEFAULT_PRESET!r}), a dict or a FeatureConfig. None means 'no features': pass "
            "features=None to the environment or the backtester instead of building a panel"
        )
    if isinstance(config, FeatureConfig):
        return config
    if isinstance(config, str):
        try:
            return PRESETS[config]
        except KeyError:
            raise ConfigError(
                f"config={config!r} is not a feature preset; expected one of {sorted(PRESETS)} "
                "or a FeatureConfig"
            ) from None
    if isinstance(config, dict):
        return FeatureConfig.from_dict(config)
    raise TypeError(
        f"config must be a preset name, a dict or a FeatureConfig; got {type(config).__name__}"
    )
