"""The case studies' claims beside what allocgym measures (figures, not a test).

Run from the repository root::

    python benchmarks/bench_claims.py            # about 10 minutes on 2 cores
    python benchmarks/bench_claims.py --quick    # 10 assets, shorter spans, smaller nets

Every figure is out of sample and point in time: each predictor is refit on the default
walk-forward schedule (``FeatureConfig()``: first refit at row 504, yearly refits on a
2,520-day rolling window) on the rows strictly before the refit, and scored on the rows
up to the next refit. Two markets:

- the embedded S&P 500 data (20 stocks) from ``--start`` (default 2010-01-01) to 2022,
  so that the first forecasts are those of 2012;
- a synthetic market with known regimes (``make_synthetic_market``: 20 assets, 3,000
  days, 3 regimes, separation 1, the generator's default, planted signal strength 0.5,
  seed 7).

Definitions (h = the forecast horizon in trading days):

1. directional accuracy: share of (asset, day) pairs with
   ``sign(forecast) == sign(p_{t+h} / p_t - 1)``, zero forecasts or returns left out, of
   the pooled LSTM return forecaster (the panel's ``lstm_forecast``, package defaults),
   at h = 1 (the panel's horizon) and h = 21;
2. out-of-sample R^2 of the same forecasts, ``1 - SSE / SS_ref``: against the zero
   forecast (``SS_ref = sum y^2``) and against the point-in-time historical mean
   (expanding mean of the asset's daily returns up to t, times h; Campbell & Thompson
   2008);
3. the GARCH(1,1)-t 21-day volatility forecast (``garch_vol_21d``, 21 trading days =
   30 calendar days) on non-overlapping 21-day blocks: the share of asset pairs ranked
   in the order of their realised volatility over the block (concordant pairs /
   concordant + discordant, pooled over blocks), and the share of (asset, block) where
   the forecast says rightly whether the block's realised volatility is above or below
   the previous block's (known at the forecast date);
4. regime accuracy: share of days where the argmax of the point-in-time regime
   probabilities (HMM forward filter; Gaussian mixture posterior) equals the true
   regime, labels matched by volatility order (state 0 = calmest in both);
5. QLIKE (``y / v + log v``) and MSE of variance forecasts ``v`` of the mean squared
   return ``y`` over the next 1 and 21 days: :class:`LSTMVolatility` vs GARCH vs
   EWMA(0.94) (flat term structure), on the (asset, day) pairs where all three exist.
"""

from __future__ import annotations

import argparse
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

import allocgym
from allocgym.data import MarketData
from allocgym.predictors import FeatureConfig, LSTMConfig, RegimeConfig, walk_forward
from allocgym.predictors.evaluate import (
    ewma_variance,
    forward_return,
    regime_accuracy,
    return_forecast_quality,
    volatility_forecast_quality,
)
from allocgym.predictors.garch import GarchFallbackWarning, GarchVolatility
from allocgym.predictors.lstm import LSTMForecaster
from allocgym.predictors.lstm_vol import (
    DEFAULT_VOL_CONFIG,
    LSTMVolatility,
    forward_realised_variance,
)
from allocgym.predictors.regime_gmm import RegimeGMM
from allocgym.predictors.regimes import RegimeHMM

BLOCK = 21
CLAIMS = {
    "direction": ("LSTM directional accuracy", 0.63),
    "r2": ("LSTM return R^2", 0.28),
    "vol": ("volatility accuracy, 30 days", 0.71),
    "regime": ("regime accuracy", 0.76),
}


@dataclass(frozen=True)
class Sizes:
    """What ``--quick`` shrinks."""

    n_assets: int | None
    embedded_years: int | None
    synthetic_days: int
    lstm: LSTMConfig
    lstm_vol: LSTMConfig


FULL = Sizes(None, None, 3000, LSTMConfig(), DEFAULT_VOL_CONFIG)
QUICK = Sizes(
    10,
    6,
    1600,
    LSTMConfig(max_samples=2048, max_epochs=4),
    LSTMConfig(
        window=20, hidden=16, batch_size=64, lr=3e-3, max_epochs=5, patience=2, max_samples=2048
    ),
)


def _walk(make: Callable, market: MarketData) -> np.ndarray:
    cfg = FeatureConfig()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", GarchFallbackWarning)
        return walk_forward(
            make,
            market,
            min_train=cfg.min_train,
            refit_every=cfg.refit_every,
            train_window=cfg.train_window,
        )


def _timed(label: str, make: Callable, market: MarketData) -> np.ndarray:
    t0 = time.perf_counter()
    out = _walk(make, market)
    print(f"  {label}: {time.perf_counter() - t0:.1f} s", flush=True)
    return out


def historical_mean(returns: np.ndarray, horizon: int) -> np.ndarray:
    """Expanding mean of each asset's daily returns up to t, times h (point in time)."""
    finite = np.isfinite(returns)
    count = np.cumsum(finite, axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.cumsum(np.where(finite, returns, 0.0), axis=0) / np.where(count, count, np.nan)
    return mean * horizon


def return_claims(forecast: np.ndarray, market: MarketData, horizon: int) -> dict[str, float]:
    """Hit rate and out-of-sample R^2 (vs zero, vs historical mean) on common pairs."""
    returns = np.asarray(market.returns)
    realised = forward_return(market, horizon)
    hist = historical_mean(returns, horizon)
    table = return_forecast_quality({"lstm": forecast, "hist": hist}, realised)
    ok = np.isfinite(forecast) & np.isfinite(realised) & np.isfinite(hist)
    f, y, m = forecast[ok], realised[ok], hist[ok]
    sse = np.sum((y - f) ** 2)
    return {
        "n": int(ok.sum()),
        "hit": float(table.loc["lstm", "hit_rate"]),
        "hit_hist": float(table.loc["hist", "hit_rate"]),
        "r2_zero": float(1 - sse / np.sum(y**2)),
        "r2_hist": float(1 - sse / np.sum((y - m) ** 2)),
        "corr2": float(np.corrcoef(f, y)[0, 1] ** 2),
    }


def block_scores(forecast: np.ndarray, realised: np.ndarray, first: int) -> dict[str, float]:
    """Pairwise concordance and direction hit rate on non-overlapping 21-day blocks.

    ``forecast`` and ``realised`` are variances at row t for days t+1..t+21 (n_dates,
    n_assets); blocks start at ``first``, ``first + 21``, ...; the previous block's
    realised variance at t is ``realised[t - 21]`` (days t-20..t, known at t).
    """
    concordant = discordant = 0
    per_block, hits, calls = [], 0, 0
    for t in range(first + BLOCK, len(realised) - BLOCK, BLOCK):
        f, y, prev = forecast[t], realised[t], realised[t - BLOCK]
        ok = np.isfinite(f) & np.isfinite(y) & np.isfinite(prev)
        f, y, prev = f[ok], y[ok], prev[ok]
        i, j = np.triu_indices(len(f), k=1)
        s = np.sign(f[i] - f[j]) * np.sign(y[i] - y[j])
        c, d = int((s > 0).sum()), int((s < 0).sum())
        concordant, discordant = concordant + c, discordant + d
        if c + d:
            per_block.append(c / (c + d))
        up_f, up_y = np.sign(f - prev), np.sign(y - prev)
        called = (up_f != 0) & (up_y != 0)
        hits += int((up_f[called] == up_y[called]).sum())
        calls += int(called.sum())
    return {
        "blocks": len(per_block),
        "concordance": concordant / max(concordant + discordant, 1),
        "months_majority": float(np.mean(np.asarray(per_block) > 0.5)),
        "direction": hits / max(calls, 1),
    }


def first_finite_row(x: np.ndarray) -> int:
    return int(np.flatnonzero(np.isfinite(x).any(axis=tuple(range(1, x.ndim))))[0])


def measure(market: MarketData, sizes: Sizes, truth=None) -> dict:
    """Every figure of the table for one market."""
    print(f"{market!r}", flush=True)
    returns = np.asarray(market.returns)
    out: dict = {}
    for h in (1, 21):
        cfg = LSTMConfig(**{**sizes.lstm.__dict__, "horizon": h})
        f = _timed(f"LSTM returns h={h}", lambda c=cfg: LSTMForecaster(c, seed=0), market)
        out[f"ret_{h}"] = return_claims(f[:, :, 0], market, h)
    garch = _timed("GARCH(1,1)-t", lambda: GarchVolatility(), market) ** 2
    lstm_vol = _timed(
        "LSTM volatility h=1,21", lambda: LSTMVolatility(sizes.lstm_vol, (1, 21)), market
    )
    ewma = ewma_variance(returns)
    realised21 = forward_realised_variance(returns, BLOCK)
    first = first_finite_row(garch)
    prev_realised = np.full(realised21.shape, np.nan)
    prev_realised[BLOCK:] = realised21[:-BLOCK]
    out["blocks"] = {
        name: block_scores(v, realised21, first)
        for name, v in (
            ("garch", garch[:, :, 1]),
            ("ewma", ewma),
            ("lstm", lstm_vol[:, :, 1]),
            ("last_block", prev_realised),
            ("long_run", historical_mean(returns**2, 1)),
        )
    }
    out["blocks"]["last_block"]["direction"] = np.nan  # no change: no direction to call
    for k, h in enumerate((1, 21)):
        models = {"lstm": lstm_vol[:, :, k], "garch": garch[:, :, min(k, 1)], "ewma": ewma}
        target = forward_realised_variance(returns, h)
        out[f"var_{h}"] = volatility_forecast_quality(models, target)
        if truth is not None:
            out[f"var_{h}_true"] = volatility_forecast_quality(
                models, forward_realised_variance(truth.volatility, h)
            )
    if truth is not None:
        for name, make in (
            ("hmm", lambda: RegimeHMM(RegimeConfig(), seed=0)),
            ("gmm", lambda: RegimeGMM(RegimeConfig(model="gmm"), seed=0)),
        ):
            probs = _timed(name.upper(), make, market)
            out[f"regime_{name}"] = regime_accuracy(probs, truth.regimes)
    return out


def _print_details(name: str, m: dict) -> None:
    print(f"\n### {name}: details")
    for h in (1, 21):
        r = m[f"ret_{h}"]
        print(
            f"returns h={h}: n={r['n']}, LSTM hit {r['hit']:.4f} (historical mean "
            f"{r['hit_hist']:.4f}), R2 vs zero {r['r2_zero']:.4f}, vs historical mean "
            f"{r['r2_hist']:.4f}, corr^2 {r['corr2']:.4f}"
        )
    blocks = pd.DataFrame(m["blocks"]).T
    print("21-day blocks (concordance pooled over pairs; months_majority: share of blocks")
    print("with concordance > 1/2; direction vs the previous block's realised; long_run:")
    print("the expanding mean of r^2, i.e. 'reverts to the long-run level'):")
    print(blocks.to_string(float_format=lambda v: f"{v:.4f}"))
    for key in ("var_1", "var_21", "var_1_true", "var_21_true"):
        if key in m:
            print(f"{key} (QLIKE, MSE; lower is better):")
            print(m[key].to_string(float_format=lambda v: f"{v:.4g}"))


def _verdict(values: dict[str, float], claimed: float) -> str:
    """Reproduced where the measured value reaches the claimed one."""
    met = [name for name, v in values.items() if v >= claimed]
    if len(met) == len(values):
        return "reproduced"
    return "not reproduced" if not met else f"partly ({', '.join(met)} only)"


def _return_cell(m: dict, key: str) -> str:
    a, b = m["ret_1"], m["ret_21"]
    if key == "hit":
        return (
            f"h=1: {a['hit']:.3f} (hist. mean {a['hit_hist']:.3f}); "
            f"h=21: {b['hit']:.3f} (hist. mean {b['hit_hist']:.3f})"
        )
    return (
        f"h=1: {a['r2_zero']:+.4f} vs 0, {a['r2_hist']:+.4f} vs hist. mean; "
        f"h=21: {b['r2_zero']:+.3f} / {b['r2_hist']:+.3f}"
    )


def _block_cell(m: dict, key: str) -> str:
    b = m["blocks"]
    if key == "concordance":
        ref = f"last block {b['last_block'][key]:.3f}"
    else:
        ref = f"EWMA {b['ewma'][key]:.3f}, long-run mean {b['long_run'][key]:.3f}"
    return f"GARCH {b['garch'][key]:.3f} ({ref}, LSTM {b['lstm'][key]:.3f})"


def _var_cell(table: pd.DataFrame) -> str:
    q, mse = table["qlike"], table["mse"]
    return (
        f"QLIKE LSTM {q['lstm']:.3f} / GARCH {q['garch']:.3f} / EWMA {q['ewma']:.3f}; "
        f"MSE {mse['lstm']:.3g} / {mse['garch']:.3g} / {mse['ewma']:.3g}"
    )


def table(emb: dict, syn: dict) -> str:
    """The markdown table: claim, definition, embedded, synthetic, verdict."""
    markets = {"embedded": emb, "synthetic": syn}

    def best(key: str) -> dict[str, float]:  # the better horizon of each market
        keys = key.split()
        return {n: max(m[f"ret_{h}"][k] for h in (1, 21) for k in keys) for n, m in markets.items()}

    rows = []
    text, claimed = CLAIMS["direction"]
    rows.append(
        (
            f"{text} {claimed:.0%}",
            "share of (asset, day) with sign(forecast) = sign(h-day return)",
            _return_cell(emb, "hit"),
            _return_cell(syn, "hit"),
            _verdict(best("hit"), claimed),
        )
    )
    text, claimed = CLAIMS["r2"]
    rows.append(
        (
            f"{text} {claimed}",
            "1 - SSE / SS(y - 0); 1 - SSE / SS(y - hist. mean)",
            _return_cell(emb, "r2"),
            _return_cell(syn, "r2"),
            _verdict(best("r2_zero r2_hist"), claimed),
        )
    )
    text, claimed = CLAIMS["vol"]
    for key, what in (
        ("concordance", "share of asset pairs ranked as realised, 21-day blocks"),
        ("direction", "share of (asset, block) up/down vs the last block right"),
    ):
        values = {n: m["blocks"]["garch"][key] for n, m in markets.items()}
        rows.append(
            (
                f"{text} {claimed:.0%}",
                what,
                _block_cell(emb, key),
                _block_cell(syn, key),
                _verdict(values, claimed),
            )
        )
    text, claimed = CLAIMS["regime"]
    regimes = {"HMM": syn["regime_hmm"], "GMM": syn["regime_gmm"]}
    rows.append(
        (
            f"{text} {claimed:.0%}",
            "share of days argmax point-in-time regime = true regime",
            "n/a (no true regimes)",
            ", ".join(f"{n} {v:.3f}" for n, v in regimes.items()),
            _verdict(regimes, claimed),
        )
    )
    for h in (1, 21):
        wins = [
            n
            for n, m in markets.items()
            if m[f"var_{h}"].loc["lstm", "qlike"] < m[f"var_{h}"].loc["garch", "qlike"]
        ]
        verdict = _verdict({n: float(n in wins) for n in markets}, 1.0)
        rows.append(
            (
                f"LSTM forecasts volatility better than GARCH ({h} d)",
                f"QLIKE and MSE of the mean r^2 over the next {h} d",
                _var_cell(emb[f"var_{h}"]),
                _var_cell(syn[f"var_{h}"]),
                verdict + " (QLIKE)",
            )
        )
    lines = ["| claim | definition | embedded S&P 500 | synthetic | verdict |", "|---" * 5 + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10 assets, shorter spans")
    parser.add_argument("--start", default="2010-01-01", help="first date of the embedded data")
    args = parser.parse_args()
    pd.set_option("display.width", 140)
    sizes = QUICK if args.quick else FULL
    t0 = time.perf_counter()
    embedded = allocgym.load_market().between(args.start, "2022-12-31")
    if sizes.embedded_years is not None:
        end = embedded.dates[0] + pd.DateOffset(years=sizes.embedded_years)
        embedded = embedded.between(embedded.dates[0], end)
    if sizes.n_assets is not None:
        embedded = MarketData.from_prices(
            embedded.prices[:, : sizes.n_assets], embedded.dates, embedded.assets[: sizes.n_assets]
        )
    syn = allocgym.make_synthetic_market(
        n_assets=sizes.n_assets or 20,
        n_days=sizes.synthetic_days,
        n_regimes=3,
        seed=7,
        signal_strength=0.5,
    )
    emb = measure(embedded, sizes)
    synthetic = measure(syn.market, sizes, truth=syn.truth)
    _print_details("embedded S&P 500", emb)
    _print_details("synthetic", synthetic)
    print()
    print(table(emb, synthetic))
    print(f"\ntotal: {time.perf_counter() - t0:.0f} s wall")


if __name__ == "__main__":
    main()
