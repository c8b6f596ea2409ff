"""Hierarchical risk parity and the cluster allocation ("risk clustering").

Both group assets by the correlation distance of Lopez de Prado (2016)

``d_ij = √(½ (1 − ρ_ij))``  (0 for ρ = 1, 1 for ρ = −1; a metric),

with ``ρ`` the correlation implied by the policy's covariance estimate, and both give
weights inside a group by inverse variance, ``w_i ∝ 1/Σ_ii``.

:func:`hrp_weights` (Lopez de Prado 2016): (1) a hierarchical tree of the assets from
``d`` (scipy's ``linkage`` on the condensed distance matrix, single linkage by default);
(2) quasi-diagonalisation: the assets in the order of the tree's leaves (``leaves_list``,
the same order as the paper's ``getQuasiDiag``); (3) recursive bisection: starting with
all assets in one cluster with weight 1, split every cluster of the ordered list into
its two halves, compute each half's variance ``V = w̃ᵀΣw̃`` under its inverse-variance
weights ``w̃`` and give the halves the fractions ``α = 1 − V₁/(V₁ + V₂)`` and ``1 − α``
of the cluster's weight, until every cluster is one asset.

:func:`cluster_weights`: ``n_clusters`` clusters, either by cutting the same tree
(``method="hierarchical"``, scipy ``fcluster(..., "maxclust")``, Ward linkage by
default) or by K-means (``method="kmeans"``) on the rows of a square root ``L`` of the
correlation matrix (``LLᵀ = R``): ``‖l_i − l_j‖ = 2 d_ij``, so K-means clusters in the
same correlation geometry. Inside a cluster inverse-variance weights, across clusters
inverse cluster variance (the cluster-then-allocate scheme of Raffinot 2017, with
inverse variance at both levels).

References
----------
Lopez de Prado, M. (2016). Building diversified portfolios that outperform out of sample.
*Journal of Portfolio Management* 42(4), 59–69.
Raffinot, T. (2017). Hierarchical clustering-based asset allocation. *Journal of
Portfolio Management* 44(2), 89–99.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.cluster.hierarchy import fcluster, linkage
from scipy.spatial.distance import squareform

from allocgym._typing import FloatArray, IntArray
from allocgym.baselines._risk_based import RiskBasedPolicy
from allocgym.baselines.covariance import CovarianceEstimator
from allocgym.exceptions import OptimizationError
from allocgym.policy import PolicyState

__all__ = [
    "CLUSTER_METHODS",
    "LINKAGES",
    "ClusterAllocation",
    "HierarchicalRiskParity",
    "cluster_labels",
    "cluster_weights",
    "correlation_distance",
    "hrp_weights",
    "inverse_variance_weights",
    "kmeans",
    "leaf_order",
    "linkage_matrix",
    "recursive_bisection",
]

LINKAGES = ("single", "complete", "average", "weighted", "ward")
"""scipy linkage methods accepted (those defined for a general distance, and Ward)."""
CLUSTER_METHODS = ("hierarchical", "kmeans")
_COLOUR_CUT = 0.7  # scipy's dendrogram colours the branches below 0.7 x the highest merge


def check_linkage(method: str) -> str:
    if method not in LINKAGES:
        raise ValueError(f"linkage={method!r} is not a known linkage; expected one of {LINKAGES}")
    return method


def correlation_distance(cov: FloatArray) -> FloatArray:
    """``√(½(1 − ρ))`` from a covariance, shape (n, n), zero diagonal, in [0, 1]."""
    sd = np.sqrt(np.diag(cov))
    if not (np.isfinite(sd).all() and (sd > 0).all()):
        raise OptimizationError("correlation distance: an asset has zero or non-finite variance")
    corr = cov / np.outer(sd, sd)
    dist = np.sqrt(np.clip(0.5 * (1.0 - corr), 0.0, 1.0))
    np.fill_diagonal(dist, 0.0)
    return 0.5 * (dist + dist.T)


def linkage_matrix(cov: FloatArray, method: str = "single") -> FloatArray:
    """scipy linkage matrix, shape (n − 1, 4), of the correlation distance of ``cov``."""
    return linkage(squareform(correlation_distance(cov), checks=False), check_linkage(method))


def leaf_order(tree: FloatArray) -> IntArray:
    """The leaves of a linkage tree from left to right (scipy's ``leaves_list``, the paper's
    quasi-diagonal order ``getQuasiDiag``), without scipy's validation of the tree."""
    n = tree.shape[0] + 1
    order, stack = [], [2 * n - 2]
    while stack:
        node = stack.pop()
        if node < n:
            order.append(node)
        else:
            left, right = tree[node - n, :2]
            stack += [int(right), int(left)]
    return np.array(order, dtype=np.int64)


def inverse_variance_weights(cov: FloatArray) -> FloatArray:
    """``w_i ∝ 1/Σ_ii``, shape (n,), summing to 1."""
    inv = 1.0 / np.diag(cov)
    return inv / inv.sum()


def recursive_bisection(cov: FloatArray, order: IntArray) -> FloatArray:
    """HRP's recursive bisection of the ordered assets ``order`` (see the module docstring).

    Clusters are contiguous runs of the reordered covariance, so each split reads two
    diagonal blocks of it.
    """
    order = np.asarray(order)
    c = cov[np.ix_(order, order)]
    inv = 1.0 / np.diag(c)
    w = np.ones(order.size)
    clusters = [(0, order.size)]
    while clusters:
        halves = []
        for a, b in clusters:
            if b - a < 2:
                continue
            m = (a + b) // 2
            v_left, v_right = _block_variance(c, inv, a, m), _block_variance(c, inv, m, b)
            alpha = 1.0 - v_left / (v_left + v_right)
            w[a:m] *= alpha
            w[m:b] *= 1.0 - alpha
            halves += [(a, m), (m, b)]
        clusters = halves
    out = np.empty_like(w)
    out[order] = w
    return out


def _block_variance(c: FloatArray, inv: FloatArray, a: int, b: int) -> float:
    """Variance of the inverse-variance portfolio of the assets a..b−1 of ``c``."""
    w = inv[a:b] / inv[a:b].sum()
    return float(w @ c[a:b, a:b] @ w)


def hrp_weights(cov: FloatArray, linkage: str = "single") -> FloatArray:
    """Hierarchical risk parity weights (Lopez de Prado 2016), shape (n,), summing to 1."""
    cov = np.asarray(cov, dtype=np.float64)
    if cov.shape[0] == 1:
        return np.ones(1)
    return recursive_bisection(cov, leaf_order(linkage_matrix(cov, linkage)))


def cluster_labels(
    cov: FloatArray,
    n_clusters: int,
    *,
    method: str = "hierarchical",
    linkage: str = "ward",
    seed: int = 0,
) -> IntArray:
    """Cluster of each asset, shape (n,), labels 0..k−1 numbered by first appearance.

    ``k = min(n_clusters, n)``; ``method`` and ``linkage`` as in the module docstring,
    ``seed`` fixes K-means' initialisation (:func:`kmeans`, 10 starts).
    """
    cov = np.asarray(cov, dtype=np.float64)
    n = cov.shape[0]
    k = min(int(n_clusters), n)
    if method == "hierarchical":
        raw = fcluster(linkage_matrix(cov, linkage), t=k, criterion="maxclust")
    elif method == "kmeans":
        sd = np.sqrt(np.diag(cov))
        vals, vecs = np.linalg.eigh(cov / np.outer(sd, sd))
        root = vecs * np.sqrt(np.clip(vals, 0.0, None))  # rows l_i: l_i·l_j = ρ_ij
        raw = kmeans(root, k, seed=seed)
    else:
        raise ValueError(f"method={method!r}; expected one of {CLUSTER_METHODS}")
    return _first_appearance(raw)


def _first_appearance(raw: IntArray) -> IntArray:
    """Cluster labels renumbered 0, 1, ... in the order they first appear."""
    _, first = np.unique(raw, return_index=True)
    relabel = {raw[i]: j for j, i in enumerate(np.sort(first))}
    return np.array([relabel[r] for r in raw], dtype=np.int64)


def _by_cluster(assets: tuple[str, ...], labels: IntArray) -> dict[int, tuple[str, ...]]:
    """Cluster label -> the names of its assets, in the order of ``assets``."""
    return {
        int(c): tuple(a for a, lab in zip(assets, labels, strict=True) if lab == c)
        for c in np.unique(labels)
    }


def kmeans(points: FloatArray, k: int, *, seed: int = 0, n_init: int = 10) -> IntArray:
    """K-means labels of the rows of ``points`` (Lloyd's algorithm, k-means++ starts).

    The best of ``n_init`` runs by inertia (sum of squared distances to the centres), as
    sklearn's ``KMeans(n_init=10)``; a cluster left empty takes the point farthest from
    its centre. Plain numpy: for 20 assets this takes 10–20 ms, where sklearn's
    estimator took about 350 ms (mostly per-call overhead) on the same machine.
    """
    rng = np.random.default_rng(seed)
    n = points.shape[0]
    best, best_inertia = np.zeros(n, dtype=np.int64), np.inf
    for _ in range(n_init):
        centres = _kmeans_plus_plus(points, k, rng)
        labels = np.full(n, -1)
        for _ in range(300):
            d2 = ((points[:, None, :] - centres[None, :, :]) ** 2).sum(axis=2)
            new = d2.argmin(axis=1)
            for j in np.setdiff1d(np.arange(k), new):  # refill an empty cluster
                far = int(d2[np.arange(n), new].argmax())
                new[far] = j
                d2[far] = np.inf
                d2[far, j] = 0.0
            if np.array_equal(new, labels):
                break
            labels = new
            centres = np.array([points[labels == j].mean(axis=0) for j in range(k)])
        inertia = float(((points - centres[labels]) ** 2).sum())
        if inertia < best_inertia:
            best, best_inertia = labels.copy(), inertia
    return best


def _kmeans_plus_plus(points: FloatArray, k: int, rng: np.random.Generator) -> FloatArray:
    """Greedy k-means++ seeding (Arthur & Vassilvitskii 2007; sklearn's variant): each new
    centre is the best, by the resulting potential, of ``2 + ⌊ln k⌋`` draws ∝ D²."""
    n = points.shape[0]
    trials = 2 + int(np.log(k))
    centres = [points[rng.integers(n)]]
    closest = ((points - centres[0]) ** 2).sum(axis=1)
    for _ in range(1, k):
        total = closest.sum()
        if total <= 0:
            candidates = rng.integers(n, size=trials)
        else:
            candidates = rng.choice(n, size=trials, p=closest / total)
        d2 = ((points[None, :, :] - points[candidates][:, None, :]) ** 2).sum(axis=2)
        potentials = np.minimum(closest[None, :], d2)
        best = int(potentials.sum(axis=1).argmin())
        centres.append(points[candidates[best]])
        closest = potentials[best]
    return np.array(centres)


def cluster_weights(cov: FloatArray, labels: IntArray) -> FloatArray:
    """Inverse variance inside each cluster, inverse cluster variance across, shape (n,)."""
    cov = np.asarray(cov, dtype=np.float64)
    labels = np.asarray(labels)
    groups = [np.flatnonzero(labels == c) for c in np.unique(labels)]
    inner = np.zeros(cov.shape[0])
    cluster_var = np.empty(len(groups))
    for j, items in enumerate(groups):
        sub = cov[np.ix_(items, items)]
        inner[items] = inverse_variance_weights(sub)
        cluster_var[j] = inner[items] @ sub @ inner[items]
    across = (1.0 / cluster_var) / (1.0 / cluster_var).sum()
    for j, items in enumerate(groups):
        inner[items] *= across[j]
    return inner


class HierarchicalRiskParity(RiskBasedPolicy):
    """Hierarchical risk parity (Lopez de Prado 2016) on a point-in-time covariance.

    At each rebalance :func:`hrp_weights` on ``Σ`` from ``covariance`` (last ``lookback``
    returns dated <= t of the tradable assets): correlation distance ``√(½(1 − ρ))``,
    ``linkage`` tree, quasi-diagonal order, recursive bisection with inverse-variance
    cluster weights. Long-only, fully invested, no optimiser (it cannot fail on a
    singular ``Σ``).

    Parameters
    ----------
    linkage : {"single", "complete", "average", "weighted", "ward"}
        scipy linkage method (default ``single``, the paper's).
    lookback, rebalance_every, covariance
        As for :class:`~allocgym.baselines.MinVariance` (252, 21, ``ledoit_wolf``).

    Attributes
    ----------
    linkage_ : ndarray, shape (k − 1, 4)
        The last rebalance's tree (scipy linkage matrix over ``assets_``), for
        :func:`~allocgym.baselines.plot_dendrogram`.
    order_ : ndarray of int, shape (k,)
        Its quasi-diagonal order (positions in ``assets_``).
    clusters_ : dict of int to tuple of str
        The groups of that tree that :func:`~allocgym.baselines.plot_dendrogram` colours:
        the tree cut at 70 % of its highest merge (scipy's default colour threshold),
        numbered 0, 1, ... by first appearance in ``assets_``. For reading the tree
        only: HRP's weights come from the bisection, not from these groups.
    tree_date_ : Timestamp or None
        Date of the last rebalance, whose tree ``linkage_`` is.
    columns_, assets_
        The last rebalance's universe (asset positions and names).
    """

    def __init__(
        self,
        *,
        linkage: str = "single",
        lookback: int = 252,
        rebalance_every: int = 21,
        covariance: str | CovarianceEstimator = "ledoit_wolf",
    ) -> None:
        self.linkage = check_linkage(linkage)
        super().__init__(lookback=lookback, rebalance_every=rebalance_every, covariance=covariance)

    def reset(self) -> None:
        super().reset()
        self.linkage_: FloatArray | None = None
        self.order_: IntArray | None = None
        self.tree_date_: pd.Timestamp | None = None

    @property
    def clusters_(self) -> dict[int, tuple[str, ...]]:
        """The dendrogram's coloured groups of the last tree ({} before a rebalance)."""
        z = self.linkage_
        if z is None or z.shape[0] + 1 != len(self.assets_):  # none, or a one-asset universe
            return {}
        raw = fcluster(z, _COLOUR_CUT * z[:, 2].max(), criterion="distance")
        return _by_cluster(self.assets_, _first_appearance(raw))

    def _allocate(self, cov: FloatArray, columns: IntArray, state: PolicyState) -> FloatArray:
        self.linkage_ = linkage_matrix(cov, self.linkage)
        self.order_ = leaf_order(self.linkage_)
        self.tree_date_ = state.date
        return recursive_bisection(cov, self.order_)


class ClusterAllocation(RiskBasedPolicy):
    """Cluster the assets by correlation, then inverse variance inside and across clusters.

    At each rebalance :func:`cluster_labels` then :func:`cluster_weights` on ``Σ`` from
    ``covariance`` (see the module docstring). With fewer tradable assets than
    ``n_clusters`` at a date, every asset is its own cluster (inverse-variance weights).

    Parameters
    ----------
    n_clusters : int
        Number of clusters, 1 (inverse variance over all) to the number of assets.
    method : {"hierarchical", "kmeans"}
        Cut a ``linkage`` tree of the correlation distance, or K-means in the same
        geometry (seeded by ``seed``).
    linkage : {"single", "complete", "average", "weighted", "ward"}
        Tree for ``method="hierarchical"`` and for the dendrogram (default ``ward``:
        a single-linkage tree cut into k clusters tends to give one large cluster and
        singletons, by chaining).
    seed : int
        K-means initialisation seed (the weights are a deterministic function of the data).
    lookback, rebalance_every, covariance
        As for :class:`~allocgym.baselines.MinVariance` (252, 21, ``ledoit_wolf``).

    Attributes
    ----------
    labels_ : ndarray of int, shape (k,)
        Cluster of each asset of ``assets_`` at the last rebalance (0, 1, ... by first
        appearance).
    clusters_ : dict of int to tuple of str
        The same as cluster -> asset names.
    linkage_ : ndarray, shape (k − 1, 4)
        The ``linkage`` tree of the last rebalance (for the dendrogram; with K-means it
        is drawn for reference, the clusters come from K-means).
    tree_date_ : Timestamp or None
        Date of the last rebalance.
    columns_, assets_
        The last rebalance's universe.

    Raises
    ------
    ValueError
        ``n_clusters`` < 1, or (at :meth:`fit` and at rebalances) larger than the
        number of assets in the market; unknown ``method`` or ``linkage``.
    """

    def __init__(
        self,
        *,
        n_clusters: int = 4,
        method: str = "hierarchical",
        linkage: str = "ward",
        seed: int = 0,
        lookback: int = 252,
        rebalance_every: int = 21,
        covariance: str | CovarianceEstimator = "ledoit_wolf",
    ) -> None:
        if not isinstance(n_clusters, int | np.integer) or n_clusters < 1:
            raise ValueError(f"n_clusters={n_clusters!r}; expected an integer >= 1")
        if method not in CLUSTER_METHODS:
            raise ValueError(f"method={method!r}; expected one of {CLUSTER_METHODS}")
        self.n_clusters = int(n_clusters)
        self.method = method
        self.linkage = check_linkage(linkage)
        self.seed = int(seed)
        super().__init__(lookback=lookback, rebalance_every=rebalance_every, covariance=covariance)

    def reset(self) -> None:
        super().reset()
        self.labels_: IntArray | None = None
        self.clusters_: dict[int, tuple[str, ...]] = {}
        self.linkage_: FloatArray | None = None
        self.tree_date_: pd.Timestamp | None = None

    def fit(self, market: object, features: object = None) -> ClusterAllocation:
        """Check the features (as every baseline) and ``n_clusters`` against the market."""
        super().fit(market, features)  # type: ignore[arg-type]
        n_assets = getattr(market, "n_assets", None)
        if n_assets is not None:
            self._check_universe(int(n_assets))
        return self

    def _check_universe(self, n_assets: int) -> None:
        if self.n_clusters > n_assets:
            raise ValueError(
                f"n_clusters={self.n_clusters} is larger than the universe of {n_assets} "
                f"assets; expected 1 <= n_clusters <= {n_assets}"
            )

    def _allocate(self, cov: FloatArray, columns: IntArray, state: PolicyState) -> FloatArray:
        self._check_universe(state.n_assets)
        self.linkage_ = linkage_matrix(cov, self.linkage)
        labels = cluster_labels(
            cov, self.n_clusters, method=self.method, linkage=self.linkage, seed=self.seed
        )
        self.labels_ = labels
        self.clusters_ = _by_cluster(self.assets_, labels)
        self.tree_date_ = state.date
        return cluster_weights(cov, labels)
