"""Statistical tests on Sharpe ratios: HAC difference test, PSR/DSR, block-bootstrap CI.

All functions work on daily simple returns; Sharpe ratios inside the formulas are
per period (not annualised) as in the papers; :func:`sharpe_tests` reports annualised
Sharpe ratios and confidence intervals. :func:`seed_summary` summarises the annualised
Sharpe ratios of an RL agent's seeds (mean and t-interval over seeds).

References
----------
Andrews, D. W. K. (1991). Heteroskedasticity and autocorrelation consistent covariance
matrix estimation. *Econometrica* 59(3), 817–858.
Bailey, D. H. and López de Prado, M. (2012). The Sharpe ratio efficient frontier.
*Journal of Risk* 15(2), 3–44.
Bailey, D. H. and López de Prado, M. (2014). The deflated Sharpe ratio: correcting for
selection bias, backtest overfitting and non-normality. *J. Portfolio Management* 40(5).
Ledoit, O. and Wolf, M. (2008). Robust performance hypothesis testing with the Sharpe
ratio. *Journal of Empirical Finance* 15(5), 850–859.
Casella, G. and Berger, R. L. (2002). *Statistical Inference*, 2nd ed. Duxbury.
Colas, C., Sigaud, O. and Oudeyer, P.-Y. (2018). How many random seeds? Statistical
power analysis in deep reinforcement learning experiments. arXiv:1806.08295.
Politis, D. N. and Romano, J. P. (1992). A circular block-resampling procedure for
stationary data. In *Exploring the Limits of Bootstrap*, 263–270.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats as sps

from allocgym._typing import FloatArray
from allocgym.backtest.metrics import FLAT, sample_std

__all__ = [
    "SharpeDifference",
    "deflated_sharpe_ratio",
    "expected_max_sharpe",
    "ledoit_wolf_test",
    "probabilistic_sharpe_ratio",
    "seed_summary",
    "sharpe_bootstrap_ci",
    "sharpe_tests",
]

EULER_GAMMA = 0.5772156649015329


@dataclass(frozen=True)
class SharpeDifference:
    """Result of :func:`ledoit_wolf_test` (per-period Sharpe ratios)."""

    difference: float
    std_error: float
    statistic: float
    p_value: float
    bandwidth: float


def _parzen(x: FloatArray) -> FloatArray:
    a = np.abs(x)
    return np.where(a <= 0.5, 1 - 6 * a**2 + 6 * a**3, np.where(a <= 1, 2 * (1 - a) ** 3, 0.0))


def _andrews_bandwidth(y: FloatArray) -> float:
    """Andrews (1991) AR(1) plug-in bandwidth for the Parzen kernel, ``2.6614 (α̂(2) T)^{1/5}``.

    Each column's ``ρ̂`` is clipped to ``[−0.97, 0.97]`` (a near unit root would make the
    bandwidth explode); a column that is all zero counts as ``ρ̂ = 0`` and adds nothing.
    """
    t = y.shape[0]
    num = den = 0.0
    for col in y.T:
        x0, x1 = col[:-1], col[1:]
        rho = float(np.clip(x0 @ x1 / (x0 @ x0), -0.97, 0.97)) if x0 @ x0 > 0 else 0.0
        s2 = float(np.mean((x1 - rho * x0) ** 2))
        num += 4 * rho**2 * s2**2 / (1 - rho) ** 8
        den += s2**2 / (1 - rho) ** 4
    # den > 0: ledoit_wolf_test passes no constant series, and a demeaned column that
    # is not all zero cannot be exactly geometric (x1 = ρ x0, |ρ| <= 0.97: its sum != 0)
    return 2.6614 * (num / den * t) ** 0.2


def ledoit_wolf_test(
    returns_a: FloatArray, returns_b: FloatArray, bandwidth: float | None = None
) -> SharpeDifference:
    """HAC test of ``H0: SR_a = SR_b`` (Ledoit & Wolf 2008, §3.1).

    With ``v = (μ_a, μ_b, γ_a, γ_b)`` (means and uncentred second moments) and
    ``Δ = f(v) = μ_a/√(γ_a − μ_a²) − μ_b/√(γ_b − μ_b²)``, the delta method gives
    ``se(Δ̂) = √(∇fᵀ Ψ̂ ∇f / T)`` where ``Ψ̂`` is the Parzen-kernel HAC estimate of the
    long-run covariance of ``y_t = (r_a − μ_a, r_b − μ_b, r_a² − γ_a, r_b² − γ_b)``
    with the small-sample factor ``T/(T − 4)`` and Andrews' (1991) automatic
    bandwidth (no prewhitening). Two-sided p-value from ``N(0, 1)``.
    """
    a = np.asarray(returns_a, dtype=np.float64)
    b = np.asarray(returns_b, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 1 or a.size < 10:
        raise ValueError(
            f"returns_a {a.shape} and returns_b {b.shape}: expected two 1-D series of the "
            "same length >= 10"
        )
    t = a.size
    mu_a, mu_b = a.mean(), b.mean()
    g_a, g_b = np.mean(a * a), np.mean(b * b)
    va, vb = g_a - mu_a**2, g_b - mu_b**2
    # a constant series (up to rounding: see metrics.sample_std) has no Sharpe ratio
    if not (va > FLAT**2 * g_a and vb > FLAT**2 * g_b):
        nan = float("nan")
        return SharpeDifference(nan, nan, nan, nan, nan)
    diff = mu_a / np.sqrt(va) - mu_b / np.sqrt(vb)
    grad = np.array([g_a / va**1.5, -g_b / vb**1.5, -mu_a / (2 * va**1.5), mu_b / (2 * vb**1.5)])
    y = np.column_stack([a - mu_a, b - mu_b, a * a - g_a, b * b - g_b])
    s = _andrews_bandwidth(y) if bandwidth is None else float(bandwidth)
    psi = y.T @ y / t
    for j in range(1, t):
        k = float(_parzen(np.array(j / s))) if s > 0 else 0.0
        if k == 0.0:
            break
        gam = y[j:].T @ y[:-j] / t
        psi += k * (gam + gam.T)
    psi *= t / (t - 4)
    se = float(np.sqrt(max(grad @ psi @ grad, 0.0) / t))
    z = diff / se if se > 0 else 0.0
    return SharpeDifference(
        difference=float(diff),
        std_error=se,
        statistic=float(z),
        p_value=float(2 * sps.norm.sf(abs(z))),
        bandwidth=s,
    )


def probabilistic_sharpe_ratio(
    sharpe: float,
    n_obs: int,
    skew: float = 0.0,
    kurtosis: float = 3.0,
    sharpe_benchmark: float = 0.0,
) -> float:
    """``P(SR > SR*)``: ``Φ((SR − SR*)√(T − 1) / √(1 − γ₃ SR + (γ₄ − 1)/4 SR²))``.

    Per-period Sharpe ratios; ``kurtosis`` is the raw (non-excess) kurtosis
    (Bailey & López de Prado 2012, eq. 11).
    """
    den = 1.0 - skew * sharpe + (kurtosis - 1.0) / 4.0 * sharpe**2
    if not den > 0 or n_obs < 2:
        return float("nan")
    return float(sps.norm.cdf((sharpe - sharpe_benchmark) * np.sqrt(n_obs - 1) / np.sqrt(den)))


def expected_max_sharpe(n_trials: int, sharpe_variance: float) -> float:
    """Expected maximum of ``n_trials`` Sharpe ratios with zero mean and given variance.

    ``SR₀ = √V · ((1 − γ) Φ⁻¹(1 − 1/N) + γ Φ⁻¹(1 − 1/(N e)))`` with ``γ`` the
    Euler–Mascheroni constant (Bailey & López de Prado 2014, eq. 2). 0 for one trial.
    """
    if n_trials < 1:
        raise ValueError(f"n_trials={n_trials!r}; expected an integer >= 1")
    if n_trials == 1:
        return 0.0
    z1 = sps.norm.ppf(1.0 - 1.0 / n_trials)
    z2 = sps.norm.ppf(1.0 - 1.0 / (n_trials * np.e))
    return float(np.sqrt(sharpe_variance) * ((1 - EULER_GAMMA) * z1 + EULER_GAMMA * z2))


def deflated_sharpe_ratio(
    sharpe: float,
    n_obs: int,
    n_trials: int,
    sharpe_variance: float,
    skew: float = 0.0,
    kurtosis: float = 3.0,
) -> float:
    """PSR against the expected maximum Sharpe of ``n_trials`` tries (BLdP 2014, eq. 3)."""
    sr0 = expected_max_sharpe(n_trials, sharpe_variance)
    return probabilistic_sharpe_ratio(sharpe, n_obs, skew, kurtosis, sharpe_benchmark=sr0)


def sharpe_bootstrap_ci(
    returns: FloatArray,
    *,
    block: int | None = None,
    n_boot: int = 1000,
    level: float = 0.95,
    periods_per_year: int = 252,
    seed: int = 0,
) -> tuple[float, float]:
    """Circular block-bootstrap percentile CI of the annualised Sharpe ratio.

    Blocks of ``block`` days (default ``⌈T^{1/3}⌉``) drawn with wrap-around keep the
    short-range dependence of the series (Politis & Romano 1992). ``n_boot=0`` draws
    nothing and returns ``(nan, nan)``.
    """
    if isinstance(n_boot, bool) or not isinstance(n_boot, (int, np.integer)) or n_boot < 0:
        raise ValueError(f"n_boot={n_boot!r}; expected an integer >= 0 (0: no interval)")
    if not 0.0 < level < 1.0:
        raise ValueError(f"level={level!r}; expected a probability in (0, 1)")
    if n_boot == 0:
        return float("nan"), float("nan")
    r = np.asarray(returns, dtype=np.float64)
    t = r.size
    if t < 10:
        raise ValueError(f"returns has {t} observations; expected at least 10")
    b = int(np.ceil(t ** (1 / 3))) if block is None else int(block)
    if not 1 <= b <= t:
        raise ValueError(f"block={block!r}; expected an integer in [1, {t}]")
    rng = np.random.default_rng(seed)
    n_blocks = -(-t // b)
    out = np.empty(n_boot)
    chunk = max(1, 2_000_000 // (n_blocks * b))
    offsets = np.arange(b)
    for i in range(0, n_boot, chunk):
        m = min(chunk, n_boot - i)
        starts = rng.integers(0, t, size=(m, n_blocks, 1))
        idx = ((starts + offsets) % t).reshape(m, -1)[:, :t]
        x = r[idx]
        sd = sample_std(x, axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            out[i : i + m] = x.mean(axis=1) / sd * np.sqrt(periods_per_year)
    lo, hi = np.nanquantile(out, [(1 - level) / 2, (1 + level) / 2])
    return float(lo), float(hi)


def sharpe_tests(
    returns: pd.DataFrame,
    benchmark: str | None = None,
    *,
    n_trials: int | None = None,
    periods_per_year: int = 252,
    n_boot: int = 1000,
    seed: int = 0,
) -> pd.DataFrame:
    """Per policy: LW p-value vs ``benchmark``, PSR (vs 0), DSR, Sharpe bootstrap CI.

    ``n_trials`` (default: the number of columns) is the number of configurations
    tried; the variance of the trials' Sharpe ratios is estimated from the columns
    (needs two or more), so the DSR deflates for having picked the best of them.
    """
    n_trials = returns.shape[1] if n_trials is None else int(n_trials)
    x = returns.to_numpy(dtype=np.float64)
    sd = sample_std(x, axis=0)
    srs = np.divide(x.mean(axis=0), sd, out=np.full(sd.shape, np.nan), where=sd > 0)
    finite = srs[np.isfinite(srs)]
    sr_var = float(np.var(finite, ddof=1)) if finite.size > 1 else 0.0
    rows = {}
    has_bench = benchmark is not None and bool(
        np.isfinite(srs[list(returns.columns).index(benchmark)])
    )
    for j, name in enumerate(returns.columns):
        r = x[:, j]
        if not np.isfinite(srs[j]):
            rows[name] = dict.fromkeys(
                ("psr", "dsr", "lw_p_value", "sharpe_ci_low", "sharpe_ci_high"), float("nan")
            )
            continue
        skew = float(sps.skew(r))
        kurt = float(sps.kurtosis(r, fisher=False))
        row = {
            "psr": probabilistic_sharpe_ratio(srs[j], r.size, skew, kurt),
            "dsr": deflated_sharpe_ratio(srs[j], r.size, n_trials, sr_var, skew, kurt),
            "lw_p_value": float("nan"),
        }
        if has_bench and name != benchmark:
            row["lw_p_value"] = ledoit_wolf_test(r, returns[benchmark].to_numpy()).p_value
        lo, hi = sharpe_bootstrap_ci(r, n_boot=n_boot, periods_per_year=periods_per_year, seed=seed)
        row["sharpe_ci_low"], row["sharpe_ci_high"] = lo, hi
        rows[name] = row
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "policy"
    return table


_SEED_MEANS = ("ann_return", "turnover", "total_costs")


def seed_summary(
    metrics: pd.DataFrame, groups: Mapping[str, Sequence[str]], *, level: float = 0.95
) -> pd.DataFrame:
    """Per agent trained with several seeds: its seeds' mean Sharpe ratio and t-interval.

    With ``x_1..x_n`` the annualised Sharpe ratios of the ``n`` seeds (rows of
    ``metrics``; a NaN Sharpe ratio is left out) the interval is Student's t interval
    for the mean over seeds,

    .. math:: \\bar x \\pm t_{n-1,\\,(1+\\text{level})/2}\\, s / \\sqrt{n},
       \\qquad s^2 = \\frac{1}{n-1}\\sum_i (x_i - \\bar x)^2,

    the textbook interval for a mean (Casella & Berger 2002, *Statistical Inference*,
    §9.2.2), treating the seeds' Sharpe ratios as independent normal draws; Colas, Sigaud
    & Oudeyer (2018) explain why deep-RL results need several seeds and t statistics
    over them (and how few seeds make them unreliable). It says where the
    agent's Sharpe ratio lies across training seeds on this one test period, not how
    uncertain one track's Sharpe ratio is (``sharpe_ci_low/high`` of
    :func:`sharpe_tests`). With 3 seeds ``t = 4.30`` at 95 %: few seeds, wide interval.

    Parameters
    ----------
    metrics : DataFrame
        One row per policy with a ``sharpe`` column (and optionally ``ann_return``,
        ``turnover``, ``total_costs``), e.g. ``Results.metrics``.
    groups : mapping of agent name to the row names of its seeds
        E.g. ``{"PPO": ["PPO s0", "PPO s1", "PPO s2"]}``.
    level : float
        Confidence level of the interval.

    Returns
    -------
    DataFrame
        Index ``agent`` (the keys of ``groups``); columns ``n_seeds``, ``sharpe_mean``,
        ``sharpe_std`` (``s``), ``sharpe_ci_low``, ``sharpe_ci_high`` (NaN with fewer
        than two finite Sharpe ratios), ``sharpe_min``, ``sharpe_max``, and the mean over
        seeds of ``ann_return``, ``turnover`` and ``total_costs`` (``<column>_mean``).
    """
    if not 0.0 < level < 1.0:
        raise ValueError(f"level={level!r}; expected a probability in (0, 1)")
    rows = {}
    for agent, names in groups.items():
        names = list(names)
        missing = [n for n in names if n not in metrics.index]
        if not names or missing:
            raise KeyError(
                f"seed group {agent!r}: rows {missing or names} are not in the metrics; "
                f"expected one or more of {list(metrics.index)}"
            )
        seeds = metrics.loc[names]
        sr = seeds["sharpe"].to_numpy(dtype=np.float64)
        sr = sr[np.isfinite(sr)]
        n = sr.size
        nan = float("nan")
        sd = float(sr.std(ddof=1)) if n > 1 else nan
        mean = float(sr.mean()) if n else nan
        half = float(sps.t.ppf((1 + level) / 2, n - 1)) * sd / np.sqrt(n) if n > 1 else nan
        row = {
            "n_seeds": len(names),
            "sharpe_mean": mean,
            "sharpe_std": sd,
            "sharpe_ci_low": mean - half,
            "sharpe_ci_high": mean + half,
            "sharpe_min": float(sr.min()) if n else nan,
            "sharpe_max": float(sr.max()) if n else nan,
        }
        for col in _SEED_MEANS:
            row[f"{col}_mean"] = float(seeds[col].mean()) if col in seeds.columns else nan
        rows[agent] = row
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "agent"
    return table
