"""The run folder of an experiment: made by allocgym, used by one run at a time.

Three guarantees, each checked before anything is written:

- **Inside the output folder.** ``<output_dir>/<name>`` with ``name`` one folder name
  (``ExperimentConfig.check``), and the folder itself not a symbolic link.
- **Only allocgym's folders are deleted.** A run folder holds a marker file,
  :data:`MARKER`, written when allocgym creates it; ``--fresh`` deletes a folder only
  when it holds that marker, is a real folder (not a link) and sits directly in the
  resolved output folder. Anything else is refused with what to do by hand.
- **One run at a time.** A lock file, :data:`LOCK`, holds the process id and host of
  the run using the folder; a second run is refused with "already running (pid N)".
  A lock left by a process that no longer exists (killed) on this host is taken over.

Resumption compares the saved ``experiment.yaml`` with the config without its
``output_dir`` and ``name``, so a run folder that was moved or renamed still resumes.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import socket
from pathlib import Path
from typing import Any

import yaml

from allocgym._io import atomic_write, read_yaml_mapping
from allocgym.exceptions import ConfigError

__all__ = ["LOCK", "MARKER", "acquire_lock", "config_guard", "open_run_folder", "release_lock"]

MARKER = ".allocgym-run"
LOCK = ".allocgym-lock"
_LOCATION_KEYS = ("output_dir", "name")  # where the folder is, not what ran in it
_HELD: dict[Path, int] = {}  # run folders this process holds, with a use count


def open_run_folder(config: Any, *, fresh: bool = False, record: str = "experiment.yaml") -> Path:
    """Create (or, with ``fresh``, recreate) the run folder of ``config`` and lock it.

    ``record``: the file that keeps the config the folder was made with
    (``sweep.yaml`` for a sweep's folder).

    Returns the folder, locked by this process until :func:`release_lock` (or exit).

    Raises
    ------
    ConfigError
        The folder is a link or is not a folder; it exists, holds files and is not an
        allocgym run folder; ``fresh`` on a folder allocgym did not make, or on one this
        process holds; another run holds its lock; its ``experiment.yaml`` is another
        experiment's.
    """
    output = Path(config.output_dir).resolve()
    run_dir = Path(config.output_dir) / config.name
    if run_dir.is_symlink() or (run_dir.exists() and not run_dir.is_dir()):
        raise ConfigError(
            f"{run_dir} is {'a symbolic link' if run_dir.is_symlink() else 'not a folder'}; "
            "a run folder must be a real folder inside output_dir: choose another name"
        )
    if run_dir.resolve().parent != output:
        raise ConfigError(f"name={config.name!r} does not name a folder directly in {output}")
    if fresh and run_dir.exists():
        _refuse_unless_ours(run_dir, "--fresh deletes only a run folder allocgym made", record)
        if (
            run_dir.resolve() in _HELD
        ):  # deleting it would pull it, lock and all, from under that use
            raise ConfigError(
                f"{run_dir} is in use by this process (a run or stage opened it and has not "
                "released it); fresh=True would delete it under that use: release it first"
            )
        _refuse_if_running(run_dir)
        shutil.rmtree(run_dir)
    if run_dir.exists() and not (run_dir / MARKER).exists():
        # a folder from before the marker existed: adopt it only if it holds a run
        _refuse_unless_ours(run_dir, "allocgym writes only into its own run folders", record)
    run_dir.mkdir(parents=True, exist_ok=True)
    acquire_lock(run_dir)
    try:
        if not (run_dir / MARKER).exists():
            _write_marker(run_dir)
        config_guard(config, record)
    except BaseException:
        release_lock(run_dir)
        raise
    return run_dir


def _refuse_unless_ours(run_dir: Path, why: str, record: str) -> None:
    """Refuse ``run_dir`` unless it holds the marker, a pre-marker ``record``
    whose ``name`` is the folder's, or nothing at all."""
    if (run_dir / MARKER).is_file() or not any(run_dir.iterdir()):
        return
    legacy = run_dir / record
    if legacy.is_file():
        try:
            old = yaml.safe_load(legacy.read_text())
        except (yaml.YAMLError, OSError, UnicodeDecodeError):
            old = None
        if isinstance(old, dict) and old.get("name") == run_dir.name:
            return
    raise ConfigError(
        f"{run_dir} exists and is not an allocgym run folder (no {MARKER} file); {why}. "
        "Choose another name or output_dir, or delete the folder by hand if you mean to"
    )


def _write_marker(run_dir: Path) -> None:
    from allocgym import __version__

    text = json.dumps({"allocgym": __version__, "kind": "run folder"}) + "\n"
    atomic_write(run_dir / MARKER, lambda tmp: Path(tmp).write_text(text))


def config_guard(config: Any, record: str = "experiment.yaml") -> None:
    """Write ``record``, or refuse a run folder made with a different config.

    Two configs are the same experiment when they agree on everything but
    ``output_dir`` and ``name`` (where the folder is), so a moved folder resumes.
    """
    path = config.run_dir / record
    text = config.to_yaml()
    if not path.exists():
        atomic_write(path, lambda tmp: Path(tmp).write_text(text))
        return
    old = read_yaml_mapping(
        path,
        "the saved experiment config",
        "restore it, or run under another name to start a new experiment",
    )
    kind, saved = ("a sweep", "trials") if record == "sweep.yaml" else ("an experiment", "models")
    ours = _identity(config.to_dict())
    theirs = _identity(old)
    if ours != theirs:
        a, b = _dump(theirs).splitlines(), _dump(ours).splitlines()
        first = next(
            (f"{x.strip()!r} -> {y.strip()!r}" for x, y in zip(a, b, strict=False) if x != y),
            "length differs",
        )
        raise ConfigError(
            f"{config.run_dir} holds {kind} with a different config (first difference: "
            f"{first}); its saved {saved} would not match. Run it under another "
            "name (--name) or output folder (--output-dir) to keep both"
        )


def _identity(data: dict[str, Any]) -> dict[str, Any]:
    """What makes the experiment: all but its location, and without keys set to null, so
    that a setting added to the config later (whose default is null: unset) does not make
    an older run folder "a different config"."""
    return _without_nulls({k: v for k, v in data.items() if k not in _LOCATION_KEYS})


def _without_nulls(x: Any) -> Any:
    if isinstance(x, dict):
        return {k: _without_nulls(v) for k, v in x.items() if v is not None}
    if isinstance(x, list):
        return [_without_nulls(v) for v in x]
    return x


def _dump(data: dict[str, Any]) -> str:
    return yaml.safe_dump(data, sort_keys=False)


# ---------------------------------------------------------------------- lock
def acquire_lock(run_dir: Path) -> None:
    """Hold ``run_dir``'s lock (re-entrant within one process; released at exit)."""
    key = Path(run_dir).resolve()
    if key in _HELD:
        _HELD[key] += 1
        return
    path = key / LOCK
    me = {"pid": os.getpid(), "host": socket.gethostname()}
    for _ in range(3):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666)
        except FileExistsError:
            owner = _read_lock(path)
            if owner is not None and _alive(owner):
                raise ConfigError(_busy(run_dir, owner)) from None
            path.unlink(missing_ok=True)  # left by a killed run: take it over
            continue
        with os.fdopen(fd, "w") as f:
            json.dump(me, f)
        _HELD[key] = 1
        return
    raise ConfigError(f"{path}: could not take the run folder's lock; try again")


def release_lock(run_dir: Path) -> None:
    """Give back one use of ``run_dir``'s lock; the last one removes the lock file."""
    key = Path(run_dir).resolve()
    count = _HELD.get(key, 0)
    if count > 1:
        _HELD[key] = count - 1
        return
    if count == 1:
        del _HELD[key]
        owner = _read_lock(key / LOCK)
        if owner is not None and owner.get("pid") == os.getpid():
            (key / LOCK).unlink(missing_ok=True)


def _refuse_if_running(run_dir: Path) -> None:
    owner = _read_lock(run_dir / LOCK)
    if owner is not None and _alive(owner) and owner.get("pid") != os.getpid():
        raise ConfigError(_busy(run_dir, owner))


def _read_lock(path: Path) -> dict[str, Any] | None:
    try:
        owner = json.loads(path.read_text())
    except (OSError, ValueError):
        return None  # gone, or half written by a process killed while writing it
    return owner if isinstance(owner, dict) and isinstance(owner.get("pid"), int) else None


def _alive(owner: dict[str, Any]) -> bool:
    """Whether the lock's process may still run (another host's: assume it does)."""
    if owner.get("host") != socket.gethostname():
        return True
    pid = owner["pid"]
    if pid == os.getpid():
        return False  # our own lock, left by an earlier run in this process
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _busy(run_dir: Path, owner: dict[str, Any]) -> str:
    return (
        f"another allocgym run is already running in {run_dir} (pid {owner['pid']} on "
        f"{owner.get('host')}); wait for it to finish, or stop it. If that process is gone, "
        f"delete {run_dir / LOCK}"
    )


@atexit.register
def _release_all() -> None:
    for key in list(_HELD):
        _HELD[key] = 1
        release_lock(key)
