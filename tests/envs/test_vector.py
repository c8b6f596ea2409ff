"""PortfolioVecEnv: parity with the single env, SB3 compatibility, auto-reset."""

from __future__ import annotations

import pickle
import warnings

import numpy as np
import pytest
from stable_baselines3 import PPO
from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv, VecMonitor

from allocgym.envs import CostModel, LongShortMap, PortfolioEnv, list_rewards
from allocgym.envs.vector import PortfolioVecEnv


@pytest.mark.parametrize("k", [1, 4])
@pytest.mark.parametrize("reward", sorted(set(list_rewards()) - {"combination"}))
def test_each_portfolio_follows_the_single_env_path(small_market, small_panel, reward, k):
    # 98 days: with k = 4 the last holding period is 2 days and ends at `end`
    b, end = 3, 138
    costs = CostModel([5.0, 10.0, 20.0, 2.0, 40.0], sell_bps=15.0, impact=0.5)
    kwargs = {"start": 40, "end": end, "rebalance_every": k, "reward": reward, "cost_bps": costs}
    venv = PortfolioVecEnv(small_market, small_panel, n_envs=b, **kwargs)
    singles = [PortfolioEnv(small_market, small_panel, **kwargs) for _ in range(b)]
    obs = venv.reset()
    for i, env in enumerate(singles):
        np.testing.assert_array_equal(obs[i], env.reset()[0])
    rng = np.random.default_rng(0)
    n_steps = -(-98 // k)
    for step in range(n_steps):
        actions = rng.uniform(-1, 1, (b, 6)).astype(np.float32)
        obs, rewards, dones, infos = venv.step(actions)
        last = step == n_steps - 1
        assert dones.all() == last and dones.any() == last
        for i, env in enumerate(singles):
            o, r, _, truncated, info = env.step(actions[i])
            assert truncated == last
            assert rewards[i] == pytest.approx(r, rel=1e-5, abs=1e-7)
            assert venv.last["cost"][i] == pytest.approx(info["cost"], rel=1e-12, abs=1e-15)
            if last:
                np.testing.assert_allclose(infos[i]["terminal_observation"], o, atol=1e-7)
                assert infos[i]["episode_wealth"] == pytest.approx(env.wealth, rel=1e-12)
            else:
                np.testing.assert_allclose(obs[i], o, rtol=1e-6, atol=1e-7)
                assert venv.wealth[i] == pytest.approx(env.wealth, rel=1e-12)
    assert [env.t for env in singles] == [end] * b


def test_auto_reset_reports_terminal_observation(small_market):
    venv = PortfolioVecEnv(small_market, features=None, n_envs=2, start=40, end=45)
    single = PortfolioEnv(small_market, features=None, start=40, end=45)
    first = venv.reset()
    single.reset()
    for _ in range(4):
        _, _, dones, infos = venv.step(np.zeros((2, 6), dtype=np.float32))
        single.step(np.zeros(6))
        assert not dones.any()
    obs, _, dones, infos = venv.step(np.zeros((2, 6), dtype=np.float32))
    terminal, *_ = single.step(np.zeros(6))
    assert dones.all()
    for info in infos:
        assert info["TimeLimit.truncated"] is True
        np.testing.assert_allclose(info["terminal_observation"], terminal, atol=1e-7)
        assert info["episode_wealth"] == pytest.approx(single.wealth, rel=1e-12)
    assert single.wealth != 1.0
    assert venv.t.tolist() == [40, 40] and venv.wealth.tolist() == [1.0, 1.0]
    np.testing.assert_array_equal(obs, first)  # fresh episodes start in cash at `start`


def test_last_step_figures_survive_the_auto_reset(small_market):
    venv = PortfolioVecEnv(small_market, features=None, n_envs=2, start=40, end=42)
    venv.reset()
    venv.step(np.ones((2, 6), dtype=np.float32))
    _, _, dones, infos = venv.step(np.zeros((2, 6), dtype=np.float32))
    assert dones.all()
    ended = [info["episode_wealth"] for info in infos]
    assert ended != [1.0, 1.0]
    np.testing.assert_array_equal(venv.last["wealth"], ended)


def test_random_starts_are_seeded(small_market):
    def starts(seed):
        venv = PortfolioVecEnv(
            small_market, features=None, n_envs=16, random_start=True, episode_length=10
        )
        venv.seed(seed)
        venv.reset()
        return venv.t.copy()

    assert np.array_equal(starts(1), starts(1))
    assert not np.array_equal(starts(1), starts(2))


@pytest.mark.parametrize("k", [1, 3])
def test_step_weights_matches_single_env(late_market, k):
    # late_market: asset index 2 (weight index 3) has no price before day 120, cash earns rf;
    # weight put on it before then must go to cash, exactly as in the single env
    kwargs = {"features": None, "start": 112, "end": 126, "rebalance_every": k}
    venv = PortfolioVecEnv(late_market, n_envs=2, **kwargs)
    envs = [PortfolioEnv(late_market, **kwargs) for _ in range(2)]
    venv.reset(), [env.reset() for env in envs]
    w = np.array([[0.2, 0.2, 0.2, 0.2, 0.1, 0.1], [0.0, 0.1, 0.0, 0.9, 0.0, 0.0]])
    done = False
    while not done:
        obs, rewards, terminated, truncated = venv.step_weights(w)
        for i, env in enumerate(envs):
            o, r, te, tr, info = env.step_weights(w[i])
            assert venv.wealth[i] == pytest.approx(env.wealth, rel=1e-13)
            np.testing.assert_allclose(venv.weights[i], env.weights, rtol=0, atol=1e-14)
            np.testing.assert_allclose(obs[i], o, rtol=0, atol=1e-7)
            assert rewards[i] == pytest.approx(r, rel=1e-12, abs=1e-15)
            assert venv.last["cost"][i] == pytest.approx(info["cost"], rel=1e-12, abs=1e-15)
            assert venv.last["turnover"][i] == pytest.approx(info["turnover"], rel=1e-12)
            assert (terminated[i], truncated[i]) == (te, tr)
        done = truncated.all()
        w = w[::-1].copy()  # trade between the two mixes
    assert [env.t for env in envs] == [126, 126]
    assert envs[0].wealth != envs[1].wealth


def _parameters(model):
    return [p.detach().clone() for p in model.policy.parameters()]


def _changed(before, model) -> bool:
    return any(
        not np.array_equal(a.numpy(), b.detach().numpy())
        for a, b in zip(before, model.policy.parameters(), strict=True)
    )


def test_ppo_trains_on_the_native_vec_env_and_dummy_vec_env(small_market, small_panel):
    venv = VecMonitor(PortfolioVecEnv(small_market, small_panel, n_envs=4, episode_length=16,
                                      random_start=True, seed=0))  # fmt: skip
    model = PPO("MlpPolicy", venv, n_steps=16, batch_size=32, n_epochs=1, seed=0)
    before = _parameters(model)
    model.learn(64)
    assert model.num_timesteps == 64 and _changed(before, model)
    episodes = list(model.ep_info_buffer)  # each of the 4 portfolios ended one episode
    assert len(episodes) == 4 and {e["l"] for e in episodes} == {16}
    assert all(e["r"] != 0.0 for e in episodes)  # wealth moved: log returns are not 0

    dummy = DummyVecEnv([lambda: PortfolioEnv(small_market, small_panel)] * 2)
    model = PPO("MlpPolicy", dummy, n_steps=16, batch_size=32, n_epochs=1, seed=0)
    before = _parameters(model)
    model.learn(32)
    assert model.num_timesteps == 32 and _changed(before, model)
    envs = [e.unwrapped for e in dummy.envs]
    assert envs[0] is not envs[1]
    assert [e.t for e in envs] == [e._data.lo + 16 for e in envs]
    assert all(e.wealth != 1.0 for e in envs) and envs[0].wealth != envs[1].wealth


def test_dict_observations_batch(small_market, small_panel):
    kwargs = {"n_envs": 3, "start": 60, "time_features": True}
    nested = PortfolioVecEnv(small_market, small_panel, observation="dict", **kwargs)
    flat = PortfolioVecEnv(small_market, small_panel, **kwargs)
    layout = flat.observation_layout
    actions = np.random.default_rng(0).uniform(-1, 1, (4, 3, 6)).astype(np.float32)
    steps = [(nested.reset(), flat.reset(), flat.weights.copy())]
    for a in actions:
        steps.append((nested.step(a)[0], flat.step(a)[0], flat.weights.copy()))
    assert set(steps[0][0]) == set(layout.slices) >= {"features", "returns", "time", "weights"}
    assert steps[0][0]["features"].shape == (3, 5, 2) and steps[0][0]["weights"].shape == (3, 6)
    assert nested.observation_space["returns"].shape == (5, 30)
    for o_dict, o_flat, weights in steps:
        for key, part in o_dict.items():
            assert part.shape == (3, *nested.observation_space[key].shape)
            np.testing.assert_array_equal(part.reshape(3, -1), o_flat[:, layout.slices[key]])
        np.testing.assert_array_equal(o_dict["weights"], weights.astype(np.float32))
    assert not np.array_equal(steps[0][1], steps[-1][1])


def test_dict_observations_restart_on_auto_reset(small_market, small_panel):
    kwargs = {"n_envs": 2, "start": 60, "end": 62, "observation": "dict"}
    venv = PortfolioVecEnv(small_market, small_panel, **kwargs)
    first = venv.reset()
    venv.step(np.ones((2, 6), dtype=np.float32))
    obs, _, dones, infos = venv.step(np.ones((2, 6), dtype=np.float32))
    assert dones.all()
    for key, part in first.items():
        np.testing.assert_array_equal(obs[key], part)  # the new episodes' first observation
    for i, info in enumerate(infos):
        terminal = info["terminal_observation"]
        assert set(terminal) == set(first)
        assert not np.array_equal(terminal["weights"], first["weights"][i])  # not in cash


def test_bad_actions_and_rewards(small_market):
    venv = PortfolioVecEnv(small_market, features=None, n_envs=2)
    venv.reset()
    with pytest.raises(ValueError, match="non-finite"):
        venv.step(np.full((2, 6), np.nan))
    with pytest.raises(ValueError, match="shape"):
        venv.step(np.zeros((3, 6)))
    scalar = PortfolioVecEnv(small_market, features=None, n_envs=2, reward=lambda rec: 1.0)
    scalar.reset()
    with pytest.raises(TypeError, match="DummyVecEnv"):
        scalar.step(np.zeros((2, 6)))


def _make_env():
    from allocgym import make_synthetic_market

    return PortfolioEnv(make_synthetic_market(n_assets=3, n_days=200, seed=1).market, None)


@pytest.mark.slow
def test_subproc_vec_env_and_pickling():
    local = _make_env()
    local.reset()
    actions = np.random.default_rng(0).uniform(-1, 1, (3, 2, 4)).astype(np.float32)
    venv = SubprocVecEnv([_make_env, _make_env], start_method="spawn")
    try:
        venv.reset()
        for a in actions:  # both workers run the same env; compare with a local copy
            obs, rewards, *_ = venv.step(np.array([a[0], a[0]]))
            o, r, *_ = local.step(a[0])
            np.testing.assert_array_equal(obs, [o, o])
            assert rewards.tolist() == pytest.approx([r, r], rel=1e-6)
    finally:
        venv.close()

    native = PortfolioVecEnv(local.market, None, n_envs=2, random_start=True, episode_length=2,
                             seed=0)  # fmt: skip
    native.reset()
    native.step(actions[0])  # mid-episode, with a random-start generator in use
    clone = pickle.loads(pickle.dumps(native))
    assert clone.num_envs == 2
    for a in np.concatenate([actions, actions]):  # crosses auto-resets (new random starts)
        o1, r1, d1, _ = native.step(a)
        o2, r2, d2, _ = clone.step(a)
        np.testing.assert_array_equal(o1, o2)
        np.testing.assert_array_equal(r1, r2)
        np.testing.assert_array_equal(d1, d2)
        np.testing.assert_array_equal(native.t, clone.t)
        np.testing.assert_array_equal(native.wealth, clone.wealth)
        np.testing.assert_array_equal(native.weights, clone.weights)


def test_rows_with_different_starts_use_their_own_dates(small_market):
    # random starts: every row trades at its own t (its own sigma, tradable mask, returns)
    costs = CostModel([5.0, 10.0, 20.0, 2.0, 40.0], sell_bps=[1.0, 30.0, 8.0, 8.0, 3.0],
                      impact=1.0)  # fmt: skip
    kwargs = {"features": None, "cost_bps": costs, "rebalance_every": 2, "episode_length": 6}
    venv = PortfolioVecEnv(small_market, n_envs=4, random_start=True, seed=3, **kwargs)
    venv.reset()
    assert len(set(venv.t.tolist())) == 4
    envs = [PortfolioEnv(small_market, **kwargs) for _ in range(4)]
    for env, t0 in zip(envs, venv.t.tolist(), strict=True):
        env.reset(options={"start": t0})
    rng = np.random.default_rng(1)
    for _ in range(6):
        actions = rng.uniform(-1, 1, (4, 6)).astype(np.float32)
        _, _, dones, infos = venv.step(actions)
        for i, env in enumerate(envs):
            *_, info = env.step(actions[i])
            assert venv.last["cost"][i] == pytest.approx(info["cost"], rel=1e-12, abs=1e-15)
            assert venv.last["net_return"][i] == pytest.approx(info["net_return"], rel=1e-12)
    assert dones.all()
    wealth = [info["episode_wealth"] for info in infos]
    assert wealth == pytest.approx([env.wealth for env in envs], rel=1e-12)


def test_step_weights_refuses_bad_shapes_and_non_finite_weights(small_market):
    venv = PortfolioVecEnv(small_market, features=None, n_envs=2)
    venv.reset()
    with pytest.raises(ValueError, match="shape"):
        venv.step_weights(np.full((2, 5), 0.2))
    with pytest.raises(ValueError, match="finite"):
        venv.step_weights(np.array([[np.nan, 1.0, 0, 0, 0, 0], [1.0, 0, 0, 0, 0, 0]]))


@pytest.mark.parametrize(
    ("row", "match"),
    [
        ([1.2, -0.2, 0, 0, 0, 0], "negative"),
        ([0.5, 0.2, 0, 0, 0, 0], "sum to"),
        ([0.5, 0.2, 0.2, 0.2, 0, 0], "sum to"),
    ],
)
def test_step_weights_validates_like_the_single_env(small_market, row, match):
    single = PortfolioEnv(small_market, features=None)
    single.reset()
    with pytest.raises(ValueError, match=match):
        single.step_weights(row)
    venv = PortfolioVecEnv(small_market, features=None, n_envs=2)
    venv.reset()
    with pytest.raises(ValueError, match=match):
        venv.step_weights(np.array([np.full(6, 1 / 6), row]))


def test_defaults_match_the_documentation_and_the_single_env(small_market, small_panel):
    # 8 portfolios; the other defaults (costs, window, norm_window = 252, ...) are the single
    # env's: at day 260 the causal standardisation already drops the oldest days
    venv = PortfolioVecEnv(small_market, small_panel, start=260)
    single = PortfolioEnv(small_market, small_panel, start=260)
    assert venv.num_envs == 8
    obs = venv.reset()
    np.testing.assert_array_equal(obs, np.tile(single.reset()[0], (8, 1)))
    action = np.linspace(-1.0, 1.0, 6, dtype=np.float32)
    obs, *_ = venv.step(np.tile(action, (8, 1)))
    o, *_ = single.step(action)
    np.testing.assert_allclose(obs, np.tile(o, (8, 1)), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("n_envs", [0, -1, 2.0, True])
def test_n_envs_must_be_a_positive_integer(small_market, n_envs):
    with pytest.raises(ValueError, match=f"n_envs={n_envs!r} is invalid"):
        PortfolioVecEnv(small_market, features=None, n_envs=n_envs)


def test_a_single_portfolio_batch_works_and_is_silent(small_market):
    # n_envs=1 is the smallest batch (a numpy integer will do); SB3 warns when an env has
    # no `render_mode`: this one has it
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        venv = PortfolioVecEnv(small_market, features=None, n_envs=np.int64(1), start=40)
    assert venv.render_mode is None and venv.num_envs == 1
    single = PortfolioEnv(small_market, features=None, start=40)
    np.testing.assert_array_equal(venv.reset(), single.reset()[0][None])
    _, rewards, dones, _ = venv.step(np.full((1, 6), 0.5, dtype=np.float32))
    _, r, *_ = single.step(np.full(6, 0.5))
    assert rewards[0] == pytest.approx(r, rel=1e-6) and not dones[0]
    assert venv.wealth[0] == pytest.approx(single.wealth, rel=1e-12)


def test_a_new_env_starts_in_cash_like_after_reset(small_market):
    # stepping before reset() trades from the same state reset() gives: all cash, wealth 1
    costs = CostModel([5.0, 10.0, 20.0, 2.0, 40.0], sell_bps=15.0)
    w = np.array([[0.1, 0.3, 0.2, 0.2, 0.1, 0.1], [0.0, 0.0, 0.0, 0.0, 0.5, 0.5]])
    fresh = PortfolioVecEnv(small_market, features=None, cost_bps=costs, n_envs=2, start=40)
    reset = PortfolioVecEnv(small_market, features=None, cost_bps=costs, n_envs=2, start=40)
    reset.reset()
    np.testing.assert_array_equal(fresh.weights, reset.weights)
    np.testing.assert_array_equal(fresh.weights[:, 0], [1.0, 1.0])
    o1, r1, *_ = fresh.step_weights(w)
    o2, r2, *_ = reset.step_weights(w)
    np.testing.assert_array_equal(o1, o2)
    np.testing.assert_array_equal(r1, r2)
    np.testing.assert_array_equal(fresh.last["cost"], reset.last["cost"])
    assert (fresh.last["cost"] > 0).all()


@pytest.mark.parametrize("n_envs", [1, 5])
def test_seed_method_and_seed_argument_give_the_same_starts(small_market, n_envs):
    # `seed(s)` applies to the next reset only, like `seed=s` at construction: later resets
    # continue the same stream of random starts
    kwargs = {"features": None, "n_envs": n_envs, "random_start": True, "episode_length": 10}
    by_arg = PortfolioVecEnv(small_market, seed=7, **kwargs)
    by_method = PortfolioVecEnv(small_market, **kwargs)
    by_method.seed(7)
    draws = []
    for _ in range(3):
        by_arg.reset(), by_method.reset()
        np.testing.assert_array_equal(by_arg.t, by_method.t)
        draws.append(by_method.t.copy())
    assert len({tuple(d.tolist()) for d in draws}) == 3  # each reset drew new starts


def test_attribute_access_follows_the_sb3_vec_env_api(small_market):
    from stable_baselines3.common.monitor import Monitor

    venv = PortfolioVecEnv(small_market, features=None, n_envs=3, start=40)
    venv.set_attr("initial_wealth", 2.5)
    venv.reset()
    np.testing.assert_array_equal(venv.wealth, [2.5, 2.5, 2.5])
    assert venv.get_attr("initial_wealth") == [2.5, 2.5, 2.5]
    assert venv.get_attr("n_assets", indices=1) == [5]
    assert venv.env_method("_check_running", indices=[0, 2]) == [None, None]
    assert venv.env_is_wrapped(Monitor) == [False, False, False]  # no Monitor inside
    assert venv.env_is_wrapped(Monitor, indices=[1]) == [False]


def test_stepping_after_the_end_without_reset_is_refused(small_market):
    # step_weights does not auto-reset: once the range is used up, both step methods ask
    # for reset(), whatever the weights (as the single env does)
    venv = PortfolioVecEnv(small_market, features=None, n_envs=2, start=40, end=42)
    single = PortfolioEnv(small_market, features=None, start=40, end=42)
    venv.reset(), single.reset()
    w = np.array([[1.0, 0, 0, 0, 0, 0], [0.5, 0.5, 0, 0, 0, 0]])
    _, _, terminated, truncated = venv.step_weights(w)
    assert not truncated.any() and not terminated.any()
    _, _, terminated, truncated = venv.step_weights(w)
    assert truncated.all() and not terminated.any()
    single.step_weights(w[1]), single.step_weights(w[1])
    for bad in (w, np.zeros((2, 6))):
        with pytest.raises(RuntimeError, match="call reset"):
            venv.step_weights(bad)
        with pytest.raises(RuntimeError, match="call reset"):
            single.step_weights(bad[1])
    with pytest.raises(RuntimeError, match="call reset"):
        venv.step(np.zeros((2, 6), dtype=np.float32))
    venv.reset()
    assert venv.t.tolist() == [40, 40]


class _Recorder:
    """A reward that keeps a copy of every StepRecord it sees and pays 0."""

    def __init__(self) -> None:
        self.records: list[dict[str, np.ndarray]] = []

    def __call__(self, record):
        self.records.append({k: np.array(v, copy=True) for k, v in record._asdict().items()})
        return np.zeros(np.shape(record.wealth))

    def reset(self, mask=None) -> None:
        """Stateless."""


def test_reward_sees_the_same_step_record_as_in_the_single_env(small_market):
    # every field the reward gets (days held, gross/net/log return, weights before and
    # after the trade, peak, drawdown), with a short last period at the range end
    kwargs = {"features": None, "start": 40, "end": 51, "rebalance_every": 3,
              "cost_bps": CostModel(8.0, sell_bps=20.0)}  # fmt: skip
    rec = _Recorder()
    venv = PortfolioVecEnv(small_market, n_envs=2, reward=rec, **kwargs)
    singles = [PortfolioEnv(small_market, reward=_Recorder(), **kwargs) for _ in range(2)]
    venv.reset(), [env.reset() for env in singles]
    rng = np.random.default_rng(5)
    for _ in range(4):
        actions = rng.uniform(-1, 1, (2, 6)).astype(np.float32)
        venv.step(actions)
        for i, env in enumerate(singles):
            *_, info = env.step(actions[i])
            assert venv.last["gross_return"][i] == pytest.approx(info["gross_return"], rel=1e-12)
            assert venv.last["net_return"][i] == pytest.approx(info["net_return"], rel=1e-12)
    assert [r["n_days"].tolist() for r in rec.records] == [[3, 3], [3, 3], [3, 3], [2, 2]]
    for i, env in enumerate(singles):
        assert len(env.reward_fn.records) == len(rec.records)
        for mine, theirs in zip(rec.records, env.reward_fn.records, strict=True):
            for key, value in theirs.items():
                np.testing.assert_allclose(mine[key][i], value, rtol=1e-12, atol=1e-15,
                                           err_msg=key)  # fmt: skip
    drawdowns = np.array([r["drawdown"] for r in rec.records])
    assert (drawdowns > 0).any()  # the peak is not always the current wealth


def test_auto_reset_restarts_the_peak_and_the_reward_state(small_market):
    # three episodes in a row: each one's drawdown and mean-variance reward start afresh,
    # exactly as in a single env reset by hand. Portfolio 0 holds asset 0, which makes a
    # new high at the end of each episode (days 42-45: +2.1 %, -3.6 %, +4.7 %, +3.0 %).
    reward = {"drawdown_penalised": 1.0, "mean_variance": 1.0}
    kwargs = {"features": None, "start": 41, "end": 45, "reward": reward}
    venv = PortfolioVecEnv(small_market, n_envs=2, **kwargs)
    singles = [PortfolioEnv(small_market, **kwargs) for _ in range(2)]
    venv.reset(), [env.reset() for env in singles]
    rng = np.random.default_rng(2)
    n_done = 0
    for _ in range(12):
        actions = rng.uniform(-1, 1, (2, 6)).astype(np.float32)
        actions[0] = [-1, 1, -1, -1, -1, -1]
        _, rewards, dones, infos = venv.step(actions)
        for i, env in enumerate(singles):
            _, r, _, truncated, _ = env.step(actions[i])
            assert rewards[i] == pytest.approx(r, rel=1e-5, abs=1e-7)
            assert truncated == dones[i]
            if truncated:
                assert i == 1 or infos[0]["episode_wealth"] > 1.05  # the episode's peak
                env.reset()
        n_done += int(dones.all())
    assert n_done == 3


@pytest.fixture(scope="module")
def crash_market():
    """Two assets at 1.0 for four days; then A halves and B gains 98 % (no interest)."""
    import pandas as pd

    from allocgym.data import MarketData

    prices = np.ones((6, 2))
    prices[4:, 0], prices[4:, 1] = 0.5, 1.98
    return MarketData.from_prices(prices, pd.bdate_range("2021-01-04", periods=6), ("A", "B"))


def test_wiped_out_portfolio_terminates_and_large_weights_are_observed_clipped(crash_market):
    # row 0: 2x long A (cash -1) loses exactly everything: terminated, not truncated, with a
    # finite reward. Row 1: short B (cash 2) is left with wealth 0.02 and drifted weights
    # 100 / -99, observed clipped to +-10 (1 + L) = 30, like in the single env.
    kwargs = {"features": None, "cost_bps": 0.0, "start": 3, "window": 2,
              "action": LongShortMap(2.0)}  # fmt: skip
    venv = PortfolioVecEnv(crash_market, n_envs=2, **kwargs)
    single = PortfolioEnv(crash_market, **kwargs)
    first = venv.reset()
    single.reset()
    actions = np.array([[1.0, 0.0], [0.0, -0.5]], dtype=np.float32)
    obs, rewards, dones, infos = venv.step(actions)
    o, _, terminated, truncated, _ = single.step(actions[1])
    assert dones.tolist() == [True, False] and (terminated, truncated) == (False, False)
    assert infos[0]["TimeLimit.truncated"] is False and infos[0]["episode_wealth"] == 0.0
    assert rewards[0] == pytest.approx(np.log(1e-300), rel=1e-6)
    np.testing.assert_array_equal(obs[0], first[0])  # the wiped-out row restarted
    np.testing.assert_allclose(venv.weights[1], [100.0, 0.0, -99.0], rtol=1e-9)
    np.testing.assert_array_equal(obs[1, -3:], [30.0, 0.0, -30.0])
    np.testing.assert_array_equal(obs[1], o)
    assert venv.observation_space.contains(obs[1])


class _ScalarSharpe:
    """A stateful reward written for one portfolio: float state, an `if`."""

    def __init__(self) -> None:
        self.reset()

    def __call__(self, record) -> float:
        self.n += 1
        self.total += record.net_return
        return self.total / self.n if record.net_return > -1.0 else -1.0

    def reset(self, mask=None) -> None:
        self.n, self.total = 0, 0.0


def test_a_reward_for_one_portfolio_runs_per_portfolio(small_market):
    from functools import partial

    from allocgym.envs import get_reward
    from allocgym.envs.vector import PerPortfolioReward, takes_batches

    assert all(takes_batches(get_reward(name), 5) for name in ("log_return", "mean_variance"))
    assert not takes_batches(get_reward(_ScalarSharpe), 5)
    kwargs = {"features": None, "start": 40, "end": 50}
    venv = PortfolioVecEnv(small_market, n_envs=3, reward=PerPortfolioReward(
        partial(get_reward, _ScalarSharpe), 3), **kwargs)  # fmt: skip
    singles = [PortfolioEnv(small_market, reward=_ScalarSharpe, **kwargs) for _ in range(3)]
    venv.reset(), [env.reset() for env in singles]
    actions = np.random.default_rng(0).uniform(-1, 1, (10, 3, 6)).astype(np.float32)
    for a in actions:  # the 10th step ends the episodes: each state restarts on the reset
        _, rewards, dones, _ = venv.step(a)
        expected = [env.step(a[i])[1] for i, env in enumerate(singles)]
        np.testing.assert_allclose(rewards, expected, rtol=1e-6)
    assert dones.all() and [fn.n for fn in venv.reward_fn.rewards] == [0, 0, 0]


class _ProbeChecker:
    """A batch reward that checks the probe record of takes_batches is a real batch of
    two all-cash portfolios (else it raises, and the probe answers False), warns on
    every call and counts its calls until reset."""

    name = "probe_checker"

    def __init__(self, n_assets: int) -> None:
        self.n_assets, self.calls = n_assets, 0

    def __call__(self, record):
        self.calls += 1
        warnings.warn("a warning while probing", RuntimeWarning, stacklevel=2)
        for w in (record.weights_before, record.weights):
            assert w.shape == (2, self.n_assets + 1)
            assert (w[:, 0] == 1.0).all() and (w[:, 1:] == 0.0).all()
        assert record.wealth.shape == record.peak.shape == (2,)
        assert (record.wealth == 1.0).all() and (record.peak == 1.0).all()
        return record.net_return + record.wealth - 1.0

    def reset(self, mask=None) -> None:
        self.calls = 0


def test_the_batch_probe_is_two_all_cash_portfolios_silent_and_reset():
    from allocgym.envs.vector import takes_batches

    reward = _ProbeChecker(5)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        assert takes_batches(reward, 5)
    assert seen == []  # the probe's warnings stay inside it
    assert reward.calls == 0  # and the reward is reset after it


def test_a_per_portfolio_reward_is_named_after_its_reward():
    from functools import partial

    from allocgym.envs import get_reward
    from allocgym.envs.vector import PerPortfolioReward

    one = PerPortfolioReward(partial(get_reward, "differential_sharpe"), 1)
    assert one.name == "differential_sharpe" and len(one.rewards) == 1
    nameless = PerPortfolioReward(lambda: lambda record: 0.0, 1)
    assert nameless.name == "function"
