"""Array aliases shared by the package (one place, so shapes read the same everywhere)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
Float32Array = npt.NDArray[np.float32]
BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]

__all__ = ["BoolArray", "Float32Array", "FloatArray", "IntArray"]
