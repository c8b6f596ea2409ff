"""Typed experiment configuration, loaded from YAML and validated once.

An experiment file has the sections below (every key optional except where noted);
:func:`load_config` turns it into an :class:`ExperimentConfig` and names the key, the
value and what is allowed whenever something is wrong::

    name: quickstart             # runs/<name>/ holds the results
    output_dir: runs
    data:        {source: null, start: "2008-01-01", end: null,
                  synthetic: null}       # or make_synthetic_market's arguments
    features:    {preset: standard, overrides: {}}       # technical | standard | full
    env:         {cost_bps: 10, reward: log_return, reward_kwargs: {}, window: 20,
                  rebalance_every: 5, action: simplex, action_kwargs: {},
                  episode_length: 50, norm_window: 252, time_features: false,
                  observation: flat}                   # an allocgym.envs.EnvSettings
    walk_forward: {train: 1260, test: 252, step: null, expanding: false, purge: 0}
    agents:
      - {name: ppo, label: PPO, timesteps: 20000, seeds: [0], network: mlp,
         n_envs: null,                                 # null: the algorithm's default
         observe: null,                # or feature groups/names: [technical, garch]
         hyperparameters: {learning_rate: 0.0003}}
    baselines:
      - {name: equal_weight}
      - {name: min_variance, params: {lookback: 252}}
    report:      {n_boot: 1000, benchmark: null, prior_trials: 0,
                  market: null}    # sp500 | none | {source: FILE, column: NAME}
"""

from __future__ import annotations

import collections.abc
import dataclasses
import difflib
import inspect
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from allocgym._io import check_component, read_yaml_mapping, safe_component
from allocgym.envs.settings import EnvSettings
from allocgym.exceptions import ConfigError, SettingError
from allocgym.predictors.config import DEFAULT_PRESET

__all__ = [
    "AgentConfig",
    "BaselineConfig",
    "DataConfig",
    "ExperimentConfig",
    "FeaturesConfig",
    "ReportConfig",
    "WalkForwardConfig",
    "load_config",
]

NETWORKS = ("mlp", "equivariant")
# paths allocgym chooses inside the run folder: a config may not point them elsewhere
_OWNED_HYPERPARAMETERS = ("tensorboard_log",)


def _fail(path: str, value: Any, expected: str) -> typing.NoReturn:
    raise ConfigError(f"{path}: {value!r} is invalid; expected {expected}")


def _check_name(path: str, registry: Any, name: Any) -> str:
    """The canonical name of ``name`` in ``registry``; unknown names fail with the known ones."""
    found = registry.find(name)
    if found is None:
        _fail(path, name, f"one of {registry.names()}{registry.did_you_mean(name)}")
    return found


def _settings(path: str, **values: Any) -> EnvSettings:
    """An :class:`EnvSettings` whose errors name the key under ``path``."""
    try:
        return EnvSettings(**values)
    except SettingError as exc:
        _fail(f"{path}.{exc.field}", exc.value, exc.expected)


@dataclass(frozen=True)
class DataConfig:
    """Which prices: ``source`` None = embedded S&P 500, else a CSV/Parquet path; or
    ``synthetic``, the arguments of :func:`~allocgym.data.make_synthetic_market` (a
    market with known regimes and a planted signal: ``{n_assets: 20, n_days: 5040,
    signal_strength: 0.3, seed: 0}``). ``start``/``end`` cut either to a date range.
    """

    source: str | None = None
    start: str | None = None
    end: str | None = None
    synthetic: dict[str, Any] | None = None

    def check(self, path: str) -> None:
        if self.synthetic is None:
            return
        if self.source is not None:
            _fail(f"{path}.synthetic", self.synthetic, "null when data.source is given")
        from allocgym.data import make_synthetic_market

        try:
            inspect.signature(make_synthetic_market).bind(**self.synthetic)
        except TypeError as exc:
            why = f"arguments of make_synthetic_market ({exc})"
            _fail(f"{path}.synthetic", self.synthetic, why)

    def load(self, *, whole: bool = False) -> Any:
        """The :class:`~allocgym.data.MarketData`, cut to ``start``..``end`` unless ``whole``."""
        from allocgym.data import load_market, make_synthetic_market

        if self.synthetic is not None:
            try:
                market = make_synthetic_market(**self.synthetic).market
            except (ValueError, TypeError) as exc:
                raise ConfigError(f"data.synthetic: {exc}") from None
        else:
            market = load_market(self.source)
        if not whole and (self.start or self.end):
            market = market.between(self.start, self.end)
        return market


@dataclass(frozen=True)
class FeaturesConfig:
    """Feature preset (technical | standard | full) and overrides of its fields."""

    preset: str = DEFAULT_PRESET
    overrides: dict[str, Any] = field(default_factory=dict)
    cache: bool = True

    def resolve(self) -> Any:
        """The :class:`~allocgym.predictors.FeatureConfig` the run builds: the preset with
        the overrides on top (raises on a bad preset or override)."""
        from allocgym.predictors.config import PRESETS, FeatureConfig

        made = PRESETS[self.preset]
        if self.overrides:
            made = FeatureConfig.from_dict({**made.to_dict(), **self.overrides})
        return made

    def resolved_or_none(self) -> Any:
        """:meth:`resolve`, or None where the section itself is wrong (its own error)."""
        try:
            return self.resolve()
        except (ConfigError, ValueError, TypeError, KeyError):
            return None

    @property
    def source(self) -> str:
        """How error messages name these features."""
        text = f"features.preset {self.preset!r}"
        return text + " with its overrides" if self.overrides else text

    def check(self, path: str) -> None:
        from allocgym.predictors.config import PRESETS

        if self.preset not in PRESETS:
            _fail(f"{path}.preset", self.preset, f"one of {sorted(PRESETS)}")


@dataclass(frozen=True)
class WalkForwardConfig:
    """Walk-forward folds: ``train`` days to fit, then ``test`` days out of sample."""

    train: int = 1260
    test: int = 252
    step: int | None = None
    expanding: bool = False
    purge: int = 0

    def check(self, path: str) -> None:
        for key in ("train", "test"):
            if getattr(self, key) < 1:
                _fail(f"{path}.{key}", getattr(self, key), "an integer >= 1")
        if self.purge < 0:
            _fail(f"{path}.purge", self.purge, "an integer >= 0")
        if self.step is not None and self.step < self.test:
            _fail(
                f"{path}.step",
                self.step,
                f"null or an integer >= test={self.test} (a smaller step makes the test "
                "windows overlap, and every shared day would be counted once per fold)",
            )


@dataclass(frozen=True)
class AgentConfig:
    """One RL agent: algorithm, training budget per fold, seeds and hyperparameters.

    ``n_envs``: portfolios stepped together in training (None: the algorithm's default,
    ``AGENTS[name].n_envs``); the default hyperparameters are those for that many.
    ``observe``: the feature groups (``technical``, ``garch``, ``regime``, ``lstm``) or
    feature names the agent observes (None: every feature of the panel); the predictor
    ablation (``experiments/ablation.yaml``) trains one agent per selection.
    """

    name: str = "ppo"
    label: str | None = None
    timesteps: int = 20_000
    seeds: tuple[int, ...] = (0,)
    network: str = "mlp"
    hyperparameters: dict[str, Any] = field(default_factory=dict)
    n_envs: int | None = None
    reward: str | dict[str, float] | None = None
    reward_kwargs: dict[str, Any] | None = None
    observe: tuple[str, ...] | None = None

    @property
    def display(self) -> str:
        from allocgym.agents.registry import AGENTS

        found = AGENTS.find(self.name)
        return self.label or (AGENTS.entry(found).label if found else self.name.upper())

    def seed_label(self, seed: int) -> str:
        """The results row of one seed: ``display`` with one seed, else ``"<display> s<seed>"``."""
        return self.display if len(self.seeds) == 1 else f"{self.display} s{seed}"

    @property
    def ensemble_label(self) -> str | None:
        """The row of the seeds' :class:`~allocgym.agents.SeedEnsemble` (``"<display>
        ensemble"``), None with one seed."""
        return f"{self.display} ensemble" if len(self.seeds) > 1 else None

    @property
    def row_labels(self) -> list[str]:
        """Its rows in the results: one per seed, then the seed ensemble (two seeds or more)."""
        rows = [self.seed_label(s) for s in self.seeds]
        return rows if self.ensemble_label is None else [*rows, self.ensemble_label]

    def env_settings(self, env: EnvSettings) -> EnvSettings:
        """The training env's settings: the experiment's ``env``, with this agent's reward."""
        if self.reward is None:
            return env
        return dataclasses.replace(env, reward=self.reward, reward_kwargs=self.reward_kwargs or {})

    def check(self, path: str, features: FeaturesConfig | None = None) -> None:
        """Every field; with ``features``, that the panel holds the groups of ``observe``."""
        from allocgym.agents.registry import AGENTS, resolve_hyperparameters

        _check_name(f"{path}.name", AGENTS, self.name)
        if self.timesteps < 1:
            _fail(f"{path}.timesteps", self.timesteps, "an integer >= 1")
        if not self.seeds:
            _fail(f"{path}.seeds", list(self.seeds), "a non-empty list of integers")
        if len(set(self.seeds)) < len(self.seeds):
            _fail(f"{path}.seeds", list(self.seeds), "distinct integers (one row per seed)")
        if self.network not in NETWORKS:
            _fail(f"{path}.network", self.network, f"one of {list(NETWORKS)}")
        n = self.n_envs
        if n is not None and (not isinstance(n, int) or isinstance(n, bool) or n < 1):
            _fail(f"{path}.n_envs", n, "null (the algorithm's default) or an integer >= 1")
        for key in _OWNED_HYPERPARAMETERS:
            if key in self.hyperparameters:
                _fail(
                    f"{path}.hyperparameters.{key}", self.hyperparameters[key],
                    "no value: allocgym sets it (training logs go to the run folder's "
                    "tensorboard/train)",
                )  # fmt: skip
        try:
            resolve_hyperparameters(self.name, self.n_envs, **self.hyperparameters)
        except ConfigError as exc:
            raise ConfigError(f"{path}.hyperparameters: {exc}") from None
        if self.reward is not None:
            _settings(path, reward=self.reward, reward_kwargs=self.reward_kwargs or {})
        self._check_observe(f"{path}.observe", features)

    def _check_observe(self, path: str, features: FeaturesConfig | None) -> None:
        from allocgym.predictors.groups import FEATURE_GROUPS

        if self.observe is None:
            return
        if not self.observe or not all(isinstance(o, str) and o for o in self.observe):
            _fail(path, list(self.observe), "null (every feature) or a non-empty list of names")
        made = None if features is None else features.resolved_or_none()
        if made is None:
            return
        for group in self.observe:  # feature names are checked against the built panel
            if group in FEATURE_GROUPS[1:] and getattr(made, group) is None:
                _fail(
                    path, list(self.observe),
                    f"groups that {features.source} builds: it has no {group!r} features",
                )  # fmt: skip


@dataclass(frozen=True)
class BaselineConfig:
    """One baseline by name (``allocgym list baselines``), with constructor parameters.

    ``overlays`` wrap it, innermost first: names or ``{name, params}`` of
    :data:`allocgym.overlays.OVERLAYS` (``[{name: vol_target, params: {target: 0.1}}]``);
    the display label then shows them (``"1/N + vol target"``).
    """

    name: str = "equal_weight"
    label: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    overlays: tuple[str | dict[str, Any], ...] = ()

    @property
    def display(self) -> str:
        """``label``, else the policy's own label (e.g. a Black-Litterman without views
        says so), else the registry's."""
        from allocgym.baselines import BASELINES

        if self.label:
            return self.label
        found = BASELINES.find(self.name)
        if found is None:
            return self.name
        try:
            own = getattr(self.build_base(), "label", None)
        except (ConfigError, ValueError, TypeError):  # reported by check()
            own = None
        base = own if isinstance(own, str) and own else BASELINES.entry(found).label
        if not self.overlays:
            return base
        from allocgym.overlays import overlay_label

        return overlay_label(base, self.overlays)

    def check(self, path: str, features: FeaturesConfig | None = None) -> None:
        """Name, parameter names and values, and (given ``features``) that the feature
        preset makes every feature the baseline needs (Black-Litterman's LSTM views)."""
        from allocgym.baselines import BASELINES, RENAMED_PARAMETERS, check_features

        _check_name(f"{path}.name", BASELINES, self.name)
        for key in self.params:
            if key in RENAMED_PARAMETERS:
                new, why = RENAMED_PARAMETERS[key]
                raise ConfigError(f"{path}.params.{key}: was renamed {new!r}: {why}")
        try:
            policy = self.build_base()  # cheap (no data, no solver): bad values fail early
        except (ConfigError, ValueError, TypeError) as exc:
            raise ConfigError(f"{path}.params: {exc}") from None
        if self.overlays:
            from allocgym.overlays import apply_overlays

            try:
                policy = apply_overlays(policy, self.overlays, f"{path}.overlays")
            except ConfigError:
                raise
            except (ValueError, TypeError) as exc:
                raise ConfigError(f"{path}.overlays: {exc}") from None
        made = None if features is None else features.resolved_or_none()
        if made is None:
            return  # bad features are the features section's error, not this one's
        source = features.source
        try:
            check_features(policy, made, source=source)
        except ConfigError as exc:
            raise ConfigError(f"{path}: {exc}") from None

    def build(self) -> Any:
        """The baseline policy this entry names, wrapped by its ``overlays`` (if any)."""
        policy = self.build_base()
        if not self.overlays:
            return policy
        from allocgym.overlays import apply_overlays

        return apply_overlays(policy, self.overlays)

    def build_base(self) -> Any:
        """The baseline alone, built by :data:`~allocgym.baselines.BASELINES`."""
        from allocgym.baselines import BASELINES

        return BASELINES.create(self.name, **self.params)


@dataclass(frozen=True)
class ReportConfig:
    """Statistics of the report: bootstrap size, the benchmark policy (default 1/N), the
    configurations tried before this run and the market index of the risk section.

    ``prior_trials``: configurations tried elsewhere to arrive at this one (e.g. the
    sweeps that chose its settings) and not in this run; the deflated Sharpe ratio
    counts them beside the run's own policies, ``n_trials = policies + prior_trials``.

    ``market``: the index the report's risk section and ``allocgym stress`` compare with
    (:mod:`allocgym.risk.market`): ``null`` (auto: the embedded S&P 500 index for the
    embedded stocks, none for other data), ``sp500``, ``none``, or a file of index levels
    ``{source: FILE, column: NAME}`` (or ``"FILE:NAME"``). The file and its column are
    checked here; :meth:`check_market` checks the dates once the data is loaded.
    """

    n_boot: int = 1000
    benchmark: str | None = None
    prior_trials: int = 0
    market: str | dict[str, Any] | None = None

    def __post_init__(self) -> None:
        if isinstance(self.n_boot, bool) or not isinstance(self.n_boot, int) or self.n_boot < 0:
            _fail("report.n_boot", self.n_boot, "an integer >= 0 (0: no bootstrap interval)")
        prior = self.prior_trials
        if isinstance(prior, bool) or not isinstance(prior, int) or prior < 0:
            _fail("report.prior_trials", prior, "an integer >= 0 (configurations tried before)")
        if self.market is not None:  # unset needs no check (nor the risk package's imports)
            self.market_spec()

    def market_spec(self) -> Any:
        """The parsed :class:`~allocgym.risk.market.MarketSpec` of ``market`` (a file is
        read and its column checked; errors name ``report.market``)."""
        from allocgym.risk.market import MarketSpec  # the risk package loads matplotlib

        return MarketSpec.parse(self.market, "report.market")

    def check_market(self, market: Any) -> None:
        """Refuse a ``market`` index with no date in common with the run's data (a
        :class:`~allocgym.data.MarketData`); call it once the data is loaded, before
        training."""
        spec = self.market_spec().resolve(market.source)
        spec.returns(market.dates, "report.market")


@dataclass(frozen=True)
class ExperimentConfig:
    """A whole experiment; ``load_config`` builds and validates it from YAML."""

    name: str = "experiment"
    output_dir: str = "runs"
    seed: int = 0
    data: DataConfig = field(default_factory=DataConfig)
    features: FeaturesConfig = field(default_factory=FeaturesConfig)
    env: EnvSettings = field(default_factory=EnvSettings)
    walk_forward: WalkForwardConfig = field(default_factory=WalkForwardConfig)
    agents: tuple[AgentConfig, ...] = ()
    baselines: tuple[BaselineConfig, ...] = (BaselineConfig(),)
    report: ReportConfig = field(default_factory=ReportConfig)
    sweep: dict[str, Any] | None = None

    @property
    def run_dir(self) -> Path:
        return Path(self.output_dir) / self.name

    def to_dict(self) -> dict[str, Any]:
        def plain(v):
            if isinstance(v, tuple | list):
                return [plain(x) for x in v]
            if isinstance(v, dict):
                return {k: plain(x) for k, x in v.items()}
            return v

        return plain(dataclasses.asdict(self))

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)

    def check(self) -> ExperimentConfig:
        why = check_component(self.name)
        if why is not None:
            _fail("name", self.name, f"one folder name inside output_dir (it has {why})")
        self.data.check("data")
        self.features.check("features")
        self.walk_forward.check("walk_forward")
        labels = []
        for i, a in enumerate(self.agents):
            a.check(f"agents[{i}]", self.features)
            labels.extend(dict.fromkeys([a.display, *a.row_labels]))  # seeds, ensemble
        for i, b in enumerate(self.baselines):
            b.check(f"baselines[{i}]", self.features)
            labels.append(b.display)
        if not labels:
            _fail("agents/baselines", [], "at least one agent or baseline")
        if self.sweep is not None:
            _check_sweep(self.sweep)
        dup = sorted({x for x in labels if labels.count(x) > 1})
        if dup:
            _fail("labels", dup, "distinct labels for agents and baselines (set 'label:')")
        _check_labels(labels)
        self._check_overlay_costs()
        return self

    def _check_overlay_costs(self) -> None:
        """A cost-aware overlay weighs trades at its own ``cost_bps`` (it cannot see the
        env's); warn when it differs from the env's flat rate."""
        import warnings

        from allocgym.exceptions import AllocgymWarning
        from allocgym.overlays.registry import parse_overlay

        env_bps = self.env.cost_bps
        if not isinstance(env_bps, int | float):
            return  # per-asset or a CostModel: nothing one number can match
        for i, base in enumerate(self.baselines):
            for j, spec in enumerate(base.overlays):
                name, params, _ = parse_overlay(spec, f"baselines[{i}].overlays[{j}]")
                if name != "cost_aware":
                    continue
                bps = params.get("cost_bps", 10.0)
                if float(bps) != float(env_bps):
                    warnings.warn(
                        f"baselines[{i}].overlays[{j}]: cost_aware weighs trades at "
                        f"cost_bps={bps} but env.cost_bps={env_bps}; set its params.cost_bps "
                        f"to {env_bps} unless the difference is meant",
                        AllocgymWarning,
                        stacklevel=4,
                    )


def _check_labels(labels: list[str]) -> None:
    """Labels name results rows, model folders and TensorBoard runs: printable, non-empty,
    and distinct once made file-name safe (two labels sharing a folder would share models)."""
    for label in labels:
        if not label.strip() or any(ord(c) < 32 or ord(c) == 127 for c in label):
            _fail("label", label, "a non-empty label without control characters")
    slugs: dict[str, str] = {}
    for label in labels:
        other = slugs.setdefault(safe_component(label), label)
        if other != label:
            _fail(
                "labels",
                [other, label],
                f"labels that differ as folder names (both become {safe_component(label)!r}; "
                "keep letters, digits, '-', '_' and '.')",
            )


def _check_sweep(sweep: dict[str, Any]) -> None:
    """The ``sweep:`` section of the file (used by ``allocgym sweep``)."""
    from allocgym.experiment.sweep_config import SweepConfig

    SweepConfig.from_dict(sweep, "sweep")


# ---------------------------------------------------------------------- parsing
def _type_ok(value: Any, tp: Any) -> bool:
    origin = typing.get_origin(tp)
    if tp is Any:
        return True
    if origin in (typing.Union, types.UnionType):
        return any(_type_ok(value, t) for t in typing.get_args(tp))
    if tp is type(None):
        return value is None
    if tp is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if tp is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if origin is tuple:
        return isinstance(value, list | tuple)
    if origin is dict or tp is dict:
        return isinstance(value, dict)
    if origin is collections.abc.Callable:
        return callable(value)
    return isinstance(value, tp)


def _type_name(tp: Any) -> str:
    """``float or list or CostModel`` for ``float | tuple[float, ...] | CostModel``."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_name(t) for t in typing.get_args(tp))
    if tp is type(None):
        return "null"
    if origin is tuple:
        return "list"
    if origin is dict or tp is dict:
        return "mapping"
    if origin is collections.abc.Callable:
        return "callable"
    return getattr(tp, "__name__", str(tp))


def _is_tuple(tp: Any) -> bool:
    """``tp`` is a tuple type, or a union holding one (``tuple[str, ...] | None``)."""
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        return any(_is_tuple(t) for t in typing.get_args(tp))
    return typing.get_origin(tp) is tuple


def _build(cls: type, data: Any, path: str):
    if data is None:
        data = {}
    if not isinstance(data, dict):
        _fail(path, data, f"a mapping with keys {[f.name for f in dataclasses.fields(cls)]}")
    hints = typing.get_type_hints(cls)
    fields = {f.name for f in dataclasses.fields(cls)}
    kwargs = {}
    for key, value in data.items():
        where = f"{path}.{key}" if path else str(key)
        if key not in fields:
            close = difflib.get_close_matches(str(key), fields, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigError(f"{where}: unknown key{hint}; allowed keys: {sorted(fields)}")
        tp = hints[key]
        nested = {
            "data": DataConfig,
            "features": FeaturesConfig,
            "env": EnvSettings,
            "walk_forward": WalkForwardConfig,
            "report": ReportConfig,
        }
        if cls is ExperimentConfig and key in nested:
            kwargs[key] = _build(nested[key], value, where)
        elif cls is ExperimentConfig and key in ("agents", "baselines"):
            item = AgentConfig if key == "agents" else BaselineConfig
            if not isinstance(value, list):
                _fail(where, value, "a list")
            kwargs[key] = tuple(_build(item, v, f"{where}[{i}]") for i, v in enumerate(value))
        else:
            if not _type_ok(value, tp):
                _fail(where, value, f"a value of type {_type_name(tp)}")
            kwargs[key] = tuple(value) if isinstance(value, list) and _is_tuple(tp) else value
    if cls is EnvSettings:  # validated by building its objects; errors name the key
        return _settings(path, **kwargs)
    return cls(**kwargs)


def load_config(source: str | Path | dict[str, Any], **overrides: Any) -> ExperimentConfig:
    """Read and validate an experiment config from a YAML file or a dict.

    ``overrides`` replace top-level keys (e.g. ``output_dir="/tmp/runs"``).

    A reward given as ``"package.module:function"`` or ``"path/to/file.py:function"``
    is imported, and so runs that module's code like any Python import, but only after
    the rest of the config has been checked (see docs/security.md).
    """
    if isinstance(source, dict):
        data, where = dict(source), "<dict>"
    else:
        path = Path(source)
        if not path.exists():
            raise ConfigError(f"{path}: config file not found")
        data = read_yaml_mapping(
            path, "the config", "expected a mapping of sections (name, data, env, ...)"
        )
        where = str(path)
        data.setdefault("name", path.stem)
    data.update(overrides)
    try:
        # A plug-in reward ("module:fn", "file.py:fn") runs its module's code when it is
        # imported: check everything else first, so a config with any other error is
        # refused before any user code runs.
        without = _without_plugins(data)
        if without is not data:
            _build(ExperimentConfig, without, "").check()
        return _build(ExperimentConfig, data, "").check()
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def _is_plugin(reward: Any) -> bool:
    """A reward spec that imports user code: a ``"module:fn"`` string, or a mapping of
    specs holding one."""
    if isinstance(reward, str):
        return ":" in reward
    if isinstance(reward, dict):
        return any(isinstance(k, str) and ":" in k for k in reward)
    return False


def _without_plugins(data: dict[str, Any]) -> dict[str, Any]:
    """``data`` with every plug-in reward replaced by ``log_return`` (``data`` itself when
    there is none): the first validation pass, which imports nothing."""
    out = dict(data)
    found = False
    env = data.get("env")
    if isinstance(env, dict) and _is_plugin(env.get("reward")):
        out["env"] = {**env, "reward": "log_return", "reward_kwargs": {}}
        found = True
    agents = data.get("agents")
    if isinstance(agents, list):
        cleaned = []
        for agent in agents:
            if isinstance(agent, dict) and _is_plugin(agent.get("reward")):
                agent = {**agent, "reward": "log_return", "reward_kwargs": None}
                found = True
            cleaned.append(agent)
        out["agents"] = cleaned
    return out if found else data
