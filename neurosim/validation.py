"""Argument checks shared by the public functions of neurosim.

Every check names the argument it rejects and says what was expected, so that a user reading the
error knows which value to change. The module is public: ratenet builds its own checks
(:mod:`ratenet.validation`) on these, and a user's own functions may use them too.
"""

from __future__ import annotations

from collections.abc import Sequence
from numbers import Real

import numpy as np


def check_positive(name: str, value: object) -> float:
    """Return ``value`` as a float, or raise if it is not a finite number > 0."""
    number = _as_real(name, value)
    if not number > 0:
        raise ValueError(f"{name} must be > 0, got {value!r}")
    return number


def check_nonnegative(name: str, value: object) -> float:
    """Return ``value`` as a float, or raise if it is not a finite number >= 0."""
    number = _as_real(name, value)
    if not number >= 0:
        raise ValueError(f"{name} must be >= 0, got {value!r}")
    return number


def check_finite(name: str, value: object) -> float:
    """Return ``value`` as a float, or raise if it is not a finite real number."""
    return _as_real(name, value)


def check_positive_int(name: str, value: object) -> int:
    """Return ``value`` as an int, or raise if it is not an integer >= 1."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__}")
    if value < 1:
        raise ValueError(f"{name} must be >= 1, got {value!r}")
    return int(value)


def check_choice(name: str, value: object, choices: Sequence[str]) -> str:
    """Return ``value`` if it is one of ``choices``, else raise listing the choices."""
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a string, one of {list(choices)}, got {type(value).__name__}")
    if value not in choices:
        raise ValueError(f"unknown {name} {value!r}; choose one of {list(choices)}")
    return value


def as_finite_array(name: str, value: object, *, ndim: int | tuple[int, ...] | None = None,
                    dtype: type = np.float64) -> np.ndarray:
    """Return ``value`` as a contiguous array of ``dtype``; raise if it is not finite or of the
    wrong number of dimensions."""
    try:
        array = np.asarray(value, dtype=dtype, order="C")
    except (TypeError, ValueError) as error:
        raise TypeError(f"{name} must be numeric array-like, got {type(value).__name__}") from error
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else ndim
        if array.ndim not in allowed:
            raise ValueError(f"{name} must have {' or '.join(map(str, allowed))} dimension(s), "
                             f"got shape {array.shape}")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} must be finite; it contains NaN or inf")
    return array


def time_steps(t_end: object, dt: object) -> tuple[float, float, int]:
    """Validate a simulation's ``t_end`` and ``dt`` (seconds) and return ``(t_end, dt, n_steps)``.

    ``n_steps`` is ``round(t_end / dt)``: the run covers ``[0, n_steps * dt)``.
    """
    dt = check_positive("dt", dt)
    t_end = check_positive("t_end", t_end)
    if t_end < dt * (1 - 1e-9):
        raise ValueError(f"t_end must be at least one step dt={dt!r} s, got t_end={t_end!r} s")
    return t_end, dt, max(1, int(round(t_end / dt)))


def as_current(current: object, n_steps: int, name: str = "current") -> np.ndarray:
    """Return the input current as a float64 array of shape ``(n_neurons, n_columns)``.

    Accepted forms: a scalar (one neuron), a 1-D array (one constant current per neuron), or a 2-D
    array of shape ``(n_neurons, n_steps)`` (a current over time per neuron, one value per step).
    ``n_columns`` is 1 for constant currents and ``n_steps`` for time-varying ones.
    """
    array = as_finite_array(name, current, ndim=(0, 1, 2))
    if array.ndim == 0:
        return array.reshape(1, 1)
    if array.ndim == 1:
        if array.size == 0:
            raise ValueError(f"{name} must hold at least one neuron's current, got an empty array")
        return array.reshape(-1, 1)
    if array.shape[1] != n_steps:
        raise ValueError(f"a 2-D {name} must have shape (n_neurons, n_steps) = (n, {n_steps}), "
                         f"got {array.shape}")
    if array.shape[0] == 0:
        raise ValueError(f"{name} must hold at least one neuron's current, got shape {array.shape}")
    return array


def check_axes(ax: object, figsize: tuple[float, float] = (6.0, 4.0), name: str = "ax"):
    """Return ``ax`` if it is a matplotlib Axes, a new figure's Axes (of ``figsize`` inches) for
    None, and raise TypeError naming ``name`` otherwise."""
    from matplotlib.axes import Axes

    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=figsize, layout="constrained")
        return ax
    if not isinstance(ax, Axes):
        raise TypeError(f"{name} must be a matplotlib Axes (e.g. from plt.subplots()) or None, got "
                        f"{type(ax).__name__}")
    return ax


def _as_real(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, Real | np.integer | np.floating):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    number = float(value)
    if not np.isfinite(number):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return number
