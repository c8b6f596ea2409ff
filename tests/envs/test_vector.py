"""PortfolioVecEnv: parity with the single env, SB3 compatibility, auto-reset."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from stable_baselines3 import PPO
from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv, VecMonitor

from allocgym.envs import PortfolioEnv, list_rewards
from allocgym.envs.vector import PortfolioVecEnv


@pytest.mark.parametrize("k", [1, 4])
@pytest.mark.parametrize("reward", sorted(set(list_rewards()) - {"combination"}))
def test_each_portfolio_follows_the_single_env_path(small_market, small_panel, reward, k):
    b = 3
    kwargs = {"start": 40, "end": 140, "rebalance_every": k, "reward": reward}
    venv = PortfolioVecEnv(small_market, small_panel, n_envs=b, **kwargs)
    singles = [PortfolioEnv(small_market, small_panel, **kwargs) for _ in range(b)]
    obs = venv.reset()
    for i, env in enumerate(singles):
        np.testing.assert_array_equal(obs[i], env.reset()[0])
    rng = np.random.default_rng(0)
    for _ in range(100 // k - 1):
        actions = rng.uniform(-1, 1, (b, 6)).astype(np.float32)
        obs, rewards, dones, _ = venv.step(actions)
        for i, env in enumerate(singles):
            o, r, *_ = env.step(actions[i])
            np.testing.assert_allclose(obs[i], o, rtol=1e-6, atol=1e-7)
            assert rewards[i] == pytest.approx(r, rel=1e-5, abs=1e-7)
            assert venv.wealth[i] == pytest.approx(env.wealth, rel=1e-12)
        assert not dones.any()


def test_auto_reset_reports_terminal_observation(small_market):
    venv = PortfolioVecEnv(small_market, features=False, n_envs=2, start=40, end=45)
    venv.reset()
    for _ in range(4):
        _, _, dones, infos = venv.step(np.zeros((2, 6), dtype=np.float32))
        assert not dones.any()
    obs, _, dones, infos = venv.step(np.zeros((2, 6), dtype=np.float32))
    assert dones.all()
    assert infos[0]["TimeLimit.truncated"] is True
    assert infos[0]["terminal_observation"].shape == obs[0].shape
    assert venv.t.tolist() == [40, 40] and venv.wealth.tolist() == [1.0, 1.0]
    assert obs[0][-6] == 1.0  # fresh episode starts in cash


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


def test_step_weights_matches_single_env(small_market):
    venv = PortfolioVecEnv(small_market, features=False, n_envs=2, start=40)
    env = PortfolioEnv(small_market, features=False, start=40)
    venv.reset(), env.reset()
    w = np.array([[0.2, 0.2, 0.2, 0.2, 0.1, 0.1], [0.0, 1.0, 0, 0, 0, 0]])
    for _ in range(5):
        venv.step_weights(w)
        env.step_weights(w[0])
    assert venv.wealth[0] == pytest.approx(env.wealth, rel=1e-13)


def test_ppo_trains_on_the_native_vec_env_and_dummy_vec_env(small_market, small_panel):
    venv = VecMonitor(PortfolioVecEnv(small_market, small_panel, n_envs=4, episode_length=16,
                                      random_start=True, seed=0))  # fmt: skip
    PPO("MlpPolicy", venv, n_steps=16, batch_size=32, n_epochs=1, seed=0).learn(64)
    dummy = DummyVecEnv([lambda: PortfolioEnv(small_market, small_panel)] * 2)
    PPO("MlpPolicy", dummy, n_steps=16, batch_size=32, n_epochs=1, seed=0).learn(32)


def test_dict_observations_batch(small_market, small_panel):
    venv = PortfolioVecEnv(small_market, small_panel, n_envs=3, observation="dict")
    obs = venv.reset()
    assert obs["features"].shape == (3, 5, 2) and obs["weights"].shape == (3, 6)
    obs, *_ = venv.step(np.zeros((3, 6), dtype=np.float32))
    assert venv.observation_space["returns"].shape == (5, 30)


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
    venv = SubprocVecEnv([_make_env, _make_env], start_method="spawn")
    try:
        venv.reset()
        obs, rewards, *_ = venv.step(np.zeros((2, 4), dtype=np.float32))
        assert obs.shape[0] == 2 and rewards[0] == rewards[1]
    finally:
        venv.close()
    native = PortfolioVecEnv(_make_env().market, False, n_envs=2)
    clone = pickle.loads(pickle.dumps(native))
    assert clone.num_envs == 2
