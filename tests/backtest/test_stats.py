"""Sharpe statistics against published numbers, skfolio and plain reference implementations.

The Ledoit & Wolf (2008) HAC test is compared with :mod:`tests.backtest._lw_reference`,
a slow implementation written from the papers; the block bootstrap with a plain loop
over blocks; PSR/DSR with skfolio and the Mertens (2002) variance of the Sharpe ratio.
"""

from __future__ import annotations

import math
from pathlib import Path
from statistics import NormalDist

import numpy as np
import pandas as pd
import pytest
import yaml

from allocgym.backtest import stats
from tests.backtest import _lw_reference as lw_ref

FIXTURES = Path(__file__).parents[1] / "fixtures"
PHI = NormalDist()


def _returns(seed: int, n: int = 2000, mean: float = 4e-4) -> np.ndarray:
    return np.random.default_rng(seed).standard_t(5, size=n) * 0.01 + mean


def _ar1_pair(seed: int, t: int, rho: float = 0.4) -> tuple[np.ndarray, np.ndarray]:
    """Two correlated, fat-tailed AR(1) return series of length ``t`` (after burn-in)."""
    rng = np.random.default_rng(seed)
    e = rng.standard_t(6, (t + 100, 2)) @ np.array([[0.01, 0.0], [0.006, 0.008]])
    x = np.zeros_like(e)
    for i in range(1, len(e)):
        x[i] = rho * x[i - 1] + e[i]
    return x[100:, 0] + 6e-4, x[100:, 1] + 1e-4


# ---------------------------------------------------------------- PSR, DSR, E[max SR]


def test_deflated_sharpe_matches_bailey_lopez_de_prado_example() -> None:
    """Bailey & López de Prado (2014), "A numerical example" (fixture)."""
    d = yaml.safe_load((FIXTURES / "deflated_sharpe.yaml").read_text())
    ppy = d["periods_per_year"]
    sr = d["annual_sharpe"] / np.sqrt(ppy)
    var = d["annual_sharpe_variance"] / ppy
    sr0 = stats.expected_max_sharpe(d["n_trials"], var)
    assert sr0 == pytest.approx(d["expected_max_sharpe"], abs=d["tolerance"])
    dsr = stats.deflated_sharpe_ratio(sr, d["n_obs"], d["n_trials"], var, d["skew"], d["kurtosis"])
    assert dsr == pytest.approx(d["deflated_sharpe_ratio"], abs=d["tolerance"])


@pytest.mark.parametrize("n", [30, 2000])
def test_psr_and_dsr_agree_with_skfolio(n: int) -> None:
    """skfolio implements the same formulas (ddof=1 Sharpe, biased moments, √(T − 1)).

    They agree to rounding; the short series makes ``T − 1`` against ``T`` visible.
    """
    measures = pytest.importorskip("skfolio.measures")
    from scipy import stats as sps

    r = _returns(0, n, mean=2e-3)
    sr = r.mean() / r.std(ddof=1)
    skew, kurt = sps.skew(r), sps.kurtosis(r, fisher=False)
    ours = stats.probabilistic_sharpe_ratio(sr, r.size, skew, kurt, sharpe_benchmark=0.01)
    theirs = measures.probabilistic_sharpe_ratio(r, benchmark_sharpe_ratio=0.01)
    assert ours == pytest.approx(theirs, rel=1e-10, abs=1e-12)
    trials = np.array([0.01, 0.03, -0.02, 0.05, 0.0])
    ours = stats.deflated_sharpe_ratio(sr, r.size, 5, trials.var(ddof=1), skew, kurt)
    theirs = measures.deflated_sharpe_ratio(r, trials)
    assert ours == pytest.approx(theirs, rel=1e-10, abs=1e-12)


@pytest.mark.parametrize(
    ("sharpe", "n_obs", "skew", "kurtosis", "benchmark"),
    [
        (0.1, 12, 0.0, 3.0, 0.0),
        (0.15, 25, -1.2, 7.5, 0.02),
        (-0.05, 40, 0.8, 4.0, -0.1),
        (0.3, 2, 0.0, 3.0, 0.0),  # the smallest sample with T − 1 > 0
    ],
)
def test_psr_matches_the_mertens_variance_of_the_sharpe_ratio(
    sharpe: float, n_obs: int, skew: float, kurtosis: float, benchmark: float
) -> None:
    """PSR = Φ((SR − SR*)√(T − 1) / √V) with Mertens' V = 1 + SR²/2 − γ₃SR + (γ₄ − 3)/4 SR².

    Mertens (2002), "Comments on variance of the IID estimator in Lo (2002)", writes the
    variance with the excess kurtosis; Bailey & López de Prado (2012, eq. 11) with the
    raw kurtosis, ``(γ₄ − 1)/4``. Small T and non-zero skew/excess kurtosis make every
    term (sign of skew, kurtosis offset, T − 1) visible.
    """
    v = 1 + sharpe**2 / 2 - skew * sharpe + (kurtosis - 3) / 4 * sharpe**2
    expected = PHI.cdf((sharpe - benchmark) * math.sqrt(n_obs - 1) / math.sqrt(v))
    got = stats.probabilistic_sharpe_ratio(sharpe, n_obs, skew, kurtosis, benchmark)
    assert got == pytest.approx(expected, rel=1e-12)


def test_psr_edge_cases() -> None:
    """One half at the benchmark, monotone in SR, NaN when undefined."""
    assert stats.probabilistic_sharpe_ratio(0.05, 500, sharpe_benchmark=0.05) == 0.5
    lo = stats.probabilistic_sharpe_ratio(0.02, 500)
    hi = stats.probabilistic_sharpe_ratio(0.08, 500)
    assert 0.5 < lo < hi < 1
    assert np.isnan(stats.probabilistic_sharpe_ratio(0.1, 1))
    # 1 − γ₃SR + (γ₄ − 1)/4 SR² <= 0: the variance estimate is not positive
    assert np.isnan(stats.probabilistic_sharpe_ratio(1.0, 100, skew=3.0, kurtosis=3.0))
    # ... and exactly 0 (1 − 2·1 + (5 − 1)/4 · 1 = 0) is not positive either
    assert np.isnan(stats.probabilistic_sharpe_ratio(1.0, 100, skew=2.0, kurtosis=5.0))


@pytest.mark.parametrize("n_trials", [2, 10, 1000])
def test_expected_max_sharpe_matches_the_closed_form(n_trials: int) -> None:
    """BLdP (2014) eq. 2, written with the standard library's normal quantile.

    The approximation is also within 3 % of the exact expected maximum of N standard
    normals, ``∫ x N φ(x) Φ(x)^(N−1) dx`` (order statistics), for N >= 10.
    """
    var = 0.3
    gamma = 0.5772156649015329  # Euler–Mascheroni
    z = (1 - gamma) * PHI.inv_cdf(1 - 1 / n_trials) + gamma * PHI.inv_cdf(
        1 - 1 / (n_trials * math.e)
    )
    got = stats.expected_max_sharpe(n_trials, var)
    assert got == pytest.approx(math.sqrt(var) * z, rel=1e-12)
    if n_trials >= 10:
        x = np.linspace(-8, 8, 16001)
        pdf = np.exp(-(x**2) / 2) / math.sqrt(2 * math.pi)
        cdf = np.array([PHI.cdf(v) for v in x])
        exact = np.trapezoid(x * n_trials * pdf * cdf ** (n_trials - 1), x)
        assert got / math.sqrt(var) == pytest.approx(exact, rel=0.03)


def test_dsr_is_psr_against_the_expected_maximum() -> None:
    """DSR = PSR(SR₀) with SR₀ = E[max SR] (BLdP 2014, eq. 3); one trial: DSR = PSR(0)."""
    sr0 = stats.expected_max_sharpe(7, 0.002)
    dsr = stats.deflated_sharpe_ratio(0.12, 300, 7, 0.002, -0.4, 5.0)
    assert dsr == stats.probabilistic_sharpe_ratio(0.12, 300, -0.4, 5.0, sharpe_benchmark=sr0)
    assert stats.deflated_sharpe_ratio(0.12, 300, 1, 0.002) == stats.probabilistic_sharpe_ratio(
        0.12, 300
    )
    assert stats.expected_max_sharpe(1, 0.1) == 0.0


# ---------------------------------------------------------------- Ledoit & Wolf (2008)


def test_parzen_kernel_matches_its_textbook_values() -> None:
    """Andrews (1991) p. 821 (fixture): kills a Bartlett or otherwise altered kernel."""
    d = yaml.safe_load((FIXTURES / "parzen_kernel.yaml").read_text())
    x = np.array(d["x"])
    np.testing.assert_allclose(stats._parzen(x), d["kernel"], rtol=0, atol=1e-15)
    np.testing.assert_allclose([lw_ref.parzen(v) for v in x], d["kernel"], rtol=0, atol=1e-15)


def test_andrews_bandwidth_on_an_ar1_series_matches_the_closed_form() -> None:
    """Andrews (1991) eqs. (6.2), (6.4) for columns sharing one AR(1) coefficient.

    When every column is a multiple of the same series, ``α̂(2) = 4ρ̂²/(1 − ρ̂)⁴`` and
    ``S_T = 2.6614 (4ρ̂²T/(1 − ρ̂)⁴)^{1/5}``, whatever the scales; with the true
    ``ρ = 0.5`` the plug-in is within a few percent of ``2.6614 (16 T)^{1/5}``.
    """
    t, rho = 20000, 0.5
    x = _demeaned_ar1(t, rho, seed=9)
    y = x[:, None] * np.array([1.0, 2.0, 0.5, 3.0])
    rho_hat = (x[1:] @ x[:-1]) / (x[:-1] @ x[:-1])
    closed = 2.6614 * (4 * rho_hat**2 * t / (1 - rho_hat) ** 4) ** 0.2
    assert stats._andrews_bandwidth(y) == pytest.approx(closed, rel=1e-12)
    assert lw_ref.andrews_bandwidth(y) == pytest.approx(closed, rel=1e-12)
    population = 2.6614 * (4 * rho**2 * t / (1 - rho) ** 4) ** 0.2
    assert stats._andrews_bandwidth(y) == pytest.approx(population, rel=0.05)


def _demeaned_ar1(t: int, phi: float, seed: int) -> np.ndarray:
    """``x_i = phi x_{i-1} + e_i`` with standard normal ``e``, minus its mean."""
    e = np.random.default_rng(seed).normal(size=t)
    x = np.empty(t)
    x[0] = e[0]
    for i in range(1, t):
        x[i] = phi * x[i - 1] + e[i]
    return x - x.mean()


@pytest.mark.parametrize("phi", [0.999, -0.999])
def test_andrews_bandwidth_clips_the_ar1_coefficient_at_0_97(phi: float) -> None:
    """A near unit root (ρ̂ ≈ ±0.99) is taken as ρ = ±0.97 in the closed form
    ``2.6614 (4ρ²T/(1 − ρ)⁴)^{1/5}`` (columns sharing one AR(1) coefficient)."""
    t = 2000
    x = _demeaned_ar1(t, phi, seed=4)
    rho_hat = (x[1:] @ x[:-1]) / (x[:-1] @ x[:-1])
    assert abs(rho_hat) > 0.98
    rho = np.sign(phi) * 0.97
    y = x[:, None] * np.array([1.0, 2.0, 0.5, 3.0])
    closed = 2.6614 * (4 * rho**2 * t / (1 - rho) ** 4) ** 0.2
    assert stats._andrews_bandwidth(y) == pytest.approx(closed, rel=1e-12)


def test_ledoit_wolf_with_a_constant_square_matches_the_reference() -> None:
    """Returns of ±1/128 have a constant square: the ``r² − γ`` column of ŷ is exactly 0,
    has no AR(1) coefficient and adds nothing to the bandwidth (the least-squares fit
    of the reference gives ρ̂ = 0 there as well)."""
    rng = np.random.default_rng(12)
    a = rng.choice([-1.0, 1.0], 300) / 128
    b = _ar1_pair(12, 300)[1]
    _, y = lw_ref.moments_and_y(a, b)
    assert (y[:, 2] == 0).all()
    ref = lw_ref.ledoit_wolf(a, b)
    got = stats.ledoit_wolf_test(a, b)
    assert got.bandwidth == pytest.approx(ref.bandwidth, rel=1e-12)
    assert got.p_value == pytest.approx(ref.p_value, rel=1e-9)


@pytest.mark.parametrize("swap", [False, True])
def test_ledoit_wolf_calls_constant_what_sample_std_calls_flat(swap: bool) -> None:
    """Spread/level 1e-5 is a (tiny) real spread, 3e-8 counts as rounding: the test runs
    on the first and is NaN on the second, for either argument, as ``metrics.sample_std``
    decides (``FLAT = 1e-7``)."""
    from allocgym.backtest.metrics import sample_std

    other = _returns(1, 60)
    noise = np.random.default_rng(2).normal(size=60)
    for spread, flat in ((1e-5, False), (3e-8, True)):
        level = 0.01 + 0.01 * spread * noise
        assert (sample_std(level) == 0.0) == flat
        args = (other, level) if swap else (level, other)
        res = stats.ledoit_wolf_test(*args)
        assert np.isnan(res.p_value) == flat
        if not flat:
            ref = lw_ref.ledoit_wolf(*args)
            assert res.difference == pytest.approx(ref.difference, rel=1e-6)


@pytest.mark.parametrize("t", [10, 12, 30])
def test_ledoit_wolf_small_sample_factor_t_over_t_minus_4(t: int) -> None:
    """With bandwidth 0, se² = T/(T − 4) · Σ_t (∇f·ŷ_t)² / T² (Ledoit & Wolf 2008, §3.1).

    The sum is the iid sample-moment (delta-method) variance; the gradient comes from
    complex-step differentiation in the reference module.
    """
    rng = np.random.default_rng(t)
    a, b = rng.normal(0.01, 0.02, t), rng.normal(0.0, 0.03, t)
    v, y = lw_ref.moments_and_y(a, b)
    influence = y @ lw_ref.gradient(v)
    iid_var = influence @ influence / t**2
    res = stats.ledoit_wolf_test(a, b, bandwidth=0.0)
    assert res.std_error**2 == pytest.approx(t / (t - 4) * iid_var, rel=1e-12)
    assert res.bandwidth == 0.0


@pytest.mark.parametrize("t", [60, 250, 1000])
def test_ledoit_wolf_matches_the_plain_reference(t: int) -> None:
    """Standard error, statistic, p-value and Andrews bandwidth vs the reference.

    Kills, among others, a dropped ``T/(T − 4)``, a changed bandwidth constant, another
    kernel, a wrong gradient and a one-sided autocovariance sum.
    """
    a, b = _ar1_pair(t, t)
    _, y = lw_ref.moments_and_y(a, b)
    assert (np.abs(lw_ref.ar1_coefficients(y)) < 0.9).all()  # reference does not clip
    ref = lw_ref.ledoit_wolf(a, b)
    got = stats.ledoit_wolf_test(a, b)
    assert got.bandwidth > 2  # several lags carry weight
    assert got.bandwidth == pytest.approx(ref.bandwidth, rel=1e-12)
    assert got.difference == pytest.approx(ref.difference, rel=1e-12)
    assert got.std_error == pytest.approx(ref.std_error, rel=1e-10)
    assert got.statistic == pytest.approx(ref.statistic, rel=1e-10)
    assert got.p_value == pytest.approx(ref.p_value, rel=1e-9)


@pytest.mark.parametrize("bandwidth", [0.4, 1.0, 1.5, 3.3, 12.5, 80.0])
def test_ledoit_wolf_kernel_weights_match_the_reference_at_fixed_bandwidths(
    bandwidth: float,
) -> None:
    """A given bandwidth isolates the kernel sum (including S_T > T = 60)."""
    a, b = _ar1_pair(1, 60, rho=0.3)
    ref = lw_ref.ledoit_wolf(a, b, bandwidth=bandwidth)
    got = stats.ledoit_wolf_test(a, b, bandwidth=bandwidth)
    assert got.std_error == pytest.approx(ref.std_error, rel=1e-10)
    assert got.p_value == pytest.approx(ref.p_value, rel=1e-9)
    assert got.bandwidth == bandwidth


def test_ledoit_wolf_standard_error_matches_the_iid_formula() -> None:
    """For iid normal, independent series: Var(SR_a - SR_b) = sum (1 + SR^2/2) / T."""
    rng = np.random.default_rng(3)
    t = 20000
    a = rng.normal(5e-4, 0.01, t)
    b = rng.normal(2e-4, 0.012, t)
    res = stats.ledoit_wolf_test(a, b, bandwidth=0.0)
    sa, sb = a.mean() / a.std(), b.mean() / b.std()
    iid = np.sqrt((2 + sa**2 / 2 + sb**2 / 2) / t)
    assert res.std_error == pytest.approx(iid, rel=0.03)
    assert res.difference == pytest.approx(sa - sb, rel=1e-10)
    auto = stats.ledoit_wolf_test(a, b)  # automatic bandwidth, little autocorrelation
    assert auto.std_error == pytest.approx(iid, rel=0.1)


def test_ledoit_wolf_detects_a_real_difference_and_not_a_fake_one() -> None:
    rng = np.random.default_rng(5)
    common = rng.normal(0, 0.01, 3000)
    a = common + rng.normal(0, 0.003, 3000) + 1e-3
    b = common + rng.normal(0, 0.003, 3000)
    res = stats.ledoit_wolf_test(a, b)
    assert res.p_value < 0.01 and res.statistic > 0  # a has the higher Sharpe ratio
    assert stats.ledoit_wolf_test(b, a).statistic == pytest.approx(-res.statistic, rel=1e-12)
    same = stats.ledoit_wolf_test(a, a.copy())
    assert same.p_value == 1.0


def test_ledoit_wolf_hac_widens_the_interval_under_autocorrelation() -> None:
    rng = np.random.default_rng(7)
    e = rng.normal(0, 0.01, (4000, 2))
    x = np.empty_like(e)
    x[0] = e[0]
    for i in range(1, len(e)):  # AR(1) with rho 0.5
        x[i] = 0.5 * x[i - 1] + e[i]
    iid = stats.ledoit_wolf_test(x[:, 0] + 5e-4, x[:, 1], bandwidth=0.0)
    hac = stats.ledoit_wolf_test(x[:, 0] + 5e-4, x[:, 1])
    assert hac.bandwidth > 1
    assert hac.std_error > 1.3 * iid.std_error


def test_ledoit_wolf_constant_series_gives_nan() -> None:
    """A constant series has no Sharpe ratio: every field is NaN."""
    for a, b in [(np.zeros(30), _returns(1, 30)), (_returns(1, 30), np.zeros(30))]:
        res = stats.ledoit_wolf_test(a, b)
        assert all(np.isnan(v) for v in vars(res).values())


def test_ledoit_wolf_constant_non_zero_series_gives_nan() -> None:
    """``np.full(30, 2e-4)``: mean(a²) − mean(a)² is 3e-23, not 0, in floating point."""
    res = stats.ledoit_wolf_test(np.full(30, 2e-4), _returns(1, 30))
    assert np.isnan(res.p_value)


# ---------------------------------------------------------------- block bootstrap


def _plain_circular_block_bootstrap(
    r: np.ndarray, block: int, n_boot: int, level: float, ppy: int, seed: int
) -> tuple[float, float]:
    """Politis & Romano (1992): concatenate blocks ``r[s], r[s+1 mod T], …``, cut at T.

    Block starts are uniform on ``0..T−1`` and drawn as one ``(n_boot, n_blocks)`` array
    from ``numpy.random.default_rng(seed)`` (allocgym's convention for short series).
    """
    t = r.size
    n_blocks = math.ceil(t / block)
    starts = np.random.default_rng(seed).integers(0, t, size=(n_boot, n_blocks))
    sharpes = []
    for row in starts:
        sample = [r[(s + i) % t] for s in row for i in range(block)][:t]
        mean = sum(sample) / t
        sd = math.sqrt(sum((x - mean) ** 2 for x in sample) / (t - 1))
        sharpes.append(mean / sd * math.sqrt(ppy))
    lo, hi = np.quantile(sharpes, [(1 - level) / 2, (1 + level) / 2])
    return float(lo), float(hi)


def _cube_root_ceiling(t: int) -> int:
    """⌈T^{1/3}⌉ in integer arithmetic: the smallest b with b³ >= T."""
    b = 1
    while b**3 < t:
        b += 1
    return b


@pytest.mark.parametrize(("t", "block"), [(50, None), (61, 7), (40, 40), (30, 1), (10, None)])
def test_bootstrap_ci_matches_a_plain_circular_block_bootstrap(t: int, block: int | None) -> None:
    """Same draws, plain loops: block length (default ⌈T^{1/3}⌉), wrap-around, cut at T,
    ddof=1 Sharpe, annualisation and percentile levels."""
    r = _returns(t, t, mean=1e-3)
    b = _cube_root_ceiling(t) if block is None else block
    expected = _plain_circular_block_bootstrap(r, b, 300, 0.9, 12, seed=4)
    got = stats.sharpe_bootstrap_ci(
        r, block=block, n_boot=300, level=0.9, periods_per_year=12, seed=4
    )
    np.testing.assert_allclose(got, expected, rtol=1e-10)


def test_bootstrap_default_block_is_the_ceiling_of_the_cube_root() -> None:
    """T = 1500: T^{1/3} = 11.4, so the default is 12 (not 11 = floor or round)."""
    r = _returns(11, 1500)
    default = stats.sharpe_bootstrap_ci(r, n_boot=200, seed=3)
    assert default == stats.sharpe_bootstrap_ci(
        r, block=_cube_root_ceiling(1500), n_boot=200, seed=3
    )
    assert default != stats.sharpe_bootstrap_ci(r, block=11, n_boot=200, seed=3)


def test_bootstrap_defaults_are_1000_draws_with_seed_0_at_95_percent() -> None:
    r = _returns(5, 40)
    expected = _plain_circular_block_bootstrap(r, _cube_root_ceiling(40), 1000, 0.95, 252, 0)
    np.testing.assert_allclose(stats.sharpe_bootstrap_ci(r), expected, rtol=1e-10)


def test_bootstrap_one_block_of_length_t_wraps_around() -> None:
    """With block = T every resample is a rotation of the series (circular wrap), so every
    resampled Sharpe ratio, hence both ends of the CI, equal the sample's."""
    r = _returns(2, 200)
    sr = r.mean() / r.std(ddof=1) * np.sqrt(252)
    lo, hi = stats.sharpe_bootstrap_ci(r, block=r.size, n_boot=100, seed=0)
    assert lo == pytest.approx(sr, rel=1e-10) and hi == pytest.approx(sr, rel=1e-10)


def test_bootstrap_ci_is_reproducible_and_covers_the_estimate() -> None:
    r = _returns(11, 1500)
    sr = r.mean() / r.std(ddof=1) * np.sqrt(252)
    lo, hi = stats.sharpe_bootstrap_ci(r, n_boot=400, seed=1)
    assert lo < sr < hi
    assert (lo, hi) == stats.sharpe_bootstrap_ci(r, n_boot=400, seed=1)
    lo2, hi2 = stats.sharpe_bootstrap_ci(np.tile(r, 4), n_boot=400, seed=1)
    assert hi2 - lo2 < hi - lo
    lo3, hi3 = stats.sharpe_bootstrap_ci(r, n_boot=400, seed=1, level=0.5)
    assert lo < lo3 < hi3 < hi
    with pytest.raises(ValueError, match="block"):
        stats.sharpe_bootstrap_ci(r, block=0)
    with pytest.raises(ValueError, match="block"):
        stats.sharpe_bootstrap_ci(r, block=r.size + 1)
    with pytest.raises(ValueError, match="at least 10"):
        stats.sharpe_bootstrap_ci(r[:9])


def test_bootstrap_of_zero_draws_is_no_interval_and_negative_draws_are_refused() -> None:
    r = _returns(11, 300)
    lo, hi = stats.sharpe_bootstrap_ci(r, n_boot=0)
    assert np.isnan(lo) and np.isnan(hi)
    table = stats.sharpe_tests(pd.DataFrame({"a": r, "b": _returns(12, 300)}), "b", n_boot=0)
    assert table[["sharpe_ci_low", "sharpe_ci_high"]].isna().all().all()
    assert np.isfinite(table.loc["a", "lw_p_value"])
    for bad in (-1, 2.5, True):
        with pytest.raises(ValueError, match=rf"n_boot={bad!r}; expected an integer >= 0"):
            stats.sharpe_bootstrap_ci(r, n_boot=bad)
    with pytest.raises(ValueError, match=r"level=1\.5; expected a probability"):
        stats.sharpe_bootstrap_ci(r, level=1.5)


# ---------------------------------------------------------------- sharpe_tests


def _biased_moments(r: np.ndarray) -> tuple[float, float]:
    """Sample skewness m3/m2^1.5 and raw kurtosis m4/m2² (central moments, divisor T)."""
    d = r - r.mean()
    m2, m3, m4 = np.mean(d**2), np.mean(d**3), np.mean(d**4)
    return float(m3 / m2**1.5), float(m4 / m2**2)


@pytest.mark.parametrize("n_trials", [None, 12])
def test_sharpe_tests_matches_the_formulas_column_by_column(n_trials: int | None) -> None:
    """PSR, DSR (N = columns by default, V = var(SR, ddof=1) over finite SRs), the LW
    p-value against the benchmark column (not the first one) and the bootstrap CI."""
    t = 150
    df = pd.DataFrame(
        {
            "a": _returns(1, t, mean=1e-3),
            "flat": np.zeros(t),  # no Sharpe ratio: NaN row, not in the variance
            "bench": _returns(2, t),
            "b": _returns(3, t, mean=-5e-4),
        }
    )
    table = stats.sharpe_tests(df, "bench", n_trials=n_trials, n_boot=60, seed=2)
    assert list(table.index) == list(df.columns) and table.index.name == "policy"
    assert table.loc["flat"].isna().all()
    srs = {c: df[c].mean() / df[c].std(ddof=1) for c in ("a", "bench", "b")}
    var = np.var(list(srs.values()), ddof=1)
    sr0 = math.sqrt(var) * stats.expected_max_sharpe(df.shape[1] if n_trials is None else 12, 1.0)
    for name, sr in srs.items():
        r = df[name].to_numpy()
        skew, kurt = _biased_moments(r)
        row = table.loc[name]
        psr = stats.probabilistic_sharpe_ratio(sr, t, skew, kurt)
        assert row["psr"] == pytest.approx(psr, rel=1e-10)
        dsr = stats.probabilistic_sharpe_ratio(sr, t, skew, kurt, sharpe_benchmark=sr0)
        assert row["dsr"] == pytest.approx(dsr, rel=1e-10)
        lo, hi = _plain_circular_block_bootstrap(r, _cube_root_ceiling(t), 60, 0.95, 252, 2)
        assert row["sharpe_ci_low"] == pytest.approx(lo, rel=1e-10)
        assert row["sharpe_ci_high"] == pytest.approx(hi, rel=1e-10)
        if name == "bench":
            assert np.isnan(row["lw_p_value"])
        else:
            p = lw_ref.ledoit_wolf(r, df["bench"].to_numpy()).p_value
            assert row["lw_p_value"] == pytest.approx(p, rel=1e-9)


def test_sharpe_tests_without_benchmark_or_with_one_column() -> None:
    """No benchmark: no LW p-values; one column: no dispersion, so DSR = PSR."""
    df = pd.DataFrame({"x": _returns(1, 300), "y": _returns(2, 300, mean=8e-4)})
    table = stats.sharpe_tests(df, n_boot=50)
    assert table["lw_p_value"].isna().all()
    assert (table["dsr"] < table["psr"]).all()  # two trials: a positive benchmark SR₀
    one = stats.sharpe_tests(df[["y"]], n_boot=50)
    assert one.loc["y", "dsr"] == one.loc["y", "psr"]
    assert one.loc["y", "psr"] == table.loc["y", "psr"]
    flat = df.assign(x=0.0)  # a constant benchmark: no LW test for anyone
    assert stats.sharpe_tests(flat, "x", n_boot=50)["lw_p_value"].isna().all()


def test_sharpe_tests_defaults_and_a_single_sharpe_ratio_without_dispersion() -> None:
    """Defaults: 1000 bootstrap draws, seed 0. With one finite Sharpe ratio there is no
    dispersion to estimate, so V = 0 and the DSR equals the PSR whatever ``n_trials``;
    a zero column is NaN without a division warning."""
    import warnings

    r = _returns(6, 40, mean=1e-3)
    df = pd.DataFrame({"zero": np.zeros(40), "x": r})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        table = stats.sharpe_tests(df, n_trials=5)
    assert table.loc["zero"].isna().all()
    assert table.loc["x", "dsr"] == table.loc["x", "psr"]
    lo, hi = _plain_circular_block_bootstrap(r, _cube_root_ceiling(40), 1000, 0.95, 252, 0)
    assert table.loc["x", "sharpe_ci_low"] == pytest.approx(lo, rel=1e-10)
    assert table.loc["x", "sharpe_ci_high"] == pytest.approx(hi, rel=1e-10)


@pytest.mark.filterwarnings("ignore:Precision loss occurred:RuntimeWarning")
def test_sharpe_tests_constant_non_zero_column_has_no_sharpe_ratio() -> None:
    """A policy earning a constant 2 bp a day (cash at a fixed rate) has no Sharpe ratio."""
    df = pd.DataFrame({"x": _returns(1, 150), "cash": np.full(150, 2e-4)})
    table = stats.sharpe_tests(df, n_boot=20)
    assert table.loc["cash"].isna().all()


def test_bad_input() -> None:
    with pytest.raises(ValueError, match="same length"):
        stats.ledoit_wolf_test(np.zeros(20), np.zeros(21))
    with pytest.raises(ValueError, match="same length >= 10"):
        stats.ledoit_wolf_test(np.zeros(9), np.zeros(9))
    with pytest.raises(ValueError, match="1-D"):
        stats.ledoit_wolf_test(np.zeros((20, 2)), np.zeros((20, 2)))
    with pytest.raises(ValueError, match="n_trials"):
        stats.expected_max_sharpe(0, 0.1)


# ---------------------------------------------------------------- across seeds
def _t_quantile_2df(p: float) -> float:
    """Student's t quantile with 2 degrees of freedom in closed form: (2p − 1)/√(2p(1 − p))."""
    return (2 * p - 1) / math.sqrt(2 * p * (1 - p))


def test_seed_summary_matches_a_hand_computation() -> None:
    metrics = pd.DataFrame(
        {
            "sharpe": [0.5, 1.1, 0.2, np.nan, 0.9, 0.4],
            "ann_return": [0.05, 0.11, 0.02, 0.0, 0.09, 0.04],
            "turnover": [3.0, 5.0, 4.0, 0.0, 1.0, 9.0],
            "total_costs": [0.01, 0.03, 0.02, 0.0, 0.005, 0.04],
        },
        index=["PPO s0", "PPO s1", "PPO s2", "A2C s0", "A2C s1", "1/N"],
    )
    table = stats.seed_summary(metrics, {"PPO": ["PPO s0", "PPO s1", "PPO s2"],
                                         "A2C": ["A2C s0", "A2C s1"]})  # fmt: skip
    ppo = table.loc["PPO"]
    # mean 0.6; deviations -0.1, 0.5, -0.4: s² = (0.01 + 0.25 + 0.16) / 2 = 0.21
    half = _t_quantile_2df(0.975) * math.sqrt(0.21) / math.sqrt(3)
    assert _t_quantile_2df(0.975) == pytest.approx(4.3027, abs=1e-4)  # the t table's 4.303
    assert ppo["n_seeds"] == 3
    np.testing.assert_allclose(
        ppo[["sharpe_mean", "sharpe_std", "sharpe_ci_low", "sharpe_ci_high"]].to_numpy(float),
        [0.6, math.sqrt(0.21), 0.6 - half, 0.6 + half], rtol=1e-12,
    )  # fmt: skip
    assert (ppo["sharpe_min"], ppo["sharpe_max"]) == (0.2, 1.1)
    np.testing.assert_allclose(
        ppo[["ann_return_mean", "turnover_mean", "total_costs_mean"]].to_numpy(float),
        [0.06, 4.0, 0.02], rtol=1e-12,
    )  # fmt: skip
    # a seed without a Sharpe ratio is left out of the Sharpe statistics, not of the rest;
    # one finite Sharpe ratio has no spread and no interval
    a2c = table.loc["A2C"]
    assert a2c["n_seeds"] == 2 and a2c["sharpe_mean"] == 0.9
    assert np.isnan(a2c[["sharpe_std", "sharpe_ci_low", "sharpe_ci_high"]].to_numpy(float)).all()
    assert a2c["turnover_mean"] == 0.5
    assert list(table.index) == ["PPO", "A2C"] and table.index.name == "agent"


def test_seed_summary_level_and_bad_input() -> None:
    metrics = pd.DataFrame({"sharpe": [0.5, 1.1, 0.2]}, index=["s0", "s1", "s2"])
    row = stats.seed_summary(metrics, {"A": ["s0", "s1", "s2"]}, level=0.8).loc["A"]
    half = _t_quantile_2df(0.9) * math.sqrt(0.21) / math.sqrt(3)
    np.testing.assert_allclose([row["sharpe_ci_low"], row["sharpe_ci_high"]],
                               [0.6 - half, 0.6 + half], rtol=1e-12)  # fmt: skip
    assert np.isnan(row["turnover_mean"])  # no such column
    with pytest.raises(KeyError, match=r"seed group 'A': rows \['s9'\] are not in the metrics"):
        stats.seed_summary(metrics, {"A": ["s0", "s9"]})
    with pytest.raises(ValueError, match=r"level=1\.5"):
        stats.seed_summary(metrics, {"A": ["s0", "s1"]}, level=1.5)
