"""How a :class:`neurosim.SpikingNetwork` becomes the arrays of :mod:`neurosim._network_kernels`,
how much memory that takes, and the loop that runs the kernel over windows of steps.

A run allocates, before its first step (:func:`memory_estimate` lists the same items):

- the model: per-neuron constants, the constant input of every trial (``n_trials x n_neurons``), a
  time-varying input (``n_neurons x n_steps``) if any population has one;
- the state of every trial: voltages, refractory times (the end of the period for LIF neurons
  without noise, the time left for the others), HH gates, synapse stages, delay rings, delta jumps,
  filtered-probe stages, the step's input currents, the LIF pass's flags and the event lists;
- source events, generated window by window (``_WINDOW_EVENTS`` events per window at most);
- every trace probe's record, ``n_trials x n x n_samples`` float64, laid out probe by probe so that
  each record is a view of one buffer;
- the spike record, :data:`SPIKE_RECORD_BYTES` per spike, which starts small and doubles when full
  (the kernel stops at the step that does not fit, and the run goes on once it is larger).

Connections are packed into one array per kind (dense rows, CSR pointers, indices, weights,
delays) at the first run after a change; the connections then hold views of the packed arrays, so
the weights are held once.
"""

from __future__ import annotations

import functools
import math
from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np
import scipy.sparse

from . import _network_kernels as kernels
from .hh import METHODS as HH_METHODS
from .hh import STABLE_DT as HH_STABLE_DT
from .lif import neuron_noise_keys
from .spikes import SpikeTrains, felt_steps
from .synapse import PSC, Delta
from .validation import as_finite_array, check_allocation, time_steps

#: Bytes per recorded spike: an int32 unit index and a float64 time.
SPIKE_RECORD_BYTES = 12
#: The largest source rate (Hz) accepted: a spike every nanosecond.
MAX_SOURCE_RATE = 1e9
# A Poisson source whose mean count per step reaches this draws its counts in the kernel (one draw
# per neuron and step beats generating and sorting that many spike times in Python).
_KERNEL_POISSON_MEAN = 0.05
# Source events generated in Python per window of steps, all trials together (16 bytes each).
_WINDOW_EVENTS = 2**22
# The spike record starts with room for this mean rate (Hz) of the recorded neurons, between these
# many spikes (a network that fires more makes it grow, by doubling, each growth checked).
_FIRST_RECORD_RATE = 50.0
_FIRST_RECORD_MIN = 4096
_FIRST_RECORD_MAX = 2**22
# Given to the kernel for a part a network has (synapses that decay apart from the LIF passes), None
# otherwise: Numba then compiles the kernel without that part.
_MARKER = np.zeros(0)
# An exponential synapse whose decay per step is at least this is fused (see G_FUSED in the kernels):
# its inputs are divided by the decay, so it may not be tiny.
_FUSED_DECAY = 1e-3
# Spike times of a noisy LIF neuron in one step kept exactly (more only when tau_ref < dt / 15).
_NOISY_SPIKES_PER_STEP = 16
# Progress bars update this many times over a run.
_PROGRESS_UPDATES = 100
# Bytes per stored synapse while sparse weights are converted (CSC copy of the input and the result).
_CONVERT_BYTES_PER_SYNAPSE = 28


def n_steps_of(t_end, dt) -> int:
    return time_steps(t_end, dt)[2]


# -- connections -----------------------------------------------------------------------------------

def build_connection(pre, post, weights, synapse, delay, dt, scale):
    """A :class:`~neurosim.network.Connection` with its weights in the kernel's form (see
    :meth:`neurosim.SpikingNetwork.connect` for the arguments)."""
    from .network import Connection

    shape = (post.n, pre.n)
    per_synapse_delay = delay is not None and (scipy.sparse.issparse(delay) or np.ndim(delay) > 0)
    if scipy.sparse.issparse(weights) or per_synapse_delay:
        pointers, indices, values = _sparse_transpose(weights, shape)
        values *= scale[indices]
        steps = _synapse_delays(delay, pointers, indices, shape, dt) if per_synapse_delay else None
        delay_steps = _delay_steps(delay, dt) if not per_synapse_delay else int(steps.max(initial=1))
        if steps is not None and delay_steps <= 1:
            steps = None                                  # every delay is one step: no ring needed
        uniform = values.size > 0 and bool(np.all(values == values[0]))
        return Connection(pre, post, synapse, "uniform" if uniform else "sparse", int(values.size),
                          pointers=pointers, indices=indices, weights_t=None if uniform else values,
                          uniform_weight=float(values[0]) if uniform else 0.0, delay_steps=delay_steps,
                          synapse_delays=steps)
    check_allocation("weights", 16.0 * post.n * pre.n, "pass a scipy.sparse matrix (e.g. from "
                     "neurosim.connectivity) for sparse connectivity, or use smaller populations",
                     what=f"a dense {post.n} x {pre.n} weight matrix")
    dense = as_finite_array("weights", weights, ndim=2)
    if dense.shape != shape:
        raise ValueError(f"weights must have shape (post.n, pre.n) = {shape}, got {dense.shape}")
    # W.T, contiguous: what a spike of pre-neuron j adds is row j. (A copy: later edits do not leak in.)
    dense_t = np.ascontiguousarray((dense * scale[:, None]).T).ravel()
    return Connection(pre, post, synapse, "dense", int(dense_t.size), dense_t=dense_t,
                      delay_steps=_delay_steps(delay, dt))


def _sparse_transpose(weights, shape):
    """CSR of ``W.T`` (per presynaptic neuron): pointers int64 (pre.n + 1,), post indices int32,
    weights float64 (a copy)."""
    if scipy.sparse.issparse(weights):
        if weights.shape != shape:
            raise ValueError(f"weights must have shape (post.n, pre.n) = {shape}, got {weights.shape}")
        check_allocation("weights", _CONVERT_BYTES_PER_SYNAPSE * float(weights.nnz) + 8.0 * shape[1],
                         "use fewer synapses or raise the limit",
                         what=f"a sparse {shape[0]} x {shape[1]} matrix of {weights.nnz} synapses")
        if np.iscomplexobj(weights.data) or not np.issubdtype(weights.dtype, np.number):
            raise TypeError(f"weights must hold real numbers, got {weights.dtype}")
        matrix = scipy.sparse.csc_array(weights, dtype=np.float64, copy=True)
    else:
        dense = as_finite_array("weights", weights, ndim=2)
        if dense.shape != shape:
            raise ValueError(f"weights must have shape (post.n, pre.n) = {shape}, got {dense.shape}")
        matrix = scipy.sparse.csc_array(dense)              # the nonzero entries are the synapses
    matrix.sum_duplicates()                                 # (also sorts each column's rows)
    values = np.ascontiguousarray(matrix.data, dtype=np.float64)
    if not np.all(np.isfinite(values)):
        raise ValueError("weights must be finite; they contain NaN or inf")
    return (matrix.indptr.astype(np.int64), matrix.indices.astype(np.int32), values)


def _delay_steps(delay, dt) -> int:
    """One delay for the connection, in steps: ``max(1, round(delay / dt))`` (halves up)."""
    if delay is None:
        return 1
    if isinstance(delay, bool) or not isinstance(delay, int | float | np.integer | np.floating):
        raise TypeError(f"delay must be a number of seconds, an array or a sparse matrix, got "
                        f"{type(delay).__name__}")
    if not (math.isfinite(delay) and delay >= 0):
        raise ValueError(f"delay must be finite and >= 0 (s), got {delay!r}")
    return int(_round_steps(np.array([float(delay)]), dt)[0])


def _round_steps(delays, dt):
    steps = np.floor(np.round(delays / dt, 9) + 0.5)
    if steps.size and steps.max() >= 2**31:
        raise ValueError(f"delay must be shorter than 2**31 steps of dt={dt:g} s, got {delays.max():g} s")
    return np.maximum(steps, 1).astype(np.int32)


def _synapse_delays(delay, pointers, indices, shape, dt):
    """One delay (steps, int32) per stored synapse, aligned with the CSR of ``W.T``."""
    n_post, n_pre = shape
    columns = np.repeat(np.arange(n_pre), np.diff(pointers))
    if scipy.sparse.issparse(delay):
        if delay.shape != shape:
            raise ValueError(f"delay must have shape (post.n, pre.n) = {shape}, got {delay.shape}")
        matrix = scipy.sparse.csc_array(delay, dtype=np.float64, copy=True)
        matrix.sum_duplicates()
        if not (np.array_equal(matrix.indptr, pointers) and np.array_equal(matrix.indices, indices)):
            raise ValueError("delay must have the same sparse structure as weights (one entry per "
                             "synapse: copy the weight matrix and replace its data)")
        values = matrix.data
    else:
        grid = as_finite_array("delay", delay, ndim=2)
        if grid.shape != shape:
            raise ValueError(f"delay must be a number or have shape (post.n, pre.n) = {shape}, "
                             f"got {grid.shape}")
        values = grid[indices, columns]
    if not np.all(np.isfinite(values)) or np.any(values < 0):
        raise ValueError("delay must be finite and >= 0 (s) for every synapse")
    return _round_steps(values, dt)


def synapse_state_bytes(connection, n_trials) -> float:
    """Bytes of a connection's state during a run: its synapse stages and delay ring."""
    stages = connection.synapse.order + 1 if isinstance(connection.synapse, PSC) else 0
    slots = connection.delay_steps if connection.delay_steps > 1 else 0
    return 8.0 * n_trials * connection.post.n * (stages + slots)


def _pack_connections(net):
    """Concatenate the connections' arrays once per change of the network; afterwards every
    connection holds views of the packed arrays."""
    key = tuple(id(c) for c in net.connections)
    packed = getattr(net, "_packed_connections", None)
    if packed is not None and packed[0] == key:
        return packed[1]
    fields = ("dense_t", "pointers", "indices", "weights_t", "synapse_delays")
    dtypes = (np.float64, np.int64, np.int32, np.float64, np.int32)
    arrays = {}
    for name, dtype in zip(fields, dtypes, strict=True):
        parts = [getattr(c, name) for c in net.connections if getattr(c, name) is not None]
        flat = np.concatenate(parts).astype(dtype, copy=False) if parts else np.zeros(0, dtype=dtype)
        offset = 0
        for c in net.connections:
            part = getattr(c, name)
            if part is not None:
                setattr(c, name, flat[offset:offset + part.size])
                offset += part.size
        arrays[name] = flat
    net._packed_connections = (key, arrays)
    return arrays


# -- the run ---------------------------------------------------------------------------------------

class _Plan:
    """The units, sizes and offsets of one run (no large array yet)."""

    def __init__(self, net, n_steps):
        self.n_steps = n_steps
        self.dt = net.dt
        self.trials = net.n_trials
        pops = net.populations
        # LIF neurons without noise first (one vectorised pass), then the noisy ones.
        self.lif = [p for p in pops if p.kind == "lif" and p.params["noise"] is None]
        self.n_quiet = sum(p.n for p in self.lif)
        self.noisy = [p for p in pops if p.kind == "lif" and p.params["noise"] is not None]
        self.n_quiet_populations = len(self.lif)
        self.lif += self.noisy
        self.if_ = [p for p in pops if p.kind == "if"]
        self.hh = [p for p in pops if p.kind == "hh"]
        self.sources = [p for p in pops if p.kind == "source"]
        self.first = {}
        unit = 0
        for p in [*self.lif, *self.if_, *self.hh, *self.sources]:
            self.first[p] = unit
            unit += p.n
        self.n_lif = sum(p.n for p in self.lif)
        self.n_if = sum(p.n for p in self.if_)
        self.n_hh = sum(p.n for p in self.hh)
        self.n_neurons = self.n_lif + self.n_if + self.n_hh
        self.n_units = unit
        self.kernel_poisson = [p for p in self.sources if _draws_in_kernel(p, net.dt)]
        self.python_sources = [p for p in self.sources if p not in self.kernel_poisson]
        self.n_poisson = sum(p.n for p in self.kernel_poisson)
        self.time_varying = any(p.params["current"] is not None and p.params["current"].ndim == 2
                                and p.params["current"].shape != (self.trials, p.n)
                                for p in [*self.lif, *self.if_, *self.hh])
        # Synapse groups: connections onto one population through equal synapses, with rings of
        # one length, share a state and a ring (see neurosim._network_kernels).
        self.groups, self.group_of = [], []
        for c in net.connections:
            key = (c.post, c.synapse, max(1, c.delay_steps))
            if key not in self.groups:
                self.groups.append(key)
            self.group_of.append(self.groups.index(key))
        # Synapse state: the groups' stages, then their rings, then the jumps, then filtered probes.
        offset = 0
        self.state_offset, self.ring_offset = [], []
        for post, synapse, _ in self.groups:
            self.state_offset.append(offset)
            offset += (synapse.order + 1) * post.n if isinstance(synapse, PSC) else 0
        for post, _, n_slots in self.groups:
            self.ring_offset.append(offset)
            offset += n_slots * post.n if n_slots > 1 else 0
        quiet_lif = set(self.lif[:self.n_quiet_populations])
        self.jumps_into_quiet = any(post in quiet_lif and isinstance(synapse, Delta)
                                    for post, synapse, _ in self.groups)
        self.jump_offset = offset
        offset += self.n_neurons
        self.filter_offset = []
        for q in net.probes:
            self.filter_offset.append(offset)
            offset += (q.synapse.order + 1) * q.n if q.kind == "filtered" else 0
        self.synapse_size = offset
        self.n_events = max(1, self.n_neurons + self.n_if)     # an IF neuron may emit two events a step
        self.flag_size = 64 * ((self.n_quiet + 63) // 64)          # whole cache lines
        self.samples = [(n_steps + q.record_every - 1) // q.record_every if q.kind != "spikes" else 0
                        for q in net.probes]
        self.probe_sizes = [self.trials * q.n * m for q, m in zip(net.probes, self.samples, strict=True)]
        self.recorded = {q.target for q in net.probes if q.kind == "spikes" and q.target not in
                         self.python_sources}
        n_recorded = sum(p.n for p in self.recorded)
        t_end = n_steps * net.dt
        self.first_record = 0 if not self.recorded else int(
            min(max(_FIRST_RECORD_MIN, n_recorded * t_end * _FIRST_RECORD_RATE), _FIRST_RECORD_MAX))
        self.window_steps, self.window_events = _window_size(self, net)

    def spike_record_bytes(self):
        """Bytes of the spike record's first allocation (it grows, each growth checked)."""
        return SPIKE_RECORD_BYTES * self.trials * self.first_record

    def run_bytes(self):
        """Bytes a run allocates besides the connections: trace records, state, spike record."""
        return 8.0 * sum(self.probe_sizes) + self.state_bytes() + self.spike_record_bytes()

    def state_bytes(self):
        """Bytes of the model, the trials' state and the source windows (everything but the
        probes' records and the connections)."""
        t, n = self.trials, self.n_neurons
        model = 8.0 * (3 * self.n_lif + 2 * self.n_if + 9 * self.n_hh + t * n) + self.n_units
        if self.time_varying:
            model += 8.0 * n * self.n_steps
        state = 8.0 * t * (1 + 2 * n + self.n_lif + self.n_if + 3 * self.n_hh + self.synapse_size
                           + 4 * self.n_events + 2 + 2 * self.n_poisson + 4 + 2) \
            + t * (self.flag_size + 1) + 8.0 * 3 * t * self.n_poisson
        windows = 0.0
        if self.python_sources:
            windows = 8.0 * t * (self.window_steps + 1) + 16.0 * self.window_events * 3
        return model + state + windows


def _draws_in_kernel(population, dt):
    params = population.params
    return (params.get("source_kind") == "poisson"
            and float(np.mean(params["rates"])) * dt >= _KERNEL_POISSON_MEAN)


def _window_size(plan, net):
    """Steps per window of Python-generated source events, and the events a window holds at most
    (all trials); a function of the network and the run only, so results do not depend on it."""
    if not plan.python_sources:
        return plan.n_steps, 0
    per_step = 0.0
    for p in plan.python_sources:
        if "trains" in p.params:
            per_step += max(sum(t.n_spikes for t in p.params["trains"]) / net.n_trials, 1.0) / plan.n_steps
        else:
            rates = np.broadcast_to(p.params["rates"], (net.n_trials, p.n))
            per_step += float(rates.sum(axis=1).max()) * net.dt
    per_step *= net.n_trials
    steps = int(min(plan.n_steps, max(1, _WINDOW_EVENTS // max(per_step, 1e-300))))
    return steps, int(min(per_step * steps * 1.5 + 64 * net.n_trials, 4 * _WINDOW_EVENTS))


def memory_estimate(net, n_steps) -> dict:
    plan = _Plan(net, n_steps)
    items = {}
    for q, size in zip(net.probes, plan.probe_sizes, strict=True):
        if q.kind != "spikes":
            items[f"probe {q.index} ({q.kind} of {q.target.label})"] = 8 * size
    items["state"] = int(plan.state_bytes())
    items["spike record"] = int(plan.spike_record_bytes())
    items["total"] = int(plan.run_bytes())
    items["connections"] = int(sum(c.nbytes for c in net.connections))
    return items


def _check_memory(net, plan):
    """Refuse, before allocating, any probe or the whole run past the memory limit."""
    t_end = plan.n_steps * plan.dt
    for q, size in zip(net.probes, plan.probe_sizes, strict=True):
        if q.kind == "spikes":
            continue
        m = plan.samples[q.index]
        check_allocation("probe", 8.0 * size,
                         f"record fewer neurons (probe(..., neurons=...)), keep fewer samples "
                         f"(probe(..., record_every={math.ceil(8.0 * size * q.record_every / _limit())})), "
                         f"or run a shorter t_end",
                         what=f"the {q.kind} probe of {q.target.label!r} ({net.n_trials} trial(s) x {q.n} "
                              f"neurons x {m} samples over {t_end:g} s)")
    check_allocation("t_end", plan.run_bytes(),
                     "run shorter pieces of time, record fewer neurons or fewer trials",
                     what=f"a run of {t_end:g} s ({plan.n_steps} steps, {net.n_trials} trial(s))")
    for c in net.connections:
        if c.delay_steps > plan.n_steps:
            raise ValueError(f"delay: the connection {c.pre.label!r} -> {c.post.label!r} has a delay of "
                             f"{c.delay_steps} steps ({c.delay_steps * plan.dt:g} s), longer than the run "
                             f"({plan.n_steps} steps); shorten the delay or run longer")


def _limit():
    from . import validation
    return validation.MAX_ALLOCATION_BYTES


def simulate(net, n_steps, progress):
    """Run ``net`` for ``n_steps`` and return its :class:`~neurosim.NetworkResult`."""
    from .network import NetworkResult

    plan = _Plan(net, n_steps)
    _check_memory(net, plan)
    t_end = n_steps * net.dt
    model = _model(net, plan)
    connections, lif_passes = _connections(net, plan, model)
    probes, probe_out = _probes(net, plan)
    state = _state(net, plan)
    capacity = plan.first_record
    record = (probe_out, np.zeros((plan.trials, capacity), dtype=np.int32),
              np.zeros((plan.trials, capacity)), np.zeros(plan.trials, dtype=np.int64))
    windows = _SourceWindows(net, plan)
    n_workers = min(plan.trials, numba.get_num_threads())
    pool = ThreadPoolExecutor(n_workers) if n_workers > 1 else None

    groups = connections[2]
    cascades = _MARKER if np.any((groups[:, kernels.G_N_STAGES] > 0) & (groups[:, kernels.G_FUSED] == 0)) \
        else None

    def advance(stop):
        # (The parts a network may not have go as arguments of their own, None when absent.)
        window, poisson = sources
        arguments = (model, connections, probes, state, record, model[5], model[6], state[4], model[8],
                     window, poisson, state[12], probes[2], connections[7], connections[8], connections[9],
                     model[11], state[5] if plan.jumps_into_quiet else None,
                     record[0] if record[0].size else None, *lif_passes["tables"], lif_passes["constants"],
                     lif_passes["decays"], cascades)
        if pool is None:
            kernels.run_steps(stop, 0, 1, *arguments)
        else:
            list(pool.map(lambda worker: kernels.run_steps(stop, worker, n_workers, *arguments),
                          range(n_workers)))

    bar = _progress_bar(kernels.run_steps, n_steps, net.dt) if progress else None
    counters = state[0]
    status = counters[:, kernels.T_STATUS]
    chunk = max(1, -(-n_steps // _PROGRESS_UPDATES)) if progress else n_steps
    try:
        for first, last in windows.bounds():
            sources = windows.arrays(first, last)
            stop = first
            while stop < last:
                stop = min(last, stop + chunk)
                while True:
                    advance(stop)
                    if np.any((status != kernels.STATUS_RUNNING) & (status != kernels.STATUS_RECORD_FULL)):
                        _raise_failure(net, status, counters[:, kernels.T_STATUS_STEP])
                    if not np.any(status == kernels.STATUS_RECORD_FULL):
                        break
                    record = _grow_record(record, plan)
                    status[:] = kernels.STATUS_RUNNING
                if bar is not None:
                    bar.update(stop - bar.n)
                    bar.set_description("simulating")
    finally:
        if bar is not None:
            bar.close()
        if pool is not None:
            pool.shutdown()
    records, times = _results(net, plan, record, windows, t_end)
    return NetworkResult(records, times, t_end, net.dt, net.n_trials)


def _progress_bar(kernel, n_steps, dt):
    from tqdm.auto import tqdm

    bar = tqdm(total=n_steps, unit="step", leave=False)
    if not kernel.signatures:
        # The first run of the process loads the kernels from Numba's cache, or compiles them.
        bar.set_description("loading or compiling the network kernels (first run: seconds)")
        bar.refresh()
    else:
        bar.set_description("simulating")
    return bar


def _grow_record(record, plan):
    probe_out, neuron, times, count = record
    capacity = 2 * neuron.shape[1] + _FIRST_RECORD_MIN
    check_allocation("probe", SPIKE_RECORD_BYTES * float(plan.trials) * capacity,
                     "record the spikes of fewer neurons (probe(..., neurons=...)), or run a shorter "
                     "t_end in pieces",
                     what=f"the spike record ({plan.trials} trial(s) x {capacity} spikes)")
    grown_neuron = np.zeros((plan.trials, capacity), dtype=np.int32)
    grown_times = np.zeros((plan.trials, capacity))
    grown_neuron[:, :neuron.shape[1]] = neuron
    grown_times[:, :times.shape[1]] = times
    return probe_out, grown_neuron, grown_times, count


def _raise_failure(net, status, status_step):
    trial = int(np.flatnonzero((status != kernels.STATUS_RUNNING) &
                               (status != kernels.STATUS_RECORD_FULL))[0])
    code, t = int(status[trial]), float(status_step[trial]) * net.dt
    where = f" (trial {trial})" if net.n_trials > 1 else ""
    if code == kernels.STATUS_HH_DIVERGED:
        raise FloatingPointError(
            f"the Hodgkin-Huxley integration diverged at t = {t:.6g} s{where} with dt = {net.dt:g} s "
            f"({net.dt * 1e3:g} ms): the step is too large for the model (or the synaptic input "
            f"too strong). Use dt <= {HH_STABLE_DT:g} s for networks with HH populations")
    largest = max([_largest_weight(c) for c in net.connections] + [0.0])
    if code == kernels.STATUS_RUNAWAY:
        raise FloatingPointError(
            f"a neuron would fire more than {kernels.MAX_SPIKES_PER_STEP} spikes in one step at "
            f"t = {t:.6g} s{where}: its input is runaway (largest |weight| {largest:.3g}); check the "
            "weights and currents, or give the neurons a refractory period")
    raise FloatingPointError(
        f"the network's state became non-finite at t = {t:.6g} s{where}: an input current or a "
        f"membrane potential overflowed (largest |weight| {largest:.3g}). Check the weights, biases "
        "and currents for values far too large (a weight is a charge: the current a spike adds is "
        "w / tau_s)")


def _largest_weight(c):
    for values in (c.dense_t, c.weights_t):
        if values is not None and values.size:
            return float(np.abs(values).max())
    return abs(c.uniform_weight)


def _per_neuron(populations, values, dtype=np.float64):
    if not populations:
        return np.zeros(0, dtype=dtype)
    return np.concatenate([np.broadcast_to(np.asarray(values(p), dtype=dtype), (p.n,)) for p in populations])


def _model(net, plan):
    lif, if_, hh = plan.lif, plan.if_, plan.hh
    simulated = [*lif, *if_, *hh]
    tau_m = _per_neuron(lif, lambda p: p.params["tau_m"])
    decay = np.exp(-net.dt / tau_m)
    hh_params = np.zeros((0, 9))
    if hh:
        hh_params = np.concatenate([np.tile(_hh_row(p), (p.n, 1)) for p in hh])
    current_const = np.zeros((plan.trials, plan.n_neurons))
    current_time = np.zeros((plan.n_neurons, plan.n_steps) if plan.time_varying else (0, 0))
    for p in simulated:
        block = slice(plan.first[p], plan.first[p] + p.n)
        current_const[:, block] = p.params["bias"]
        extra = p.params["current"]
        if extra is None:
            continue
        if extra.ndim == 1 or extra.shape == (plan.trials, p.n):
            current_const[:, block] += extra
        else:
            if extra.shape[1] != plan.n_steps:
                raise ValueError(f"the time-varying current of {p.label!r} has {extra.shape[1]} steps, but "
                                 f"the run has n_steps = round(t_end / dt) = {plan.n_steps}")
            current_time[block] = extra
    record_unit = np.zeros(plan.n_units, dtype=np.bool_)
    for p in plan.recorded:
        record_unit[plan.first[p]:plan.first[p] + p.n] = True
    noise = None
    if plan.noisy:
        keys = np.zeros((plan.trials, plan.n_lif - plan.n_quiet), dtype=np.uint64)
        column = 0
        for p in plan.noisy:
            neurons = np.arange(plan.trials)[:, None] * plan.n_units + plan.first[p] + np.arange(p.n)
            keys[:, column:column + p.n] = neuron_noise_keys(p.params["noise_seed"], neurons.ravel()).reshape(
                plan.trials, p.n)
            column += p.n
        noise = (np.concatenate([p.params["noise"] for p in plan.noisy]), keys)
    if_neurons = None
    if if_:
        if_neurons = (_per_neuron(if_, lambda p: p.params["tau_ref"]),
                      _per_neuron(if_, lambda p: p.params["subtract"], dtype=np.bool_))
    # (Parts a network does not use are None: Numba then compiles the kernel without their code.)
    return (net.dt, plan.n_steps, plan.n_lif, plan.jump_offset,
            (tau_m, _per_neuron(lif, lambda p: p.params["tau_ref"]), decay), if_neurons,
            hh_params if hh else None, current_const, current_time if plan.time_varying else None,
            record_unit, plan.n_quiet, noise)


def _hh_row(population):
    """An HH population's parameters as the kernel's row (see ``_hh_advance``)."""
    params = population.params["params"]
    return np.array([params.capacitance, params.g_na, params.g_k, params.g_l, params.e_na, params.e_k,
                     params.e_l, population.params["threshold"], HH_METHODS[population.params["method"]]],
                    dtype=np.float64)


def _events_kind(plan, population):
    if population.kind != "source":
        return kernels.EVENTS_NEURONS
    return kernels.EVENTS_POISSON if population in plan.kernel_poisson else kernels.EVENTS_SOURCES


@functools.lru_cache(maxsize=256)
def _propagator(synapse, dt):
    return synapse.propagator(dt)


@functools.lru_cache(maxsize=256)
def _step_average(synapse, dt):
    return synapse.step_average(dt)


def _synapse_rows(synapses, dt, row=_propagator):
    """``row(synapse, dt)`` (its propagator, or its step average) of every PSC in ``synapses``, one
    row each, padded with zeros (float64 (len(synapses), longest))."""
    width = max([s.order + 1 for s in synapses if isinstance(s, PSC)] + [1])
    rows = np.zeros((len(synapses), width))
    for k, s in enumerate(synapses):
        if isinstance(s, PSC):
            rows[k, :s.order + 1] = row(s, dt)
    return rows


def _connections(net, plan, model):
    """The connection table (int64 (C, N_CONNECTION_COLUMNS)), its float columns (float64 (C, 2)),
    the synapse-group table, propagators and step averages (float64 (G, S) each, see
    :meth:`neurosim.PSC.step_average`), the ranges of neurons whose input starts
    from their constant or from 0, and the packed weights, indices and delays; and the LIF passes
    (:func:`_lif_passes`)."""
    packed = _pack_connections(net)
    conns = net.connections
    storage_code = {"dense": kernels.STORE_DENSE, "sparse": kernels.STORE_SPARSE,
                    "uniform": kernels.STORE_SPARSE_UNIFORM}
    table = np.zeros((len(conns), kernels.N_CONNECTION_COLUMNS), dtype=np.int64)
    floats = np.zeros((len(conns), 2))
    columns = (("dense_t", kernels.C_DENSE_OFFSET), ("pointers", kernels.C_POINTER_OFFSET),
               ("indices", kernels.C_INDEX_OFFSET), ("weights_t", kernels.C_WEIGHT_OFFSET),
               ("synapse_delays", kernels.C_DELAY_OFFSET))
    for name, column in columns:
        offset = 0
        for k, c in enumerate(conns):
            table[k, column] = offset
            part = getattr(c, name)
            offset += 0 if part is None else part.size
    groups = np.zeros((len(plan.groups), kernels.N_GROUP_COLUMNS), dtype=np.int64)
    synapses = [synapse for _, synapse, _ in plan.groups]
    propagators = _synapse_rows(synapses, net.dt)
    averages = _synapse_rows(synapses, net.dt, _step_average)
    for g, (post, synapse, n_slots) in enumerate(plan.groups):
        psc = isinstance(synapse, PSC)
        fused = psc and synapse.order == 0 and propagators[g, 0] >= _FUSED_DECAY
        groups[g] = (plan.first[post], post.n, synapse.order + 1 if psc else 0, plan.state_offset[g],
                     plan.state_offset[g] if psc else plan.jump_offset + plan.first[post], n_slots,
                     plan.ring_offset[g], fused, False)
    lif_passes = _lif_passes(plan, groups, propagators, averages, model, net.probes)
    copy_ranges = np.array([(plan.first[p], p.n) for p in [*plan.lif[plan.n_quiet_populations:], *plan.if_,
                                                            *plan.hh]], dtype=np.int64).reshape(-1, 2)
    for k, c in enumerate(conns):
        row = table[k]
        group = groups[plan.group_of[k]]
        psc = isinstance(c.synapse, PSC)
        row[kernels.C_EVENTS] = _events_kind(plan, c.pre)
        row[kernels.C_PRE_FIRST] = plan.first[c.pre]
        row[kernels.C_N_PRE] = c.pre.n
        row[kernels.C_POST_FIRST] = plan.first[c.post]
        row[kernels.C_N_POST] = c.post.n
        row[kernels.C_STORAGE] = storage_code[c.storage]
        row[kernels.C_N_SYNAPSES] = c.n_synapses if c.storage != "dense" else 0
        row[kernels.C_DELAY] = c.delay_steps
        row[kernels.C_PER_SYNAPSE_DELAY] = c.synapse_delays is not None
        row[kernels.C_N_SLOTS] = group[kernels.G_N_SLOTS]
        row[kernels.C_RING_OFFSET] = group[kernels.G_RING_OFFSET]
        row[kernels.C_INPUT_OFFSET] = group[kernels.G_INPUT_OFFSET]
        # A spike adds w / tau_s to a PSC (divided by the decay of a fused group, see G_FUSED).
        spike_input = 1.0 / c.synapse.tau_s if psc else 1.0
        if group[kernels.G_FUSED]:
            spike_input /= propagators[plan.group_of[k], 0]
        floats[k] = (c.uniform_weight, spike_input)
    dense = any(c.storage == "dense" for c in conns)
    sparse = any(c.storage != "dense" for c in conns)
    delays = any(c.synapse_delays is not None for c in conns)
    return (table, floats, groups, propagators, averages, copy_ranges, lif_passes["zero_ranges"],
            packed["dense_t"] if dense else None,
            (packed["pointers"], packed["indices"], packed["weights_t"]) if sparse else None,
            packed["synapse_delays"] if delays else None), lif_passes


def _lif_passes(plan, groups, propagators, averages, model, probes):
    """What the LIF passes need (see ``_lif_populations_pass`` in the kernels): the tables of the
    LIF populations without noise, by their number of fused synapse groups (None for a number no
    population has); their per-neuron constant inputs (n_trials, n_neurons) and membrane decays,
    None when each population has one of each (then held in its row); and the ranges of neurons
    whose input is prepared from 0 (``zero_ranges``). Marks the groups the passes decay
    (``G_IN_PASS``).

    A population's pass computes its input with up to two fused groups; anything else reaching it
    (more synapses, a time-varying current) is prepared in ``current`` first ("extra").
    """
    current_const, decay = model[7], model[4][2]
    rows = ([], [], [])
    uniform_constants = uniform_decays = True
    zero_ranges = []
    for population in plan.lif[:plan.n_quiet_populations]:
        first, n = plan.first[population], population.n
        mine = [g for g, (post, _, _) in enumerate(plan.groups) if post is population]
        fused = [g for g in mine if groups[g, kernels.G_FUSED]][:2]
        groups[fused, kernels.G_IN_PASS] = True
        extra = plan.time_varying or any(g not in fused and groups[g, kernels.G_N_STAGES] > 0 for g in mine)
        if extra:
            zero_ranges.append((first, n))
        constants, decays = current_const[:, first:first + n], decay[first:first + n]
        uniform_constants &= bool(np.all(constants == constants[0, 0]))
        uniform_decays &= bool(np.all(decays == decays[0]))
        all_currents = any(q.kind == "current" and q.target is population for q in probes)
        states = [groups[g, kernels.G_STATE_OFFSET] for g in fused] + [0, 0]
        fused_decays = [propagators[g, 0] for g in fused] + [0.0, 0.0]
        fused_gains = [averages[g, 0] for g in fused] + [0.0, 0.0]
        rows[len(fused)].append(((first, n, extra, all_currents, *states[:2]),
                                 (constants[0, 0], decays[0], *fused_decays[:2], *fused_gains[:2])))
    tables = [None if not kind else
              (np.array([ints for ints, _ in kind], dtype=np.int64),
               np.array([floats for _, floats in kind], dtype=np.float64)) for kind in rows]
    return {"tables": tables, "zero_ranges": np.array(zero_ranges, dtype=np.int64).reshape(-1, 2),
            "constants": None if uniform_constants else current_const,
            "decays": None if uniform_decays else decay}


def _probes(net, plan):
    """The probe table (int64 (Q, N_PROBE_COLUMNS)), the filtered probes' spike input and
    propagators, the probed units of voltage and current probes, the filtered probes' lookup
    tables (target neuron -> row, or -1), and the buffer of every trace record."""
    probes = net.probes
    table = np.zeros((len(probes), kernels.N_PROBE_COLUMNS), dtype=np.int64)
    units, lookups = [], []
    n_units = n_lookup = 0
    kind_code = {"spikes": kernels.PROBE_SPIKES, "voltage": kernels.PROBE_VOLTAGE,
                 "filtered": kernels.PROBE_FILTERED, "current": kernels.PROBE_CURRENT}
    out_offset = np.cumsum([0] + plan.probe_sizes)[:-1]
    for k, q in enumerate(probes):
        local = np.arange(q.target.n) if q.neurons is None else q.neurons
        row = table[k]
        row[kernels.Q_KIND] = kind_code[q.kind]
        row[kernels.Q_EVERY] = q.record_every
        row[kernels.Q_N] = q.n
        row[kernels.Q_UNIT_OFFSET] = n_units
        row[kernels.Q_EVENTS] = _events_kind(plan, q.target)
        row[kernels.Q_TARGET_FIRST] = plan.first[q.target]
        row[kernels.Q_TARGET_N] = q.target.n
        row[kernels.Q_LOOKUP_OFFSET] = n_lookup
        row[kernels.Q_N_STAGES] = q.synapse.order + 1 if q.kind == "filtered" else 0
        row[kernels.Q_STATE_OFFSET] = plan.filter_offset[k]
        row[kernels.Q_OUT_OFFSET] = out_offset[k]
        row[kernels.Q_N_SAMPLES] = plan.samples[k]
        if q.kind in ("voltage", "current"):
            units.append(plan.first[q.target] + local)
            n_units += local.size
        elif q.kind == "filtered":
            lookup = np.full(q.target.n, -1, dtype=np.int64)
            lookup[local] = np.arange(local.size)
            lookups.append(lookup)
            n_lookup += lookup.size
    filters = None
    if lookups:
        filters = (np.array([1.0 / q.synapse.tau_s if q.kind == "filtered" else 0.0 for q in probes]),
                   _synapse_rows([q.synapse if q.kind == "filtered" else Delta() for q in probes], net.dt),
                   np.concatenate(lookups))
    units = np.concatenate(units).astype(np.int64) if units else np.zeros(0, dtype=np.int64)
    return (table, units, filters), np.zeros(int(sum(plan.probe_sizes)))


def _state(net, plan):
    t = plan.trials
    v = np.zeros((t, plan.n_neurons))
    for p in [*plan.lif, *plan.if_, *plan.hh]:
        v[:, plan.first[p]:plan.first[p] + p.n] = p.params["v_init"]      # (n,) or (trials, n)
    gates = None
    if plan.hh:
        gates = np.zeros((t, plan.n_hh, 3))
        gates[:] = np.concatenate([np.column_stack(p.params["gates"]) for p in plan.hh])
    rng = np.zeros((t, 4), dtype=np.uint64)
    if plan.kernel_poisson:
        rng[:] = plan.kernel_poisson[0].params["rng"].integers(1, 2**63, size=(t, 4), dtype=np.uint64)
    counters = np.zeros((t, kernels.N_TRIAL_COLUMNS), dtype=np.int64)
    counters[:, kernels.T_FLUSHED] = 1
    return (
        counters,                                                # position, status, ... per trial
        v,
        np.zeros((t, plan.n_quiet)),                             # LIF without noise: refractory until (s)
        np.zeros((t, plan.n_lif - plan.n_quiet + plan.n_if)),    # noisy LIF, IF: refractory time left (s)
        gates,
        np.zeros((t, plan.synapse_size)),
        np.zeros((t, plan.n_neurons)),                           # the step's input currents
        np.zeros((t, plan.flag_size), dtype=np.uint8),
        np.zeros((t, plan.n_events), dtype=np.int64),            # events: unit
        np.zeros((t, plan.n_events), dtype=np.int64),            # count
        np.zeros((t, plan.n_events)),                            # first spike time (s)
        np.zeros((t, plan.n_events)),                            # period (s)
        (np.zeros((t, plan.n_poisson), dtype=np.int64),          # Poisson events: unit, count
         np.zeros((t, plan.n_poisson), dtype=np.int64)) if plan.kernel_poisson else None,
        rng,
        np.zeros((t, _NOISY_SPIKES_PER_STEP)),                   # a noisy neuron's spike times in a step
    )


class _SourceWindows:
    """Source spikes, generated in Python window by window of steps, and the kernel-drawn Poisson
    sources' means. Spikes of probed sources are kept for the record."""

    def __init__(self, net, plan):
        self.net, self.plan = net, plan
        self.kept = {p: [([], []) for _ in range(plan.trials)] for p in plan.python_sources
                     if any(q.target is p and q.kind == "spikes" for q in net.probes)}
        self.train_events = {p: _train_events(p, plan) for p in plan.python_sources if "trains" in p.params}
        means = np.zeros((plan.trials, max(1, plan.n_poisson)))
        units = []
        column = 0
        for p in plan.kernel_poisson:
            means[:, column:column + p.n] = np.broadcast_to(p.params["rates"], (plan.trials, p.n)) * net.dt
            units.append(plan.first[p] + np.arange(p.n))
            column += p.n
        self.poisson = None
        if units:
            self.poisson = (np.concatenate(units).astype(np.int64), *kernels.poisson_tables(means))

    def bounds(self):
        n_steps, width = self.plan.n_steps, self.plan.window_steps
        return [(a, min(n_steps, a + width)) for a in range(0, n_steps, width)]

    def arrays(self, first, last):
        plan = self.plan
        poisson = self.poisson
        if not plan.python_sources:
            return None, poisson
        per_trial = [self._window(trial, first, last) for trial in range(plan.trials)]
        width = max(1, max(units.size for units, _ in per_trial))
        start = np.zeros((plan.trials, last - first + 1), dtype=np.int64)
        unit = np.zeros((plan.trials, width), dtype=np.int64)
        for trial, (units, starts) in enumerate(per_trial):
            start[trial] = starts
            unit[trial, :units.size] = units
        return (first, start, unit, np.ones((plan.trials, width), dtype=np.int64)), poisson

    def _window(self, trial, first, last):
        """Units of the source spikes felt at steps ``[first, last)``, sorted by step, and where
        each step's run starts."""
        plan, dt = self.plan, self.plan.dt
        final = last == plan.n_steps
        t0 = (first - 1) * dt if first > 0 else -np.inf
        t1 = plan.n_steps * dt if final else (last - 1) * dt
        units, steps = [np.zeros(0, dtype=np.int64)], [np.zeros(0, dtype=np.int64)]
        for p in plan.python_sources:
            if p in self.train_events:
                neurons, times, felt = self.train_events[p][trial]
                a, b = np.searchsorted(felt, [first, last if not final else np.iinfo(np.int64).max])
                neurons, times, felt = neurons[a:b], times[a:b], felt[a:b]
            else:
                neurons, times = _rate_spikes(p, trial, max(t0, 0.0), t1, first == 0, final, plan)
                felt = np.clip(felt_steps(times, dt), first, plan.n_steps if final else last - 1)
            if p in self.kept:
                self.kept[p][trial][0].append(neurons)
                self.kept[p][trial][1].append(times)
            deliver = felt < plan.n_steps
            units.append(neurons[deliver] + plan.first[p])
            steps.append(felt[deliver] - first)
        units, steps = np.concatenate(units), np.concatenate(steps)
        # (Steps of a window shorter than 2**16 are sorted as uint16: numpy's stable sort is then a
        # radix sort, linear in the events.)
        order = np.argsort(steps.astype(np.uint16) if last - first <= 2**16 else steps, kind="stable")
        starts = np.zeros(last - first + 1, dtype=np.int64)
        np.cumsum(np.bincount(steps, minlength=last - first), out=starts[1:])
        return units[order], starts


def _train_events(population, plan):
    """Per trial, a source's given spikes (neuron, time, felt step), sorted by felt step."""
    events = []
    for trains in population.params["trains"]:
        neurons = np.repeat(np.arange(trains.n_neurons), [t.size for t in trains.times])
        times = np.concatenate(trains.times) if trains.n_neurons else np.zeros(0)
        keep = (times < plan.n_steps * plan.dt) & (times >= 0)
        neurons, times = neurons[keep], times[keep]
        felt = felt_steps(times, plan.dt)
        order = np.argsort(felt, kind="stable")
        events.append((neurons[order], times[order], felt[order]))
    return events


def _rate_spikes(population, trial, t0, t1, from_zero, final, plan):
    """Spikes of a rate source in ``(t0, t1]`` (``[0, t1]`` from zero; ``(t0, t1)`` at the end)."""
    params = population.params
    rates = np.broadcast_to(params["rates"], (plan.trials, population.n))[trial]
    if params["source_kind"] == "poisson":
        counts = params["rng"].poisson(rates * (t1 - t0))
        neurons = np.repeat(np.arange(population.n), counts)
        times = params["rng"].uniform(t0, t1, size=neurons.size)
        return neurons, times
    # Regular: the k-th spike at (k + 1/2) / rate.
    with np.errstate(divide="ignore", invalid="ignore"):
        low = np.zeros(rates.size) if from_zero else np.where(rates > 0, np.floor(t0 * rates - 0.5) + 1, 0)
        high = np.ceil(t1 * rates - 0.5) - 1 if final else np.floor(t1 * rates - 0.5)
    low = np.maximum(low, 0).astype(np.int64)
    counts = np.maximum(np.where(rates > 0, high.astype(np.int64) - low + 1, 0), 0)
    neurons = np.repeat(np.arange(population.n), counts)
    k = np.arange(neurons.size) - np.repeat(np.cumsum(counts) - counts, counts) + np.repeat(low, counts)
    times = (k + 0.5) / rates[neurons] if neurons.size else np.zeros(0)
    return neurons, times


def _results(net, plan, record, windows, t_end):
    probe_out, record_neuron, record_time, record_count = record
    records, times = {}, {}
    offset = 0
    for q, size, m in zip(net.probes, plan.probe_sizes, plan.samples, strict=True):
        local = np.arange(q.target.n) if q.neurons is None else q.neurons
        if q.kind == "spikes":
            trains = [_spike_trains(q, local, plan, windows, trial, record_neuron, record_time,
                                    record_count, t_end) for trial in range(plan.trials)]
            records[q] = trains[0] if plan.trials == 1 else trains
            continue
        block = probe_out[offset:offset + size].reshape(plan.trials, q.n, m)
        offset += size
        units = q.target.params.get("units")
        if units is not None and units.physical and q.kind in ("voltage", "current"):
            block = _physical(block, units, local, q.kind)
        records[q] = block[0] if plan.trials == 1 else block
        times[q] = np.arange(m) * q.record_every * net.dt
    return records, times


def _physical(block, units, local, kind):
    """A voltage or current record of a physical LIF population in mV or nA."""
    if kind == "voltage":
        return units.voltage_reset[local][:, None] + units.voltage_span[local][:, None] * block
    return (block - units.input_offset[local][:, None]) / units.input_gain[local][:, None]


def _spike_trains(probe, local, plan, windows, trial, record_neuron, record_time, record_count, t_end):
    population = probe.target
    if population in windows.kept:
        neurons_parts, times_parts = windows.kept[population][trial]
        neurons = np.concatenate(neurons_parts) if neurons_parts else np.zeros(0, dtype=np.int64)
        spike_times = np.concatenate(times_parts) if times_parts else np.zeros(0)
    else:
        count = record_count[trial]
        units = record_neuron[trial, :count].astype(np.int64) - plan.first[population]
        mine = (units >= 0) & (units < population.n)
        neurons, spike_times = units[mine], record_time[trial, :count][mine]
    if probe.neurons is not None:
        row = np.full(population.n, -1, dtype=np.int64)
        row[local] = np.arange(local.size)
        neurons = row[neurons]
        keep = neurons >= 0
        neurons, spike_times = neurons[keep], spike_times[keep]
    np.minimum(spike_times, t_end, out=spike_times)
    return SpikeTrains.from_events(neurons, spike_times, local.size, t_end)

