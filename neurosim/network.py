"""Spiking networks: LIF and HH populations and spike sources joined by weight matrices through PSC
synapses.

Each neuron's input current is the weighted sum of its presynaptic neurons' PSC-filtered spike
trains plus a bias, ``z = W x + b``, integrated as the notes' Euler algorithm describes: every
step the synaptic currents decay, then each arriving spike adds ``w / tau_s``. Synapses of order
``n = 0`` (exponential) and ``n = 1`` (alpha) — any ``n`` — are cascades of first-order stages, as
in :func:`neurosim.filter_spikes`; ``method="exact"`` replaces the Euler decay by the exact one.
LIF neurons are normalized (threshold 1, currents in units of the threshold); Hodgkin-Huxley
neurons (:meth:`SpikingNetwork.add_hh`) take their currents in µA/cm², so weights into them are in
µA/cm² times seconds, and their spikes are upward crossings of a voltage threshold (mV).

Spikes propagate event by event (a spike adds a row of ``W.T``), or as one dense product when a
large fraction of a population fires in the same step (``_DENSE_FRACTION``, measured).

A network can run many independent *trials* at once (``n_trials``): the same neurons and weights,
each trial with its own input currents and source spikes, simulated in parallel. That is how a
trained rate network classifies a whole test set as one spiking run.

Examples
--------
>>> net = SpikingNetwork(dt=1e-3)
>>> source = net.add_spike_source(rates=np.full(100, 20.0), seed=0)
>>> neurons = net.add_lif(10, bias=0.5)
>>> net.connect(source, neurons, weights=np.full((10, 100), 0.05), synapse=PSC(tau_s=0.005))
>>> spikes = net.probe(neurons, "spikes")
>>> result = net.run(t_end=1.0)
>>> result[spikes].rates()          # Hz per neuron
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numba
import numpy as np

from ._network_kernels import group_by_key, run_network, run_network_parallel
from .hh import METHODS as HH_METHODS
from .hh import STABLE_DT as HH_STABLE_DT
from .hh import HHParameters, hh_steady_state
from .spikes import SpikeTrains
from .synapse import PSC
from .validation import (
    as_finite_array,
    check_choice,
    check_finite,
    check_nonnegative,
    check_positive,
    check_positive_int,
    time_steps,
)

PROBE_KINDS = ("spikes", "voltage", "filtered", "current")
#: The synapse of connect() and filtered probes when none is given: exponential, 5 ms, exact decay.
DEFAULT_SYNAPSE = PSC()
SOURCE_KINDS = ("poisson", "regular")

# The step-by-step loop adds a step's spikes of a connection's pre-population as one dense product
# x @ W.T (BLAS) instead of row by row when more than this fraction of the pre-neurons fired in it.
# Measured here (1,000 x 1,000 float64, one thread): adding k rows costs about k x 1.7 us, the dense
# product 0.45-0.6 ms whatever k, so dense wins above about 30 % of the pre-neurons.
_DENSE_FRACTION = 0.3
# Spike-buffer estimate for HH neurons (Hz); a run that fires more is repeated with more room.
_HH_MAX_RATE = 500.0


@dataclass(eq=False)
class Population:
    """A group of neurons in a :class:`SpikingNetwork` (returned by ``add_lif``/``add_spike_source``).

    Attributes
    ----------
    n : int
        Number of neurons.
    label : str
    kind : str
        "lif", "hh" or "source".
    """

    n: int
    label: str
    kind: str
    index: int
    offset: int = 0
    params: dict = field(default_factory=dict, repr=False)

    def __repr__(self) -> str:
        return f"Population({self.label!r}, kind={self.kind!r}, n={self.n})"


@dataclass(eq=False)
class Connection:
    """Weights from one population into an LIF or HH population, through PSC synapses."""

    pre: Population
    post: Population
    weights: np.ndarray = field(repr=False)
    synapse: PSC
    # W.T flattened, contiguous (what a spike of pre-neuron j adds is row j), made once at connect().
    weights_t: np.ndarray = field(init=False, repr=False)

    def __post_init__(self):
        self.weights_t = np.ascontiguousarray(self.weights.T).ravel()


@dataclass(eq=False)
class Probe:
    """What to record from a population; index a :class:`NetworkResult` with it."""

    target: Population
    kind: str
    every: int
    synapse: PSC
    index: int


class NetworkResult:
    """What :meth:`SpikingNetwork.run` recorded.

    ``result[probe]`` is, for a "spikes" probe, a :class:`~neurosim.SpikeTrains` (or a list of
    them, one per trial, when ``n_trials > 1``); for the other probes an array of shape
    ``(n_neurons, n_samples)`` (``(n_trials, n_neurons, n_samples)`` with several trials) sampled at
    ``result.times(probe)``: voltages (LIF: normalized, threshold 1; HH: mV), filtered spike trains
    (1/s, each spike a kernel of unit area), or input currents (LIF: normalized units; HH: µA/cm²).
    """

    def __init__(self, records: dict, times: dict, t_end: float, dt: float, n_trials: int):
        self._records = records
        self._times = times
        self.t_end = t_end
        self.dt = dt
        self.n_trials = n_trials

    def __getitem__(self, probe: Probe):
        if probe not in self._records:
            raise KeyError("this probe was not part of the run (add probes before run())")
        return self._records[probe]

    def times(self, probe: Probe) -> np.ndarray:
        """Sample times (s) of a trace probe, shape (n_samples,)."""
        return self._times[probe]

    def __repr__(self) -> str:
        return (f"NetworkResult(n_probes={len(self._records)}, n_trials={self.n_trials}, "
                f"t_end={self.t_end:g} s, dt={self.dt:g} s)")


class SpikingNetwork:
    """A network of normalized LIF populations, Hodgkin-Huxley populations and spike sources joined
    by PSC synapses.

    Parameters
    ----------
    dt : float
        Time step (s), > 0.
    n_trials : int
        Number of independent trials run side by side (same weights, own inputs), >= 1.
    seed : int or numpy.random.Generator, optional
        Randomness of Poisson sources.
    """

    def __init__(self, dt: float = 1e-3, n_trials: int = 1, seed=None):
        self.dt = check_positive("dt", dt)
        self.n_trials = check_positive_int("n_trials", n_trials)
        self._rng = np.random.default_rng(seed)
        self.populations: list[Population] = []
        self.connections: list[Connection] = []
        self.probes: list[Probe] = []

    # -- building ----------------------------------------------------------------------------
    def add_lif(self, n: int, *, tau_m: float = 0.02, tau_ref: float = 0.002, bias=0.0,
                current=None, v_init=0.0, label: str | None = None) -> Population:
        """Add a population of normalized LIF neurons (threshold 1, reset 0).

        Parameters
        ----------
        n : int
            Number of neurons.
        tau_m, tau_ref : float
            Membrane time constant and refractory period (s).
        bias : float or array_like, shape (n,)
            Constant input added to every neuron's current (normalized units).
        current : array_like, optional
            External input (normalized units): shape (n,) constant, (n_trials, n) one constant
            vector per trial, or (n, n_steps) over time (the same in every trial; ``n_steps`` is
            ``round(t_end / dt)`` of the run).
        v_init : float or array_like, shape (n,) or (n_trials, n)
            Initial normalized voltage: one per neuron, or one vector per trial (e.g. each trial's
            neurons at their own phase of firing).
        label : str, optional
        """
        n = check_positive_int("n", n)
        tau_m = check_positive("tau_m", tau_m)
        tau_ref = check_nonnegative("tau_ref", tau_ref)
        bias = self._per_neuron("bias", bias, n)
        v_init = as_finite_array("v_init", v_init, ndim=(0, 1, 2))
        if v_init.ndim == 2 and v_init.shape != (self.n_trials, n):
            raise ValueError(f"a 2-D v_init must have shape (n_trials, n) = ({self.n_trials}, {n}), "
                             f"got {v_init.shape}")
        if v_init.ndim < 2:
            v_init = self._per_neuron("v_init", v_init, n)
        current = self._current("current", current, n)
        return self._add(n, label, "lif", dict(tau_m=tau_m, tau_ref=tau_ref, bias=bias, current=current,
                                                v_init=v_init))

    def add_hh(self, n: int, params: HHParameters | None = None, *, current=None, bias=0.0,
               threshold: float = 0.0, v_init=None, method: str = "euler",
               label: str | None = None) -> Population:
        """Add a population of Hodgkin-Huxley neurons (the model of :func:`neurosim.simulate_hh`).

        The neurons receive the synaptic currents of their incoming connections, in µA/cm²: a
        connection into an HH population has weights in µA/cm² times seconds (a spike's PSC is
        ``w h(t)`` with ``h`` of unit area, so its charge is ``w``; ``w / tau_s`` is the jump of the
        exponential PSC). A spike is an upward crossing of ``threshold``, its time interpolated
        linearly in the step as in :func:`~neurosim.simulate_hh`; it drives connections like an LIF
        neuron's spike. Forward Euler needs ``dt <= 2e-5`` s (0.02 ms): use ``dt = 1e-5`` for
        networks with HH populations.

        Parameters
        ----------
        n : int
            Number of neurons.
        params : HHParameters, optional
            Membrane parameters; default ``HHParameters()`` (the 1952 squid axon, rest -65 mV).
        current : array_like, optional
            External input (µA/cm²): shape (n,) constant, (n_trials, n) one constant vector per
            trial, or (n, n_steps) over time (the same in every trial).
        bias : float or array_like, shape (n,)
            Constant input (µA/cm²) added to every neuron's current.
        threshold : float
            Spike threshold (mV), default 0.
        v_init : float or array_like, shape (n,), optional
            Initial membrane potential (mV), default ``params.v_rest``; the gates start at their
            steady state there.
        method : {"euler", "exponential_euler"}
            Integration of the gates, as in :func:`~neurosim.simulate_hh` (V: forward Euler).
        label : str, optional
        """
        n = check_positive_int("n", n)
        params = HHParameters() if params is None else params
        if not isinstance(params, HHParameters):
            raise TypeError(f"params must be an HHParameters, got {type(params).__name__}")
        method = check_choice("method", method, list(HH_METHODS))
        threshold = check_finite("threshold", threshold)
        bias = self._per_neuron("bias", bias, n)
        v_init = self._per_neuron("v_init", params.v_rest if v_init is None else v_init, n)
        current = self._current("current", current, n)
        return self._add(n, label, "hh", dict(params=params, bias=bias, current=current, v_init=v_init,
                                               gates=hh_steady_state(v_init), threshold=threshold,
                                               method=method))

    def add_spike_source(self, rates=None, *, kind: str = "poisson", trains=None, seed=None,
                         label: str | None = None) -> Population:
        """Add neurons whose spikes are given: Poisson or regular at given rates, or spike trains.

        Parameters
        ----------
        rates : array_like, shape (n,) or (n_trials, n)
            Firing rates (Hz, >= 0), one per neuron or one vector per trial.
        kind : {"poisson", "regular"}
            Poisson processes, or regular trains (first spike at ``1 / (2 rate)``).
        trains : SpikeTrains or list of SpikeTrains (one per trial), optional
            Given spike times instead of rates. A spike is felt at the first step time at or after it.
        seed : int or Generator, optional
            Randomness of Poisson spikes (defaults to the network's).
        """
        if (rates is None) == (trains is None):
            raise ValueError("give exactly one of rates= or trains=")
        if trains is not None:
            trial_trains = [trains] * self.n_trials if isinstance(trains, SpikeTrains) else list(trains)
            if len(trial_trains) != self.n_trials or not all(
                    isinstance(t, SpikeTrains) for t in trial_trains):
                raise TypeError(f"trains must be a SpikeTrains or a list of {self.n_trials} of them")
            n = trial_trains[0].n_neurons
            if any(t.n_neurons != n for t in trial_trains):
                raise ValueError("every trial's trains must have the same number of neurons")
            params = dict(trains=trial_trains)
        else:
            kind = check_choice("kind", kind, SOURCE_KINDS)
            rates = as_finite_array("rates", rates, ndim=(1, 2))
            if np.any(rates < 0):
                raise ValueError("rates must be >= 0 Hz")
            if rates.ndim == 2 and rates.shape[0] != self.n_trials:
                raise ValueError(f"2-D rates must have shape (n_trials={self.n_trials}, n), "
                                 f"got {rates.shape}")
            n = rates.shape[-1]
            if n == 0:
                raise ValueError("rates must hold at least one neuron's rate")
            rng = self._rng if seed is None else np.random.default_rng(seed)
            params = dict(rates=rates, source_kind=kind, rng=rng)
        return self._add(n, label, "source", params)

    def connect(self, pre: Population, post: Population, weights, *,
                synapse: PSC = DEFAULT_SYNAPSE) -> Connection:
        """Join ``pre`` to the LIF or HH population ``post`` through ``synapse``.

        Parameters
        ----------
        pre, post : Population
            Presynaptic population (LIF, HH or source) and postsynaptic LIF or HH population.
        weights : array_like, shape (post.n, pre.n)
            ``weights[i, j]`` is the charge a spike of ``pre`` neuron ``j`` delivers to ``post``
            neuron ``i``: its PSC is ``w h(t)``. Units: normalized current times seconds into LIF
            neurons, µA/cm² times seconds into HH neurons.
        synapse : PSC
            The synapse: kernel time constant, order and integration (see :class:`neurosim.PSC`).
            Default ``PSC()``: exponential, ``tau_s`` = 5 ms, exact decay.
        """
        self._check_member("pre", pre)
        self._check_member("post", post)
        if post.kind == "source":
            raise ValueError("post must be an LIF population or an HH population, got a spike "
                             "source (its spikes are given, it takes no input)")
        weights = as_finite_array("weights", weights, ndim=2).copy()   # later edits do not leak in
        if weights.shape != (post.n, pre.n):
            raise ValueError(f"weights must have shape (post.n, pre.n) = ({post.n}, {pre.n}), "
                             f"got {weights.shape}")
        connection = Connection(pre, post, weights, _check_synapse("synapse", synapse))
        self.connections.append(connection)
        return connection

    def probe(self, target: Population, kind: str = "spikes", *, every: int = 1,
              synapse: PSC = DEFAULT_SYNAPSE) -> Probe:
        """Record ``kind`` from ``target``: "spikes", "voltage", "filtered" or "current".

        Parameters
        ----------
        target : Population
        kind : {"spikes", "voltage", "filtered", "current"}
            Spike times; voltage (LIF: normalized; HH: mV); the population's spike trains filtered
            by ``synapse``'s kernel (1/s); the neurons' total input current (LIF:
            normalized; HH: µA/cm²).
        every : int
            Keep every ``every``-th step of a trace (decimation).
        synapse : PSC
            The kernel of a "filtered" probe (default ``PSC()``: exponential, 5 ms, exact).
        """
        self._check_member("target", target)
        kind = check_choice("kind", kind, PROBE_KINDS)
        every = check_positive_int("every", every)
        if target.kind == "source" and kind in ("voltage", "current"):
            raise ValueError(f"a spike source has no {kind}; probe 'spikes' or 'filtered'")
        probe = Probe(target, kind, every, _check_synapse("synapse", synapse), index=len(self.probes))
        self.probes.append(probe)
        return probe

    # -- running -----------------------------------------------------------------------------
    def run(self, t_end: float) -> NetworkResult:
        """Simulate ``[0, t_end)`` and return what the probes recorded.

        Parameters
        ----------
        t_end : float
            Duration (s); the run takes ``round(t_end / dt)`` steps.

        Raises
        ------
        FloatingPointError
            When an HH population's integration diverges (dt too large for the model).
        """
        t_end, dt, n_steps = time_steps(t_end, self.dt)
        t_end = max(t_end, n_steps * dt)
        lif = [p for p in self.populations if p.kind == "lif"]
        hh = [p for p in self.populations if p.kind == "hh"]
        simulated = lif + hh                       # the neuron index space: LIF first, then HH
        sources = [p for p in self.populations if p.kind == "source"]
        _assign_offsets(simulated)
        _assign_offsets(sources)
        n_lif = sum(p.n for p in lif)
        n_neurons = sum(p.n for p in simulated)
        trials = self.n_trials

        def per_neuron(populations, values, dtype=np.float64):
            if not populations:
                return np.zeros(0, dtype=dtype)
            return np.concatenate([np.broadcast_to(np.asarray(values(p), dtype=dtype), (p.n,))
                                   for p in populations])

        tau_m = per_neuron(lif, lambda p: p.params["tau_m"])
        tau_ref = per_neuron(lif, lambda p: p.params["tau_ref"])
        v_init = np.zeros((trials, n_neurons))
        for p in simulated:
            v_init[:, p.offset:p.offset + p.n] = p.params["v_init"]      # (n,) or (trials, n)
        hh_gates = np.zeros((0, 3))
        hh_params = np.zeros((0, 9))
        if hh:
            hh_gates = np.concatenate([np.column_stack(p.params["gates"]) for p in hh])
            hh_params = np.concatenate([np.tile(_hh_row(p), (p.n, 1)) for p in hh])
        hh_arrays = (hh_gates, hh_params)
        current_const = np.zeros((trials, n_neurons))
        time_varying = any(p.params["current"] is not None and p.params["current"].ndim == 2
                           and p.params["current"].shape != (trials, p.n) for p in simulated)
        current_time = np.zeros((n_neurons, n_steps) if time_varying else (0, 0))
        for p in simulated:
            block = slice(p.offset, p.offset + p.n)
            current_const[:, block] = p.params["bias"]
            extra = p.params["current"]
            if extra is None:
                continue
            if extra.ndim == 1 or extra.shape == (trials, p.n):
                current_const[:, block] += extra
            else:
                if extra.shape[1] != n_steps:
                    raise ValueError(f"the time-varying current of {p.label!r} has {extra.shape[1]} "
                                     f"steps, but the run has n_steps = round(t_end / dt) = {n_steps}")
                current_time[block] = extra
        source_spikes = {p: _source_spikes(p, trials, t_end) for p in sources}

        connections, probes = self.connections, self.probes
        for c in [*connections, *probes]:
            c.synapse.check_step(dt)
        width = max([c.synapse.order + 1 for c in [*connections, *probes]] + [1])
        weights_t = [c.weights_t for c in connections]
        connection_arrays = (
            np.array([c.pre.kind == "source" for c in connections], dtype=np.bool_),
            _int_array(c.pre.offset for c in connections),
            _int_array(c.pre.n for c in connections),
            _int_array(c.post.offset for c in connections),
            _int_array(c.post.n for c in connections),
            _int_array(c.synapse.order + 1 for c in connections),
            _propagators([c.synapse for c in connections], dt, width),
            np.array([1.0 / c.synapse.tau_s for c in connections]),
            _int_array(np.cumsum([0] + [w.size for w in weights_t])[:-1]),
            (weights_t[0] if len(weights_t) == 1 else np.concatenate(weights_t)) if weights_t
            else np.zeros(0),
            _int_array(np.cumsum([0] + [(c.synapse.order + 1) * c.post.n for c in connections])),
            np.array([_DENSE_FRACTION * c.pre.n for c in connections]),
        )
        n_samples = [(n_steps + q.every - 1) // q.every for q in probes]
        sizes = [0 if q.kind == "spikes" else q.target.n * m for q, m in zip(probes, n_samples, strict=True)]
        out_offset = _int_array(np.cumsum([0] + sizes)[:-1])
        filter_sizes = [(q.synapse.order + 1) * q.target.n if q.kind == "filtered" else 0 for q in probes]
        probe_arrays = (
            _int_array(PROBE_KINDS.index(q.kind) for q in probes),
            np.array([q.target.kind == "source" for q in probes], dtype=np.bool_),
            _int_array(q.target.offset for q in probes),
            _int_array(q.target.n for q in probes),
            _int_array(q.every for q in probes),
            _int_array(q.synapse.order + 1 for q in probes),
            _propagators([q.synapse for q in probes], dt, width),
            np.array([1.0 / q.synapse.tau_s for q in probes]),
            out_offset,
            _int_array(np.cumsum([0] + filter_sizes)),
        )
        probe_out = np.zeros((trials, int(sum(sizes))))
        spiking_probed = {q.target for q in probes if q.kind == "spikes" and q.target.kind != "source"}
        record_spikes = np.zeros(n_neurons, dtype=np.bool_)
        for p in spiking_probed:
            record_spikes[p.offset:p.offset + p.n] = True
        capacity = 1 + sum(p.n * _max_spikes(p, t_end, n_steps) for p in spiking_probed)
        model = (n_steps, dt, n_lif, tau_m, tau_ref, np.exp(-dt / tau_m), v_init, current_const,
                 current_time, time_varying)
        sources = _source_events(source_spikes, trials, n_steps, dt)
        # Trials over threads only when there are several (see run_network_parallel).
        kernel = run_network_parallel if trials > 1 and numba.get_num_threads() > 1 else run_network
        while True:
            width = capacity if spiking_probed else 0
            outputs = (probe_out, record_spikes, capacity, np.zeros((trials, width), dtype=np.int64),
                       np.zeros((trials, width)), np.zeros(trials, dtype=np.int64),
                       np.full(trials, -1, dtype=np.int64))
            kernel(model, hh_arrays, sources, connection_arrays, probe_arrays, outputs)
            spike_neuron, spike_time, spike_count, diverged = outputs[3:]
            if np.any(diverged >= 0):
                step = int(diverged[diverged >= 0].min())
                raise FloatingPointError(
                    f"the Hodgkin-Huxley integration diverged at t = {step * dt:.6g} s with dt = {dt:g} s "
                    f"({dt * 1e3:g} ms): the step is too large for the model (or the synaptic input "
                    f"too strong). Use dt <= {HH_STABLE_DT:g} s for networks with HH populations")
            if spike_count.max() <= capacity:
                break
            # More spikes than the estimate: the run is deterministic, so run it again with room.
            capacity = int(spike_count.max())
            probe_out[:] = 0.0
        # (A sum is non-finite when any value is, and costs one pass without a temporary array.)
        if not np.isfinite(probe_out.sum()) and not np.all(np.isfinite(probe_out)):
            raise FloatingPointError("the network produced non-finite values; check the weights and "
                                     "currents for overflow, or use a smaller dt")

        records, times = {}, {}
        for q, m, offset, size in zip(probes, n_samples, out_offset, sizes, strict=True):
            if q.kind == "spikes":
                records[q] = self._spike_trains(q.target, source_spikes, spike_neuron, spike_time,
                                                spike_count, t_end)
                continue
            block = probe_out[:, offset:offset + size].reshape(trials, q.target.n, m)
            records[q] = block[0] if trials == 1 else block
            times[q] = np.arange(m) * q.every * dt
        return NetworkResult(records, times, t_end, dt, trials)

    # -- helpers -----------------------------------------------------------------------------
    def _add(self, n, label, kind, params) -> Population:
        label = f"{kind}{len(self.populations)}" if label is None else str(label)
        population = Population(n, label, kind, index=len(self.populations), params=params)
        self.populations.append(population)
        return population

    def _check_member(self, name, population):
        if not isinstance(population, Population) or population not in self.populations:
            raise TypeError(f"{name} must be a Population of this network")

    def _current(self, name, current, n):
        if current is None:
            return None
        current = as_finite_array(name, current, ndim=(1, 2))
        if current.ndim == 1 and current.shape != (n,):
            raise ValueError(f"{name} must have shape ({n},), ({self.n_trials}, {n}) or "
                             f"({n}, n_steps), got {current.shape}")
        if current.ndim == 2 and current.shape[0] != n and current.shape != (self.n_trials, n):
            raise ValueError(f"a 2-D {name} must have shape ({self.n_trials}, {n}) (per trial) or "
                             f"({n}, n_steps) (over time), got {current.shape}")
        return current

    def _per_neuron(self, name, value, n):
        array = as_finite_array(name, value, ndim=(0, 1))
        if array.ndim == 1 and array.shape != (n,):
            raise ValueError(f"{name} must be a scalar or have shape ({n},), got {array.shape}")
        return np.broadcast_to(array, (n,)).astype(np.float64)

    def _spike_trains(self, population, source_spikes, spike_neuron, spike_time, spike_count, t_end):
        trains = []
        for trial in range(self.n_trials):
            if population.kind == "source":
                neurons, times = source_spikes[population][trial]
            else:
                count = spike_count[trial]
                neurons = spike_neuron[trial, :count]
                mine = (neurons >= population.offset) & (neurons < population.offset + population.n)
                neurons, times = neurons[mine] - population.offset, spike_time[trial, :count][mine]
            trains.append(_trains_from_events(neurons, times, population.n, t_end))
        return trains[0] if self.n_trials == 1 else trains

    def __repr__(self) -> str:
        return (f"SpikingNetwork(dt={self.dt:g} s, n_trials={self.n_trials}, "
                f"populations={[p.label for p in self.populations]}, "
                f"n_connections={len(self.connections)}, n_probes={len(self.probes)})")


def _assign_offsets(populations):
    offset = 0
    for p in populations:
        p.offset = offset
        offset += p.n


def _trains_from_events(neurons, times, n_neurons, t_end):
    """``SpikeTrains.from_events`` for events listed in time order per neuron (as the kernel and the
    sources emit them): a counting sort by neuron instead of a comparison sort."""
    neurons = np.asarray(neurons, dtype=np.int64)
    times = np.asarray(times, dtype=np.float64)
    if neurons.size and (neurons.min() < 0 or neurons.max() >= n_neurons):
        return SpikeTrains.from_events(neurons, times, n_neurons, t_end)     # (it raises)
    order, starts = group_by_key(neurons, n_neurons)
    sorted_times = times[order]
    if np.any((np.diff(neurons[order]) == 0) & (np.diff(sorted_times) < 0)):
        return SpikeTrains.from_events(neurons, times, n_neurons, t_end)     # not in time order
    trains = SpikeTrains._from_sorted(sorted_times, starts[1:-1], t_end, 0.0)
    return trains if trains is not None else SpikeTrains.from_events(neurons, times, n_neurons, t_end)


def _hh_row(population):
    """An HH population's parameters as the kernel's row (see run_network)."""
    params = population.params["params"]
    return np.array([params.capacitance, params.g_na, params.g_k, params.g_l, params.e_na, params.e_k,
                     params.e_l, population.params["threshold"], HH_METHODS[population.params["method"]]],
                    dtype=np.float64)


def _int_array(values):
    return np.fromiter(values, dtype=np.int64)


def _propagators(synapses, dt, width):
    """Each synapse's one-step propagator, float64 (n_synapses, width)."""
    return np.array([_propagator(s, dt, width) for s in synapses]).reshape(len(synapses), width)


def _propagator(synapse, dt, width):
    """One step's free evolution of a cascade (see :mod:`neurosim._network_kernels`)."""
    ratio = dt / synapse.tau_s
    values = np.zeros(width)
    if synapse.method == "euler":
        values[0] = 1.0 - ratio
        if synapse.order > 0:
            values[1] = ratio
    else:
        # exp(-a) a**m / m!, in logarithms so that neither a**m nor m! overflows for high orders.
        for m in range(synapse.order + 1):
            values[m] = math.exp(m * math.log(ratio) - ratio - math.lgamma(m + 1))
    return values


def _check_synapse(name, synapse):
    if not isinstance(synapse, PSC):
        raise TypeError(f"{name} must be a neurosim.PSC (e.g. PSC(tau_s=0.005, order=0)), got "
                        f"{type(synapse).__name__}")
    return synapse


def _max_spikes(population, t_end, n_steps):
    """One neuron's spikes in ``[0, t_end)``: LIF, at most one per refractory period; without one,
    a guess of one per step; HH, a guess of ``_HH_MAX_RATE`` (the run is repeated with more room if
    a guess is exceeded)."""
    if population.kind == "hh":
        return int(min(t_end * _HH_MAX_RATE + 2, n_steps))
    tau_ref = population.params["tau_ref"]
    return int(min(t_end / tau_ref + 2, 2**31)) if tau_ref > 0 else n_steps


def _source_spikes(population, trials, t_end):
    """Spikes of a source population in ``[0, t_end)``: per trial, (neuron indices, times in s)."""
    params = population.params
    if "trains" in params:
        spikes = []
        for trains in params["trains"]:
            neurons = np.repeat(np.arange(trains.n_neurons), [t.size for t in trains.times])
            times = np.concatenate(trains.times) if trains.n_neurons else np.zeros(0)
            keep = times < t_end
            spikes.append((neurons[keep], times[keep]))
        return spikes
    rates = np.broadcast_to(params["rates"], (trials, population.n))
    spikes = []
    for trial in range(trials):
        if params["source_kind"] == "poisson":
            # A Poisson process: a Poisson number of spikes, placed uniformly in [0, t_end).
            counts = params["rng"].poisson(rates[trial] * t_end)
            neurons = np.repeat(np.arange(population.n), counts)
            times = params["rng"].uniform(0.0, t_end, size=neurons.size)
        else:
            # Regular: the k-th spike at (k + 1/2) / rate.
            counts = np.floor(rates[trial] * t_end + 0.5).astype(np.int64)
            neurons = np.repeat(np.arange(population.n), counts)
            first = np.cumsum(counts) - counts
            k = np.arange(neurons.size) - np.repeat(first, counts)
            times = (k + 0.5) / rates[trial][neurons] if neurons.size else np.zeros(0)
            keep = times < t_end
            neurons, times = neurons[keep], times[keep]
        spikes.append((neurons, times))
    return spikes


def _source_events(source_spikes, trials, n_steps, dt):
    """Source spikes as per-trial event lists sorted by the step at which they are felt.

    A spike at time ``t`` is felt at the first step time at or after it, ``ceil(t / dt)`` (as in
    :func:`neurosim.filter_spikes`). Returns ``step_start`` int64 (trials, n_steps + 1) and
    ``neuron``, ``count`` int64 (trials, max_events).
    """
    per_trial = []
    for trial in range(trials):
        neurons, steps = [np.zeros(0, dtype=np.int64)], [np.zeros(0, dtype=np.int64)]
        for population, spikes in source_spikes.items():
            trial_neurons, times = spikes[trial]
            step = np.ceil(np.round(times / dt, 9)).astype(np.int64)
            keep = step < n_steps
            neurons.append(trial_neurons[keep] + population.offset)
            steps.append(step[keep])
        neurons, steps = np.concatenate(neurons), np.concatenate(steps)
        order, starts = group_by_key(steps, n_steps)      # stable: by step, then as listed
        per_trial.append((neurons[order], starts))
    width = max(1, max(n.size for n, _ in per_trial))
    step_start = np.zeros((trials, n_steps + 1), dtype=np.int64)
    neuron = np.zeros((trials, width), dtype=np.int64)
    for trial, (neurons, starts) in enumerate(per_trial):
        step_start[trial] = starts
        neuron[trial, :neurons.size] = neurons
    return step_start, neuron, np.ones((trials, width), dtype=np.int64)
