"""``allocgym run --backend ray``: every (agent, seed, fold) training as a Ray task.

The driver (the process that runs ``allocgym run``) prepares the run as a local run does
(config checked, run folder opened and locked, features built or read from the cache;
a build's per-asset GARCH fits and per-refit regime and LSTM fits run on the Ray
workers through joblib's Ray backend, bit-identical to a serial build), then submits
one Ray task per (agent, seed, fold) whose model is not saved yet: a finished task is
never redone, exactly as a local run resumes. The market, the feature panel and the
config go to Ray's object store once; each task trains one
:class:`~allocgym.agents.RLAgent` fold in a scratch folder of its own worker and sends
back the saved model (``agent.json`` with the SHA-256 of ``model.zip``) and its
TensorBoard event files as bytes. The driver writes them into the run folder
(atomically, the model folder whole or not at all), so workers need the package and
Ray, not access to the run folder. When every task is done, the backtest loads the
models, as a resumed local run does, and writes the report.

A task whose worker is lost, or that raises an error of the machine (``OSError``,
``MemoryError``), is retried (``max_retries``); an error of the code or the config is
not (it would recur). A task that still fails is reported with its error once the
others are done and saved, and ``allocgym run`` exits with an error:
running it again trains only what is missing.

Same seeds, same numbers: a task trains with the same seed, data and settings as the
local run, on ``cpus_per_task`` PyTorch threads.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from allocgym._io import atomic_write, safe_component
from allocgym._threads import torch_threads
from allocgym.exceptions import TrainingFailed

__all__ = ["TrainingFailed", "TrainingTask", "train_on_ray", "training_tasks"]


@dataclass(frozen=True)
class TrainingTask:
    """One (agent, seed, fold) training: the agent's index in ``config.agents``, the
    seed, and the training rows ``[start, stop)`` of the fold."""

    agent: int
    seed: int
    start: int
    stop: int
    label: str
    fold_key: str

    def __str__(self) -> str:
        return f"{self.label} on {self.fold_key}"


def training_tasks(config: Any, market: Any, folds: list) -> list[tuple[TrainingTask, Path]]:
    """Every (agent, seed, fold) training of a run, with the folder its model is saved in
    (``agent.json`` there, written last inside an atomic folder write, means done)."""
    from allocgym.experiment.runner import build_agent

    tasks = []
    for i, agent in enumerate(config.agents):
        for seed in agent.seeds:
            policy = build_agent(config, agent, seed)
            for train, _ in folds:
                start, stop = int(train[0]), int(train[-1]) + 1
                key = policy.fold_key(market[start:stop])
                task = TrainingTask(i, int(seed), start, stop, policy.name, key)
                tasks.append((task, policy.checkpoint_dir / key))
    return tasks


def _train_task(
    config: Any, task: TrainingTask, market: Any, features: Any, threads: int
) -> dict[str, dict[str, bytes]]:
    """Train one fold in a scratch folder (on a Ray worker); return its files as bytes:
    ``{"model": {name: bytes}, "tensorboard": {relative path: bytes}}``."""
    from allocgym.experiment.runner import build_agent

    with torch_threads(threads), tempfile.TemporaryDirectory(prefix="allocgym-task-") as tmp:
        root = Path(tmp)
        agent = build_agent(config, config.agents[task.agent], task.seed, root=root)
        sl = slice(task.start, task.stop)
        agent.fit(market[sl], None if features is None else features[sl])
        saved = agent.checkpoint_dir / task.fold_key
        boards = root / "tensorboard" / "train"
        return {
            "model": {p.name: p.read_bytes() for p in saved.iterdir() if p.is_file()},
            "tensorboard": {
                p.relative_to(boards).as_posix(): p.read_bytes() for p in _files(boards)
            },
        }


def _files(folder: Path) -> Iterator[Path]:
    return (p for p in sorted(folder.rglob("*")) if p.is_file()) if folder.is_dir() else iter(())


def _write_task(config: Any, task: TrainingTask, out: dict[str, dict[str, bytes]]) -> Path:
    """Write a finished task's model folder (atomically) and TensorBoard run."""
    target = config.run_dir / "models" / safe_component(task.label) / task.fold_key

    def write(tmp: str) -> None:
        for name, blob in out["model"].items():
            (Path(tmp) / safe_component(name)).write_bytes(blob)

    atomic_write(target, write, folder=True)
    boards = config.run_dir / "tensorboard" / "train"
    runs: dict[str, str] = {}  # the task's run folder -> a free name in the run folder
    for rel, blob in out["tensorboard"].items():
        parts = rel.split("/")
        if not parts or any(p in ("", ".", "..") for p in parts):
            continue  # only plain relative names land in the run folder
        if parts[0] not in runs:
            runs[parts[0]] = _free_run_name(boards, safe_component(parts[0]))
        path = boards.joinpath(runs[parts[0]], *map(safe_component, parts[1:]))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(blob)
    return target


def _free_run_name(parent: Path, name: str) -> str:
    """``name`` (SB3's ``<log name>_<n>``), renumbered past the runs already in ``parent``
    as SB3 numbers a local run's."""
    match = re.fullmatch(r"(.*)_(\d+)", name)
    stem, n = (match.group(1), int(match.group(2))) if match else (name, 1)
    taken = parent / f"{stem}_{n}" if match else parent / name
    while taken.exists():
        n += 1
        taken = parent / f"{stem}_{n}"
    return taken.name


RETRIED_ERRORS = (OSError, MemoryError)
"""Errors raised in a training task that Ray runs the task again for: those of the
machine (files, network, memory), which another attempt, maybe on another worker, can
escape. An error of the code or the config (``ConfigError``, ``ValueError``, ...) would
fail again the same way, so it is reported at once; a worker or node that dies is
retried by Ray whatever the error list says."""


def task_options(cpus_per_task: int, max_retries: int) -> dict[str, Any]:
    """Ray options of one training task: its CPUs, and retries of lost workers and of
    :data:`RETRIED_ERRORS` only."""
    return {
        "num_cpus": cpus_per_task,
        "max_retries": max_retries,
        "retry_exceptions": list(RETRIED_ERRORS),
    }


def train_on_ray(
    prepared: Any,
    *,
    address: str | None = None,
    cpus_per_task: int = 1,
    max_retries: int = 1,
    progress: bool = True,
    say: Callable[..., Any] = print,
) -> list[Path]:
    """Train every missing (agent, seed, fold) of a prepared run as Ray tasks.

    Parameters
    ----------
    prepared : PreparedRun
        From :func:`~allocgym.experiment.runner.prepare_run` (holds the folder's lock).
    address : str, optional
        Join this Ray cluster (``ray start --head`` prints it); default: start Ray on
        this machine, bound to 127.0.0.1, with all its CPUs.
    cpus_per_task : int, default 1
        CPUs Ray reserves for each task, and the PyTorch threads it trains with.
    max_retries : int, default 1
        Times a task is run again after its worker was lost or it raised one of
        :data:`RETRIED_ERRORS`, before it is reported; any other error is reported at
        once (it would recur).
    progress : bool
        A progress bar over the training steps on stderr.

    Returns
    -------
    list of Path
        The model folder of every (agent, seed, fold), trained now or before.

    Raises
    ------
    TrainingFailed
        After every other task is done and saved, naming each failed task and its error.
    """
    import ray

    from allocgym._ray import start_ray
    from allocgym.experiment.runner import _training_bar

    config, market, features, _, folds = prepared
    tasks = training_tasks(config, market, folds)
    todo = [task for task, folder in tasks if not (folder / "agent.json").exists()]
    done = len(tasks) - len(todo)
    steps = {t: config.agents[t.agent].timesteps for t in todo}
    bar = _training_bar(config, len(folds), progress)
    bar.update(bar.total - sum(steps.values()))
    say(
        f"[allocgym] ray: {len(todo)} trainings to run, {done} already saved"
        + (f" (cluster {address})" if address else " (local, 127.0.0.1)")
    )
    failures: list[str] = []
    if todo:
        start_ray(None, address)
        remote = ray.remote(_train_task).options(**task_options(cpus_per_task, max_retries))
        refs = [ray.put(x) for x in (config, market, features)]
        pending = {remote.remote(refs[0], t, refs[1], refs[2], cpus_per_task): t for t in todo}
        try:
            while pending:
                (ref,), _ = ray.wait(list(pending), num_returns=1)
                task = pending.pop(ref)
                try:
                    out = ray.get(ref)
                except Exception as exc:  # a task's error: report it, keep the others
                    failures.append(f"{task}: {_cause(exc)}")
                else:
                    _write_task(config, task, out)
                bar.update(steps[task])
        finally:
            bar.close()
    else:
        bar.close()
    if failures:
        raise TrainingFailed(
            f"{len(failures)} of {len(todo)} trainings failed on Ray (a lost worker or an "
            f"I/O error is retried up to {max_retries} time{'' if max_retries == 1 else 's'}, "
            f"an error of the code or config is not) (the other "
            f"{len(todo) - len(failures)} are saved; run again to retry only these):\n  "
            + "\n  ".join(failures)
        )
    return [folder for _, folder in tasks]


def _cause(exc: BaseException) -> str:
    """The task's own exception, not Ray's wrapper around it."""
    cause = getattr(exc, "cause", None)
    inner = cause if isinstance(cause, BaseException) else exc
    text = str(inner).strip().splitlines()
    return f"{type(inner).__name__}: {text[-1] if text else ''}"
