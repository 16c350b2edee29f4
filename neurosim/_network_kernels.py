"""Numba kernels that step a network of LIF, IF and HH populations joined through synapses.

Everything is flattened into arrays so that one compiled function runs any network
(:mod:`neurosim._network_layout` builds them):

- Units. Simulated neurons of all populations share one index space ``[0, n_neurons)``: the LIF
  neurons first, ``[0, n_lif)``, then the non-leaky IF ones, ``[n_lif, n_lif + n_if)``, then the
  Hodgkin-Huxley ones. Spike sources follow, ``[n_neurons, n_units)``.
- Events. What arrives at step ``k`` comes from three lists of ``(unit, count)``: the spikes the
  neurons emitted during step ``k - 1``; source spikes generated in Python for a window of steps,
  grouped by the step at which they are felt (``ceil(t / dt)``); and spikes of high-rate Poisson
  sources, drawn here, one Poisson count per source and step.
- Connections. A connection takes the events of ``n_pre`` units starting at ``pre_first`` into
  the ``n_post`` neurons starting at ``post_first``. Its weights are stored as ``W.T``: dense rows
  (row ``j`` is what a spike of pre-unit ``j`` adds, one contiguous vector), or a CSR matrix of
  ``W.T`` (per pre-unit, the postsynaptic indices and weights of its outgoing synapses, so that a
  spike costs its out-degree), with one weight per synapse or one for all ("uniform").
- Synapses. A PSC synapse of order ``n`` is a cascade of ``n + 1`` first-order stages whose free
  evolution over a step is ``x_j <- sum_{m <= j} P[m] x_{j-m}`` (:meth:`neurosim.PSC.propagator`);
  a spike adds ``w / tau_s`` to the first stage and the last stage is the current. A delta synapse
  has no state: a spike adds ``w`` to the neuron's "jump", applied to its voltage at the start of
  the step.
- Delays. A connection whose delays are all one step delivers straight into the first stage (or
  the jumps). Longer delays go through a ring buffer of ``R`` slots of ``n_post`` values: an event
  delivered at step ``k`` with a delay of ``d`` steps is added to slot ``(k + d - 1) mod R``, and at
  every step slot ``k mod R`` is emptied into the first stage. The cost does not depend on the
  delays' length. Delays may be one per connection or one per synapse (then ``R`` is the longest).

Order of a step ``k`` covering ``[t_k, t_k + dt)``: spikes of step ``k - 1`` are recorded, synapses
decay, events arrive, each neuron integrates its input current held constant over the step (LIF:
:func:`neurosim._lif_kernels.lif_step`, the exact-timing step of :func:`neurosim.simulate_lif`, its
common case, a free neuron that stays below threshold, inlined here; IF: :func:`if_step`; HH:
:func:`neurosim._hh_kernels.hh_step`), and its spikes are delivered at step ``k + 1`` (plus the
delay). This is how :func:`neurosim.filter_spikes` treats a spike train: a spike is felt at the
first grid point at or after it, after that step's decay.

The kernel is resumable: all state lives in arrays owned by the caller, and :func:`run_steps`
advances every trial from ``position[trial]`` to ``stop``. It returns early for a trial whose spike
record is full (the caller enlarges it and calls again: the spikes of the last step wait in the
event list) or whose state became non-finite (``status``). A step's events are added one by one
(event-driven), each a row of dense weights or its synapses of sparse ones. (A dense product
``x @ W.T`` through BLAS when many neurons fire in a step was measured 2.4x slower than the rows
on one thread and 17x slower with OpenBLAS's threads, 1,000 x 1,000, 317 spikes a step: it went.)
The hot loops index slices from 0 so that LLVM vectorises them (an index ``base + i`` would have to
be checked for negative wrap-around, which blocks vectorisation: 3x slower here).

Trials (independent copies of the network with their own inputs, e.g. one per sample to classify)
run one after the other, or on several threads (the kernel releases the GIL; each thread takes every
``n_workers``-th trial).
"""

from __future__ import annotations

import math

import numba
import numpy as np

from ._hh_kernels import V_DIVERGED, hh_step
from ._lif_kernels import lif_noisy_step, lif_step

PROBE_SPIKES, PROBE_VOLTAGE, PROBE_FILTERED, PROBE_CURRENT = 0, 1, 2, 3
# Where a connection's (or a filtered probe's) presynaptic events come from.
EVENTS_NEURONS, EVENTS_SOURCES, EVENTS_POISSON = 0, 1, 2
# How a connection stores its weights.
STORE_DENSE, STORE_SPARSE, STORE_SPARSE_UNIFORM = 0, 1, 2
# status[trial]: why a trial stopped before ``stop``.
STATUS_RUNNING, STATUS_RECORD_FULL, STATUS_HH_DIVERGED, STATUS_NON_FINITE, STATUS_RUNAWAY = 0, 1, 2, 3, 4
# More spikes than this from one neuron in one step means a runaway input (a count would overflow).
MAX_SPIKES_PER_STEP = 2**31
# Poisson counts above this mean are drawn as sums of counts of this mean (exp(-mean) stays normal).
POISSON_PIECE = 30.0


# -- random numbers: xoshiro256+ per trial, so that trials on any threads give the same result ------

@numba.njit(cache=True, error_model="numpy")
def _draw_poisson(rng, units, table_row, n_pieces, tables, lengths, drawn_unit, drawn_count):
    """This step's Poisson counts of the kernel-drawn sources, as events; returns their number.

    Unit ``units[p]`` draws a count of mean ``mean[p]``, split into ``n_pieces[p]`` pieces of mean
    ``POISSON_PIECE`` (table 0) and a rest (table ``table_row[p]``) so that no table underflows.
    A count is one uniform number ``u`` (xoshiro256+, its state ``rng`` (uint64 (4,)) kept in
    registers) inverted through the distribution: the number of entries of the cumulative table
    ``tables[row, :lengths[row]]`` (``P(X <= k)``) at or below ``u``, counted without a branch over
    a table length fixed per mean, so that neither the count nor the loop's exit is mispredicted.
    Past a table's end (probability below 1e-15) the terms are continued one by one.
    """
    s0, s1, s2, s3 = rng[0], rng[1], rng[2], rng[3]
    n_drawn = 0
    for p in range(units.shape[0]):
        count = 0
        for piece in range(n_pieces[p] + 1):
            row = table_row[p] if piece == n_pieces[p] else 0
            bits = s0 + s3
            shifted = s1 << np.uint64(17)
            s2 ^= s0
            s3 ^= s1
            s1 ^= s2
            s0 ^= s3
            s2 ^= shifted
            s3 = (s3 << np.uint64(45)) | (s3 >> np.uint64(19))
            u = np.float64(bits >> np.uint64(11)) * (1.0 / 9007199254740992.0)
            # (Indexed in place: a view of the row would cost two atomic reference counts a draw.)
            length = lengths[row]
            k = 0
            for term in range(length):
                k += np.int64(u >= tables[row, term])
            if k == length:                       # beyond the table: rarer than 1e-15
                k = _poisson_tail(u, tables[row], length)
            count += k
        # (Written whether or not the count is 0, and kept only if it is not: no branch to mispredict.)
        drawn_unit[n_drawn] = units[p]
        drawn_count[n_drawn] = count
        n_drawn += np.int64(count > 0)
    rng[0], rng[1], rng[2], rng[3] = s0, s1, s2, s3
    return n_drawn


@numba.njit(cache=True, error_model="numpy")
def _poisson_tail(u, cumulative, length):
    """The count of a uniform ``u`` beyond a cumulative table's last entry: the terms continue as
    ``p(k) = p(k-1) mean / k``, the mean recovered from the table's first two entries."""
    mean = (cumulative[1] - cumulative[0]) / cumulative[0]
    probability = cumulative[length - 1] - cumulative[length - 2]
    total = cumulative[length - 1]
    k = length - 1
    while u >= total and k < 100_000:
        k += 1
        probability *= mean / k
        total += probability
        if probability == 0.0:
            break
    return k


def poisson_tables(means: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The tables of :func:`_draw_poisson` for counts of the given means (any shape, each >= 0):
    ``(table_row, n_pieces, tables, lengths)``, the first two of the shape of ``means``."""
    means = np.asarray(means, dtype=np.float64)
    n_pieces = np.floor(means / POISSON_PIECE).astype(np.int64)
    rest = means - n_pieces * POISSON_PIECE
    distinct, inverse = np.unique(np.concatenate([[POISSON_PIECE], rest.ravel()]), return_inverse=True)
    rows = [_cumulative_poisson(mean) for mean in distinct]
    width = max(row.size for row in rows)
    tables = np.ones((len(rows), width))
    lengths = np.zeros(len(rows), dtype=np.int64)
    for index, row in enumerate(rows):
        tables[index, :row.size] = row
        lengths[index] = row.size
    piece_row = inverse[0]
    order = np.arange(len(rows))
    order[[0, piece_row]] = order[[piece_row, 0]]       # the piece's table first
    tables, lengths = tables[order], lengths[order]
    position = np.argsort(order)
    table_row = position[inverse[1:]].reshape(means.shape).astype(np.int64)
    return table_row, n_pieces, tables, lengths


def _cumulative_poisson(mean: float) -> np.ndarray:
    """``P(X <= k)`` for ``k = 0, 1, ...`` until ``1 - P < 1e-15`` (at least two entries)."""
    terms = [math.exp(-mean)]
    total = terms[0]
    cumulative = [total]
    k = 0
    while (1.0 - total > 1e-15 or len(cumulative) < 2) and k < 200:
        k += 1
        terms.append(terms[-1] * mean / k)
        total += terms[-1]
        cumulative.append(total)
    return np.array(cumulative)


# -- synapses ------------------------------------------------------------------------------------

@numba.njit(cache=True, error_model="numpy")
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


@numba.njit(cache=True, error_model="numpy")
def _deliver_rows(state, base, n_post, dense_weights, row_offset, pre_first, n_pre, scale,
                  unit, count, first, stop):
    """Dense ``W.T``: for each event in ``[first, stop)`` from the pre range, add ``scale * count``
    times its row to ``state[base:base + n_post]``."""
    target = state[base:base + n_post]
    for e in range(first, stop):
        j = unit[e] - pre_first
        if j < 0 or j >= n_pre:
            continue
        amount = scale * count[e]
        row = row_offset + j * n_post
        weights = dense_weights[row:row + n_post]
        for i in range(n_post):
            target[i] += amount * weights[i]


@numba.njit(cache=True, error_model="numpy")
def _deliver_sparse(state, base, n_post, pointers, indices, weights, uniform_weight, pre_first,
                    n_pre, scale, unit, count, first, stop):
    """CSR ``W.T`` (``pointers`` (n_pre + 1,) into ``indices``, ``weights``; ``weights`` empty when
    every synapse has ``uniform_weight``): each event adds its outgoing synapses' weights."""
    target = state[base:base + n_post]
    uniform_weights = weights.size == 0
    for e in range(first, stop):
        j = unit[e] - pre_first
        if j < 0 or j >= n_pre:
            continue
        amount = scale * count[e]
        start, end = pointers[j], pointers[j + 1]
        if uniform_weights:
            added = amount * uniform_weight
            for s in range(start, end):
                target[indices[s]] += added
        else:
            for s in range(start, end):
                target[indices[s]] += amount * weights[s]


@numba.njit(cache=True, error_model="numpy")
def _deliver_sparse_delays(state, ring_base, n_post, n_slots, step, pointers, indices, weights,
                           uniform_weight, delays, pre_first, n_pre, scale, unit, count, first, stop):
    """CSR ``W.T`` with one delay (steps, in ``[1, n_slots]``) per synapse: an event at ``step``
    adds each synapse's weight to ring slot ``(step + delay - 1) mod n_slots``."""
    uniform_weights = weights.size == 0
    current = (step - 1) % n_slots
    for e in range(first, stop):
        j = unit[e] - pre_first
        if j < 0 or j >= n_pre:
            continue
        amount = scale * count[e]
        for s in range(pointers[j], pointers[j + 1]):
            slot = current + delays[s]
            if slot >= n_slots:
                slot -= n_slots
            weight = uniform_weight if uniform_weights else weights[s]
            state[ring_base + slot * n_post + indices[s]] += amount * weight


@numba.njit(cache=True, error_model="numpy")
def if_step(v, refractory_left, v_in, dt, tau_ref, subtract):
    """One step of a non-leaky integrate-and-fire neuron, ``dv/dt = v_in`` (threshold 1, ``v_in`` in
    1/s), exact for ``v_in`` constant over the step.

    Free and at or above the threshold, the neuron fires; the reset subtracts 1 (``subtract``) or
    sets ``v = 0``, and ``v`` is then held for ``tau_ref``. A ``v`` at or above 1 when the neuron is
    free (after a delta input, or what a subtraction left) fires at once, again every ``tau_ref``
    while it stays there (all at once when ``tau_ref = 0``). From below the threshold the crossings
    come ``tau_ref + 1 / v_in`` apart (the reset leaves exactly 0 either way), so the rate of a
    constant input is ``v_in / (1 + v_in tau_ref)``.

    Returns ``(v, refractory_left, n_held, held_first, n_crossed, crossed_first, period)``: the
    ``n_held`` spikes of a ``v`` that was already at the threshold, at ``held_first + j tau_ref``,
    and the ``n_crossed`` crossings, at ``crossed_first + j period`` (s from the start of the step).
    ``n_held = -1`` reports a runaway input (more than ``MAX_SPIKES_PER_STEP`` spikes).
    """
    if refractory_left >= dt:
        return v, refractory_left - dt, 0, 0.0, 0, 0.0, 0.0
    t = refractory_left
    n_held = 0
    held_first = t
    if v >= 1.0:
        n_held = 1
        if subtract:
            whole = math.floor(v)
            if tau_ref > 0.0:             # one spike per refractory period while v holds the threshold
                whole = min(whole, math.ceil((dt - t) / tau_ref))
            if whole >= MAX_SPIKES_PER_STEP:
                return v, 0.0, -1, 0.0, 0, 0.0, 0.0
            n_held = int(whole)
            v -= whole
        else:
            v = 0.0
        t += n_held * tau_ref
        if t >= dt and tau_ref > 0.0:
            return v, t - dt, n_held, held_first, 0, 0.0, 0.0
    free = dt - t
    if v_in <= 0.0 or v + v_in * free < 1.0:
        return v + v_in * free, 0.0, n_held, held_first, 0, 0.0, 0.0
    crossed_first = t + (1.0 - v) / v_in
    if crossed_first >= dt:           # reaches 1 at the end of the step: it fires at the next one
        return 1.0, 0.0, n_held, held_first, 0, 0.0, 0.0
    period = tau_ref + 1.0 / v_in
    count = math.ceil((dt - crossed_first) / period)
    if count >= MAX_SPIKES_PER_STEP:
        return v, 0.0, -1, 0.0, 0, 0.0, 0.0
    n_crossed = max(1, int(count))
    free_again = crossed_first + (n_crossed - 1) * period + tau_ref
    if free_again >= dt:
        return 0.0, free_again - dt if tau_ref > 0.0 else 0.0, n_held, held_first, n_crossed, \
            crossed_first, period
    return min(v_in * (dt - free_again), 1.0), 0.0, n_held, held_first, n_crossed, crossed_first, period


@numba.njit(cache=True, error_model="numpy")
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


@numba.njit(cache=True, error_model="numpy")
def _lif_free_pass(v, refractory, current, constant, extra, decay, dt, flagged, jumps, synapse_a, decay_a,
                   synapse_b, decay_b):
    """The common cases of :func:`lif_step` for the neurons of one LIF population, in one
    vectorised pass that also computes their input: refractory for the whole step, or free and
    still below threshold at its end. Flags the others (a spike, or a refractory period ending
    inside the step), leaving their ``v`` as it was (plus a jump that arrived while free). Returns
    False when a voltage or input is not finite.

    The input is ``constant`` (bias and constant current), plus ``current`` when ``extra`` (other
    synapses, a time-varying input, prepared by :func:`_input_currents`), plus up to two fused
    exponential synapses ``synapse_a``, ``synapse_b``, decayed here by ``decay_a``, ``decay_b``
    (their inputs of the step already arrived, see ``G_FUSED``); it is written to ``current``.
    ``jumps`` (the delta inputs of the step, cleared here) and the synapses may be None: Numba then
    compiles the pass without them, and one pass reads and writes each array once.

    (Locals and bitwise operators keep the loop free of branches, so that it vectorises.)
    """
    finite = True
    for i in range(v.shape[0]):
        current_i = constant[i]
        if extra:
            current_i += current[i]
        if synapse_a is not None:
            value = synapse_a[i] * decay_a
            synapse_a[i] = value
            current_i += value
        if synapse_b is not None:
            value = synapse_b[i] * decay_b
            synapse_b[i] = value
            current_i += value
        current[i] = current_i
        left = refractory[i]
        v_now = v[i]
        if jumps is not None:
            v_now += jumps[i] * (left <= 0.0)      # a jump during the refractory period is lost
            jumps[i] = 0.0
        held = left >= dt
        v_end = current_i + (v_now - current_i) * decay[i]
        finite &= abs(v_end) < np.inf
        other = (left < dt) & ((left > 0.0) | (v_end >= 1.0) | (v_now >= 1.0))
        flagged[i] = other
        v[i] = 0.0 if held else (v_now if other else v_end)
        refractory[i] = left - dt if held else left
    return finite


@numba.njit(cache=True, error_model="numpy")
def _lif_populations_pass(populations, groups, propagators, syn, v, refractory, current, constant, decay,
                          dt, flags, jumps, fused_counts):
    """:func:`_lif_free_pass` for every population of LIF neurons without noise (rows of the
    population table, see ``F_*``), each with its 0, 1 or 2 fused synapses; ``jumps`` is None when
    no delta synapse reaches them. Returns False when non-finite."""
    finite = True
    for f in range(populations.shape[0]):
        first, n = populations[f, F_FIRST], populations[f, F_N]
        part = slice(first, first + n)
        extra = populations[f, F_EXTRA] != 0
        a, b = populations[f, F_GROUP_A], populations[f, F_GROUP_B]
        jumps_part = None
        if jumps is not None:
            jumps_part = jumps[part]
        if fused_counts is None:                  # no population has a fused synapse
            finite &= _lif_free_pass(v[part], refractory[part], current[part], constant[part], extra,
                                     decay[part], dt, flags[part], jumps_part, None, 0.0, None, 0.0)
        elif a < 0:
            finite &= _lif_free_pass(v[part], refractory[part], current[part], constant[part], extra,
                                     decay[part], dt, flags[part], jumps_part, None, 0.0, None, 0.0)
        elif b < 0:
            state_a = syn[groups[a, G_STATE_OFFSET]:groups[a, G_STATE_OFFSET] + n]
            finite &= _lif_free_pass(v[part], refractory[part], current[part], constant[part], extra,
                                     decay[part], dt, flags[part], jumps_part, state_a, propagators[a, 0],
                                     None, 0.0)
        else:
            state_a = syn[groups[a, G_STATE_OFFSET]:groups[a, G_STATE_OFFSET] + n]
            state_b = syn[groups[b, G_STATE_OFFSET]:groups[b, G_STATE_OFFSET] + n]
            finite &= _lif_free_pass(v[part], refractory[part], current[part], constant[part], extra,
                                     decay[part], dt, flags[part], jumps_part, state_a, propagators[a, 0],
                                     state_b, propagators[b, 0])
    return finite


@numba.njit(cache=True, error_model="numpy")
def _add_event(events_unit, events_count, events_first, events_period, n_events, unit, count, first,
               period):
    events_unit[n_events] = unit
    events_count[n_events] = count
    events_first[n_events] = first
    events_period[n_events] = period
    return n_events + 1


@numba.njit(cache=True, error_model="numpy")
def _hashed_uniform(a, b, c):
    """A double in [0, 1) that depends only on the three integers (splitmix64 of their mix): spike
    times of kernel-drawn Poisson counts, chosen without touching the generator's stream, so that
    recording a source does not change the simulation."""
    z = np.uint64(a) * np.uint64(0x9E3779B97F4A7C15) + np.uint64(b) * np.uint64(0xBF58476D1CE4E5B9) \
        + np.uint64(c) * np.uint64(0x94D049BB133111EB)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    z = z ^ (z >> np.uint64(31))
    return np.float64(z >> np.uint64(11)) * (1.0 / 9007199254740992.0)


@numba.njit(cache=True, error_model="numpy")
def _flush_spikes(trial, record_unit, unit, count, first, period, n_events, drawn, n_drawn, drawn_step, dt,
                  record_neuron, record_time, record_count):
    """Write the recorded units' spikes into the trial's record: the neurons' events of the last
    step, and the Poisson counts ``drawn`` (units, counts per trial; None without kernel-drawn
    sources) for step ``drawn_step``, each spike at a time in ``((drawn_step - 1) dt, drawn_step
    dt]``, where it would have been to be felt then. Returns False, writing nothing, when they do
    not fit."""
    needed = 0
    for e in range(n_events):
        if record_unit[unit[e]]:
            needed += count[e]
    if drawn is not None:
        drawn_unit, drawn_count = drawn[0][trial], drawn[1][trial]
        for e in range(n_drawn):
            if record_unit[drawn_unit[e]]:
                needed += drawn_count[e]
    if needed == 0:
        return True
    n = record_count[trial]
    if n + needed > record_neuron.shape[1]:
        return False
    for e in range(n_events):
        if not record_unit[unit[e]]:
            continue
        for j in range(count[e]):
            record_neuron[trial, n] = unit[e]
            record_time[trial, n] = first[e] + j * period[e]
            n += 1
    if drawn is not None:
        drawn_unit, drawn_count = drawn[0][trial], drawn[1][trial]
        for e in range(n_drawn):
            if not record_unit[drawn_unit[e]]:
                continue
            for j in range(drawn_count[e]):
                record_neuron[trial, n] = drawn_unit[e]
                record_time[trial, n] = (drawn_step - _hashed_uniform(drawn_unit[e], drawn_step, j)) * dt
                n += 1
    record_count[trial] = n
    return True


# -- one step, phase by phase (separate functions: each compiles once, and quickly) --------------

# Columns of the connection table (int64 (C, N_CONNECTION_COLUMNS)); the ring and input offsets are
# those of the connection's synapse group.
(C_EVENTS, C_PRE_FIRST, C_N_PRE, C_POST_FIRST, C_N_POST, C_STORAGE, C_DENSE_OFFSET, C_POINTER_OFFSET,
 C_INDEX_OFFSET, C_WEIGHT_OFFSET, C_DELAY_OFFSET, C_N_SYNAPSES, C_DELAY, C_PER_SYNAPSE_DELAY, C_N_SLOTS,
 C_RING_OFFSET, C_INPUT_OFFSET) = range(17)
N_CONNECTION_COLUMNS = 17
# Columns of the synapse-group table (int64 (G, N_GROUP_COLUMNS)). Connections onto the same
# population through equal synapses and rings of the same length share one state and one ring:
# their inputs add up (the synapse is linear), so the group decays and empties its ring once.
# A "fused" group (an exponential synapse, order 0) decays in the same pass that adds it to the
# neurons' currents, after its inputs arrived: they are delivered divided by its decay factor, so
# that decay(x + a / P) = P x + a, the order of the notes' algorithm (decay, then add). Up to two
# fused groups of an LIF population decay inside the population's LIF pass (G_IN_PASS), so that
# one pass reads and writes each array once.
(G_POST_FIRST, G_N_POST, G_N_STAGES, G_STATE_OFFSET, G_INPUT_OFFSET, G_N_SLOTS, G_RING_OFFSET, G_FUSED,
 G_IN_PASS) = range(9)
N_GROUP_COLUMNS = 9
# Columns of the table of LIF populations without noise (int64 (F, N_POPULATION_COLUMNS)): first
# neuron, size, its fused groups A and B (-1: none), and whether other inputs (more synapses, a
# time-varying current) are prepared in ``current`` first.
F_FIRST, F_N, F_GROUP_A, F_GROUP_B, F_EXTRA = range(5)
N_POPULATION_COLUMNS = 5
# Columns of the connection float table (float64 (C, 3)).
CF_UNIFORM_WEIGHT, CF_SPIKE_INPUT = 0, 1
# Columns of the probe table (int64 (Q, N_PROBE_COLUMNS)).
(Q_KIND, Q_EVERY, Q_N, Q_UNIT_OFFSET, Q_EVENTS, Q_TARGET_FIRST, Q_TARGET_N, Q_LOOKUP_OFFSET, Q_N_STAGES,
 Q_STATE_OFFSET, Q_OUT_OFFSET, Q_N_SAMPLES) = range(12)
N_PROBE_COLUMNS = 12
# Columns of the per-trial counters (int64 (T, N_TRIAL_COLUMNS)).
T_POSITION, T_N_SPIKED, T_FLUSHED, T_N_DRAWN, T_STATUS, T_STATUS_STEP = range(6)
N_TRIAL_COLUMNS = 6


@numba.njit(cache=True, error_model="numpy")
def _connections_arrive(step, events, table, floats, syn, dense_weights, sparse, delays, unit, count,
                        first, last):
    """Every connection whose presynaptic events are of kind ``events`` (see ``EVENTS_*``), at step
    ``step``: the events ``[first, last)`` arrive, into the synapse's input (its first stage, or the
    jumps) or into the ring slot of their delay.

    ``dense_weights`` (all dense ``W.T`` rows), ``sparse`` (CSR pointers, indices and weights) and
    ``delays`` (per synapse) are None when no connection needs them: Numba then leaves their code
    out of the compiled kernel.
    """
    for c in range(table.shape[0]):
        row = table[c]
        if row[C_EVENTS] != events:
            continue
        n_post = row[C_N_POST]
        n_slots = row[C_N_SLOTS]
        base = row[C_INPUT_OFFSET]
        if n_slots > 1:
            base = row[C_RING_OFFSET] + ((step + row[C_DELAY] - 1) % n_slots) * n_post
        scale = floats[c, CF_SPIKE_INPUT]
        if last > first:
            if row[C_STORAGE] == STORE_DENSE:
                if dense_weights is not None:
                    _deliver_rows(syn, base, n_post, dense_weights, row[C_DENSE_OFFSET], row[C_PRE_FIRST],
                                  row[C_N_PRE], scale, unit, count, first, last)
            elif sparse is not None:
                pointers, indices, weights = sparse
                p0 = row[C_POINTER_OFFSET]
                n_synapses = row[C_N_SYNAPSES]
                i0 = row[C_INDEX_OFFSET]
                w0 = row[C_WEIGHT_OFFSET]
                synapse_weights = weights[w0:w0 + n_synapses] if row[C_STORAGE] == STORE_SPARSE \
                    else weights[0:0]
                row_pointers = pointers[p0:p0 + row[C_N_PRE] + 1]
                synapse_posts = indices[i0:i0 + n_synapses]
                if delays is not None and row[C_PER_SYNAPSE_DELAY]:
                    d0 = row[C_DELAY_OFFSET]
                    _deliver_sparse_delays(syn, row[C_RING_OFFSET], n_post, n_slots, step, row_pointers,
                                           synapse_posts, synapse_weights, floats[c, CF_UNIFORM_WEIGHT],
                                           delays[d0:d0 + n_synapses], row[C_PRE_FIRST], row[C_N_PRE],
                                           scale, unit, count, first, last)
                else:
                    _deliver_sparse(syn, base, n_post, row_pointers, synapse_posts, synapse_weights,
                                    floats[c, CF_UNIFORM_WEIGHT], row[C_PRE_FIRST], row[C_N_PRE], scale,
                                    unit, count, first, last)


@numba.njit(cache=True, error_model="numpy")
def _synapses_decay(groups, propagators, syn):
    """The free evolution over one step of every PSC synapse group that is not fused (see
    ``G_FUSED``; the fused ones decay in :func:`_input_currents`)."""
    for g in range(groups.shape[0]):
        if groups[g, G_N_STAGES] > 0 and not groups[g, G_FUSED]:
            _propagate(syn, groups[g, G_STATE_OFFSET], groups[g, G_N_STAGES], groups[g, G_N_POST],
                       propagators[g])


@numba.njit(cache=True, error_model="numpy")
def _filters_arrive(events, table, spike_input, propagators, lookup_table, syn, unit, count, first, last):
    """Every filtered probe of a target whose events are of kind ``events``: its cascades decay
    and the target's events of the step arrive."""
    for q in range(table.shape[0]):
        row = table[q]
        if row[Q_KIND] != PROBE_FILTERED or row[Q_EVENTS] != events:
            continue
        base = row[Q_STATE_OFFSET]
        _propagate(syn, base, row[Q_N_STAGES], row[Q_N], propagators[q])
        target_n = row[Q_TARGET_N]
        lookup = lookup_table[row[Q_LOOKUP_OFFSET]:row[Q_LOOKUP_OFFSET] + target_n]
        for e in range(first, last):
            j = unit[e] - row[Q_TARGET_FIRST]
            if 0 <= j < target_n and lookup[j] >= 0:
                syn[base + lookup[j]] += spike_input[q] * count[e]


@numba.njit(cache=True, error_model="numpy")
def _input_currents(step, current, constant, current_time, copy_ranges, zero_ranges, groups, propagators,
                    syn):
    """Each neuron's input over the step: constant (bias included), time-varying, synaptic; first,
    every delay ring's slot of this step empties into its group's input.

    The neurons of ``copy_ranges`` (int64 (R, 2): first neuron, count) start from their constant
    input; those of ``zero_ranges`` from 0 (LIF populations whose pass adds the constant, see
    :func:`_lif_free_pass`); the groups decayed in an LIF pass (``G_IN_PASS``) are left to it.
    """
    for g in range(groups.shape[0]):
        n_slots = groups[g, G_N_SLOTS]
        if n_slots > 1:
            n_post = groups[g, G_N_POST]
            slot_base = groups[g, G_RING_OFFSET] + (step % n_slots) * n_post
            slot = syn[slot_base:slot_base + n_post]
            target = syn[groups[g, G_INPUT_OFFSET]:groups[g, G_INPUT_OFFSET] + n_post]
            for i in range(n_post):
                target[i] += slot[i]
                slot[i] = 0.0
    for ranges, copy in ((copy_ranges, True), (zero_ranges, False)):
        for r in range(ranges.shape[0]):
            first, count = ranges[r, 0], ranges[r, 1]
            target = current[first:first + count]
            source = constant[first:first + count]
            for i in range(count):
                target[i] = source[i] if copy else 0.0
    for g in range(groups.shape[0]):
        row = groups[g]
        if row[G_N_STAGES] == 0 or row[G_IN_PASS]:
            continue
        n_post = row[G_N_POST]
        last_stage = row[G_STATE_OFFSET] + (row[G_N_STAGES] - 1) * n_post
        target = current[row[G_POST_FIRST]:row[G_POST_FIRST] + n_post]
        synaptic = syn[last_stage:last_stage + n_post]
        if row[G_FUSED]:
            decay = propagators[g, 0]
            for i in range(n_post):
                value = synaptic[i] * decay
                synaptic[i] = value
                target[i] += value
        else:
            for i in range(n_post):
                target[i] += synaptic[i]
    if current_time is not None:
        for i in range(current.shape[0]):
            current[i] += current_time[i, step]


@numba.njit(cache=True, error_model="numpy")
def _record_traces(step, trial, table, probe_units, v, current, syn, probe_out, currents):
    """Trace probes read the state at the start of step ``step``: the voltages and filtered trains
    (``currents`` False, before the neurons' update), or the input currents over the step
    (``currents`` True, once the LIF passes computed them)."""
    for q in range(table.shape[0]):
        row = table[q]
        kind = row[Q_KIND]
        if kind == PROBE_SPIKES or step % row[Q_EVERY] != 0 or (kind == PROBE_CURRENT) != currents:
            continue
        sample = step // row[Q_EVERY]
        n_samples = row[Q_N_SAMPLES]
        n_probed = row[Q_N]
        out = probe_out[row[Q_OUT_OFFSET] + trial * n_probed * n_samples:]
        if kind == PROBE_FILTERED:
            top = row[Q_STATE_OFFSET] + (row[Q_N_STAGES] - 1) * n_probed
            for j in range(n_probed):
                out[j * n_samples + sample] = syn[top + j]
            continue
        units = probe_units[row[Q_UNIT_OFFSET]:row[Q_UNIT_OFFSET] + n_probed]
        values = v if kind == PROBE_VOLTAGE else current
        for j in range(n_probed):
            out[j * n_samples + sample] = values[units[j]]


@numba.njit(cache=True, error_model="numpy")
def _lif_events(t_now, dt, v, refractory, current, tau_m, tau_ref, decay, flag_bytes, events_unit,
                events_count, events_first, events_period):
    """The LIF neurons flagged by :func:`_lif_free_pass`, one by one with :func:`lif_step`; their
    spikes become events. Returns the number of events, or -1 for a runaway neuron."""
    n_lif = v.shape[0]
    flagged = flag_bytes[:n_lif]
    flag_words = flag_bytes.view(np.uint64)
    n_events = 0
    # The flags are read eight at a time: most words are zero.
    for word in range(flag_words.size):
        if flag_words[word] == 0:
            continue
        for i in range(8 * word, min(8 * word + 8, n_lif)):
            if not flagged[i]:
                continue
            # A jump that reached the threshold fires now; the rest of the step starts from the reset
            # (its spikes, if any, come one period apart, the first one period on).
            fired_now = refractory[i] <= 0.0 and v[i] >= 1.0
            v_start = 0.0 if fired_now else v[i]
            refractory_start = tau_ref[i] if fired_now else refractory[i]
            v[i], refractory[i], n_fired, first_spike, period = lif_step(
                v_start, refractory_start, current[i], dt, decay[i], tau_m[i], tau_ref[i])
            if fired_now:
                period = first_spike if n_fired > 0 else 0.0
                n_fired += 1
                first_spike = 0.0
            if n_fired == 0:
                continue
            if n_fired >= MAX_SPIKES_PER_STEP or n_fired < 0:
                return -1
            events_unit[n_events] = i
            events_count[n_events] = n_fired
            events_first[n_events] = t_now + first_spike
            events_period[n_events] = period
            n_events += 1
    return n_events


@numba.njit(cache=True, error_model="numpy")
def _noisy_lif_events(step, t_now, dt, first_unit, v, refractory, current, jump, tau_m, tau_ref, decay, sigma,
                      keys, scratch, events_unit, events_count, events_first, events_period, n_events):
    """Step the LIF neurons with white-noise input, one by one with
    :func:`neurosim._lif_kernels.lif_noisy_step` (the step of ``simulate_lif``), after their delta
    jumps; their spikes are appended to the events (one event per neuron: the first spike's time,
    the count, and the mean interval up to the last one; with two or fewer a step, as whenever
    ``tau_ref >= dt / 2``, the times are exact). Returns the number of events, -1 for a runaway
    neuron, -2 for a non-finite state."""
    capacity = scratch.shape[0]
    for k in range(v.shape[0]):
        left = refractory[k]
        v_now = v[k]
        if left <= 0.0:
            v_now += jump[k]
        jump[k] = 0.0
        if not (abs(v_now) < np.inf and abs(current[k]) < np.inf):
            return -2
        if left <= 0.0 and v_now >= 1.0:
            # A jump reached the threshold: a spike now, then the rest of the step from the reset.
            v[k], refractory[k], n_after = lif_noisy_step(0.0, tau_ref[k], current[k], sigma[k], dt, decay[k],
                                                          tau_m[k], tau_ref[k], keys[k], step, scratch)
            count = n_after + 1
            first = 0.0
            last = scratch[min(n_after, capacity) - 1] if n_after > 0 else 0.0
        else:
            v[k], refractory[k], count = lif_noisy_step(v_now, left, current[k], sigma[k], dt, decay[k],
                                                        tau_m[k], tau_ref[k], keys[k], step, scratch)
            if count == 0:
                continue
            first = scratch[0]
            last = scratch[min(count, capacity) - 1]
        if count >= MAX_SPIKES_PER_STEP:
            return -1
        events_unit[n_events] = first_unit + k
        events_count[n_events] = count
        events_first[n_events] = t_now + first
        events_period[n_events] = (last - first) / (min(count, capacity) - 1) if count > 1 else 0.0
        n_events += 1
    return n_events


@numba.njit(cache=True, error_model="numpy")
def _if_events(t_now, dt, first_unit, v, refractory, current, jump, tau_ref, subtract, events_unit,
               events_count, events_first, events_period, n_events):
    """Step the IF neurons; their spikes are appended to the events. Returns the number of events,
    -1 for a runaway neuron, -2 for a non-finite state."""
    for k in range(v.shape[0]):
        start_v = v[k]
        if refractory[k] <= 0.0:
            start_v += jump[k]
        jump[k] = 0.0
        v_next, refractory[k], n_held, held_first, n_fired, first_spike, period = if_step(
            start_v, refractory[k], current[k], dt, tau_ref[k], subtract[k])
        if not (abs(v_next) < np.inf and abs(current[k]) < np.inf):
            return -2
        if n_held < 0:
            return -1
        v[k] = v_next
        if n_held > 0:
            events_unit[n_events] = first_unit + k
            events_count[n_events] = n_held
            events_first[n_events] = t_now + held_first
            events_period[n_events] = tau_ref[k]
            n_events += 1
        if n_fired > 0:
            events_unit[n_events] = first_unit + k
            events_count[n_events] = n_fired
            events_first[n_events] = t_now + first_spike
            events_period[n_events] = period
            n_events += 1
    return n_events


@numba.njit(cache=True, error_model="numpy")
def _hh_events(t_now, dt, first_unit, v, current, jump, gates, hh_params, events_unit, events_count,
               events_first, events_period, n_events):
    """Step the HH neurons; their spikes are appended to the events. Returns the number of events,
    or -1 when the integration diverged."""
    for k in range(v.shape[0]):
        v_now = v[k] + jump[k]
        jump[k] = 0.0
        v[k], n_fired, fraction = _hh_advance(k, v_now, current[k], dt, gates, hh_params)
        if n_fired < 0:
            return -1
        if n_fired > 0:
            events_unit[n_events] = first_unit + k
            events_count[n_events] = 1
            events_first[n_events] = t_now + fraction * dt
            events_period[n_events] = 0.0
            n_events += 1
    return n_events


# -- one trial -----------------------------------------------------------------------------------


@numba.njit(cache=True, nogil=True, error_model="numpy")
def run_steps(stop, worker, n_workers, model, connections, probes, state, outputs, if_neurons, hh_params,
              gates_all, current_time, window, poisson, drawn, filters, dense_weights, sparse, delays, noise,
              lif_jumps, traces, fused_counts, cascades):
    """Advance trials ``worker, worker + n_workers, ...`` of a network to step ``stop``, one after the
    other. Releases the GIL: ``n_workers`` threads, one per ``worker`` in ``0 .. n_workers - 1``,
    share the trials (``0, 1`` for a single thread).

    ``model``, ``connections``, ``probes``, ``state`` and ``outputs`` are tuples of arrays (built by
    :mod:`neurosim._network_layout`, which documents each); ``state`` and ``outputs`` are updated in
    place. The parts a network may not have are arguments of their own, None when absent: Numba then
    leaves their code out of the compiled kernel (one function, so that its code is generated once).
    A trial that cannot go on sets its status (record full, diverged, non-finite) and keeps its
    position.
    """
    dt, n_steps, n_lif, jump_offset, lif, _, _, current_const, _, record_unit, n_quiet, _, _ = model
    lif_tau_m, lif_tau_ref, lif_decay = lif
    c_table, c_floats, g_table, g_propagators, populations, copy_ranges, zero_ranges, _, _, _ = connections
    q_table, probe_units, _ = probes
    (counters, v_all, refractory_all, _, synapses_all, current_all, flags_all,
     events_unit_all, events_count_all, events_first_all, events_period_all, _, rng_all, scratch_all) = state
    _, record_neuron, record_time, record_count = outputs
    for trial in range(worker, counters.shape[0], n_workers):
        if counters[trial, T_STATUS] != STATUS_RUNNING:
            continue
        counter = counters[trial]
        v = v_all[trial]
        n_neurons = v.shape[0]
        n_if = 0
        if if_neurons is not None:
            n_if = if_neurons[0].shape[0]
        n_lif_if = n_lif + n_if
        refractory = refractory_all[trial]
        syn = synapses_all[trial]
        current = current_all[trial]
        events_unit = events_unit_all[trial]
        events_count = events_count_all[trial]
        events_first = events_first_all[trial]
        events_period = events_period_all[trial]
        jump = syn[jump_offset:jump_offset + n_neurons]
        # (Constants are passed as typed values, never as literals: a literal argument would make Numba
        # compile a specialisation per value.)
        neurons_kind, sources_kind, poisson_kind = np.int64(EVENTS_NEURONS), np.int64(EVENTS_SOURCES), \
            np.int64(EVENTS_POISSON)
        zero = np.int64(0)
        voltages_now, currents_now = zero != 0, zero == 0
        # Views taken once per call, not per step (each costs two atomic reference counts).
        quiet = slice(0, n_quiet)
        noisy = slice(n_quiet, n_lif)
        integrate = slice(n_lif, n_lif_if)
        hodgkin = slice(n_lif_if, n_neurons)
        v_quiet, refractory_quiet, current_quiet = v[quiet], refractory[quiet], current[quiet]
        tau_m_quiet, tau_ref_quiet, decay_quiet = lif_tau_m[quiet], lif_tau_ref[quiet], lif_decay[quiet]
        flags = flags_all[trial]
        constant = current_const[trial]

        step = counter[T_POSITION]
        while step < stop:
            # 0. record the spikes of the previous step (they wait in the event lists until they fit).
            if not counter[T_FLUSHED]:
                if not _flush_spikes(trial, record_unit, events_unit, events_count, events_first,
                                     events_period, counter[T_N_SPIKED], drawn, counter[T_N_DRAWN], step - 1,
                                     dt, record_neuron, record_time, record_count):
                    counter[T_STATUS] = STATUS_RECORD_FULL
                    break
                counter[T_FLUSHED] = 1
            # 1. synapses decay, the events arrive (into the synapse, or into a ring slot for later):
            # the neurons' spikes of the previous step, ...
            if cascades is not None:             # (None: every synapse is fused or a delta)
                _synapses_decay(g_table, g_propagators, syn)
            n_spiked = counter[T_N_SPIKED]
            _connections_arrive(step, neurons_kind, c_table, c_floats, syn, dense_weights, sparse, delays,
                                events_unit, events_count, zero, n_spiked)
            if filters is not None:
                _filters_arrive(neurons_kind, q_table, filters[0], filters[1], filters[2], syn, events_unit,
                                events_count, zero, n_spiked)
            # ... the source spikes generated in advance for a window of steps, ...
            if window is not None:
                window_first, window_start, window_unit, window_count = window
                first = window_start[trial, step - window_first]
                last = window_start[trial, step - window_first + 1]
                _connections_arrive(step, sources_kind, c_table, c_floats, syn, dense_weights, sparse, delays,
                                    window_unit[trial], window_count[trial], first, last)
                if filters is not None:
                    _filters_arrive(sources_kind, q_table, filters[0], filters[1], filters[2], syn,
                                    window_unit[trial], window_count[trial], first, last)
            # ... and the counts of high-rate Poisson sources, drawn now (none at step 0: a spike is felt
            # at the first step time at or after it, and a process starting at 0 puts none at t <= 0).
            n_drawn = 0
            if poisson is not None:
                poisson_unit, table_row, n_pieces, tables, lengths = poisson
                drawn_unit, drawn_count = drawn[0][trial], drawn[1][trial]
                if step > 0:
                    n_drawn = _draw_poisson(rng_all[trial], poisson_unit, table_row[trial], n_pieces[trial],
                                            tables, lengths, drawn_unit, drawn_count)
                _connections_arrive(step, poisson_kind, c_table, c_floats, syn, dense_weights, sparse, delays,
                                    drawn_unit, drawn_count, zero, n_drawn)
                if filters is not None:
                    _filters_arrive(poisson_kind, q_table, filters[0], filters[1], filters[2], syn,
                                    drawn_unit, drawn_count, zero, n_drawn)
            counter[T_N_DRAWN] = n_drawn
            # 2. input currents, held constant over the step; 3. probes read the state at t_k.
            _input_currents(step, current, constant, current_time, copy_ranges, zero_ranges, g_table,
                            g_propagators, syn)
            if traces is not None:
                _record_traces(step, trial, q_table, probe_units, v, current, syn, traces, voltages_now)
            # 4. neurons integrate over [t_k, t_k + dt); their spikes arrive at step k + 1 (+ delay).
            t_now = step * dt
            n_events = 0
            if n_quiet > 0:
                if lif_jumps is None:
                    finite = _lif_populations_pass(populations, g_table, g_propagators, syn, v, refractory,
                                                   current, constant, lif_decay, dt, flags, None,
                                                   fused_counts)
                else:
                    finite = _lif_populations_pass(populations, g_table, g_propagators, syn, v, refractory,
                                                   current, constant, lif_decay, dt, flags, jump,
                                                   fused_counts)
                if not finite:
                    counter[T_STATUS] = STATUS_NON_FINITE
                    break
                n_events = _lif_events(t_now, dt, v_quiet, refractory_quiet, current_quiet, tau_m_quiet,
                                       tau_ref_quiet, decay_quiet, flags, events_unit, events_count,
                                       events_first, events_period)
            if noise is not None and n_events >= 0:
                n_events = _noisy_lif_events(step, t_now, dt, n_quiet, v[noisy], refractory[noisy],
                                             current[noisy], jump[noisy], lif_tau_m[noisy],
                                             lif_tau_ref[noisy],
                                             lif_decay[noisy], noise[0], noise[1][trial], scratch_all[trial],
                                             events_unit, events_count, events_first, events_period, n_events)
            if if_neurons is not None and n_events >= 0:
                n_events = _if_events(t_now, dt, n_lif, v[integrate], refractory[integrate],
                                      current[integrate], jump[integrate], if_neurons[0], if_neurons[1],
                                      events_unit, events_count, events_first, events_period, n_events)
            if n_events == -1:
                counter[T_STATUS] = STATUS_RUNAWAY
                break
            if n_events == -2:
                counter[T_STATUS] = STATUS_NON_FINITE
                break
            if hh_params is not None and gates_all is not None:
                n_events = _hh_events(t_now, dt, n_lif_if, v[hodgkin], current[hodgkin], jump[hodgkin],
                                      gates_all[trial], hh_params, events_unit, events_count, events_first,
                                      events_period, n_events)
                if n_events < 0:
                    counter[T_STATUS] = STATUS_HH_DIVERGED
                    break
            if traces is not None:
                _record_traces(step, trial, q_table, probe_units, v, current, syn, traces, currents_now)
            counter[T_N_SPIKED] = n_events
            counter[T_FLUSHED] = n_events == 0 and n_drawn == 0
            step += 1
        if counter[T_STATUS] != STATUS_RUNNING and counter[T_STATUS] != STATUS_RECORD_FULL:
            counter[T_STATUS_STEP] = step
        counter[T_POSITION] = step
        if step == n_steps and not counter[T_FLUSHED] and counter[T_STATUS] == STATUS_RUNNING:
            if _flush_spikes(trial, record_unit, events_unit, events_count, events_first, events_period,
                             counter[T_N_SPIKED], drawn, counter[T_N_DRAWN], step - 1, dt, record_neuron,
                             record_time, record_count):
                counter[T_FLUSHED] = 1
            else:
                counter[T_STATUS] = STATUS_RECORD_FULL
