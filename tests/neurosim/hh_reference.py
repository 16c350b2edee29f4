"""A high-accuracy Hodgkin-Huxley reference, independent of neurosim's kernels.

The 1952 equations (rest near -65 mV, the parameters of ``neurosim.HHParameters()``) are written out
plainly here and integrated with ``scipy.integrate.solve_ivp`` (DOP853, rtol 1e-9, atol 1e-9 in mV
and gate units). Spike times are upward crossings of 0 mV located by solve_ivp's event root-finding
on the dense output (accurate to far below a microsecond). Time is in ms inside and in seconds in
every function below, as in neurosim.

Other tests import from here (``from tests.neurosim.hh_reference import ...``):

- :func:`reference_spike_times` -- spike times (s) of one neuron under a constant current;
- :func:`reference_rate` -- its firing rate (Hz) after a transient;
- :func:`reference_onset` -- the current where sustained repetitive firing from rest starts;
- :func:`reference_trajectory` -- V and the gates at given times.

All results are cached for the session (``functools.lru_cache``): a 1 s run costs about a second.
"""

from __future__ import annotations

import functools
import math

import numpy as np
from scipy.integrate import solve_ivp

CAPACITANCE = 1.0        # µF/cm²
G_NA, G_K, G_L = 120.0, 36.0, 0.3        # mS/cm²
E_NA, E_K, E_L = 50.0, -77.0, -54.387    # mV
V_REST = -65.0           # mV
RTOL = 1e-9
ATOL = 1e-9


def _linear_over_expm1(y: float, scale: float) -> float:
    """``y / (1 - exp(-y / scale))``, with its limit ``scale`` at y = 0."""
    if y == 0.0:
        return scale
    return y / -math.expm1(-y / scale)


def rate_functions(v: float) -> tuple[float, float, float, float, float, float]:
    """The classic α/β functions (1/ms) at ``v`` (mV): (α_m, β_m, α_h, β_h, α_n, β_n)."""
    alpha_m = 0.1 * _linear_over_expm1(v + 40.0, 10.0)
    beta_m = 4.0 * math.exp(-(v + 65.0) / 18.0)
    alpha_h = 0.07 * math.exp(-(v + 65.0) / 20.0)
    beta_h = 1.0 / (1.0 + math.exp(-(v + 35.0) / 10.0))
    alpha_n = 0.01 * _linear_over_expm1(v + 55.0, 10.0)
    beta_n = 0.125 * math.exp(-(v + 65.0) / 80.0)
    return alpha_m, beta_m, alpha_h, beta_h, alpha_n, beta_n


def steady_state(v: float) -> tuple[float, float, float]:
    """(m, h, n) at rest at ``v`` (mV)."""
    alpha_m, beta_m, alpha_h, beta_h, alpha_n, beta_n = rate_functions(v)
    return alpha_m / (alpha_m + beta_m), alpha_h / (alpha_h + beta_h), alpha_n / (alpha_n + beta_n)


def _derivatives(current: float):
    def rhs(_t_ms, state):
        v, m, h, n = state
        alpha_m, beta_m, alpha_h, beta_h, alpha_n, beta_n = rate_functions(v)
        ionic = G_NA * m**3 * h * (v - E_NA) + G_K * n**4 * (v - E_K) + G_L * (v - E_L)
        return [(current - ionic) / CAPACITANCE,
                alpha_m * (1.0 - m) - beta_m * m,
                alpha_h * (1.0 - h) - beta_h * h,
                alpha_n * (1.0 - n) - beta_n * n]
    return rhs


def _solve(current: float, t_end: float, t_eval=None, threshold: float = 0.0):
    def crossing(_t_ms, state):
        return state[0] - threshold
    crossing.direction = 1.0
    return solve_ivp(_derivatives(current), (0.0, t_end * 1e3), [V_REST, *steady_state(V_REST)],
                     method="DOP853", rtol=RTOL, atol=ATOL, events=crossing,
                     t_eval=None if t_eval is None else np.asarray(t_eval) * 1e3)


@functools.lru_cache(maxsize=256)
def reference_spike_times(current: float, t_end: float, threshold: float = 0.0) -> np.ndarray:
    """Times (s) of the upward crossings of ``threshold`` (mV) by a neuron starting at rest.

    Parameters
    ----------
    current : float
        Constant input current (µA/cm²), switched on at t = 0.
    t_end : float
        Duration (s).
    threshold : float
        Spike threshold (mV).

    Returns
    -------
    ndarray, shape (n_spikes,)
        Spike times in seconds (read-only; cached).
    """
    solution = _solve(float(current), float(t_end), threshold=float(threshold))
    times = solution.t_events[0] * 1e-3
    times.flags.writeable = False
    return times


def reference_rate(current: float, t_end: float, t_skip: float, *, estimator: str = "isi") -> float:
    """Firing rate (Hz) of a neuron starting at rest under a constant current, after ``t_skip``.

    Parameters
    ----------
    current : float
        Input current (µA/cm²).
    t_end, t_skip : float
        Duration of the run and length of the transient left out (s).
    estimator : {"isi", "count"}
        "isi" (default): the inverse mean inter-spike interval of the spikes in ``[t_skip, t_end]``,
        ``(k - 1) / (t_k - t_1)``, 0 with fewer than two spikes; it has no counting quantisation.
        "count": the number of spikes in ``[t_skip, t_end)`` divided by ``t_end - t_skip``, as
        ``SpikeTrains.rates(t_start=t_skip)`` computes it (quantised by 1 / (t_end - t_skip)).
    """
    times = reference_spike_times(float(current), float(t_end))
    return rate_from_spike_times(times, t_skip, t_end, estimator=estimator)


def rate_from_spike_times(times: np.ndarray, t_skip: float, t_end: float, *,
                          estimator: str = "isi") -> float:
    """The rate (Hz) of :func:`reference_rate` computed from any spike times (s)."""
    times = np.asarray(times)
    kept = times[(times >= t_skip) & (times < t_end)]
    if estimator == "count":
        return kept.size / (t_end - t_skip)
    if estimator != "isi":
        raise ValueError(f"unknown estimator {estimator!r}; choose 'isi' or 'count'")
    if kept.size < 2:
        return 0.0
    return (kept.size - 1) / (kept[-1] - kept[0])


def fires_repetitively(current: float, t_end: float = 1.0, t_late: float = 0.5) -> bool:
    """Whether a neuron starting at rest still fires (at least two spikes) after ``t_late`` (s)."""
    times = reference_spike_times(float(current), float(t_end))
    return int(np.count_nonzero(times >= t_late)) >= 2


@functools.lru_cache(maxsize=8)
def reference_onset(low: float = 5.0, high: float = 8.0, tolerance: float = 0.005,
                    t_end: float = 1.0, t_late: float = 0.5) -> float:
    """Current (µA/cm²) at which sustained repetitive firing from rest starts, by bisection.

    A current counts as firing repetitively when a neuron switched on from rest at t = 0 still
    fires at least two spikes in ``[t_late, t_end]`` (:func:`fires_repetitively`). The bisection
    keeps ``low`` silent and ``high`` firing until ``high - low < tolerance`` and returns the
    midpoint: about 6.26 µA/cm² for the standard parameters (the rate jumps from 0 to ~55 Hz there).
    Just below the onset the transient firing lasts long, so the answer creeps up with the run's
    length: 6.2583 for ``t_end`` 0.6 s and 1 s, 6.2612 for 2 s (``t_late = t_end - 0.5 s``).
    The default bisection runs about ten 1 s solves (~15 s), cached for the session.

    Parameters
    ----------
    low, high : float
        A bracket (µA/cm²): silent at ``low``, firing at ``high``.
    tolerance : float
        Width of the final bracket (µA/cm²).
    t_end, t_late : float
        Duration of each run and start of the window that must still hold spikes (s).
    """
    if fires_repetitively(low, t_end, t_late) or not fires_repetitively(high, t_end, t_late):
        raise ValueError(f"[{low}, {high}] does not bracket the onset of repetitive firing")
    while high - low >= tolerance:
        middle = round(0.5 * (low + high), 10)
        if fires_repetitively(middle, t_end, t_late):
            high = middle
        else:
            low = middle
    return 0.5 * (low + high)


def reference_trajectory(current: float, times: np.ndarray) -> np.ndarray:
    """V (mV), m, h, n of a neuron starting at rest under a constant current, at ``times`` (s).

    Returns
    -------
    ndarray, shape (4, len(times))
        Rows V, m, h, n.
    """
    times = np.asarray(times, dtype=float)
    solution = _solve(float(current), float(times[-1]) + 1e-9, t_eval=times)
    return solution.y
