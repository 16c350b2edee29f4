"""Spiking networks: LIF, IF and Hodgkin-Huxley populations and spike sources joined by weights
through synapses with delays.

Each neuron's input current is the weighted sum of its presynaptic neurons' PSC-filtered spike
trains plus a bias, ``z = W x + b``: every step the synaptic currents decay, then each arriving
spike adds ``w / tau_s`` (:class:`~neurosim.PSC` synapses of any order are cascades of first-order
stages, as in :func:`neurosim.filter_spikes`). The neurons integrate each step with their input
held constant: a synapse's current over the step is its exact average over the step
(:meth:`~neurosim.PSC.step_average`; the notes' Euler synapse holds its value), so that every
spike delivers exactly its charge ``w``, as the continuous kernel does. With a
:class:`~neurosim.Delta` synapse a spike makes the membrane potential jump by ``w`` instead
(Brunel 2000).

Weights are dense arrays or any ``scipy.sparse`` matrix of shape ``(post.n, pre.n)``
(:mod:`neurosim.connectivity` builds the usual random ones). Sparse weights are stored per
presynaptic neuron (the CSR form of ``W.T``), so memory grows with the number of synapses and a
spike costs its out-degree; dense weights are stored as rows of ``W.T`` and a spike adds one
contiguous row.

Delays. Every connection has a delay of at least one step: a spike emitted during step ``k`` is felt
at step ``k + d`` with ``d = max(1, round(delay / dt))`` (a spike of a source at time ``t`` counts as
emitted during the step before ``ceil(t / dt)``, the first step time at or after it). Without a
``delay`` argument ``d = 1``: the next step. Delays are held in a ring buffer, so their length
costs nothing per step.

Units. LIF neurons compute in normalized units (threshold 1, reset 0); a population given
:class:`~neurosim.PhysicalLIFParameters` takes its currents (bias, current) in nA, PSC weights as
charges in pC, its voltages (``v_init``, noise, delta weights, voltage probes) in mV, and is
converted at its edges by the parameter object's own conversions. Non-leaky integrate-and-fire
neurons (:meth:`SpikingNetwork.add_if`) integrate ``dv/dt = v_in`` (1/s, threshold 1).
Hodgkin-Huxley neurons (:meth:`SpikingNetwork.add_hh`) take their currents in µA/cm², so weights
into them are in µA/cm² times seconds, and their spikes are upward crossings of a voltage
threshold (mV).

Memory. Before anything is allocated, :meth:`SpikingNetwork.connect` estimates the weights and the
synapse state, and :meth:`SpikingNetwork.run` every probe and the whole run
(:meth:`SpikingNetwork.memory_estimate`); past :data:`neurosim.validation.MAX_ALLOCATION_BYTES`
they refuse with the argument to change.

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

import sys
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse

from . import _network_layout as layout
from .hh import METHODS as HH_METHODS
from .hh import HHParameters, hh_steady_state
from .lif import DEFAULT_TAU_M, DEFAULT_TAU_REF, LIFParameters, PhysicalLIFParameters
from .spikes import SpikeTrains
from .synapse import PSC, Delta
from .validation import (
    as_finite_array,
    check_allocation,
    check_choice,
    check_finite,
    check_positive,
    check_positive_int,
    check_time_constant,
)

PROBE_KINDS = ("spikes", "voltage", "filtered", "current")
SOURCE_KINDS = ("poisson", "regular")
IF_RESETS = ("subtract", "zero")
#: Where :meth:`SpikingNetwork.run` simulates: neurosim's kernels, or the NEST simulator (neurosim.nest).
BACKENDS = ("neurosim", "nest")
#: The synapse of connect() when none is given: exponential, 5 ms, exact decay.
DEFAULT_SYNAPSE = PSC()



@dataclass(eq=False)
class Population:
    """A group of neurons in a :class:`SpikingNetwork` (returned by ``add_lif``, ``add_if``,
    ``add_hh`` and ``add_spike_source``).

    Attributes
    ----------
    n : int
        Number of neurons.
    label : str
    kind : str
        "lif", "if", "hh" or "source".
    """

    n: int
    label: str
    kind: str
    index: int
    params: dict = field(default_factory=dict, repr=False)

    def __repr__(self) -> str:
        return f"Population({self.label!r}, kind={self.kind!r}, n={self.n})"


@dataclass(eq=False, repr=False)
class Connection:
    """Weights from one population into an LIF, IF or HH population, through a synapse.

    Attributes
    ----------
    pre, post : Population
    synapse : PSC or Delta
    n_synapses : int
        Stored synapses (``pre.n * post.n`` for dense weights).
    storage : str
        "dense" (rows of ``W.T``), "sparse" (CSR of ``W.T``, a weight per synapse) or "uniform"
        (CSR of ``W.T``, one weight for all).
    delay_steps : int
        The longest delay, in steps (>= 1).
    """

    pre: Population
    post: Population
    synapse: PSC | Delta
    storage: str
    n_synapses: int
    # Dense: W.T flattened (row j = what a spike of pre-neuron j adds), in the kernel's units.
    dense_t: np.ndarray | None = None
    # Sparse: CSR of W.T (pointers (pre.n + 1,), post indices int32, weights or None if uniform).
    pointers: np.ndarray | None = None
    indices: np.ndarray | None = None
    weights_t: np.ndarray | None = None
    uniform_weight: float = 0.0
    delay_steps: int = 1
    # One delay (steps, int32) per stored synapse, aligned with indices; None for one delay for all.
    synapse_delays: np.ndarray | None = None

    def synapses(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Every stored synapse as ``(post, pre, weight, delay_steps)``, in the kernel's units.

        Returns
        -------
        post, pre : ndarray of int64, shape (n_synapses,)
            Postsynaptic and presynaptic neuron of each synapse (indices into ``post`` and ``pre``),
            ordered by presynaptic neuron. A dense connection lists every pair, zeros included.
        weight : ndarray of float64, shape (n_synapses,)
            The weight as the kernel uses it: normalized units (a charge into LIF and IF neurons,
            a jump for delta synapses) after any physical population's conversion.
        delay_steps : ndarray of int64, shape (n_synapses,)
            The delay of each synapse in steps (>= 1).
        """
        if self.storage == "dense":
            pre, post = np.divmod(np.arange(self.n_synapses, dtype=np.int64), self.post.n)
            weight = np.array(self.dense_t, dtype=np.float64)
        else:
            pre = np.repeat(np.arange(self.pre.n, dtype=np.int64), np.diff(self.pointers))
            post = self.indices.astype(np.int64)
            weight = (np.full(self.n_synapses, self.uniform_weight) if self.weights_t is None
                      else np.array(self.weights_t, dtype=np.float64))
        delay = (np.full(self.n_synapses, self.delay_steps, dtype=np.int64) if self.synapse_delays is None
                 else self.synapse_delays.astype(np.int64))
        return post, pre, weight, delay

    def out_degrees(self) -> np.ndarray:
        """The synapses of each presynaptic neuron, int64 (pre.n,), read from the stored structure
        without listing them: a dense connection's nonzero weights, a sparse one's stored synapses."""
        if self.storage == "dense":
            return np.count_nonzero(self.dense_t.reshape(self.pre.n, self.post.n), axis=1).astype(np.int64)
        return np.diff(self.pointers).astype(np.int64)

    @property
    def nbytes(self) -> int:
        """Bytes of the stored weights, indices and delays."""
        arrays = (self.dense_t, self.pointers, self.indices, self.weights_t, self.synapse_delays)
        return int(sum(a.nbytes for a in arrays if a is not None))

    def __repr__(self) -> str:
        return (f"Connection({self.pre.label!r} -> {self.post.label!r}, {self.synapse}, "
                f"storage={self.storage!r}, n_synapses={self.n_synapses}, delay_steps={self.delay_steps})")


@dataclass(eq=False)
class Probe:
    """What to record from a population; index a :class:`NetworkResult` with it.

    Attributes
    ----------
    target : Population
    kind : str
    neurons : ndarray of int64 or None
        The recorded neurons (indices into the population, in the order given), None for all.
    record_every : int
        Decimation of a trace: every ``record_every``-th step is kept.
    synapse : PSC or None
        The kernel of a "filtered" probe.
    """

    target: Population
    kind: str
    record_every: int
    synapse: PSC | None
    index: int
    neurons: np.ndarray | None = field(default=None, repr=False)

    @property
    def n(self) -> int:
        """Number of recorded neurons."""
        return self.target.n if self.neurons is None else int(self.neurons.size)


#: Bytes per recorded spike (an int32 neuron index and a float64 time).
SPIKE_RECORD_BYTES = layout.SPIKE_RECORD_BYTES


class NetworkResult:
    """What :meth:`SpikingNetwork.run` recorded.

    ``result[probe]`` is, for a "spikes" probe, a :class:`~neurosim.SpikeTrains` (or a list of
    them, one per trial, when ``n_trials > 1``); for the other probes an array of shape
    ``(n_neurons, n_samples)`` (``(n_trials, n_neurons, n_samples)`` with several trials) sampled at
    ``result.times(probe)``: voltages (LIF: normalized, threshold 1, or mV for physical parameters;
    IF: threshold 1; HH: mV), filtered spike trains (1/s, each spike a kernel of unit area), or
    input currents (LIF: normalized units, or nA for physical parameters; IF: 1/s; HH: µA/cm²).
    Rows follow the probe's ``neurons``.
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
    """A network of LIF, IF and Hodgkin-Huxley populations and spike sources joined by synapses.

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
    def add_lif(self, n: int, params: LIFParameters | PhysicalLIFParameters | None = None, *,
                tau_m=None, tau_ref=None, bias=0.0, current=None, v_init=None, noise=None, seed=None,
                label: str | None = None) -> Population:
        """Add a population of LIF neurons, ``tau_m dv/dt = v_in - v``, spike at 1, reset to 0.

        Parameters
        ----------
        n : int
            Number of neurons.
        params : LIFParameters or PhysicalLIFParameters, optional
            The neurons' parameters, one value for all or one per neuron.
            :class:`~neurosim.PhysicalLIFParameters` puts the population in the papers' units:
            ``bias`` and ``current`` in nA, ``v_init`` and ``noise`` in mV, PSC weights into it as
            charges in pC, delta weights as jumps in mV, and its voltage and current probes in mV
            and nA. Default: normalized units (threshold 1, reset 0) with ``LIFParameters()``.
        tau_m, tau_ref : float or array_like, shape (n,), optional
            Membrane time constant and refractory period (s), one for all or one per neuron, for
            normalized neurons; defaults :data:`neurosim.lif.DEFAULT_TAU_M` and
            :data:`~neurosim.lif.DEFAULT_TAU_REF`. Not together with ``params``.
        bias : float or array_like, shape (n,)
            Constant input added to every neuron's current.
        current : array_like, optional
            External input: shape (n,) constant, (n_trials, n) one constant vector per trial, or
            (n, n_steps) over time (the same in every trial; ``n_steps`` is ``round(t_end / dt)``
            of the run).
        v_init : float or array_like, shape (n,) or (n_trials, n), optional
            Initial membrane potential, below the threshold; default the reset. One vector per
            trial starts each trial's neurons in their own state (e.g. at their phase of firing).
        noise : float or array_like, shape (n,), optional
            Gaussian white noise of amplitude ``sigma`` (Brunel 2000): ``tau_m dv/dt = v_in - v +
            sigma sqrt(tau_m) xi(t)``, in units of the threshold (mV with physical parameters). The
            membrane moves by the exact Ornstein-Uhlenbeck update and threshold crossings inside a
            step are drawn from the Brownian-bridge crossing probability, the step of
            :func:`neurosim.simulate_lif` (``lif_noisy_step``); the noise of a neuron does not
            depend on threads, trials run beside it or how the run is split.
        seed : int, numpy.random.Generator or numpy.random.SeedSequence, optional
            Randomness of the noise (default: the network's generator). A run draws the noise
            afresh from it, as Poisson sources do.
        label : str, optional
        """
        n = check_positive_int("n", n)
        params = _resolve_lif_parameters(params, tau_m, tau_ref, n)
        tau_m, tau_ref = params.normalized().per_neuron(n)
        units = _LIFUnits.of(params, n)
        bias = units.input_offset + units.input_gain * self._per_neuron("bias", bias, n)
        current = self._current("current", current, n)
        if current is not None:
            over_time = current.ndim == 2 and current.shape != (self.n_trials, n)
            current = current * (units.input_gain[:, None] if over_time else units.input_gain)
        start = self._initial_voltages("v_init", units.voltage_reset if v_init is None else v_init, n)
        v_start = units.to_normalized_voltage(start)
        if np.any(v_start >= 1.0):
            threshold = "V_th (mV)" if units.physical else "the threshold 1 (normalized)"
            raise ValueError(f"v_init must be below {threshold}, got a maximum of {start.max()!r}")
        sigma = None
        if noise is not None:
            sigma = self._per_neuron("noise", noise, n)
            if np.any(sigma < 0):
                raise ValueError(f"noise must be >= 0 (sigma), got a minimum of {sigma.min()!r}")
            sigma = sigma * units.noise_scale
            if not np.any(sigma > 0):
                sigma = None                      # noise=0: the deterministic neuron, exactly
        elif seed is not None:
            raise ValueError("seed is only used with noise; pass noise=sigma as well")
        noise_seed = self._rng if seed is None else seed
        return self._add(n, label, "lif", dict(tau_m=tau_m, tau_ref=tau_ref, bias=bias, current=current,
                                                v_init=v_start, units=units, noise=sigma,
                                                noise_seed=noise_seed))

    def add_if(self, n: int, *, reset: str = "subtract", tau_ref=0.0, bias=0.0, current=None,
               v_init=0.0, label: str | None = None) -> Population:
        """Add a population of non-leaky integrate-and-fire neurons, ``dv/dt = v_in``, threshold 1.

        With ``reset="subtract"`` a spike subtracts the threshold and keeps the excess, so a
        constant input ``v_in`` (1/s) fires at exactly ``v_in`` Hz when ``tau_ref = 0``: the
        neuron counts its input, as the ReLU-to-spikes conversions of Rueckauer et al. (2017) need.
        In general the rate of a constant input is ``v_in / (1 + v_in tau_ref)`` for ``v_in > 0``
        and 0 otherwise (either reset: every crossing resets to exactly 0). The step is exact for an
        input constant over the step, spike times included.

        Parameters
        ----------
        n : int
            Number of neurons.
        reset : {"subtract", "zero"}
            After a spike ``v <- v - 1`` (reset by subtraction) or ``v <- 0``.
        tau_ref : float or array_like, shape (n,)
            Refractory period (s), >= 0; ``v`` is held during it.
        bias : float or array_like, shape (n,)
            Constant input (1/s: threshold units per second).
        current : array_like, optional
            External input (1/s), shapes as for :meth:`add_lif`.
        v_init : float or array_like, shape (n,) or (n_trials, n)
            Initial potential, below the threshold 1 (one vector per trial, or one for all).
        label : str, optional
        """
        n = check_positive_int("n", n)
        reset = check_choice("reset", reset, IF_RESETS)
        tau_ref = _per_neuron_time("tau_ref", tau_ref, n, allow_zero=True)
        bias = self._per_neuron("bias", bias, n)
        v_init = self._initial_voltages("v_init", v_init, n)
        if np.any(v_init >= 1.0):
            raise ValueError(f"v_init must be below the threshold 1, got a maximum of {v_init.max()!r}")
        current = self._current("current", current, n)
        return self._add(n, label, "if", dict(tau_ref=tau_ref, subtract=reset == "subtract", bias=bias,
                                               current=current, v_init=v_init))

    def add_hh(self, n: int, params: HHParameters | None = None, *, current=None, bias=0.0,
               threshold: float = 0.0, v_init=None, method: str = "euler",
               label: str | None = None) -> Population:
        """Add a population of Hodgkin-Huxley neurons (the model of :func:`neurosim.simulate_hh`).

        The neurons receive the synaptic currents of their incoming connections, in µA/cm²: a
        connection into an HH population has weights in µA/cm² times seconds (a spike's PSC is
        ``w h(t)`` with ``h`` of unit area, so its charge is ``w``; ``w / tau_s`` is the jump of the
        exponential PSC); a :class:`~neurosim.Delta` weight is a jump in mV. A spike is an upward
        crossing of ``threshold``, its time interpolated linearly in the step as in
        :func:`~neurosim.simulate_hh`; it drives connections like an LIF neuron's spike. Forward
        Euler needs ``dt <= 2e-5`` s (0.02 ms): use ``dt = 1e-5`` for networks with HH populations.

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
            Firing rates (Hz, >= 0), one per neuron or one vector per trial; at most
            ``MAX_SOURCE_RATE`` (1e9 Hz).
        kind : {"poisson", "regular"}
            Poisson processes, or regular trains (first spike at ``1 / (2 rate)``).
        trains : SpikeTrains or list of SpikeTrains (one per trial), optional
            Given spike times instead of rates. A spike is felt at the first step time at or after it.
        seed : int or Generator, optional
            Randomness of Poisson spikes (defaults to the network's).

        Notes
        -----
        Only the number of spikes per step reaches the network (a spike is felt at the first step
        time at or after it). A Poisson source whose mean count per step is high
        (``mean(rates) * dt >= 0.05``) therefore draws its counts step by step inside the
        simulation (a Poisson count per neuron and step, as NEST's ``poisson_generator`` and
        Brian2's ``PoissonInput`` do) instead of drawing spike times in advance; its recorded
        spikes ("spikes" probe) then lie at times spread over the step in which they are felt,
        chosen without touching the random stream (recording a source does not change the run).
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
            if n == 0:
                raise ValueError("trains must hold at least one neuron")
            params = dict(trains=trial_trains)
        else:
            kind = check_choice("kind", kind, SOURCE_KINDS)
            rates = as_finite_array("rates", rates, ndim=(1, 2))
            if np.any(rates < 0):
                raise ValueError("rates must be >= 0 Hz")
            if np.any(rates > layout.MAX_SOURCE_RATE):
                raise ValueError(f"rates must be at most {layout.MAX_SOURCE_RATE:g} Hz (a spike every "
                                 f"nanosecond), got a maximum of {rates.max():g} Hz")
            if rates.ndim == 2 and rates.shape[0] != self.n_trials:
                raise ValueError(f"2-D rates must have shape (n_trials={self.n_trials}, n), "
                                 f"got {rates.shape}")
            n = rates.shape[-1]
            if n == 0:
                raise ValueError("rates must hold at least one neuron's rate")
            rng = self._rng if seed is None else np.random.default_rng(seed)
            params = dict(rates=rates, source_kind=kind, rng=rng)
        return self._add(n, label, "source", params)

    def connect(self, pre: Population, post: Population, weights, *, synapse: PSC | Delta = DEFAULT_SYNAPSE,
                delay=None) -> Connection:
        """Join ``pre`` to the LIF, IF or HH population ``post`` through ``synapse``.

        Parameters
        ----------
        pre, post : Population
            Presynaptic population (any kind) and postsynaptic LIF, IF or HH population.
        weights : array_like or scipy.sparse matrix, shape (post.n, pre.n)
            ``weights[i, j]`` is the synapse from ``pre`` neuron ``j`` onto ``post`` neuron ``i``.
            With a :class:`~neurosim.PSC` it is the charge a spike delivers (its PSC is ``w h(t)``,
            ``h`` of unit area): normalized current times seconds into normalized LIF neurons, 1
            (threshold units) into IF neurons, pC into LIF neurons with physical parameters,
            µA/cm²·s into HH neurons. With a :class:`~neurosim.Delta` synapse it is the jump of the
            membrane potential (normalized, or mV). A dense array keeps every entry (fast for
            dense connectivity); a sparse matrix keeps its stored entries only (memory and time
            proportional to the synapses).
        synapse : PSC or Delta
            The synapse. Default ``PSC()``: exponential, ``tau_s`` = 5 ms, exact decay.
        delay : float, array_like of shape (post.n, pre.n), or scipy.sparse matrix, optional
            Transmission delay (s, finite, >= 0), one for the connection or one per synapse (a
            sparse matrix with the same entries as ``weights``, e.g. ``weights.copy()`` with new
            ``data``; or a dense array read at the synapses' positions). Rounded to
            ``max(1, round(delay / dt))`` steps: a spike emitted during step ``k`` is felt at step
            ``k + d``. Default: one step.

        Returns
        -------
        Connection
        """
        self._check_member("pre", pre)
        self._check_member("post", post)
        if post.kind == "source":
            raise ValueError("post must be an LIF, IF or HH population, got a spike source (its "
                             "spikes are given, it takes no input)")
        if not isinstance(synapse, PSC | Delta):
            raise TypeError(f"synapse must be a neurosim.PSC (e.g. PSC(tau_s=0.005, order=0)) or "
                            f"neurosim.Delta(), got {type(synapse).__name__}")
        synapse.check_step(self.dt)
        scale = self._weight_scale(post, synapse)
        connection = layout.build_connection(pre, post, weights, synapse, delay, self.dt, scale)
        check_allocation("synapse", layout.synapse_state_bytes(connection, self.n_trials),
                         "use a lower-order PSC, a shorter delay or fewer trials",
                         what=f"the state of {post.n} x {self.n_trials} synapses of {synapse}")
        self.connections.append(connection)
        return connection

    def probe(self, target: Population, kind: str = "spikes", *, neurons=None, record_every: int = 1,
              synapse: PSC | None = None) -> Probe:
        """Record ``kind`` from ``target``: "spikes", "voltage", "filtered" or "current".

        Parameters
        ----------
        target : Population
        kind : {"spikes", "voltage", "filtered", "current"}
            Spike times; voltage (see :class:`NetworkResult` for units); the population's spike
            trains filtered by ``synapse``'s kernel (1/s, sampled at the step times, as
            :func:`~neurosim.filter_spikes`); the neurons' total input current held over each
            step (each synapse's average over the step, see :meth:`~neurosim.PSC.step_average`).
        neurons : slice or array_like of int, optional
            Record these neurons of ``target`` only (indices in ``[0, target.n)``, no repeats; the
            record's rows follow their order). Default: all.
        record_every : int
            Keep every ``record_every``-th step of a trace (decimation, as in
            :func:`~neurosim.simulate_lif` and :func:`~neurosim.simulate_hh`).
        synapse : PSC, optional
            The kernel of a "filtered" probe; default ``PSC()`` (exponential, 5 ms, exact). Only
            for "filtered".

        Notes
        -----
        A trace probe holds ``8 * n_trials * n * ceil(n_steps / record_every)`` bytes; a spike probe
        ``SPIKE_RECORD_BYTES`` (12) per spike. :meth:`run` refuses a probe past
        :data:`neurosim.validation.MAX_ALLOCATION_BYTES` before it allocates anything.
        """
        self._check_member("target", target)
        kind = check_choice("kind", kind, PROBE_KINDS)
        record_every = check_positive_int("record_every", record_every)
        if target.kind == "source" and kind in ("voltage", "current"):
            raise ValueError(f"a spike source has no {kind}; probe 'spikes' or 'filtered'")
        if kind == "filtered":
            synapse = DEFAULT_SYNAPSE if synapse is None else synapse
            if not isinstance(synapse, PSC):
                raise TypeError(f"synapse of a filtered probe must be a neurosim.PSC, got "
                                f"{type(synapse).__name__}")
            synapse.check_step(self.dt)
        elif synapse is not None:
            raise ValueError(f"synapse= is for 'filtered' probes only, not {kind!r}")
        probe = Probe(target, kind, record_every, synapse, index=len(self.probes),
                      neurons=_probe_neurons(neurons, target.n))
        self.probes.append(probe)
        return probe

    # -- running -----------------------------------------------------------------------------
    def memory_estimate(self, t_end: float) -> dict[str, int]:
        """Bytes a :meth:`run` of ``t_end`` seconds would allocate, by item, before any spike.

        Returns
        -------
        dict
            ``"probe <i> (<kind> of <label>)"`` for each trace probe, ``"connections"`` (the
            stored weights, indices and delays, already held), ``"state"`` (neurons, synapses,
            delay rings, inputs, source events), ``"spike record"`` (its first allocation; it
            grows by doubling, 12 bytes per spike) and ``"total"`` (what the run allocates,
            connections excluded).
        """
        n_steps = layout.n_steps_of(t_end, self.dt)
        return layout.memory_estimate(self, n_steps)

    def run(self, t_end: float, *, progress: bool | None = None, backend: str = "neurosim",
            nest_threads: int | None = None) -> NetworkResult:
        """Simulate ``[0, t_end)`` and return what the probes recorded.

        Parameters
        ----------
        t_end : float
            Duration (s); the run takes ``round(t_end / dt)`` steps.
        progress : bool, optional
            A tqdm bar over simulated time; default: only when stderr is a terminal. The bar says
            so when the first run of the process loads or compiles the Numba kernels (seconds the
            first time on a machine, then cached). With ``backend="nest"``: NEST's own progress line.
        backend : {"neurosim", "nest"}
            ``"nest"`` builds the network in the NEST 3 simulator and runs it there, on its threads
            and MPI processes, returning the same result (:mod:`neurosim.nest` says what maps to
            what, the differences, what is refused and how to launch a script under MPI; install
            the ``nest`` extra). NEST's random seed (Poisson sources, noise) is drawn from the
            network's generator.
        nest_threads : int, optional
            NEST's threads per process (``local_num_threads``), default 1; ``backend="nest"`` only.

        Raises
        ------
        ValueError
            When a probe, the spike record or the whole run would exceed the memory limit
            (:data:`neurosim.validation.MAX_ALLOCATION_BYTES`), or a delay is longer than the run;
            with ``backend="nest"``, when the network uses a feature NEST cannot express (the
            message names it).
        FloatingPointError
            When the state becomes non-finite (weights or currents too large) or an HH
            population's integration diverges (dt too large for the model).
        """
        backend = check_choice("backend", backend, BACKENDS)
        n_steps = layout.n_steps_of(t_end, self.dt)
        if progress is None:
            progress = bool(getattr(sys.stderr, "isatty", lambda: False)())
        elif not isinstance(progress, bool | np.bool_):
            raise TypeError(f"progress must be a bool or None, got {type(progress).__name__}")
        if backend == "nest":
            from . import nest as nest_backend

            threads = 1 if nest_threads is None else check_positive_int("nest_threads", nest_threads)
            nest_backend.nest_models(self)          # refuses what NEST cannot express, before any draw
            seed = int(self._rng.integers(1, 2**31 - 1))
            return nest_backend.run(self, t_end, threads=threads, seed=seed, progress=bool(progress))
        if nest_threads is not None:
            raise ValueError("nest_threads is for backend='nest' only")
        return layout.simulate(self, n_steps, bool(progress))

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

    def _initial_voltages(self, name, value, n):
        """One start per neuron, shape (n,), or one vector per trial, shape (n_trials, n)."""
        array = as_finite_array(name, value, ndim=(0, 1, 2))
        if array.ndim < 2:
            return self._per_neuron(name, array, n)
        if array.shape != (self.n_trials, n):
            raise ValueError(f"a 2-D {name} must have shape (n_trials, n) = ({self.n_trials}, {n}), "
                             f"got {array.shape}")
        return array.copy()

    def _per_neuron(self, name, value, n):
        array = as_finite_array(name, value, ndim=(0, 1))
        if array.ndim == 1 and array.shape != (n,):
            raise ValueError(f"{name} must be a scalar or have shape ({n},), got {array.shape}")
        return np.broadcast_to(array, (n,)).astype(np.float64)

    @staticmethod
    def _weight_scale(post, synapse):
        """Per postsynaptic neuron, the factor from the user's weights to the kernel's units."""
        units = post.params.get("units")
        if units is None:
            return np.ones(post.n)
        return units.jump_scale if isinstance(synapse, Delta) else units.charge_scale

    def __repr__(self) -> str:
        return (f"SpikingNetwork(dt={self.dt:g} s, n_trials={self.n_trials}, "
                f"populations={[p.label for p in self.populations]}, "
                f"n_connections={len(self.connections)}, n_probes={len(self.probes)})")


@dataclass(frozen=True)
class _LIFUnits:
    """How an LIF population's units map onto the normalized model the kernels compute in, per
    neuron, taken once from the parameter object's own conversions.

    ``V = voltage_reset + voltage_span * v`` (mV, or normalized when not physical),
    ``v_in = input_offset + input_gain * I`` (I in nA, or normalized); a charge (pC) becomes the
    normalized weight ``charge_scale * charge`` and a jump (mV) the normalized jump
    ``jump_scale * jump``; a noise amplitude (mV) becomes ``noise_scale * sigma``.
    """

    physical: bool
    voltage_reset: np.ndarray
    voltage_span: np.ndarray
    input_offset: np.ndarray
    input_gain: np.ndarray
    charge_scale: np.ndarray
    jump_scale: np.ndarray
    noise_scale: np.ndarray

    @classmethod
    def of(cls, params, n):
        ones, zeros = np.ones(n), np.zeros(n)
        if not isinstance(params, PhysicalLIFParameters):
            return cls(False, zeros, ones, zeros, ones, ones, ones, ones)
        offset = np.asarray(params.normalized_input(zeros), dtype=np.float64)
        reset = np.asarray(params.voltage(zeros), dtype=np.float64)
        tau_m = params.normalized().per_neuron(n)[0]
        return cls(True, reset, np.asarray(params.voltage(ones)) - reset, offset,
                   np.asarray(params.normalized_input(ones)) - offset,
                   np.asarray(params.weight_from_charge(ones), dtype=np.float64),
                   np.asarray(params.weight_from_jump(ones), dtype=np.float64) / tau_m,
                   np.asarray(params.normalized_noise(ones), dtype=np.float64))

    def to_normalized_voltage(self, volts):
        return (volts - self.voltage_reset) / self.voltage_span if self.physical else volts


def _resolve_lif_parameters(params, tau_m, tau_ref, n):
    if params is None:
        params = LIFParameters(tau_m=DEFAULT_TAU_M if tau_m is None else tau_m,
                               tau_ref=DEFAULT_TAU_REF if tau_ref is None else tau_ref)
    elif not isinstance(params, LIFParameters | PhysicalLIFParameters):
        raise TypeError("params must be a LIFParameters or PhysicalLIFParameters, got "
                        f"{type(params).__name__}")
    elif tau_m is not None or tau_ref is not None:
        raise ValueError("give tau_m and tau_ref either as arguments or through params, not both")
    if params.n_neurons not in (None, n):
        raise ValueError(f"params hold {params.n_neurons} per-neuron values, but the population has "
                         f"n={n} neurons")
    return params


def _per_neuron_time(name, value, n, allow_zero=False):
    values = check_time_constant(name, value, allow_zero=allow_zero, stacklevel=4)
    array = np.asarray(values, dtype=np.float64)
    if array.ndim == 1 and array.shape != (n,):
        raise ValueError(f"{name} must be a scalar or have shape ({n},), got {array.shape}")
    return np.broadcast_to(array, (n,)).astype(np.float64)


def _probe_neurons(neurons, n):
    """The recorded neurons of a probe as int64 indices, or None for all."""
    if neurons is None:
        return None
    if isinstance(neurons, slice):
        return np.arange(n, dtype=np.int64)[neurons]
    if scipy.sparse.issparse(neurons):
        raise TypeError("neurons must be a slice or an array of indices")
    index = np.asarray(neurons)
    if index.dtype == bool or not np.issubdtype(index.dtype, np.integer) or index.ndim != 1:
        raise TypeError(f"neurons must be a slice or a 1-D array of integer indices, got {index.dtype} "
                        f"of shape {index.shape}")
    if index.size == 0:
        raise ValueError("neurons must select at least one neuron")
    if index.min() < 0 or index.max() >= n:
        raise ValueError(f"neurons must lie in [0, {n}) (the population's size), got "
                         f"[{index.min()}, {index.max()}]")
    if np.unique(index).size != index.size:
        raise ValueError("neurons must not repeat an index")
    return index.astype(np.int64)
