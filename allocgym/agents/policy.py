"""RL agents as backtester policies: `AgentPolicy` (a trained model) and `RLAgent` (trains in fit).

Both act on the environment's observation at the decision date, which the backtester
puts in ``state.observation``: it steps every policy through a
:class:`~allocgym.envs.PortfolioEnv` built with the same settings as the training env,
so the agent sees exactly what it saw in training. The action becomes weights through
the same :class:`~allocgym.envs.ActionMap` as in training.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from stable_baselines3.common.callbacks import BaseCallback

from allocgym._io import atomic_write
from allocgym._typing import FloatArray
from allocgym.agents.training import env_attribute, monitored, training_env
from allocgym.data import MarketData
from allocgym.envs.settings import EnvSettings
from allocgym.predictors.panel import FeaturePanel

__all__ = ["AgentPolicy", "RLAgent"]


class AgentPolicy:
    """A trained stable-baselines3 model as a :class:`~allocgym.policy.Policy`.

    Parameters
    ----------
    model : stable_baselines3 BaseAlgorithm
    action_map : ActionMap, optional
        The training env's action map (default: the env default, ``SimplexMap()``).
    name : str
    deterministic : bool
        Act with the policy's mean action (default) rather than a sample.
    rebalance_every : int
        Decide every k trading days and hold (drift) in between, as in training.
    """

    kind = "RL"

    def __init__(
        self,
        model: Any,
        action_map: Any = None,
        name: str = "agent",
        *,
        deterministic: bool = True,
        rebalance_every: int = 1,
    ) -> None:
        from allocgym.envs import SimplexMap
        from allocgym.envs.actions import needs_state

        self.model = model
        self.action_map = SimplexMap() if action_map is None else action_map
        self._needs_state = needs_state(self.action_map)
        self.name = name
        self.deterministic = deterministic
        self.rebalance_every = int(rebalance_every)
        self.reset()

    @classmethod
    def from_env(cls, model: Any, env: Any, name: str = "agent", **kwargs: Any) -> AgentPolicy:
        """Take the action map and decision period from the (training) env.

        ``env``: a :class:`~allocgym.envs.PortfolioEnv`, a
        :class:`~allocgym.envs.vector.PortfolioVecEnv` or an SB3 VecEnv of either,
        wrappers (Monitor, VecMonitor) included.
        """
        action_map = env_attribute(env, "action_map")
        kwargs.setdefault("rebalance_every", env_attribute(env, "rebalance_every"))
        return cls(model, action_map, name, **kwargs)

    def reset(self) -> None:
        self._steps = 0
        self._lstm_state = None
        self._episode_start = np.ones((1,), dtype=bool)

    def act(self, state: Any) -> FloatArray:
        """Target weights at ``state.t``; the drifted weights between decisions."""
        observation = getattr(state, "observation", None)
        if observation is None:
            raise ValueError(
                f"{self.name}: an RL agent acts on the environment's observation, and "
                "state.observation is None; run it through allocgym.backtest.backtest"
            )
        step, self._steps = self._steps, self._steps + 1
        if step % self.rebalance_every:
            return np.asarray(state.weights, dtype=np.float64)
        action, self._lstm_state = self.model.predict(
            observation,
            state=self._lstm_state,
            episode_start=self._episode_start,
            deterministic=self.deterministic,
        )
        self._episode_start[:] = False
        tradable = np.concatenate([[1.0], np.asarray(state.available, dtype=np.float64)])
        out = np.empty(tradable.size)
        if self._needs_state:  # e.g. a no-trade band: the move starts from the weights held
            current = np.asarray(state.weights, dtype=np.float64)
            return self.action_map.to_weights(np.asarray(action), tradable, out, current, state.t)
        return self.action_map.to_weights(np.asarray(action), tradable, out)

    # ------------------------------------------------------------------ persistence
    def save(self, directory: str | Path, config: dict | None = None) -> Path:
        """Save the model (SB3 zip) and ``agent.json``, atomically (a finished folder or none)."""
        directory = Path(directory)
        meta = {
            "name": self.name,
            "algorithm": type(self.model).__name__,
            "deterministic": self.deterministic,
            "rebalance_every": self.rebalance_every,
            "action_map": repr(self.action_map),
            "config": config or {},
        }

        def write(tmp: str) -> None:
            self.model.save(Path(tmp) / "model.zip")
            (Path(tmp) / "agent.json").write_text(json.dumps(meta, indent=2, default=str))

        atomic_write(directory, write, folder=True)
        return directory

    @classmethod
    def load(cls, directory: str | Path, action_map: Any = None) -> AgentPolicy:
        """Load a policy saved by :meth:`save`."""
        from allocgym.agents.registry import AGENTS

        directory = Path(directory)
        meta_path = directory / "agent.json"
        if not meta_path.exists():
            raise FileNotFoundError(f"{meta_path}: no saved agent here (expected agent.json)")
        meta = json.loads(meta_path.read_text())
        algo = next((s.load() for s in AGENTS.values() if s.cls == meta["algorithm"]), None)
        if algo is None:
            raise ValueError(f"{meta_path}: unknown algorithm {meta['algorithm']!r}")
        saved_map = meta.get("action_map")  # absent in older saves: not checked
        if saved_map is not None:
            from allocgym.envs import SimplexMap

            given = repr(SimplexMap() if action_map is None else action_map)
            if given != saved_map:
                raise ValueError(
                    f"{meta_path}: the agent was trained with the action map {saved_map}, "
                    f"not {given}; pass the same action_map (an agent's actions mean "
                    "nothing through another map)"
                )
        model = algo.load(directory / "model.zip", device="cpu")
        return cls(
            model,
            action_map,
            meta["name"],
            deterministic=meta["deterministic"],
            rebalance_every=meta["rebalance_every"],
        )


class RLAgent:
    """An RL agent that trains on each walk-forward fold's training part.

    ``fit(train_market, train_features)`` builds a training env on the training slice
    only (:func:`~allocgym.agents.training.training_env`: a
    :class:`~allocgym.envs.vector.PortfolioVecEnv` of ``n_envs`` portfolios from random
    episode starts, seeded), trains ``timesteps`` steps and keeps the model; ``act``
    then runs it out of sample. With ``checkpoint_dir`` every fold's model is saved there under
    its training date range and loaded instead of retrained when it exists, so an
    interrupted experiment resumes where it stopped.

    Parameters
    ----------
    algorithm : str
        Registered agent name (:data:`allocgym.agents.AGENTS`).
    timesteps : int
        Environment steps of training per fold, all portfolios together (SB3 rounds up
        to whole rollouts).
    seed : int
        Seeds the model and the training env: same seed, same model (on CPU).
    env : EnvSettings, optional
        The training environment's settings (default ``EnvSettings()``), shared with the
        backtest: pass the same object to :func:`~allocgym.backtest.backtest`. The agent
        decides every ``env.rebalance_every`` trading days (its training step) and holds
        in between; training episodes have ``env.episode_length`` decisions (fewer when
        the training slice is shorter).
    network : {"mlp", "equivariant"}
        ``"equivariant"`` puts :class:`~allocgym.agents.AssetEncoder` in front.
    hyperparameters : dict
        Passed to :func:`~allocgym.agents.make_agent`; they override the algorithm's
        defaults for ``n_envs`` environments (:class:`~allocgym.agents.AgentSpec`).
    n_envs : int, optional
        Portfolios stepped together in training; None: the algorithm's default
        (``AGENTS[algorithm].n_envs``: 256 for PPO, 64 for A2C and RecurrentPPO, 32 for
        SAC, TD3 and DDPG), fewer when ``timesteps`` cannot fill one rollout of
        ``n_steps`` per env. 1 trains on a single :class:`~allocgym.envs.PortfolioEnv`
        with the single-env defaults, as before vectorised training.
    name : str
    checkpoint_dir : path, optional
    tensorboard_dir : path, optional
        Training curves and :class:`FinancialMetricsCallback` metrics per fold.
    progress : callable, optional
        ``progress(n_steps)`` called while training (progress bars).
    """

    kind = "RL"

    def __init__(
        self,
        algorithm: str = "ppo",
        timesteps: int = 20_000,
        seed: int = 0,
        env: EnvSettings | None = None,
        *,
        network: str = "mlp",
        hyperparameters: dict[str, Any] | None = None,
        n_envs: int | None = None,
        name: str | None = None,
        checkpoint_dir: str | Path | None = None,
        tensorboard_dir: str | Path | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> None:
        self.algorithm = algorithm
        self.timesteps = int(timesteps)
        self.seed = int(seed)
        if env is not None and not isinstance(env, EnvSettings):
            raise TypeError(
                f"env must be an allocgym.envs.EnvSettings or None; got {type(env).__name__}"
            )
        self.env = EnvSettings() if env is None else env
        self.network = network
        self.hyperparameters = dict(hyperparameters or {})
        self.n_envs = _n_envs(algorithm, n_envs, self.timesteps, self.hyperparameters)
        self.name = name or algorithm.upper()
        self.checkpoint_dir = None if checkpoint_dir is None else Path(checkpoint_dir)
        self.tensorboard_dir = None if tensorboard_dir is None else Path(tensorboard_dir)
        self.progress = progress
        self.policy_: AgentPolicy | None = None
        self.fold_policies_: dict[str, AgentPolicy] = {}
        self.n_folds_trained_ = 0
        self.n_folds_loaded_ = 0
        self.n_folds_reused_ = 0
        self.training_episodes_: list[dict[str, float]] = []

    def reset(self) -> None:
        if self.policy_ is not None:
            self.policy_.reset()

    def make_env(self, market: MarketData, features: FeaturePanel | None) -> Any:
        """The training environment on ``market``: ``n_envs`` portfolios, random starts,
        seeded (:func:`~allocgym.agents.training.training_env`).

        ``features=None``: no features (the observation holds past returns and weights).
        """
        return training_env(self.env, market, features, n_envs=self.n_envs, seed=self.seed)

    def fold_key(self, market: MarketData) -> str:
        """The name of the folder a training slice's model is saved in (``checkpoint_dir /
        fold_key(market)``): its first and last dates, ``YYYYMMDD-YYYYMMDD``."""
        return f"{market.dates[0]:%Y%m%d}-{market.dates[-1]:%Y%m%d}"

    def fit(self, market: MarketData, features: FeaturePanel | None = None) -> RLAgent:
        """Train on ``market`` (the fold's training part) or load the saved model.

        A fold this agent has already fitted (same ``fold_key``, i.e. the same training
        dates) is taken from memory (``fold_policies_``, counted in ``n_folds_reused_``),
        reset, and neither trained nor loaded again: a
        :class:`~allocgym.agents.SeedEnsemble` refits its members on every fold.
        """
        from allocgym.agents.callbacks import FinancialMetricsCallback
        from allocgym.agents.networks import asset_encoder_kwargs
        from allocgym.agents.registry import make_agent

        key = self.fold_key(market)
        if key in self.fold_policies_:
            self.policy_ = self.fold_policies_[key]
            self.policy_.reset()  # a new schedule, as a freshly trained or loaded one
            self.n_folds_reused_ += 1
            return self
        env = self.make_env(market, features)
        saved = None if self.checkpoint_dir is None else self.checkpoint_dir / key
        if saved is not None and (saved / "agent.json").exists():
            self.policy_ = AgentPolicy.load(saved, env.action_map)
            self.fold_policies_[key] = self.policy_
            self.n_folds_loaded_ += 1
            if self.progress is not None:
                self.progress(self.timesteps)
            return self
        hp = dict(self.hyperparameters)
        if self.network == "equivariant" and "policy_kwargs" not in hp:
            hp["policy_kwargs"] = asset_encoder_kwargs(env)
        if self.tensorboard_dir is not None:
            hp.setdefault("tensorboard_log", str(self.tensorboard_dir))
        model = make_agent(self.algorithm, monitored(env), seed=self.seed, **hp)
        metrics = FinancialMetricsCallback(days_per_step=env.rebalance_every)
        callbacks = [metrics]
        if self.progress is not None:
            callbacks.append(_ProgressCallback(self.progress, self.timesteps))
        model.learn(
            total_timesteps=self.timesteps,
            callback=callbacks,
            tb_log_name=f"{self.name}_fold{key}",
        )
        self.training_episodes_.extend(metrics.episodes_)
        self.policy_ = AgentPolicy.from_env(model, env, self.name)
        self.fold_policies_[key] = self.policy_
        self.n_folds_trained_ += 1
        if saved is not None:
            self.policy_.save(saved, {"algorithm": self.algorithm, "seed": self.seed, "fold": key})
        return self

    def act(self, state: Any) -> FloatArray:
        if self.policy_ is None:
            raise RuntimeError(f"{self.name}: call fit() (or run a backtest) before act()")
        return self.policy_.act(state)


def _n_envs(algorithm: str, n_envs: Any, timesteps: int, hyperparameters: dict) -> int | None:
    """``n_envs`` checked, or the algorithm's default for this budget
    (:meth:`~allocgym.agents.AgentSpec.default_n_envs`; None for an unknown algorithm:
    ``fit`` then fails naming the known ones)."""
    if n_envs is None:
        from allocgym.agents.registry import AGENTS

        found = AGENTS.find(algorithm)
        if found is None:
            return None
        return AGENTS.entry(found).factory.default_n_envs(timesteps, **hyperparameters)
    if not isinstance(n_envs, int | np.integer) or isinstance(n_envs, bool) or n_envs < 1:
        raise ValueError(f"n_envs={n_envs!r} is invalid; expected an integer >= 1 or None")
    return int(n_envs)


class _ProgressCallback(BaseCallback):
    """Report training steps to a progress bar every ``every`` steps."""

    def __init__(self, report: Callable[[int], None], limit: int, every: int = 256) -> None:
        super().__init__()
        self.report, self.limit, self.every, self._last = report, limit, every, 0

    def _flush(self) -> None:
        # SB3 rounds training up to whole rollouts; the bar counts the requested steps
        done = min(self.num_timesteps, self.limit)
        if done > self._last:
            self.report(done - self._last)
            self._last = done

    def _on_step(self) -> bool:
        if self.num_timesteps - self._last >= self.every:
            self._flush()
        return True

    def _on_training_end(self) -> None:
        self._flush()
