"""Argument checks shared by the public functions of neurosim.

Every check names the argument it rejects and says what was expected, so that a user reading the
error knows which value to change. The module is public: ratenet builds its own checks
(:mod:`ratenet.validation`) on these, and a user's own functions may use them too.

One guard goes beyond a single argument:

- **Memory.** Every large allocation is estimated first and passed to :func:`check_allocation`,
  which refuses anything above :data:`MAX_ALLOCATION_BYTES` (2 GiB by default) with a
  ``ValueError`` that names the argument to change and the way out. To allow more, raise the
  limit for the whole process: ``neurosim.validation.MAX_ALLOCATION_BYTES = 8 * 2**30`` (it is
  read at every check), or set the environment variable ``NEUROSIM_MAX_ALLOCATION_BYTES`` before
  importing neurosim.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from numbers import Real

import numpy as np

#: The largest allocation (bytes) that one array or one call may make before :func:`check_allocation`
#: refuses it: 2 GiB, or ``NEUROSIM_MAX_ALLOCATION_BYTES`` from the environment at import. Assign a
#: new value to this module attribute to change it for the process.
MAX_ALLOCATION_BYTES: int = 2 * 2**30
if os.environ.get("NEUROSIM_MAX_ALLOCATION_BYTES"):
    MAX_ALLOCATION_BYTES = int(float(os.environ["NEUROSIM_MAX_ALLOCATION_BYTES"]))

def check_allocation(name: str, n_bytes: float, advice: str, *, what: str = "") -> int:
    """Refuse an allocation of about ``n_bytes`` bytes when it exceeds :data:`MAX_ALLOCATION_BYTES`.

    Call it with the estimate BEFORE allocating anything, so that a refused call leaves no
    half-built state behind.

    Parameters
    ----------
    name : str
        The argument the user should change (e.g. ``"record_v"``, ``"dt"``), named in the error.
    n_bytes : float
        Estimated size of the allocation (bytes), >= 0. A float is accepted so that estimates like
        ``n_neurons * n_steps * 8.0`` cannot overflow.
    advice : str
        The way out, e.g. ``"pass record_v=False or record_every >= 4"``.
    what : str, optional
        What would be allocated (e.g. ``"a 10000 x 100000 voltage trace"``), for the message.

    Returns
    -------
    int
        ``n_bytes`` rounded up, when it is within the limit.

    Raises
    ------
    ValueError
        ``"<name>: <what> would need 7.45 GiB, more than the limit of 2 GiB
        (neurosim.validation.MAX_ALLOCATION_BYTES); <advice>"``.
    """
    n_bytes = float(n_bytes)
    if not n_bytes >= 0:                      # also NaN
        raise ValueError(f"the memory estimate for {name} must be a number >= 0, got {n_bytes!r}")
    limit = MAX_ALLOCATION_BYTES
    if n_bytes > limit:
        subject = f"{what} " if what else "this call "
        raise ValueError(f"{name}: {subject}would need {_format_bytes(n_bytes)}, more than the limit of "
                         f"{_format_bytes(limit)} (neurosim.validation.MAX_ALLOCATION_BYTES); {advice}")
    return int(np.ceil(n_bytes))


def _format_bytes(n_bytes: float) -> str:
    for unit, size in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n_bytes >= size:
            return f"{n_bytes / size:.3g} {unit}"
    return f"{n_bytes:.0f} bytes"


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
        raw = np.asarray(value)
        if np.iscomplexobj(raw):
            raise TypeError(f"{name} must be real; got complex values (their imaginary part would be lost)")
        array = np.asarray(raw, dtype=dtype, order="C")
    except (TypeError, ValueError) as error:
        if "complex" in str(error):
            raise TypeError(f"{name} must be real; got complex values (their imaginary part would be "
                            "lost)") from None
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


def _as_real(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, Real | np.integer | np.floating):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    number = float(value)
    if not np.isfinite(number):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return number
