"""Atomic writes: a reader sees the old file (or folder) or the new one, never half of one.

SPEC invariant 6 ("outputs are written atomically; an interrupted experiment resumes")
rests on this one function. The content goes to a temporary file or folder next to the
target (same folder, so same file system) and is renamed onto it only once it is
complete; on any exception, ``KeyboardInterrupt`` included, the temporary is removed
and the target is left as it was.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["atomic_write"]


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
