"""The one registry pattern, and every registered name through every entry point.

SPEC: "Registries: one per kind (rewards, agents, baselines), name -> factory, label,
kind, description; YAML, CLI and API accept exactly the same names."
"""

from __future__ import annotations

import pytest

from allocgym.agents import AGENTS, resolve_hyperparameters
from allocgym.backtest._cli import make_policies
from allocgym.baselines import BASELINES
from allocgym.envs.rewards import REWARDS, get_reward
from allocgym.exceptions import ConfigError
from allocgym.experiment.config import load_config
from allocgym.registry import REQUIRED, Registry, factory_parameters, format_listing


class Widget:
    """A widget for the tests."""

    def __init__(self, size: int, *, colour: str = "red") -> None:
        self.size, self.colour = size, colour


@pytest.fixture
def widgets() -> Registry:
    reg = Registry("widget")
    reg.register("box_widget", Widget, label="Box", kind="solid", aliases=("Box",))
    return reg


# --------------------------------------------------------------- the pattern
def test_a_registry_is_a_mapping_of_names_to_factories(widgets) -> None:
    assert list(widgets) == ["box_widget"] and len(widgets) == 1
    assert widgets["box_widget"] is Widget
    entry = widgets.entry("box_widget")
    assert (entry.label, entry.kind) == ("Box", "solid")
    assert entry.description == "A widget for the tests."
    assert entry.parameters() == {"size": REQUIRED, "colour": "red"}


@pytest.mark.parametrize("spelling", ["box_widget", "Box", "box", "BOX-WIDGET", "Box-Widget"])
def test_aliases_case_and_dashes_resolve_to_the_canonical_name(widgets, spelling) -> None:
    assert widgets.resolve(spelling) == "box_widget"


def test_unknown_name_lists_the_known_ones_with_a_did_you_mean(widgets) -> None:
    with pytest.raises(ConfigError) as err:
        widgets.resolve("box_widgit")
    assert str(err.value) == (
        "unknown widget 'box_widgit' (did you mean 'box_widget'?); expected one of ['box_widget']"
    )
    assert widgets.find("nothing_like_it") is None
    assert widgets.did_you_mean("nothing_like_it") == ""


def test_create_checks_parameter_names_first(widgets) -> None:
    assert widgets.create("Box", size=2, colour="blue").colour == "blue"
    with pytest.raises(ConfigError, match=r"'colur' \(did you mean 'colour'\?\) for widget"):
        widgets.create("box_widget", size=2, colur="blue")
    # values are the factory's business
    with pytest.raises(TypeError):
        widgets.create("box_widget")


def test_create_with_passes_only_the_settings_a_factory_takes(widgets) -> None:
    w = widgets.create_with("box_widget", {"size": 3, "lookback": 63})
    assert (w.size, w.colour) == (3, "red")


def test_registering_twice_or_over_an_alias_is_refused(widgets) -> None:
    with pytest.raises(ValueError, match="already registered; pass overwrite=True"):
        widgets.register("box_widget", dict)
    with pytest.raises(ValueError, match="'box' is already taken by 'box_widget'"):
        widgets.register("crate", dict, aliases=("box",))
    with pytest.raises(TypeError, match="must be callable"):
        widgets.register("crate", 3)
    with pytest.raises(ValueError, match="non-empty str"):
        widgets.register("", dict)
    widgets.register("box_widget", dict, overwrite=True)
    assert widgets["box_widget"] is dict and widgets.find("Box") is None  # old alias gone


def test_register_is_also_a_decorator() -> None:
    reg = Registry("thing", default_kind="plain")

    @reg.register("double")
    def double(x: float = 1.0) -> float:
        """Twice x."""
        return 2 * x

    assert reg.create("double", x=2.0) == 4.0
    assert reg.entry("double").kind == "plain" and reg.describe() == {"double": "Twice x."}


def test_factory_parameters_leave_out_star_args() -> None:
    def f(a, /, b, *args, c=1, **kwargs):
        return a

    assert factory_parameters(f) == {"b": REQUIRED, "c": 1}


def test_format_listing_shows_names_labels_kinds_and_defaults(widgets) -> None:
    text = format_listing(widgets)
    first, second = text.splitlines()
    assert first.split()[:3] == ["box_widget", "Box", "solid"]
    assert "(also: Box)" in first
    assert second.strip() == "size, colour='red'"
    assert format_listing(Registry("nothing")) == "(no nothing registered)"


# --------------------------------------------------------------- every name, every entry point
def _yaml_baseline(name: str):
    # the 'full' preset: Black-Litterman needs its LSTM views (only validated, not built)
    config = load_config({"features": {"preset": "full"}, "baselines": [{"name": name}]})
    return config.baselines[0]


@pytest.mark.parametrize("name", sorted(BASELINES))
def test_every_baseline_name_works_in_yaml_cli_and_api(name) -> None:
    entry = BASELINES.entry(name)
    api = BASELINES.create(name)
    yaml_cfg = _yaml_baseline(name)
    from_yaml = yaml_cfg.build()
    (cli_label, from_cli), *rest = make_policies(name, lookback=63, rebalance=5).items()
    assert not rest
    assert type(api) is type(from_yaml) is type(from_cli)
    # one label for one policy, whichever way it was named
    assert yaml_cfg.display == cli_label == entry.label
    assert getattr(api, "kind", None) == entry.kind
    for alias in entry.aliases:
        assert _yaml_baseline(alias).display == entry.label
        assert list(make_policies(alias, 63, 5)) == [entry.label]


@pytest.mark.parametrize("name", sorted(AGENTS))
def test_every_agent_name_works_in_yaml_and_api(name) -> None:
    config = load_config({"agents": [{"name": name}], "baselines": []})
    assert config.agents[0].display == AGENTS.entry(name).label
    assert resolve_hyperparameters(name)["policy"] == AGENTS[name].policy
    assert AGENTS.entry(name).kind == "RL"


@pytest.mark.parametrize("name", sorted(REWARDS))
def test_every_reward_name_works_in_yaml_and_api(name) -> None:
    kwargs = {"terms": {"log_return": 1.0}} if name == "combination" else {}
    load_config({"env": {"reward": name, "reward_kwargs": kwargs}})
    assert callable(get_reward(name, **kwargs))


@pytest.mark.parametrize(
    ("registry", "call"),
    [
        (BASELINES, lambda n: load_config({"baselines": [{"name": n}]})),
        (BASELINES, lambda n: make_policies(n, 63, 5)),
        (BASELINES, BASELINES.create),
        (AGENTS, lambda n: load_config({"agents": [{"name": n}]})),
        (AGENTS, resolve_hyperparameters),
        (REWARDS, lambda n: load_config({"env": {"reward": n}})),
        (REWARDS, get_reward),
    ],
)
def test_a_misspelt_name_is_refused_everywhere_with_the_known_names(registry, call) -> None:
    name = registry.names()[-1]
    typo = name[:-1] + ("x" if name[-1] != "x" else "y")
    with pytest.raises(ValueError) as err:
        call(typo)
    message = str(err.value)
    assert repr(typo) in message
    assert f"did you mean {name!r}" in message
    assert str(registry.names()) in message
