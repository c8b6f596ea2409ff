"""What a trained agent looks at: permutation importance of observation groups.

For one policy (an :class:`~allocgym.agents.RLAgent` or an
:class:`~allocgym.agents.AgentPolicy`, anything that acts on ``state.observation``) over
the test windows of a walk-forward split, every *group* of observation entries (the
technical features, the GARCH volatilities, the regime probabilities, the LSTM forecast,
the window of past returns, ...) is rated three ways:

* **Sharpe drop**: the policy is backtested once as it is and once with the group's
  entries shuffled along time within each fold's test window (seeded; the same
  permutation of days moves all of the group's entries together, so a day's
  cross-section stays intact). The drop is ``S_ref - S_perm``, the annualised Sharpe
  ratios net of costs of the two tracks, both from :func:`~allocgym.backtest.backtest`
  (the one accounting engine). The permutation test of Breiman (2001, *Random forests*,
  Machine Learning 45) applied to groups of inputs.
* **Weight change**: ``mean_t 1/2 sum_i |w_perm,t,i - w_ref,t,i|`` over the test days, the
  share of wealth the permuted agent allocates differently (cash included; in [0, 1]
  long only).
* **Sensitivity**: a central finite difference of the agent's decision at each test day,
  ``1/2 ||w(x + h e) - w(x - h e)||_1 / (2 h)`` with ``e`` random signs on the group's
  entries (``h`` in the units of the standardised observation): the share of wealth
  that moves per standard deviation of the group's inputs, locally.

Each is repeated ``n_repeats`` times (permutations; directions) and reported as mean and
standard deviation over the repeats. Repeat ``r`` shuffles every group with the same
permutation of days (common random numbers: groups are compared on equal terms).

Caveats: correlated groups share importance (shuffling one leaves its information in the
other: momentum features and past returns carry the same trend); the permutation breaks
the time structure within the group (an agent that reads a change between days sees an
artificial one); the finite difference of a recurrent policy starts from a fresh state.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from allocgym._typing import Float32Array, FloatArray, IntArray
from allocgym.backtest.engine import backtest
from allocgym.backtest.splitter import WalkForward
from allocgym.data import MarketData
from allocgym.envs.observation import ObservationLayout
from allocgym.envs.settings import EnvSettings
from allocgym.policy import Policy, PolicyState, observed_features
from allocgym.predictors.groups import feature_groups
from allocgym.predictors.panel import FeaturePanel

__all__ = [
    "Importance",
    "default_groups",
    "group_indices",
    "permutation_importance",
]

RETURNS, TIME = "returns", "time"
"""Group members that are observation parts rather than panel features: the window of
past log returns and the calendar features."""

_N_BOOT = 10  # backtest's bootstrap CI of the Sharpe ratio is not read here
_COLUMNS = (
    "n_inputs", "sharpe_drop", "sharpe_drop_std", "weight_change", "weight_change_std",
    "sensitivity", "sensitivity_std",
)  # fmt: skip


@dataclass(frozen=True)
class Importance:
    """Permutation importance of one policy's observation groups.

    Attributes
    ----------
    policy : str
    table : pandas.DataFrame
        One row per group, sorted by ``sharpe_drop`` (largest first); columns
        ``n_inputs`` (observation entries in the group), ``sharpe_drop``,
        ``weight_change``, ``sensitivity`` (means over the repeats) and their ``_std``.
    base_sharpe : float
        Annualised Sharpe ratio net of costs of the unpermuted track.
    n_days : int
        Test days the policy acted on.
    n_repeats, seed : int
    """

    policy: str
    table: pd.DataFrame
    base_sharpe: float
    n_days: int
    n_repeats: int
    seed: int

    def ranking(self, by: str = "sharpe_drop") -> list[str]:
        """Group names, most important first by column ``by``."""
        return list(self.table[by].sort_values(ascending=False, kind="stable").index)


# ------------------------------------------------------------------ groups
def default_groups(
    features: FeaturePanel | None, market: MarketData, settings: EnvSettings
) -> dict[str, tuple[str, ...]]:
    """The observation's groups: one per predictor, the past returns, the calendar.

    The panel's groups (:func:`~allocgym.predictors.feature_groups`: ``technical``,
    ``garch``, ``regime``, ``lstm``, a plug-in feature's own), then ``returns``, the
    window of past log returns, and ``time``, the calendar features (with
    ``time_features``). The mask and the current weights are not a group: they describe
    the portfolio, not the market.
    """
    groups = dict(feature_groups(features, market))
    groups[RETURNS] = (RETURNS,)
    if settings.time_features:
        groups[TIME] = (TIME,)
    return groups


def group_indices(
    layout: ObservationLayout,
    features: FeaturePanel | None,
    groups: Mapping[str, Sequence[str]],
) -> dict[str, IntArray]:
    """Positions of each group's entries in the flat observation.

    Parameters
    ----------
    layout : ObservationLayout
    features : FeaturePanel or None
    groups : mapping of str to sequence of str
        Group name to members: per-asset feature names (every asset's entry), market
        feature names, ``"returns"`` or ``"time"``.

    Returns
    -------
    dict of str to ndarray of int, each sorted and unique
    """
    per_asset = () if features is None else features.feature_names
    market_level = () if features is None else features.market_feature_names
    sl = layout.slices
    out: dict[str, IntArray] = {}
    for group, members in groups.items():
        if isinstance(members, str) or not members:
            raise ValueError(
                f"groups[{group!r}]={members!r} is invalid; expected a non-empty list of "
                "feature names"
            )
        parts = []
        for name in members:
            if name in per_asset:
                start, f = sl["features"].start, per_asset.index(name)
                parts.append(start + f + layout.n_features * np.arange(layout.n_assets))
            elif name in market_level:
                parts.append(np.array([sl["market"].start + market_level.index(name)]))
            elif name in (RETURNS, TIME) and name in sl:
                parts.append(np.arange(sl[name].start, sl[name].stop))
            else:
                known = [*per_asset, *market_level, *(p for p in (RETURNS, TIME) if p in sl)]
                raise ValueError(
                    f"groups[{group!r}] names {name!r}, which is not in the observation; "
                    f"expected one of {known}"
                )
        out[group] = np.unique(np.concatenate(parts)).astype(np.int64)
    return out


# ------------------------------------------------------------------ observations
def _flat(observation: Any, layout: ObservationLayout) -> Float32Array:
    """A flat float32 copy of a flat or Dict observation."""
    if isinstance(observation, Mapping):
        return np.concatenate(
            [np.asarray(observation[k], dtype=np.float32).reshape(-1) for k in layout.slices]
        )
    flat = np.array(observation, dtype=np.float32).reshape(-1)
    if flat.size != layout.size:
        raise ValueError(
            f"the observation has {flat.size} entries; the layout expects {layout.size}: "
            "pass the EnvSettings the policy was trained with"
        )
    return flat


def _like(flat: Float32Array, observation: Any, layout: ObservationLayout) -> Any:
    """``flat`` in the form of ``observation`` (a flat array or a Dict)."""
    if isinstance(observation, Mapping):
        return {k: flat[s].reshape(layout.shapes[k]) for k, s in layout.slices.items()}
    return flat


class _Probe:
    """The decision a policy's current model would take at ``state``, without side effects.

    Wraps the model of an :class:`~allocgym.agents.AgentPolicy` (an RLAgent's current
    fold's ``policy_``) in a fresh one-step AgentPolicy, reset before every call, so the
    finite differences go through the agent's own ``act``. None for other policies.
    """

    def __init__(self) -> None:
        self._of: Any = None
        self._probe: Any = None

    def __call__(self, policy: Policy) -> Any:
        from allocgym.agents import AgentPolicy  # imports torch: only when explaining

        current = getattr(policy, "policy_", policy)
        if current is not self._of:
            self._of = current
            model = getattr(current, "model", None)
            action_map = getattr(current, "action_map", None)
            self._probe = None
            if model is not None and action_map is not None:
                deterministic = getattr(current, "deterministic", True)
                self._probe = AgentPolicy(model, action_map, deterministic=deterministic)
        return self._probe


class _Wrapped:
    """A policy run through the backtest under another name; ``fit`` and ``reset`` pass
    through, so an RLAgent loads (or reuses) its fold's model as in the run."""

    kind = "RL"

    def __init__(self, policy: Policy, layout: ObservationLayout, name: str) -> None:
        self.name = name
        self.env = getattr(policy, "env", None)  # the backtest checks it against its own
        self._policy, self._layout = policy, layout
        self.weights: dict[int, FloatArray] = {}

    def reset(self) -> None:
        self._policy.reset()

    def fit(self, market: MarketData, features: FeaturePanel | None = None) -> _Wrapped:
        fit = getattr(self._policy, "fit", None)
        if callable(fit):
            fit(market, features)
        return self


class _Recorder(_Wrapped):
    """Runs ``policy`` unchanged; records observations, weights and sensitivities per day."""

    def __init__(
        self,
        policy: Policy,
        layout: ObservationLayout,
        groups: Mapping[str, IntArray],
        n_repeats: int,
        seed: int,
        step: float,
    ) -> None:
        super().__init__(policy, layout, getattr(policy, "name", type(policy).__name__))
        self._groups, self._n_repeats, self._seed, self._step = groups, n_repeats, seed, step
        self._probe = _Probe()
        self.observations: dict[int, Float32Array] = {}
        self.sensitivity: dict[int, FloatArray] = {}  # (n_groups, n_repeats) per day

    def act(self, state: PolicyState) -> FloatArray:
        flat = _flat(state.observation, self._layout)
        weights = np.array(self._policy.act(state), dtype=np.float64)
        self.observations[state.t] = flat
        self.weights[state.t] = weights
        probe = self._probe(self._policy)
        if probe is not None:
            self.sensitivity[state.t] = self._differences(probe, state, flat)
        return weights

    def _differences(self, probe: Any, state: PolicyState, flat: Float32Array) -> FloatArray:
        rng = np.random.default_rng([self._seed, state.t])
        h = self._step
        out = np.empty((len(self._groups), self._n_repeats))
        for i, ix in enumerate(self._groups.values()):
            for r in range(self._n_repeats):
                e = rng.choice(np.array([-h, h], dtype=np.float32), size=ix.size)
                moved = []
                for sign in (1.0, -1.0):
                    x = flat.copy()
                    x[ix] += sign * e
                    probe.reset()
                    obs = _like(x, state.observation, self._layout)
                    moved.append(np.array(probe.act(dataclasses.replace(state, observation=obs))))
                out[i, r] = 0.5 * np.abs(moved[0] - moved[1]).sum() / (2.0 * h)
        return out


class _Permuted(_Wrapped):
    """Runs ``policy`` with one group's entries at ``t`` taken from day ``perm[t]``."""

    def __init__(
        self,
        policy: Policy,
        layout: ObservationLayout,
        index: IntArray,
        source: Mapping[int, Float32Array],
        perm: Mapping[int, int],
        name: str,
    ) -> None:
        super().__init__(policy, layout, name)
        self._index, self._source, self._perm = index, source, perm

    def act(self, state: PolicyState) -> FloatArray:
        flat = _flat(state.observation, self._layout)
        donor = self._source[self._perm.get(state.t, state.t)]
        flat[self._index] = donor[self._index]
        obs = _like(flat, state.observation, self._layout)
        weights = np.array(
            self._policy.act(dataclasses.replace(state, observation=obs)), dtype=np.float64
        )
        self.weights[state.t] = weights
        return weights


# ------------------------------------------------------------------ the method
def _permutations(
    days: Sequence[int], windows: Iterable[np.ndarray], n_repeats: int, seed: int
) -> list[dict[int, int]]:
    """For each repeat, a map day -> donor day, a permutation within each test window."""
    days_arr = np.asarray(sorted(days), dtype=np.int64)
    windows = [w for w in windows if w.size]
    perms = []
    for r in range(n_repeats):
        rng = np.random.default_rng([seed, r])
        perm: dict[int, int] = {}
        for w in windows:
            d = days_arr[(days_arr >= w[0]) & (days_arr <= w[-1])]
            perm.update(zip(d.tolist(), d[rng.permutation(d.size)].tolist(), strict=True))
        perms.append(perm)
    return perms


def _check_args(n_repeats: int, step: float) -> None:
    if not isinstance(n_repeats, int | np.integer) or isinstance(n_repeats, bool) or n_repeats < 1:
        raise ValueError(f"n_repeats={n_repeats!r} is invalid; expected an integer >= 1")
    if not (np.isfinite(step) and step > 0):
        raise ValueError(f"step={step!r} is invalid; expected a finite number > 0")


def permutation_importance(
    policy: Policy,
    market: MarketData,
    features: FeaturePanel | None = None,
    *,
    splitter: WalkForward | None = None,
    env: EnvSettings | None = None,
    groups: Mapping[str, Sequence[str]] | None = None,
    n_repeats: int = 5,
    seed: int = 0,
    step: float = 0.1,
) -> Importance:
    """Permutation importance and sensitivity of each observation group for ``policy``.

    Parameters
    ----------
    policy : Policy
        Acts on ``state.observation``: an :class:`~allocgym.agents.RLAgent` (fitted, or
        loading its saved models, on each fold's training part by the backtest) or an
        :class:`~allocgym.agents.AgentPolicy`.
    market : MarketData
    features : FeaturePanel, optional
        The feature panel (aligned with ``market``); a policy that observes part of it
        (an agent's ``observe``) is rated on that part
        (:func:`~allocgym.policy.observed_features`).
    splitter : WalkForward, optional
        The walk-forward split (default that of :func:`~allocgym.backtest.backtest`);
        the policy is rated over its test windows.
    env : EnvSettings, optional
        The settings the policy was trained with (default: ``policy.env``, else
        ``EnvSettings()``).
    groups : mapping of str to sequence of str, optional
        Group name to members (see :func:`group_indices`); default
        :func:`default_groups`.
    n_repeats : int, default 5
        Permutations (and finite-difference directions) per group.
    seed : int, default 0
        Seeds the permutations and directions: same seed, same result.
    step : float, default 0.1
        ``h`` of the central finite difference, in standard deviations of the
        standardised observation.

    Returns
    -------
    Importance

    Notes
    -----
    Costs ``1 + n_groups * n_repeats`` backtests of the policy over the test windows
    and ``2 * n_groups * n_repeats`` extra decisions per test day.
    """
    _check_args(n_repeats, step)
    settings = env if env is not None else getattr(policy, "env", None) or EnvSettings()
    features = observed_features(policy, market, features)  # what the agent observes
    n_feat = 0 if features is None else features.n_features
    n_mkt = 0 if features is None else len(features.market_feature_names)
    layout = ObservationLayout.build(
        market.n_assets, n_feat, n_mkt, settings.window, settings.time_features
    )
    groups = default_groups(features, market, settings) if groups is None else groups
    index = group_indices(layout, features, groups)
    kwargs = {"splitter": splitter, "env": settings, "n_boot": _N_BOOT, "progress": False}
    ref = _Recorder(policy, layout, index, int(n_repeats), seed, float(step))
    base = backtest({ref.name: ref}, market, features, **kwargs)
    used = WalkForward(**base.config["splitter"])  # the backtest's default when None
    windows = [test for _, test in used.split(market.n_dates)]
    perms = _permutations(list(ref.observations), windows, int(n_repeats), seed)
    runs = {
        f"{g} #{r}": _Permuted(policy, layout, ix, ref.observations, perm, f"{g} #{r}")
        for g, ix in index.items()
        for r, perm in enumerate(perms)
    }
    shuffled = backtest(runs, market, features, **kwargs)
    base_sharpe = float(base.metrics.loc[ref.name, "sharpe"])
    rows = {}
    for i, (g, ix) in enumerate(index.items()):
        keys = [f"{g} #{r}" for r in range(int(n_repeats))]
        drops = base_sharpe - shuffled.metrics.loc[keys, "sharpe"].to_numpy(dtype=np.float64)
        changes = np.array([_weight_change(ref.weights, runs[k].weights) for k in keys])
        sens = (
            np.mean([s[i] for s in ref.sensitivity.values()], axis=0)
            if ref.sensitivity
            else np.full(int(n_repeats), np.nan)
        )
        rows[g] = [ix.size, *_mean_std(drops), *_mean_std(changes), *_mean_std(sens)]
    table = pd.DataFrame.from_dict(rows, orient="index", columns=list(_COLUMNS))
    table["n_inputs"] = table["n_inputs"].astype(int)
    table.index.name = "group"
    table = table.sort_values("sharpe_drop", ascending=False, kind="stable")
    return Importance(ref.name, table, base_sharpe, len(ref.weights), int(n_repeats), seed)


def _weight_change(ref: Mapping[int, FloatArray], other: Mapping[int, FloatArray]) -> float:
    """``mean_t 1/2 sum_i |w_other - w_ref|`` over the days both ran."""
    days = sorted(ref.keys() & other.keys())
    if not days:
        return float("nan")
    diff = np.array([other[t] - ref[t] for t in days])
    return float(0.5 * np.abs(diff).sum(axis=1).mean())


def _mean_std(x: FloatArray) -> tuple[float, float]:
    x = np.asarray(x, dtype=np.float64)
    return float(np.mean(x)), float(np.std(x, ddof=1)) if x.size > 1 else 0.0
