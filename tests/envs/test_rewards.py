"""Rewards: built-ins against their formulas, the registry, user rewards from files."""

from __future__ import annotations

import pickle
import textwrap

import numpy as np
import pytest

from allocgym.envs import PortfolioEnv, StepRecord, get_reward, list_rewards, register_reward
from allocgym.envs import rewards as rw

BUILTINS = {
    "log_return", "differential_sharpe", "mean_variance", "drawdown_penalised",
    "downside_deviation", "turnover_penalised", "combination",
}  # fmt: skip


def record(r, *, turnover=0.1, wealth=1.0, peak=1.0):
    r = np.asarray(r, dtype=float)
    w = np.zeros((*r.shape, 3))
    return StepRecord(
        0, 1, r, r, np.log1p(r), 0.0 * r, turnover + 0 * r, w, w, wealth + 0 * r,
        peak + 0 * r, 1 - (wealth + 0 * r) / (peak + 0 * r),
    )  # fmt: skip


def returns(n=400, seed=0):
    return np.random.default_rng(seed).normal(0.0005, 0.01, n)


def test_registry_lists_the_builtins_with_descriptions():
    listed = list_rewards()
    assert set(listed) >= BUILTINS
    assert all(listed[name] for name in BUILTINS)


def test_get_reward_returns_fresh_state():
    a, b = get_reward("differential_sharpe"), get_reward("differential_sharpe")
    for r in returns(50):
        a(record(r))
    assert a is not b and b._n is None


def test_differential_sharpe_is_the_derivative_of_the_moving_sharpe():
    # Moody & Saffell (2001): S_t ~ S_{t-1} + eta D_t for small eta, S = A / sqrt(B - A^2)
    eta = 0.001
    fn = get_reward("differential_sharpe", eta=eta, warmup=0)
    r = returns(3000)
    a = b = 0.0
    errors = []
    for n, x in enumerate(r):
        d = float(fn(record(x)))
        rate = max(eta, 1.0 / (n + 1))
        a2, b2 = a + rate * (x - a), b + rate * (x * x - b)
        if n > 2000:
            s_prev, s_new = a / np.sqrt(b - a * a), a2 / np.sqrt(b2 - a2 * a2)
            errors.append(abs((s_new - s_prev) / eta - d) / (abs(d) + 1e-3))
        a, b = a2, b2
    assert np.median(errors) < 0.02


def test_downside_deviation_is_the_derivative_of_the_moving_ratio():
    eta = 0.001
    fn = get_reward("downside_deviation", eta=eta, warmup=0)
    r = returns(3000, seed=1)
    a = dd2 = 0.0
    errors = []
    for n, x in enumerate(r):
        d = float(fn(record(x)))
        rate = max(eta, 1.0 / (n + 1))
        a2, dd2_new = a + rate * (x - a), dd2 + rate * (min(x, 0.0) ** 2 - dd2)
        if n > 2000:
            ratio_prev, ratio_new = a / np.sqrt(dd2), a2 / np.sqrt(dd2_new)
            errors.append(abs((ratio_new - ratio_prev) / eta - d) / (abs(d) + 1e-3))
        a, dd2 = a2, dd2_new
    assert np.median(errors) < 0.02


def test_warm_up_guard():
    fn = get_reward("differential_sharpe", warmup=10)
    assert [fn(record(x)) for x in returns(10)] == [0.0] * 10
    assert fn(record(0.01)) != 0.0
    fn.reset()
    assert fn(record(0.01)) == 0.0


def test_simple_rewards_by_formula():
    rec = record(0.02, turnover=0.5, wealth=0.9, peak=1.2)
    assert get_reward("log_return")(rec) == pytest.approx(np.log(1.02))
    dd = get_reward("drawdown_penalised", penalty=0.1)
    assert dd(rec) == pytest.approx(np.log(1.02) - 0.1 * 0.25)
    assert dd.components["drawdown_penalty"] == pytest.approx(-0.025)
    assert get_reward("turnover_penalised", penalty=0.01)(rec) == pytest.approx(
        np.log(1.02) - 0.005
    )
    mv = get_reward("mean_variance", risk_aversion=4.0)
    assert mv(rec) == pytest.approx(0.02 - 2.0 * 0.02**2)  # running mean starts at 0


def test_mean_variance_components_sum_to_reward():
    mv = get_reward("mean_variance")
    for x in returns(30):
        value = mv(record(x))
        assert sum(mv.components.values()) == pytest.approx(value, abs=1e-15)
        assert mv.components["risk_penalty"] <= 0


def test_weighted_combination():
    combo = get_reward({"log_return": 1.0, "turnover_penalised": 2.0})
    rec = record(0.01, turnover=0.3)
    expected = np.log(1.01) + 2 * (np.log(1.01) - 0.001 * 0.3)
    assert combo(rec) == pytest.approx(expected)
    assert set(combo.components) == {"log_return", "turnover_penalised"}
    with pytest.raises(ValueError, match="at least one"):
        get_reward("combination", terms={})


@pytest.mark.parametrize("name", sorted(BUILTINS))
def test_batched_records_equal_scalar_calls(name):
    kwargs = (
        {"terms": {"differential_sharpe": 1.0, "log_return": 0.5}} if name == "combination" else {}
    )
    batch_fn = get_reward(name, **kwargs)
    singles = [get_reward(name, **kwargs) for _ in range(4)]
    r = np.random.default_rng(2).normal(0.0, 0.01, (60, 4))
    for row in r:
        batched = np.asarray(batch_fn(record(row)))
        scalar = [fn(record(x)) for fn, x in zip(singles, row, strict=True)]
        np.testing.assert_allclose(batched, scalar, rtol=1e-12, atol=1e-15)


def test_reset_mask_resets_only_those_portfolios():
    fn = get_reward("differential_sharpe", warmup=3)
    for row in np.random.default_rng(3).normal(0, 0.01, (20, 3)):
        fn(record(row))
    fn.reset(np.array([True, False, False]))
    out = fn(record(np.array([0.01, 0.01, 0.01])))
    assert out[0] == 0.0 and out[1] != 0.0 and out[2] != 0.0


def test_register_reward_decorator_and_errors():
    @register_reward("test_double_return", overwrite=True)
    def double(rec):
        """Twice the net return."""
        return 2 * rec.net_return

    assert list_rewards()["test_double_return"] == "Twice the net return."
    assert get_reward("test_double_return")(record(0.01)) == pytest.approx(0.02)
    with pytest.raises(ValueError, match="already registered"):
        register_reward("test_double_return", double)
    with pytest.raises(ValueError, match="expected one of"):
        get_reward("no_such_reward")
    with pytest.raises(ValueError, match="no attribute"):
        get_reward("allocgym.envs.rewards:nope")
    with pytest.raises(ValueError, match="cannot import"):
        get_reward("no_such_module_xyz:fn")
    with pytest.raises(TypeError, match="keyword"):
        get_reward(lambda rec: 0.0, eta=1)


USER_FILE = """
import numpy as np

def fn(record):
    return 100.0 * record.net_return - 0.5 * record.turnover

class Counting:
    def __init__(self, scale=1.0):
        self.scale, self.n = scale, 0
    def __call__(self, record):
        self.n += 1
        return self.scale * self.n
    def reset(self, mask=None):
        self.n = 0
"""


def test_custom_reward_from_a_user_module(small_market, tmp_path, monkeypatch):
    (tmp_path / "my_rewards.py").write_text(textwrap.dedent(USER_FILE))
    monkeypatch.syspath_prepend(str(tmp_path))
    env = PortfolioEnv(small_market, features=None, reward="my_rewards:fn")
    env.reset()
    _, reward, *_, info = env.step(np.zeros(6))
    assert reward == pytest.approx(100 * info["net_return"] - 0.5 * info["turnover"])
    counting = PortfolioEnv(
        small_market, features=None, reward="my_rewards:Counting", reward_kwargs={"scale": 2.0}
    )
    counting.reset()
    assert [counting.step(np.zeros(6))[1] for _ in range(3)] == [2.0, 4.0, 6.0]
    counting.reset()
    assert counting.step(np.zeros(6))[1] == 2.0


def test_custom_reward_from_a_file_path_pickles(small_market, tmp_path):
    path = tmp_path / "rewards_file.py"
    path.write_text(textwrap.dedent(USER_FILE))
    env = PortfolioEnv(small_market, features=None, reward=f"{path}:fn")
    env.reset()
    clone = pickle.loads(pickle.dumps(env))
    a = np.linspace(-1, 1, 6)
    assert env.step(a)[1] == clone.step(a)[1]
    assert isinstance(env.reward_fn, rw.RewardFn)


def reference_differential_sharpe(rs, eta, warmup, clip):
    """Moody & Saffell's D_t in a plain loop, with the documented warm-up guard."""
    a = b = 0.0
    out = []
    for n, r in enumerate(rs):
        var = b - a * a
        d = 0.0
        if n >= warmup and var > 1e-12:
            d = min(max((b * (r - a) - 0.5 * a * (r * r - b)) / var**1.5, -clip), clip)
        rate = max(eta, 1.0 / (n + 1))
        a, b = a + rate * (r - a), b + rate * (r * r - b)
        out.append(d)
    return out


def reference_downside_deviation(rs, eta, warmup, clip):
    a = dd2 = 0.0
    out = []
    for n, r in enumerate(rs):
        d = 0.0
        if n >= warmup and dd2 > 1e-12:
            dd = np.sqrt(dd2)
            d = (r - a / 2) / dd if r > 0 else (dd2 * (r - a / 2) - a * r * r / 2) / dd**3
            d = min(max(d, -clip), clip)
        rate = max(eta, 1.0 / (n + 1))
        a, dd2 = a + rate * (r - a), dd2 + rate * (min(r, 0.0) ** 2 - dd2)
        out.append(d)
    return out


def reference_mean_variance(rs, risk_aversion, eta):
    a, out = 0.0, []
    for n, r in enumerate(rs):
        out.append(r - 0.5 * risk_aversion * (r - a) ** 2)
        a += max(eta, 1.0 / (n + 1)) * (r - a)
    return out


REFERENCES = {
    "differential_sharpe": reference_differential_sharpe,
    "downside_deviation": reference_downside_deviation,
    "mean_variance": reference_mean_variance,
}


def spiky_returns(n=150):
    """Returns of about 1 % a day, mixed signs, with a +40 % and a -30 % day (clipped)."""
    r = returns(n, seed=4)
    r[60], r[100] = 0.4, -0.3
    return r


@pytest.mark.parametrize(
    ("name", "kwargs"),
    [
        ("differential_sharpe", {"eta": 0.01, "warmup": 10, "clip": 10.0}),
        ("differential_sharpe", {"eta": 0.2, "warmup": 3, "clip": 2.0}),
        ("downside_deviation", {"eta": 0.01, "warmup": 10, "clip": 10.0}),
        ("downside_deviation", {"eta": 0.2, "warmup": 3, "clip": 2.0}),
        ("mean_variance", {"risk_aversion": 10.0, "eta": 0.01}),
        ("mean_variance", {"risk_aversion": 3.0, "eta": 0.2}),
    ],
)
def test_stateful_rewards_match_their_formulas_step_by_step(name, kwargs):
    # the first kwargs of each reward are its defaults: get_reward(name) must agree
    r = spiky_returns()
    want = REFERENCES[name](r, **kwargs)
    for fn in (get_reward(name, **kwargs), get_reward(name)):
        got = [float(fn(record(x))) for x in r]
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-14)
        if kwargs.get("eta") != 0.01:
            break
    if name != "mean_variance":
        warmup, clip = kwargs["warmup"], kwargs["clip"]
        assert want[:warmup] == [0.0] * warmup and want[warmup] != 0.0
        assert max(np.abs(want)) == clip  # a spike hits the clip


def test_a_variance_of_1e_minus_12_counts_as_none():
    # returns +-1e-6: the variance (downside: mean squared loss) is exactly 1e-12, the guard
    # threshold, and the reward stays 0; at +-2e-6 (4e-12) it does not
    for size, zero in ((1e-6, True), (2e-6, False)):
        ds = get_reward("differential_sharpe", warmup=1)
        assert [ds(record(x)) == 0.0 for x in (size, -size, 0.01)] == [True, True, zero]
        dd = get_reward("downside_deviation", warmup=1)
        assert [dd(record(x)) == 0.0 for x in (-size, 0.01)] == [True, zero]


@pytest.mark.parametrize("name", sorted(REFERENCES))
def test_masked_reset_restarts_those_portfolios_from_scratch(name):
    # after reset(mask) a portfolio's rewards are those of a fresh reward; the others go on
    rng = np.random.default_rng(6)
    before, after = rng.normal(0.0, 0.01, (15, 3)), rng.normal(0.0, 0.01, (15, 3))
    batch, whole, fresh = get_reward(name), get_reward(name), get_reward(name)
    for row in before:
        batch(record(row)), whole(record(row))
    batch.reset(np.array([True, False, True]))
    for row in after:
        got, kept, new = batch(record(row)), whole(record(row)), fresh(record(row))
        np.testing.assert_allclose(got, [new[0], kept[1], new[2]], rtol=1e-12, atol=1e-15)


def test_combination_reset_resets_every_term():
    combo = get_reward({"differential_sharpe": 1.0, "mean_variance": 0.5})
    for x in returns(30):
        combo(record(x))
    combo.reset()
    fresh = get_reward({"differential_sharpe": 1.0, "mean_variance": 0.5})
    for x in returns(20, seed=9):
        assert combo(record(x)) == fresh(record(x))


@pytest.mark.parametrize(
    ("name", "kwargs"),
    [
        ("differential_sharpe", {"eta": 0}),
        ("differential_sharpe", {"eta": 1.0}),
        ("differential_sharpe", {"eta": 1.5}),
        ("differential_sharpe", {"eta": "0.1"}),
        ("differential_sharpe", {"clip": 0.0}),
        ("downside_deviation", {"eta": -0.1}),
        ("downside_deviation", {"eta": 1.0}),
        ("mean_variance", {"eta": 1.0}),
        ("mean_variance", {"eta": 1.5}),
        ("mean_variance", {"risk_aversion": 0.0}),
        ("drawdown_penalised", {"penalty": 0.0}),
        ("turnover_penalised", {"penalty": -1.0}),
    ],
)
def test_parameters_outside_their_range_are_refused(name, kwargs):
    ((key, value),) = kwargs.items()
    with pytest.raises(ValueError, match=rf"{key}={value!r} is invalid; expected 0 < {key} <"):
        get_reward(name, **kwargs)


def test_rates_just_below_one_are_accepted():
    for name in ("differential_sharpe", "downside_deviation", "mean_variance"):
        assert get_reward(name, eta=0.99).eta == 0.99


def test_default_penalties():
    # drawdown_penalised: 0.01 per unit of drawdown; turnover_penalised: 0.001 per unit
    rec = record(0.02, turnover=0.5, wealth=0.9, peak=1.2)
    assert get_reward("drawdown_penalised")(rec) == pytest.approx(np.log(1.02) - 0.01 * 0.25)
    assert get_reward("turnover_penalised")(rec) == pytest.approx(np.log(1.02) - 0.001 * 0.5)


def test_listed_parameters_of_the_builtins():
    # what `allocgym list rewards` shows: the penalty defaults, else the __init__ defaults
    params = {name: rw.REWARDS.entry(name).parameters() for name in BUILTINS - {"combination"}}
    assert params == {
        "log_return": {},
        "differential_sharpe": {"eta": 0.01, "warmup": 10, "clip": 10.0},
        "downside_deviation": {"eta": 0.01, "warmup": 10, "clip": 10.0},
        "mean_variance": {"risk_aversion": 10.0, "eta": 0.01},
        "drawdown_penalised": {"penalty": 0.01},
        "turnover_penalised": {"penalty": 0.001},
    }


class _Scaled:
    """Net return times a scale."""

    def __init__(self, scale: float = 2.0) -> None:
        self.scale = scale

    def __call__(self, record):
        return self.scale * record.net_return

    def reset(self, mask=None) -> None:
        """Stateless."""


def test_registered_parameters_of_user_rewards():
    # a class lists its __init__ defaults, a function none (it takes the record), unless
    # params are given
    def plain(rec):
        """Net return."""
        return rec.net_return

    names = ("test_scaled_cls", "test_plain_fn", "test_plain_fn_params")
    try:
        register_reward(names[0], _Scaled, overwrite=True)
        register_reward(names[1], plain, overwrite=True)
        register_reward(names[2], plain, params={"note": 1}, overwrite=True)
        assert [rw.REWARDS.entry(n).parameters() for n in names] == [
            {"scale": 2.0}, {}, {"note": 1},
        ]  # fmt: skip
        assert get_reward(names[0], scale=3.0)(record(0.01)) == pytest.approx(0.03)
    finally:
        for name in names:
            rw.REWARDS._forget(name)


@pytest.mark.parametrize("name", ["", "mod:fn", 3, None])
def test_register_reward_refuses_bad_names(name):
    with pytest.raises(ValueError, match="expected a non-empty str without ':'"):
        register_reward(name, _Scaled)


def test_reward_names_label_the_reward_component(small_market):
    # FunctionReward takes the function's name unless given one; a "module:attr" reward is
    # named by its spec; the single env reports a reward without components under the name
    def my_reward(rec):
        return rec.net_return

    assert rw.FunctionReward(my_reward).name == "my_reward"
    assert repr(rw.FunctionReward(my_reward)) == "FunctionReward(my_reward)"
    assert rw.FunctionReward(my_reward, "mine").name == "mine"
    spec = "allocgym.envs.rewards:LogReturn"
    assert get_reward(spec).name == spec
    env = PortfolioEnv(small_market, features=None, reward=spec)
    env.reset()
    _, reward, *_, info = env.step(np.zeros(6))
    assert info["reward_components"] == {spec: reward}


def test_benchmark_excess_checks_levels_rows_and_names_its_parts():
    """Levels must be finite and > 0 (0.5 is fine); the rows the env reaches must exist
    (the last level is usable, one past it is refused, in a batch too); without a
    benchmark the parts are the log return and a zero benchmark, and the warning points
    at the caller."""
    from allocgym.envs.rewards import BenchmarkExcess, BenchmarkMissingWarning

    for bad in (0.0, -1.0, np.inf, np.nan):
        with pytest.raises(ValueError, match=rf"benchmark level {bad!r} at row 1"):
            BenchmarkExcess([1.0, bad, 1.0])
    levels = np.linspace(0.5, 1.4, 10)
    excess = BenchmarkExcess(levels)
    last = record(0.01)._replace(t=8, n_days=1)  # ends on row 9, the last level
    assert excess(last) == pytest.approx(np.log1p(0.01) - np.log(levels[9] / levels[8]))
    with pytest.raises(ValueError, match=r"has 10 levels but the env reached row 10"):
        excess(last._replace(n_days=2))
    batch = record([0.01, 0.02])._replace(t=np.array([0, 8]), n_days=np.array([1, 2]))
    with pytest.raises(ValueError, match=r"reached row 10"):
        excess(batch)
    with pytest.warns(BenchmarkMissingWarning) as caught:
        plain = BenchmarkExcess()
    assert caught[0].filename == __file__
    assert plain(record(0.01)._replace(t=7)) == np.log1p(0.01)
    assert plain.components == {"log_return": np.log1p(0.01), "benchmark": 0.0}
