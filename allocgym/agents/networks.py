"""An asset-permutation-equivariant feature extractor, in the spirit of EIIE.

Jiang, Xu & Liang (2017) score every asset with one small network whose weights are
shared across assets ("ensemble of identical independent evaluators"), so the policy
learns one rule that applies to any asset, needs far fewer parameters than a dense
network over all assets, and treats a permutation of the assets by permuting its
output. :class:`AssetEncoder` does this for the flat observation of
:class:`~allocgym.envs.PortfolioEnv`: for each asset ``i`` it encodes

    x_i = [features_i, past log returns_i, availability_i, weight_i, market features]

with one shared MLP into ``embed_dim`` numbers, and returns the concatenation of the
per-asset embeddings, their mean (a permutation-invariant summary) and the cash weight.
Use it through ``policy_kwargs``::

    make_agent("ppo", env, policy_kwargs=asset_encoder_kwargs(env))

The action head that SB3 puts on top is a linear map of these embeddings; the
embedding of an asset does not depend on where it sits in the list.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import torch
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
from torch import nn

from allocgym.agents.training import env_attribute

__all__ = ["AssetEncoder", "asset_encoder_kwargs"]


class AssetEncoder(BaseFeaturesExtractor):
    """Shared per-asset encoder over the flat PortfolioEnv observation.

    Parameters
    ----------
    observation_space : gymnasium.spaces.Box
    slices : dict of str to (start, stop)
        Positions of ``features``, ``market``, ``returns``, ``mask``, ``weights`` (and
        optionally ``time``) in the flat observation (``env.observation_layout``).
    n_assets : int
    embed_dim : int, default 8
        Size of each asset's embedding.
    hidden : int, default 32
        Hidden units of the shared encoder.
    """

    def __init__(
        self,
        observation_space: gym.spaces.Box,
        slices: dict[str, tuple[int, int]],
        n_assets: int,
        embed_dim: int = 8,
        hidden: int = 32,
    ) -> None:
        self.n_assets = int(n_assets)
        # parts of size 0 (no panel, no market features) are left out
        self.slices = {k: slice(int(a), int(b)) for k, (a, b) in slices.items() if b > a}
        per_asset = sum(
            (self.slices[k].stop - self.slices[k].start) // self.n_assets
            for k in ("features", "returns", "mask")
            if k in self.slices
        )
        n_global = sum(
            self.slices[k].stop - self.slices[k].start
            for k in ("market", "time")
            if k in self.slices
        )
        super().__init__(observation_space, features_dim=(self.n_assets + 1) * embed_dim + 1)
        self.encoder = nn.Sequential(
            nn.Linear(per_asset + 1 + n_global, hidden),
            nn.Tanh(),
            nn.Linear(hidden, embed_dim),
            nn.Tanh(),
        )

    def _part(self, obs: torch.Tensor, key: str) -> torch.Tensor:
        sl = self.slices[key]
        return obs[:, sl].reshape(obs.shape[0], self.n_assets, -1)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        batch = obs.shape[0]
        parts = [self._part(obs, k) for k in ("features", "returns", "mask") if k in self.slices]
        weights = obs[:, self.slices["weights"]]
        parts.append(weights[:, 1:].unsqueeze(-1))
        glob = [obs[:, self.slices[k]] for k in ("market", "time") if k in self.slices]
        if glob:
            g = torch.cat(glob, dim=1).unsqueeze(1).expand(batch, self.n_assets, -1)
            parts.append(g)
        emb = self.encoder(torch.cat(parts, dim=-1))  # (batch, n_assets, embed_dim)
        pooled = emb.mean(dim=1)
        return torch.cat([emb.reshape(batch, -1), pooled, weights[:, :1]], dim=1)


def asset_encoder_kwargs(env: Any, embed_dim: int = 8, hidden: int = 32) -> dict[str, Any]:
    """``policy_kwargs`` that put :class:`AssetEncoder` in front of SB3's policy heads.

    ``env``: a :class:`~allocgym.envs.PortfolioEnv` or
    :class:`~allocgym.envs.vector.PortfolioVecEnv` (or an SB3 VecEnv of either).
    """
    try:
        layout = env_attribute(env, "observation_layout")
        dict_obs = env_attribute(env, "dict_obs")
    except AttributeError:
        layout = dict_obs = None
    if layout is None or dict_obs:
        name = type(getattr(env, "unwrapped", env)).__name__
        raise TypeError(
            f"{name} has no observation_layout; the asset encoder needs a PortfolioEnv "
            "or PortfolioVecEnv with observation='flat'"
        )
    slices = {k: (s.start, s.stop) for k, s in layout.slices.items()}
    return {
        "features_extractor_class": AssetEncoder,
        "features_extractor_kwargs": {
            "slices": slices,
            "n_assets": layout.n_assets,
            "embed_dim": embed_dim,
            "hidden": hidden,
        },
        "net_arch": [32],
    }
