"""Feature groups: the panel's features by the predictor that made them.

``technical`` holds the features :class:`~allocgym.predictors.TechnicalFeatures` makes;
``garch``, ``regime`` and ``lstm`` the features named with those prefixes (per-asset
and market-level); a feature allocgym does not know (a plug-in predictor's) forms its own
group, named after it. Used to choose what an agent observes (an agent's ``observe``:
the predictor ablation) and to group the observation for permutation importance.
"""

from __future__ import annotations

from collections.abc import Sequence

from allocgym.data import MarketData
from allocgym.predictors.panel import FeaturePanel
from allocgym.predictors.technical import TechnicalFeatures

__all__ = ["FEATURE_GROUPS", "feature_groups", "select_features"]

FEATURE_GROUPS = ("technical", "garch", "regime", "lstm")
"""The groups of allocgym's own predictors."""

_PREFIXES = (("garch", "garch_"), ("regime", "regime_"), ("lstm", "lstm_"))


def feature_groups(features: FeaturePanel | None, market: MarketData) -> dict[str, tuple[str, ...]]:
    """``{group: feature names}`` of the panel, per-asset and market-level names together,
    in panel order; the groups in order of their first feature."""
    technical = set(TechnicalFeatures(volume=True).feature_names_for(market))
    groups: dict[str, list[str]] = {}
    names = () if features is None else features.feature_names + features.market_feature_names
    for name in names:
        group = "technical" if name in technical else name
        group = next((g for g, p in _PREFIXES if name.startswith(p)), group)
        groups.setdefault(group, []).append(name)
    return {g: tuple(members) for g, members in groups.items()}


def select_features(
    features: FeaturePanel, market: MarketData, observe: Sequence[str]
) -> FeaturePanel:
    """The panel with only the features of ``observe`` (group names or feature names).

    The availability mask is kept as it is: every selection trades the same assets on
    the same days as the full panel, so that variants differ in what they see only.

    Raises
    ------
    ValueError
        An entry that is neither a group nor a feature of the panel, naming what is.
    """
    groups = feature_groups(features, market)
    known = set(features.feature_names) | set(features.market_feature_names)
    keep: set[str] = set()
    for entry in observe:
        if entry in groups:
            keep.update(groups[entry])
        elif entry in known:
            keep.add(entry)
        else:
            hint = (
                " (the panel has no such features: choose a features.preset that builds them)"
                if entry in FEATURE_GROUPS
                else ""
            )
            raise ValueError(
                f"observe names {entry!r}, which is not in the feature panel{hint}; expected "
                f"a group of {sorted(groups)} or a feature of {sorted(known)}"
            )
    return features.select(keep)
