"""Bridge to NIR, the Neuromorphic Intermediate Representation: spiking networks out and back in.

:func:`to_nir` writes a :class:`~neurosim.SpikingNetwork` of LIF and IF populations and spike
sources as a ``nir.NIRGraph`` (``nir.write`` saves it as the HDF5 file that snnTorch, Norse, Lava,
SpiNNaker2... read); :func:`from_nir` builds a network from such a graph (or a file), and a
network exported and imported runs spike for spike like the original. A ratenet
``SpikingClassifier`` exports through it (``SpikingClassifier.to_nir()``).

nir is imported only when a conversion runs; install it with the ``nir`` extra:
``pip install "neurosim-ratenet[nir]"``.

**Units and the mapping.** NIR describes each node by a continuous-time equation and records no
units. neurosim writes and reads **seconds** (``time_unit=1.0``; a graph whose times are in
milliseconds is read with ``time_unit=1e-3``) and **dimensionless voltages**, threshold 1 and reset
0: the normalized model of every LIF population, ``tau_m dv/dt = v_in - v`` (a population with
:class:`~neurosim.PhysicalLIFParameters` is written through its normalized equivalent, ``v = (V -
V_reset) / (V_th - V_reset)``; its voltages in mV are not in the graph). A spike is a Dirac impulse
of unit area in the graph's time unit. NIR's nodes and what neurosim makes of them:

======================  ===========================================  =====================================
NIR node                its equation (NIR)                           neurosim
======================  ===========================================  =====================================
``Input``               data fed to the graph                        a spike source (``inputs=`` gives its
                                                                     spike trains), or a constant vector
                                                                     ``x`` (an external current)
``Linear``/``Affine``   ``y = W x (+ b)``                            the weights of a connection
                                                                     (``W[post, pre]``); an Affine's ``b``
                                                                     straight into a neuron is a bias
``Delay``               ``y(t) = x(t - tau)``                        the connection's delay (s)
``LI``                  ``tau dv/dt = (v_leak - v) + r I``           a synapse stage: ``v_leak = 0``, ``r``
                                                                     a gain; a chain of ``n + 1`` equal
                                                                     stages is ``PSC(tau, order=n)``
``LIF``                 ``tau dv/dt = (v_leak - v) + r I``,          LIF neurons; a spike straight into it
                        spike at ``v_threshold``, reset ``v_reset``  (no synapse) is a ``Delta`` synapse
``CubaLIF``             ``tau_syn dI/dt = -I + w_in S``,             LIF neurons whose every input passes
                        ``tau_mem dv/dt = (v_leak - v) + r I``       one more stage ``tau_syn``: an
                                                                     exponential ``PSC(tau_syn)``
``IF``                  ``dv/dt = r I``, spike and reset as LIF      IF neurons (``add_if``, reset to 0)
``Scale``               ``y = s x``                                  folded into the weights
``Output``              the graph's result                           the population (and readout) it reads
======================  ===========================================  =====================================

In numbers, for a node with span ``v_threshold - v_reset`` and time unit ``u`` (s): an LIF node is
``tau_m = u tau`` and bias ``(v_leak - v_reset) / span``; a weight ``W`` into it through a synapse
becomes the charge ``u r w_in W / span`` (neurosim's PSC has unit area, so a spike of weight ``q``
delivers the charge ``q``: ``q / tau_s`` is the jump of the exponential current, as NIR's
``w_in W / tau_syn``), without one the jump ``(r / tau) W / span``. Into an IF node the charge is
``r W / span`` and the jump ``r W / span``. An Affine's bias ``b`` into a node adds ``r b / span``
to its bias (divided by ``u`` for IF). :func:`to_nir` writes ``v_threshold = 1``, ``v_reset = 0``,
``w_in = 1``, ``r = 1`` (``r = tau`` for LIF neurons that receive only delta synapses, so that
their weights are the jumps themselves) and ``v_leak`` = the bias, so every factor above is
exactly 1 and the round trip is exact.

Time. NIR's time is continuous; neurosim's step ``dt`` discretises it as every network does: a
spike is felt from the next step on (neurosim's shortest delay, one step, is NIR's zero delay),
a ``Delay`` of ``tau`` seconds is ``max(1, round(tau / dt))`` steps, and :func:`to_nir` writes a
delay of ``d > 1`` steps as a ``Delay`` of ``d dt``. Initial voltages are not part of NIR:
imported neurons start at their reset, unless the graph came from neurosim with other initial
voltages (kept in the node's metadata, which only neurosim reads).

What NIR cannot express is refused, naming it, never approximated: Hodgkin-Huxley neurons, noise,
PSC synapses integrated by the notes' Euler method (NIR's synapse is the exact ODE), a refractory
period (NIR's LIF and IF have none: ``refractory="metadata"`` writes it into the node's metadata
instead, which neurosim reads back but other tools ignore), external currents that vary per trial
or over time (give them as an ``Input``: ``analog_inputs=``), IF neurons with reset by subtraction
that receive delta synapses (NIR resets to ``v_reset``), and, on import, nodes and shapes outside
this table (convolutions, nested graphs, a bias through a synapse or a delay, unequal stages...).

Examples
--------
>>> graph = neurosim.nir.to_nir(net)                       # a nir.NIRGraph
>>> nir.write("net.nir", graph)
>>> imported = neurosim.nir.from_nir("net.nir", dt=1e-3, inputs={"source": trains})
>>> spikes = imported.network.probe(imported.populations["cells"], "spikes")
>>> imported.network.run(1.0)[spikes]
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import scipy.sparse

from .network import Population, SpikingNetwork
from .spikes import SpikeTrains
from .synapse import PSC, Delta
from .validation import as_finite_array, check_allocation, check_choice, check_positive

__all__ = ["NIRNetwork", "NIROutput", "from_nir", "to_nir"]

REFRACTORY_CHOICES = ("refuse", "metadata")
#: Metadata keys neurosim writes on nodes (read back by :func:`from_nir`, ignored by other tools).
META_TAU_REF = "neurosim_tau_ref"
META_V_INIT = "neurosim_v_init"
META_RESET = "neurosim_reset"
META_CONNECTION = "neurosim_connection"
META_POPULATION = "neurosim_population"
META_STORAGE = "neurosim_storage"
META_DT = "neurosim_dt"
META_TIME_UNIT = "time_unit_s"
# A Linear matrix imported with fewer nonzero entries than this fraction is stored sparse.
_SPARSE_BELOW = 0.5


def _import_nir():
    try:
        import nir
    except ImportError as error:
        raise ImportError("NIR export and import need the nir package: "
                          "pip install 'neurosim-ratenet[nir]'") from error
    return nir


# ============================================================================================ export

@dataclass
class _Target:
    """How one LIF or IF population is written: its node kind and its ``r`` and ``tau`` in the
    graph's time unit (which fix the factors of the weights into it)."""

    name: str
    population: Population
    kind: str                       # "LIF", "CubaLIF" or "IF"
    r: np.ndarray
    tau: np.ndarray | None = None   # LIF and CubaLIF: tau_m / time_unit
    tau_syn: float | None = None    # CubaLIF: tau_s / time_unit


def to_nir(network: SpikingNetwork, *, outputs=None, analog_inputs=None, refractory: str = "refuse",
           time_unit: float = 1.0):
    """Write ``network`` as a NIR graph (see the module docs for the mapping and its units).

    Parameters
    ----------
    network : SpikingNetwork
        LIF and IF populations, spike sources (each becomes an ``Input`` node: its spikes are data,
        not part of the graph), dense or sparse connections through exact PSC synapses of any
        order or delta synapses, with delays.
    outputs : dict, optional
        ``{name: population}`` (the population's spikes are an ``Output``) or
        ``{name: (population, W, b)}`` (a linear readout ``W spikes + b``, ``W`` of shape
        (n_out, population.n), ``b`` (n_out,)). Default: the spikes of every LIF or IF population
        that projects nowhere, named ``"output_<label>"``.
    analog_inputs : dict, optional
        ``{name: (population, W, b)}``: an ``Input`` node ``name`` of size ``W.shape[1]`` whose
        vector ``x`` gives the LIF or IF ``population`` the external current ``W x + b`` (in its
        normalized input units; ``W`` of shape (n, n_in), ``b`` (n,)). This is how a network whose
        current differs per trial (one sample per trial) is written; the population's own
        ``current`` is replaced by this description.
    refractory : {"refuse", "metadata"}
        A refractory period ``tau_ref > 0`` has no NIR equivalent: refuse (default), or write it
        into the nodes' metadata (``"neurosim_tau_ref"``), which :func:`from_nir` reads back and
        other tools ignore (they simulate the neurons without it).
    time_unit : float
        Seconds per time unit of the graph: 1.0 (default) writes seconds, 1e-3 milliseconds.

    Returns
    -------
    nir.NIRGraph
        Node names are the populations' labels (made unique; characters other than letters,
        digits, ``_``, ``.`` and ``-`` become ``_``); connection ``i`` writes ``"connection<i>"``
        (its Linear; ``"connection<i>_<d>"`` for each delay of ``d`` steps when they differ),
        ``"connection<i>_delay<d>"`` and ``"connection<i>_synapse<k>"`` nodes.
        ``graph.metadata`` holds the step (``"neurosim_dt"``, s) and ``"time_unit_s"``.

    Raises
    ------
    ValueError
        Naming the population or connection that uses what NIR cannot express (HH neurons,
        noise, an Euler synapse, a refractory period, a per-trial or time-varying current,
        per-trial initial voltages, an IF reset by subtraction with delta synapses), or a dense
        weight matrix past :data:`neurosim.validation.MAX_ALLOCATION_BYTES`.
    """
    nir = _import_nir()
    if not isinstance(network, SpikingNetwork):
        raise TypeError(f"network must be a neurosim.SpikingNetwork, got {type(network).__name__}")
    refractory = check_choice("refractory", refractory, REFRACTORY_CHOICES)
    unit = check_positive("time_unit", time_unit)
    names = _node_names(network.populations)
    analog = _check_analog_inputs(network, analog_inputs, names)
    analog_targets = {population for population, _, _ in analog.values()}
    nodes, edges, targets = {}, [], {}
    for index, population in enumerate(network.populations):
        metadata = {META_POPULATION: index}
        if population.kind == "source":
            nodes[names[population]] = nir.Input(input_type=np.array([population.n]), metadata=metadata)
            continue
        if population.kind == "hh":
            raise ValueError(f"the population {population.label!r} is made of Hodgkin-Huxley neurons, "
                             "which NIR cannot express (its neurons are LIF, IF and integrators)")
        target = _target(network, population, names[population], population in analog_targets, unit)
        nodes[target.name] = _neuron_node(nir, target, refractory, unit, network.n_trials,
                                          population in analog_targets, metadata)
        targets[population] = target
    outputs = _check_outputs(network, outputs, names)
    for index, connection in enumerate(network.connections):
        _write_connection(nir, nodes, edges, index, connection, targets[connection.post], names,
                          network.dt, unit)
    biases_written = set()
    for name, (population, weights, bias) in analog.items():
        target = targets[population]
        if target.kind == "IF":             # no v_leak: its own bias rides on its (first) analog input
            if population not in biases_written:
                bias = bias + _constant_bias(population, network.n_trials)
                biases_written.add(population)
            weights, bias = weights * unit, bias * unit
        nodes[name] = nir.Input(input_type=np.array([weights.shape[1]]))
        nodes[f"{name}_to_{target.name}"] = nir.Affine(weight=weights, bias=bias)
        edges += [(name, f"{name}_to_{target.name}"), (f"{name}_to_{target.name}", target.name)]
    for population, target in targets.items():
        if target.kind == "IF" and population not in biases_written:
            _write_if_bias(nir, nodes, edges, network, target, names, unit)
    for name, (population, readout) in outputs.items():
        if readout is None:
            nodes[name] = nir.Output(output_type=np.array([population.n]))
            edges.append((names[population], name))
        else:
            weights, bias = readout
            nodes[f"{name}_readout"] = nir.Affine(weight=weights, bias=bias)
            nodes[name] = nir.Output(output_type=np.array([weights.shape[0]]))
            edges += [(names[population], f"{name}_readout"), (f"{name}_readout", name)]
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata={META_DT: float(network.dt), META_TIME_UNIT: unit})


def _node_names(populations) -> dict:
    names, used = {}, set()
    for population in populations:
        base = re.sub(r"[^0-9A-Za-z_.-]+", "_", population.label).strip("_") or population.kind
        name, k = base, 1
        while name in used or name.startswith(("connection", "output")):
            name, k = f"{base}_{k}", k + 1
        used.add(name)
        names[population] = name
    return names


def _check_analog_inputs(network, analog_inputs, names) -> dict:
    if analog_inputs is None:
        return {}
    if not isinstance(analog_inputs, dict):
        raise TypeError("analog_inputs must be a dict {name: (population, W, b)}")
    checked = {}
    for name, value in analog_inputs.items():
        if not (isinstance(value, tuple) and len(value) == 3):
            raise TypeError(f"analog_inputs[{name!r}] must be a tuple (population, W, b)")
        population, weights, bias = value
        if population not in network.populations or population.kind == "source":
            raise ValueError(f"analog_inputs[{name!r}] must name an LIF or IF population of the network")
        weights = as_finite_array(f"analog_inputs[{name!r}] W", weights, ndim=2)
        bias = as_finite_array(f"analog_inputs[{name!r}] b", bias, ndim=1)
        if weights.shape[0] != population.n or bias.shape != (population.n,):
            raise ValueError(f"analog_inputs[{name!r}]: W must have shape ({population.n}, n_in) and b "
                             f"shape ({population.n},), got {weights.shape} and {bias.shape}")
        if str(name) in names.values():
            raise ValueError(f"analog_inputs: the name {name!r} is already a population's node")
        checked[str(name)] = (population, weights, bias)
    return checked


def _check_outputs(network, outputs, names) -> dict:
    """``{name: (population, None or (W, b))}``."""
    if outputs is None:
        sending = {c.pre for c in network.connections}
        leaves = [p for p in network.populations if p.kind in ("lif", "if") and p not in sending]
        return {f"output_{names[p]}": (p, None) for p in leaves}
    if not isinstance(outputs, dict):
        raise TypeError("outputs must be a dict {name: population or (population, W, b)}")
    checked = {}
    for name, value in outputs.items():
        population, readout = (value, None) if isinstance(value, Population) else (value[0], value[1:])
        if population not in network.populations or population.kind not in ("lif", "if"):
            raise ValueError(f"outputs[{name!r}] must be an LIF or IF population of the network")
        if readout is not None:
            if len(readout) != 2:
                raise TypeError(f"outputs[{name!r}] must be a population or a tuple (population, W, b)")
            weights = as_finite_array(f"outputs[{name!r}] W", readout[0], ndim=2)
            bias = as_finite_array(f"outputs[{name!r}] b", readout[1], ndim=1)
            if weights.shape[1] != population.n or bias.shape != (weights.shape[0],):
                raise ValueError(f"outputs[{name!r}]: W must have shape (n_out, {population.n}) and b "
                                 f"(n_out,), got {weights.shape} and {bias.shape}")
            readout = (weights, bias)
        if str(name) in names.values():
            raise ValueError(f"outputs: the name {name!r} is already a population's node")
        checked[str(name)] = (population, readout)
    return checked


def _target(network, population, name, analog_target, unit) -> _Target:
    """The node kind of a neuron population and its ``r``, from its incoming connections."""
    incoming = [c for c in network.connections if c.post is population]
    for c in incoming:
        if isinstance(c.synapse, PSC) and c.synapse.method != "exact":
            raise ValueError(f"the connection {c.pre.label!r} -> {c.post.label!r} uses a PSC integrated by "
                             "the Euler method, a discretisation NIR cannot express (its synapse is the "
                             "exact ODE): use neurosim.PSC(tau_s, order, method='exact')")
    psc = [c.synapse for c in incoming if isinstance(c.synapse, PSC)]
    jumps = len(incoming) - len(psc)
    n = population.n
    if population.kind == "if":
        if population.params["subtract"] and jumps:
            raise ValueError(f"the IF population {population.label!r} resets by subtraction and receives "
                             "delta synapses: NIR's IF resets to v_reset, which differs after a jump past "
                             "the threshold; use add_if(..., reset='zero') or PSC synapses")
        return _Target(name, population, "IF", np.ones(n))
    tau = population.params["tau_m"] / unit
    if psc and not jumps and not analog_target and all(s.order == 0 and s.tau_s == psc[0].tau_s for s in psc):
        return _Target(name, population, "CubaLIF", np.ones(n), tau, psc[0].tau_s / unit)
    # Delta synapses only: r = tau makes a weight the jump itself (tau dv/dt = ... + tau W S).
    return _Target(name, population, "LIF", tau.copy() if not psc and not analog_target else np.ones(n), tau)


def _constant_bias(population, n_trials) -> np.ndarray:
    """The population's bias plus its external current when that is one constant vector."""
    params = population.params
    current = params.get("current")
    if current is None:
        return params["bias"].copy()
    n = population.n
    if current.ndim == 1:
        return params["bias"] + current
    if current.shape == (n_trials, n) and np.all(current == current[:1]):
        return params["bias"] + current[0]
    kind = "per trial" if current.shape == (n_trials, n) else "over time"
    raise ValueError(f"the population {population.label!r} receives an external current that varies {kind}: "
                     "it is an input, not part of a NIR graph; describe it as an Input with "
                     "analog_inputs={name: (population, W, b)}, or drive the population by a spike source")


def _neuron_node(nir, target, refractory, unit, n_trials, analog_target, metadata):
    population, params = target.population, target.population.params
    label, n = population.label, population.n
    if population.kind == "lif" and params.get("noise") is not None:
        raise ValueError(f"the LIF population {label!r} receives white noise, which NIR cannot express "
                         "(it has no noise source): export it without noise=")
    bias = params["bias"].copy() if analog_target else _constant_bias(population, n_trials)
    if np.any(params["tau_ref"] > 0):
        if refractory == "refuse":
            raise ValueError(f"the population {label!r} has a refractory period (tau_ref up to "
                             f"{params['tau_ref'].max():g} s), which NIR's {target.kind} cannot express: "
                             "use tau_ref=0 (ratenet: train with LIFRate(tau_ref=0)), or pass "
                             "refractory='metadata' to keep it in the node's metadata, which only "
                             "neurosim reads back")
        metadata[META_TAU_REF] = params["tau_ref"] / unit
    v_init = params["v_init"]
    if v_init.ndim == 2:
        if not np.all(v_init == v_init[:1]):
            raise ValueError(f"the population {label!r} starts each trial at its own voltages (v_init of "
                             "shape (n_trials, n)): a NIR graph holds one network and no per-trial state")
        v_init = v_init[0]
    if np.any(v_init != 0):
        metadata[META_V_INIT] = np.array(v_init, dtype=np.float64)
    ones, zeros = np.ones(n), np.zeros(n)
    if target.kind == "IF":
        metadata[META_RESET] = "subtract" if params["subtract"] else "zero"
        return nir.IF(r=target.r, v_threshold=ones, v_reset=zeros, metadata=metadata)
    if target.kind == "CubaLIF":
        return nir.CubaLIF(tau_syn=np.full(n, target.tau_syn), tau_mem=target.tau, r=target.r, v_leak=bias,
                           v_threshold=ones, v_reset=zeros, w_in=ones.copy(), metadata=metadata)
    return nir.LIF(tau=target.tau, r=target.r, v_leak=bias, v_threshold=ones, v_reset=zeros,
                   metadata=metadata)


def _write_connection(nir, nodes, edges, index, connection, target, names, dt, unit):
    """``Linear`` (one per delay) -> [``Delay``] -> [``LI`` stages] -> the neuron node."""
    post, pre, weight, delay = connection.synapses()
    n_post, n_pre = connection.post.n, connection.pre.n
    stem = f"connection{index}"
    stages = []
    if isinstance(connection.synapse, Delta):
        factor = np.ones(n_post) if target.kind == "IF" else target.tau / target.r
    else:
        factor = 1.0 / (target.r * (1.0 if target.kind == "IF" else unit))
        if target.kind != "CubaLIF":
            stages = [f"{stem}_synapse{k}" for k in range(connection.synapse.order + 1)]
    for k, stage in enumerate(stages):
        nodes[stage] = nir.LI(tau=np.full(n_post, connection.synapse.tau_s / unit), r=np.ones(n_post),
                              v_leak=np.zeros(n_post))
        edges.append((stage, stages[k + 1] if k + 1 < len(stages) else target.name))
    entry = stages[0] if stages else target.name
    steps = np.unique(delay)
    check_allocation("weights", 8.0 * steps.size * n_post * n_pre, "export smaller populations (NIR's Linear "
                     "node holds a dense matrix, one per delay)",
                     what=f"{steps.size} dense {n_post} x {n_pre} weight matrices")
    for d in steps:
        matrix = np.zeros((n_post, n_pre))
        chosen = delay == d
        matrix[post[chosen], pre[chosen]] = weight[chosen]
        if np.any(factor != 1.0):
            matrix *= np.broadcast_to(factor, (n_post,))[:, None]
        linear = stem if steps.size == 1 else f"{stem}_{d}"
        nodes[linear] = nir.Linear(weight=matrix, metadata={META_CONNECTION: index,
                                                           META_STORAGE: connection.storage})
        edges.append((names[connection.pre], linear))
        if d > 1:
            nodes[f"{stem}_delay{d}"] = nir.Delay(delay=np.full(n_post, d * dt / unit))
            edges += [(linear, f"{stem}_delay{d}"), (f"{stem}_delay{d}", entry)]
        else:
            edges.append((linear, entry))


def _write_if_bias(nir, nodes, edges, network, target, names, unit):
    """NIR's IF has no constant input of its own: a bias is an Affine of zero weights (so its output
    is the bias alone) from a presynaptic node straight into the IF node."""
    population = target.population
    bias = _constant_bias(population, network.n_trials)
    if not np.any(bias):
        return
    incoming = [c for c in network.connections if c.post is population]
    if not incoming:
        raise ValueError(f"the IF population {population.label!r} has a bias but no input: NIR's IF has "
                         "no constant input of its own, and the graph has no node to carry it from")
    pre = incoming[0].pre
    name = f"{target.name}_bias"
    nodes[name] = nir.Affine(weight=np.zeros((population.n, pre.n)), bias=bias * unit)
    edges += [(names[pre], name), (name, target.name)]


# ============================================================================================ import

@dataclass(frozen=True, repr=False)
class NIROutput:
    """What an ``Output`` node of an imported graph reads from the network.

    Attributes
    ----------
    population : Population
        The population whose spikes the output reads.
    weights : ndarray, shape (n_out, population.n), or None
        The graph's linear readout of those spikes (its ``Linear``/``Affine`` times any gains), in
        the graph's units (apply it to spike trains in the graph's time unit); None when the
        output is the spikes themselves.
    bias : ndarray, shape (n_out,), or None
        The readout's constant term.
    synapse : PSC or None
        The filter of ``LI`` stages between the spikes and the output (probe the population
        ``"filtered"`` with it); None when the output reads the spike trains unfiltered (their
        mean over a window is the rate: ``weights @ rates + bias``).
    """

    population: Population
    weights: np.ndarray | None = None
    bias: np.ndarray | None = None
    synapse: PSC | None = None

    def __repr__(self) -> str:
        shape = None if self.weights is None else self.weights.shape
        return f"NIROutput({self.population.label!r}, weights={shape}, synapse={self.synapse!r})"


@dataclass(frozen=True, repr=False)
class NIRNetwork:
    """A network built from a NIR graph by :func:`from_nir`.

    Attributes
    ----------
    network : SpikingNetwork
        Ready to probe and run.
    populations : dict of str to Population
        Every spiking ``Input`` node (a spike source) and every neuron node, by node name.
    outputs : dict of str to NIROutput
        Every ``Output`` node, by name.
    """

    network: SpikingNetwork
    populations: dict
    outputs: dict = field(default_factory=dict)

    def __repr__(self) -> str:
        return (f"NIRNetwork(populations={list(self.populations)}, outputs={list(self.outputs)}, "
                f"n_connections={len(self.network.connections)})")


@dataclass
class _Neuron:
    """A neuron node read into neurosim's normalized model (times in s, voltages in units of span)."""

    name: str
    kind: str                          # "lif" or "if"
    n: int
    r: np.ndarray
    span: np.ndarray
    bias: np.ndarray
    tau: np.ndarray | None = None      # LIF: tau in the graph's unit
    tau_m: np.ndarray | None = None    # LIF: tau in s
    tau_syn: float | None = None       # CubaLIF: in the graph's unit
    w_in: np.ndarray | None = None
    tau_ref: np.ndarray | float = 0.0
    reset: str = "zero"
    v_init: np.ndarray | float = 0.0
    current: np.ndarray | None = None


@dataclass
class _Path:
    """A linear path from a spiking (or analog) node to a neuron or Output node."""

    n_origin: int
    pre_gain: np.ndarray
    pre_delay: np.ndarray
    matrix: np.ndarray | None = None       # (n_now, n_origin) once a Linear/Affine was passed
    post_delay: np.ndarray | None = None
    stages: tuple = ()                     # (tau, node name) of each LI stage, graph units
    tag: object = None
    storage: str | None = None
    through: tuple = ()

    @property
    def n_now(self) -> int:
        return self.n_origin if self.matrix is None else self.matrix.shape[0]


def from_nir(graph, dt: float | None = None, *, inputs=None, n_trials: int = 1, seed=None,
             time_unit: float | None = None) -> NIRNetwork:
    """Build a :class:`~neurosim.SpikingNetwork` from a NIR graph (see the module docs).

    Parameters
    ----------
    graph : nir.NIRGraph, str or path
        The graph, or a NIR file (read with ``nir.read``). Nodes: Input, Output, Linear, Affine,
        Scale, Delay, LI (synapse stages), LIF, CubaLIF, IF.
    dt : float, optional
        Simulation step (s). Default: the step the graph was written with by :func:`to_nir`
        (``graph.metadata["neurosim_dt"]``), else 1e-3.
    inputs : dict, optional
        One entry per ``Input`` node, by name: a :class:`~neurosim.SpikeTrains` (or a list of
        them, one per trial) makes it a spike source; an array of shape (n,) or (n_trials, n)
        is a constant vector fed through the graph's ``Affine``/``Linear`` nodes into neurons as
        an external current (one per trial).
    n_trials : int
        Independent trials of the network (see :class:`~neurosim.SpikingNetwork`).
    seed : int or numpy.random.Generator, optional
        The network's randomness (none of an imported network uses it; for sources added later).
    time_unit : float, optional
        Seconds per time unit of the graph. Default: the graph's ``"time_unit_s"`` metadata,
        else 1.0 (seconds); 1e-3 for a graph written in milliseconds.

    Returns
    -------
    NIRNetwork
        The network, its populations by node name and its outputs.

    Raises
    ------
    ValueError
        Naming the node that has no neurosim equivalent (a node type outside the list above, a
        nested graph, a bias through a synapse or delay, LI stages of unequal time constants, an
        LI with ``v_leak != 0``, two weight nodes in series, a threshold not above the reset...),
        or an Input without data.
    """
    nir = _import_nir()
    if isinstance(graph, str | Path):
        graph = nir.read(graph)
    if not isinstance(graph, nir.NIRGraph):
        raise TypeError(f"graph must be a nir.NIRGraph or the path of a NIR file, got {type(graph).__name__}")
    metadata = graph.metadata if isinstance(graph.metadata, dict) else {}
    dt = check_positive("dt", dt if dt is not None else float(metadata.get(META_DT, 1e-3)))
    unit = check_positive("time_unit", time_unit if time_unit is not None
                          else float(metadata.get(META_TIME_UNIT, 1.0)))
    kinds = {name: _kind_of(nir, name, node) for name, node in graph.nodes.items()}
    successors = {name: [] for name in graph.nodes}
    for pre, post in graph.edges:
        if kinds[post] == "input":
            raise ValueError(f"the edge {pre!r} -> {post!r} leads into an Input node")
        successors[pre].append(post)
    neurons = {name: _read_neuron(name, node, unit) for name, node in graph.nodes.items()
               if kinds[name] == "neuron"}
    data = _check_inputs(graph, kinds, inputs, n_trials)
    origins = [name for name in graph.nodes if kinds[name] == "neuron" or name in data]
    paths = {origin: _walk(graph, kinds, successors, origin, _size(graph.nodes[origin], kinds[origin]))
             for origin in origins}
    readouts = _add_biases(graph, kinds, successors, neurons, unit)
    _add_analog_currents(data, paths, neurons, unit, n_trials)
    network = SpikingNetwork(dt=dt, n_trials=n_trials, seed=seed)
    populations = {}
    for name in sorted(origins, key=lambda key: _population_order(graph, key)):
        if name in neurons:
            populations[name] = _add_neuron(network, neurons[name])
        elif isinstance(data[name], list):
            populations[name] = network.add_spike_source(trains=data[name], label=name)
    specs, read = _connections(paths, populations, neurons, kinds, unit)
    for pre, post, synapse, entries, storage in specs:
        _connect(network, populations[pre], populations[post], synapse, entries, storage)
    outputs = {}
    for name in graph.nodes:
        if kinds[name] == "output":
            outputs[name] = _output(name, read.get(name, []), readouts.get(name), populations, unit)
    return NIRNetwork(network, populations, outputs)


_NEURON_TYPES = ("LIF", "CubaLIF", "IF")
_LINEAR_TYPES = ("Linear", "Affine", "Scale", "Delay", "LI", "CubaLI")


def _kind_of(nir, name, node) -> str:
    kind = type(node).__name__
    if isinstance(node, nir.Input):
        return "input"
    if isinstance(node, nir.Output):
        return "output"
    if kind in _NEURON_TYPES:
        return "neuron"
    if kind in _LINEAR_TYPES:
        return "linear"
    what = "a nested graph (flatten it first)" if isinstance(node, nir.NIRGraph) else "a node type"
    raise ValueError(f"the node {name!r} is {what} ({kind}) that neurosim cannot import: it reads "
                     f"Input, Output, {', '.join(_LINEAR_TYPES)} and {', '.join(_NEURON_TYPES)} nodes")


def _vector(name, node, field_name, n=None) -> np.ndarray:
    value = np.asarray(getattr(node, field_name), dtype=np.float64)
    if value.ndim == 0 and n is not None:
        value = np.full(n, float(value))
    if value.ndim != 1 or (n is not None and value.shape != (n,)) or not np.all(np.isfinite(value)):
        expected = f"({n},)" if n is not None else "(n,)"
        raise ValueError(f"node {name!r} ({type(node).__name__}): {field_name} must be a finite vector of "
                         f"shape {expected}, got shape {value.shape}")
    return value


def _meta(node, key):
    value = (getattr(node, "metadata", None) or {}).get(key)
    if isinstance(value, bytes):
        return value.decode("utf8")
    if isinstance(value, np.ndarray) and value.dtype.kind == "S":
        return value.item().decode("utf8")
    return value


def _read_neuron(name, node, unit) -> _Neuron:
    kind = type(node).__name__
    n = _vector(name, node, "v_threshold").shape[0]
    threshold, reset = _vector(name, node, "v_threshold", n), _vector(name, node, "v_reset", n)
    span = threshold - reset
    if np.any(span <= 0):
        raise ValueError(f"node {name!r} ({kind}): v_threshold must be above v_reset for every neuron")
    r = _vector(name, node, "r", n)
    extras = {}
    tau_ref = _meta(node, META_TAU_REF)
    if tau_ref is not None:
        extras["tau_ref"] = np.broadcast_to(np.asarray(tau_ref, dtype=np.float64) * unit, (n,)).copy()
    v_init = _meta(node, META_V_INIT)
    if v_init is not None:
        extras["v_init"] = (np.broadcast_to(np.asarray(v_init, dtype=np.float64), (n,)) - reset) / span
    if kind == "IF":
        reset_kind = _meta(node, META_RESET) or "zero"
        return _Neuron(name, "if", n, r, span, np.zeros(n), reset=check_choice("reset", reset_kind,
                                                                              ("subtract", "zero")), **extras)
    tau = _vector(name, node, "tau" if kind == "LIF" else "tau_mem", n)
    if np.any(tau <= 0):
        raise ValueError(f"node {name!r} ({kind}): its membrane time constant must be > 0")
    bias = (_vector(name, node, "v_leak", n) - reset) / span
    neuron = _Neuron(name, "lif", n, r, span, bias, tau=tau, tau_m=tau * unit, **extras)
    if kind == "CubaLIF":
        tau_syn = _vector(name, node, "tau_syn", n)
        if np.any(tau_syn != tau_syn[0]) or tau_syn[0] <= 0:
            raise ValueError(f"node {name!r} (CubaLIF): tau_syn must be one positive value for all its "
                             "neurons (a neurosim connection has one synapse)")
        neuron.tau_syn = float(tau_syn[0])
        neuron.w_in = _vector(name, node, "w_in", n)
    return neuron


def _size(node, kind) -> int:
    if kind == "input":
        shape = np.asarray(node.input_type["input"]).ravel()
        if shape.size != 1:
            raise ValueError(f"an Input node of shape {tuple(shape)} is not a vector: neurosim reads "
                             "1-D inputs")
        return int(shape[0])
    return int(np.asarray(node.v_threshold).shape[0])


def _check_inputs(graph, kinds, inputs, n_trials) -> dict:
    """``{input name: list of SpikeTrains (per trial) or array (n_trials, n)}``."""
    inputs = {} if inputs is None else dict(inputs)
    names = [name for name in graph.nodes if kinds[name] == "input"]
    unknown = sorted(set(inputs) - set(names))
    if unknown:
        raise ValueError(f"inputs names {unknown}, which are not Input nodes of the graph ({names})")
    data = {}
    for name in names:
        if name not in inputs:
            raise ValueError(f"the Input node {name!r} needs data: inputs={{{name!r}: SpikeTrains (a spike "
                             "source) or an array (a constant vector, one per trial)}}")
        n, value = _size(graph.nodes[name], "input"), inputs[name]
        if isinstance(value, SpikeTrains) or (isinstance(value, list) and value
                                              and isinstance(value[0], SpikeTrains)):
            trains = [value] * n_trials if isinstance(value, SpikeTrains) else list(value)
            if any(t.n_neurons != n for t in trains):
                raise ValueError(f"inputs[{name!r}] must hold spike trains of {n} neurons (the Input's size)")
            data[name] = trains
        else:
            vector = as_finite_array(f"inputs[{name!r}]", value, ndim=(1, 2))
            if vector.shape[-1] != n or (vector.ndim == 2 and vector.shape[0] != n_trials):
                raise ValueError(f"inputs[{name!r}] must have shape ({n},) or (n_trials={n_trials}, {n}), "
                                 f"got {vector.shape}")
            data[name] = np.broadcast_to(vector, (n_trials, n))
    return data


def _walk(graph, kinds, successors, origin, n_origin) -> list:
    """Every linear path from ``origin`` to a neuron or Output node: ``[(terminal, _Path)]``."""
    found = []
    start = _Path(n_origin, np.ones(n_origin), np.zeros(n_origin))
    pending = [(name, start) for name in reversed(successors[origin])]
    while pending:
        name, path = pending.pop()
        if kinds[name] in ("neuron", "output"):
            found.append((name, path))
            continue
        if len(path.through) > len(graph.nodes):
            raise ValueError(f"the nodes {path.through[:4]}... form a loop without neurons")
        path = _through(name, graph.nodes[name], path)
        pending += [(successor, path) for successor in reversed(successors[name])]
    return found


def _through(name, node, path: _Path) -> _Path:
    """``path`` extended through the linear node ``name``."""
    kind = type(node).__name__
    n = path.n_now
    update = dict(vars(path))
    update["through"] = path.through + (name,)
    if kind in ("Linear", "Affine"):
        weight = np.asarray(node.weight, dtype=np.float64)
        if path.matrix is not None:
            raise ValueError(f"the path {' -> '.join(update['through'])} holds two weight nodes in series: "
                             "a neurosim connection has one weight per synapse; multiply them out")
        if weight.ndim != 2 or weight.shape[1] != n or not np.all(np.isfinite(weight)):
            raise ValueError(f"node {name!r} ({kind}): weight must be a finite matrix of shape (n_out, {n}), "
                             f"got {weight.shape}")
        update.update(matrix=weight * path.pre_gain[None, :], post_delay=np.zeros(weight.shape[0]),
                      tag=_meta(node, META_CONNECTION), storage=_meta(node, META_STORAGE))
        return _Path(**update)
    if kind == "Delay":
        delay = _vector(name, node, "delay", n)
        if np.any(delay < 0):
            raise ValueError(f"node {name!r} (Delay): delays must be >= 0")
        key = "pre_delay" if path.matrix is None else "post_delay"
        update[key] = update[key] + delay
        return _Path(**update)
    if kind == "Scale":
        gain = _vector(name, node, "scale", n)
    else:                                   # LI or CubaLI: synapse stages
        if np.any(_vector(name, node, "v_leak", n) != 0):
            raise ValueError(f"node {name!r} ({kind}) has v_leak != 0: as a synapse stage it would add a "
                             "constant that rises with its time constant, which neurosim's synapses lack")
        taus = [_vector(name, node, field_name, n) for field_name in
                (("tau",) if kind == "LI" else ("tau_syn", "tau_mem"))]
        for tau in taus:
            if np.any(tau != tau[0]) or tau[0] <= 0:
                raise ValueError(f"node {name!r} ({kind}): a synapse stage needs one positive time constant "
                                 "for all its neurons")
        update["stages"] = path.stages + tuple((float(tau[0]), name) for tau in taus)
        gain = _vector(name, node, "r", n) * (_vector(name, node, "w_in", n) if kind == "CubaLI" else 1.0)
    if path.matrix is None:
        update["pre_gain"] = path.pre_gain * gain
    else:
        update["matrix"] = path.matrix * gain[:, None]
    return _Path(**update)


def _add_biases(graph, kinds, successors, neurons, unit) -> dict:
    """Add every Affine's bias to the neurons it reaches through Scale nodes only; returns the
    readout biases ``{Output name: (n_out,)}``."""
    readouts = {}
    for name, node in graph.nodes.items():
        if type(node).__name__ != "Affine" or not np.any(np.asarray(node.bias)):
            continue
        pending = [(successor, _vector(name, node, "bias")) for successor in successors[name]]
        while pending:
            target, bias = pending.pop()
            kind = type(graph.nodes[target]).__name__
            if kinds[target] == "output":
                readouts[target] = readouts.get(target, 0.0) + bias
            elif kind == "Scale":
                pending += [(s, bias * _vector(target, graph.nodes[target], "scale", bias.size))
                            for s in successors[target]]
            elif kind in ("LIF", "IF"):
                neuron = neurons[target]
                if bias.shape != (neuron.n,):
                    raise ValueError(f"the bias of {name!r} has {bias.size} values for {neuron.n} neurons of "
                                     f"{target!r}")
                gain = neuron.r / neuron.span / (unit if neuron.kind == "if" else 1.0)
                neuron.bias = neuron.bias + gain * bias
            else:
                raise ValueError(f"the bias of the Affine node {name!r} reaches {target!r} ({kind}): a "
                                 "constant through a synapse or a delay starts with a transient that "
                                 "neurosim's bias does not have; write it as the neuron's v_leak (LIF)")
    return readouts


def _add_analog_currents(data, paths, neurons, unit, n_trials):
    for origin, value in data.items():
        if isinstance(value, list):
            continue
        for terminal, path in paths[origin]:
            neuron = neurons.get(terminal)
            if neuron is None or neuron.tau_syn is not None or path.stages or _delays(path).any():
                raise ValueError(f"the analog Input {origin!r} reaches {terminal!r} through "
                                 f"{' -> '.join(path.through) or 'no node'}: a constant input must go "
                                 "straight through Linear/Affine/Scale nodes into LIF or IF neurons (no "
                                 "synapse, delay or output)")
            matrix = _matrix(path, neuron.n)
            gain = neuron.r / neuron.span / (unit if neuron.kind == "if" else 1.0)
            current = (value @ matrix.T) * gain
            neuron.current = current if neuron.current is None else neuron.current + current


def _delays(path: _Path) -> np.ndarray:
    post = np.zeros(path.n_now) if path.post_delay is None else path.post_delay
    return post[:, None] + path.pre_delay[None, :]


def _matrix(path: _Path, n_terminal: int) -> np.ndarray:
    if path.matrix is None:
        if path.n_origin != n_terminal:
            raise ValueError(f"the path {' -> '.join(path.through) or '(an edge)'} joins {path.n_origin} "
                             f"neurons to {n_terminal} without a weight node")
        return np.diag(path.pre_gain)
    if path.matrix.shape[0] != n_terminal:
        raise ValueError(f"the path {' -> '.join(path.through)} carries {path.matrix.shape[0]} values into "
                         f"a node of {n_terminal}")
    return path.matrix


def _population_order(graph, name):
    index = _meta(graph.nodes[name], META_POPULATION)
    return (0, int(index)) if index is not None else (1, list(graph.nodes).index(name))


def _add_neuron(network, neuron: _Neuron) -> Population:
    if neuron.kind == "if":
        return network.add_if(neuron.n, reset=neuron.reset, tau_ref=neuron.tau_ref, bias=neuron.bias,
                              current=neuron.current, v_init=neuron.v_init, label=neuron.name)
    return network.add_lif(neuron.n, tau_m=neuron.tau_m, tau_ref=neuron.tau_ref,
                           bias=neuron.bias, current=neuron.current, v_init=neuron.v_init, label=neuron.name)


def _synapse(stages, unit) -> PSC | Delta:
    """The synapse of a path's LI stages: none is a delta synapse, ``n + 1`` equal ones PSC order n."""
    if not stages:
        return Delta()
    taus = [tau for tau, _ in stages]
    if any(tau != taus[0] for tau in taus):
        listed = ", ".join(f"{name} ({tau:g})" for tau, name in stages)
        raise ValueError(f"the synapse stages {listed} have unequal time constants: a neurosim PSC is a "
                         "cascade of equal stages (PSC(tau_s, order))")
    return PSC(taus[0] * unit, order=len(taus) - 1)


def _connections(paths, populations, neurons, kinds, unit):
    """The connections to make, in order, as ``(pre, post, synapse, (rows, cols, values, delays),
    storage)``, and the paths that reach each Output node."""
    groups, order, read = {}, [], {}
    for origin, found in paths.items():
        if origin not in populations:          # an analog input: already a current
            continue
        for terminal, path in found:
            if kinds[terminal] == "output":
                read.setdefault(terminal, []).append((origin, path))
                continue
            neuron = neurons[terminal]
            stages = path.stages + (((neuron.tau_syn, terminal),) if neuron.tau_syn is not None else ())
            synapse = _synapse(stages, unit)
            if neuron.kind == "if":
                factor = neuron.r / neuron.span
            elif isinstance(synapse, Delta):
                factor = (neuron.r / neuron.tau) / neuron.span
            else:
                w_in = 1.0 if neuron.w_in is None else neuron.w_in
                factor = unit * neuron.r * w_in / neuron.span
            matrix = _matrix(path, neuron.n) * factor[:, None]
            rows, cols = np.nonzero(matrix)
            entries = (rows, cols, matrix[rows, cols], _delays(path)[rows, cols] * unit)
            key = (origin, terminal, synapse, path.tag if path.tag is not None else len(order))
            if key not in groups:
                groups[key] = []
                order.append(key)
            groups[key].append((entries, path.storage))
    specs = []
    for key in sorted(order, key=lambda k: (k[3] is None, _tag_order(k[3]), order.index(k))):
        origin, terminal, synapse, _ = key
        parts = groups[key]
        merged = tuple(np.concatenate([entries[i] for entries, _ in parts]) for i in range(4))
        pairs = merged[0].astype(np.int64) * populations[origin].n + merged[1]
        if np.unique(pairs).size == pairs.size:
            specs.append((origin, terminal, synapse, merged, parts[0][1]))
        else:                                   # overlapping synapses: one connection per path
            specs += [(origin, terminal, synapse, entries, storage) for entries, storage in parts]
    return specs, read


def _tag_order(tag):
    try:
        return int(tag)
    except (TypeError, ValueError):
        return 0


def _connect(network, pre, post, synapse, entries, storage):
    rows, cols, values, delays = entries
    if values.size == 0:
        return
    shape = (post.n, pre.n)
    one_delay = bool(np.all(delays == delays[0]))
    delay = (float(delays[0]) if delays[0] > 0 else None) if one_delay else None
    dense = storage == "dense" or (storage is None and values.size >= _SPARSE_BELOW * shape[0] * shape[1])
    if one_delay and dense:
        weights = np.zeros(shape)
        weights[rows, cols] = values
    else:
        weights = scipy.sparse.csr_array((values, (rows, cols)), shape=shape)
        if not one_delay:                      # one delay per synapse, on the weights' structure
            delay = scipy.sparse.csr_array((np.maximum(delays, network.dt), (rows, cols)), shape=shape)
    network.connect(pre, post, weights, synapse=synapse, delay=delay)


def _output(name, read, bias, populations, unit) -> NIROutput:
    if len(read) != 1:
        raise ValueError(f"the Output node {name!r} reads {len(read)} spiking paths: neurosim maps an "
                         "Output to one population (and its readout)")
    origin, path = read[0]
    if np.any(_delays(path)):
        raise ValueError(f"the Output node {name!r} is read through a delay, which a readout of neurosim "
                         "does not have")
    if path.matrix is None and np.all(path.pre_gain == 1.0):
        weights = None
    else:
        weights = np.diag(path.pre_gain) if path.matrix is None else path.matrix.copy()
    synapse = None if not path.stages else _synapse(path.stages, unit)
    bias = None if bias is None else np.asarray(bias, dtype=np.float64)
    return NIROutput(populations[origin], weights, bias, synapse)
