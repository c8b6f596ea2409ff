"""A baseline policy as the reference portfolio of a :class:`~allocgym.envs.ResidualMap`.

:class:`PolicyReference` turns any :class:`~allocgym.policy.Policy` (a registered baseline
by name, ``"min_variance"``, ``"risk_parity"``, ``"hrp"``..., or an instance) into a
:class:`~allocgym.envs.Reference`: at decision index ``t`` it is the portfolio the
baseline holds after its decision at the close of ``t``, so a zero action of the residual
map is the baseline itself and the agent learns bounded deviations from it.

The environments *bind* it to their market and feature panel (``bind(market,
features)``, called by the environments' setup on every action map that has it), which
walks the baseline forward once over every row of the market, exactly as the backtester
would, and stores the table of its weights:

* row ``t`` is computed from ``PolicyState.at(market, t, ...)``: data dated ``<= t``
  only, so the table is point in time by construction;
* the baseline keeps its own schedule (a rebalance every ``rebalance_every`` rows,
  counted from row 0 of the market, the first decision it is asked for) and holds in
  between: rows between its rebalances are its drifted weights, as in a backtest;
* until its first trade (a baseline that cannot act yet, e.g. with fewer than 20 days
  of returns for its covariance, returns the weights it was given) the row is 1/N over
  the assets that trade at ``t``, no cash.

Cost: one ``policy.act`` per row, i.e. one optimisation per ``rebalance_every`` rows of
the baseline plus a cheap hold on the other rows. For 20 assets x 1,000 days,
``min_variance`` (21-day schedule, 252-day Ledoit-Wolf covariance) builds its table in
about 0.3 s; a training env binds once per fold, a backtest env once per segment.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import numpy as np

from allocgym._typing import FloatArray
from allocgym.data import MarketData
from allocgym.exceptions import ConfigError
from allocgym.policy import Policy, PolicyState
from allocgym.predictors.panel import FeaturePanel

__all__ = ["PolicyReference", "reference_from_spec"]

_TOL = 1e-9  # a baseline's weights must sum to 1 within this


class _Walk:
    """A private copy of a policy stepped forward over the rows of one market."""

    def __init__(self, policy: Policy, n_assets: int) -> None:
        self.policy = copy.deepcopy(policy)  # never share a schedule with another walk
        self.policy.reset()
        self.table = np.empty((0, n_assets + 1))
        self.after: FloatArray | None = None  # weights after the last row; None: not trading
        self.market: MarketData | None = None

    @property
    def n_rows(self) -> int:
        return self.table.shape[0]

    def extends(self, market: MarketData) -> bool:
        """Whether ``market`` starts with the rows walked so far (same dates and prices)."""
        old, k = self.market, min(self.n_rows, market.n_dates)
        if old is None or k == 0:
            return True
        return (
            tuple(old.assets) == tuple(market.assets)
            and old.dates[0] == market.dates[0]
            and old.dates[k - 1] == market.dates[k - 1]
            and np.array_equal(old.prices[k - 1], market.prices[k - 1], equal_nan=True)
        )

    def advance(self, market: MarketData, features: FeaturePanel | None, stop: int) -> None:
        """Compute rows ``n_rows .. stop - 1`` of ``market`` (which extends the rows walked).

        The weights the policy is given at ``t`` are its weights after ``t - 1`` drifted
        with the returns of ``t`` (cash earns ``rf``), as in the accounting engine; before
        its first trade, 1/N over the assets that trade at ``t``.
        """
        start = self.n_rows
        if market.n_dates >= start:
            self.market = market  # the longest market seen: extends() compares with it
        if stop <= start:
            return
        table = np.empty((stop, self.table.shape[1]))
        table[:start] = self.table
        growth = np.ones((stop - start, table.shape[1]))
        growth[:, 0] += np.nan_to_num(np.asarray(market.rf[start:stop], dtype=np.float64))
        growth[:, 1:] += np.nan_to_num(np.asarray(market.returns[start:stop], dtype=np.float64))
        after = self.after
        for t in range(start, stop):
            if after is None:
                given = _equal(market.available[t])
            else:
                given = after * growth[t - start]
                total = given.sum()
                given = given / total if total > 0 else after  # wiped out: nothing drifts
            state = PolicyState.at(market, t, given, features)
            target = np.asarray(self.policy.act(state), dtype=np.float64)
            _check_target(target, given.shape, self.policy, market.dates[t])
            if after is None and np.array_equal(target, given):
                table[t] = given  # the policy holds what it was given: not trading yet
            else:
                table[t] = after = target
        table.flags.writeable = False
        self.table, self.after = table, after


def _equal(available: Any) -> FloatArray:
    """1/N over the available assets, no cash (all cash when none is available)."""
    w = np.zeros(len(available) + 1)
    w[1:] = np.asarray(available, dtype=np.float64)
    n = w.sum()
    if n > 0:
        w *= 1.0 / n
    else:
        w[0] = 1.0
    return w


def _check_target(target: FloatArray, shape: tuple[int, ...], policy: object, date: Any) -> None:
    total = target.sum() if target.shape == shape else np.nan
    if not (np.isfinite(total) and target.min() >= -1e-12 and abs(total - 1.0) <= _TOL):
        raise ValueError(
            f"reference policy {policy!r} returned weights {target.tolist()} at {date}; "
            f"expected finite, non-negative weights of shape {shape} summing to 1 "
            "(index 0 = cash): a residual map tilts around long-only portfolios only"
        )


class PolicyReference:
    """The weights of a baseline policy, walked forward over the env's market.

    A :class:`~allocgym.envs.Reference` for :class:`~allocgym.envs.ResidualMap`: with
    ``p_t`` the portfolio the policy holds after its decision at the close of ``t``
    (module docstring), the reference at ``t`` is ``r_t = p_t``, and a zero action trades
    to it. ``r_t`` is computed from data dated ``<= t`` only (``PolicyState.at``).

    Parameters
    ----------
    policy : str or Policy
        A name in :data:`~allocgym.baselines.BASELINES` (``"min_variance"``,
        ``"risk_parity"``, ``"hrp"``, ...), or a policy object (``reset`` and ``act``;
        the reference walks a deep copy of it and never calls ``fit``: a fit on the
        env's whole market would see the future; the baselines estimate at each
        rebalance from the point-in-time state).
    params : mapping, optional
        Constructor parameters of a named baseline (as ``baselines[].params`` in a
        config), e.g. ``{"lookback": 126}``.

    Notes
    -----
    Unbound, it only holds the policy; the environments call :meth:`bind` with their
    market and feature panel, which builds the table of ``r_t`` for every row (cost in
    the module docstring). ``t`` is then a row of that market.

    Examples
    --------
    >>> from allocgym.envs import PortfolioEnv, ResidualMap
    >>> env = PortfolioEnv(market, action=ResidualMap(PolicyReference("min_variance")))
    >>> env.action_map.reference.table.shape  # (n_dates, n_assets + 1)
    """

    checked = True  # the walk checks every row: ResidualMap need not check again

    def __init__(
        self, policy: str | Policy = "min_variance", params: Mapping[str, Any] | None = None
    ) -> None:
        if params is not None and not isinstance(params, Mapping):
            raise TypeError(f"params must be a mapping of parameter names; got {params!r}")
        self.params = dict(params or {})
        if isinstance(policy, str):
            # baselines sit above envs in the layers: the registry is read only for a name
            from allocgym.baselines import BASELINES

            self.name = BASELINES.resolve(policy)
            self.policy: Policy = BASELINES.create(self.name, **self.params)
        elif isinstance(policy, Policy):
            if self.params:
                raise TypeError(
                    f"params={self.params!r} with a policy object; expected params only "
                    "with a baseline name (the object's constructor takes them)"
                )
            self.name, self.policy = None, policy
        else:
            raise TypeError(
                "policy must be a baseline name or a Policy (an object with reset and act); "
                f"got {type(policy).__name__}"
            )
        self._walk: _Walk | None = None

    def __repr__(self) -> str:
        if self.name is None:
            return f"PolicyReference({self.policy!r})"
        params = f", params={self.params!r}" if self.params else ""
        return f"PolicyReference({self.name!r}{params})"

    @property
    def bound(self) -> bool:
        """Whether :meth:`bind` has built the table."""
        return self._walk is not None

    @property
    def table(self) -> FloatArray:
        """``r_t`` for every row bound, shape (n_dates, n_assets + 1), read-only."""
        if self._walk is None:
            raise RuntimeError(
                f"{self!r} is not bound to a market: the environments bind it "
                "(PortfolioEnv(market, action=ResidualMap(reference))); call "
                "bind(market, features) to use it alone"
            )
        return self._walk.table

    def bind(self, market: MarketData, features: FeaturePanel | None = None) -> PolicyReference:
        """A new reference with the table of every row of ``market`` (this one unchanged).

        ``features``: the env's panel, aligned to ``market`` (or None).
        """
        bound = copy.copy(self)
        bound._walk = _Walk(self.policy, market.n_assets)
        bound._walk.advance(market, features, market.n_dates)
        return bound

    def extend(self, market: MarketData, features: FeaturePanel | None = None) -> PolicyReference:
        """Add the rows of ``market`` this reference lacks, in place; return self.

        For a caller that sees the market grow one day at a time (an
        :class:`~allocgym.agents.AgentPolicy` in a backtest sees ``market[: t + 1]``):
        rows already computed are kept when ``market`` starts with them (same first
        date, same date and prices at the last row computed), else the table is rebuilt
        for ``market``. Unbound: as :meth:`bind`, in place.
        """
        if self._walk is None or not self._walk.extends(market):
            self._walk = _Walk(self.policy, market.n_assets)
        self._walk.advance(market, features, market.n_dates)
        return self

    def weights(
        self, current: FloatArray, tradable: FloatArray, t: Any, out: FloatArray
    ) -> FloatArray:
        out[...] = self.table[t]
        return out

    def weights_batch(self, current: FloatArray, tradable: FloatArray, t: Any) -> FloatArray:
        return self.table[np.asarray(t)]  # fancy indexing: a new (B, n_assets + 1) array


def reference_from_spec(spec: Any) -> PolicyReference:
    """A :class:`PolicyReference` from a config value: a baseline name or ``{name, params}``.

    Raises
    ------
    ConfigError (a ValueError)
        Unknown baseline name (listing the known ones) or keys other than name/params.
    """
    if isinstance(spec, Mapping):
        extra = sorted(set(spec) - {"name", "params"})
        if "name" not in spec or extra:
            raise ConfigError(
                f"reference={dict(spec)!r}; expected a mapping with 'name' (a baseline) "
                "and optionally 'params'"
            )
        return PolicyReference(spec["name"], spec.get("params"))
    return PolicyReference(spec)
