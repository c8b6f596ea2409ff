"""RL agents as backtester policies: `AgentPolicy` (a trained model) and `RLAgent` (trains in fit).

Both act on the environment's observation at the decision date, which the backtester
puts in ``state.observation``: it steps every policy through a
:class:`~allocgym.envs.PortfolioEnv` built with the same settings as the training env,
so the agent sees exactly what it saw in training. The action becomes weights through
the same :class:`~allocgym.envs.ActionMap` as in training.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from allocgym._io import atomic_write, safe_component
from allocgym._typing import FloatArray
from allocgym.agents.model_file import file_sha256, load_model
from allocgym.agents.training import env_attribute, monitored, training_env
from allocgym.data import MarketData
from allocgym.envs.actions import bind_action_map, extend_action_map
from allocgym.envs.settings import EnvSettings
from allocgym.exceptions import DataError
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
        # a map bound to the training env's market (a baseline reference): rebound to the
        # market of the states it acts on, whose row t its reference is read at
        self._binds = callable(getattr(self.action_map, "bind", None))
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
        self._bound_map: Any = None  # self.action_map bound to the states' market
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
        action_map = self._map_for(state) if self._binds else self.action_map
        if self._needs_state:  # e.g. a no-trade band: the move starts from the weights held
            current = np.asarray(state.weights, dtype=np.float64)
            return action_map.to_weights(np.asarray(action), tradable, out, current, state.t)
        return action_map.to_weights(np.asarray(action), tradable, out)

    def _map_for(self, state: Any) -> Any:
        """The action map bound to the market the states come from, with row ``state.t``.

        The backtester's states of one run (between two :meth:`reset`) are prefixes
        ``market[: t + 1]`` of one market: the map is bound at the first decision and
        extended at the next ones, so each row is computed once (point in time: row t
        from data dated <= t)."""
        if self._bound_map is None:
            self._bound_map = bind_action_map(self.action_map, state.history, state.features)
        else:
            self._bound_map = extend_action_map(self._bound_map, state.history, state.features)
        return self._bound_map

    # ------------------------------------------------------------------ persistence
    def save(self, directory: str | Path, config: dict | None = None) -> Path:
        """Save the model (SB3 zip) and ``agent.json``, atomically (a finished folder or none).

        ``agent.json`` records the SHA-256 of ``model.zip`` (``model_sha256``), which
        :meth:`load` checks.
        """
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
            meta["model_sha256"] = file_sha256(Path(tmp) / "model.zip")
            (Path(tmp) / "agent.json").write_text(json.dumps(meta, indent=2, default=str))

        atomic_write(directory, write, folder=True)
        return directory

    @classmethod
    def load(cls, directory: str | Path, action_map: Any = None, *, like: Any) -> AgentPolicy:
        """Load a policy saved by :meth:`save`, running no code from its files.

        Parameters
        ----------
        directory : path-like
            The folder :meth:`save` wrote (``agent.json`` and ``model.zip``).
        action_map : ActionMap, optional
            The map the agent acts through (default ``SimplexMap()``); it must be the
            one it was trained with, recorded in ``agent.json``.
        like : stable_baselines3 BaseAlgorithm
            An untrained model of the saved algorithm, built for the same env and
            hyperparameters (``make_agent(name, env, **hyperparameters)``). SB3's own
            ``load`` would unpickle the spaces, schedules and classes stored in the zip
            (and so run whatever code a crafted file holds); they are taken from ``like``
            instead (:func:`~allocgym.agents.model_file.load_model`), and the weights
            are read as tensors only.

        Raises
        ------
        DataError
            ``agent.json`` is garbled or incomplete; ``model.zip`` is missing, unreadable,
            holds pickled entries ``like`` cannot replace or weights that do not fit it;
            or ``model.zip`` changed since it was written (its SHA-256 differs from the
            one in ``agent.json``). Each message names the file and says to delete the
            model folder to retrain the model.
        ValueError
            ``like`` or ``action_map`` is not what the agent was trained with.

        Notes
        -----
        A save from before hashes were recorded (no ``model_sha256``) loads without the
        check: the loader runs no code from the file whatever it holds, so the hash guards
        against a damaged or swapped model, not against foreign code.
        """
        directory = Path(directory)
        remedy = f"Delete the model folder {directory} and run again to retrain the model."
        meta = _read_meta(directory / "agent.json", remedy)
        if meta["algorithm"] != type(like).__name__:
            raise ValueError(
                f"{directory / 'agent.json'}: the saved agent is a {meta['algorithm']} model; "
                f"like is a {type(like).__name__}"
            )
        saved_map = meta.get("action_map")  # absent in older saves: not checked
        if saved_map is not None:
            from allocgym.envs import SimplexMap

            given = repr(SimplexMap() if action_map is None else action_map)
            if given != saved_map:
                raise ValueError(
                    f"{directory / 'agent.json'}: the agent was trained with the action map "
                    f"{saved_map}, not {given}; pass the same action_map (an agent's actions "
                    "mean nothing through another map)"
                )
        model_path = directory / "model.zip"
        _check_hash(model_path, meta.get("model_sha256"), remedy)
        return cls(
            load_model(model_path, like, remedy),
            action_map,
            meta["name"],
            deterministic=meta["deterministic"],
            rebalance_every=meta["rebalance_every"],
        )


_META_TYPES = {
    "name": str,
    "algorithm": str,
    "deterministic": bool,
    "rebalance_every": int,
    "model_sha256": str,  # optional: absent in older saves
}


def _read_meta(path: Path, remedy: str) -> dict[str, Any]:
    """``agent.json`` parsed and checked; errors name the file and end with ``remedy``."""
    if not path.exists():
        raise FileNotFoundError(f"{path}: no saved agent here (expected agent.json)")
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:  # ValueError: bad JSON (an empty file too), bad UTF-8
        raise DataError(
            f"{path}: not a readable agent.json ({type(e).__name__}: {e}). {remedy}"
        ) from e
    if not isinstance(meta, dict):
        raise DataError(f"{path}: expected a JSON object, got {type(meta).__name__}. {remedy}")
    wrong = {
        key: meta.get(key)
        for key, kind in _META_TYPES.items()
        if (key in meta or key != "model_sha256") and not _valid(meta.get(key), kind)
    }
    if wrong:
        expected = ", ".join(f"{k}: {kind.__name__}" for k, kind in _META_TYPES.items())
        raise DataError(
            f"{path}: missing or invalid entries {wrong} (expected {expected}). {remedy}"
        )
    return meta


def _valid(value: Any, kind: type) -> bool:
    # JSON true/false load as bools, and a bool is an int to isinstance
    return isinstance(value, kind) and (kind is bool or not isinstance(value, bool))


def _check_hash(path: Path, expected: str | None, remedy: str) -> None:
    """Refuse a model file whose SHA-256 is not the one recorded when it was saved."""
    if expected is None:
        return  # saved before hashes were recorded (see AgentPolicy.load)
    try:
        actual = file_sha256(path)
    except OSError as e:
        raise DataError(f"{path}: cannot read the model file ({e}). {remedy}") from e
    if actual != expected:
        raise DataError(
            f"{path}: the model file changed since it was written (its SHA-256 is "
            f"{actual[:16]}..., agent.json recorded {expected[:16]}...): it was damaged, "
            f"edited or replaced, and is not loaded. {remedy}"
        )


class RLAgent:
    """An RL agent that trains on each walk-forward fold's training part.

    ``fit(train_market, train_features)`` builds a training env on the training slice
    only (:func:`~allocgym.agents.training.training_env`: a
    :class:`~allocgym.envs.vector.PortfolioVecEnv` of ``n_envs`` portfolios from random
    episode starts, seeded), trains ``timesteps`` steps and keeps the model; ``act``
    then runs it out of sample. With ``checkpoint_dir`` every fold's model is saved there under
    its training date range and loaded instead of retrained when it exists, so an
    interrupted experiment resumes where it stopped. Loading runs no code from the saved
    files and refuses a model file that changed since it was saved
    (:meth:`AgentPolicy.load`, against an untrained model built as for training).

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
        ``"equivariant"``: one network shared by the assets
        (:func:`~allocgym.agents.networks.equivariant_hyperparameters`): for PPO and A2C
        an actor that is permutation-equivariant end to end (EIIE's per-asset scores,
        :class:`~allocgym.agents.networks.EquivariantActorCriticPolicy`), for the other
        algorithms :class:`~allocgym.agents.AssetEncoder` in front of SB3's heads.
        Ignored when ``hyperparameters`` set ``policy_kwargs``.
    observe : sequence of str, optional
        The features the agent observes: feature groups (``"technical"``, ``"garch"``,
        ``"regime"``, ``"lstm"``: :data:`~allocgym.predictors.FEATURE_GROUPS`) or
        feature names of the panel; None (default): all of them. It trains and acts on
        :func:`~allocgym.predictors.select_features` of the panel (the past returns and
        weights are always observed; the availability mask is the full panel's, so
        every selection trades the same assets). The predictor ablation compares them.
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
        The agent's label; the TensorBoard run of a fold is named after it, made a safe
        file name (:func:`allocgym._io.safe_component`), so it stays in ``tensorboard_dir``.
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
        observe: Sequence[str] | None = None,
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
        self.observe = _check_observe(observe)
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

        Raises
        ------
        ConfigError
            ``algorithm`` is not a registered agent (e.g. a plug-in registered in another
            process), naming the known ones.
        """
        if self.n_envs is None:  # only an unknown algorithm has no default
            from allocgym.agents.registry import AGENTS

            AGENTS.resolve(self.algorithm)
        return training_env(self.env, market, features, n_envs=self.n_envs, seed=self.seed)

    def observed_features(
        self, market: MarketData, features: FeaturePanel | None
    ) -> FeaturePanel | None:
        """The part of ``features`` the agent observes (``observe``; all when None)."""
        if features is None or self.observe is None:
            return features
        from allocgym.predictors.groups import select_features

        return select_features(features, market, self.observe)

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
        return self.fit_blocks([(market, features)])

    def fit_blocks(self, blocks: Sequence[tuple[MarketData, FeaturePanel | None]]) -> RLAgent:
        """Train one model on training blocks separated by gaps, as :meth:`fit` on one.

        Purged cross-validation trains on the rows on both sides of a test block. Each
        block gets a training env of its own, so no episode, and no return, spans a gap;
        the model learns the blocks one after the other, in the order given, each for
        its share of ``timesteps`` in proportion to its days (SB3 rounds each share up
        to whole rollouts). The model is kept in memory and in ``checkpoint_dir`` under
        the blocks' ``fold_key`` joined with ``+``. One learning-rate schedule runs across
        the blocks (:func:`_one_schedule`).
        """
        key = "+".join(self.fold_key(market) for market, _ in blocks)
        if key in self.fold_policies_:
            self.policy_ = self.fold_policies_[key]
            self.policy_.reset()  # a new schedule, as a freshly trained or loaded one
            self.n_folds_reused_ += 1
            return self
        envs = [self.make_env(m, self.observed_features(m, f)) for m, f in blocks]
        model = self._new_model(envs[0])
        saved = None if self.checkpoint_dir is None else self.checkpoint_dir / key
        if saved is not None and (saved / "agent.json").exists():
            self.policy_ = AgentPolicy.load(saved, envs[0].action_map, like=model)
            self.fold_policies_[key] = self.policy_
            self.n_folds_loaded_ += 1
            if self.progress is not None:
                self.progress(self.timesteps)
            return self
        days = np.cumsum([m.n_dates for m, _ in blocks])
        cuts = np.rint(self.timesteps * days / days[-1]).astype(int)
        with _one_schedule(model, int(cuts[-1])):
            self._learn_blocks(model, envs, np.diff(cuts, prepend=0), key)
        self.policy_ = AgentPolicy.from_env(model, envs[0], self.name)
        self.fold_policies_[key] = self.policy_
        self.n_folds_trained_ += 1
        if saved is not None:
            self.policy_.save(saved, {"algorithm": self.algorithm, "seed": self.seed, "fold": key})
        return self

    def _learn_blocks(self, model: Any, envs: list, steps_per_block: Any, key: str) -> None:
        """``model.learn`` on each block's env in turn, each for its share of the steps."""
        from allocgym.agents.callbacks import FinancialMetricsCallback, ProgressCallback

        for i, (env, steps) in enumerate(zip(envs, steps_per_block, strict=True)):
            if i:
                model.set_env(monitored(env))
            metrics = FinancialMetricsCallback(days_per_step=env.rebalance_every)
            callbacks = [metrics]
            if self.progress is not None:
                callbacks.append(ProgressCallback(self.progress, int(steps)))
            model.learn(
                total_timesteps=max(int(steps), 1),
                callback=callbacks,
                reset_num_timesteps=i == 0,  # one TensorBoard run, one step count
                # SB3 joins it to tensorboard_log: a label like "../x" must not leave that folder
                tb_log_name=safe_component(f"{self.name}_fold{key}"),
            )
            self.training_episodes_.extend(metrics.episodes_)

    def _new_model(self, env: Any) -> Any:
        """An untrained model for ``env``: trained in ``fit``, or the template that a saved
        fold's model is loaded against (:meth:`AgentPolicy.load`'s ``like``)."""
        from allocgym.agents.networks import equivariant_hyperparameters
        from allocgym.agents.registry import AGENTS, make_agent

        hp = dict(self.hyperparameters)
        if self.network == "equivariant" and "policy_kwargs" not in hp:
            found = AGENTS.find(self.algorithm)  # None: make_agent names the known ones
            cls = "" if found is None else AGENTS.entry(found).factory.cls
            hp = {**equivariant_hyperparameters(cls, env), **hp}
        if self.tensorboard_dir is not None:
            hp.setdefault("tensorboard_log", str(self.tensorboard_dir))
        return make_agent(self.algorithm, monitored(env), seed=self.seed, **hp)

    def act(self, state: Any) -> FloatArray:
        if self.policy_ is None:
            raise RuntimeError(f"{self.name}: call fit() (or run a backtest) before act()")
        return self.policy_.act(state)


def _check_observe(observe: Any) -> tuple[str, ...] | None:
    if observe is None:
        return None
    if (
        isinstance(observe, str)
        or not isinstance(observe, Sequence)
        or not observe
        or not all(isinstance(o, str) and o for o in observe)
    ):
        raise ValueError(
            f"observe={observe!r} is invalid; expected None (every feature) or a non-empty "
            "list of feature groups or feature names, e.g. ['technical', 'garch']"
        )
    return tuple(observe)


def _n_envs(algorithm: str, n_envs: Any, timesteps: int, hyperparameters: dict) -> int | None:
    """``n_envs`` checked, or the algorithm's default for this budget
    (:meth:`~allocgym.agents.AgentSpec.default_n_envs`; None for an unknown algorithm:
    ``make_env`` then fails naming the known ones)."""
    if n_envs is None:
        from allocgym.agents.registry import AGENTS

        found = AGENTS.find(algorithm)
        if found is None:
            return None
        return AGENTS.entry(found).factory.default_n_envs(timesteps, **hyperparameters)
    if not isinstance(n_envs, int | np.integer) or isinstance(n_envs, bool) or n_envs < 1:
        raise ValueError(f"n_envs={n_envs!r} is invalid; expected an integer >= 1 or None")
    return int(n_envs)


@contextmanager
def _one_schedule(model: Any, total: int) -> Iterator[None]:
    """One learning-rate (and clip-range) schedule over training blocks that
    ``model.learn`` trains one after the other: SB3 measures its progress within each
    ``learn`` call, so the second block's schedule would start over part of the way up.
    Here progress is ``1 - steps done / total`` across the blocks (at least 0; SB3 rounds
    each block up to whole rollouts). The override is removed afterwards, so the saved
    model carries none of it."""

    def progress(num_timesteps: int, total_timesteps: int) -> None:
        model._current_progress_remaining = max(0.0, 1.0 - float(num_timesteps) / total)

    model._update_current_progress_remaining = progress
    try:
        yield
    finally:
        del model._update_current_progress_remaining
