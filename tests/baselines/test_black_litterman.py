"""Black-Litterman math against published numbers (He & Litterman 1999; Idzorek 2005)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from allocgym.baselines import (
    black_litterman,
    he_litterman_omega,
    idzorek_omega,
    implied_returns,
)

FIXTURE = Path(__file__).parents[1] / "fixtures" / "black_litterman.yaml"


@pytest.fixture(scope="module")
def published() -> dict:
    return yaml.safe_load(FIXTURE.read_text())


@pytest.fixture(scope="module")
def hl(published: dict) -> dict:
    d = published["he_litterman_1999"]
    vol = np.array(d["volatility"])
    d = dict(d)
    d["cov"] = np.array(d["correlation"]) * np.outer(vol, vol)
    d["w_eq"] = np.array(d["equilibrium_weights"])
    return d


def test_implied_returns_match_he_litterman_table_2(hl: dict) -> None:
    pi = implied_returns(hl["cov"], hl["w_eq"], hl["risk_aversion"])
    np.testing.assert_allclose(pi, hl["equilibrium_returns"], atol=hl["tolerance"])


@pytest.mark.parametrize("table", ["table_4", "table_5", "table_6"])
def test_posterior_and_weights_match_he_litterman(hl: dict, table: str) -> None:
    case = hl["cases"][table]
    cov, delta, tau = hl["cov"], hl["risk_aversion"], hl["tau"]
    pi = implied_returns(cov, hl["w_eq"], delta)
    P, Q = np.array(case["P"], dtype=float), np.array(case["Q"])
    mean, post = black_litterman(cov, pi, P, Q, tau=tau)
    np.testing.assert_allclose(mean, case["posterior_returns"], atol=hl["tolerance"])
    w = np.linalg.solve(delta * post, mean)
    np.testing.assert_allclose(w, case["weights"], atol=hl["tolerance"])
    if "view_weights" in case:
        # He & Litterman eq. (8): w* = w_eq / (1 + tau) + P' Lambda. Lambda is published
        # to 0.001 like the weights, so the fixture's tolerance applies to it as well.
        lam = np.linalg.lstsq(P.T, w - hl["w_eq"] / (1 + tau), rcond=None)[0]
        np.testing.assert_allclose(lam, case["view_weights"], atol=hl["tolerance"])


def test_posterior_matches_idzorek_table_6(published: dict) -> None:
    d = published["idzorek_2005"]
    cov, P, Q = np.array(d["covariance"]), np.array(d["P"], dtype=float), np.array(d["Q"])
    mean, _ = black_litterman(cov, np.array(d["implied_returns"]), P, Q, tau=d["tau"])
    np.testing.assert_allclose(mean, d["posterior_returns"], atol=d["tolerance"])


def test_idzorek_confidence_tilts_weights_by_the_confidence(published: dict) -> None:
    """Idzorek's defining property: alone, view k moves w by c_k x its 100 % tilt."""
    d = published["idzorek_2005"]
    cov, delta, tau = np.array(d["covariance"]), d["risk_aversion"], d["tau"]
    w_mkt = np.array(d["market_weights"])
    pi = implied_returns(cov, w_mkt, delta)
    for p, q, c in zip(d["P"], d["Q"], d["confidences"], strict=True):
        P, Q = np.array([p], dtype=float), np.array([q])
        full, _ = black_litterman(cov, pi, P, Q, tau=tau, omega=np.zeros((1, 1)))
        part, _ = black_litterman(cov, pi, P, Q, tau=tau, confidences=[c])
        # Idzorek's weights use the prior covariance: w = (delta Sigma)^-1 mu
        tilt_full = np.linalg.solve(delta * cov, full) - w_mkt
        tilt_part = np.linalg.solve(delta * cov, part) - w_mkt
        np.testing.assert_allclose(tilt_part, c * tilt_full, atol=1e-10)


def _theil_posterior(cov, pi, P, Q, tau, omega):
    """Mixed-estimation (precision-weighted) form of the posterior, Black & Litterman
    (1992) / Theil: ``M = [(τΣ)⁻¹ + PᵀΩ⁻¹P]⁻¹``, ``μ = M [(τΣ)⁻¹Π + PᵀΩ⁻¹Q]``.

    Algebraically equal to the gain form allocgym uses (Woodbury identity) when Ω is
    invertible; computed here with explicit inverses, independently of it.
    """
    prior_precision = np.linalg.inv(tau * cov)
    view_precision = P.T @ np.linalg.inv(omega) @ P
    m = np.linalg.inv(prior_precision + view_precision)
    mean = m @ (prior_precision @ pi + P.T @ np.linalg.inv(omega) @ Q)
    return mean, cov + m


@pytest.fixture(scope="module")
def random_problem() -> dict:
    rng = np.random.default_rng(11)
    n, k = 6, 3
    a = rng.normal(size=(n, n)) * 0.1
    cov = a @ a.T + np.diag(rng.uniform(0.01, 0.04, n))
    b = rng.normal(size=(k, k)) * 0.01
    return {
        "cov": cov,
        "pi": rng.normal(0.05, 0.02, n),
        "P": rng.normal(size=(k, n)),
        "Q": rng.normal(0.03, 0.02, k),
        "omega": b @ b.T + np.diag(rng.uniform(1e-4, 5e-4, k)),  # not diagonal
        "tau": 0.07,
    }


def test_posterior_matches_the_mixed_estimation_form(random_problem: dict) -> None:
    """Posterior mean and covariance against Theil's mixed estimation, for a full Ω."""
    d = random_problem
    mean, post = black_litterman(d["cov"], d["pi"], d["P"], d["Q"], tau=d["tau"], omega=d["omega"])
    ref_mean, ref_post = _theil_posterior(d["cov"], d["pi"], d["P"], d["Q"], d["tau"], d["omega"])
    np.testing.assert_allclose(mean, ref_mean, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(post, ref_post, rtol=1e-9, atol=1e-12)
    np.testing.assert_array_equal(post, post.T)


def test_default_omegas_are_he_litterman_and_idzorek(random_problem: dict) -> None:
    """Ω = diag(PτΣPᵀ) (He & Litterman 1999) by default, diag((1 − c)/c · PτΣPᵀ) with
    confidences (Walters 2014, §5.2); off-diagonal view covariances are dropped."""
    d = random_problem
    cov, P, Q, tau = d["cov"], d["P"], d["Q"], d["tau"]
    view_var = np.array([p @ (tau * cov) @ p for p in P])
    full = P @ (tau * cov) @ P.T
    assert np.abs(full - np.diag(view_var)).max() > 1e-3  # the views are correlated
    np.testing.assert_allclose(he_litterman_omega(cov, P, tau), np.diag(view_var), rtol=1e-12)
    c = np.array([0.2, 0.5, 0.9])
    omega_c = np.diag((1 - c) / c * view_var)
    np.testing.assert_allclose(idzorek_omega(cov, P, c, tau), omega_c, rtol=1e-12)
    for kwargs, omega in [({}, np.diag(view_var)), ({"confidences": c}, omega_c)]:
        mean, post = black_litterman(cov, d["pi"], P, Q, tau=tau, **kwargs)
        ref_mean, ref_post = _theil_posterior(cov, d["pi"], P, Q, tau, omega)
        np.testing.assert_allclose(mean, ref_mean, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(post, ref_post, rtol=1e-9, atol=1e-12)


def test_implied_returns_is_delta_sigma_w(random_problem: dict) -> None:
    """Π = δΣw (He & Litterman 1999, eq. 1), element by element."""
    cov = random_problem["cov"]
    w = np.linspace(0.05, 0.3, cov.shape[0])
    expected = [3.1 * sum(cov[i, j] * w[j] for j in range(w.size)) for i in range(w.size)]
    np.testing.assert_allclose(implied_returns(cov, w, 3.1), expected, rtol=1e-12)
    np.testing.assert_allclose(implied_returns(cov, w), 2.5 / 3.1 * np.array(expected))


def test_omega_helpers_and_limits() -> None:
    rng = np.random.default_rng(0)
    a = rng.normal(size=(4, 4))
    cov = a @ a.T + np.eye(4)
    P = np.array([[1.0, -1.0, 0, 0]])
    np.testing.assert_allclose(he_litterman_omega(cov, P, 0.05), 0.05 * P @ cov @ P.T)
    np.testing.assert_allclose(idzorek_omega(cov, P, [0.5], 0.05), he_litterman_omega(cov, P))
    # confidence 1 is allowed: Ω = 0, the view held with certainty
    np.testing.assert_array_equal(idzorek_omega(cov, P, [1.0], 0.05), np.zeros((1, 1)))
    certain, _ = black_litterman(cov, np.zeros(4), P, [0.02], confidences=[1.0])
    assert P @ certain == pytest.approx([0.02])
    pi = np.zeros(4)
    # certain view: the posterior satisfies it exactly
    mean, _ = black_litterman(cov, pi, P, [0.02], omega=np.zeros((1, 1)))
    assert P @ mean == pytest.approx([0.02])
    # no confidence -> prior; posterior covariance is Sigma + M with M <= tau Sigma
    mean, post = black_litterman(cov, pi, P, [0.02], omega=np.array([[1e12]]))
    np.testing.assert_allclose(mean, pi, atol=1e-12)
    np.testing.assert_allclose(post, cov * 1.05, atol=1e-9)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"confidences": [0.0]}, "confidences"),
        ({"confidences": [1.5]}, "confidences"),
        ({"tau": 0.0}, "tau"),
        ({"omega": np.eye(2)}, "omega"),
        ({"omega": np.eye(1), "confidences": [0.5]}, "not both"),
    ],
)
def test_black_litterman_rejects_bad_input(kwargs: dict, match: str) -> None:
    cov = np.eye(3) * 0.04
    with pytest.raises(ValueError, match=match):
        black_litterman(cov, np.zeros(3), [[1.0, 0, 0]], [0.01], **kwargs)


def test_implied_returns_rejects_bad_shapes() -> None:
    with pytest.raises(ValueError, match="expected"):
        implied_returns(np.eye(3), np.ones(2))
    with pytest.raises(ValueError, match="risk_aversion"):
        implied_returns(np.eye(2), np.ones(2), 0.0)


def test_implied_returns_accepts_a_risk_aversion_below_one(random_problem: dict) -> None:
    """Any δ > 0 is valid (δ = 0.5 is a risk-tolerant investor), not only δ > 1."""
    cov = random_problem["cov"]
    w = np.full(cov.shape[0], 1.0 / cov.shape[0])
    expected = [0.5 * sum(cov[i, j] * w[j] for j in range(w.size)) for i in range(w.size)]
    np.testing.assert_allclose(implied_returns(cov, w, 0.5), expected, rtol=1e-12)


def test_implied_returns_rejects_a_non_square_covariance() -> None:
    """A (3, 2) covariance is refused with the shapes named, even when the weights
    have its row count."""
    with pytest.raises(ValueError, match=r"cov has shape \(3, 2\) and weights \(3,\)"):
        implied_returns(np.ones((3, 2)), np.ones(3))


def test_idzorek_omega_default_tau_is_0_05(random_problem: dict) -> None:
    """The documented default τ = 0.05, the same as He & Litterman's Ω and the posterior."""
    cov, P = random_problem["cov"], random_problem["P"]
    c = np.array([0.25, 0.5, 0.8])
    view_var = np.array([p @ (0.05 * cov) @ p for p in P])
    np.testing.assert_allclose(idzorek_omega(cov, P, c), np.diag((1 - c) / c * view_var))


@pytest.mark.parametrize(
    ("cov", "pi", "P", "Q"),
    [
        (np.full(3, 0.04), np.zeros(3), [[1.0, 0, 0]], [0.01]),  # cov is 1-D
        (np.eye(3) * 0.04, np.zeros(2), [[1.0, 0, 0]], [0.01]),  # pi too short
        (np.eye(3) * 0.04, np.zeros(3), [[1.0, 0]], [0.01]),  # P has 2 columns
        (np.eye(3) * 0.04, np.zeros(3), [[1.0, 0, 0]], [0.01, 0.02]),  # two Q for one view
    ],
)
def test_black_litterman_names_every_mismatched_shape(cov, pi, P, Q) -> None:
    """Each of the four shape conditions alone is refused with the shapes message."""
    with pytest.raises(
        ValueError, match=r"shapes cov .* expected \(n, n\), \(n,\), \(k, n\), \(k,\)"
    ):
        black_litterman(cov, pi, P, Q)
