"""Saved stable-baselines3 models, read without running code from the file.

An SB3 ``model.zip`` holds a ``data`` JSON and the weights (``*.pth``). SB3's
``BaseAlgorithm.load`` unpickles (cloudpickle) every top-level entry of ``data`` that
carries a ``":serialized:"`` key (the spaces, the learning-rate and clip schedules, the
policy and buffer classes, ``policy_kwargs`` holding classes...), and unpickling runs
whatever the file says. :func:`load_model` never lets it: it gives SB3 a replacement
for every such entry through ``custom_objects`` (SB3 then takes the entry from there and
does not decode the stored one), the value that an untrained model built the way the
saved one was (same algorithm, env and hyperparameters) holds: the env's true spaces,
the schedules and classes of our own hyperparameters. An entry that model does not have
is refused. The weights are read with ``torch.load(weights_only=True)``, which loads
tensors and plain containers only; :func:`load_model` checks every ``*.pth`` member so
itself before SB3 reads it.

:func:`file_sha256` is the hash that ``agent.json`` records, so that a model file that
changed since it was written is refused (:meth:`~allocgym.agents.AgentPolicy.load`).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import zipfile
import zlib
from typing import Any

import torch

from allocgym.exceptions import DataError

__all__ = ["file_sha256", "load_model", "serialized_keys"]

# Replaced even when stored as plain JSON: the architecture and the spaces are ours, and
# weights that do not fit them are refused by SB3's exact-match parameter check.
_ALWAYS_OURS = ("action_space", "observation_space", "policy_class", "policy_kwargs")
_CHUNK = 1 << 20


def file_sha256(path: str | os.PathLike) -> str:
    """The SHA-256 of the file at ``path``, as 64 hex digits."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def serialized_keys(path: str | os.PathLike, remedy: str = "") -> list[str]:
    """The entries of the zip's ``data`` JSON that SB3's ``load`` would unpickle: the
    top-level values that are dicts with a ``":serialized:"`` key (the test of SB3's
    ``json_to_data``).

    Raises
    ------
    DataError
        Not a readable zip, no ``data`` member or ``data`` not a JSON object; the
        message names ``path`` and ends with ``remedy``.
    """
    return _serialized_keys(path, _read_zip(path, remedy), remedy)


def _read_zip(path: str | os.PathLike, remedy: str) -> dict[str, bytes]:
    """Every member of the zip at ``path`` (a model is kilobytes to a few megabytes)."""
    try:
        with zipfile.ZipFile(path) as archive:
            return {name: archive.read(name) for name in archive.namelist()}
    except (OSError, EOFError, zipfile.BadZipFile, zlib.error, RuntimeError, ValueError) as e:
        # zlib.error, RuntimeError, ValueError: a damaged or unsupported member
        raise DataError(
            f"{path}: not a readable SB3 model file ({type(e).__name__}: {e}). {remedy}"
        ) from e


def _serialized_keys(path: Any, members: dict[str, bytes], remedy: str) -> list[str]:
    if "data" not in members:
        raise DataError(f"{path}: not an SB3 model file (no 'data' entry). {remedy}")
    try:
        data = json.loads(members["data"].decode("utf-8"))
    except ValueError as e:  # bad JSON or UTF-8
        raise DataError(
            f"{path}: the model's 'data' entry is not JSON ({type(e).__name__}: {e}). {remedy}"
        ) from e
    if not isinstance(data, dict):
        raise DataError(f"{path}: the model's 'data' entry is not a JSON object. {remedy}")
    return sorted(k for k, v in data.items() if isinstance(v, dict) and ":serialized:" in v)


def _check_weights_only(path: Any, name: str, raw: bytes, remedy: str) -> None:
    """Refuse a ``*.pth`` member that holds more than tensors and plain containers."""
    try:
        torch.load(io.BytesIO(raw), map_location="cpu", weights_only=True)
    except Exception as e:  # UnpicklingError for a pickled object, others for damage
        raise DataError(
            f"{path}: its member {name!r} is not plain weights and is not loaded, since "
            f"unpickling it could run code ({type(e).__name__}: {e}). {remedy}"
        ) from e


def load_model(path: str | os.PathLike, like: Any, remedy: str = "") -> Any:
    """Load the SB3 model at ``path`` without unpickling anything from the file.

    Parameters
    ----------
    path : path-like
        An SB3 ``model.zip``.
    like : stable_baselines3 BaseAlgorithm
        An untrained model of the saved one's algorithm, built for the same env and
        hyperparameters (:meth:`~allocgym.agents.RLAgent.fit` builds it as for
        training). Every entry that SB3 would unpickle, and the spaces, policy class and
        ``policy_kwargs`` always, are taken from it.
    remedy : str
        What the user should do, appended to every error message.

    Returns
    -------
    stable_baselines3 BaseAlgorithm
        Of ``type(like)``, on the CPU, with the saved weights.

    Raises
    ------
    DataError
        The file is not a readable model, holds a pickled entry that ``like`` has no
        value for, or its weights do not fit ``like``'s architecture.
    """
    members = _read_zip(path, remedy)
    keys = _serialized_keys(path, members, remedy)
    for name, raw in members.items():
        if name.endswith(".pth"):  # SB3 2.9 reads them so too; this holds whatever the version
            _check_weights_only(path, name, raw, remedy)
    ours = vars(like)  # SB3 saves the model's __dict__: its entries are attributes there
    unknown = [k for k in keys if k not in ours]
    if unknown:
        raise DataError(
            f"{path}: the model file holds pickled entries {unknown} that a "
            f"{type(like).__name__} built by allocgym does not have, so they cannot be "
            "replaced by known values; it is not loaded, since unpickling them could run "
            f"code. {remedy}"
        )
    custom = {k: ours[k] for k in (*keys, *_ALWAYS_OURS) if k in ours}
    try:
        return type(like).load(path, device="cpu", custom_objects=custom)
    except Exception as e:  # SB3 raises KeyError, ValueError, RuntimeError (shapes)...
        raise DataError(
            f"{path}: cannot load the {type(like).__name__} model ({type(e).__name__}: "
            f"{e}). {remedy}"
        ) from e
