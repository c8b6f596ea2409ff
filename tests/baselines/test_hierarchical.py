"""Hierarchical risk parity and the cluster allocation, against independent implementations.

Definitions that match (same returns, covariance by the same definition):

- skfolio ``HierarchicalRiskParity(risk_measure=VARIANCE)`` with
  ``HierarchicalSeriation(HierarchicalClustering(linkage_method=L), optimal_ordering=False)``
  and its default ``PearsonDistance`` (``√(½(1 − ρ))``): same weights to 1e-12 for the
  single (the paper's), average and Ward linkages. skfolio's defaults differ (Ward
  linkage and optimal leaf ordering), so those two settings are set to ours.
- PyPortfolioOpt ``HRPOpt(returns).optimize("single")`` (if installed): same distance
  (on the condensed matrix), same linkage, same bisection; weights to 1e-12.
- skfolio ``HierarchicalClustering(max_clusters=k, linkage_method=L)`` on the same
  distance: the same partition into clusters (labels up to renaming).

Not matched: the listing in Lopez de Prado (2016) passes the square distance matrix to
scipy's ``linkage``, which then clusters on Euclidean distances between its columns
(a "distance of distances"); allocgym, skfolio and PyPortfolioOpt cluster on the
correlation distance itself, as the paper's text describes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.cluster.hierarchy import leaves_list

from allocgym.baselines import (
    BASELINES,
    ClusterAllocation,
    HierarchicalRiskParity,
    cluster_labels,
    cluster_weights,
    correlation_distance,
    hrp_weights,
    plot_dendrogram,
)
from allocgym.baselines.hierarchical import kmeans, leaf_order, linkage_matrix
from allocgym.data import MarketData
from allocgym.policy import PolicyState
from tests.baselines.test_policies import _ledoit_wolf_2004, _window, make_panel, run

LB = 60


@pytest.fixture(scope="module")
def returns(embedded_slice: MarketData) -> pd.DataFrame:
    """252 daily returns of the 20 embedded assets (2018-2019)."""
    frame = embedded_slice.to_frame("returns").iloc[1:253]
    return frame


def _same_partition(a: np.ndarray, b: np.ndarray) -> bool:
    pairs = set(zip(a.tolist(), b.tolist(), strict=True))
    return len(pairs) == len(set(a.tolist())) == len(set(b.tolist()))


@pytest.mark.parametrize(
    ("ours", "theirs"), [("single", "SINGLE"), ("average", "AVERAGE"), ("ward", "WARD")]
)
def test_hrp_matches_skfolio(returns: pd.DataFrame, ours: str, theirs: str) -> None:
    from skfolio import RiskMeasure
    from skfolio.cluster import HierarchicalClustering, LinkageMethod
    from skfolio.optimization import HierarchicalRiskParity as SkHRP
    from skfolio.seriation import HierarchicalSeriation

    clustering = HierarchicalClustering(linkage_method=getattr(LinkageMethod, theirs))
    sk = SkHRP(
        risk_measure=RiskMeasure.VARIANCE,
        seriation_estimator=HierarchicalSeriation(
            hierarchical_clustering_estimator=clustering, optimal_ordering=False
        ),
    ).fit(returns.to_numpy())
    cov = np.cov(returns.to_numpy(), rowvar=False)
    np.testing.assert_allclose(hrp_weights(cov, ours), sk.weights_, rtol=0, atol=1e-12)


def test_hrp_matches_pyportfolioopt(returns: pd.DataFrame) -> None:
    pypfopt = pytest.importorskip("pypfopt")
    theirs = pd.Series(pypfopt.HRPOpt(returns).optimize("single"))[returns.columns]
    cov = np.cov(returns.to_numpy(), rowvar=False)
    np.testing.assert_allclose(hrp_weights(cov, "single"), theirs.to_numpy(), rtol=0, atol=1e-12)


def test_hrp_of_uncorrelated_assets_is_inverse_variance() -> None:
    """Diagonal Σ: each cluster's inverse-variance variance is 1/Σ(1/σ²), so every split
    gives α = S_left/(S_left + S_right) and the weights are 1/σ² normalised, in any order."""
    var = np.array([0.01, 0.04, 0.02, 0.09, 0.05])
    np.testing.assert_allclose(hrp_weights(np.diag(var)), (1 / var) / (1 / var).sum(), atol=1e-15)


def test_hrp_three_assets_by_hand() -> None:
    """Assets 0 and 1 correlated (ρ = 0.9), 2 uncorrelated: single linkage joins {0, 1}
    first, leaves [2, 0, 1]; bisection splits [2] | [0, 1] then [0] | [1]."""
    sd = np.array([0.1, 0.2, 0.15])
    corr = np.array([[1, 0.9, 0], [0.9, 1, 0], [0, 0, 1.0]])
    cov = corr * np.outer(sd, sd)
    assert leaf_order(linkage_matrix(cov)).tolist() == [2, 0, 1]
    ivp = (1 / sd[:2] ** 2) / (1 / sd[:2] ** 2).sum()
    v01 = ivp @ cov[:2, :2] @ ivp
    alpha = 1 - sd[2] ** 2 / (sd[2] ** 2 + v01)  # weight of [2]
    beta = 1 - sd[0] ** 2 / (sd[0] ** 2 + sd[1] ** 2)  # share of 0 inside [0, 1]
    expected = [(1 - alpha) * beta, (1 - alpha) * (1 - beta), alpha]
    np.testing.assert_allclose(hrp_weights(cov), expected, atol=1e-15)


def test_leaf_order_is_scipys_leaves_list(returns: pd.DataFrame) -> None:
    cov = np.cov(returns.to_numpy(), rowvar=False)
    for method in ("single", "complete", "average", "weighted", "ward"):
        z = linkage_matrix(cov, method)
        np.testing.assert_array_equal(leaf_order(z), leaves_list(z))


@pytest.mark.parametrize("linkage", ["single", "average", "ward"])
def test_hierarchical_clusters_match_skfolio(returns: pd.DataFrame, linkage: str) -> None:
    from skfolio.cluster import HierarchicalClustering, LinkageMethod

    cov = np.cov(returns.to_numpy(), rowvar=False)
    for k in (2, 4, 7):
        sk = HierarchicalClustering(
            max_clusters=k, linkage_method=getattr(LinkageMethod, linkage.upper())
        )
        theirs = sk.fit(correlation_distance(cov)).labels_
        ours = cluster_labels(cov, k, linkage=linkage)
        assert _same_partition(ours, theirs), (k, ours, theirs)


def _blocks(seed: int = 0) -> np.ndarray:
    """Covariance of 9 assets in 3 planted blocks (within ρ = 0.8, across 0.1)."""
    labels = np.repeat([0, 1, 2], 3)
    corr = np.where(labels[:, None] == labels[None, :], 0.8, 0.1)
    np.fill_diagonal(corr, 1.0)
    sd = np.random.default_rng(seed).uniform(0.1, 0.4, 9)
    perm = np.random.default_rng(seed + 1).permutation(9)
    return (corr * np.outer(sd, sd))[np.ix_(perm, perm)], labels[perm]


@pytest.mark.parametrize("method", ["hierarchical", "kmeans"])
def test_both_methods_recover_planted_blocks(method: str) -> None:
    cov, truth = _blocks()
    assert _same_partition(cluster_labels(cov, 3, method=method), truth)
    labels = cluster_labels(cov, 3, method=method)
    assert labels[0] == 0 and set(labels.tolist()) == {0, 1, 2}  # numbered by first appearance


def test_kmeans_finds_sklearns_partition_on_clustered_points() -> None:
    """Lloyd with greedy k-means++ starts, as sklearn's ``KMeans(n_init=10)``; the random
    streams differ, so the comparison is on well-separated clusters (on unclustered data
    both stop at local optima, better or worse than each other's)."""
    from sklearn.cluster import KMeans

    rng = np.random.default_rng(3)
    centres = rng.normal(0, 1, (4, 6))
    points = np.repeat(centres, 8, axis=0) + rng.normal(0, 0.2, (32, 6))
    theirs = KMeans(4, n_init=10, random_state=0).fit(points).labels_
    assert _same_partition(kmeans(points, 4, seed=0), theirs)
    assert _same_partition(kmeans(points, 4, seed=7), theirs)


def test_cluster_weights_by_hand() -> None:
    cov, truth = _blocks()
    w = cluster_weights(cov, truth)
    expected = np.zeros(9)
    inv_cluster_var = {}
    for c in range(3):
        idx = np.flatnonzero(truth == c)
        ivp = (1 / np.diag(cov)[idx]) / (1 / np.diag(cov)[idx]).sum()
        expected[idx] = ivp
        inv_cluster_var[c] = 1 / (ivp @ cov[np.ix_(idx, idx)] @ ivp)
    total = sum(inv_cluster_var.values())
    for c in range(3):
        expected[truth == c] *= inv_cluster_var[c] / total
    np.testing.assert_allclose(w, expected, atol=1e-15)
    ivp_all = (1 / np.diag(cov)) / (1 / np.diag(cov)).sum()
    np.testing.assert_allclose(cluster_weights(cov, np.zeros(9, dtype=int)), ivp_all, atol=1e-15)
    np.testing.assert_allclose(cluster_weights(cov, np.arange(9)), ivp_all, atol=1e-15)


def test_policies_weights_and_fitted_clusters(synthetic_market: MarketData, tmp_path: Path) -> None:
    t = 300
    cov = _ledoit_wolf_2004(_window(synthetic_market, t, LB))
    state = PolicyState.at(synthetic_market, t, np.eye(6)[0])
    hrp = HierarchicalRiskParity(lookback=LB)
    w = hrp.act(state)
    np.testing.assert_allclose(w[1:], hrp_weights(cov), atol=1e-14)
    assert w[0] == 0.0 and hrp.assets_ == tuple(synthetic_market.assets)
    np.testing.assert_array_equal(hrp.order_, leaves_list(hrp.linkage_))
    cluster = ClusterAllocation(lookback=LB, n_clusters=2)
    w = cluster.act(state)
    np.testing.assert_allclose(w[1:], cluster_weights(cov, cluster_labels(cov, 2)), atol=1e-14)
    assert sorted(a for names in cluster.clusters_.values() for a in names) == sorted(
        cluster.assets_
    )
    assert len(cluster.clusters_) == 2 and cluster.linkage_.shape == (4, 4)
    fig = plot_dendrogram(cluster, path=tmp_path / "tree.png")
    assert (tmp_path / "tree.png").stat().st_size > 1000
    assert "[" in fig.axes[0].get_xticklabels()[0].get_text()  # leaf names carry the cluster
    plot_dendrogram(hrp.linkage_, list("abcde"), path=tmp_path / "raw.png")
    with pytest.raises(ValueError, match="no linkage_ yet"):
        plot_dendrogram(HierarchicalRiskParity())
    with pytest.raises(ValueError, match="linkage has shape"):
        plot_dendrogram(np.ones((3, 3)))
    hrp.reset()
    assert hrp.linkage_ is None and hrp.columns_ is None


def test_fewer_tradable_assets_than_clusters_is_inverse_variance(
    synthetic_market: MarketData,
) -> None:
    market = synthetic_market[:260]
    prices = np.array(market.prices)
    prices[:220, :3] = np.nan  # only 2 assets tradable before t = 220
    policy = ClusterAllocation(lookback=LB, n_clusters=4)
    w = policy.act(PolicyState.at(market.with_prices(prices), 200, np.eye(6)[0]))
    cov = _ledoit_wolf_2004(_window(market, 200, LB)[:, 3:])
    np.testing.assert_allclose(w[4:], (1 / np.diag(cov)) / (1 / np.diag(cov)).sum(), atol=1e-14)
    assert policy.n_fallbacks_ == 0 and len(policy.clusters_) == 2


@pytest.mark.parametrize(
    "policy",
    [
        lambda: HierarchicalRiskParity(lookback=LB, rebalance_every=5),
        lambda: HierarchicalRiskParity(lookback=LB, linkage="ward", covariance="garch"),
        lambda: ClusterAllocation(lookback=LB, rebalance_every=5, n_clusters=2),
        lambda: ClusterAllocation(lookback=LB, rebalance_every=5, n_clusters=3, method="kmeans"),
    ],
)
def test_point_in_time(synthetic_market: MarketData, policy) -> None:
    market = synthetic_market[:260]
    prices = np.array(market.prices)
    prices[221:] *= np.random.default_rng(1).uniform(0.5, 1.5, prices[221:].shape)
    p = policy()
    a = run(p, market, make_panel(market), 150, 250)
    b = run(p, market.with_prices(prices), make_panel(market), 150, 250)
    np.testing.assert_array_equal(a[: 220 - 150 + 1], b[: 220 - 150 + 1])
    assert not np.array_equal(a, b) and p.n_fallbacks_ == 0


@pytest.mark.parametrize(
    ("factory", "match"),
    [
        (lambda: ClusterAllocation(n_clusters=0), "n_clusters=0"),
        (lambda: ClusterAllocation(n_clusters=2.5), "n_clusters=2.5"),
        (lambda: ClusterAllocation(method="spectral"), "method='spectral'"),
        (lambda: ClusterAllocation(linkage="centroid"), "linkage='centroid'"),
        (lambda: HierarchicalRiskParity(linkage="nearest"), "linkage='nearest'"),
        (lambda: HierarchicalRiskParity(lookback=1), "lookback"),
    ],
)
def test_bad_parameters_name_the_parameter(factory, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        factory()


def test_more_clusters_than_assets_is_refused(synthetic_market: MarketData) -> None:
    with pytest.raises(ValueError, match="n_clusters=6 is larger than the universe of 5"):
        ClusterAllocation(n_clusters=6).fit(synthetic_market)
    with pytest.raises(ValueError, match="n_clusters=6 is larger than the universe of 5"):
        ClusterAllocation(n_clusters=6, lookback=LB).act(
            PolicyState.at(synthetic_market, 300, np.eye(6)[0])
        )


def test_registered() -> None:
    assert type(BASELINES.create("hrp", linkage="ward")) is HierarchicalRiskParity
    assert BASELINES.resolve("hierarchical_risk_parity") == "hrp"
    cluster = BASELINES.create("cluster", n_clusters=3, method="kmeans")
    assert type(cluster) is ClusterAllocation and cluster.n_clusters == 3
    assert BASELINES.entry("cluster").label == "Cluster allocation"
