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
  a spike adds ``w / tau_s`` to the first stage and the last stage is the current's value; the
  current held over a step is its average over the step, ``sum_m A[m] x_{n-m}``
  (:meth:`neurosim.PSC.step_average`), so that a spike delivers exactly its charge. A delta synapse
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

Speed. The LIF neurons without noise are stepped by one vectorised pass per population that
computes their input, decays their fused synapses and integrates the common cases, reading and
writing about 57 bytes per neuron with two synapses (as few as Brian2's fused update; a
neuron's refractory period is held as the time it ends, which the pass only reads); the few
neurons it flags are stepped one by one. The hot loops index the state arrays with unsigned
integers from offsets: Numba checks a signed index for negative wrap-around, which blocks
vectorisation (3x slower), and a view of each array instead costs two atomic reference counts
per array and step. For the same reason the LIF pass and the delivery and propagation helpers call
no other compiled function (their callees are inlined, see ``_lif_step_inlined``): Numba counts the
references to every array a function receives, and prunes those counts only in leaves (they took
10% of CUBA's run time). The IF, noisy-LIF and HH steps (if_step, lif_noisy_step, _hh_advance) are
ordinary calls.

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

# Reference counts. Numba counts the references to every array a compiled function receives (two
# atomic operations per array and call) and prunes the counts only in functions that call no other
# compiled function. The functions called at every step are therefore leaves: what they call is
# inlined into them (``inline="always"``), lif_step through this second dispatcher of its code
# (inlined at every call, so never compiled, or cached, on its own).
_lif_step_inlined = numba.njit(inline="always")(lif_step.py_func)


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


@numba.njit(cache=True, error_model="numpy", inline="always")
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

@numba.njit(cache=True, error_model="numpy", inline="always")
def _propagate(state, offset, n_stages, n_units, propagator):
    """Free evolution of ``n_units`` cascades stored stage-major at ``state[offset:]``."""
    if n_stages == 1:
        decay = propagator[0]
        for i in range(np.uint64(offset), np.uint64(offset + n_units)):
            state[i] *= decay
        return
    for stage in range(n_stages - 1, -1, -1):
        base = np.uint64(offset + stage * n_units)
        for unit in range(np.uint64(n_units)):
            total = propagator[0] * state[base + unit]
            for m in range(1, stage + 1):
                total += propagator[m] * state[base - np.uint64(m * n_units) + unit]
            state[base + unit] = total


@numba.njit(cache=True, error_model="numpy", inline="always")
def _deliver_rows(state, base, n_post, dense_weights, row_offset, pre_first, n_pre, scale,
                  unit, count, first, stop):
    """Dense ``W.T``: for each event in ``[first, stop)`` from the pre range, add ``scale * count``
    times its row to ``state[base:base + n_post]``."""
    target = np.uint64(base)
    for e in range(first, stop):
        j = unit[e] - pre_first
        if j < 0 or j >= n_pre:
            continue
        amount = scale * count[e]
        row = np.uint64(row_offset + j * n_post)
        for i in range(np.uint64(n_post)):
            state[target + i] += amount * dense_weights[row + i]


@numba.njit(cache=True, error_model="numpy", inline="always")
def _deliver_sparse(state, base, sparse, offsets, uniform, uniform_weight, pre_first, n_pre, scale, unit,
                    count, first, stop):
    """CSR ``W.T`` of one connection: its pointers (n_pre + 1,), post indices and weights start at
    ``offsets`` (ints) in the packed ``sparse`` arrays (pointers, indices, weights); when ``uniform``,
    every synapse has ``uniform_weight`` and none is stored. Each event adds its
    outgoing synapses' weights to ``state[base + index]``."""
    pointers, indices, weights = sparse
    p0, i0, w0 = np.uint64(offsets[0]), np.uint64(offsets[1]), np.uint64(offsets[2])
    target = np.uint64(base)
    for e in range(first, stop):
        j = unit[e] - pre_first
        if j < 0 or j >= n_pre:
            continue
        amount = scale * count[e]
        start, end = np.uint64(pointers[p0 + np.uint64(j)]), np.uint64(pointers[p0 + np.uint64(j + 1)])
        if uniform:
            added = amount * uniform_weight
            for s in range(start, end):
                state[target + np.uint64(indices[i0 + s])] += added
        else:
            for s in range(start, end):
                state[target + np.uint64(indices[i0 + s])] += amount * weights[w0 + s]


@numba.njit(cache=True, error_model="numpy", inline="always")
def _deliver_sparse_delays(state, ring_base, n_post, n_slots, step, sparse, offsets, uniform, uniform_weight,
                           delays, pre_first, n_pre, scale, unit, count, first, stop):
    """:func:`_deliver_sparse` with one delay (steps, in ``[1, n_slots]``) per synapse, in ``delays``
    from ``offsets[3]`` on (aligned with the indices): an event at ``step`` adds each synapse's weight
    to ring slot ``(step + delay - 1) mod n_slots``."""
    pointers, indices, weights = sparse
    p0, i0, w0 = np.uint64(offsets[0]), np.uint64(offsets[1]), np.uint64(offsets[2])
    d0 = np.uint64(offsets[3])
    current = (step - 1) % n_slots
    for e in range(first, stop):
        j = unit[e] - pre_first
        if j < 0 or j >= n_pre:
            continue
        amount = scale * count[e]
        for s in range(np.uint64(pointers[p0 + np.uint64(j)]), np.uint64(pointers[p0 + np.uint64(j + 1)])):
            slot = current + delays[d0 + s]
            if slot >= n_slots:
                slot -= n_slots
            weight = uniform_weight if uniform else weights[w0 + s]
            state[np.uint64(ring_base + slot * n_post) + np.uint64(indices[i0 + s])] += amount * weight


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


@numba.njit(cache=True, error_model="numpy", inline="always")
def _lif_free_pass(trial, first, n, v, free_at, current, extra, all_currents, constant, constants, decay,
                   decays, t_now, t_next, flags, jumps, jump_offset, synapse_a, offset_a, decay_a, gain_a,
                   synapse_b, offset_b, decay_b, gain_b):
    """The common cases of :func:`lif_step` for the ``n`` neurons of one LIF population from neuron
    ``first`` on, in one vectorised pass that also computes their input: refractory for the whole
    step, or free and still below threshold at its end. Flags the others (a spike, or a refractory
    period ending inside the step), leaving their ``v`` as it was (plus a jump that arrived while
    free). Returns False when a voltage or input is not finite.

    A neuron is refractory until ``free_at`` (s): for the whole step ``[t_now, t_next)`` when
    ``free_at >= t_next``, free when ``free_at <= t_now``. (The pass reads the end time only; a
    countdown of the time left would be written back at every step. The end time's rounding, about
    1e-16 of the time, stays far below a step.)

    The input is ``constant`` (bias and constant current; per neuron in row ``trial`` of
    ``constants`` when that is not None), plus ``current`` when ``extra`` (other synapses, a
    time-varying input, prepared by :func:`_input_currents`), plus up to two fused exponential
    synapses: the ``synapse_a`` and ``synapse_b`` arrays from ``offset_a``, ``offset_b`` on (the
    population's stages in the synapse state), decayed here by ``decay_a``, ``decay_b`` after their
    inputs of the step arrived (see ``G_FUSED``), whose currents over the step are their values
    times ``gain_a``, ``gain_b`` (their step averages). The input is written to ``current`` for the
    flagged neurons, which :func:`_lif_events` steps, and for all when ``all_currents`` (a current
    probe reads it): storing every neuron's input made CUBA's pass 15% slower. The membrane decays
    by ``decay`` (per neuron in ``decays`` when that is not None).

    ``jumps`` (the delta inputs of the step, from ``jump_offset`` on in row ``trial``; cleared here),
    ``constants``, ``decays`` and the synapses may be None: Numba then compiles the pass without
    them (a shared constant is a register, not a load per neuron). Per neuron and step the pass
    reads and writes ``v`` and the fused synapses, reads ``free_at`` and writes a flag: about 57
    bytes with two synapses.

    (Unsigned indices: Numba adds no negative-index wrap-around to them, so LLVM vectorises the loop
    without a view of each array, which would cost two atomic reference counts per array and step.
    Locals and bitwise operators keep the loop free of branches; the conditional store of the input
    is a masked store.)
    """
    finite = True
    row, start, start_jumps = np.uint64(trial), np.uint64(first), np.uint64(jump_offset + first)
    start_a, start_b = np.uint64(offset_a), np.uint64(offset_b)
    for k in range(np.uint64(n)):
        i = start + k
        current_i = constant if constants is None else constants[row, i]
        if extra:
            current_i += current[i]
        if synapse_a is not None:
            value = synapse_a[start_a + k] * decay_a
            synapse_a[start_a + k] = value
            current_i += value * gain_a
        if synapse_b is not None:
            value = synapse_b[start_b + k] * decay_b
            synapse_b[start_b + k] = value
            current_i += value * gain_b
        end = free_at[i]
        v_now = v[i]
        if jumps is not None:
            v_now += jumps[row, start_jumps + k] * (end <= t_now)    # lost during the refractory period
            jumps[row, start_jumps + k] = 0.0
        decay_i = decay if decays is None else decays[i]
        v_end = current_i + (v_now - current_i) * decay_i
        finite &= abs(v_end) < np.inf
        held = end >= t_next
        other = (end < t_next) & ((end > t_now) | (v_end >= 1.0) | (v_now >= 1.0))
        flags[i] = other
        if other | all_currents:
            current[i] = current_i
        v[i] = 0.0 if held else (v_now if other else v_end)
    return finite


@numba.njit(cache=True, error_model="numpy")
def _lif_populations_pass(tables_0, tables_1, tables_2, trial, syn, v, free_at, current, constants, decays,
                          jumps, jump_offset, t_now, t_next, flags):
    """:func:`_lif_free_pass` for every population of LIF neurons without noise. ``tables_k`` holds
    the populations with ``k`` fused synapses (int table, see ``F_*``; float table, see ``FP_*``), or
    is None when there is none: the pass is compiled for the kinds a network has. ``constants``
    (n_trials, n_neurons) and ``decays`` (n_lif,) are None when each population's constant input and
    membrane decay is one number (in its float table), ``jumps`` (the synapse state of every trial)
    when no delta synapse reaches them. Returns False when non-finite. (Each of these is passed down
    as it came, never chosen in a branch: Numba compiles both sides of a test of an array against
    None.)
    (:func:`_lif_free_pass` is inlined: a call would count the references to its array arguments.)"""
    finite = True
    if tables_0 is not None:
        ints, floats = tables_0
        for f in range(ints.shape[0]):
            finite &= _lif_free_pass(trial, ints[f, F_FIRST], ints[f, F_N], v, free_at, current,
                                     ints[f, F_EXTRA] != 0, ints[f, F_ALL_CURRENTS] != 0,
                                     floats[f, FP_CONSTANT], constants, floats[f, FP_DECAY], decays, t_now,
                                     t_next, flags, jumps, jump_offset,
                                     None, 0, 0.0, 0.0, None, 0, 0.0, 0.0)
    if tables_1 is not None:
        ints, floats = tables_1
        for f in range(ints.shape[0]):
            finite &= _lif_free_pass(trial, ints[f, F_FIRST], ints[f, F_N], v, free_at, current,
                                     ints[f, F_EXTRA] != 0, ints[f, F_ALL_CURRENTS] != 0,
                                     floats[f, FP_CONSTANT], constants, floats[f, FP_DECAY], decays, t_now,
                                     t_next, flags, jumps, jump_offset,
                                     syn, ints[f, F_STATE_A], floats[f, FP_DECAY_A], floats[f, FP_GAIN_A],
                                     None, 0, 0.0, 0.0)
    if tables_2 is not None:
        ints, floats = tables_2
        for f in range(ints.shape[0]):
            finite &= _lif_free_pass(trial, ints[f, F_FIRST], ints[f, F_N], v, free_at, current,
                                     ints[f, F_EXTRA] != 0, ints[f, F_ALL_CURRENTS] != 0,
                                     floats[f, FP_CONSTANT], constants, floats[f, FP_DECAY], decays, t_now,
                                     t_next, flags, jumps, jump_offset,
                                     syn, ints[f, F_STATE_A], floats[f, FP_DECAY_A], floats[f, FP_GAIN_A],
                                     syn, ints[f, F_STATE_B], floats[f, FP_DECAY_B], floats[f, FP_GAIN_B])
    return finite


@numba.njit(cache=True, error_model="numpy", inline="always")
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
        drawn_unit, drawn_count = drawn
        for e in range(n_drawn):
            if record_unit[drawn_unit[trial, e]]:
                needed += drawn_count[trial, e]
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
        drawn_unit, drawn_count = drawn
        for e in range(n_drawn):
            unit_e = drawn_unit[trial, e]
            if not record_unit[unit_e]:
                continue
            for j in range(drawn_count[trial, e]):
                record_neuron[trial, n] = unit_e
                record_time[trial, n] = (drawn_step - _hashed_uniform(unit_e, drawn_step, j)) * dt
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
# The LIF populations without noise, in three pairs of tables by their number of fused groups (0, 1
# or 2; see _lif_populations_pass). Int columns (int64 (F, N_POPULATION_COLUMNS)): first neuron, size,
# whether other inputs (more synapses, a time-varying current) are prepared in ``current`` first,
# whether every neuron's input is kept in ``current`` (for a current probe), and the synapse-state
# offsets of the fused groups A and B (0 when absent). Float columns (float64
# (F, N_POPULATION_FLOATS)): the constant input and the membrane's decay over a step (when they are
# one number for the population; see ``constants`` and ``decays`` in run_steps), the decays of
# groups A and B and their step averages (the current held over the step per unit of synapse state).
F_FIRST, F_N, F_EXTRA, F_ALL_CURRENTS, F_STATE_A, F_STATE_B = range(6)
N_POPULATION_COLUMNS = 6
FP_CONSTANT, FP_DECAY, FP_DECAY_A, FP_DECAY_B, FP_GAIN_A, FP_GAIN_B = range(6)
N_POPULATION_FLOATS = 6
# Columns of the connection float table (float64 (C, 2)).
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
    if last <= first:
        return
    for c in range(table.shape[0]):
        if table[c, C_EVENTS] != events:
            continue
        n_post = table[c, C_N_POST]
        n_slots = table[c, C_N_SLOTS]
        base = table[c, C_INPUT_OFFSET]
        if n_slots > 1:
            base = table[c, C_RING_OFFSET] + ((step + table[c, C_DELAY] - 1) % n_slots) * n_post
        scale = floats[c, CF_SPIKE_INPUT]
        storage = table[c, C_STORAGE]
        if storage == STORE_DENSE:
            if dense_weights is not None:
                _deliver_rows(syn, base, n_post, dense_weights, table[c, C_DENSE_OFFSET],
                              table[c, C_PRE_FIRST], table[c, C_N_PRE], scale, unit, count, first, last)
        elif sparse is not None:
            offsets = (table[c, C_POINTER_OFFSET], table[c, C_INDEX_OFFSET], table[c, C_WEIGHT_OFFSET],
                       table[c, C_DELAY_OFFSET])
            uniform = storage == STORE_SPARSE_UNIFORM
            if delays is not None and table[c, C_PER_SYNAPSE_DELAY]:
                _deliver_sparse_delays(syn, table[c, C_RING_OFFSET], n_post, n_slots, step, sparse, offsets,
                                       uniform, floats[c, CF_UNIFORM_WEIGHT], delays, table[c, C_PRE_FIRST],
                                       table[c, C_N_PRE], scale, unit, count, first, last)
            else:
                _deliver_sparse(syn, base, sparse, offsets, uniform, floats[c, CF_UNIFORM_WEIGHT],
                                table[c, C_PRE_FIRST], table[c, C_N_PRE], scale, unit, count, first, last)


@numba.njit(cache=True, error_model="numpy")
def _synapses_decay(groups, propagators, syn):
    """The free evolution over one step of every PSC synapse group that is not fused (see
    ``G_FUSED``; the fused ones decay in :func:`_input_currents` or in an LIF pass)."""
    for g in range(groups.shape[0]):
        if groups[g, G_N_STAGES] > 0 and not groups[g, G_FUSED]:
            _propagate(syn, groups[g, G_STATE_OFFSET], groups[g, G_N_STAGES], groups[g, G_N_POST],
                       propagators[g])


@numba.njit(cache=True, error_model="numpy")
def _filters_arrive(events, table, spike_input, propagators, lookup, syn, unit, count, first, last):
    """Every filtered probe of a target whose events are of kind ``events``: its cascades decay
    and the target's events of the step arrive."""
    for q in range(table.shape[0]):
        if table[q, Q_KIND] != PROBE_FILTERED or table[q, Q_EVENTS] != events:
            continue
        base = table[q, Q_STATE_OFFSET]
        _propagate(syn, base, table[q, Q_N_STAGES], table[q, Q_N], propagators[q])
        target_first, target_n, lookup_offset = table[q, Q_TARGET_FIRST], table[q, Q_TARGET_N], \
            table[q, Q_LOOKUP_OFFSET]
        for e in range(first, last):
            j = unit[e] - target_first
            if 0 <= j < target_n and lookup[lookup_offset + j] >= 0:
                syn[base + lookup[lookup_offset + j]] += spike_input[q] * count[e]


@numba.njit(cache=True, error_model="numpy")
def _input_currents(step, current, constant, current_time, copy_ranges, zero_ranges, groups, propagators,
                    averages, syn):
    """Each neuron's input over the step: constant (bias included), time-varying, synaptic (each
    synapse's current averaged over the step, from ``averages``); first, every delay ring's slot of
    this step empties into its group's input.

    The neurons of ``copy_ranges`` (int64 (R, 2): first neuron, count) start from their constant
    input; those of ``zero_ranges`` from 0 (LIF populations whose pass adds the constant, see
    :func:`_lif_free_pass`); the groups decayed in an LIF pass (``G_IN_PASS``) are left to it.
    """
    for g in range(groups.shape[0]):
        n_slots = groups[g, G_N_SLOTS]
        if n_slots > 1:
            n_post = groups[g, G_N_POST]
            slot = np.uint64(groups[g, G_RING_OFFSET] + (step % n_slots) * n_post)
            target = np.uint64(groups[g, G_INPUT_OFFSET])
            for i in range(np.uint64(n_post)):
                syn[target + i] += syn[slot + i]
                syn[slot + i] = 0.0
    for r in range(copy_ranges.shape[0]):
        for i in range(np.uint64(copy_ranges[r, 0]), np.uint64(copy_ranges[r, 0] + copy_ranges[r, 1])):
            current[i] = constant[i]
    for r in range(zero_ranges.shape[0]):
        for i in range(np.uint64(zero_ranges[r, 0]), np.uint64(zero_ranges[r, 0] + zero_ranges[r, 1])):
            current[i] = 0.0
    for g in range(groups.shape[0]):
        if groups[g, G_N_STAGES] == 0 or groups[g, G_IN_PASS]:
            continue
        n_post = groups[g, G_N_POST]
        n_stages = groups[g, G_N_STAGES]
        target = np.uint64(groups[g, G_POST_FIRST])
        synaptic = np.uint64(groups[g, G_STATE_OFFSET] + (n_stages - 1) * n_post)
        if groups[g, G_FUSED]:
            decay, gain = propagators[g, 0], averages[g, 0]
            for i in range(np.uint64(n_post)):
                value = syn[synaptic + i] * decay
                syn[synaptic + i] = value
                current[target + i] += value * gain
            continue
        # The last stage x_n and the ones before it, x_{n-m} from `synaptic - m n_post` on.
        for m in range(n_stages):
            gain = averages[g, m]
            if gain == 0.0:                      # (the Euler cascade's current is its last stage)
                continue
            stage = synaptic - np.uint64(m * n_post)
            for i in range(np.uint64(n_post)):
                current[target + i] += gain * syn[stage + i]
    if current_time is not None:
        for i in range(current.shape[0]):
            current[i] += current_time[i, step]


@numba.njit(cache=True, error_model="numpy")
def _record_traces(step, trial, table, probe_units, v, current, syn, probe_out, currents):
    """Trace probes read the state at the start of step ``step``: the voltages and filtered trains
    (``currents`` False, before the neurons' update), or the input currents over the step
    (``currents`` True, once the LIF passes computed them)."""
    for q in range(table.shape[0]):
        kind = table[q, Q_KIND]
        if kind == PROBE_SPIKES or step % table[q, Q_EVERY] != 0 or (kind == PROBE_CURRENT) != currents:
            continue
        n_samples = table[q, Q_N_SAMPLES]
        n_probed = table[q, Q_N]
        # Sample step // every of probed neuron j is at out + j * n_samples.
        out = table[q, Q_OUT_OFFSET] + trial * n_probed * n_samples + step // table[q, Q_EVERY]
        if kind == PROBE_FILTERED:
            top = table[q, Q_STATE_OFFSET] + (table[q, Q_N_STAGES] - 1) * n_probed
            for j in range(n_probed):
                probe_out[out + j * n_samples] = syn[top + j]
            continue
        units = table[q, Q_UNIT_OFFSET]
        values = v if kind == PROBE_VOLTAGE else current
        for j in range(n_probed):
            probe_out[out + j * n_samples] = values[probe_units[units + j]]


@numba.njit(cache=True, error_model="numpy")
def _lif_events(t_now, t_next, dt, v, free_at, current, tau_m, tau_ref, decay, flags, flag_words, events_unit,
                events_count, events_first, events_period):
    """The LIF neurons flagged by :func:`_lif_free_pass`, one by one with :func:`lif_step`; their
    spikes become events. Returns the number of events, or -1 for a runaway neuron.

    ``flags`` (uint8, one per neuron, padded to whole cache lines of 64) is read through
    ``flag_words``, its view as uint64: an OR of eight words tells whether any of 64 neurons is
    flagged (few are in a step), then each word whether any of 8 is. ``free_at`` is turned into the
    refractory time left that :func:`lif_step` takes, and back.
    """
    n_events = 0
    n = free_at.shape[0]
    for line in range(0, flag_words.shape[0], 8):
        any_flag = flag_words[line]
        for word in range(line + 1, line + 8):
            any_flag |= flag_words[word]
        if any_flag == 0:
            continue
        for word in range(line, line + 8):
            if flag_words[word] == 0:
                continue
            for i in range(8 * word, min(8 * word + 8, n)):
                if not flags[i]:
                    continue
                left = max(free_at[i] - t_now, 0.0)
                # A jump that reached the threshold fires now; the rest of the step starts from the reset
                # (its spikes, if any, come one period apart, the first one period on).
                fired_now = left <= 0.0 and v[i] >= 1.0
                v_start = 0.0 if fired_now else v[i]
                left_start = tau_ref[i] if fired_now else left
                v[i], left_after, n_fired, first_spike, period = _lif_step_inlined(
                    v_start, left_start, current[i], dt, decay[i], tau_m[i], tau_ref[i])
                if left_after > 0.0:
                    free_at[i] = t_next + left_after
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
              lif_jumps, traces, lif_tables_0, lif_tables_1, lif_tables_2, lif_constants, lif_decays,
              cascades):
    """Advance trials ``worker, worker + n_workers, ...`` of a network to step ``stop``, one after the
    other. Releases the GIL: ``n_workers`` threads, one per ``worker`` in ``0 .. n_workers - 1``,
    share the trials (``0, 1`` for a single thread).

    ``model``, ``connections``, ``probes``, ``state`` and ``outputs`` are tuples of arrays (built by
    :mod:`neurosim._network_layout`, which documents each); ``state`` and ``outputs`` are updated in
    place. The parts a network may not have are arguments of their own, None when absent: Numba then
    leaves their code out of the compiled kernel (one function, so that its code is generated once).
    ``lif_tables_k`` are the LIF populations without noise that have ``k`` fused synapses (see
    ``F_*``); ``lif_constants`` (n_trials, n_neurons) and ``lif_decays`` (n_lif,) are the per-neuron
    constant inputs and membrane decays, None when each population has one of each (its tables hold
    it); ``lif_jumps`` is the synapse state (n_trials, ...) when delta synapses reach those
    populations (the jumps are in it from ``jump_offset``), None otherwise. A trial that cannot go on
    sets its status (record full, diverged, non-finite) and keeps its position.
    """
    dt, n_steps, n_lif, jump_offset, lif, _, _, current_const, _, record_unit, n_quiet, _ = model
    lif_tau_m, lif_tau_ref, lif_decay = lif
    c_table, c_floats, g_table, g_propagators, g_averages, copy_ranges, zero_ranges, _, _, _ = connections
    q_table, probe_units, _ = probes
    (counters, v_all, free_at_all, refractory_all, _, synapses_all, current_all, flags_all,
     events_unit_all, events_count_all, events_first_all, events_period_all, _, rng_all, scratch_all) = state
    _, record_neuron, record_time, record_count = outputs
    # (Constants are passed as typed values, never as literals: a literal argument would make Numba
    # compile a specialisation per value.)
    neurons_kind, sources_kind, poisson_kind = np.int64(EVENTS_NEURONS), np.int64(EVENTS_SOURCES), \
        np.int64(EVENTS_POISSON)
    zero = np.int64(0)
    voltages_now, currents_now = zero != 0, zero == 0
    n_if = 0
    if if_neurons is not None:
        n_if = if_neurons[0].shape[0]
    n_noisy = n_lif - n_quiet
    for trial in range(worker, counters.shape[0], n_workers):
        if counters[trial, T_STATUS] != STATUS_RUNNING:
            continue
        # Views taken once per call, never per step (each costs two atomic reference counts).
        counter = counters[trial]
        v = v_all[trial]
        n_neurons = v.shape[0]
        free_at = free_at_all[trial]
        syn = synapses_all[trial]
        current = current_all[trial]
        events_unit = events_unit_all[trial]
        events_count = events_count_all[trial]
        events_first = events_first_all[trial]
        events_period = events_period_all[trial]
        jump = syn[jump_offset:jump_offset + n_neurons]
        quiet = slice(0, n_quiet)
        v_quiet, current_quiet = v[quiet], current[quiet]
        tau_m_quiet, tau_ref_quiet, decay_quiet = lif_tau_m[quiet], lif_tau_ref[quiet], lif_decay[quiet]
        flags = flags_all[trial]
        flag_words = flags.view(np.uint64)
        constant = current_const[trial]
        if window is not None:
            window_first, window_start, window_unit, window_count = window
            window_units, window_counts = window_unit[trial], window_count[trial]
        if poisson is not None:
            poisson_unit, table_row, n_pieces, tables, lengths = poisson
            rng, rows, pieces = rng_all[trial], table_row[trial], n_pieces[trial]
            drawn_unit, drawn_count = drawn[0][trial], drawn[1][trial]
        refractory = refractory_all[trial]         # time left: the noisy LIF neurons, then the IF ones
        if noise is not None:
            noisy = slice(n_quiet, n_lif)
            noisy_v, noisy_current, noisy_jump = v[noisy], current[noisy], jump[noisy]
            noisy_left = refractory[:n_noisy]
            noisy_tau_m, noisy_tau_ref, noisy_decay = lif_tau_m[noisy], lif_tau_ref[noisy], lif_decay[noisy]
            noise_sigma, noise_keys, noise_scratch = noise[0], noise[1][trial], scratch_all[trial]
        if if_neurons is not None:
            integrate = slice(n_lif, n_lif + n_if)
            if_v, if_current, if_jump = v[integrate], current[integrate], jump[integrate]
            if_left = refractory[n_noisy:n_noisy + n_if]
        if hh_params is not None and gates_all is not None:
            hodgkin = slice(n_lif + n_if, n_neurons)
            hh_v, hh_current, hh_jump, gates = v[hodgkin], current[hodgkin], jump[hodgkin], gates_all[trial]

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
                first = window_start[trial, step - window_first]
                last = window_start[trial, step - window_first + 1]
                _connections_arrive(step, sources_kind, c_table, c_floats, syn, dense_weights, sparse, delays,
                                    window_units, window_counts, first, last)
                if filters is not None:
                    _filters_arrive(sources_kind, q_table, filters[0], filters[1], filters[2], syn,
                                    window_units, window_counts, first, last)
            # ... and the counts of high-rate Poisson sources, drawn now (none at step 0: a spike is felt
            # at the first step time at or after it, and a process starting at 0 puts none at t <= 0).
            n_drawn = 0
            if poisson is not None:
                if step > 0:
                    n_drawn = _draw_poisson(rng, poisson_unit, rows, pieces, tables, lengths, drawn_unit,
                                            drawn_count)
                _connections_arrive(step, poisson_kind, c_table, c_floats, syn, dense_weights, sparse, delays,
                                    drawn_unit, drawn_count, zero, n_drawn)
                if filters is not None:
                    _filters_arrive(poisson_kind, q_table, filters[0], filters[1], filters[2], syn,
                                    drawn_unit, drawn_count, zero, n_drawn)
            counter[T_N_DRAWN] = n_drawn
            # 2. input currents, held constant over the step; 3. probes read the state at t_k.
            _input_currents(step, current, constant, current_time, copy_ranges, zero_ranges, g_table,
                            g_propagators, g_averages, syn)
            if traces is not None:
                _record_traces(step, trial, q_table, probe_units, v, current, syn, traces, voltages_now)
            # 4. neurons integrate over [t_k, t_k + dt); their spikes arrive at step k + 1 (+ delay).
            t_now, t_next = step * dt, (step + 1) * dt
            n_events = 0
            if n_quiet > 0:
                finite = _lif_populations_pass(lif_tables_0, lif_tables_1, lif_tables_2, trial, syn, v,
                                               free_at, current, lif_constants, lif_decays, lif_jumps,
                                               jump_offset, t_now, t_next, flags)
                if not finite:
                    counter[T_STATUS] = STATUS_NON_FINITE
                    break
                n_events = _lif_events(t_now, t_next, dt, v_quiet, free_at, current_quiet, tau_m_quiet,
                                       tau_ref_quiet, decay_quiet, flags, flag_words, events_unit,
                                       events_count, events_first, events_period)
            if noise is not None and n_events >= 0:
                n_events = _noisy_lif_events(step, t_now, dt, n_quiet, noisy_v, noisy_left, noisy_current,
                                             noisy_jump, noisy_tau_m, noisy_tau_ref, noisy_decay,
                                             noise_sigma, noise_keys, noise_scratch, events_unit,
                                             events_count, events_first, events_period, n_events)
            if if_neurons is not None and n_events >= 0:
                n_events = _if_events(t_now, dt, n_lif, if_v, if_left, if_current, if_jump, if_neurons[0],
                                      if_neurons[1], events_unit, events_count, events_first, events_period,
                                      n_events)
            if n_events == -1:
                counter[T_STATUS] = STATUS_RUNAWAY
                break
            if n_events == -2:
                counter[T_STATUS] = STATUS_NON_FINITE
                break
            if hh_params is not None and gates_all is not None:
                n_events = _hh_events(t_now, dt, n_lif + n_if, hh_v, hh_current, hh_jump, gates, hh_params,
                                      events_unit, events_count, events_first, events_period, n_events)
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
