"""Saved agents: loading runs no code from the files, damage is refused naming the file,
and an agent's label cannot put a file outside the run folder (issue 13, cases 2, 4, 8)."""

from __future__ import annotations

import base64
import contextlib
import io
import json
import zipfile
from pathlib import Path

import cloudpickle
import pytest
import torch
from stable_baselines3 import PPO

from allocgym._io import safe_component
from allocgym.agents import RLAgent
from allocgym.agents.model_file import file_sha256, serialized_keys
from allocgym.envs import EnvSettings
from allocgym.exceptions import DataError

TINY = EnvSettings(window=5, rebalance_every=5, episode_length=10)
ON_POLICY = {"n_steps": 32, "batch_size": 16, "n_epochs": 1, "policy_kwargs": {"net_arch": [8]}}
OFF_POLICY = {
    "learning_starts": 16, "batch_size": 16, "buffer_size": 1000, "gradient_steps": 1,
    "policy_kwargs": {"net_arch": [8]},
}  # fmt: skip
HYPERPARAMETERS = {
    "ppo": ON_POLICY,
    "recurrent_ppo": {**ON_POLICY, "policy_kwargs": {"net_arch": [8], "lstm_hidden_size": 8}},
    "a2c": {"n_steps": 8},
    "sac": OFF_POLICY,
    "td3": OFF_POLICY,
    "ddpg": OFF_POLICY,
}


class WritesMarker:
    """Unpickling it writes ``marker``: stands for the code a crafted model file runs."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (type(self.marker).write_text, (self.marker, "ran"))


def _agent(
    folder: Path, algorithm: str = "ppo", network: str = "mlp", hyperparameters=None
) -> RLAgent:
    hp = dict(hyperparameters or HYPERPARAMETERS[algorithm])
    if network == "equivariant":
        hp.pop("policy_kwargs", None)  # else RLAgent keeps them instead of the encoder's
    return RLAgent(
        algorithm, 64, seed=0, env=TINY, network=network, n_envs=2, hyperparameters=hp,
        checkpoint_dir=folder,
    )  # fmt: skip


def _params(agent: RLAgent) -> torch.Tensor:
    return torch.cat([p.detach().flatten() for p in agent.policy_.model.policy.parameters()])


@pytest.fixture
def trained(tmp_path, synthetic_market):
    """A PPO agent trained on one fold and saved under ``tmp_path / "models"``."""
    train = synthetic_market[:300]
    agent = _agent(tmp_path / "models").fit(train)
    return agent, train, tmp_path / "models" / agent.fold_key(train)


def _rewrite_zip(path: Path, change) -> None:
    """Rewrite the zip at ``path`` with ``change(members)`` applied to its name -> bytes."""
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    change(members)
    with zipfile.ZipFile(path, "w") as archive:
        for name, raw in members.items():
            archive.writestr(name, raw)


def _edit_meta(folder: Path, **entries) -> None:
    """Set (or, with None, remove) entries of ``folder/agent.json``."""
    meta = json.loads((folder / "agent.json").read_text())
    meta.update(entries)
    meta = {k: v for k, v in meta.items() if v is not None}
    (folder / "agent.json").write_text(json.dumps(meta))


def _plant_payload(members: dict, marker: Path, *, extra: bool = False) -> None:
    """Replace every pickled entry of the model's data (and, with ``extra``, add one)."""
    data = json.loads(members["data"])
    payload = base64.b64encode(cloudpickle.dumps(WritesMarker(marker))).decode()
    for value in data.values():
        if isinstance(value, dict) and ":serialized:" in value:
            value[":serialized:"] = payload
    if extra:
        data["evil"] = {":type:": "<class 'object'>", ":serialized:": payload}
    members["data"] = json.dumps(data).encode()


@pytest.mark.parametrize(
    ("algorithm", "network"),
    [(name, "mlp") for name in HYPERPARAMETERS]
    + [("ppo", "equivariant"), pytest.param("sac", "equivariant", marks=pytest.mark.slow)],
)
def test_resume_unpickles_nothing(algorithm, network, tmp_path, synthetic_market, monkeypatch):
    train = synthetic_market[:300]
    first = _agent(tmp_path, algorithm, network).fit(train)
    pickled = serialized_keys(next(tmp_path.rglob("model.zip")))
    assert {"observation_space", "action_space", "lr_schedule"} <= set(pickled)
    if network == "equivariant":  # policy_kwargs hold the encoder's class
        assert "policy_kwargs" in pickled

    def refuse(*args, **kwargs):
        raise AssertionError("a model file was unpickled")

    monkeypatch.setattr(cloudpickle, "loads", refuse)
    resumed = _agent(tmp_path, algorithm, network).fit(train)
    assert (resumed.n_folds_loaded_, resumed.n_folds_trained_) == (1, 0)
    assert torch.equal(_params(resumed), _params(first))


def test_a_payload_in_a_model_file_never_runs(trained, tmp_path):
    _, train, folder = trained
    marker = tmp_path / "marker"
    _rewrite_zip(folder / "model.zip", lambda m: _plant_payload(m, marker))
    # as planted: the hash in agent.json no longer matches
    with pytest.raises(DataError, match=r"model\.zip: the model file changed since it was "):
        _agent(tmp_path / "models").fit(train)
    assert not marker.exists()
    # a planter who also rewrites the hash: the entries are replaced, never unpickled
    _edit_meta(folder, model_sha256=file_sha256(folder / "model.zip"))
    resumed = _agent(tmp_path / "models").fit(train)
    assert resumed.n_folds_loaded_ == 1 and not marker.exists()
    assert torch.equal(_params(resumed), _params(trained[0]))
    # the payload is live: SB3's own load, without the replacements, runs it
    with contextlib.suppress(Exception):  # it fails after unpickling: 3 is no space
        PPO.load(folder / "model.zip")
    assert marker.read_text() == "ran"


def test_a_pickled_entry_allocgym_cannot_replace_is_refused(trained, tmp_path):
    _, train, folder = trained
    marker = tmp_path / "marker"
    _rewrite_zip(folder / "model.zip", lambda m: _plant_payload(m, marker, extra=True))
    _edit_meta(folder, model_sha256=file_sha256(folder / "model.zip"))
    with pytest.raises(DataError, match=r"pickled entries \['evil'\].*Delete the model folder"):
        _agent(tmp_path / "models").fit(train)
    assert not marker.exists()


def test_a_pickled_object_in_the_weights_is_refused(trained, tmp_path):
    from stable_baselines3.common.save_util import load_from_zip_file

    _, train, folder = trained
    marker = tmp_path / "marker"
    buffer = io.BytesIO()
    torch.save({"log_ent_coef": WritesMarker(marker)}, buffer)
    planted = {"pytorch_variables.pth": buffer.getvalue()}
    _rewrite_zip(folder / "model.zip", lambda members: members.update(planted))
    _edit_meta(folder, model_sha256=file_sha256(folder / "model.zip"))
    with pytest.raises(DataError, match=r"'pytorch_variables\.pth' is not plain weights"):
        _agent(tmp_path / "models").fit(train)
    # SB3 itself (the installed version) reads weights with weights_only=True as well
    with pytest.raises(Exception, match=r"[Ww]eights only load failed|Unsupported global"):
        load_from_zip_file(folder / "model.zip", load_data=False)
    assert not marker.exists()


def test_a_save_without_a_hash_still_loads(trained, tmp_path):
    agent, train, folder = trained
    _edit_meta(folder, model_sha256=None)  # as written before hashes were recorded
    resumed = _agent(tmp_path / "models").fit(train)
    assert resumed.n_folds_loaded_ == 1
    assert torch.equal(_params(resumed), _params(agent))


def test_save_records_the_model_hash(trained):
    _, _, folder = trained
    meta = json.loads((folder / "agent.json").read_text())
    assert meta["model_sha256"] == file_sha256(folder / "model.zip")


@pytest.mark.parametrize(
    "content",
    ["", "{not json", "[1, 2]", '{"name": "PPO"}', '{"name": "PPO", "algorithm": "PPO", '
     '"deterministic": true, "rebalance_every": true}', b"\xff\xfe"],
)  # fmt: skip
def test_a_garbled_agent_json_is_refused_naming_it(content, trained, tmp_path):
    _, train, folder = trained
    path = folder / "agent.json"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(DataError, match=rf"agent\.json: .*Delete the model folder .*{folder.name}"):
        _agent(tmp_path / "models").fit(train)


@pytest.mark.parametrize("content", [b"", b"not a zip", "truncated", "no data", None])
def test_a_garbled_model_zip_is_refused_naming_it(content, trained, tmp_path):
    _, train, folder = trained
    path = folder / "model.zip"
    if content == "truncated":
        content = path.read_bytes()[: path.stat().st_size // 2]
    elif content == "no data":
        _rewrite_zip(path, lambda m: m.pop("data"))
    if content is None:
        path.unlink()
    elif isinstance(content, bytes):
        path.write_bytes(content)
    expected = r"model\.zip: (cannot read|the model file changed since it was written)"
    with pytest.raises(DataError, match=expected + r".*Delete the model folder"):
        _agent(tmp_path / "models").fit(train)
    _edit_meta(folder, model_sha256=None)  # without the hash check: the reader refuses it
    with pytest.raises(DataError, match=r"model\.zip: not an? .*SB3 model file.*Delete the model"):
        _agent(tmp_path / "models").fit(train)


def test_a_model_of_another_architecture_is_refused(trained, tmp_path):
    _, train, _ = trained
    wider = {**ON_POLICY, "policy_kwargs": {"net_arch": [16]}}
    agent = _agent(tmp_path / "models", hyperparameters=wider)
    with pytest.raises(DataError, match=r"model\.zip: cannot load the PPO model"):
        agent.fit(train)


def test_a_label_that_climbs_writes_only_inside_the_run_folder(tmp_path, synthetic_market):
    label = "../../../../escaped/evil"
    run = tmp_path / "a" / "b" / "c" / "d" / "run"  # deep enough to see an escape land
    agent = RLAgent(
        "ppo", 64, seed=0, env=TINY, n_envs=2, hyperparameters=ON_POLICY, name=label,
        checkpoint_dir=run / "models" / safe_component(label),
        tensorboard_dir=run / "tensorboard" / "train",
    )  # fmt: skip
    agent.fit(synthetic_market[:300])
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert any(p.name == "model.zip" for p in written)
    assert any(p.name.startswith("events.out.tfevents") for p in written)
    assert all(run in p.parents for p in written), written
