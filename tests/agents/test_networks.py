"""``allocgym.agents.networks``: the shared per-asset encoder and EIIE's action head, as
documented (sizes, starting weights, the observations they accept, the optimiser)."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch

from allocgym.agents import make_agent
from allocgym.agents.networks import (
    AssetActionHead,
    AssetEncoder,
    EquivariantActorCriticPolicy,
    asset_encoder_kwargs,
    equivariant_hyperparameters,
)
from allocgym.envs import PortfolioEnv
from allocgym.predictors import FeaturePanel


def _panel(market, n_market: int) -> FeaturePanel:
    """One per-asset feature and ``n_market`` market features, all noise."""
    rng = np.random.default_rng(5)
    values = rng.standard_normal((market.n_dates, market.n_assets, 1)).astype(np.float32)
    mkt = rng.standard_normal((market.n_dates, n_market)).astype(np.float32)
    names = tuple(f"regime_p{k}" for k in range(n_market))
    return FeaturePanel(market.dates, market.assets, values, ("mom_5",), mkt, names,
                        market.available)  # fmt: skip


def _per_asset(env: PortfolioEnv) -> int:
    """Each asset's own inputs: its features, returns and mask, and its weight."""
    slices, n = env.observation_layout.slices, env.n_assets
    return sum((slices[k].stop - slices[k].start) // n for k in ("features", "returns", "mask")
               if k in slices) + 1  # fmt: skip


@pytest.fixture(scope="module")
def regime_env(synthetic_market) -> PortfolioEnv:
    """Three market features (as the HMM's regime probabilities), five assets."""
    market = synthetic_market[:300]
    return PortfolioEnv(market, _panel(market, 3), window=5)


def test_the_documented_sizes_are_the_defaults(regime_env):
    kwargs = asset_encoder_kwargs(regime_env)
    assert kwargs["features_extractor_kwargs"]["embed_dim"] == 8
    assert kwargs["features_extractor_kwargs"]["hidden"] == 32
    assert kwargs["net_arch"] == [32]
    plain = {k: v for k, v in kwargs["features_extractor_kwargs"].items()
             if k not in ("embed_dim", "hidden")}  # fmt: skip
    enc = AssetEncoder(regime_env.observation_space, **plain)
    first, second = enc.encoder[0], enc.encoder[2]
    assert (first.out_features, second.in_features, second.out_features) == (32, 32, 8)
    n = regime_env.n_assets
    assert enc.features_dim == (n + 1) * 8 + 1  # each embedding, their mean, the cash weight
    hp = equivariant_hyperparameters("PPO", regime_env)
    assert hp["policy_kwargs"]["net_arch"] == {"pi": [], "vf": [64]}


def test_every_asset_sees_the_market_features(regime_env):
    """Global inputs (here three regime probabilities) join each asset's own inputs: a
    change of one market feature moves every asset's embedding."""
    kwargs = asset_encoder_kwargs(regime_env)["features_extractor_kwargs"]
    enc = AssetEncoder(regime_env.observation_space, **kwargs)
    assert enc.encoder[0].in_features == _per_asset(regime_env) + 3
    obs = torch.as_tensor(regime_env.reset(seed=0)[0])[None].repeat(2, 1)
    market = regime_env.observation_layout.slices["market"]
    obs[1, market.start] += 1.0
    with torch.no_grad():
        out = enc(obs)
    n, e = regime_env.n_assets, 8
    emb = out[:, : n * e].reshape(2, n, e)
    assert (emb[0] != emb[1]).any(dim=1).all()  # every asset moved


def test_an_env_without_features_or_market_features_is_encoded(synthetic_market):
    env = PortfolioEnv(synthetic_market[:300], None, window=5)
    kwargs = asset_encoder_kwargs(env)["features_extractor_kwargs"]
    enc = AssetEncoder(env.observation_space, **kwargs)
    assert "features" not in enc.slices and "market" not in enc.slices  # empty parts left out
    assert enc.encoder[0].in_features == _per_asset(env)
    obs = torch.as_tensor(env.reset(seed=0)[0])[None]
    with torch.no_grad():
        assert enc(obs).shape == (1, (env.n_assets + 1) * 8 + 1)


def test_the_encoder_needs_a_flat_portfolio_observation(synthetic_market):
    with pytest.raises(TypeError, match="CartPoleEnv has no observation_layout"):
        asset_encoder_kwargs(gym.make("CartPole-v1"))
    env = PortfolioEnv(synthetic_market[:300], None, window=5, observation="dict")
    with pytest.raises(TypeError, match="with observation='flat'"):
        asset_encoder_kwargs(env)


def test_the_action_head_starts_near_no_action_with_a_cash_entry_by_default():
    """Orthogonal weights with gain 0.01 (one row: norm 0.01) and zero biases, as SB3's
    action nets: the first actions are near zero, the action map's "no action"."""
    head = AssetActionHead(4, 3)
    assert head.cash is not None
    for layer in (head.asset, head.cash):
        torch.testing.assert_close(layer.weight.norm(), torch.tensor(0.01))
        assert torch.count_nonzero(layer.bias) == 0
    latent = torch.randn(2, (4 + 1) * 3 + 1, generator=torch.Generator().manual_seed(0))
    out = head(latent)
    assert out.shape == (2, 5) and out.abs().max() < 0.1
    assert AssetActionHead(4, 3, cash=False)(latent).shape == (2, 4)


def test_the_policy_without_an_embed_size_uses_the_encoders_default(regime_env):
    kwargs = asset_encoder_kwargs(regime_env)
    del kwargs["features_extractor_kwargs"]["embed_dim"]
    kwargs["net_arch"] = {"pi": [], "vf": [16]}
    model = make_agent("ppo", regime_env, n_steps=16, batch_size=16, n_epochs=1,
                       policy=EquivariantActorCriticPolicy, policy_kwargs=kwargs)  # fmt: skip
    obs = torch.as_tensor(regime_env.reset(seed=0)[0])[None]
    with torch.no_grad():
        mean = model.policy.get_distribution(obs).distribution.mean
    assert mean.shape == (1, regime_env.n_assets + 1)


def test_the_optimiser_trains_the_new_action_head_at_the_starting_rate(regime_env):
    """The head replaced after SB3 built its optimiser is in the optimiser, at the
    schedule's starting rate, and learns."""
    hp = equivariant_hyperparameters("PPO", regime_env)
    model = make_agent("ppo", regime_env, n_steps=16, batch_size=16, n_epochs=2,
                       learning_rate=lambda progress: 1e-3 * progress, **hp)  # fmt: skip
    policy = model.policy
    in_optimiser = {id(p) for g in policy.optimizer.param_groups for p in g["params"]}
    assert {id(p) for p in policy.action_net.parameters()} <= in_optimiser
    assert in_optimiser == {id(p) for p in policy.parameters()}
    assert policy.optimizer.param_groups[0]["lr"] == pytest.approx(1e-3)
    before = policy.action_net.asset.weight.detach().clone()
    model.learn(32)
    assert not torch.equal(policy.action_net.asset.weight.detach(), before)


def test_empty_parts_of_a_given_layout_are_left_out(synthetic_market):
    """``slices`` written by hand may name a part of size 0 (no features): it is left
    out, as the env's own layout leaves it out."""
    env = PortfolioEnv(synthetic_market[:300], None, window=5)
    kwargs = asset_encoder_kwargs(env)["features_extractor_kwargs"]
    slices = {**kwargs["slices"], "features": (0, 0), "market": (0, 0)}
    enc = AssetEncoder(env.observation_space, **{**kwargs, "slices": slices})
    assert "features" not in enc.slices and "market" not in enc.slices
    obs = torch.as_tensor(env.reset(seed=0)[0])[None]
    with torch.no_grad():
        assert enc(obs).shape == (1, (env.n_assets + 1) * 8 + 1)
