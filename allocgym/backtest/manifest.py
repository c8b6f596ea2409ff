"""``manifest.json``: what a run folder holds, so that a damaged file is found, not read.

A manifest records, for every file it lists, the size in bytes and the SHA-256 of the
content (and, for tables, the number of rows). It is written last and atomically, after
the files it describes, so a folder whose writer was killed half-way, or a file that was
truncated, replaced or edited afterwards, no longer matches it. Entries are merged: each
writer (:meth:`Results.save <allocgym.backtest.Results.save>`, the experiment runner for
its report, plots and models) adds or refreshes its own files and keeps the others'.

Layout (``version`` 1)::

    {"format": "allocgym-manifest", "version": 1,
     "files": {"metrics.csv": {"bytes": 2210, "sha256": "9f2c...", "rows": 4}, ...},
     "extra": {...}}
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path, PurePosixPath
from typing import Any

from allocgym._io import atomic_write
from allocgym.exceptions import DataError

__all__ = ["MANIFEST", "read_manifest", "verify_manifest", "write_manifest"]

MANIFEST = "manifest.json"
"""The manifest's file name inside a run folder."""

_FORMAT = "allocgym-manifest"
_VERSION = 1
_CHUNK = 1 << 20
_DELETE = "delete it and re-run the command that wrote the folder, which writes a new one"


def write_manifest(
    folder: str | os.PathLike,
    names: Iterable[str],
    *,
    rows: Mapping[str, int] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> Path:
    """Record ``names`` (files inside ``folder``) in ``folder/manifest.json``, atomically.

    Call it after the files are complete. Entries of files not in ``names`` that an
    earlier call recorded are kept, so several writers can each add their own files.

    Parameters
    ----------
    folder : path-like
        The run folder.
    names : iterable of str
        Paths relative to ``folder``, with ``/`` as separator (``"report.md"``,
        ``"models/PPO/fold_0/model.zip"``); each must be an existing file inside it.
    rows : mapping of str to int, optional
        Row counts of the tables among ``names``, recorded beside their hashes.
    extra : mapping, optional
        JSON-serialisable values merged into the manifest's ``extra`` section.

    Returns
    -------
    pathlib.Path
        The manifest's path.

    Raises
    ------
    DataError
        A name is outside ``folder`` or not a file, or the existing manifest is
        unreadable (delete it to start a new one).
    """
    folder = Path(folder)
    rows = dict(rows or {})
    manifest = read_manifest(folder) or _empty()
    for name in names:
        key = _key(name)
        path = folder / key
        if not path.is_file():
            raise DataError(f"{path}: cannot be recorded in {MANIFEST}: not a file")
        entry: dict[str, Any] = {"bytes": path.stat().st_size, "sha256": _sha256(path)}
        if key in rows:
            entry["rows"] = int(rows[key])
        manifest["files"][key] = entry
    manifest["extra"].update(extra or {})
    text = json.dumps(manifest, indent=2, sort_keys=False) + "\n"
    return atomic_write(folder / MANIFEST, lambda tmp: Path(tmp).write_text(text))


def read_manifest(folder: str | os.PathLike) -> dict[str, Any] | None:
    """The manifest of ``folder`` (``files`` and ``extra``), or None if it has none.

    Raises
    ------
    DataError
        The manifest exists but is not one allocgym can read (garbled, empty, or of a
        newer format version).
    """
    path = Path(folder) / MANIFEST
    if not path.is_file():
        return None
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"{path}: unreadable manifest ({exc}); {_DELETE}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != _FORMAT:
        raise DataError(f"{path}: not an allocgym manifest; {_DELETE}")
    version = manifest.get("version")
    if not isinstance(version, int) or version > _VERSION:
        raise DataError(
            f"{path}: manifest version {version!r}; this allocgym reads up to {_VERSION}. "
            "Upgrade allocgym to read this folder"
        )
    files, extra = manifest.get("files"), manifest.get("extra", {})
    if not isinstance(files, dict) or not isinstance(extra, dict):
        raise DataError(f"{path}: malformed manifest ('files' or 'extra' is not a mapping); "
                        f"{_DELETE}")  # fmt: skip
    return manifest


def verify_manifest(
    folder: str | os.PathLike, names: Iterable[str] | None = None, *, remedy: str = ""
) -> dict[str, Any] | None:
    """Check files of ``folder`` against its manifest; return the manifest (None if none).

    Parameters
    ----------
    folder : path-like
        The run folder.
    names : iterable of str, optional
        The files to check, each of which the manifest must list; default every file
        it lists. A folder without a manifest is not checked (None is returned): the
        caller decides whether that is acceptable (folders of older versions have none).
    remedy : str
        What the user should do about a damaged folder, appended to the message.

    Raises
    ------
    DataError
        Naming every damaged file and what is wrong with it: missing, not listed, size
        or SHA-256 different from the manifest's.
    """
    folder = Path(folder)
    manifest = read_manifest(folder)
    if manifest is None:
        return None
    files = manifest["files"]
    problems = []
    for name in files if names is None else [_key(n) for n in names]:
        path = folder / name
        entry = files.get(name)
        if not isinstance(entry, dict):
            problems.append(f"{name}: not listed in {MANIFEST}")
        elif not path.is_file():
            problems.append(f"{name}: missing (listed in {MANIFEST})")
        elif (size := path.stat().st_size) != entry.get("bytes"):
            problems.append(
                f"{name}: {size} bytes, {MANIFEST} records {entry.get('bytes')} (truncated, "
                "or changed after it was written)"
            )
        elif _sha256(path) != entry.get("sha256"):
            problems.append(f"{name}: SHA-256 differs from {MANIFEST}'s (changed after it was "
                            "written)")  # fmt: skip
    if problems:
        raise DataError(
            f"{folder} is damaged: " + "; ".join(problems) + (f". {remedy}" if remedy else "")
        )
    return manifest


def _empty() -> dict[str, Any]:
    return {"format": _FORMAT, "version": _VERSION, "files": {}, "extra": {}}


def _key(name: str | os.PathLike) -> str:
    """``name`` as a relative POSIX path that stays inside the folder."""
    key = PurePosixPath(Path(name).as_posix())
    if key.is_absolute() or not key.parts or ".." in key.parts or key.as_posix() == MANIFEST:
        raise DataError(f"{name!r}: expected a file path relative to the run folder, inside it")
    return key.as_posix()


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()
