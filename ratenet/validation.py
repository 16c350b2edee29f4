"""Argument checks of ratenet's public functions.

The generic checks (a positive number, an integer >= 1, a choice among names, a finite array) are
neurosim's, re-exported here so that every ratenet module takes its checks from one place; the
checks that only rate networks need (their floating-point precision) live here.
Every check names the argument it rejects and says what was expected.
"""

from __future__ import annotations

import numpy as np

from neurosim.validation import (
    as_finite_array,
    check_choice,
    check_finite,
    check_nonnegative,
    check_positive,
    check_positive_int,
)

__all__ = [
    "as_finite_array",
    "check_choice",
    "check_dtype",
    "check_finite",
    "check_nonnegative",
    "check_positive",
    "check_positive_int",
]

#: The floating-point precisions a network computes in.
DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def check_dtype(dtype: object, name: str = "dtype") -> np.dtype:
    """Return ``dtype`` as a numpy dtype, or raise unless it is float32 or float64."""
    try:
        dtype = np.dtype(dtype)
    except TypeError as error:
        raise TypeError(f"{name} must be float32 or float64, got {dtype!r}") from error
    if dtype not in DTYPES:
        raise ValueError(f"{name} must be float32 or float64, got {dtype}")
    return dtype
