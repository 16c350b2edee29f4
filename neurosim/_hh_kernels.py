"""Numba kernels of the Hodgkin-Huxley model (private; :mod:`neurosim.hh` is the public face).

Units inside the kernels: time in ms, voltage in mV, currents in µA/cm², conductances in mS/cm²,
capacitance in µF/cm², rates in 1/ms. Spike times are written out in seconds.

Sharing the exponentials
------------------------
With ``u = V + 65`` the six classic rate functions need ``exp(-u/10)`` (three of them: the α of n
and m, after shifting, and the β of h), ``exp(-u/18)``, ``exp(-u/20)`` and ``exp(-u/80)``. All four
are integer powers of ``q = exp(-u/720)``: ``q^72, q^40, q^36, q^9``. One call to ``exp`` and a few
multiplications replace six calls; the relative error of a power ``q^k`` is about ``k`` ulps
(< 2e-14), far below the error of any time step.

The removable singularities of ``α_n`` at V = -55 mV and of ``α_m`` at V = -40 mV are of the form
``x / (1 - exp(-x))``; for ``|x| < 1e-2`` it is evaluated from its Taylor series
``1 + x/2 + x²/12 - x⁴/720`` (truncation error < 4e-17), which equals the limit 1 at ``x = 0``.
"""

from __future__ import annotations

import math

import numba

# exp(-(V+55)/10) = exp(-u/10) e^1,  exp(-(V+40)/10) = exp(-u/10) e^2.5,  exp(-(V+35)/10) = exp(-u/10) e^3
_E_1 = math.exp(1.0)
_E_2_5 = math.exp(2.5)
_E_3 = math.exp(3.0)
_SERIES_BELOW = 1e-2
# A membrane potential beyond this (mV) means the integration has diverged.
V_DIVERGED = 1e4

METHOD_EULER = 0
METHOD_EXPONENTIAL_EULER = 1


@numba.njit(cache=True, inline="always")
def _x_over_one_minus_exp(x, exp_minus_x):
    """``x / (1 - exp(-x))`` given ``exp(-x)``, exact through its removable singularity at 0."""
    if abs(x) < _SERIES_BELOW:
        x2 = x * x
        return 1.0 + 0.5 * x + x2 * (1.0 / 12.0 - x2 * (1.0 / 720.0))
    return x / (1.0 - exp_minus_x)


@numba.njit(cache=True, inline="always")
def gate_rates(v):
    """The six rate functions (1/ms) at membrane potential ``v`` (mV).

    Returns ``(alpha_m, beta_m, alpha_h, beta_h, alpha_n, beta_n)``.
    """
    u = v + 65.0
    q = math.exp(u * (-1.0 / 720.0))
    q2 = q * q
    q4 = q2 * q2
    q8 = q4 * q4
    q9 = q8 * q                 # exp(-u/80)
    q18 = q9 * q9
    q36 = q18 * q18             # exp(-u/20)
    q40 = q36 * q4              # exp(-u/18)
    q72 = q36 * q36             # exp(-u/10)
    alpha_n = 0.1 * _x_over_one_minus_exp((u - 10.0) * 0.1, q72 * _E_1)
    beta_n = 0.125 * q9
    alpha_m = _x_over_one_minus_exp((u - 25.0) * 0.1, q72 * _E_2_5)
    beta_m = 4.0 * q40
    alpha_h = 0.07 * q36
    beta_h = 1.0 / (1.0 + q72 * _E_3)
    return alpha_m, beta_m, alpha_h, beta_h, alpha_n, beta_n


@numba.njit(cache=True)
def steady_state_gates(v, m_out, h_out, n_out):
    """Steady-state gates ``x_inf = α / (α + β)`` at voltages ``v`` (mV), written into the outputs."""
    for i in range(v.size):
        alpha_m, beta_m, alpha_h, beta_h, alpha_n, beta_n = gate_rates(v[i])
        m_out[i] = alpha_m / (alpha_m + beta_m)
        h_out[i] = alpha_h / (alpha_h + beta_h)
        n_out[i] = alpha_n / (alpha_n + beta_n)


@numba.njit(cache=True, inline="always")
def hh_step(vi, mi, hi, ni, current_i, dt_ms, dt_over_c, method, g_na, g_k, g_l, e_na, e_k, e_l):
    """One step of one neuron: the state ``(v, m, h, n)`` after ``dt_ms`` (ms) with ``current_i``
    (µA/cm²) held over the step; ``dt_over_c = dt_ms / capacitance``. Forward Euler for V; the gates
    by ``method`` (see :func:`run_hh`). Returns ``(v_next, m_next, h_next, n_next)``."""
    alpha_m, beta_m, alpha_h, beta_h, alpha_n, beta_n = gate_rates(vi)
    m3 = mi * mi * mi
    n2 = ni * ni
    ionic = g_na * m3 * hi * (vi - e_na) + g_k * (n2 * n2) * (vi - e_k) + g_l * (vi - e_l)
    v_next = vi + dt_over_c * (current_i - ionic)
    if method == METHOD_EULER:
        m_next = mi + dt_ms * (alpha_m - (alpha_m + beta_m) * mi)
        h_next = hi + dt_ms * (alpha_h - (alpha_h + beta_h) * hi)
        n_next = ni + dt_ms * (alpha_n - (alpha_n + beta_n) * ni)
    else:
        # x' = α - (α+β) x with V frozen over the step: x -> x_inf + (x - x_inf) e^{-(α+β) dt}.
        # (exp rather than expm1: the result's rounding error is eps |x_inf| either way.)
        rate_sum = alpha_m + beta_m
        m_inf = alpha_m / rate_sum
        m_next = m_inf + (mi - m_inf) * math.exp(-dt_ms * rate_sum)
        rate_sum = alpha_h + beta_h
        h_inf = alpha_h / rate_sum
        h_next = h_inf + (hi - h_inf) * math.exp(-dt_ms * rate_sum)
        rate_sum = alpha_n + beta_n
        n_inf = alpha_n / rate_sum
        n_next = n_inf + (ni - n_inf) * math.exp(-dt_ms * rate_sum)
    return v_next, m_next, h_next, n_next


@numba.njit(cache=True, nogil=True)
def run_hh(neurons, current, v, m, h, n, step, step_stop, dt_ms, dt_s, method,
           capacitance, g_na, g_k, g_l, e_na, e_k, e_l, threshold, record_every,
           v_out, m_out, h_out, n_out, spike_times, spike_counts, diverged_at):
    """Advance the neurons listed in ``neurons`` from their own ``step[i]`` to ``step_stop``.

    Unconnected neurons are independent, so the loop runs over neurons outside and over time inside,
    the state of one neuron living in registers. The kernel releases the GIL: the caller runs
    disjoint sets of neurons in threads (a ``prange`` here triples the compile time for no gain).

    Parameters (arrays are updated in place)
    ----------------------------------------
    neurons : int64 (n_active,)
        Indices of the neurons to advance.
    current : float64 (n_neurons, 1) or (n_neurons, n_steps)
        Input current (µA/cm²), constant or one value per step.
    v, m, h, n : float64 (n_neurons,)
        State; holds the state at ``step[i]`` on entry and on return.
    step : int64 (n_neurons,)
        Index of the next step of each neuron; on return, where it stopped.
    step_stop : int
        Global step to stop at (exclusive).
    dt_ms, dt_s : float
        The time step in ms (arithmetic) and in s (spike times).
    method : int
        ``METHOD_EULER`` (forward Euler for all four variables) or ``METHOD_EXPONENTIAL_EULER``
        (exact exponential update of each gate for frozen V, forward Euler for V).
    threshold : float
        Spike threshold (mV); a spike is an upward crossing, its time interpolated linearly in the step.
    record_every : int
        Record the state before steps 0, k, 2k, ... into column ``step // k`` of the outputs.
    v_out, m_out, h_out, n_out : float64 (n_neurons, n_samples) or (0, 0)
        Recorded traces; an output with no columns is not recorded.
    spike_times : float64 (n_active, capacity)
        Row ``a`` receives the spike times (s) of neuron ``neurons[a]`` from this call. A neuron
        whose row is full stops before the step that would overflow it, to be resumed later.
    spike_counts : int64 (n_active,)
        Number of spikes written in each row.
    diverged_at : int64 (n_neurons,)
        Set to the step at which a neuron's state became non-finite or |V| exceeded V_DIVERGED.
    """
    capacity = spike_times.shape[1]
    time_varying = current.shape[1] > 1
    record_v = v_out.shape[1] > 0
    record_gates = m_out.shape[1] > 0
    dt_over_c = dt_ms / capacitance
    for a in range(neurons.size):
        i = neurons[a]
        vi = v[i]
        mi = m[i]
        hi = h[i]
        ni = n[i]
        s = step[i]
        count = 0
        current_i = current[i, 0]
        record_phase = s % record_every
        while s < step_stop:
            if record_phase == 0:
                if record_v:
                    v_out[i, s // record_every] = vi
                if record_gates:
                    m_out[i, s // record_every] = mi
                    h_out[i, s // record_every] = hi
                    n_out[i, s // record_every] = ni
            if time_varying:
                current_i = current[i, s]
            v_next, m_next, h_next, n_next = hh_step(vi, mi, hi, ni, current_i, dt_ms, dt_over_c, method,
                                                     g_na, g_k, g_l, e_na, e_k, e_l)
            if not abs(v_next) < V_DIVERGED:          # also catches NaN
                diverged_at[i] = s
                break
            if vi < threshold <= v_next:
                if count == capacity:
                    break                             # resume from this step with an empty row
                spike_times[a, count] = (s + (threshold - vi) / (v_next - vi)) * dt_s
                count += 1
            vi = v_next
            mi = m_next
            hi = h_next
            ni = n_next
            s += 1
            record_phase += 1
            if record_phase == record_every:
                record_phase = 0
        v[i] = vi
        m[i] = mi
        h[i] = hi
        n[i] = ni
        step[i] = s
        spike_counts[a] = count

