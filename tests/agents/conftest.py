"""Fixtures shared by the agent tests."""

from __future__ import annotations

import pytest


@pytest.fixture
def learn_calls(monkeypatch) -> list:
    """Every PPO.learn call from here on (a resumed fold must make none)."""
    from stable_baselines3 import PPO

    calls, learn = [], PPO.learn

    def counted(self, *args, **kwargs):
        calls.append(self)
        return learn(self, *args, **kwargs)

    monkeypatch.setattr(PPO, "learn", counted)
    return calls
