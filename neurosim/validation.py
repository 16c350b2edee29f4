"""Argument checks shared by the public functions of neurosim.

Every check names the argument it rejects and says what was expected, so that a user reading the
error knows which value to change. The module is public: ratenet builds its own checks
(:mod:`ratenet.validation`) on these, and a user's own functions may use them too.

Two guards go beyond a single argument:

- **Memory.** Every large allocation is estimated first and passed to :func:`check_allocation`,
  which refuses anything above :data:`MAX_ALLOCATION_BYTES` (2 GiB by default) with a
  ``ValueError`` that names the argument to change and the way out. To allow more, raise the
  limit for the whole process: ``neurosim.validation.MAX_ALLOCATION_BYTES = 8 * 2**30`` (it is
  read at every check), or set the environment variable ``NEUROSIM_MAX_ALLOCATION_BYTES`` before
  importing neurosim.
- **Units.** Every public time is in seconds. :func:`check_time_constant` warns with
  :class:`UnitsWarning` when a time constant is 1 s or more (``tau_m=20`` meant 20 ms), saying which
  value was probably meant.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from numbers import Real

import numpy as np

#: The largest allocation (bytes) that one array or one call may make before :func:`check_allocation`
#: refuses it: 2 GiB, or ``NEUROSIM_MAX_ALLOCATION_BYTES`` from the environment at import. Assign a
#: new value to this module attribute to change it for the process.
MAX_ALLOCATION_BYTES: int = 2 * 2**30
if os.environ.get("NEUROSIM_MAX_ALLOCATION_BYTES"):
    MAX_ALLOCATION_BYTES = int(float(os.environ["NEUROSIM_MAX_ALLOCATION_BYTES"]))

#: A time constant at or above this many seconds is almost always milliseconds typed by mistake.
SUSPICIOUS_TIME_CONSTANT = 1.0


class UnitsWarning(UserWarning):
    """A value whose size suggests the wrong unit (e.g. a time constant in ms where s is expected)."""


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
    for unit, size in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n_bytes >= size:
            return f"{n_bytes / size:.3g} {unit}"
    return f"{n_bytes:.0f} bytes"


def check_time_constant(name: str, value: object, *, allow_zero: bool = False, scalar: bool = False,
                        stacklevel: int = 3) -> float | np.ndarray:
    """Return a time constant (s) as a float, or a per-neuron time constant as a float64 array.

    Parameters
    ----------
    name : str
        The argument's name, for the messages (``"tau_m"``, ``"tau_s"``, ...).
    value : float or array_like, shape (n,)
        The time constant in seconds: finite and > 0 (>= 0 when ``allow_zero``).
    allow_zero : bool
        Accept 0 (a refractory period may be 0).
    scalar : bool
        Accept a single number only (a synapse's ``tau_s``), not a per-neuron array.
    stacklevel : int
        Passed to :func:`warnings.warn`, so that the warning points at the user's line.

    Returns
    -------
    float or ndarray
        A float for a scalar; a read-only float64 array of shape (n,) for a 1-D ``value``.

    Warns
    -----
    UnitsWarning
        When a value is 1 s or more: time is in seconds in every signature, so ``tau_m=20`` is
        almost surely 20 ms; the warning suggests ``tau_m=0.02``.
    """
    if np.ndim(value) == 0 or scalar:
        number = _as_real(name, value)
        values = np.array([number])
    else:
        number = None
        values = as_finite_array(name, value, ndim=1).copy()
        if values.size == 0:
            raise ValueError(f"{name} must hold at least one value, got an empty array")
    if allow_zero:
        if np.any(values < 0):
            raise ValueError(f"{name} must be >= 0 (s), got {_describe(values, value)}")
    elif np.any(values <= 0):
        raise ValueError(f"{name} must be > 0 (s), got {_describe(values, value)}")
    largest = float(values.max())
    if largest >= SUSPICIOUS_TIME_CONSTANT:
        warnings.warn(f"{name}={largest:g} s is {largest:g} seconds: times are in seconds here. Did you "
                      f"mean {name}={largest * 1e-3:g} ({largest:g} ms)?", UnitsWarning,
                      stacklevel=stacklevel)
    if number is not None:
        return number
    values.flags.writeable = False
    return values


def _describe(values: np.ndarray, value: object) -> str:
    if values.size == 1 and np.ndim(value) == 0:
        return repr(value)
    return f"a minimum of {float(values.min())!r}"


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
