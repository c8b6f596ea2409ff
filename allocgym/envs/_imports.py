"""Load ``"package.module:attr"`` or ``"path/to/file.py:attr"`` (user rewards)."""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import sys
from pathlib import Path
from typing import Any


def load_attribute(spec: str) -> Any:
    """The object named by ``spec``; a file is imported once under a stable name."""
    target, _, attr = spec.rpartition(":")
    if not target or not attr:
        raise ValueError(f"reward={spec!r}: expected 'module:function' or 'path/file.py:function'")
    if target.endswith(".py"):
        path = Path(target).expanduser().resolve()
        if not path.is_file():
            raise FileNotFoundError(f"reward={spec!r}: file {path} does not exist")
        mod_name = f"_allocgym_user_{path.stem}_{hashlib.sha1(str(path).encode()).hexdigest()[:8]}"
        module = sys.modules.get(mod_name)
        if module is None:
            loader_spec = importlib.util.spec_from_file_location(mod_name, path)
            if loader_spec is None or loader_spec.loader is None:
                raise ValueError(f"reward={spec!r}: cannot import {path}")
            module = importlib.util.module_from_spec(loader_spec)
            sys.modules[mod_name] = module
            loader_spec.loader.exec_module(module)
    else:
        try:
            module = importlib.import_module(target)
        except ImportError as exc:
            raise ValueError(
                f"reward={spec!r}: cannot import module {target!r} ({exc}); is it on sys.path?"
            ) from exc
    try:
        return getattr(module, attr)
    except AttributeError:
        raise ValueError(f"reward={spec!r}: module {target!r} has no attribute {attr!r}") from None
