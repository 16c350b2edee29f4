"""Numba kernels that step a network of LIF and HH populations joined through PSC synapses.

Everything is flattened into arrays so that one compiled function runs any network:

- Simulated neurons of all populations share one index space ``[0, n_neurons)``: the LIF neurons
  first, ``[0, n_lif)``, then the Hodgkin-Huxley ones. Spike sources have their own index space
  ``[0, n_src)``; their spikes are given in advance as events sorted by the step at which they
  are felt.
- A connection ``c`` takes spikes of ``n_pre`` neurons starting at ``pre_offset[c]`` (in the
  neuron or the source index space, ``pre_is_source[c]``) into the ``n_post`` neurons of one
  population starting at ``post_offset[c]``. Its weights are stored transposed, row ``j`` of
  ``W.T`` being what a spike of pre-neuron ``j`` adds, so that a spike adds one contiguous row
  (event-driven propagation).
- Every synapse is a cascade of ``n + 1`` first-order stages (a PSC kernel of order ``n``) whose
  free evolution over one step is ``x_j <- sum_{m <= j} P[m] x_{j-m}``: the notes' Euler algorithm
  is ``P = [1 - dt/tau_s, dt/tau_s]``, the exact solution ``P[m] = exp(-a) a**m / m!`` with
  ``a = dt/tau_s``. A spike adds ``w / tau_s`` to the first stage.

LIF neurons advance with :func:`neurosim._lif_kernels.lif_step`, the exact-timing step of
:func:`neurosim.simulate_lif` (with its most common case, a free neuron that stays below threshold,
inlined here); HH neurons with :func:`neurosim._hh_kernels.hh_step`, the step of
:func:`neurosim.simulate_hh`, a spike being an upward crossing of the threshold, its time
interpolated linearly in the step. Order of a step ``k`` covering ``[t_k, t_k + dt)``: synapses
decay (for ``k > 0``), spikes emitted during step ``k - 1`` (and source spikes arriving at
``t_k``) are added, each neuron integrates its input current held constant over the step, and the
spikes it emits are delivered at step ``k + 1``. This is the order in which
:func:`neurosim.filter_spikes` treats a spike train: a spike is felt at the first grid point at or
after it, after that step's decay.

Time runs outside, all neurons inside. A step's events are added row by row (event-driven), or,
when more than ``dense_above[c]`` of a connection's pre-neurons fired in that step, as one dense
product ``x @ W.T`` (BLAS), which reads the whole matrix once. (A population-by-population order
that keeps a block of ``W`` in cache was tried: on a 1,000 -> 1,000 network the event-driven row adds
already run at about 0.4 ns per weight, and scanning the events once per block cost more than the
cache saved.) The hot loops index slices from 0 so that LLVM vectorises them (an index
``base + i`` would have to be checked for negative wrap-around, which blocks vectorisation: 3x
slower here).

Trials (independent copies of the network with their own inputs, e.g. one per sample to classify)
run one after the other, or spread over threads by ``prange`` when there are many.
"""

from __future__ import annotations

import numba
import numpy as np

from ._hh_kernels import V_DIVERGED, hh_step
from ._lif_kernels import lif_step

PROBE_SPIKES, PROBE_VOLTAGE, PROBE_FILTERED, PROBE_CURRENT = 0, 1, 2, 3


@numba.njit(cache=True)
def _propagate(state, offset, n_stages, n_units, propagator):
    """Free evolution of ``n_units`` cascades stored stage-major at ``state[offset:]``."""
    if n_stages == 1:
        decay = propagator[0]
        units = state[offset:offset + n_units]
        for unit in range(n_units):
            units[unit] *= decay
        return
    for stage in range(n_stages - 1, -1, -1):
        base = offset + stage * n_units
        for unit in range(n_units):
            total = propagator[0] * state[base + unit]
            for m in range(1, stage + 1):
                total += propagator[m] * state[base - m * n_units + unit]
            state[base + unit] = total


@numba.njit(cache=True)
def _deliver(state, base, width, weights_t, row_offset, row_length, pre_first, pre_n, scale,
             neuron, count, first, stop):
    """For each event ``e`` in ``[first, stop)`` whose neuron lies in the pre range, add
    ``scale * count[e]`` times ``width`` weights of its row of ``W.T`` (rows ``row_length`` long,
    starting at ``row_offset``) to ``state[base:base + width]``."""
    for e in range(first, stop):
        j = neuron[e] - pre_first
        if j < 0 or j >= pre_n:
            continue
        amount = scale * count[e]
        row = row_offset + j * row_length
        # Slices indexed from 0 let LLVM vectorise the loop (no negative-index wrap-around to check).
        target = state[base:base + width]
        weights = weights_t[row:row + width]
        for i in range(width):
            target[i] += amount * weights[i]


@numba.njit(cache=True)
def _deliver_dense(state, base, weights_t, row_offset, pre_first, pre_n, post_n, scale,
                   neuron, count, first, stop, dense_x):
    """The same sum as :func:`_deliver` as one product ``x @ W.T`` with ``x`` the step's spikes."""
    x = dense_x[:pre_n]
    x[:] = 0.0
    for e in range(first, stop):
        j = neuron[e] - pre_first
        if 0 <= j < pre_n:
            x[j] += scale * count[e]
    matrix = weights_t[row_offset:row_offset + pre_n * post_n].reshape((pre_n, post_n))
    added = np.dot(x, matrix)
    for i in range(post_n):
        state[base + i] += added[i]


@numba.njit(cache=True, inline="always")
def _hh_advance(k, v_now, current_i, dt, gates, hh_params):
    """Advance HH neuron ``k`` (row of ``gates`` (n_hh, 3) and ``hh_params`` (n_hh, 9)) over one
    step from ``v_now`` (mV); the gates are updated in place.

    Returns ``(v_next, fired, fraction)``: ``fired`` 1 for an upward crossing of the threshold at
    ``fraction`` of the step, 0 for none, -1 when the integration diverged.
    """
    dt_ms = dt * 1e3
    v_next, m_next, h_next, n_next = hh_step(
        v_now, gates[k, 0], gates[k, 1], gates[k, 2], current_i, dt_ms, dt_ms / hh_params[k, 0],
        int(hh_params[k, 8]), hh_params[k, 1], hh_params[k, 2], hh_params[k, 3], hh_params[k, 4],
        hh_params[k, 5], hh_params[k, 6])
    if not abs(v_next) < V_DIVERGED:              # also catches NaN
        return v_now, -1, 0.0
    gates[k, 0] = m_next
    gates[k, 1] = h_next
    gates[k, 2] = n_next
    threshold = hh_params[k, 7]
    if v_now < threshold <= v_next:
        return v_next, 1, (threshold - v_now) / (v_next - v_now)
    return v_next, 0, 0.0


@numba.njit(cache=True, inline="always")
def _record_spikes(trial, i, n_fired, t_spike, period, capacity, spike_neuron, spike_time, count):
    """Write the spike times of one neuron's step into the trial's spike buffer; return the count."""
    for s in range(n_fired):
        if count < capacity:
            spike_neuron[trial, count] = i
            spike_time[trial, count] = t_spike + s * period
        count += 1
    return count




@numba.njit(cache=True)
def _run_trial(trial, model, hh, sources, connections, probes, outputs):
    """Simulate trial ``trial`` with time outside and all neurons inside."""
    (n_steps, dt, n_lif, tau_m, tau_ref, decay, v_init, current_const, current_time,
     time_varying) = model
    source_step_start, source_neuron, source_count = sources
    (pre_is_source, pre_offset, n_pre, post_offset, n_post, n_stages, propagators, spike_input,
     weight_offset, weights_t, state_offset, dense_above) = connections
    (probe_kind, probe_is_source, probe_offset, probe_n, probe_every, probe_stages,
     probe_propagators, probe_spike_input, probe_out_offset, probe_state_offset) = probes
    probe_out, record_spikes, capacity, spike_neuron, spike_time, spike_count, diverged = outputs
    n_neurons = v_init.shape[1]
    n_conn = pre_offset.shape[0]
    n_probes = probe_kind.shape[0]
    gates_init, hh_params = hh
    v = v_init[trial].copy()
    refractory = np.zeros(n_lif)
    gates = gates_init.copy()
    current = np.zeros(n_neurons)
    syn = np.zeros(state_offset[n_conn])
    filt = np.zeros(probe_state_offset[n_probes])
    dense_x = np.zeros(max(1, n_neurons))
    flag_bytes = np.zeros(8 * ((n_lif + 7) // 8), dtype=np.uint8)
    flagged = flag_bytes[:n_lif]
    flag_words = flag_bytes.view(np.uint64)
    # Neuron spikes emitted in the previous step, as events (neuron, how many).
    spiked = np.zeros(n_neurons, dtype=np.int64)
    spiked_count = np.zeros(n_neurons, dtype=np.int64)
    n_spiked = 0
    count = 0
    for step in range(n_steps):
        first = source_step_start[trial, step]
        stop = source_step_start[trial, step + 1]
        # 1. synapses decay, then the spikes of the previous step (and source spikes) arrive.
        for c in range(n_conn):
            if step > 0:
                _propagate(syn, state_offset[c], n_stages[c], n_post[c], propagators[c])
            if pre_is_source[c]:
                _deliver(syn, state_offset[c], n_post[c], weights_t, weight_offset[c], n_post[c],
                         pre_offset[c], n_pre[c], spike_input[c], source_neuron[trial],
                         source_count[trial], first, stop)
            elif n_spiked > dense_above[c]:
                _deliver_dense(syn, state_offset[c], weights_t, weight_offset[c], pre_offset[c],
                               n_pre[c], n_post[c], spike_input[c], spiked, spiked_count, 0,
                               n_spiked, dense_x)
            else:
                _deliver(syn, state_offset[c], n_post[c], weights_t, weight_offset[c], n_post[c],
                         pre_offset[c], n_pre[c], spike_input[c], spiked, spiked_count, 0, n_spiked)
        for q in range(n_probes):
            if probe_kind[q] != PROBE_FILTERED:
                continue
            base = probe_state_offset[q]
            if step > 0:
                _propagate(filt, base, probe_stages[q], probe_n[q], probe_propagators[q])
            if probe_is_source[q]:
                events, counts, a, b = source_neuron[trial], source_count[trial], first, stop
            else:
                events, counts, a, b = spiked, spiked_count, 0, n_spiked
            for e in range(a, b):
                j = events[e] - probe_offset[q]
                if 0 <= j < probe_n[q]:
                    filt[base + j] += probe_spike_input[q] * counts[e]
        # 2. input currents, held constant over the step.
        constant = current_const[trial]
        for i in range(n_neurons):
            current[i] = constant[i]
        if time_varying:
            for i in range(n_neurons):
                current[i] += current_time[i, step]
        for c in range(n_conn):
            last = state_offset[c] + (n_stages[c] - 1) * n_post[c]
            target = current[post_offset[c]:post_offset[c] + n_post[c]]
            synaptic = syn[last:last + n_post[c]]
            for i in range(n_post[c]):
                target[i] += synaptic[i]
        # 3. probes read the state at t_k (voltage and current before this step's update).
        for q in range(n_probes):
            kind = probe_kind[q]
            if kind == PROBE_SPIKES or step % probe_every[q] != 0:
                continue
            sample = step // probe_every[q]
            n_samples = (n_steps + probe_every[q] - 1) // probe_every[q]
            top = probe_state_offset[q] + (probe_stages[q] - 1) * probe_n[q]
            for j in range(probe_n[q]):
                where = probe_out_offset[q] + j * n_samples + sample
                if kind == PROBE_VOLTAGE:
                    probe_out[trial, where] = v[probe_offset[q] + j]
                elif kind == PROBE_CURRENT:
                    probe_out[trial, where] = current[probe_offset[q] + j]
                else:
                    probe_out[trial, where] = filt[top + j]
        # 4. neurons integrate over [t_k, t_k + dt); their spikes arrive at step k + 1.
        # LIF, in two passes: a vectorised one does the common cases of lif_step (refractory for the
        # whole step; free and still below threshold at its end) and flags the others (a spike, or a
        # refractory period ending inside the step), which lif_step then does one by one.
        for i in range(n_lif):
            # (Locals and bitwise operators keep the loop free of branches, so that it vectorises.)
            left = refractory[i]
            v_now = v[i]
            current_i = current[i]
            held = left >= dt
            v_end = current_i + (v_now - current_i) * decay[i]
            other = (left < dt) & ((left > 0.0) | (v_end >= 1.0))
            flagged[i] = other
            v[i] = 0.0 if held else (v_now if other else v_end)
            refractory[i] = left - dt if held else left
        t_now = step * dt
        n_spiked = 0
        # The flags are read eight at a time: most words are zero.
        for word in range(flag_words.size):
            if flag_words[word] == 0:
                continue
            for i in range(8 * word, min(8 * word + 8, n_lif)):
                if not flagged[i]:
                    continue
                v[i], refractory[i], n_fired, first_spike, period = lif_step(
                    v[i], refractory[i], current[i], dt, decay[i], tau_m[i], tau_ref[i])
                if n_fired == 0:
                    continue
                spiked[n_spiked] = i
                spiked_count[n_spiked] = n_fired
                n_spiked += 1
                if record_spikes[i]:
                    count = _record_spikes(trial, i, n_fired, t_now + first_spike, period, capacity,
                                           spike_neuron, spike_time, count)
        for i in range(n_lif, n_neurons):
            v[i], n_fired, fraction = _hh_advance(i - n_lif, v[i], current[i], dt, gates, hh_params)
            if n_fired == 0:
                continue
            if n_fired < 0:
                diverged[trial] = step
                return
            spiked[n_spiked] = i
            spiked_count[n_spiked] = 1
            n_spiked += 1
            if record_spikes[i]:
                count = _record_spikes(trial, i, 1, t_now + fraction * dt, 0.0, capacity,
                                       spike_neuron, spike_time, count)
    spike_count[trial] = count


@numba.njit(cache=True)
def run_network(model, hh, sources, connections, probes, outputs):
    """Run every trial of a network, one after the other. Arguments (tuples of arrays):

    model = (n_steps, dt, n_lif, tau_m, tau_ref, decay, v_init, current_const, current_time,
        time_varying): n_steps int, dt float (s), n_lif int; tau_m, tau_ref, decay =
        exp(-dt/tau_m): float64 (n_lif,); v_init float64 (T, n_neurons) (normalized for LIF, mV
        for HH); current_const float64 (T, n_neurons) constant input current (bias included;
        normalized for LIF, µA/cm² for HH); current_time float64 (n_neurons, n_steps), added when
        ``time_varying``
    hh = (gates float64 (n_hh, 3): the initial m, h, n; params float64 (n_hh, 9): capacitance,
        g_na, g_k, g_l, e_na, e_k, e_l, threshold, method code), the HH neurons in the units of
        :mod:`neurosim._hh_kernels`
    sources = (step_start int64 (T, n_steps + 1), neuron int64 (T, E), count int64 (T, E)):
        the source spikes felt at step ``k`` of trial ``t`` are the events
        ``step_start[t, k]:step_start[t, k + 1]`` (neuron index, how many spikes)
    connections = (pre_is_source bool, pre_offset, n_pre, post_offset, n_post, n_stages
        int64 (C,); propagators float64 (C, S); spike_input float64 (C,) = 1 / tau_s;
        weight_offset int64 (C,); weights_t float64, the W.T matrices flattened one after the
        other; state_offset int64 (C + 1,), where each connection's stages start in the state;
        dense_above float64 (C,): the step-by-step loop adds a step's neuron spikes as a dense
        product when more than this many pre-neurons fired)
    probes = (kind int64 (Q,): 0 spikes, 1 voltage, 2 filtered spikes, 3 input current;
        is_source, offset, n, every, stages; propagators (Q, S); spike_input (Q,);
        out_offset, where each probe's samples (neuron-major) start in ``probe_out``;
        state_offset (Q + 1,), where each filtered probe's stages start)
    outputs = (probe_out float64 (T, total); record_spikes bool (n_neurons,); spike_capacity
        int; spike_neuron int64 (T, capacity); spike_time float64 (T, capacity); spike_count int64
        (T,); diverged int64 (T,), -1 or the step at which an HH neuron diverged): the spikes of
        neurons with ``record_spikes``, counted past the capacity (the caller then reruns with
        more room).
    """
    for trial in range(outputs[0].shape[0]):
        _run_trial(trial, model, hh, sources, connections, probes, outputs)


@numba.njit(cache=True, parallel=True)
def run_network_parallel(model, hh, sources, connections, probes, outputs):
    """:func:`run_network` with the trials spread over threads (for many trials: with one, the
    idle threads' synchronisation costs more than it saves)."""
    for trial in numba.prange(outputs[0].shape[0]):
        _run_trial(trial, model, hh, sources, connections, probes, outputs)


@numba.njit(cache=True)
def group_by_key(keys, n_keys):
    """A stable counting sort: ``order`` (int64 (n,)) lists the indices of ``keys`` (int64 in
    ``[0, n_keys)``) by key, in their original order within a key; ``starts`` (int64 (n_keys + 1,))
    gives where each key's run begins in ``order``. O(n + n_keys), unlike a comparison sort."""
    starts = np.zeros(n_keys + 1, dtype=np.int64)
    for k in keys:
        starts[k + 1] += 1
    for k in range(n_keys):
        starts[k + 1] += starts[k]
    slot = starts[:-1].copy()
    order = np.empty(keys.size, dtype=np.int64)
    for index in range(keys.size):
        k = keys[index]
        order[slot[k]] = index
        slot[k] += 1
    return order, starts
