"""Atomic writes: a reader sees the old file (or folder) or the new one, never half of one;
and the one reader of a YAML mapping that names the file when it cannot be read.

SPEC invariant 6 ("outputs are written atomically; an interrupted experiment resumes")
rests on this one function. The content goes to a temporary file or folder next to the
target (same folder, so same file system) and is renamed onto it only once it is
complete; on any exception, ``KeyboardInterrupt`` included, the temporary is removed
and the target is left as it was. The result gets the permissions of a plain
``open()``/``mkdir()`` under the user's umask (not the 0600 of a temporary file).
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["atomic_write", "check_component", "safe_component"]

_UNSAFE = re.compile(r"[^\w.-]")  # \w: Unicode letters and digits, and "_"


def _umask() -> int:
    """The process's umask (read by setting it and putting it back at once)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def safe_component(text: str) -> str:
    """``text`` as one file-name component that stays inside its parent folder.

    Every character but letters, digits, ``.``, ``-`` and ``_`` becomes ``_`` (separators, control
    characters, spaces), and a result made only of dots (``"."``, ``".."``) or empty is
    prefixed with ``_``, so ``parent / safe_component(x)`` is always a child of
    ``parent``. Used for labels that name model folders, TensorBoard runs and plots.
    """
    slug = _UNSAFE.sub("_", str(text))
    return f"_{slug}" if not slug.strip(".") else slug


def check_component(text: str) -> str | None:
    """Why ``text`` is not a safe single path component (None if it is one).

    Refused: empty, ``"."`` or ``".."``, a path separator (``/`` or ``\\``), an
    absolute path, a drive (``C:``), control characters, leading/trailing spaces.
    """
    if not isinstance(text, str) or not text:
        return "an empty name"
    if text in (".", ".."):
        return f"{text!r} names a folder above or at the output folder"
    if "/" in text or "\\" in text or os.sep in text or (os.altsep and os.altsep in text):
        return "a path separator"
    if any(ord(c) < 32 or ord(c) == 127 for c in text):
        return "a control character"
    if ":" in text[:2] or text != text.strip():
        return "a drive letter or leading/trailing spaces"
    return None


def atomic_write(
    path: str | os.PathLike, write: Callable[[str], Any], *, folder: bool = False
) -> Path:
    """Call ``write(tmp)`` on a temporary path next to ``path``, then rename it onto ``path``.

    Parameters
    ----------
    path : path-like
        The file (or, with ``folder=True``, the folder) to create or replace. Missing
        parent folders are created.
    write : callable
        Called once with the temporary path as a ``str``: a file that already exists
        (empty) for ``folder=False``, an empty folder for ``folder=True``.
    folder : bool
        Write a whole folder. An existing folder at ``path`` is removed just before
        the rename (a folder cannot be renamed over a non-empty one), so an interrupted
        save leaves the old folder or the new one, never a mix of the two.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    prefix = f".{path.name}."
    if folder:
        tmp = tempfile.mkdtemp(dir=path.parent, prefix=prefix)
    else:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=prefix, suffix=".tmp")
        os.close(fd)
    try:
        # mkstemp/mkdtemp create 0600/0700; a result file gets what open() would give
        os.chmod(tmp, (0o777 if folder else 0o666) & ~_umask())
        write(tmp)
        if folder and path.exists():
            shutil.rmtree(path)
        os.replace(tmp, path)
    except BaseException:
        if folder:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            Path(tmp).unlink(missing_ok=True)
        raise
    return path


def read_yaml_mapping(path: str | os.PathLike, what: str, remedy: str) -> dict[str, Any]:
    """The mapping in the YAML file ``path``, or a :class:`ConfigError` that names the
    file, says what it is (``what``) and what to do (``remedy``).

    An empty file reads as ``{}``; unreadable bytes, invalid YAML and a document that is
    not a mapping are refused.
    """
    import yaml

    from allocgym.exceptions import ConfigError

    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.MarkedYAMLError as exc:  # one line, with the place, not yaml's own dump
        mark = exc.problem_mark
        where = "" if mark is None else f" at line {mark.line + 1}, column {mark.column + 1}"
        raise ConfigError(
            f"{path}: cannot read {what} (invalid YAML: {exc.problem}{where}); {remedy}"
        ) from None
    except (yaml.YAMLError, OSError, UnicodeDecodeError) as exc:
        raise ConfigError(
            f"{path}: cannot read {what} ({type(exc).__name__}: {exc}); {remedy}"
        ) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: {what} is not a mapping (a {type(data).__name__}); {remedy}")
    return data
