"""Numba kernel that steps a network of LIF populations joined through PSC synapses.

Everything is flattened into arrays so that one compiled function runs any network:

- LIF neurons of all populations share one index space ``[0, n_lif)``; spike sources another,
  ``[0, n_src)``, whose spikes are given in advance as arrival counts per step.
- A connection ``c`` takes spikes of ``n_pre`` neurons starting at ``pre_offset[c]`` (in the LIF
  or the source index space, ``pre_is_source[c]``) into ``n_post`` LIF neurons starting at
  ``post_offset[c]``. Its weights are stored transposed, row ``j`` of ``W.T`` being what a spike of
  pre-neuron ``j`` adds, so that a spike adds one contiguous row (event-driven propagation).
- Every synapse is a cascade of ``n + 1`` first-order stages (a PSC kernel of order ``n``) whose
  free evolution over one step is ``x_j <- sum_{m <= j} P[m] x_{j-m}``: the notes' Euler algorithm
  is ``P = [1 - dt/tau_s, dt/tau_s]``, the exact solution ``P[m] = exp(-a) a**m / m!`` with
  ``a = dt/tau_s``. A spike adds ``w / tau_s`` to the first stage.

LIF neurons advance with :func:`neurosim._lif_kernels.lif_step`, the exact-timing step of
:func:`neurosim.simulate_lif`. Order of a step ``k`` covering ``[t_k, t_k + dt)``: synapses
decay (for ``k > 0``), spikes emitted during step ``k - 1`` (and source spikes arriving at
``t_k``) are added, each LIF neuron integrates its input current held constant over the step,
and the spikes it emits are delivered at step ``k + 1``. This is the order in which
:func:`neurosim.filter_spikes` treats a spike train: a spike is felt at the first grid point at or
after it, after that step's decay.

Trials (independent copies of the network with their own inputs, e.g. one per sample to classify)
run one after the other, or spread over threads by ``prange`` when there are many; the time loop
is inside each trial.
"""

from __future__ import annotations

import numba
import numpy as np

from ._lif_kernels import lif_step


@numba.njit(cache=True)
def _propagate(state, offset, n_stages, n_units, propagator):
    """Free evolution of ``n_units`` cascades stored stage-major at ``state[offset:]``."""
    for stage in range(n_stages - 1, -1, -1):
        base = offset + stage * n_units
        for unit in range(n_units):
            total = propagator[0] * state[base + unit]
            for m in range(1, stage + 1):
                total += propagator[m] * state[base - m * n_units + unit]
            state[base + unit] = total


@numba.njit(cache=True)
def _deliver(state, base, width, weights_t, row_offset, pre_first, pre_n, scale, events, n_events,
             multiplicity):
    """Add ``scale * w`` rows of ``W.T`` for each event whose neuron lies in the pre range."""
    for e in range(n_events):
        j = events[e] - pre_first
        if j < 0 or j >= pre_n:
            continue
        amount = scale * multiplicity[e]
        row = row_offset + j * width
        for i in range(width):
            state[base + i] += amount * weights_t[row + i]


@numba.njit(cache=True)
def _run_trial(trial, model, sources, connections, probes, outputs):
    """Simulate trial ``trial`` of a network; the arguments are the tuples of :func:`run_network`."""
    (n_steps, dt, tau_m, tau_ref, decay, v_init, current_const, current_time, time_varying) = model
    source_step_start, source_neuron, source_count = sources
    (pre_is_source, pre_offset, n_pre, post_offset, n_post, n_stages, propagators, spike_input,
     weight_offset, weights_t, state_offset) = connections
    (probe_kind, probe_is_source, probe_offset, probe_n, probe_every, probe_stages,
     probe_propagators, probe_spike_input, probe_out_offset, probe_state_offset) = probes
    probe_out, record_spikes, spike_capacity, spike_neuron, spike_time, spike_count = outputs
    n_lif = tau_m.shape[0]
    n_conn = pre_offset.shape[0]
    n_probes = probe_kind.shape[0]
    v = v_init.copy()
    refractory = np.zeros(n_lif)
    current = np.zeros(n_lif)
    syn = np.zeros(state_offset[n_conn])
    filt = np.zeros(probe_state_offset[n_probes])
    # LIF spikes emitted in the previous step, as events (neuron, how many).
    spiked = np.zeros(n_lif, dtype=np.int64)
    spiked_count = np.zeros(n_lif, dtype=np.int64)
    n_spiked = 0
    count = 0
    for step in range(n_steps):
        first = source_step_start[trial, step]
        n_source_events = source_step_start[trial, step + 1] - first
        source_events = source_neuron[trial, first:first + n_source_events]
        source_mult = source_count[trial, first:first + n_source_events]
        # 1. synapses decay, then the spikes of the previous step (and source spikes) arrive.
        for c in range(n_conn):
            if step > 0:
                _propagate(syn, state_offset[c], n_stages[c], n_post[c], propagators[c])
            if pre_is_source[c]:
                _deliver(syn, state_offset[c], n_post[c], weights_t, weight_offset[c],
                         pre_offset[c], n_pre[c], spike_input[c], source_events, n_source_events,
                         source_mult)
            else:
                _deliver(syn, state_offset[c], n_post[c], weights_t, weight_offset[c],
                         pre_offset[c], n_pre[c], spike_input[c], spiked, n_spiked, spiked_count)
        for q in range(n_probes):
            if probe_kind[q] != 2:
                continue
            base = probe_state_offset[q]
            if step > 0:
                _propagate(filt, base, probe_stages[q], probe_n[q], probe_propagators[q])
            if probe_is_source[q]:
                events, n_events, mult = source_events, n_source_events, source_mult
            else:
                events, n_events, mult = spiked, n_spiked, spiked_count
            for e in range(n_events):
                j = events[e] - probe_offset[q]
                if 0 <= j < probe_n[q]:
                    filt[base + j] += probe_spike_input[q] * mult[e]
        # 2. input currents, held constant over the step.
        for i in range(n_lif):
            current[i] = current_const[trial, i]
        if time_varying:
            for i in range(n_lif):
                current[i] += current_time[i, step]
        for c in range(n_conn):
            last = state_offset[c] + (n_stages[c] - 1) * n_post[c]
            for i in range(n_post[c]):
                current[post_offset[c] + i] += syn[last + i]
        # 3. probes read the state at t_k (voltage and current before this step's update).
        for q in range(n_probes):
            kind = probe_kind[q]
            if kind == 0 or step % probe_every[q] != 0:
                continue
            sample = step // probe_every[q]
            n_samples = (n_steps + probe_every[q] - 1) // probe_every[q]
            top = probe_state_offset[q] + (probe_stages[q] - 1) * probe_n[q]
            for j in range(probe_n[q]):
                where = probe_out_offset[q] + j * n_samples + sample
                if kind == 1:
                    probe_out[trial, where] = v[probe_offset[q] + j]
                elif kind == 3:
                    probe_out[trial, where] = current[probe_offset[q] + j]
                else:
                    probe_out[trial, where] = filt[top + j]
        # 4. neurons integrate over [t_k, t_k + dt); their spikes arrive at step k + 1.
        t_now = step * dt
        n_spiked = 0
        for i in range(n_lif):
            v[i], refractory[i], n_fired, first_spike, period = lif_step(
                v[i], refractory[i], current[i], dt, decay[i], tau_m[i], tau_ref[i])
            if n_fired == 0:
                continue
            spiked[n_spiked] = i
            spiked_count[n_spiked] = n_fired
            n_spiked += 1
            if record_spikes[i]:
                for s in range(n_fired):
                    if count < spike_capacity:
                        spike_neuron[trial, count] = i
                        spike_time[trial, count] = t_now + first_spike + s * period
                    count += 1
    spike_count[trial] = count


@numba.njit(cache=True)
def run_network(model, sources, connections, probes, outputs):
    """Run every trial of a network, one after the other. Arguments (tuples of arrays):

    model = (n_steps, dt, tau_m, tau_ref, decay, v_init, current_const, current_time, time_varying)
        n_steps int, dt float (s); tau_m, tau_ref, decay = exp(-dt/tau_m), v_init: float64
        (n_lif,); current_const float64 (T, n_lif) constant input current (bias included,
        normalized units); current_time float64 (n_lif, n_steps), added when ``time_varying``
    sources = (step_start int64 (T, n_steps + 1), neuron int64 (T, E), count int64 (T, E)):
        the source spikes felt at step ``k`` of trial ``t`` are the events
        ``step_start[t, k]:step_start[t, k + 1]`` (neuron index, how many spikes)
    connections = (pre_is_source bool, pre_offset, n_pre, post_offset, n_post, n_stages
        int64 (C,); propagators float64 (C, S); spike_input float64 (C,) = 1 / tau_s;
        weight_offset int64 (C,); weights_t float64, the W.T matrices flattened one after the
        other; state_offset int64 (C + 1,), where each connection's stages start in the state)
    probes = (kind int64 (Q,): 0 spikes, 1 voltage, 2 filtered spikes, 3 input current;
        is_source, offset, n, every, stages; propagators (Q, S); spike_input (Q,);
        out_offset, where each probe's samples (neuron-major) start in ``probe_out``;
        state_offset (Q + 1,), where each filtered probe's stages start)
    outputs = (probe_out float64 (T, total); record_spikes bool (n_lif,); spike_capacity int;
        spike_neuron int64 (T, capacity); spike_time float64 (T, capacity); spike_count int64
        (T,)): the spikes of LIF neurons with ``record_spikes``, counted past the capacity (the
        caller then reruns with more room).
    """
    for trial in range(outputs[0].shape[0]):
        _run_trial(trial, model, sources, connections, probes, outputs)


@numba.njit(cache=True, parallel=True)
def run_network_parallel(model, sources, connections, probes, outputs):
    """:func:`run_network` with the trials spread over threads (for many trials: with one, the
    idle threads' synchronisation costs more than it saves)."""
    for trial in numba.prange(outputs[0].shape[0]):
        _run_trial(trial, model, sources, connections, probes, outputs)
