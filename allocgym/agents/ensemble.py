"""`SeedEnsemble`: one policy that holds the average of its members' target weights.

An RL agent trained with several seeds gives several policies whose out-of-sample
results differ by luck alone. Their ensemble acts on the same state as each of them and
holds the mean of their target weights, a cheap variance reduction that costs no extra
training: its ``fit`` calls each member's ``fit``, and an :class:`~allocgym.agents.RLAgent`
returns the fold model it already fitted (kept in memory per fold) instead of training
it again.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from allocgym._typing import FloatArray
from allocgym.data import MarketData
from allocgym.envs.settings import EnvSettings
from allocgym.policy import Policy, observed_features
from allocgym.predictors.panel import FeaturePanel

__all__ = ["SeedEnsemble"]


class SeedEnsemble:
    """The equal-weight average of policies' target weights (seeds of one RL agent).

    At every close each member acts on the same :class:`~allocgym.policy.PolicyState`
    and the ensemble's target is ``w = (1/K) Σ_k w_k``. A convex combination of
    long-only fully invested portfolios is one too. When every member returns the same
    weights (all of them holding between decisions) those are returned unchanged, so
    holding costs exactly nothing.

    Parameters
    ----------
    members : sequence of Policy
        Two or more policies, usually :class:`~allocgym.agents.RLAgent` of one algorithm
        and configuration with different seeds. Members that carry training settings
        (``env``) must agree on what they observe, since they see one observation.
    name : str
        The ensemble's row in the results (the runner uses ``"<agent> ensemble"``).

    Attributes
    ----------
    member_names : list of str
        The members' ``name`` (recorded in the results' config).
    """

    kind = "RL"

    def __init__(self, members: Sequence[Policy], name: str = "ensemble") -> None:
        members = tuple(members)
        if len(members) < 2:
            raise ValueError(
                f"SeedEnsemble {name!r} got {len(members)} member(s); expected 2 or more"
            )
        for i, m in enumerate(members):
            if not (callable(getattr(m, "act", None)) and callable(getattr(m, "reset", None))):
                raise TypeError(
                    f"SeedEnsemble {name!r}: member {i} ({type(m).__name__}) has no "
                    "act(state)/reset(); expected an allocgym.policy.Policy"
                )
        self._members = members
        self.name = name
        self.member_names = [str(getattr(m, "name", type(m).__name__)) for m in members]
        self._env = _common_settings(members, name)
        observes = {repr(getattr(m, "observe", None)) for m in members}
        if len(observes) > 1:
            raise ValueError(
                f"SeedEnsemble {name!r}: members observe different features "
                f"({sorted(observes)}); they must act on one observation"
            )

    @property
    def members(self) -> tuple[Policy, ...]:
        return self._members

    @property
    def env(self) -> EnvSettings | None:
        """The members' settings (None if none has any): the backtest checks them."""
        return self._env

    def fit(self, market: MarketData, features: FeaturePanel | None = None) -> SeedEnsemble:
        """Fit every member that can be fitted on the fold's training part."""
        for m in self._members:
            fit = getattr(m, "fit", None)
            if callable(fit):
                fit(market, features)
        return self

    def observed_features(
        self, market: MarketData, features: FeaturePanel | None
    ) -> FeaturePanel | None:
        """The part of the panel the members observe (the same for all)."""
        return observed_features(self._members[0], market, features)

    def reset(self) -> None:
        for m in self._members:
            m.reset()

    def act(self, state: Any) -> FloatArray:
        """The mean of the members' target weights at ``state.t``, shape (n_assets + 1,)."""
        weights = [np.asarray(m.act(state), dtype=np.float64) for m in self._members]
        first = weights[0]
        if all(np.array_equal(w, first) for w in weights[1:]):
            return first  # (w + w + w) / 3 can differ from w in the last bit: a tiny trade
        return np.mean(weights, axis=0)


def _common_settings(members: tuple[Policy, ...], name: str) -> EnvSettings | None:
    settings = [s for m in members if isinstance(s := getattr(m, "env", None), EnvSettings)]
    for other in settings[1:]:
        diff = settings[0].differences(other)
        if diff:
            field, (a, b) = next(iter(diff.items()))
            raise ValueError(
                f"SeedEnsemble {name!r}: members observe different environments "
                f"(env.{field}={a!r} and {b!r}); they must act on one observation"
            )
    return settings[0] if settings else None
