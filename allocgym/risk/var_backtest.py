"""Backtests of VaR and ES forecasts: coverage, independence, ES, Basel traffic light.

With hits ``I_t = 1[r_t < -VaR_t]`` over ``T`` forecast days, ``x = sum I_t``
violations and tail probability ``p = 1 - level``:

- **Unconditional coverage** (Kupiec 1995): with ``pi = x / T``,
  ``LR_uc = -2 ln[(1 - p)^(T - x) p^x] + 2 ln[(1 - pi)^(T - x) pi^x]`` ~ chi2(1).
- **Independence** (Christoffersen 1998): with ``n_ij`` the number of days in state j
  after a day in state i, ``pi_01 = n01 / (n00 + n01)``, ``pi_11 = n11 / (n10 + n11)``,
  ``pi = (n01 + n11) / (n00 + n01 + n10 + n11)``,
  ``LR_ind = -2 ln[(1 - pi)^(n00 + n10) pi^(n01 + n11)]
  + 2 ln[(1 - pi_01)^n00 pi_01^n01 (1 - pi_11)^n10 pi_11^n11]`` ~ chi2(1).
- **Conditional coverage** (Christoffersen 1998): ``LR_cc = -2 ln[(1 - p)^(n00 + n10)
  p^(n01 + n11)] + 2 ln[Markov likelihood]`` ~ chi2(2), i.e. ``LR_uc`` on days 2..T
  plus ``LR_ind`` (the likelihoods condition on the first day, as in the paper).
- **Expected shortfall** (Acerbi & Szekely 2014, test 2):
  ``Z2 = sum_t r_t I_t / (T p ES_t) + 1``; ``E[Z2] = 0`` when the forecasts are right
  and ``Z2 < 0`` when ES is underestimated. The p-value ``P(Z2 <= z_obs)`` is
  simulated: returns are drawn from each day's forecast distribution and the
  statistic recomputed (``(1 + #{Z2_sim <= z_obs}) / (1 + n_sims)``).

``0 log 0 = 0`` throughout (:func:`scipy.special.xlogy`), so zero violations, or no
violation followed by anything, give finite statistics; with fewer than two forecast
days there are no transitions and the independence statistics are NaN.

References
----------
Kupiec, P. (1995). Techniques for verifying the accuracy of risk measurement models.
Journal of Derivatives 3(2), 73-84.
Christoffersen, P. (1998). Evaluating interval forecasts. International Economic
Review 39(4), 841-862.
Acerbi, C., Szekely, B. (2014). Backtesting expected shortfall. Risk, December 2014.
Basel Committee on Banking Supervision (1996). Supervisory framework for the use of
"backtesting" in conjunction with the internal models approach to market risk capital
requirements, Table 2.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats
from scipy.special import xlogy

from allocgym._typing import BoolArray, FloatArray
from allocgym.risk.var import VaRForecast
from allocgym.risk.var_config import check_level

__all__ = [
    "LRTest",
    "acerbi_szekely_z2",
    "backtest_var",
    "christoffersen_test",
    "conditional_coverage_test",
    "kupiec_test",
    "traffic_light",
    "transition_counts",
    "z2_test",
]

BASEL_DAYS = 250
_YELLOW, _RED = 0.95, 0.9999  # cumulative binomial probabilities where the zones begin


@dataclass(frozen=True)
class LRTest:
    """A likelihood-ratio statistic, its chi-squared degrees of freedom and p-value."""

    statistic: float
    dof: int

    @property
    def p_value(self) -> float:
        return float(stats.chi2.sf(self.statistic, self.dof))


def _hits(hits: BoolArray | pd.Series) -> BoolArray:
    h = np.asarray(hits)
    if h.ndim != 1:
        raise ValueError(f"hits has shape {h.shape}; expected a 1-D sequence of 0/1")
    if h.dtype != bool and not np.isin(h, (0, 1)).all():
        raise ValueError("hits must hold only 0/1 or True/False (violation indicators)")
    return h.astype(bool)


def _bernoulli_loglik(n0: float, n1: float, prob: float) -> float:
    """``n0 ln(1 - prob) + n1 ln(prob)`` with ``0 ln 0 = 0``."""
    return float(xlogy(n0, 1.0 - prob) + xlogy(n1, prob))


def kupiec_test(violations: int, n: int, level: float) -> LRTest:
    """Kupiec (1995) unconditional coverage: ``x`` violations in ``n`` days at ``level``."""
    p = 1.0 - check_level(level)
    if isinstance(n, bool) or int(n) != n or n <= 0:
        raise ValueError(f"n={n!r} is invalid; expected a positive number of forecast days")
    if int(violations) != violations or not 0 <= violations <= n:
        raise ValueError(f"violations={violations!r} is invalid; expected 0 <= violations <= n={n}")
    x = float(violations)
    lr = -2.0 * (_bernoulli_loglik(n - x, x, p) - _bernoulli_loglik(n - x, x, x / n))
    return LRTest(max(lr, 0.0), 1)


def transition_counts(hits: BoolArray | pd.Series) -> tuple[int, int, int, int]:
    """``(n00, n01, n10, n11)``: consecutive pairs (day t-1 state i, day t state j)."""
    h = _hits(hits)
    prev, cur = h[:-1], h[1:]
    return (
        int(np.sum(~prev & ~cur)),
        int(np.sum(~prev & cur)),
        int(np.sum(prev & ~cur)),
        int(np.sum(prev & cur)),
    )


def _markov_loglik(n00: int, n01: int, n10: int, n11: int) -> float:
    pi01 = n01 / (n00 + n01) if n00 + n01 else 0.0
    pi11 = n11 / (n10 + n11) if n10 + n11 else 0.0
    return _bernoulli_loglik(n00, n01, pi01) + _bernoulli_loglik(n10, n11, pi11)


def christoffersen_test(hits: BoolArray | pd.Series) -> LRTest:
    """Christoffersen (1998) independence of violations (first-order Markov alternative)."""
    n00, n01, n10, n11 = transition_counts(hits)
    pairs = n00 + n01 + n10 + n11
    if pairs == 0:
        return LRTest(float("nan"), 1)
    pi = (n01 + n11) / pairs
    lr = -2.0 * (_bernoulli_loglik(n00 + n10, n01 + n11, pi) - _markov_loglik(n00, n01, n10, n11))
    return LRTest(max(lr, 0.0), 1)


def conditional_coverage_test(hits: BoolArray | pd.Series, level: float) -> LRTest:
    """Christoffersen (1998) conditional coverage: coverage ``1 - level`` and independence."""
    p = 1.0 - check_level(level)
    n00, n01, n10, n11 = transition_counts(hits)
    if n00 + n01 + n10 + n11 == 0:
        return LRTest(float("nan"), 2)
    lr = -2.0 * (_bernoulli_loglik(n00 + n10, n01 + n11, p) - _markov_loglik(n00, n01, n10, n11))
    return LRTest(max(lr, 0.0), 2)


def traffic_light(violations: int, n: int = BASEL_DAYS, level: float = 0.99) -> str:
    """Basel (1996) zone of ``violations`` in ``n`` days: "green", "yellow" or "red".

    The yellow zone begins where the binomial probability of that many violations or
    fewer reaches 95 %, the red zone where it reaches 99.99 %: for 250 days at 99 %,
    0-4 green, 5-9 yellow, 10 or more red.
    """
    p = 1.0 - check_level(level)
    cum = stats.binom.cdf(violations, n, p)
    return "red" if cum >= _RED else "yellow" if cum >= _YELLOW else "green"


def acerbi_szekely_z2(
    returns: FloatArray, var: FloatArray, es: FloatArray, level: float
) -> FloatArray:
    """``Z2 = sum_t r_t I_t / (T p ES_t) + 1`` along the last axis (Acerbi & Szekely 2014).

    ``returns`` may carry leading axes (simulated paths); ``var`` and ``es`` (positive
    losses, shape (T,)) broadcast against it.
    """
    p = 1.0 - check_level(level)
    r = np.asarray(returns, dtype=np.float64)
    hit = r < -np.asarray(var)
    return np.sum(np.where(hit, r / (r.shape[-1] * p * np.asarray(es)), 0.0), axis=-1) + 1.0


def z2_test(
    forecast: VaRForecast, level: float, *, n_sims: int = 1000, seed: int = 0
) -> tuple[float, float]:
    """Observed Z2 and its simulated one-sided p-value under the forecast distribution."""
    level = check_level(level)
    if level not in forecast.levels:
        raise ValueError(f"level={level} is not among the forecast's levels {forecast.levels}")
    if isinstance(n_sims, bool) or not isinstance(n_sims, int) or n_sims <= 0:
        raise ValueError(f"n_sims={n_sims!r} is invalid; expected a positive integer")
    ok = forecast.var[level].notna().to_numpy()
    if not ok.any():
        return float("nan"), float("nan")
    var, es = forecast.var[level].to_numpy()[ok], forecast.es[level].to_numpy()[ok]
    observed = float(acerbi_szekely_z2(forecast.returns.to_numpy()[ok], var, es, level))
    rng = np.random.default_rng(seed)
    below = 0
    for size in np.diff(np.r_[0:n_sims:250, n_sims]):  # chunks bound the memory
        sims = forecast.simulate(rng, int(size))[:, ok]
        below += int(np.sum(acerbi_szekely_z2(sims, var, es, level) <= observed))
    return observed, (1.0 + below) / (1.0 + n_sims)


def backtest_var(forecast: VaRForecast, *, n_sims: int = 1000, seed: int = 0) -> pd.DataFrame:
    """Every test of one forecast, one row per level.

    Columns: ``n_obs`` (forecast days), ``violations``, ``expected`` (``n_obs p``),
    ``rate``, ``lr_uc``/``p_uc``, ``lr_ind``/``p_ind``, ``lr_cc``/``p_cc``,
    ``n00 n01 n10 n11``, ``z2``/``p_z2`` and ``zone`` (the Basel traffic light of the
    last 250 forecast days).
    """
    if forecast.horizon != 1:
        raise ValueError(
            f"the forecast covers {forecast.horizon} days; the backtests need daily (1-day) "
            "forecasts, whose violations are one per day"
        )
    rows = {}
    for level in forecast.levels:
        ok = forecast.var[level].notna().to_numpy()
        hits = forecast.violations[level].to_numpy()[ok]
        n, x = len(hits), int(hits.sum())
        uc = kupiec_test(x, n, level) if n else LRTest(float("nan"), 1)
        ind, cc = christoffersen_test(hits), conditional_coverage_test(hits, level)
        z2, p_z2 = z2_test(forecast, level, n_sims=n_sims, seed=seed)
        last = hits[-BASEL_DAYS:]
        rows[level] = {
            "n_obs": n,
            "violations": x,
            "expected": n * (1.0 - level),
            "rate": x / n if n else float("nan"),
            "lr_uc": uc.statistic,
            "p_uc": uc.p_value,
            "lr_ind": ind.statistic,
            "p_ind": ind.p_value,
            "lr_cc": cc.statistic,
            "p_cc": cc.p_value,
            **dict(zip(("n00", "n01", "n10", "n11"), transition_counts(hits), strict=True)),
            "z2": z2,
            "p_z2": p_z2,
            "zone": traffic_light(int(last.sum()), len(last), level) if n else "",
        }
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "level"
    return table
