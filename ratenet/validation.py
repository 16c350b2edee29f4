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
    check_axes,
    check_choice,
    check_finite,
    check_nonnegative,
    check_positive,
    check_positive_int,
)

__all__ = [
    "as_finite_array",
    "check_axes",
    "check_choice",
    "check_dtype",
    "check_finite",
    "check_fraction",
    "check_nonnegative",
    "check_positive",
    "check_positive_int",
    "check_samples",
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


def check_fraction(name: str, value: object) -> float:
    """Return ``value`` as a float, or raise unless it is a number in [0, 1)."""
    number = check_nonnegative(name, value)
    if number >= 1:
        raise ValueError(f"{name} must be a fraction in [0, 1), got {value!r}")
    return number


def check_samples(X: object, name: str, n_features: int, dtype, *, unit_interval: bool = False,
                  why: str = "", remedy: str = "") -> np.ndarray:
    """Return ``X`` as a C-contiguous array of ``dtype`` and shape (n_samples, n_features).

    Raises TypeError for non-numeric or complex data and ValueError for a wrong shape, no samples,
    NaN or inf, or (``unit_interval``) values outside [0, 1], whose message gives ``why`` they
    must lie there and the ``remedy``.
    """
    if np.iscomplexobj(X):
        raise TypeError(f"{name} must be real; it is complex")
    try:
        array = np.asarray(X, dtype=dtype)
    except (TypeError, ValueError) as error:
        raise TypeError(f"{name} must be a real numeric array, got {type(X).__name__}") from error
    if array.ndim != 2 or array.shape[1] != n_features:
        raise ValueError(f"{name} must have shape (n_samples, {n_features}), got {array.shape}")
    if array.shape[0] == 0:
        raise ValueError(f"{name} must hold at least one sample")
    if not np.isfinite(array).all():
        raise ValueError(f"{name} must be finite; it contains NaN or inf")
    if unit_interval:
        low, high = float(array.min()), float(array.max())
        if low < 0 or high > 1:
            raise ValueError(f"{name} must lie in [0, 1] for {why}; its values run from {low:.4g} to "
                             f"{high:.4g}: {remedy}")
    return np.ascontiguousarray(array)
