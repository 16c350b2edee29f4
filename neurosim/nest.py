"""Run a :class:`~neurosim.SpikingNetwork` on NEST 3: ``network.run(t_end, backend="nest")``.

The network prototyped in neurosim is built, neuron for neuron and synapse for synapse, in the NEST
simulator (the ``nest-simulator`` package) and run there, on NEST's threads and, with an MPI build of
NEST, on several processes or a cluster; the result is neurosim's own
:class:`~neurosim.NetworkResult`, indexed by the same probes, in neurosim's units. Install NEST with
the extra: ``pip install "neurosim-ratenet[nest]"``. NEST is imported only when a network runs on it.

What maps to what
-----------------
=========================================  ================================================================
neurosim                                   NEST 3
=========================================  ================================================================
LIF population, exponential PSCs           ``iaf_psc_exp``; ``iaf_psc_exp_multisynapse`` when its input
(``PSC(tau_s, order=0)``)                  has more than two time constants, or two that do not split into
                                           excitatory (weights >= 0) and inhibitory (<= 0) ones
LIF population, alpha PSCs (``order=1``)   ``iaf_psc_alpha`` (``iaf_psc_alpha_multisynapse``, as above)
LIF population, ``Delta`` synapses         ``iaf_psc_delta`` (input during the refractory period is lost,
(or no input)                              as in neurosim)
HH population, alpha PSCs                  ``hh_psc_alpha`` (see "Hodgkin-Huxley" below)
spike source with ``trains=``              one ``spike_generator`` per neuron
``kind="regular"`` source                  one ``spike_generator`` per neuron, the same times
``kind="poisson"`` source                  a ``poisson_generator`` per distinct rate, relayed by one
                                           ``parrot_neuron`` per source neuron (so that every target of a
                                           neuron gets the same train); straight to the targets, without
                                           parrots, when each source neuron has at most one target and the
                                           source is not probed
``noise=sigma`` (white noise)              a ``noise_generator`` (see "Noise")
time-varying ``current``                   a ``step_current_generator`` per neuron (see "Timing")
dense or sparse weights, delays            ``Connect(..., "one_to_one")`` of the stored synapses, one
                                           weight and delay each (zero weights are left out: they do
                                           nothing)
"spikes" probe                             ``spike_recorder`` (of the probed neurons only)
"voltage", "current" probes                ``multimeter`` (``V_m``; ``I_syn_ex``, ``I_syn_in`` or
                                           ``I_syn``, plus the known bias and input currents): NEST's
                                           synaptic currents at the step times, not the step
                                           averages neurosim's current probes hold (see "Timing")
"filtered" probe                           the recorded spikes filtered by :func:`neurosim.filter_spikes`
=========================================  ================================================================

Units. NEST computes in mV, pA, pF and ms. An LIF population with
:class:`~neurosim.PhysicalLIFParameters` keeps its own: ``E_L = V_rest``, ``V_th``, ``V_reset``
(mV), ``C_m = 1000 C`` (pF, C in nF), ``tau_m`` and ``t_ref`` in ms, ``I_e = 1000 (bias +
current)`` (pA, from nA). A normalized population (threshold 1, reset 0) becomes the same model
with ``E_L = V_reset = 0``, ``V_th = 1`` (so NEST's mV are neurosim's normalized units) and
``R = 1`` MΩ, i.e. ``C_m = 1000 tau_m / ms`` pF and 1 pA = 0.001 normalized input. Weights: an
exponential PSC of charge ``w`` (pC, or normalized) becomes NEST's amplitude ``w / tau_s``
(pA), an alpha PSC its peak ``w / (e tau_s)`` (pA), a delta weight its jump (mV). Hodgkin-Huxley
neurons take per-area units in neurosim and absolute ones in NEST: they stand for a patch of
:data:`HH_AREA` = 1e-4 cm², so 1 µF/cm² is 100 pF, 1 mS/cm² is 100 nS and 1 µA/cm² is 100 pA
(NEST's own defaults are this patch). Results come back in neurosim's units: seconds, normalized
or mV voltages, normalized or nA currents (µA/cm² for HH).

Timing. NEST runs on the network's ``dt`` (its ``resolution``), which must be a whole number of
NEST's clock ticks (1 µs). A neurosim spike emitted during step ``k`` is felt at step ``k + d``
(``d`` the connection's delay in steps, at least 1). NEST's grid-based neurons stamp a spike at the
end of its step, ``t_{k+1}``, and deliver it ``D`` steps later, so the bridge gives NEST the delay
``D = d - 1`` steps: spikes then arrive at the step where they arrive in neurosim. NEST's shortest
delay is one step, so connections with ``d = 1`` (neurosim's default: the next step) arrive ONE STEP
LATER in NEST than in neurosim; give ``delay >= 2 dt`` where that matters. A given spike at time ``t``
is sent by its ``spike_generator`` at ``ceil(t / dt) dt``, as neurosim counts it (a spike at exactly
``t = 0`` at ``dt``, NEST's first step). NEST checks the threshold at the end of each step and
counts the refractory period in whole steps from there, where neurosim solves the crossing time
inside the step; NEST integrates the synaptic current exactly through the step, where neurosim
holds its average over the step (:meth:`neurosim.PSC.step_average`: both deliver each spike's
charge exactly). A current probe run on NEST thus returns the synaptic current at the step times
(the kernel sampled, as :func:`neurosim.filter_spikes`), where neurosim's returns the average over
each step it holds (an exponential PSC's synaptic part is ``(1 - exp(-a)) / a`` times the sample,
``a = dt / tau_s``). Spike times thus differ by less than a step, and rates by about 1 % at ``dt`` =
0.1 ms but more at 1 ms, where the one-step delay and NEST's whole-step refractory period weigh:
compare the two at 0.1 ms. A time-varying current reaches NEST through a
``step_current_generator`` (a device's current arrives one step after it is set), and through
``I_e`` for the first two steps: it is applied over the same steps as in neurosim. Recorded spike
times are NEST's, the end of the step of the crossing; probed sources report their given times
(Poisson sources through parrots: the steps at which they were sent).

Noise. ``noise=sigma`` (``tau_m dv/dt = v_in - v + sigma sqrt(tau_m) xi(t)``) becomes a
``noise_generator`` current constant over each step with standard deviation
``sigma sqrt(tau_m / dt)`` (in pA through the units above): the Euler-Maruyama discretisation of
the same white noise, whose membrane variance converges to neurosim's as ``dt`` shrinks. NEST
checks the threshold at step ends only, where neurosim also draws the crossings inside a step from
the Brownian bridge: NEST's noisy neurons fire less (3-4 % at ``dt`` = 0.1 ms, about 10 % at 1 ms).

Hodgkin-Huxley. NEST's ``hh_psc_alpha`` has neurosim's equations: the same rate functions of the
1952 model at rest near -65 mV, conductances, reversal potentials and capacitance (taken from the
population's :class:`~neurosim.HHParameters`), the same initial voltage and gates. The differences:
NEST integrates with GSL's adaptive Runge-Kutta-Fehlberg 4(5) (neurosim's ``method`` is not used:
NEST's solution is the more accurate one); its spike is the first step after the membrane peaks
above 0 mV (neurosim: the upward crossing of ``threshold``, about 0.2-0.3 ms earlier), after which
NEST ignores further peaks for :data:`HH_SPIKE_DEADTIME` (2 ms; it does not clamp the voltage), so
HH neurons cannot fire above 500 Hz in NEST. Its synapses are alpha-shaped currents only.

Refused, naming the feature (never approximated): PSC kernels of order 2 or more; Euler-integrated
synapses (``PSC(method="euler")``); a population receiving two kinds of synapse (exponential and
alpha, or a PSC and delta ones); non-leaky integrate-and-fire populations (``add_if``: NEST has no
non-leaky integrate-and-fire neuron with reset by subtraction); Hodgkin-Huxley populations receiving
exponential or delta synapses, more than two synaptic time constants (or two that do not split by
sign), or with a ``threshold`` other than 0 mV; several trials (``n_trials > 1``); a ``dt`` that is
not a whole number of microseconds. :func:`nest_models` says what each population becomes, or what
is refused, without NEST installed.

Threads and MPI. ``network.run(t_end, backend="nest", nest_threads=4)`` runs NEST with 4 threads
(``local_num_threads``). The same script runs on several MPI processes (a cluster) unchanged::

    mpirun -np 4 python script.py

Every process runs the whole script, so it builds the same neurosim network: seed everything
random (``SpikingNetwork(seed=...)``, the connectivity builders' ``seed=``, sources and noise), as
the bridge checks (a network or NEST seed that differs between processes is refused). NEST then
simulates a quarter of the neurons on each process, and the bridge gathers the records with mpi4py
(``pip install mpi4py``), so that every process returns the whole result; write files from one
process only (``if neurosim.nest.import_nest().Rank() == 0``). The results of a network driven by
given spikes do not change with the number of threads or processes; Poisson sources, parrots and
noise draw from NEST's random streams, which differ with the number of virtual processes (threads
x processes). MPI needs a NEST built with MPI (e.g. conda-forge's ``nest-simulator`` with
``mpi_openmpi``, or built from source with ``-Dwith-mpi=ON``): the wheel on PyPI is built without
it, and under ``mpirun`` each of its processes would run the whole network alone (the bridge says so
and refuses).

Memory. The bridge builds each connection's synapse list (about 40 bytes per synapse) and NEST
holds its multimeters' records (``16 + 8 x recorded variables`` bytes per sample); both are
estimated first and refused past :data:`neurosim.validation.MAX_ALLOCATION_BYTES`. NEST itself holds
about 100 bytes per synapse (Brunel's 15.6 million synapses: 1.5 GB).

The NEST kernel is reset at the start of every run (``nest.ResetKernel()``): NEST objects a script
created itself do not survive a run through the bridge (the network a run built stays in the kernel
until the next one). ``examples/nest_backend.py`` runs a feed-forward network and CUBA on both
simulators; ``bench/nest_bridge.py`` measures what the bridge costs over NEST written by hand.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field

import numpy as np

from .spikes import SpikeTrains, felt_steps
from .synapse import PSC, Delta, filter_spikes
from .validation import check_allocation, check_positive_int, time_steps

__all__ = ["HH_AREA", "HH_SPIKE_DEADTIME", "import_nest", "nest_models", "run"]

#: Membrane area (cm²) of the NEST ``hh_psc_alpha`` neuron that stands for neurosim's per-area
#: Hodgkin-Huxley neuron: 1 µF/cm² becomes 100 pF (NEST's default), 1 µA/cm² 100 pA.
HH_AREA = 1e-4
#: After a spike, NEST's ``hh_psc_alpha`` ignores further voltage peaks for this long (s): its
#: ``t_ref``, which keeps the falling phase of a spike from counting again.
HH_SPIKE_DEADTIME = 0.002
#: The extra that installs NEST.
_EXTRA = "nest"

_PA_PER_HH_UNIT = HH_AREA * 1e6          # pA per µA/cm²
_PA_PER_NA = 1e3
_MS_PER_S = 1e3
# Bytes per synapse while a connection is handed to NEST: pre and post ids, weight, delay, receptor.
_BYTES_PER_SYNAPSE = 40
# NEST's clock tick (s); the resolution must be a whole number of them.
_TICK = 1e-6
_PLAIN = {"exp": "iaf_psc_exp", "alpha": "iaf_psc_alpha"}
_RECEPTOR_BY_SIGN = 0


def import_nest():
    """Import NEST (the ``nest`` module) so that it can run beside neurosim's Numba kernels.

    NEST's wheel brings its own OpenMP runtime. Started before Numba's threading layer, it crashes
    the process when Numba's OpenMP layer starts later (neurosim starts it to count its threads).
    This function therefore starts Numba's threading layer first when NEST is not imported yet, and
    selects Numba's "workqueue" layer when NEST was imported first (neurosim's kernels do not use
    Numba's thread pool, only its thread count). Import NEST through this function, or after
    neurosim has run, in scripts that use both.

    Returns
    -------
    module
        The ``nest`` module, its messages set to errors only.

    Raises
    ------
    ImportError
        When NEST is not installed, naming the extra that installs it.
    """
    import numba

    if "nest" in sys.modules:
        try:
            numba.threading_layer()
        except ValueError:                         # not started yet, and NEST came first
            if numba.config.THREADING_LAYER == "default":
                numba.config.THREADING_LAYER = "workqueue"
    numba.get_num_threads()                        # starts Numba's threading layer (once)
    try:
        import nest
    except ImportError as error:
        raise ImportError("running a network on NEST needs the NEST simulator (the nest-simulator "
                          f"package): pip install 'neurosim-ratenet[{_EXTRA}]'") from error
    nest.verbosity = nest.VerbosityLevel.ERROR
    return nest


# -- what each population becomes (no NEST needed) ---------------------------------------------------

@dataclass
class _Neurons:
    """How an LIF or HH population becomes NEST neurons: the model, its synapse time constants and
    the receptor of each PSC time constant (0: by the weight's sign, k >= 1: port k of a
    multisynapse model)."""

    model: str
    synapse_params: dict = field(default_factory=dict)
    receptors: dict = field(default_factory=dict)


def nest_models(network) -> dict[str, str]:
    """What each population of ``network`` becomes in NEST, or what NEST cannot express.

    Parameters
    ----------
    network : SpikingNetwork

    Returns
    -------
    dict
        Population label -> NEST model (e.g. ``"iaf_psc_exp"``, ``"hh_psc_alpha"``,
        ``"spike_generator"``, ``"poisson_generator -> parrot_neuron"``).

    Raises
    ------
    ValueError
        Naming the feature NEST cannot express (see the module notes), before NEST is imported.
    """
    plan = _plan(network)
    return {p.label: plan[p].model if isinstance(plan[p], _Neurons) else plan[p] for p in network.populations}


def _refuse(feature: str, advice: str = "") -> ValueError:
    return ValueError(f"NEST cannot express {feature}" + (f"; {advice}" if advice else "")
                      + " (the network was not run)")


def _plan(net) -> dict:
    """Population -> :class:`_Neurons` (LIF, HH) or the name of its source model."""
    from .network import SpikingNetwork

    if not isinstance(net, SpikingNetwork):
        raise TypeError(f"network must be a neurosim.SpikingNetwork, got {type(net).__name__}")
    if net.n_trials != 1:
        raise _refuse(f"several trials (n_trials={net.n_trials})",
                      "NEST runs one network at a time: build the network with n_trials=1 and run it "
                      "once per trial")
    ticks = net.dt / _TICK
    if abs(ticks - round(ticks)) > 1e-6 * max(1.0, ticks):
        raise _refuse(f"the time step dt={net.dt!r} s: NEST's clock counts whole microseconds",
                      "use a dt that is a whole number of microseconds")
    incoming = {p: [c for c in net.connections if c.post is p] for p in net.populations}
    plan = {}
    for population in net.populations:
        if population.kind == "if":
            raise _refuse(f"the non-leaky integrate-and-fire population {population.label!r} (add_if): "
                          "NEST has no non-leaky integrate-and-fire neuron with neurosim's resets",
                          "use LIF neurons (add_lif)")
        if population.kind == "source":
            plan[population] = _source_model(population, net)
        else:
            plan[population] = _neurons_plan(population, incoming[population])
    return plan


def _synapse_shape(synapse, population) -> str:
    if isinstance(synapse, Delta):
        return "delta"
    if synapse.method != "exact":
        raise _refuse(f"the Euler-integrated synapse {synapse} into {population.label!r}: NEST integrates "
                      "PSCs exactly", "use PSC(..., method='exact')")
    if synapse.order > 1:
        raise _refuse(f"the PSC kernel of order {synapse.order} ({synapse}) into {population.label!r}: NEST "
                      "has exponential (order 0) and alpha (order 1) current synapses only")
    return "exp" if synapse.order == 0 else "alpha"


def _neurons_plan(population, incoming) -> _Neurons:
    """The NEST model of an LIF or HH population, from the synapses of its incoming connections."""
    label = population.label
    shapes = {_synapse_shape(c.synapse, population) for c in incoming}
    if len(shapes) > 1:
        raise _refuse(f"a population receiving both {' and '.join(sorted(shapes))} synapses "
                      f"({label!r}): each NEST neuron model has one synapse shape",
                      "use one kind of synapse into each population")
    shape = shapes.pop() if shapes else None
    hh = population.kind == "hh"
    if hh:
        if population.params["threshold"] != 0.0:
            raise _refuse(f"the Hodgkin-Huxley spike threshold {population.params['threshold']!r} mV of "
                          f"{label!r}: NEST's hh_psc_alpha detects spikes above 0 mV", "use threshold=0")
        if shape in ("exp", "delta"):
            kind = "exponential (order 0) PSC" if shape == "exp" else "delta"
            raise _refuse(f"{kind} synapses onto the Hodgkin-Huxley population {label!r}: NEST's "
                          "hh_psc_alpha has alpha-shaped current synapses only", "use PSC(tau_s, order=1)")
    if shape in (None, "delta"):
        return _Neurons("hh_psc_alpha" if hh else "iaf_psc_delta")
    plain = "hh_psc_alpha" if hh else _PLAIN[shape]
    taus = list(dict.fromkeys(c.synapse.tau_s for c in incoming))
    signs = {tau: np.zeros(2, dtype=bool) for tau in taus}         # (any > 0, any < 0) per tau_s
    for c in incoming:
        signs[c.synapse.tau_s] |= _weight_signs(c)
    if len(taus) == 1:
        return _Neurons(plain, {"tau_syn_ex": taus[0] * _MS_PER_S, "tau_syn_in": taus[0] * _MS_PER_S},
                        {taus[0]: _RECEPTOR_BY_SIGN})
    if len(taus) == 2:
        for excitatory, inhibitory in (taus, taus[::-1]):
            if not signs[excitatory][1] and not signs[inhibitory][0]:
                return _Neurons(plain, {"tau_syn_ex": excitatory * _MS_PER_S,
                                        "tau_syn_in": inhibitory * _MS_PER_S},
                                {tau: _RECEPTOR_BY_SIGN for tau in taus})
    if hh:
        raise _refuse(f"the synapses of time constants {[f'{t:g} s' for t in taus]} onto the Hodgkin-Huxley "
                      f"population {label!r}: NEST's hh_psc_alpha has one excitatory (weights >= 0) and "
                      "one inhibitory (weights <= 0) time constant")
    if shape == "exp" and np.any(np.isin(population.params["tau_m"], taus)):
        raise _refuse(f"a synaptic time constant equal to the membrane's in {label!r} (tau_s in "
                      f"{[f'{t:g} s' for t in taus]}): NEST's iaf_psc_exp_multisynapse, needed for its "
                      "synapses, requires them to differ", "change tau_s or tau_m slightly")
    return _Neurons(plain + "_multisynapse", {"tau_syn": [tau * _MS_PER_S for tau in taus]},
                    {tau: port for port, tau in enumerate(taus, start=1)})


def _weight_signs(connection) -> np.ndarray:
    """Whether a connection has positive and negative weights: bool (2,)."""
    c = connection
    values = {"dense": c.dense_t, "sparse": c.weights_t}.get(c.storage, np.array([c.uniform_weight]))
    return np.array([bool(np.any(values > 0)), bool(np.any(values < 0))])


def _source_model(population, net) -> str:
    params = population.params
    if "trains" in params or params["source_kind"] == "regular":
        return "spike_generator"
    probed = any(q.target is population for q in net.probes)
    # (Read before the memory check: no synapse list is built. A sparse connection's stored zero
    # weights may count: a parrot is right in any case, a bare generator only saves a node.)
    out_degree = sum((c.out_degrees() for c in net.connections if c.pre is population),
                     np.zeros(population.n, dtype=np.int64))
    if probed or out_degree.max(initial=0) > 1:
        return "poisson_generator -> parrot_neuron"
    return "poisson_generator"


def _synapses(connection):
    """A connection's nonzero synapses (``Connection.synapses``, zero weights left out: they do
    nothing): pre and post indices (int64), weights (the kernel's units) and delays (steps)."""
    post, pre, weights, steps = connection.synapses()
    keep = weights != 0
    if np.all(keep):
        return pre, post, weights, steps
    return pre[keep], post[keep], weights[keep], steps[keep]


# -- units -----------------------------------------------------------------------------------------------

def _lif_units(population):
    """``(reset, span, gain, offset)`` per neuron: ``V = reset + span v`` (mV) and
    ``v_in = offset + gain I`` (I in nA); a normalized population has 0, 1, 1, 0."""
    units = population.params["units"]
    return tuple(np.broadcast_to(np.asarray(value, dtype=np.float64), (population.n,))
                 for value in (units.voltage_reset, units.voltage_span, units.input_gain, units.input_offset))


def _to_picoamperes(population):
    """Factor per neuron from a stored input current (normalized LIF input without its offset, or
    µA/cm²) to pA."""
    if population.kind == "hh":
        return np.full(population.n, _PA_PER_HH_UNIT)
    _, _, gain, _ = _lif_units(population)
    return _PA_PER_NA / gain


def _weight_scale(population, synapse):
    """Per neuron of ``population``, NEST's weight of a stored weight of 1: the PSC's amplitude
    (exponential) or peak (alpha) in pA, or a jump in mV."""
    if isinstance(synapse, Delta):
        return _lif_units(population)[1]
    peak = 1.0 / synapse.tau_s if synapse.order == 0 else 1.0 / (math.e * synapse.tau_s)
    return peak * _to_picoamperes(population)


def _inputs(population, n_steps):
    """Constant input (pA, (n,)) and time-varying input (pA, (n, n_steps)) or None."""
    params = population.params
    n = population.n
    scale = _to_picoamperes(population)
    bias = params["bias"]
    if population.kind == "lif":
        bias = bias - _lif_units(population)[3]         # the rest's offset lies in E_L
    constant = bias * scale
    current = params["current"]
    if current is None:
        return constant, None
    if current.ndim == 1 or current.shape == (1, n):
        return constant + current.reshape(n) * scale, None
    if current.shape[1] != n_steps:
        raise ValueError(f"the time-varying current of {population.label!r} has {current.shape[1]} steps, "
                         f"but the run has n_steps = round(t_end / dt) = {n_steps}")
    return constant, current * scale[:, None]


def _lif_parameters(population) -> dict:
    params = population.params
    reset, span, gain, offset = _lif_units(population)
    resistance = gain * span                            # MΩ: v_in = R I / span
    v_init = np.reshape(params["v_init"], (-1, population.n))[0]
    return {"tau_m": params["tau_m"] * _MS_PER_S, "C_m": 1e6 * params["tau_m"] / resistance,
            "t_ref": params["tau_ref"] * _MS_PER_S, "E_L": reset + span * offset, "V_reset": reset,
            "V_th": reset + span, "V_m": reset + span * v_init}


def _hh_parameters(population) -> dict:
    params = population.params
    hh = params["params"]
    m, h, n = params["gates"]
    area = _PA_PER_HH_UNIT                              # pF per µF/cm², nS per mS/cm²
    return {"C_m": hh.capacitance * area, "g_Na": hh.g_na * area, "g_K": hh.g_k * area, "g_L": hh.g_l * area,
            "E_Na": hh.e_na, "E_K": hh.e_k, "E_L": hh.e_l, "t_ref": HH_SPIKE_DEADTIME * _MS_PER_S,
            "V_m": params["v_init"], "Act_m": m, "Inact_h": h, "Act_n": n}


def _noise_picoamperes(population, dt):
    """Standard deviation (pA) per neuron of the noise current constant over a step of ``dt``."""
    sigma = population.params["noise"]
    return sigma * np.sqrt(population.params["tau_m"] / dt) * _to_picoamperes(population)


# -- the run ---------------------------------------------------------------------------------------------

def run(network, t_end: float, *, threads: int = 1, seed: int | None = None, progress: bool | None = None):
    """Build ``network`` in NEST and simulate ``[0, t_end)`` there (see the module notes).

    ``network.run(t_end, backend="nest", nest_threads=...)`` calls this with a seed drawn from the
    network's generator.

    Parameters
    ----------
    network : SpikingNetwork
    t_end : float
        Duration (s); the run takes ``round(t_end / dt)`` steps of the network's ``dt``.
    threads : int
        NEST's threads per process (``local_num_threads``), >= 1.
    seed : int, optional
        NEST's random seed (``rng_seed``, in ``[1, 2**31 - 1]``): Poisson sources and noise. Default:
        NEST's own.
    progress : bool, optional
        NEST's progress line (``print_time``, on standard output); default: only when stderr is a
        terminal.

    Returns
    -------
    NetworkResult
        What the probes recorded, as :meth:`SpikingNetwork.run` returns it.

    Raises
    ------
    ValueError
        When the network uses a feature NEST cannot express (before NEST is imported), or a record
        would exceed :data:`neurosim.validation.MAX_ALLOCATION_BYTES`.
    ImportError
        When NEST (or, on several MPI processes, mpi4py) is not installed.
    FloatingPointError
        When NEST's integration fails (Hodgkin-Huxley inputs far too strong) or a record turns
        non-finite.
    """
    plan = _plan(network)
    _, dt, n_steps = time_steps(t_end, network.dt)
    threads = check_positive_int("threads", threads)
    if seed is not None:
        if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or not 1 <= seed < 2**31:
            raise ValueError(f"seed must be an integer in [1, 2**31 - 1] (NEST's rng_seed), got {seed!r}")
        seed = int(seed)
    if progress is None:
        progress = bool(getattr(sys.stderr, "isatty", lambda: False)())
    inputs = {p: _inputs(p, n_steps) for p in network.populations if p.kind != "source"}
    _check_memory(network, plan, n_steps)
    nest = import_nest()
    kernel = {"resolution": dt * _MS_PER_S, "local_num_threads": threads, "print_time": bool(progress)}
    if seed is not None:
        kernel["rng_seed"] = seed
    nest.ResetKernel()
    nest.SetKernelStatus(kernel)
    _check_processes(nest, network, seed)
    nodes, cells = {}, {}                    # population -> global ids; LIF and HH -> NodeCollection
    for population in network.populations:
        if population.kind == "source":
            nodes[population] = _create_source(nest, population, plan[population], n_steps, dt)
        else:
            cells[population] = _create_neurons(nest, population, plan[population], inputs[population], dt)
            nodes[population] = _ids(cells[population])
    for connection in network.connections:
        _connect(nest, connection, nodes, plan, dt)
    recorders = {probe: _recorder(nest, probe, nodes, cells, plan, dt) for probe in network.probes}
    _simulate(nest, nodes, inputs, n_steps, dt)
    events = {probe.index: _events(recorder) for probe, recorder in recorders.items() if recorder is not None}
    if nest.NumProcesses() > 1:
        events = _gathered(events)
    from .network import NetworkResult

    records, times = {}, {}
    for probe in network.probes:
        records[probe], times[probe] = _record(probe, events.get(probe.index), nodes, inputs, n_steps, dt)
    return NetworkResult(records, {q: t for q, t in times.items() if t is not None}, n_steps * dt, dt, 1)


def _check_memory(net, plan, n_steps):
    """Refuse, before NEST builds anything, a synapse list or a multimeter record past the limit."""
    for c in net.connections:
        check_allocation("weights", _BYTES_PER_SYNAPSE * float(c.n_synapses),
                         "use fewer synapses, or raise the limit",
                         what=f"the list of {c.n_synapses} synapses {c.pre.label!r} -> {c.post.label!r} "
                              "handed to NEST")
    for q in net.probes:
        if q.kind in ("voltage", "current"):
            m = (n_steps + q.record_every - 1) // q.record_every
            size = (16.0 + 8.0 * len(_recordables(q, plan))) * q.n * m
            check_allocation("probe", size, "record fewer neurons (probe(..., neurons=...)), keep fewer "
                             "samples (probe(..., record_every=...)), or run a shorter t_end",
                             what=f"NEST's {q.kind} record of {q.target.label!r} ({q.n} neurons x {m} "
                                  "samples)")


def _recordables(probe, plan):
    """The multimeter variables of a voltage or current probe (none for a current without synapses)."""
    if probe.kind == "voltage":
        return ["V_m"]
    model = plan[probe.target].model
    if model == "iaf_psc_delta":
        return []
    return ["I_syn"] if model.endswith("_multisynapse") else ["I_syn_ex", "I_syn_in"]


def _check_processes(nest, net, seed):
    """Under MPI, every process must hold the same network and NEST seed."""
    n_processes = nest.NumProcesses()
    if n_processes == 1:
        build = nest.GetKernelStatus("build_info")
        if not build.get("have_mpi", False) and _launched_by_mpi():
            raise RuntimeError("this NEST was built without MPI, but the script runs under an MPI launcher: "
                               "each process would run the whole network alone. Install a NEST built with "
                               "MPI (see neurosim.nest's notes), or run one process")
        return
    fingerprint = (seed, tuple((p.kind, p.n) for p in net.populations),
                   tuple((c.n_synapses, _weight_sum(c)) for c in net.connections))
    if len({repr(f) for f in _communicator().allgather(fingerprint)}) != 1:
        raise ValueError("the network (or its seed) differs between the MPI processes: seed everything "
                         "random (SpikingNetwork(seed=...), the connectivity builders' seed=, sources' and "
                         "noise's seed=) so that every process builds the same network")


def _weight_sum(connection) -> float:
    """The sum of a connection's stored weights (a cheap fingerprint of its synapses)."""
    c = connection
    if c.storage == "uniform":
        return c.uniform_weight * c.n_synapses
    return float(np.sum(c.dense_t if c.storage == "dense" else c.weights_t))


def _launched_by_mpi() -> bool:
    """Whether an MPI launcher started this process among several (its environment says so)."""
    import os

    for name in ("OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "MPI_LOCALNRANKS"):
        if name in os.environ:
            return int(os.environ[name]) > 1
    return False


def _communicator():
    try:
        from mpi4py import MPI
    except ImportError as error:
        raise ImportError("NEST runs on several MPI processes: gathering the records needs mpi4py "
                          "(pip install mpi4py)") from error
    return MPI.COMM_WORLD


# -- building --------------------------------------------------------------------------------------------

def _ids(collection) -> np.ndarray:
    """The global ids of a freshly created (contiguous) NodeCollection, int64 (n,)."""
    first = collection[0].global_id
    return np.arange(first, first + len(collection), dtype=np.int64)


def _uniform(values):
    """One value when all are equal (NEST sets it once), else the array."""
    values = np.asarray(values, dtype=np.float64)
    return float(values.flat[0]) if values.size and np.all(values == values.flat[0]) else values


def _create_neurons(nest, population, plan, inputs, dt):
    """An LIF or HH population as NEST neurons (their NodeCollection), with their bias, noise and
    time-varying input."""
    n = population.n
    params = _lif_parameters(population) if population.kind == "lif" else _hh_parameters(population)
    params = {name: _uniform(value) for name, value in params.items()}
    constant, varying = inputs
    params["I_e"] = _uniform(constant + (varying[:, 0] if varying is not None else 0.0))
    multisynapse = "tau_syn" in plan.synapse_params
    cells = nest.Create(plan.model, n, params=params if multisynapse else {**params, **plan.synapse_params})
    if multisynapse:
        # (A list-valued parameter would read as one value per neuron: one dict each.)
        cells.set([plan.synapse_params] * n)
    ids = _ids(cells)
    noise = population.params.get("noise")
    if noise is not None:
        generator = nest.Create("noise_generator", params={"mean": 0.0, "std": 1.0, "dt": dt * _MS_PER_S})
        std = _noise_picoamperes(population, dt)
        noisy = np.flatnonzero(std > 0)
        nest.Connect(np.full(noisy.size, generator.global_id), ids[noisy], "one_to_one",
                     {"weight": std[noisy], "delay": np.full(noisy.size, dt * _MS_PER_S)})
    if varying is not None and varying.shape[1] > 2:
        # A device's current arrives one step after it is set: the value of step k (k >= 2) is set at
        # t_{k-1}; the first two steps go through I_e (see _simulate). Only the changes are sent.
        changes = np.ones(varying.shape, dtype=bool)
        changes[:, 3:] = varying[:, 3:] != varying[:, 2:-1]
        changes[:, :2] = False
        generators = nest.Create("step_current_generator", n, params=[
            {"amplitude_times": np.flatnonzero(row) * dt * _MS_PER_S - dt * _MS_PER_S,
             "amplitude_values": values[row]} for row, values in zip(changes, varying, strict=True)])
        nest.Connect(_ids(generators), ids, "one_to_one",
                     {"weight": np.ones(n), "delay": np.full(n, dt * _MS_PER_S)})
    return cells


def _create_source(nest, population, model, n_steps, dt):
    """A spike source's NEST nodes: the node that sends each neuron's spikes, int64 (n,)."""
    if model == "spike_generator":
        steps = _source_steps(population, n_steps, dt)
        # NEST cannot send at t = 0: a spike there goes out at its first step, dt.
        cells = nest.Create("spike_generator", population.n, params=[
            {"spike_times": np.maximum(k, 1) * dt * _MS_PER_S} for k in steps])
        return _ids(cells)
    rates = np.reshape(population.params["rates"], (-1, population.n))[0]
    distinct, which = np.unique(rates, return_inverse=True)
    generators = _ids(nest.Create("poisson_generator", distinct.size,
                                  params=[{"rate": float(rate)} for rate in distinct]))
    senders = generators[which]
    if model == "poisson_generator":
        return senders
    parrots = _ids(nest.Create("parrot_neuron", population.n))
    nest.Connect(senders, parrots, "one_to_one",
                 {"weight": np.ones(population.n), "delay": np.full(population.n, dt * _MS_PER_S)})
    return parrots


def _source_times(population, n_steps, dt):
    """A given or regular source's spike times (s) in ``[0, n_steps dt)``, one array per neuron."""
    t_end = n_steps * dt
    params = population.params
    if "trains" in params:
        trains = params["trains"][0]
        return [times[(times >= 0) & (times < t_end)] for times in trains.times]
    rates = np.reshape(params["rates"], (-1, population.n))[0]
    # Regular: the k-th spike at (k + 1/2) / rate, as neurosim's sources.
    counts = np.where(rates > 0, np.ceil(t_end * rates - 0.5), 0).astype(np.int64)
    check_allocation("rates", 8.0 * float(counts.sum()), "use lower rates or a shorter t_end",
                     what=f"the {int(counts.sum())} spike times of the regular source {population.label!r}")
    times = [(np.arange(count) + 0.5) / rate for count, rate in zip(counts, rates, strict=True)]
    return [t[t < t_end] for t in times]


def _source_steps(population, n_steps, dt):
    """The step at which each given spike is felt, ``ceil(t / dt)``, those before the end."""
    steps = [felt_steps(t, dt) for t in _source_times(population, n_steps, dt)]
    return [k[k < n_steps] for k in steps]


def _connect(nest, connection, nodes, plan, dt):
    """A connection's synapses as NEST connections (see the module notes for the delays)."""
    c = connection
    pre, post, weights, steps = _synapses(c)
    if pre.size == 0:
        return
    spec = {"weight": weights * _weight_scale(c.post, c.synapse)[post],
            "delay": np.maximum(steps - 1, 1) * (dt * _MS_PER_S)}
    receptor = plan[c.post].receptors.get(c.synapse.tau_s, 0) if isinstance(c.synapse, PSC) else 0
    if receptor != _RECEPTOR_BY_SIGN:
        spec["receptor_type"] = np.full(pre.size, receptor, dtype=np.int64)
    nest.Connect(nodes[c.pre][pre], nodes[c.post][post], "one_to_one", spec)


def _recorder(nest, probe, nodes, cells, plan, dt):
    """The NEST device that records a probe, or None when the bridge knows the record already (given
    or regular sources; currents without synapses)."""
    target = probe.target
    if probe.neurons is None and target in cells:
        recorded = cells[target]
    else:
        local = np.arange(target.n) if probe.neurons is None else probe.neurons
        recorded = nest.NodeCollection(np.sort(nodes[target][local]).tolist())
    if probe.kind in ("spikes", "filtered"):
        if target.kind == "source" and plan[target] == "spike_generator":
            return None
        recorder = nest.Create("spike_recorder")
        nest.Connect(recorded, recorder)
        return recorder
    variables = _recordables(probe, plan)
    if not variables:
        return None
    meter = nest.Create("multimeter", params={"record_from": variables,
                                              "interval": probe.record_every * dt * _MS_PER_S})
    nest.Connect(meter, recorded)
    return meter


def _simulate(nest, nodes, inputs, n_steps, dt):
    """Run ``n_steps``; populations with a time-varying input get theirs through ``I_e`` over the
    first two steps (a current generator's first value arrives at the third)."""
    step = dt * _MS_PER_S
    varying = {p: (constant, current) for p, (constant, current) in inputs.items() if current is not None}
    first = min(2, n_steps) if varying else 0
    try:
        for k in range(first):
            for p, (constant, current) in varying.items():
                nest.NodeCollection(nodes[p].tolist()).set({"I_e": _uniform(constant + current[:, k])})
            nest.Simulate(step)
        for p, (constant, _) in varying.items():
            nest.NodeCollection(nodes[p].tolist()).set({"I_e": _uniform(constant)})
        if n_steps > first:
            nest.Simulate((n_steps - first) * step)
        # Multimeters deliver their samples one minimum delay late: run on that long (the records
        # past the end are dropped).
        nest.Simulate(nest.GetKernelStatus("min_delay"))
    except nest.NESTError as error:
        if type(error).__name__ in ("NumericalInstability", "GSLSolverFailure"):
            raise FloatingPointError(f"NEST's integration failed ({type(error).__name__}: {error}): the "
                                     "inputs of a Hodgkin-Huxley population are far too strong; check "
                                     "the weights and currents") from error
        raise


def _events(recorder) -> dict:
    """A recorder's events as arrays: senders, times (ms) and each recorded variable."""
    events = recorder.get("events")
    return {name: np.asarray(values) for name, values in events.items()}


def _gathered(events: dict) -> dict:
    """Every MPI process's events of each probe (by probe index), concatenated: each process records
    its own neurons."""
    everywhere = _communicator().allgather(events)
    return {probe: {name: np.concatenate([part[probe][name] for part in everywhere])
                    for name in events[probe]} for probe in events}


# -- results ---------------------------------------------------------------------------------------------

def _record(probe, events, nodes, inputs, n_steps, dt):
    """A probe's record in neurosim's form and units, and its sample times (None for spikes)."""
    target = probe.target
    local = np.arange(target.n) if probe.neurons is None else probe.neurons
    t_end = n_steps * dt
    if probe.kind in ("spikes", "filtered"):
        if events is None:                          # a given or regular source: its own times, or for
            times = (_source_times(target, n_steps, dt) if probe.kind == "spikes"      # a filtered probe
                     else [k * dt for k in _source_steps(target, n_steps, dt)])     # the steps it is felt at
            trains = SpikeTrains([times[i] for i in local], t_end=t_end)
        else:
            within = events["times"] <= n_steps * dt * _MS_PER_S * (1 + 1e-12)     # not the extra run
            rows = _rows(events["senders"][within], nodes[target][local])
            trains = SpikeTrains.from_events(rows, np.minimum(events["times"][within] / _MS_PER_S, t_end),
                                             local.size, t_end)
        if probe.kind == "spikes":
            return trains, None
        filtered = filter_spikes(trains, dt, probe.synapse, t_end=t_end)[:, ::probe.record_every]
        return filtered, np.arange(filtered.shape[1]) * probe.record_every * dt
    m = (n_steps + probe.record_every - 1) // probe.record_every
    samples = np.arange(m) * probe.record_every
    values = np.zeros((local.size, m))
    if events is not None:
        rows = _rows(events["senders"], nodes[target][local])
        columns = np.rint(events["times"] / (probe.record_every * dt * _MS_PER_S)).astype(np.int64)
        keep = (columns >= 1) & (columns < m)
        variables = [name for name in events if name not in ("senders", "times")]
        values[rows[keep], columns[keep]] = sum(events[name][keep] for name in variables)
    if probe.kind == "voltage":
        values[:, 0] = _initial_voltage(target)[local]
        values = _voltage_out(target, values, local)
    else:
        constant, varying = inputs[target]
        values += constant[local][:, None]
        if varying is not None:
            values += varying[local][:, samples]
        values = _current_out(target, values, local)
    if not np.all(np.isfinite(values)):
        raise FloatingPointError(f"NEST's {probe.kind} record of {target.label!r} holds non-finite values: "
                                 "the weights or currents are far too large")
    return values, samples * dt


def _rows(senders, recorded_ids):
    """The probe rows of NEST senders (global ids), given the recorded neurons' ids in probe order."""
    order = np.argsort(recorded_ids)
    position = np.searchsorted(recorded_ids[order], senders)
    return order[position]


def _initial_voltage(population):
    """The voltage at t = 0 in NEST's units (mV)."""
    if population.kind == "hh":
        return population.params["v_init"]
    return _lif_parameters(population)["V_m"]


def _voltage_out(population, millivolts, local):
    """mV from NEST in neurosim's units: normalized for normalized LIF neurons, else mV."""
    if population.kind == "hh" or population.params["units"].physical:
        return millivolts
    reset, span, _, _ = _lif_units(population)
    return (millivolts - reset[local][:, None]) / span[local][:, None]


def _current_out(population, picoamperes, local):
    """pA from NEST in neurosim's units: µA/cm² (HH), nA (physical LIF) or normalized input."""
    if population.kind == "hh":
        return picoamperes / _PA_PER_HH_UNIT
    nanoamperes = picoamperes / _PA_PER_NA
    if population.params["units"].physical:
        return nanoamperes
    _, _, gain, offset = _lif_units(population)
    return offset[local][:, None] + gain[local][:, None] * nanoamperes
