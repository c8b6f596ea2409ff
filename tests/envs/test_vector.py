"""PortfolioVecEnv: parity with the single env, SB3 compatibility, auto-reset."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from stable_baselines3 import PPO
from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv, VecMonitor

from allocgym.envs import CostModel, PortfolioEnv, list_rewards
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
    venv = PortfolioVecEnv(small_market, features=False, n_envs=2, start=40, end=45)
    single = PortfolioEnv(small_market, features=False, start=40, end=45)
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
    venv = PortfolioVecEnv(small_market, features=False, n_envs=2, start=40, end=42)
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
            small_market, features=False, n_envs=16, random_start=True, episode_length=10
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
    kwargs = {"features": False, "start": 112, "end": 126, "rebalance_every": k}
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


def test_bad_actions_and_rewards(small_market):
    venv = PortfolioVecEnv(small_market, features=False, n_envs=2)
    venv.reset()
    with pytest.raises(ValueError, match="non-finite"):
        venv.step(np.full((2, 6), np.nan))
    with pytest.raises(ValueError, match="shape"):
        venv.step(np.zeros((3, 6)))
    scalar = PortfolioVecEnv(small_market, features=False, n_envs=2, reward=lambda rec: 1.0)
    scalar.reset()
    with pytest.raises(TypeError, match="DummyVecEnv"):
        scalar.step(np.zeros((2, 6)))


def _make_env():
    from allocgym import make_synthetic_market

    return PortfolioEnv(make_synthetic_market(n_assets=3, n_days=200, seed=1).market, False)


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

    native = PortfolioVecEnv(local.market, False, n_envs=2, random_start=True, episode_length=2,
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
    kwargs = {"features": False, "cost_bps": costs, "rebalance_every": 2, "episode_length": 6}
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
    venv = PortfolioVecEnv(small_market, features=False, n_envs=2)
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
    single = PortfolioEnv(small_market, features=False)
    single.reset()
    with pytest.raises(ValueError, match=match):
        single.step_weights(row)
    venv = PortfolioVecEnv(small_market, features=False, n_envs=2)
    venv.reset()
    with pytest.raises(ValueError, match=match):
        venv.step_weights(np.array([np.full(6, 1 / 6), row]))
