"""Numba kernels of the leaky integrate-and-fire neuron, with spike times resolved inside the step.

The model is the normalized LIF of the notes: ``tau_m dv/dt = v_in - v``, threshold 1, reset 0,
and a refractory period ``tau_ref`` during which ``v`` is held at 0.

Numerics. For an input ``v_in`` that is constant over an interval of length ``h`` the membrane
equation has the exact solution ``v(h) = v_in + (v(0) - v_in) exp(-h / tau_m)``; every update here
uses it, never a Taylor step. When ``v`` reaches 1 inside a step, the crossing time is solved from
the same exponential, ``tau_m ln((v_in - v0) / (v_in - 1))``; the refractory period starts at that
time, not at the end of the step, and whatever part of it is left at the end of the step is carried
into the next one. When ``tau_ref`` is shorter than the step a neuron may fire several times in one
step: after the first spike the neuron restarts from the reset, so further spikes follow at the
exact period ``tau_ref + tau_m ln(v_in / (v_in - 1))``. Hence, for an input that is constant over
each step, the spike times are those of the continuous model up to rounding, at any ``dt``.

Reuse. :func:`lif_step` advances one neuron by one step and is the building block of the
noise-free kernels below; the spiking network simulator calls it for populations driven by
synaptic currents. :func:`lif_noisy_step` is its counterpart with Gaussian white noise (see "Noise"
below), shared in the same way by :func:`run_noisy` and the network. Both take
and return scalars only, so LLVM inlines it into the caller's loop. (Helpers that take arrays are
``inline="always"``: a Numba call with array arguments costs ~100 ns, more than the spike itself.)

Noise. With Gaussian white noise in Brunel's (2000) convention,
``tau_m dv/dt = v_in - v + sigma sqrt(tau_m) xi(t)`` (``sigma`` in units of the threshold), the
free membrane is an Ornstein-Uhlenbeck process, and its value after a time ``h`` is exactly

    v(h) = v_in + (v(0) - v_in) exp(-h/tau_m) + sigma sqrt((1 - exp(-2h/tau_m)) / 2) N(0, 1),

so each step draws the end point from its exact distribution (stationary variance sigma^2 / 2).
The path may cross the threshold inside the step and come back below it; checking the threshold
only at step ends then misses spikes (about 10% of the rate at dt = 0.1 ms). Given both ends, the
process is a bridge, and in the time-changed coordinates ``u = sigma^2 (exp(2t/tau_m) - 1) / 2``,
``y = exp(t/tau_m) (v - v_in)`` it is a Brownian bridge and the threshold a slightly curved line.
For the chord of that line the crossing probability is exact:

    P(crossing | v0, v1) = exp(-2 (1 - v0) (1 - v1) / (sigma^2 sinh(h / tau_m))),

which becomes the Brownian bridge's ``exp(-2 (1 - v0)(1 - v1) tau_m / (sigma^2 h))`` as h -> 0.
The error left is the curvature of the threshold over one step, of relative order
``(h/tau_m)^2 |1 - v_in|`` against the step's noise ``sigma sqrt(h/tau_m)``: negligible at the
usual steps (it is below the statistical error of the tests at dt = 1 ms). A crossing's time is
drawn from its exact conditional law for the same chord: mapped by ``r = u / (1 - u/U)`` (``U``
the step's span of ``u``), the bridge hits the chord when a free Brownian motion hits the line
``alpha + beta r / U`` (``alpha``, ``beta`` the distances below threshold at the two ends), whose
hitting time given a hit is inverse Gaussian with mean ``alpha U / |beta|`` and shape ``alpha^2``
(sampled as Michael, Schucany & Haas 1976). After the spike the neuron is refractory, then
integrates afresh from the reset; the end point drawn before the spike is discarded.

Random numbers are counter-based: the ``j``-th number of neuron ``i`` in step ``k`` is a hash of
(seed, i, k, j) (SplitMix64's mixing function on a 64-bit key per neuron). A run's noise therefore
depends only on the seed, not on the number of threads, on how the run is split into segments
(progress bars) or on which other neurons are simulated, and a rerun (to enlarge spike buffers)
reproduces it exactly. Normal variates come from Marsaglia and Tsang's (2000) ziggurat in
Doornik's (2005) form (128 layers): one 64-bit number gives a layer and a uniform, accepted at once
97% of the time, where Box-Muller's log, sqrt and cos cost 10x more.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, types
from numba.extending import overload

#: The largest float64 below the threshold 1. A state that rounding pushes onto the threshold
#: without a crossing (an input exactly at threshold) is kept here instead.
BELOW_THRESHOLD = 1.0 - 2.0**-53

#: Neurons simulated together in the constant-input kernel: the block's state (four float64
#: arrays) stays in the L1/L2 cache while it is stepped through time.
CHUNK_SIZE = 512

#: The refractory "alarm" of the constant-input kernel is set at most this many membrane time
#: constants ahead (longer waits are re-armed), so that exp() of the alarm stays far from overflow.
_MAX_ALARM_TAU = 30.0
#: ... and at most this many steps ahead.
_MAX_ALARM_STEPS = 4096


@njit(cache=True)
def lif_step(v, refractory_left, v_in, dt, decay, tau_m, tau_ref):
    """Advance one normalized LIF neuron by one step of length ``dt`` with constant input ``v_in``.

    Exact for an input constant over the step (see the module docstring).

    Parameters
    ----------
    v : float
        Membrane potential at the start of the step (normalized, < 1; 0 while refractory).
    refractory_left : float
        Refractory time still to serve at the start of the step (s), >= 0.
    v_in : float
        Normalized input over the step (threshold 1).
    dt : float
        Step length (s), > 0.
    decay : float
        ``exp(-dt / tau_m)``, computed once per run by the caller.
    tau_m, tau_ref : float
        Membrane time constant and refractory period (s); the spike ``period`` below must be > 0,
        which holds when ``tau_ref > 0`` or ``v_in`` is finite and moderate.

    Returns
    -------
    v : float
        Membrane potential at the end of the step (0 while refractory, always < 1).
    refractory_left : float
        Refractory time left at the end of the step (s).
    n_spikes : int
        Spikes fired during the step.
    first_spike : float
        Time of the first spike after the start of the step (s), in ``[0, dt]``; 0 if none.
    period : float
        Interval between successive spikes of this step (s): spike ``j`` is at
        ``first_spike + j * period``. Only set (> 0) when ``n_spikes > 1`` may occur.
    """
    if refractory_left >= dt:
        return 0.0, refractory_left - dt, 0, 0.0, 0.0
    if refractory_left > 0.0:
        # The refractory period ends inside the step: integrate from the reset for the rest of it.
        start = refractory_left
        v = 0.0
        factor = math.exp(-(dt - start) / tau_m)
    else:
        start = 0.0
        factor = decay
    v_end = v_in + (v - v_in) * factor
    if v_end < 1.0:
        return v_end, 0.0, 0, 0.0, 0.0
    if v_in <= 1.0:
        # At or below threshold the exact solution never reaches 1; only rounding got here.
        return min(v_in, BELOW_THRESHOLD), 0.0, 0, 0.0, 0.0
    # Crossing time from the exponential, tau_m ln((v_in - v0) / (v_in - 1)). (log, not log1p of
    # (1 - v0)/(v_in - 1): the absolute error of the time is ~1e-16 tau_m either way.)
    to_threshold = tau_m * math.log((v_in - v) / (v_in - 1.0))
    free_time = dt - start
    if to_threshold > free_time:
        to_threshold = free_time
    first_spike = start + to_threshold
    if dt - first_spike < tau_ref:  # the step ends inside the refractory period (the usual case)
        return 0.0, tau_ref - (dt - first_spike), 1, first_spike, 0.0
    # After a spike the neuron restarts from the reset: period = tau_ref + tau_m ln(v_in/(v_in - 1)).
    period = tau_ref + tau_m * math.log1p(1.0 / (v_in - 1.0))
    extra_spikes = int((dt - first_spike) // period)
    since_last = dt - (first_spike + extra_spikes * period)
    if since_last < tau_ref:
        return 0.0, tau_ref - since_last, extra_spikes + 1, first_spike, period
    v_end = -v_in * math.expm1(-(since_last - tau_ref) / tau_m)
    if v_end >= 1.0:
        v_end = BELOW_THRESHOLD
    return v_end, 0.0, extra_spikes + 1, first_spike, period


@njit(cache=True, inline="always")
def _store_spikes(neuron, origin, n_spikes, first_spike, period, spike_offsets, spike_capacity,
                  spike_times, spike_counts):
    """Write ``n_spikes`` spike times ``origin + first_spike + j * period`` into the neuron's slot.

    Every spike is counted; those beyond the slot's capacity are not written, and the caller
    reruns with a larger slot (the run is deterministic).
    """
    count = spike_counts[neuron]
    base = spike_offsets[neuron]
    capacity = spike_capacity[neuron]
    for j in range(n_spikes):
        if count < capacity:
            spike_times[base + count] = origin + first_spike + j * period
        count += 1
    spike_counts[neuron] = count


@njit(cache=True, nogil=True)
def run_time_varying(v, refractory_left, current, step_start, step_stop, dt, tau_m, tau_ref,
                     record, record_every, v_record, spike_offsets, spike_capacity, spike_times,
                     spike_counts, worker, n_workers):
    """Simulate unconnected LIF neurons over steps ``[step_start, step_stop)``, any input.

    Each neuron's time loop runs by itself; each step is :func:`lif_step`. Releases the GIL:
    ``n_workers`` threads, one per ``worker`` in ``0 .. n_workers - 1``, share the neurons.

    Parameters
    ----------
    v, refractory_left : ndarray, shape (n_neurons,)
        State at the start of ``step_start`` (normalized; s); updated in place.
    current : ndarray, shape (n_neurons, n_columns)
        Normalized input; ``n_columns`` is 1 (constant) or the run's total number of steps.
    step_start, step_stop : int
        Global step indices; step ``k`` covers ``[k dt, (k + 1) dt)``.
    dt : float
        Step (s).
    tau_m, tau_ref : ndarray, shape (n_neurons,)
        Membrane time constant and refractory period of each neuron (s).
    record : bool
        Whether to write ``v_record``.
    record_every : int
        The state at the start of step ``k`` is sample ``k // record_every`` when
        ``k % record_every == 0``.
    v_record : ndarray, shape (n_neurons, n_samples)
        Voltage trace, written in place when ``record``.
    spike_offsets, spike_capacity : ndarray of int64, shape (n_neurons,)
        Start and length of each neuron's slot in ``spike_times``.
    spike_times : ndarray, shape (total_capacity,)
        Spike times (s), written in place.
    spike_counts : ndarray of int64, shape (n_neurons,)
        Spikes fired so far by each neuron, updated in place.
    worker, n_workers : int
        This call simulates neurons ``worker, worker + n_workers, ...`` (``0, 1`` for a single
        thread); concurrent calls with the other workers complete the population.
    """
    for neuron in range(worker, v.shape[0], n_workers):
        _run_one_neuron(neuron, v, refractory_left, current, step_start, step_stop, dt, tau_m,
                        tau_ref, record, record_every, v_record, spike_offsets, spike_capacity,
                        spike_times, spike_counts)


@njit(cache=True)
def _run_one_neuron(neuron, v, refractory_left, current, step_start, step_stop, dt, tau_m, tau_ref,
                    record, record_every, v_record, spike_offsets, spike_capacity, spike_times,
                    spike_counts):
    """Steps neuron ``neuron`` of :func:`run_time_varying` through its time loop."""
    time_varying = current.shape[1] > 1
    neuron_tau_m = tau_m[neuron]
    neuron_tau_ref = tau_ref[neuron]
    decay = math.exp(-dt / neuron_tau_m)
    membrane = v[neuron]
    refractory = refractory_left[neuron]
    for step in range(step_start, step_stop):
        if record and step % record_every == 0:
            v_record[neuron, step // record_every] = membrane
        v_in = current[neuron, step] if time_varying else current[neuron, 0]
        membrane, refractory, n_spikes, first_spike, period = lif_step(
            membrane, refractory, v_in, dt, decay, neuron_tau_m, neuron_tau_ref)
        if n_spikes > 0:
            _store_spikes(neuron, step * dt, n_spikes, first_spike, period, spike_offsets,
                          spike_capacity, spike_times, spike_counts)
    v[neuron] = membrane
    refractory_left[neuron] = refractory


@njit(cache=True)
def _alarm_table(dt, tau_m):
    """Start values of the refractory alarm for membrane time constant ``tau_m``: with the update
    ``u <- u decay + 2 (1 - decay)``, ``u`` started at ``table[n] = 2 - exp((n - 0.5) dt / tau_m)``
    crosses 1 half-way through update ``n`` (``n >= 1``; index 0 unused). Waits beyond the table (or
    beyond ``_MAX_ALARM_TAU`` membrane time constants, which keeps exp() far from overflow) ring at
    the last entry and are re-armed."""
    size = max(2, min(_MAX_ALARM_STEPS, int(_MAX_ALARM_TAU * tau_m / dt)) + 1)
    table = np.empty(size)
    for updates in range(size):
        table[updates] = 2.0 - math.exp(min((updates - 0.5) * dt / tau_m, 700.0))
    return table


@njit(cache=True, inline="always")
def _alarm_voltage(wait, dt, tau_m, table):
    """Alarm start value for a refractory period that ends ``wait`` seconds from now (> 0): read
    from ``table`` (:func:`_alarm_table` of this ``tau_m``) when it is not empty, else computed the
    same way."""
    if table.shape[0] > 0:
        return table[max(1, min(math.ceil(wait / dt), table.shape[0] - 1))]
    longest = max(1, min(_MAX_ALARM_STEPS, int(_MAX_ALARM_TAU * tau_m / dt)))
    updates = max(1, min(math.ceil(wait / dt), longest))
    return 2.0 - math.exp(min((updates - 0.5) * dt / tau_m, 700.0))


# A parameter of the constant-input kernel is either one float shared by every neuron or an array
# with one value per neuron. These helpers are resolved when the kernel is compiled for the types
# it is called with, so the shared case compiles to a multiply by a register (one load fewer per
# neuron and step in the vectorized loop than an array of equal values: 6% of the kernel here).
def _at(value, index):
    """``value[index]`` for a per-neuron array, ``value`` for a shared float (inside kernels)."""
    raise NotImplementedError("only inside Numba kernels")


@overload(_at, inline="always")
def _at_overload(value, index):
    if isinstance(value, types.Array):
        return lambda value, index: value[index]
    return lambda value, index: value


def _block_of(value, low, size):
    """The block ``[low, low + size)`` of a per-neuron array; a shared float as it is."""
    raise NotImplementedError("only inside Numba kernels")


@overload(_block_of, inline="always")
def _block_of_overload(value, low, size):
    if isinstance(value, types.Array):
        return lambda value, low, size: value[low:low + size]
    return lambda value, low, size: value


def _decay_and_gain(tau_m, dt):
    """``(exp(-dt/tau_m), -expm1(-dt/tau_m))``, per neuron (arrays) or shared (floats)."""
    raise NotImplementedError("only inside Numba kernels")


@overload(_decay_and_gain)
def _decay_and_gain_overload(tau_m, dt):
    if isinstance(tau_m, types.Array):
        return lambda tau_m, dt: (np.exp(-dt / tau_m), -np.expm1(-dt / tau_m))
    return lambda tau_m, dt: (math.exp(-dt / tau_m), -math.expm1(-dt / tau_m))


def _alarm_table_of(tau_m, dt):
    """The alarm table of a shared tau_m; an empty one (alarms computed one by one) per neuron."""
    raise NotImplementedError("only inside Numba kernels")


@overload(_alarm_table_of)
def _alarm_table_of_overload(tau_m, dt):
    if isinstance(tau_m, types.Array):
        return lambda tau_m, dt: np.empty(0)
    return lambda tau_m, dt: _alarm_table(dt, tau_m)


@njit(cache=True, inline="always")
def _advance_block(fast_v, previous, drive, decay):
    """The common step of a block, ``v <- v decay + drive`` (the old ``v`` kept in ``previous``;
    ``decay`` shared or per neuron); a loop of its own so that LLVM vectorizes it. Returns whether
    any ``v`` reached 1."""
    any_event = False
    for j in range(fast_v.shape[0]):
        old = fast_v[j]
        new = old * _at(decay, j) + drive[j]
        previous[j] = old
        fast_v[j] = new
        any_event |= new >= 1.0
    return any_event


@njit(cache=True, nogil=True)
def run_constant_input(v, refractory_left, v_in, step_start, step_stop, dt, tau_m, tau_ref,
                       record, record_every, v_record, spike_offsets, spike_capacity, spike_times,
                       spike_counts, worker, n_workers):
    """Simulate unconnected LIF neurons with constant inputs over steps ``[step_start, step_stop)``.

    Same arguments and results as :func:`run_time_varying`, except ``v_in`` of shape
    (n_neurons,), and ``tau_m``, ``tau_ref`` each either a float shared by all neurons or an array
    (n_neurons,): the kernel is compiled for the types it gets, and the shared case runs the
    vectorized loop with one load fewer per neuron. Same numerics (every event goes through
    :func:`lif_step`), organised for speed:

    - Blocks of :data:`CHUNK_SIZE` neurons (shared among ``n_workers`` threads like neurons in
      :func:`run_time_varying`; the GIL is released); within a block the time loop is
      outside and the neuron loop inside, so that the common step, ``v <- v decay + v_in (1 -
      decay)`` (the exact exponential update with its constants hoisted), is a vectorized
      multiply-add over the block.
    - A refractory neuron is not tested every step. It is given an "alarm" instead: its ``v`` and
      drive are replaced by a value that the same multiply-add carries over 1 half-way through
      the step in which its refractory period ends. So the only test in the hot loop is ``v >= 1``,
      and it is rare: it marks a threshold crossing or the end of a refractory period, both handled
      exactly by :func:`lif_step` (from the exact refractory end time, so an alarm that rounding
      makes ring early or late changes nothing).
    """
    n_chunks = (v.shape[0] + CHUNK_SIZE - 1) // CHUNK_SIZE
    for chunk in range(worker, n_chunks, n_workers):
        _run_constant_chunk(chunk, v, refractory_left, v_in, step_start, step_stop, dt, tau_m,
                            tau_ref, record, record_every, v_record, spike_offsets, spike_capacity,
                            spike_times, spike_counts)


@njit(cache=True)
def _run_constant_chunk(chunk, v, refractory_left, v_in, step_start, step_stop, dt, tau_m, tau_ref,
                        record, record_every, v_record, spike_offsets, spike_capacity, spike_times,
                        spike_counts):
    """Steps block ``chunk`` (neurons ``chunk * CHUNK_SIZE`` on) of :func:`run_constant_input`."""
    n_neurons = v.shape[0]
    low = chunk * CHUNK_SIZE
    size = min(n_neurons, low + CHUNK_SIZE) - low
    block_tau_m = _block_of(tau_m, low, size)
    block_tau_ref = _block_of(tau_ref, low, size)
    decay, drive_gain = _decay_and_gain(block_tau_m, dt)
    # One table of alarm start values for a shared tau_m (the usual case); per-neuron time
    # constants compute each alarm's start value (one exp per refractory period).
    alarm_table = _alarm_table_of(block_tau_m, dt)
    fast_v = np.empty(size)
    drive = np.empty(size)
    previous = np.empty(size)
    # Absolute time (s) at which a refractory neuron's refractory period ends; -1 otherwise.
    refractory_end = np.empty(size)
    t_first = step_start * dt
    for j in range(size):
        neuron = low + j
        if refractory_left[neuron] > 0.0:
            refractory_end[j] = t_first + refractory_left[neuron]
            fast_v[j] = _alarm_voltage(refractory_left[neuron], dt, _at(block_tau_m, j), alarm_table)
            drive[j] = 2.0 * _at(drive_gain, j)
        else:
            refractory_end[j] = -1.0
            fast_v[j] = v[low + j]
            drive[j] = v_in[neuron] * _at(drive_gain, j)

    for step in range(step_start, step_stop):
        if record and step % record_every == 0:
            t_now = step * dt
            sample = step // record_every
            for j in range(size):
                if refractory_end[j] < 0.0:
                    v_record[low + j, sample] = fast_v[j]
                elif refractory_end[j] >= t_now:
                    v_record[low + j, sample] = 0.0
                else:  # refractory over, alarm not yet rung (rounding): exact value from its end
                    v_record[low + j, sample] = min(
                        -v_in[low + j] * math.expm1(-(t_now - refractory_end[j]) / _at(block_tau_m, j)),
                        BELOW_THRESHOLD)
        if not _advance_block(fast_v, previous, drive, decay):
            continue
        t_next = (step + 1) * dt
        for j in range(size):
            if fast_v[j] < 1.0:
                continue
            neuron = low + j
            neuron_tau_m = _at(block_tau_m, j)
            neuron_tau_ref = _at(block_tau_ref, j)
            if refractory_end[j] >= 0.0:
                if refractory_end[j] > t_next:  # alarm rang early: still refractory, re-arm
                    fast_v[j] = _alarm_voltage(refractory_end[j] - t_next, dt, neuron_tau_m, alarm_table)
                    continue
                # Integrate exactly from the end of the refractory period to the end of the step.
                origin = refractory_end[j]
                span = t_next - origin
                membrane, refractory, n_spikes, first_spike, period = lif_step(
                    0.0, 0.0, v_in[neuron], span, math.exp(-span / neuron_tau_m), neuron_tau_m,
                    neuron_tau_ref)
            else:
                origin = step * dt
                membrane, refractory, n_spikes, first_spike, period = lif_step(
                    previous[j], 0.0, v_in[neuron], dt, _at(decay, j), neuron_tau_m, neuron_tau_ref)
            if n_spikes > 0:
                _store_spikes(neuron, origin, n_spikes, first_spike, period, spike_offsets,
                              spike_capacity, spike_times, spike_counts)
            if refractory > 0.0:
                refractory_end[j] = t_next + refractory
                fast_v[j] = _alarm_voltage(refractory, dt, neuron_tau_m, alarm_table)
                drive[j] = 2.0 * _at(drive_gain, j)
            else:
                refractory_end[j] = -1.0
                fast_v[j] = membrane
                drive[j] = v_in[neuron] * _at(drive_gain, j)

    # Hand the state back in the common form (v, refractory_left) at t_stop.
    t_stop = step_stop * dt
    for j in range(size):
        neuron = low + j
        if refractory_end[j] < 0.0:
            v[neuron] = fast_v[j]
            refractory_left[neuron] = 0.0
        elif refractory_end[j] > t_stop:
            v[neuron] = 0.0
            refractory_left[neuron] = refractory_end[j] - t_stop
        else:  # refractory over, alarm not yet rung (rounding): catch up exactly
            origin = refractory_end[j]
            span = t_stop - origin
            membrane, refractory, n_spikes, first_spike, period = lif_step(
                0.0, 0.0, v_in[neuron], span, math.exp(-span / _at(block_tau_m, j)), _at(block_tau_m, j),
                _at(block_tau_ref, j))
            if n_spikes > 0:
                _store_spikes(neuron, origin, n_spikes, first_spike, period, spike_offsets,
                              spike_capacity, spike_times, spike_counts)
            v[neuron] = membrane
            refractory_left[neuron] = refractory


# --------------------------------------------------------------------------- noise

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)       # SplitMix64's increment, 2^64 / golden ratio
_MIX_1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX_2 = np.uint64(0x94D049BB133111EB)
#: Crossing probabilities exp(-exponent) below exp(-40) = 4e-18 are treated as 0 (no draw).
_NEVER_CROSSES = 40.0
#: The ziggurat (Doornik 2005, "An improved ziggurat method to generate normal random samples"):
#: 128 layers of equal area _ZIGGURAT_AREA under exp(-x^2/2), the base one ending at _ZIGGURAT_R.
_ZIGGURAT_LAYERS = 128
_ZIGGURAT_R = 3.442619855899
_ZIGGURAT_AREA = 9.91256303526217e-3


def _ziggurat_tables() -> tuple[np.ndarray, np.ndarray]:
    """Right edges ``x[i]`` of the layers (``x[0]`` the base's virtual width, ``x[128] = 0``) and
    the ratios ``x[i + 1] / x[i]`` below which a point of layer ``i`` lies under the curve."""
    edges = np.zeros(_ZIGGURAT_LAYERS + 1)
    density_at_r = math.exp(-0.5 * _ZIGGURAT_R**2)
    edges[0] = _ZIGGURAT_AREA / density_at_r
    edges[1] = _ZIGGURAT_R
    for i in range(2, _ZIGGURAT_LAYERS):
        below = _ZIGGURAT_AREA / edges[i - 1] + math.exp(-0.5 * edges[i - 1] ** 2)   # f at the next edge
        edges[i] = math.sqrt(-2.0 * math.log(below))
    return edges, edges[1:] / edges[:-1]


_ZIGGURAT_EDGES, _ZIGGURAT_RATIOS = _ziggurat_tables()
#: Noise amplitudes below this are 0 (the deterministic step), so that sigma^2 never underflows.
_NEGLIGIBLE_SIGMA = 1e-100
#: Spikes per step that the scratch of :func:`run_noisy` holds (tau_ref >= dt / 63 never fills it).
MAX_SPIKES_PER_STEP = 64


@njit(cache=True, inline="always")
def _mix64(z):
    """SplitMix64's finalizer: a bijective hash of a uint64 whose bits look independent."""
    z = (z ^ (z >> np.uint64(30))) * _MIX_1
    z = (z ^ (z >> np.uint64(27))) * _MIX_2
    return z ^ (z >> np.uint64(31))


@njit(cache=True)
def noise_keys(seed_bits, neurons):
    """The noise key of each neuron: ``uint64`` keys for :func:`lif_noisy_step`.

    Parameters
    ----------
    seed_bits : uint64
        64 well-mixed bits from the user's seed (e.g. ``np.random.SeedSequence(seed)
        .generate_state(1, np.uint64)[0]``).
    neurons : ndarray of int64, shape (n,)
        Neuron indices (distinct indices give independent noise; a network gives each trial's
        neurons their own indices, e.g. ``trial * n_neurons + neuron``).

    Returns
    -------
    ndarray of uint64, shape (n,)
    """
    keys = np.empty(neurons.shape[0], dtype=np.uint64)
    for i in range(neurons.shape[0]):
        keys[i] = _mix64(seed_bits + (np.uint64(neurons[i]) + np.uint64(1)) * _GOLDEN)
    return keys


@njit(cache=True, inline="always")
def _stream_start(key, step):
    """The random stream of one neuron (``key``) in one step: a SplitMix64 state."""
    return _mix64(key ^ _mix64((np.uint64(step) + np.uint64(1)) * _GOLDEN))


@njit(cache=True, inline="always")
def _next_uniform(state):
    """``(state, u)`` with ``u`` uniform on [0, 1) (53 bits), one SplitMix64 step."""
    state = state + _GOLDEN
    return state, float(_mix64(state) >> np.uint64(11)) * (1.0 / 9007199254740992.0)


@njit(cache=True)
def _normal_slow_path(state, layer, x):
    """The ziggurat's rare cases for a point ``x`` of ``layer`` outside the layer's inner
    rectangle: the tail beyond R (base layer) or the wedge under the curve. Returns
    ``(state, z)`` when accepted, ``(state, nan)`` to draw again."""
    if layer == 0:                               # the tail |z| > R (Marsaglia 1964)
        while True:
            state, u1 = _next_uniform(state)
            state, u2 = _next_uniform(state)
            tail = -math.log(1.0 - u1) / _ZIGGURAT_R
            if -2.0 * math.log(1.0 - u2) > tail * tail:
                return state, (_ZIGGURAT_R + tail) if x > 0.0 else -(_ZIGGURAT_R + tail)
    state, u = _next_uniform(state)
    outer = math.exp(-0.5 * (_ZIGGURAT_EDGES[layer] ** 2 - x * x))      # f(x_layer) / f(x)
    inner = math.exp(-0.5 * (_ZIGGURAT_EDGES[layer + 1] ** 2 - x * x))  # f(x_layer+1) / f(x)
    if inner + u * (outer - inner) < 1.0:
        return state, x
    return state, math.nan


@njit(cache=True, inline="always")
def _next_normal(state):
    """``(state, z)`` with ``z`` standard normal: the ziggurat, one 64-bit number per try (its low 7
    bits choose the layer, its high 53 a uniform in [-1, 1))."""
    while True:
        state = state + _GOLDEN
        bits = _mix64(state)
        layer = int(bits & np.uint64(_ZIGGURAT_LAYERS - 1))
        u = 2.0 * (float(bits >> np.uint64(11)) * (1.0 / 9007199254740992.0)) - 1.0
        if abs(u) < _ZIGGURAT_RATIOS[layer]:
            return state, u * _ZIGGURAT_EDGES[layer]
        state, z = _normal_slow_path(state, layer, u * _ZIGGURAT_EDGES[layer])
        if z == z:                               # not NaN: accepted
            return state, z


@njit(cache=True, inline="always")
def _crossing_time(state, v0, v1, span, decay, one_minus_decay2, sigma, tau_m):
    """Time (s, in ``[0, span]``) at which the membrane first reached 1 in a free stretch of length
    ``span`` from ``v0`` (< 1) to ``v1``, given that it did; see the module notes.

    ``decay = exp(-span/tau_m)``, ``one_minus_decay2 = 1 - decay**2``. Returns ``(state, time)``.
    """
    alpha = 1.0 - v0                               # distance below threshold at the start
    beta = abs((1.0 - v1) / decay)                 # ... at the end, in the time-changed frame
    u_span = 0.5 * sigma * sigma * one_minus_decay2 / (decay * decay)
    shape = alpha * alpha
    state, z = _next_normal(state)
    y = z * z
    if y == 0.0:
        hit = math.inf
    elif beta == 0.0 or alpha * u_span * y > 1e12 * beta * 2.0 * shape:
        hit = shape / y                            # driftless limit (Levy distribution)
    else:
        mean = alpha * u_span / beta
        phi = mean * y / (2.0 * shape)
        hit = mean / (1.0 + phi + math.sqrt(phi * (2.0 + phi)))
        state, u = _next_uniform(state)
        if u * (mean + hit) > mean:
            hit = mean * mean / hit
    fraction = 1.0 if hit == math.inf else hit / (u_span + hit)      # u_cross / u_span
    time = 0.5 * tau_m * math.log1p(one_minus_decay2 / (decay * decay) * fraction)
    return state, min(max(time, 0.0), span)


@njit(cache=True)
def lif_noisy_step(v, refractory_left, v_in, sigma, dt, decay, tau_m, tau_ref, key, step, spike_times):
    """Advance one normalized LIF neuron with white-noise input by one step of length ``dt``.

    The model is ``tau_m dv/dt = v_in - v + sigma sqrt(tau_m) xi(t)``, threshold 1, reset 0,
    refractory period ``tau_ref`` (Brunel's convention; ``sigma`` in units of the threshold). The
    free membrane moves by the exact Ornstein-Uhlenbeck update, and crossings of the threshold
    inside the step are drawn from the Brownian-bridge crossing probability (module notes). With
    ``sigma == 0`` (or below 1e-100) this is :func:`lif_step`.

    Parameters
    ----------
    v : float
        Membrane potential at the start of the step (normalized, < 1; 0 while refractory).
    refractory_left : float
        Refractory time still to serve at the start of the step (s), >= 0.
    v_in : float
        Mean normalized input over the step (threshold 1).
    sigma : float
        Noise amplitude (units of the threshold), >= 0; the free membrane's stationary standard
        deviation is ``sigma / sqrt(2)``.
    dt : float
        Step length (s), > 0.
    decay : float
        ``exp(-dt / tau_m)``, computed once per run by the caller.
    tau_m, tau_ref : float
        Membrane time constant (s, > 0) and refractory period (s, >= 0).
    key : uint64
        The neuron's noise key (:func:`noise_keys`).
    step : int
        Global index of the step; with ``key`` it selects the random numbers, so the same
        (key, step) always gives the same noise.
    spike_times : ndarray of float64, shape (capacity,)
        Scratch that receives the time of each spike after the start of the step (s, in
        ``[0, dt]``), in order. Only the first ``capacity`` are written when more spikes occur
        (possible only when ``tau_ref < dt``); the count returned includes them all.

    Returns
    -------
    v : float
        Membrane potential at the end of the step (0 while refractory, always < 1).
    refractory_left : float
        Refractory time left at the end of the step (s).
    n_spikes : int
        Spikes fired during the step.
    """
    if sigma < _NEGLIGIBLE_SIGMA:
        v, refractory_left, n_spikes, first_spike, period = lif_step(
            v, refractory_left, v_in, dt, decay, tau_m, tau_ref)
        for j in range(min(n_spikes, spike_times.shape[0])):
            spike_times[j] = first_spike + j * period
        return v, refractory_left, n_spikes
    if refractory_left >= dt:
        return 0.0, refractory_left - dt, 0
    state = _stream_start(key, step)
    n_spikes = 0
    start = refractory_left                        # the free stretch starts here ...
    v0 = 0.0 if refractory_left > 0.0 else v       # ... from here
    while True:
        span = dt - start
        if span <= 0.0:
            return v0, 0.0, n_spikes
        stretch_decay = decay if start == 0.0 else math.exp(-span / tau_m)
        one_minus_decay2 = (1.0 - stretch_decay) * (1.0 + stretch_decay)
        if one_minus_decay2 <= 0.0:                # a stretch too short to move the membrane
            return v0, 0.0, n_spikes
        state, z = _next_normal(state)
        v1 = v_in + (v0 - v_in) * stretch_decay + sigma * math.sqrt(0.5 * one_minus_decay2) * z
        if v1 < 1.0:
            # P(crossed | v0, v1) = exp(-2 (1 - v0)(1 - v1) / (sigma^2 sinh(span / tau_m))).
            exponent = 4.0 * (1.0 - v0) * (1.0 - v1) * stretch_decay / (sigma * sigma * one_minus_decay2)
            if exponent > _NEVER_CROSSES:
                return v1, 0.0, n_spikes
            state, u = _next_uniform(state)
            if u >= math.exp(-exponent):
                return v1, 0.0, n_spikes
        state, to_spike = _crossing_time(state, v0, v1, span, stretch_decay, one_minus_decay2, sigma,
                                         tau_m)
        spike = start + to_spike
        if n_spikes < spike_times.shape[0]:
            spike_times[n_spikes] = spike
        n_spikes += 1
        if dt - spike < tau_ref:                   # the step ends inside the refractory period
            return 0.0, tau_ref - (dt - spike), n_spikes
        start = spike + tau_ref
        v0 = 0.0


@njit(cache=True, nogil=True)
def run_noisy(v, refractory_left, current, sigma, keys, step_start, step_stop, dt, tau_m, tau_ref,
              record, record_every, v_record, spike_offsets, spike_capacity, spike_times, spike_counts,
              lost, worker, n_workers):
    """Simulate unconnected LIF neurons with white-noise input over steps ``[step_start, step_stop)``.

    Each step is :func:`lif_noisy_step`. Same arguments as :func:`run_time_varying`, and:

    sigma : ndarray, shape (n_neurons,)
        Noise amplitude of each neuron (units of the threshold), >= 0.
    keys : ndarray of uint64, shape (n_neurons,)
        Noise keys (:func:`noise_keys`).
    lost : ndarray of int64, shape (n_neurons,)
        Counts, in place, the spikes whose times did not fit a step's scratch of
        :data:`MAX_SPIKES_PER_STEP` (only possible when ``tau_ref < dt / 63``); the caller raises.
    """
    scratch = np.empty(MAX_SPIKES_PER_STEP)
    time_varying = current.shape[1] > 1
    for neuron in range(worker, v.shape[0], n_workers):
        neuron_tau_m = tau_m[neuron]
        neuron_tau_ref = tau_ref[neuron]
        neuron_sigma = sigma[neuron]
        key = keys[neuron]
        decay = math.exp(-dt / neuron_tau_m)
        membrane = v[neuron]
        refractory = refractory_left[neuron]
        base = spike_offsets[neuron]
        capacity = spike_capacity[neuron]
        count = spike_counts[neuron]
        for step in range(step_start, step_stop):
            if record and step % record_every == 0:
                v_record[neuron, step // record_every] = membrane
            v_in = current[neuron, step] if time_varying else current[neuron, 0]
            membrane, refractory, n_spikes = lif_noisy_step(
                membrane, refractory, v_in, neuron_sigma, dt, decay, neuron_tau_m, neuron_tau_ref, key,
                step, scratch)
            if n_spikes > 0:
                written = min(n_spikes, scratch.shape[0])
                lost[neuron] += n_spikes - written
                for j in range(written):
                    if count < capacity:
                        spike_times[base + count] = step * dt + scratch[j]
                    count += 1
        v[neuron] = membrane
        refractory_left[neuron] = refractory
        spike_counts[neuron] = count
