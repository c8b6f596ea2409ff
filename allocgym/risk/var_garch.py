"""GARCH(1,1) filtered historical simulation and Monte Carlo VaR/ES, point in time.

At each refit row R (every ``refit_every`` rows from ``min_obs``) a GARCH(1,1) with a
constant mean is fitted by Gaussian quasi-maximum likelihood (``arch``) to the
returns of rows ``[R - window, R)`` in percent, giving ``mu, omega, alpha, beta`` and
the standardised residuals ``z_i = e_i / s_i`` of the fit window. The variance is then
filtered forward with those fixed parameters,

    ``s2_t = omega + alpha e_{t-1}^2 + beta s2_{t-1}``,  ``e_t = 100 r_t - mu``,

so the forecast for row t uses returns of rows ``< t`` only (Bollerslev 1986).

``filtered_historical`` (Barone-Adesi, Giannopoulos & Vosper 1999; Hull & White 1998):
with ``k = ceil(a n_z)`` and ``z_(1) <= z_(2) <= ...`` the sorted residuals,
``VaR_t = -(mu + s_t z_(k)) / 100`` and ``ES_t = -(mu + s_t mean(z_(1..k))) / 100``.

``monte_carlo``: ``n_sims`` paths per day drawn from the fitted model with residuals
bootstrapped from the ``z`` (seeded per refit block, so draws never depend on later
data), VaR and ES read off the simulated returns with the same ``k`` rule. For a 1-day
horizon this is the filtered historical simulation up to simulation noise; for
``horizon = h`` it forecasts the compounded h-day return, the variance following the
simulated shocks.

A fit that raises, does not converge or is not stationary (``alpha + beta >= 1``)
falls back to RiskMetrics EWMA(0.94) (``omega = 0``, ``alpha = 0.06``, ``beta = 0.94``,
``mu = 0``) with a :class:`~allocgym.predictors.GarchFallbackWarning`, as the GARCH
predictor does.

References
----------
Barone-Adesi, G., Giannopoulos, K., Vosper, L. (1999). VaR without correlations for
portfolios of derivative securities. Journal of Futures Markets 19(5), 583-602.
Hull, J., White, A. (1998). Incorporating volatility updating into the historical
simulation method for value-at-risk. Journal of Risk 1(1), 5-19.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from allocgym._typing import FloatArray
from allocgym.predictors.garch import GarchFallbackWarning
from allocgym.risk.var_config import Simulator, VaRConfig, first_row, tail_count

__all__ = ["GarchFit", "fit_garch", "garch_var"]

_SCALE = 100.0  # percent returns for the optimiser, as in allocgym.predictors.garch
_EWMA = 0.94
_TOL = 1e-6  # arch keeps alpha + beta <= 1 up to its optimiser tolerance (IGARCH is fine)


@dataclass(frozen=True)
class GarchFit:
    """A GARCH(1,1) fitted on one window (percent units) and where it ends.

    ``last_var`` and ``last_resid`` are the conditional variance and residual of the
    window's last day; ``z`` the standardised residuals, sorted.
    """

    mu: float
    omega: float
    alpha: float
    beta: float
    last_var: float
    last_resid: float
    z: FloatArray
    fallback: bool = False


def _ewma(x: FloatArray) -> GarchFit:
    s2 = np.empty(len(x))
    s2[0] = np.mean(x**2)
    for i in range(1, len(x)):
        s2[i] = _EWMA * s2[i - 1] + (1 - _EWMA) * x[i - 1] ** 2
    s2 = np.maximum(s2, 1e-12)
    z = np.sort(x / np.sqrt(s2))
    return GarchFit(0.0, 0.0, 1 - _EWMA, _EWMA, float(s2[-1]), float(x[-1]), z, fallback=True)


def fit_garch(past: FloatArray) -> GarchFit:
    """Fit a GARCH(1,1) with constant mean to daily returns ``past`` (Gaussian QML)."""
    from arch import arch_model  # arch imports statsmodels: seconds, paid only when used

    x = np.asarray(past, dtype=np.float64) * _SCALE
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = arch_model(x, mean="Constant", vol="GARCH", p=1, q=1, dist="normal").fit(
                disp="off", show_warning=False, options={"maxiter": 500}
            )
        p = res.params
        mu, omega, alpha, beta = (float(p[k]) for k in ("mu", "omega", "alpha[1]", "beta[1]"))
        s = np.asarray(res.conditional_volatility, dtype=np.float64)
        ok = (
            res.convergence_flag == 0
            and np.isfinite([mu, omega, alpha, beta]).all()
            and omega >= 0
            and alpha + beta <= 1 + _TOL
            and np.all(s > 0)
        )
    except Exception:  # any optimiser failure triggers the documented fallback
        ok = False
    if not ok:
        return _ewma(x)
    e = x - mu
    return GarchFit(mu, omega, alpha, beta, float(s[-1] ** 2), float(e[-1]), np.sort(e / s))


def _blocks(n: int, cfg: VaRConfig) -> list[tuple[int, int]]:
    return [(r, min(r + cfg.refit_every, n)) for r in range(cfg.min_obs, n, cfg.refit_every)]


def _filter(fit: GarchFit, x: FloatArray, start: int, stop: int) -> FloatArray:
    """Conditional volatility (percent) of rows ``[start, stop)`` from rows ``< t`` each."""
    sig = np.empty(stop - start)
    s2, e = fit.last_var, fit.last_resid
    for i, t in enumerate(range(start, stop)):
        s2 = fit.omega + fit.alpha * e * e + fit.beta * s2
        sig[i] = np.sqrt(max(s2, 1e-12))
        e = x[t] - fit.mu
    return sig


def _tail(sims: FloatArray, ks: list[int]) -> tuple[FloatArray, FloatArray]:
    """VaR and ES (positive) per row of simulated returns (rows, n_sims), per tail count."""
    part = np.partition(sims, sorted(set(k - 1 for k in ks)), axis=1)
    var = np.stack([-part[:, k - 1] for k in ks], axis=1)
    es = np.stack([-part[:, :k].mean(axis=1) for k in ks], axis=1)
    return var, es


def _simulate_paths(
    fit: GarchFit, sig: FloatArray, rng: np.random.Generator, n_sims: int, horizon: int
) -> FloatArray:
    """Compounded ``horizon``-day returns (rows, n_sims) from each row's volatility."""
    z = fit.z[rng.integers(len(fit.z), size=(horizon, len(sig), n_sims))]
    s2 = (sig**2)[:, None] * np.ones((1, n_sims))
    growth = np.ones((len(sig), n_sims))
    for h in range(horizon):
        e = np.sqrt(s2) * z[h]
        growth *= 1.0 + (fit.mu + e) / _SCALE
        s2 = fit.omega + fit.alpha * e * e + fit.beta * s2
    return growth - 1.0


def garch_var(
    r: FloatArray, cfg: VaRConfig, *, monte_carlo: bool = False
) -> tuple[FloatArray, FloatArray, FloatArray, Simulator]:
    """VaR, ES (n, n_levels), daily volatility (n,) and the 1-day simulator.

    See the module docstring for the model; ``monte_carlo`` selects the simulation.
    """
    n, levels = len(r), cfg.levels
    x = r * _SCALE
    var, es = np.full((n, len(levels)), np.nan), np.full((n, len(levels)), np.nan)
    sigma, mu = np.full(n, np.nan), np.full(n, np.nan)
    pools: list[tuple[int, int, FloatArray]] = []
    failed = []
    for start, stop in _blocks(n, cfg):
        fit = fit_garch(r[first_row(start, cfg.window) : start])
        failed += [start] if fit.fallback else []
        sig = _filter(fit, x, start, stop)
        sigma[start:stop], mu[start:stop] = sig / _SCALE, fit.mu / _SCALE
        pools.append((start, stop, fit.z))
        if monte_carlo:
            rng = np.random.default_rng([cfg.seed, start])  # per block: point in time
            sims = _simulate_paths(fit, sig, rng, cfg.n_sims, cfg.horizon)
            var[start:stop], es[start:stop] = _tail(
                sims, [tail_count(a, cfg.n_sims) for a in levels]
            )
            continue
        ks = [tail_count(a, len(fit.z)) for a in levels]
        q = np.array([fit.z[k - 1] for k in ks])
        tail_mean = np.array([fit.z[:k].mean() for k in ks])
        var[start:stop] = -(fit.mu + sig[:, None] * q) / _SCALE
        es[start:stop] = -(fit.mu + sig[:, None] * tail_mean) / _SCALE
    if failed:
        warnings.warn(
            f"GARCH(1,1) fit failed or was not stationary at {len(failed)} refit(s) (rows "
            f"{failed[:5]}{' ...' if len(failed) > 5 else ''}); used EWMA({_EWMA}) instead",
            GarchFallbackWarning,
            stacklevel=3,
        )

    def simulate(rng: np.random.Generator, n_sims: int) -> FloatArray:
        out = np.full((n_sims, n), np.nan)
        for start, stop, z in pools:
            draws = z[rng.integers(len(z), size=(n_sims, stop - start))]
            out[:, start:stop] = mu[start:stop] + sigma[start:stop] * draws
        return out

    return var, es, sigma, simulate
