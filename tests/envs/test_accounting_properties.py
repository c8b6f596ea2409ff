"""Property-based tests of the accounting (SPEC invariants 2 and 3), through the public API.

They pin what the single env (``PortfolioEnv``), the vectorised env (``PortfolioVecEnv``)
and the cost model (``CostModel.remainder``/``remainder_reference``/``remainder_batch``/
``solve``/``solve_batch``) must agree on, so that merging their accounting into one
batched function cannot silently change a number.

Notation (per unit of pre-trade wealth, index 0 = cash): drifted weights ``w'``, target
weights ``w``, buy rates ``p_i``, sell rates ``s_i``, impact ``b``, volatility ``sigma_i``,
solved remainder ``mu`` and ``C = 1 - mu``; the trade is ``z_i = mu w_i - w'_i``, sold
``S_i = (-z_i)^+``, bought ``B_i = (z_i)^+`` and ``I = b sum_i sigma_i |z_i|^{3/2}``.

Cost decomposition. Summing ``w'_j - mu w_j`` over cash and assets gives ``1 - mu = C``
(both weight vectors sum to 1). The asset terms are ``S_i - B_i`` and, by the cash balance
of :mod:`allocgym.envs.costs`, the cash term is ``-sum (1 - s_i) S_i + sum B_i / (1 - p_i)
+ I``. Hence

    C = sum_i s_i S_i + sum_i p_i / (1 - p_i) B_i + I  >=  0.

Turnover bounds (no impact). Let ``T = sum_{i>=1} |w'_i - w_i|`` (the pre-trade, first-order
turnover of Jiang et al. 2017), ``G = sum_{i>=1} |w_i|`` (gross target exposure; ``1 - w_0``
long only), ``c_hi = max_i max(s_i, p_i / (1 - p_i))`` and ``c_lo = min_i min(s_i, p_i)``.
Since ``|z_i|`` lies within ``|w'_i - w_i| -+ C |w_i|``, the decomposition gives
``c_lo (T - C G) <= C <= c_hi (T + C G)``, i.e.

    c_lo T / (1 + c_lo G)  <=  C  <=  c_hi T / (1 - c_hi G)

(one rate ``c``: ``C <= c T / (1 - c G) = c T + O(c^2)``, the first-order approximation
``mu ~= 1 - c T`` of Jiang et al. as a strict bound). With impact the lower bound still
holds and ``C <= c_hi sum_i |z_i| + I`` at the solved trade.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from allocgym.data import MarketData
from allocgym.envs import CostModel, PortfolioEnv
from allocgym.envs.vector import PortfolioVecEnv

BPS = 1e-4
ROUNDING = 1e-15  # weights sum to 1 only to rounding, so "cost >= 0" holds to this much
IMPACT_WINDOW = 21  # docs/environment.md: "the asset's trailing 21-day volatility known at t"


# ------------------------------------------------------------------ independent formulas
def per_asset(bps, n: int) -> np.ndarray:
    return np.broadcast_to(np.asarray(bps, dtype=np.float64) * BPS, (n,)).copy()


def cash_balance_gap(mu, wd, wt, p, s, b=0.0, sigma=None) -> float:
    """Post-trade cash ``mu w_0`` minus (pre-trade cash + net proceeds - purchases - impact)."""
    z = mu * wt[1:] - wd[1:]
    sold, bought = np.maximum(-z, 0.0), np.maximum(z, 0.0)
    impact = 0.0 if not b else b * float(np.dot(sigma, np.abs(z) ** 1.5))
    return mu * wt[0] - (wd[0] + ((1 - s) * sold).sum() - (bought / (1 - p)).sum() - impact)


def impact_sigma(market: MarketData, t: int) -> np.ndarray:
    """Trailing root mean square of daily returns over rows ``t - 20 .. t`` (NaN = 0)."""
    r = np.nan_to_num(np.asarray(market.returns)[max(0, t - IMPACT_WINDOW + 1) : t + 1])
    return np.sqrt((r * r).mean(axis=0))


def held_growth(market: MarketData, t: int, t1: int) -> np.ndarray:
    """``prod_{d=t+1}^{t1} (1 + r_d)`` per column, cash (risk-free) first; NaN returns = 0."""
    r = np.column_stack([market.rf, np.nan_to_num(np.asarray(market.returns))])
    return np.prod(1.0 + r[t + 1 : t1 + 1], axis=0)


# ------------------------------------------------------------------ strategies
def bps_values(n: int, high: float = 500.0):
    rate = st.one_of(st.just(0.0), st.floats(0.0, high))
    return st.one_of(rate, st.lists(rate, min_size=n, max_size=n))


@st.composite
def weight_vectors(draw, n: int, long_short: bool = False) -> np.ndarray:
    """Weights of shape (n + 1,) summing to 1, exact zeros included; gross <= 1 if short."""
    part = st.one_of(st.just(0.0), st.floats(0.0, 1.0))
    if not long_short:
        raw = draw(st.lists(part, min_size=n + 1, max_size=n + 1).filter(lambda v: sum(v) > 1e-3))
        w = np.array(raw)
        return w / w.sum()
    assets = np.array(draw(st.lists(st.floats(-1.0, 1.0), min_size=n, max_size=n)))
    assets /= max(1.0, np.abs(assets).sum())
    return np.concatenate(([1.0 - assets.sum()], assets))


@dataclass
class Rebalance:
    wd: np.ndarray
    wt: np.ndarray
    buy_bps: object
    sell_bps: object
    impact: float
    sigma: np.ndarray

    @property
    def n(self) -> int:
        return self.wd.shape[0] - 1

    def model(self) -> CostModel:
        return CostModel(self.buy_bps, sell_bps=self.sell_bps, impact=self.impact)

    def rates(self) -> tuple[np.ndarray, np.ndarray]:
        p = per_asset(self.buy_bps, self.n)
        s = p if self.sell_bps is None else per_asset(self.sell_bps, self.n)
        return p, s


@st.composite
def rebalances(draw, impact: bool | None = None, long_short: bool | None = None) -> Rebalance:
    n = draw(st.integers(1, 5))
    short = draw(st.booleans()) if long_short is None else long_short
    wd = draw(weight_vectors(n, short))
    wt = draw(st.one_of(weight_vectors(n, short), st.just(wd)))  # sometimes no trade
    with_impact = draw(st.booleans()) if impact is None else impact
    b = draw(st.floats(0.01, 2.0)) if with_impact else 0.0
    sigma = np.array(draw(st.lists(st.floats(0.0, 0.08), min_size=n, max_size=n)))
    return Rebalance(wd, wt, draw(bps_values(n)), draw(st.none() | bps_values(n)), b, sigma)


# ------------------------------------------------------------------ the cost model
@given(rebalances(impact=False))
def test_cost_is_within_the_turnover_bounds(case):
    """``c_lo T / (1 + c_lo G) <= C <= c_hi T / (1 - c_hi G)`` (module docstring)."""
    p, s = case.rates()
    mu, cost = case.model().remainder(case.wd, case.wt)
    assert cost == 1.0 - mu
    turnover = np.abs(case.wd[1:] - case.wt[1:]).sum()
    gross = np.abs(case.wt[1:]).sum()
    c_hi = max(s.max(), (p / (1 - p)).max())
    c_lo = min(s.min(), p.min())
    assert -ROUNDING <= cost <= c_hi * turnover / (1 - c_hi * gross) + 1e-14
    assert cost >= c_lo * turnover / (1 + c_lo * gross) - 1e-14


@given(rebalances())
def test_cash_balance_holds_at_the_solved_remainder(case):
    """The self-financing identity of costs.py's docstring, and ``C`` = rates x traded + I."""
    cm = case.model()
    p, s = case.rates()
    sigma = case.sigma if case.impact else None
    mu, cost = cm.remainder(case.wd, case.wt, sigma)
    gap = cash_balance_gap(mu, case.wd, case.wt, p, s, case.impact, case.sigma)
    assert abs(gap) <= 1e-12
    z = mu * case.wt[1:] - case.wd[1:]
    impact = case.impact * float(np.dot(case.sigma, np.abs(z) ** 1.5))
    charged = (s * np.maximum(-z, 0)).sum() + (p / (1 - p) * np.maximum(z, 0)).sum() + impact
    assert cost == pytest.approx(charged, abs=1e-12)
    assert -ROUNDING <= cost <= max(s.max(), (p / (1 - p)).max()) * np.abs(z).sum() + impact + 1e-12
    turnover = np.abs(case.wd[1:] - case.wt[1:]).sum()
    c_lo = min(s.min(), p.min())
    assert cost >= c_lo * turnover / (1 + c_lo * np.abs(case.wt[1:]).sum()) - 1e-12
    if np.array_equal(case.wd, case.wt):
        assert cost == pytest.approx(0.0, abs=1e-13)


@given(rebalances())
def test_remainder_equals_the_reference_and_solve_reports_the_trade(case):
    cm = case.model()
    sigma = case.sigma if case.impact else None
    mu, _ = cm.remainder(case.wd, case.wt, sigma)
    assert mu == pytest.approx(cm.remainder_reference(case.wd, case.wt, sigma), abs=1e-12)
    trade = np.full(case.n + 1, np.nan)
    assert cm.solve(np.array([case.wd, case.wt]), sigma, trade) == pytest.approx(mu, abs=1e-15)
    np.testing.assert_allclose(trade, mu * case.wt - case.wd, rtol=0, atol=1e-15)


@st.composite
def batches(draw):
    n = draw(st.integers(2, 5))
    rows = draw(st.integers(2, 6))
    short = draw(st.booleans())
    wd = np.array([draw(weight_vectors(n, short)) for _ in range(rows)])
    wt = np.array([draw(weight_vectors(n, short)) for _ in range(rows)])
    # distinct volatilities per asset and per row: a reversed or shared sigma must show
    vol = st.lists(st.floats(0.002, 0.08), min_size=n, max_size=n, unique=True)
    sigma = np.array([draw(vol) for _ in range(rows)])
    b = draw(st.one_of(st.just(0.0), st.floats(0.05, 2.0)))
    return wd, wt, draw(bps_values(n)), draw(st.none() | bps_values(n)), b, sigma


@given(batches())
def test_batch_rows_equal_single_remainders(batch):
    """remainder_batch/solve_batch row ``b`` == remainder of row ``b`` (B > 1, own sigma)."""
    wd, wt, buy, sell, b, sigma = batch
    cm = CostModel(buy, sell_bps=sell, impact=b)
    mu, cost = cm.remainder_batch(wd, wt, sigma)
    single = np.array([cm.remainder(x, y, sig)[0] for x, y, sig in zip(wd, wt, sigma, strict=True)])
    np.testing.assert_allclose(mu, single, rtol=0, atol=1e-12)
    np.testing.assert_allclose(cost, 1.0 - mu, rtol=0, atol=0)
    trade = np.full_like(wd, np.nan)
    np.testing.assert_allclose(cm.solve_batch(wd, wt, sigma, trade), mu, rtol=0, atol=1e-15)
    np.testing.assert_allclose(trade, mu[:, None] * wt - wd, rtol=0, atol=1e-15)


# ------------------------------------------------------------------ environments
@dataclass
class Scenario:
    """One episode setup shared by single and vectorised envs."""

    market_name: str
    kwargs: dict
    n_envs: int
    mode: str  # "actions" (step) or "weights" (step_weights)
    seed: int
    random_start: bool
    market: MarketData | None = field(default=None, repr=False)


def random_market(seed: int, n_assets: int) -> MarketData:
    """``n_assets`` assets over 200 days with per-asset volatility and late first prices."""
    rng = np.random.default_rng(seed)
    vol = rng.uniform(0.003, 0.05, n_assets)
    prices = 50 * np.exp(np.cumsum(rng.normal(0, 1, (200, n_assets)) * vol, axis=0))
    for i, first in enumerate(rng.choice([0, 0, 105, 112, 125], n_assets)):
        prices[:first, i] = np.nan
    rf = np.full(200, rng.uniform(0, 0.05) / 252)
    dates = pd.bdate_range("2001-01-01", periods=200)
    return MarketData.from_prices(prices, dates, [f"a{i}" for i in range(n_assets)], risk_free=rf)


@st.composite
def scenarios(draw, impact: bool | None = None, random_start: bool | None = None) -> Scenario:
    name = draw(st.sampled_from(["small", "late", "random"]))
    n = draw(st.integers(1, 4)) if name == "random" else 5
    seed = draw(st.integers(0, 2**32 - 1))
    k = draw(st.integers(1, 5))
    periods = draw(st.integers(1, 6))
    start = draw(st.integers(100, 118))
    spread = draw(st.booleans()) if random_start is None else random_start
    kwargs = {"start": start, "rebalance_every": k, "window": 10}
    if spread:  # rows start on different dates: each must use its own date's data
        kwargs["episode_length"] = periods
        kwargs["end"] = start + periods * k + draw(st.integers(0, 3 * k))
    else:  # the last holding period is short unless the remainder is 0
        kwargs["end"] = start + periods * k + draw(st.integers(0, k - 1))
    with_impact = draw(st.booleans()) if impact is None else impact
    kwargs["cost_bps"] = CostModel(
        draw(bps_values(n, 100.0)),
        sell_bps=draw(st.none() | bps_values(n, 100.0)),
        impact=draw(st.floats(0.05, 2.0)) if with_impact else 0.0,
    )
    kwargs["action"] = draw(st.sampled_from(["simplex", "long_short"]))
    return Scenario(
        name,
        kwargs,
        draw(st.integers(2, 4)),
        draw(st.sampled_from(["actions", "weights"])),
        seed,
        spread,
        random_market(seed, n) if name == "random" else None,
    )


class Markets(dict):
    """The fixture markets by name (short repr in hypothesis' failure reports)."""

    def __repr__(self) -> str:
        return f"Markets({sorted(self)})"


@pytest.fixture(scope="session")
def markets(small_market, late_market):
    return Markets(small=small_market, late=late_market)


def market_of(sc: Scenario, markets) -> MarketData:
    return sc.market if sc.market is not None else markets[sc.market_name]


def episode_end(sc: Scenario, t0: int) -> int:
    """Last date of an episode starting at ``t0``: ``end``, or earlier with episode_length."""
    length = sc.kwargs.get("episode_length")
    end = sc.kwargs["end"]
    return end if length is None else min(t0 + length * sc.kwargs["rebalance_every"], end)


def single_envs(sc: Scenario, market: MarketData, starts) -> list[PortfolioEnv]:
    envs = [PortfolioEnv(market, None, **sc.kwargs) for _ in starts]
    for env, t0 in zip(envs, starts, strict=True):
        env.reset(options={"start": int(t0)})
    return envs


def draw_actions(sc: Scenario, rng, n_rows: int, n_assets: int) -> np.ndarray:
    dim = n_assets if sc.kwargs["action"] == "long_short" else n_assets + 1
    return np.clip(rng.uniform(-1.5, 1.5, (n_rows, dim)), -1, 1).astype(np.float32)


def draw_inputs(sc: Scenario, rng, n_rows: int, n_assets: int) -> np.ndarray:
    """A batch of actions (mode "actions") or of long-only target weights ("weights")."""
    if sc.mode == "weights":  # weight on untradable assets too: it must go to cash
        return rng.dirichlet(np.full(n_assets + 1, 0.5), size=n_rows)
    return draw_actions(sc, rng, n_rows, n_assets)


@given(sc=scenarios())
def test_vector_env_rows_follow_single_envs(markets, sc):
    """Every row of the batch == a single env with that row's start and inputs, to the end."""
    market = market_of(sc, markets)
    venv = PortfolioVecEnv(
        market, None, n_envs=sc.n_envs, random_start=sc.random_start, seed=sc.seed, **sc.kwargs
    )
    obs = venv.reset()
    starts = venv.t.tolist()
    envs = single_envs(sc, market, starts)
    for i, env in enumerate(envs):
        np.testing.assert_allclose(obs[i], env.observation(), rtol=0, atol=1e-7)
    rng = np.random.default_rng(sc.seed)
    while True:
        x = draw_inputs(sc, rng, sc.n_envs, market.n_assets)
        infos = [{}] * sc.n_envs
        if sc.mode == "weights":
            obs, rewards, terminated, truncated = venv.step_weights(x)
            dones = terminated | truncated
        else:
            obs, rewards, dones, infos = venv.step(x)
        for i, env in enumerate(envs):
            o, r, te, tr, info = env.step_weights(x[i]) if sc.mode == "weights" else env.step(x[i])
            for key in ("cost", "turnover", "gross_return", "net_return"):
                assert venv.last[key][i] == pytest.approx(info[key], rel=1e-12, abs=1e-13), key
            if not (dones[i] and sc.mode == "actions"):  # see test_vector.py for last["wealth"]
                assert venv.last["wealth"][i] == pytest.approx(env.wealth, rel=1e-12)
            assert rewards[i] == pytest.approx(r, rel=1e-6, abs=1e-7)
            assert bool(dones[i]) == (te or tr)
            if dones[i] and sc.mode == "actions":  # auto-reset: the episode's last state
                assert infos[i]["episode_wealth"] == pytest.approx(env.wealth, rel=1e-12)
                np.testing.assert_allclose(infos[i]["terminal_observation"], o, atol=1e-7)
            else:
                np.testing.assert_allclose(venv.weights[i], env.weights, rtol=0, atol=1e-13)
                np.testing.assert_allclose(obs[i], o, rtol=0, atol=1e-7)
                assert venv.t[i] == env.t
        if dones.any():
            assert dones.all()  # same start or same episode length: all rows end together
            break
    assert all(env.t == episode_end(sc, t0) for env, t0 in zip(envs, starts, strict=True))


@given(sc=scenarios())
def test_single_env_wealth_identity(markets, sc):
    """``W_{t1} = W_t mu sum_j w_j prod_{d=t+1}^{t1} (1 + r_{d,j})``, ``t1 = min(t + k, end)``.

    The cost is ``CostModel.remainder`` of the step's weights (with impact: sigma is the
    trailing 21-day root mean square of returns up to and including ``t``), and the new
    drifted weights are the held values normalised.
    """
    market = market_of(sc, markets)
    (env,) = single_envs(sc, market, [sc.kwargs["start"]])
    cm, k, end = env.cost_model, sc.kwargs["rebalance_every"], episode_end(sc, env.t)
    rng = np.random.default_rng(sc.seed)
    wealth, done = env.wealth, False
    while not done:
        t, before = env.t, env.weights
        x = draw_inputs(sc, rng, 1, market.n_assets)[0]
        *_, te, tr, info = env.step_weights(x) if sc.mode == "weights" else env.step(x)
        done = te or tr
        after = info["weights_after"]
        np.testing.assert_allclose(info["weights_before"], before, rtol=0, atol=0)
        assert after.sum() == pytest.approx(1.0, abs=1e-12)
        assert not np.any(after[1:][~market.available[t]])  # nothing held that cannot trade
        sigma = impact_sigma(market, t) if cm.impact else None
        mu = cm.remainder(before, after, sigma)[0]
        assert info["cost"] == pytest.approx(1.0 - mu, abs=1e-13)
        t1 = min(t + k, end)
        assert env.t == t1
        value = after * held_growth(market, t, t1)
        assert env.wealth == pytest.approx(wealth * mu * value.sum(), rel=1e-12)
        assert info["gross_return"] == pytest.approx(value.sum() - 1.0, abs=1e-13)
        np.testing.assert_allclose(env.weights, value / value.sum(), rtol=0, atol=1e-13)
        wealth = env.wealth
    assert env.t == end and tr


@given(sc=scenarios(impact=True, random_start=False))
def test_trade_costs_at_t_ignore_returns_after_t(markets, sc):
    """Point in time for the impact volatility: prices after ``t*`` cannot move any cost,
    turnover or weight of a trade at ``t <= t*`` (single and vectorised env)."""
    market = market_of(sc, markets)
    k, start = sc.kwargs["rebalance_every"], sc.kwargs["start"]
    t_star = start + k * ((sc.kwargs["end"] - 1 - start) // k)  # the last decision date
    prices = np.array(market.prices)
    rng = np.random.default_rng(sc.seed)
    prices[t_star + 1 :] *= np.exp(np.cumsum(rng.normal(0, 0.03, prices[t_star + 1 :].shape), 0))
    other = market.with_prices(prices)
    inputs = [draw_inputs(sc, rng, sc.n_envs, market.n_assets) for _ in range(t_star - start + 1)]
    runs = []
    for m in (market, other):
        (env,) = single_envs(sc, m, [start])
        venv = PortfolioVecEnv(m, None, n_envs=sc.n_envs, **sc.kwargs)
        venv.reset()
        out = []
        for x in inputs:
            if env.t > t_star:
                break
            *_, info = env.step_weights(x[0]) if sc.mode == "weights" else env.step(x[0])
            if sc.mode == "weights":
                venv.step_weights(x)
            else:
                venv.step(x)
            out.append((info["cost"], info["turnover"], info["weights_after"].tolist()))
            out.append((venv.last["cost"].tolist(), venv.last["turnover"].tolist()))
        runs.append((out, env.wealth, info["weights_after"][1:].any()))
    assert runs[0][0] == runs[1][0]  # bit-identical
    if runs[0][2]:  # assets held after t*: the changed prices did reach the wealth
        assert runs[0][1] != runs[1][1]


@given(sc=scenarios(random_start=False))
def test_step_weights_equals_step_with_the_equivalent_action(markets, sc):
    """``step(a)`` == ``step_weights(action_to_weights(a))``, single and vectorised env."""
    market = market_of(sc, markets)
    (by_action, by_weights) = single_envs(sc, market, [sc.kwargs["start"]] * 2)
    vec_action, vec_weights = (
        PortfolioVecEnv(market, None, n_envs=sc.n_envs, **sc.kwargs) for _ in range(2)
    )
    vec_action.reset(), vec_weights.reset()
    probe = PortfolioEnv(market, None, **sc.kwargs)
    rng = np.random.default_rng(sc.seed)
    done = False
    while not done:
        actions = draw_actions(sc, rng, sc.n_envs, market.n_assets)
        w = by_action.action_to_weights(actions[0])
        o1, r1, te, tr, i1 = by_action.step(actions[0])
        o2, r2, *_, i2 = by_weights.step_weights(w)
        np.testing.assert_allclose(o1, o2, rtol=0, atol=1e-7)
        assert r1 == pytest.approx(r2, rel=1e-14, abs=1e-15)
        assert by_action.wealth == pytest.approx(by_weights.wealth, rel=1e-14)
        for key in ("cost", "turnover", "gross_return", "net_return"):
            assert i1[key] == pytest.approx(i2[key], rel=1e-14, abs=1e-15), key
        probe.reset(options={"start": int(vec_action.t[0])})
        targets = np.array([probe.action_to_weights(a) for a in actions])
        obs1, rew1, dones, infos = vec_action.step(actions)
        obs2, rew2, *_ = vec_weights.step_weights(targets)
        for key in ("cost", "turnover", "gross_return", "net_return"):
            np.testing.assert_allclose(
                vec_action.last[key], vec_weights.last[key], rtol=1e-14, atol=1e-15
            )
        wealth = [
            info.get("episode_wealth", w) for info, w in zip(infos, vec_action.wealth, strict=True)
        ]
        np.testing.assert_allclose(wealth, vec_weights.wealth, rtol=1e-14)
        np.testing.assert_allclose(rew1, rew2, rtol=1e-6, atol=1e-7)
        done = te or tr
        assert dones.all() == done
        if not done:
            np.testing.assert_allclose(obs1, obs2, rtol=0, atol=1e-7)
            np.testing.assert_allclose(vec_action.weights, vec_weights.weights, atol=1e-15)
