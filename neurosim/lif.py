"""The leaky integrate-and-fire (LIF) neuron, simulated with spike times resolved inside the step.

Normalized model (the notes')::

    tau_m dv/dt = v_in - v,    spike when v reaches 1, then v = 0 for tau_ref

``v`` and ``v_in`` are dimensionless (threshold 1, reset 0); times are in seconds. A constant
``v_in > 1`` gives the rate :func:`neurosim.lif_rate`.

Physical model::

    C dV/dt = -g_L (V - V_L) + I,    spike when V reaches V_th, then V = V_reset for tau_ref

with C in nF, g_L in µS, voltages in mV and the current I in nA (so that I / g_L is in mV and
C / g_L in ms). It is the normalized model under the change of variables

    tau_m = C / g_L                                  (nF / µS = ms; 1e-3 C / g_L in seconds)
    v     = (V - V_reset) / (V_th - V_reset)
    v_in  = (V_L - V_reset + I / g_L) / (V_th - V_reset)

which :class:`PhysicalLIFParameters` carries out: pass it as ``params`` to :func:`simulate_lif`
and give currents in nA; voltages come back in mV.

Numerics: see :mod:`neurosim._lif_kernels`. The update is exact for an input constant over each
step, the threshold crossing is solved from the exponential, and the refractory period starts at
the spike time and carries across step boundaries, so that the simulated rate equals
:func:`neurosim.lif_rate` to rounding at dt = 1 ms as at dt = 0.1 ms.
"""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numba
import numpy as np

from . import _lif_kernels, validation
from ._result import SimResult
from .spikes import SpikeTrains
from .validation import (
    as_current,
    as_finite_array,
    check_allocation,
    check_finite,
    check_nonnegative,
    check_positive,
    check_positive_int,
    time_steps,
)

#: Spike buffers beyond this many spike times (8 bytes each) are not allocated on a bound alone.
_MAX_SPIKE_BUFFER = 2**27


@dataclass(frozen=True)
class LIFParameters:
    """Parameters of the normalized LIF neuron (threshold 1, reset 0).

    Parameters
    ----------
    tau_m : float
        Membrane time constant (s), > 0. Default 0.02.
    tau_ref : float
        Refractory period (s), >= 0. Default 0.002.
    """

    tau_m: float = 0.02
    tau_ref: float = 0.002

    def __post_init__(self) -> None:
        object.__setattr__(self, "tau_m", check_positive("tau_m", self.tau_m))
        object.__setattr__(self, "tau_ref", check_nonnegative("tau_ref", self.tau_ref))


@dataclass(frozen=True)
class PhysicalLIFParameters:
    """Parameters of the LIF neuron in physical units, ``C dV/dt = -g_L (V - V_L) + I``.

    Parameters
    ----------
    C : float
        Membrane capacitance (nF), > 0. Default 0.2 nF.
    g_L : float
        Leak conductance (µS), > 0. Default 0.01 µS (10 nS), so tau_m = C / g_L = 20 ms.
    V_L : float
        Leak reversal (resting) potential (mV). Default -65.
    V_th : float
        Spike threshold (mV), > V_reset. Default -50.
    V_reset : float
        Reset potential (mV). Default -65.
    tau_ref : float
        Refractory period (s), >= 0. Default 0.002.

    Notes
    -----
    Currents are in nA: I / g_L is then in mV. The map onto the normalized model is
    ``tau_m = 1e-3 C / g_L`` s, ``v = (V - V_reset) / (V_th - V_reset)`` and
    ``v_in = (V_L - V_reset + I / g_L) / (V_th - V_reset)``; see :meth:`normalized`,
    :meth:`normalized_input` and :meth:`voltage`.
    """

    C: float = 0.2
    g_L: float = 0.01
    V_L: float = -65.0
    V_th: float = -50.0
    V_reset: float = -65.0
    tau_ref: float = 0.002

    def __post_init__(self) -> None:
        for name in ("C", "g_L"):
            object.__setattr__(self, name, check_positive(name, getattr(self, name)))
        for name in ("V_L", "V_th", "V_reset"):
            object.__setattr__(self, name, check_finite(name, getattr(self, name)))
        object.__setattr__(self, "tau_ref", check_nonnegative("tau_ref", self.tau_ref))
        if not self.V_th > self.V_reset:
            raise ValueError(f"V_th must be above V_reset={self.V_reset!r} mV, got {self.V_th!r} mV")

    @property
    def tau_m(self) -> float:
        """Membrane time constant ``C / g_L`` in seconds (nF / µS is ms)."""
        return 1e-3 * self.C / self.g_L

    def normalized(self) -> LIFParameters:
        """The normalized neuron's parameters (tau_m, tau_ref in s)."""
        return LIFParameters(tau_m=self.tau_m, tau_ref=self.tau_ref)

    def normalized_input(self, current: object) -> np.ndarray | float:
        """Normalized input ``v_in`` for a current (nA): ``(V_L - V_reset + I/g_L) / (V_th - V_reset)``."""
        current = np.asarray(current, dtype=np.float64)
        v_in = (self.V_L - self.V_reset + current / self.g_L) / (self.V_th - self.V_reset)
        return v_in if v_in.ndim else float(v_in)

    def normalized_voltage(self, voltage: object) -> np.ndarray | float:
        """Normalized potential ``v = (V - V_reset) / (V_th - V_reset)`` for V in mV."""
        v = (np.asarray(voltage, dtype=np.float64) - self.V_reset) / (self.V_th - self.V_reset)
        return v if v.ndim else float(v)

    def voltage(self, v: object) -> np.ndarray | float:
        """Membrane potential in mV for a normalized ``v``: ``V_reset + v (V_th - V_reset)``."""
        volts = self.V_reset + np.asarray(v, dtype=np.float64) * (self.V_th - self.V_reset)
        return volts if volts.ndim else float(volts)


def simulate_lif(current: object, t_end: float, dt: float = 1e-3, *, tau_m: float | None = None,
                 tau_ref: float | None = None,
                 params: LIFParameters | PhysicalLIFParameters | None = None,
                 v_init: object = None, record_v: bool = True, record_every: int = 1,
                 progress: bool = False) -> SimResult:
    """Simulate unconnected LIF neurons with exact sub-step spike timing.

    The input is held constant over each step, and for such an input the result is the exact
    solution of the model (up to rounding): the spike time inside a step is solved from the
    exponential, the refractory period starts at the spike and is carried across steps, and
    several spikes per step are produced when ``tau_ref < dt``.

    Parameters
    ----------
    current : float or array_like
        Input per neuron: a scalar (one neuron), shape (n_neurons,) (constant inputs), or shape
        (n_neurons, n_steps) (one value per step). Normalized ``v_in`` (threshold 1) by default;
        in nA when ``params`` is a :class:`PhysicalLIFParameters`.
    t_end : float
        Simulated duration (s); the run has ``n_steps = round(t_end / dt)`` steps.
    dt : float
        Time step (s), > 0. Default 1e-3.
    tau_m, tau_ref : float, optional
        Membrane time constant (s, default 0.02) and refractory period (s, default 0.002) of the
        normalized neuron. Not allowed together with ``params``.
    params : LIFParameters or PhysicalLIFParameters, optional
        The neuron's parameters; a :class:`PhysicalLIFParameters` switches currents to nA and
        voltages (``v_init``, the returned ``v``) to mV.
    v_init : float or array_like, optional
        Initial membrane potential, scalar or shape (n_neurons,), below threshold. Default: the
        reset (0 normalized, ``V_reset`` mV physical).
    record_v : bool
        Record the membrane potential; False keeps spikes only (for large runs).
    record_every : int
        Keep every ``record_every``-th sample of the trace, >= 1.
    progress : bool
        Show a tqdm progress bar over simulated time.

    Returns
    -------
    SimResult
        ``model="lif"``, ``method="exact"``; ``t`` (s), shape (n_samples,), the sample times
        ``0, record_every dt, ...`` before each recorded step; ``v`` shape (n_neurons,
        n_samples), normalized (``v_unit="1"``, 0 while refractory) or in mV; ``spikes`` over
        ``[0, n_steps dt]``.

    Examples
    --------
    >>> res = simulate_lif(np.linspace(0, 5, 100), t_end=2.0, dt=1e-3)
    >>> rates = res.spikes.rates(t_start=0.5)    # Hz, lif_rate(np.linspace(0, 5, 100)) to 1/1.5 s
    """
    t_end, dt, n_steps = time_steps(t_end, dt)
    physical = _resolve_parameters(params, tau_m, tau_ref)
    normalized = physical.normalized() if isinstance(physical, PhysicalLIFParameters) else physical
    tau_m, tau_ref = normalized.tau_m, normalized.tau_ref
    if dt < 1e-9 * tau_m:
        raise ValueError(f"dt={dt!r} s is too small for tau_m={tau_m!r} s (need dt >= 1e-9 tau_m)")
    currents = as_current(current, n_steps)
    if isinstance(physical, PhysicalLIFParameters):
        currents = np.ascontiguousarray(physical.normalized_input(currents))
    n_neurons = currents.shape[0]
    record_every = check_positive_int("record_every", record_every)
    for name, flag in (("record_v", record_v), ("progress", progress)):
        if not isinstance(flag, bool | np.bool_):
            raise TypeError(f"{name} must be a bool, got {type(flag).__name__}")

    v = np.zeros(n_neurons)
    if v_init is not None:
        start = as_finite_array("v_init", v_init, ndim=(0, 1))
        if start.ndim == 1 and start.size != n_neurons:
            raise ValueError(f"v_init must be a scalar or hold one value per neuron ({n_neurons}), "
                             f"got shape {start.shape}")
        if isinstance(physical, PhysicalLIFParameters):
            start = np.asarray(physical.normalized_voltage(start))
            if np.any(start >= 1.0):
                raise ValueError(f"v_init must be below V_th={physical.V_th!r} mV")
        elif np.any(start >= 1.0):
            raise ValueError("v_init must be below the threshold 1 (normalized)")
        v[:] = start

    n_samples = -(-n_steps // record_every)
    if record_v:
        trace_bytes = n_neurons * n_samples * 8.0
        check_allocation("record_v", trace_bytes, what=f"a {n_neurons} x {n_samples} voltage trace",
                         advice=f"pass record_v=False or a record_every >= "
                                f"{math.ceil(record_every * trace_bytes / validation.MAX_ALLOCATION_BYTES)}")
    v_record = np.empty((n_neurons, n_samples)) if record_v else np.empty((0, 0))

    capacity = _spike_capacity(currents, n_steps * dt, tau_m, tau_ref)
    if capacity.sum() > _MAX_SPIKE_BUFFER:
        capacity[:] = 0  # a first run only counts; the second allocates what it needs
    run = (currents, v, n_steps, dt, tau_m, tau_ref, record_every, v_record)
    counts, offsets, buffer = _run(*run, bool(record_v), capacity, bool(progress))
    if np.any(counts > capacity):
        if counts.sum() > _MAX_SPIKE_BUFFER:
            raise ValueError(f"the run would produce {counts.sum()} spikes, more than "
                             f"{_MAX_SPIKE_BUFFER}; shorten t_end or lower the current")
        counts, offsets, buffer = _run(*run, False, counts.copy(), False)
    t_span = n_steps * dt
    # Each neuron's slot holds its spikes in time order, within [0, t_span] (a spike at the very end
    # may exceed t_span by rounding: clamped). A loose bound (a brief strong pulse in a 2-D
    # current) would leave much unused room in the buffer: then compact it.
    if buffer.size > 2 * counts.sum() + 4 * n_neurons:
        ends = np.cumsum(counts)
        buffer = buffer[np.repeat(offsets - (ends - counts), counts) + np.arange(ends[-1])]
        offsets = ends - counts
    np.minimum(buffer, t_span, out=buffer)
    spikes = SpikeTrains._from_slots(buffer, offsets, counts, t_end=t_span)
    if record_v and isinstance(physical, PhysicalLIFParameters):
        v_record *= physical.V_th - physical.V_reset
        v_record += physical.V_reset
    t = np.arange(n_samples) * (record_every * dt) if record_v else np.empty(0)
    return SimResult(t=t, v=v_record if record_v else None, spikes=spikes, dt=dt, model="lif",
                     v_unit="mV" if isinstance(physical, PhysicalLIFParameters) else "1",
                     method="exact")


def _resolve_parameters(params: object, tau_m: object,
                        tau_ref: object) -> LIFParameters | PhysicalLIFParameters:
    if params is None:
        defaults = LIFParameters()
        return LIFParameters(tau_m=defaults.tau_m if tau_m is None else tau_m,
                             tau_ref=defaults.tau_ref if tau_ref is None else tau_ref)
    if not isinstance(params, LIFParameters | PhysicalLIFParameters):
        raise TypeError("params must be a LIFParameters or PhysicalLIFParameters, got "
                        f"{type(params).__name__}")
    if tau_m is not None or tau_ref is not None:
        raise ValueError("give tau_m and tau_ref either as arguments or through params, not both")
    return params


def _spike_capacity(currents: np.ndarray, duration: float, tau_m: float,
                    tau_ref: float) -> np.ndarray:
    """An upper bound on each neuron's spike count over ``duration`` (s).

    By the comparison principle a neuron whose input never exceeds ``u_max`` fires no more often
    than one driven by ``u_max`` constantly, whose spikes are ``period = tau_ref + tau_m
    ln(u_max / (u_max - 1))`` apart; two spikes of margin cover the first one (from v_init) and
    rounding. Overflow is still detected by the kernels, so the bound only has to be good.
    """
    peak = currents.max(axis=1)
    capacity = np.zeros(peak.size, dtype=np.int64)
    firing = peak > 1.0
    with np.errstate(divide="ignore", over="ignore"):
        period = tau_ref + tau_m * np.log1p(1.0 / (peak[firing] - 1.0))
        spikes = np.where(period > 0, duration / np.where(period > 0, period, 1.0), np.inf)
    if np.any(spikes > _MAX_SPIKE_BUFFER):
        raise ValueError(f"current too large: a neuron would fire about {spikes.max():.3g} spikes "
                         f"in {duration:g} s (input up to {peak.max():.3g} with tau_ref={tau_ref:g} s)")
    capacity[firing] = np.floor(spikes).astype(np.int64) + 2
    capacity[~firing] = 1
    return capacity


def _run(currents: np.ndarray, v_init: np.ndarray, n_steps: int, dt: float, tau_m: float,
         tau_ref: float, record_every: int, v_record: np.ndarray, record: bool,
         capacity: np.ndarray, progress: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Run the kernel from ``v_init`` (not modified); return spike counts, slot offsets, buffer."""
    n_neurons = currents.shape[0]
    v = v_init.copy()
    refractory_left = np.zeros(n_neurons)
    offsets = np.zeros(n_neurons, dtype=np.int64)
    np.cumsum(capacity[:-1], out=offsets[1:])
    buffer = np.zeros(int(capacity.sum()))
    counts = np.zeros(n_neurons, dtype=np.int64)
    if currents.shape[1] == 1:
        kernel, drive = _lif_kernels.run_constant_input, np.ascontiguousarray(currents[:, 0])
    else:
        kernel, drive = _lif_kernels.run_time_varying, currents
    stops = [n_steps] if not progress else sorted(set(np.linspace(0, n_steps, 51).astype(int)[1:]))
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=n_steps, desc=f"simulate_lif ({n_steps * dt:g} s)", unit="step")
    # Threads share the neurons (the kernels release the GIL); numba.set_num_threads sets how many.
    units = n_neurons if kernel is _lif_kernels.run_time_varying else -(-n_neurons // _lif_kernels.CHUNK_SIZE)
    n_workers = max(1, min(numba.get_num_threads(), units))
    pool = ThreadPoolExecutor(n_workers) if n_workers > 1 else None
    step_start = 0
    for step_stop in stops:
        arguments = (v, refractory_left, drive, step_start, int(step_stop), dt, tau_m, tau_ref, record,
                     record_every, v_record, offsets, capacity, buffer, counts)
        if pool is None:
            kernel(*arguments, 0, 1)
        else:
            for future in [pool.submit(kernel, *arguments, worker, n_workers)
                           for worker in range(n_workers)]:
                future.result()
        if bar is not None:
            bar.update(int(step_stop) - step_start)
        step_start = int(step_stop)
    if bar is not None:
        bar.close()
    if pool is not None:
        pool.shutdown()
    return counts, offsets, buffer
