"""The Hodgkin-Huxley model of the squid giant axon (1952), with rest near -65 mV.

    C dV/dt = I - g_Na m³ h (V - E_Na) - g_K n⁴ (V - E_K) - g_L (V - E_L)
    dx/dt   = α_x(V) (1 - x) - β_x(V) x          for each gate x in (m, h, n)

with V in mV, t in ms and the classic rate functions (1/ms)::

    α_n = 0.01 (V+55) / (1 - exp(-(V+55)/10))     β_n = 0.125 exp(-(V+65)/80)
    α_m = 0.1 (V+40) / (1 - exp(-(V+40)/10))      β_m = 4 exp(-(V+65)/18)
    α_h = 0.07 exp(-(V+65)/20)                    β_h = 1 / (1 + exp(-(V+35)/10))

The model computes in ms inside; :func:`simulate_hh` takes and returns seconds.

References
----------
Hodgkin, A. L. and Huxley, A. F. (1952). A quantitative description of membrane current and its
application to conduction and excitation in nerve. J. Physiol. 117, 500-544. (Shifted to rest at
-65 mV, as in Dayan & Abbott, Theoretical Neuroscience, and in Brian2's and NEURON's examples.)
"""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numba
import numpy as np

from . import _hh_kernels, validation
from ._result import SimResult
from .spikes import SpikeTrains
from .validation import (
    as_current,
    as_finite_array,
    check_allocation,
    check_choice,
    check_finite,
    check_positive,
    check_positive_int,
    time_steps,
)

METHODS = {"euler": _hh_kernels.METHOD_EULER,
           "exponential_euler": _hh_kernels.METHOD_EXPONENTIAL_EULER}

# Forward Euler with dt <= 0.02 ms stays stable and close to the exact solution at currents of
# tens of µA/cm²; 0.01 ms is the usual choice.
STABLE_DT = 2e-5

# Spike-buffer rows hold this many spikes per neuron and second at first (HH fires at < 150 Hz for
# currents up to 20 µA/cm²); a neuron that fills its row is resumed with an empty one.
_SPIKES_PER_SECOND = 150.0
_MAX_BUFFERED_TIMES = 1 << 22          # at most 32 MiB of spike buffer per round


@dataclass(frozen=True)
class HHParameters:
    """Membrane parameters of the Hodgkin-Huxley model (defaults: the 1952 squid axon, rest -65 mV).

    The rate functions are fixed in absolute voltage (see the module docstring); these parameters
    set the membrane and the channels' densities and reversal potentials.

    Parameters
    ----------
    capacitance : float
        Membrane capacitance C (µF/cm²), > 0. Default 1.
    g_na, g_k, g_l : float
        Maximal sodium, potassium and leak conductances (mS/cm²), > 0. Defaults 120, 36, 0.3.
    e_na, e_k, e_l : float
        Reversal potentials (mV). Defaults 50, -77, -54.387 (E_L puts the rest at about -65 mV).
    v_rest : float
        Initial membrane potential (mV) when a simulation is not given ``v_init``. Default -65.
    """

    capacitance: float = 1.0
    g_na: float = 120.0
    g_k: float = 36.0
    g_l: float = 0.3
    e_na: float = 50.0
    e_k: float = -77.0
    e_l: float = -54.387
    v_rest: float = -65.0

    def __post_init__(self) -> None:
        for name in ("capacitance", "g_na", "g_k", "g_l"):
            object.__setattr__(self, name, check_positive(name, getattr(self, name)))
        for name in ("e_na", "e_k", "e_l", "v_rest"):
            object.__setattr__(self, name, check_finite(name, getattr(self, name)))


def hh_steady_state(v: object) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Steady-state gating variables ``x_inf = α_x / (α_x + β_x)`` at fixed membrane potentials.

    Parameters
    ----------
    v : float or array_like, shape (n,)
        Membrane potential (mV).

    Returns
    -------
    m, h, n : ndarray, shape (n,)
        The sodium activation, sodium inactivation and potassium activation at rest at ``v``
        (dimensionless, in [0, 1]).
    """
    voltages = as_finite_array("v", v, ndim=(0, 1)).ravel()
    m, h, n = (np.empty_like(voltages) for _ in range(3))
    _hh_kernels.steady_state_gates(voltages, m, h, n)
    return m, h, n


def simulate_hh(current: object, t_end: float, dt: float = 1e-5, *,
                params: HHParameters | None = None, method: str = "euler",
                v_init: object = None, threshold: float = 0.0, record_v: bool = True,
                record_every: int = 1, record_gates: bool = False,
                progress: bool = False) -> SimResult:
    """Simulate a population of unconnected Hodgkin-Huxley neurons.

    Each neuron starts at ``v_init`` with its gates at their steady state there, and receives its
    own input current. Spikes are upward crossings of ``threshold``; the crossing time is
    interpolated linearly within the step.

    Parameters
    ----------
    current : float, array_like of shape (n_neurons,), or array_like of shape (n_neurons, n_steps)
        Input current density (µA/cm²): a scalar (one neuron), one constant current per neuron, or
        one value per neuron and time step (held over ``[k dt, (k+1) dt)``), where
        ``n_steps = round(t_end / dt)``.
    t_end : float
        Duration (s); the run covers ``n_steps`` steps.
    dt : float
        Time step (s), default 1e-5 (0.01 ms). Forward Euler diverges for dt above about 0.02-0.05 ms.
    params : HHParameters, optional
        Membrane parameters; default ``HHParameters()``.
    method : {"euler", "exponential_euler"}
        "euler": forward Euler for V and the gates (as in the notes). "exponential_euler": each gate
        updated exactly for V frozen over the step, ``x <- x_inf + (x - x_inf) exp(-dt/τ_x)``, and
        forward Euler for V.
    v_init : float or array_like of shape (n_neurons,), optional
        Initial membrane potential (mV); default ``params.v_rest``.
    threshold : float
        Spike threshold (mV), default 0.
    record_v : bool
        Record the membrane potential. False keeps only the spikes (for large populations).
    record_every : int
        Record every k-th step: samples at ``t = 0, k dt, 2k dt, ...`` (before the step).
    record_gates : bool
        Also record the gates m, h, n into ``result.extra`` (same shape as ``result.v``).
    progress : bool
        Show a tqdm progress bar over simulated time.

    Returns
    -------
    SimResult
        ``t`` (s, shape (n_samples,)), ``v`` (mV, shape (n_neurons, n_samples), or None),
        ``spikes`` (SpikeTrains over ``[0, t_end]``, or ``[0, n_steps dt]`` when ``t_end`` is not a
        whole number of steps), ``extra`` {"m", "h", "n"} when
        ``record_gates``.

    Raises
    ------
    ValueError, TypeError
        For an invalid argument, naming it.
    FloatingPointError
        When the integration diverges: from a dt above the stable one, or from inputs or ``v_init``
        far outside the model's range (the message says which, and what to change).

    Examples
    --------
    >>> res = simulate_hh([0.0, 5.0, 10.0], t_end=0.2, dt=1e-5)
    >>> res.v.shape
    (3, 20000)
    """
    t_end, dt, n_steps = time_steps(t_end, dt)
    params = HHParameters() if params is None else params
    if not isinstance(params, HHParameters):
        raise TypeError(f"params must be an HHParameters, got {type(params).__name__}")
    method_code = METHODS[check_choice("method", method, list(METHODS))]
    currents = as_current(current, n_steps)
    n_neurons = currents.shape[0]
    threshold = check_finite("threshold", threshold)
    record_every = check_positive_int("record_every", record_every)
    for name, flag in (("record_v", record_v), ("record_gates", record_gates), ("progress", progress)):
        if not isinstance(flag, bool | np.bool_):
            raise TypeError(f"{name} must be a bool, got {type(flag).__name__}")

    v = np.empty(n_neurons)
    if v_init is None:
        v[:] = params.v_rest
    else:
        start = as_finite_array("v_init", v_init, ndim=(0, 1))
        if start.ndim == 1 and start.size != n_neurons:
            raise ValueError(f"v_init must be a scalar or hold one value per neuron ({n_neurons}), "
                             f"got shape {start.shape}")
        v[:] = start
    v_start = v.copy()
    m, h, n = (np.empty(n_neurons) for _ in range(3))
    _hh_kernels.steady_state_gates(v, m, h, n)

    n_samples = -(-n_steps // record_every)
    n_traces = int(record_v) + 3 * int(record_gates)
    trace_bytes = n_traces * n_neurons * n_samples * 8.0
    if trace_bytes:
        needed = math.ceil(record_every * trace_bytes / validation.MAX_ALLOCATION_BYTES)
        check_allocation("record_v" if record_v else "record_gates", trace_bytes,
                         what=f"{n_traces} trace(s) of {n_neurons} x {n_samples} samples",
                         advice=f"pass record_v=False (and record_gates=False) or a record_every >= {needed}")
    no_trace = np.empty((0, 0))
    v_out = np.empty((n_neurons, n_samples)) if record_v else no_trace
    gates_out = [np.empty((n_neurons, n_samples)) if record_gates else no_trace for _ in range(3)]

    step = np.zeros(n_neurons, dtype=np.int64)
    diverged_at = np.full(n_neurons, -1, dtype=np.int64)
    capacity = int(np.clip(np.ceil(n_steps * dt * _SPIKES_PER_SECOND) + 8, 16,
                           max(16, _MAX_BUFFERED_TIMES // n_neurons)))
    event_neurons: list[np.ndarray] = []
    event_times: list[np.ndarray] = []
    stops = _progress_stops(n_steps, progress)
    bar = _progress_bar(n_steps, dt, progress)
    dt_ms = dt * 1e3
    for step_stop in stops:
        active = np.arange(n_neurons, dtype=np.int64)
        while active.size:
            spike_times = np.empty((active.size, capacity))
            spike_counts = np.zeros(active.size, dtype=np.int64)
            arguments = (currents, v, m, h, n, step, step_stop, dt_ms, dt, method_code,
                         params.capacitance, params.g_na, params.g_k, params.g_l,
                         params.e_na, params.e_k, params.e_l, threshold, record_every,
                         v_out, *gates_out)
            _run_in_threads(active, arguments, spike_times, spike_counts, diverged_at)
            if np.any(diverged_at >= 0):
                _raise_diverged(diverged_at, dt, method, currents, v_start)
            fired = np.nonzero(spike_counts)[0]
            if fired.size:
                event_neurons.append(np.repeat(active[fired], spike_counts[fired]))
                rows = spike_times[fired]
                event_times.append(rows[np.arange(capacity) < spike_counts[fired, None]])
            active = active[step[active] < step_stop]
        if bar is not None:
            bar.update(step_stop - bar.n)
    if bar is not None:
        bar.close()

    # The run covers n_steps * dt, which differs from t_end by rounding only when t_end / dt is whole.
    t_span = t_end if math.isclose(n_steps * dt, t_end, rel_tol=1e-9) else n_steps * dt
    neurons = np.concatenate(event_neurons) if event_neurons else np.empty(0, dtype=np.int64)
    times = np.concatenate(event_times) if event_times else np.empty(0)
    spikes = SpikeTrains.from_events(neurons, np.minimum(times, t_span), n_neurons, t_end=t_span)
    t = np.arange(n_samples) * (record_every * dt) if (record_v or record_gates) else np.empty(0)
    extra = dict(zip("mhn", gates_out, strict=True)) if record_gates else {}
    return SimResult(t=t, v=v_out if record_v else None, spikes=spikes, dt=dt, model="hh",
                     v_unit="mV", method=method, extra=extra)


def _run_in_threads(active: np.ndarray, arguments: tuple, spike_times: np.ndarray,
                    spike_counts: np.ndarray, diverged_at: np.ndarray) -> None:
    """Run the kernel on the ``active`` neurons, split into contiguous blocks, one thread per block.

    The kernel releases the GIL and each block writes only its own neurons' state and its own rows
    of the spike buffer, so the blocks run in parallel. Threads: ``numba.get_num_threads()``.
    """
    n_threads = min(numba.get_num_threads(), active.size)
    if n_threads <= 1:
        _hh_kernels.run_hh(active, *arguments, spike_times, spike_counts, diverged_at)
        return
    bounds = np.linspace(0, active.size, n_threads + 1).astype(np.int64)
    with ThreadPoolExecutor(max_workers=n_threads) as pool:
        blocks = [pool.submit(_hh_kernels.run_hh, active[start:stop], *arguments,
                              spike_times[start:stop], spike_counts[start:stop], diverged_at)
                  for start, stop in zip(bounds[:-1], bounds[1:], strict=True)]
        for block in blocks:
            block.result()


def _progress_stops(n_steps: int, progress: bool) -> list[int]:
    """Steps at which to return to Python: the end only, or about 50 points for a progress bar."""
    if not progress:
        return [n_steps]
    return sorted(set(np.linspace(0, n_steps, 51).astype(np.int64)[1:].tolist()))


def _progress_bar(n_steps: int, dt: float, progress: bool):
    if not progress:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=n_steps, desc=f"simulate_hh ({n_steps * dt:g} s)", unit="step")


def _raise_diverged(diverged_at: np.ndarray, dt: float, method: str, currents: np.ndarray,
                    v_start: np.ndarray) -> None:
    """Raise FloatingPointError for the first neuron that diverged, blaming dt only when dt is
    beyond the stable range: at a stable dt, the input or the initial potential is what is wrong."""
    first = int(diverged_at[diverged_at >= 0].min())
    neuron = int(np.argmax(diverged_at == first))
    where = (f"the Hodgkin-Huxley integration ({method}) diverged at t = {first * dt:.6g} s in neuron "
             f"{neuron} with dt = {dt:g} s ({dt * 1e3:g} ms)")
    if dt > STABLE_DT:
        raise FloatingPointError(f"{where}: the step is too large for this model. Use dt <= {STABLE_DT:g} s "
                                 f"({STABLE_DT * 1e3:g} ms); 1e-5 s is the usual choice.")
    peak = float(np.max(np.abs(currents[neuron])))
    raise FloatingPointError(
        f"{where}, although that dt is within the stable range (<= {STABLE_DT:g} s): the membrane left "
        f"the range the model describes. The neuron's input reaches {peak:.3g} µA/cm² and it started at "
        f"v_init = {v_start[neuron]:.3g} mV; currents are in µA/cm² (tens drive fast firing) and v_init "
        f"in mV (rest is about -65). A smaller dt helps only for inputs of thousands of µA/cm².")
