"""The field's standard networks, neurosim against Brian2 and NEST: CUBA and Brunel (2000).

Work (issue 10, "Fast"):

* ``cuba``: Vogels & Abbott (2005) as Brian2's examples/CUBA.py writes it: 4,000 LIF neurons
  (3,200 excitatory), p = 2 %, exponential current synapses (tau_e 5 ms, tau_i 10 ms; the
  synaptic "g" jumps by 1.62 mV and -9 mV), tau_m 20 ms, E_l -49 mV, V_t -50 mV, V_r -60 mV,
  refractory 5 ms, dt = 0.1 ms, ``T_END`` = 1 s per run.
* ``brunel``: Brunel (2000) in the AI regime (g = 5, nu_ext / nu_thr = 2): 10,000 + 2,500 LIF
  neurons, in-degree 1,000 + 250 (15.6 M synapses), delta synapses J = 0.1 mV (-0.5 mV), delay
  1.5 ms, threshold 20 mV, reset 10 mV, tau_m 20 ms, refractory 2 ms, input lost while refractory;
  each neuron gets 1,000 external Poisson inputs at 20 Hz (one Poisson count per neuron and step).
* ``scaling``: Brunel's network (AI) from 10,000 to 200,000 neurons at a fixed in-degree of 100 +
  25, neurosim alone: time per simulated second and memory against the number of synapses.

Every tool builds the SAME network: the connectivity is drawn once by ``neurosim.connectivity``
(seeded; each worker draws it again, identically) and handed to Brian2 (``Synapses.connect(i=, j=)``)
and NEST (``Connect(..., "one_to_one")``), with the same initial voltages. The models:

* neurosim: ``PhysicalLIFParameters`` populations; CUBA through ``PSC`` synapses (exact decay, the
  current held over each step), Brunel through ``Delta`` synapses with ``delay=``; exact LIF spike
  times inside the step. Single-threaded (no intra-trial threads).
* Brian2 2.9 (runtime: Cython; standalone: C++, without OpenMP): CUBA is Brian2's own example
  (``method="exact"``); Brunel drops input during the refractory period through
  ``int(not_refractory)`` factors, its external input is a ``PoissonInput`` (binomial counts per step).
* NEST 3.10 (1 and 2 threads): ``iaf_psc_exp`` (CUBA; weights as current amplitudes, w C_m / tau_m)
  and ``iaf_psc_delta`` (Brunel; a ``poisson_generator`` per network, independent trains per target),
  grid-based spike times, delays of at least one step.

Timed apart: ``build`` (creating and connecting the network, in seconds), ``first`` (the first run
of ``T_END``: Numba or Cython/C++ compilation included) and the median of the later runs of
``T_END`` each (neurosim reruns from the initial state; Brian2 runtime and NEST continue;
Brian2 standalone re-runs its binary and reports its simulation loop). Statistics (mean rate,
mean ISI CV over neurons with 3 or more spikes) come from the first run, which starts from the same
initial state in every tool; the networks are chaotic, so they are compared within tolerances, never
spike by spike: CUBA rate within 15 %, CV within 0.1; Brunel rate within 15 %, CV within 0.1.
Memory: each worker's peak resident set (``ru_maxrss``) after the first run, beside the synapse
arrays themselves (4-byte index + 8-byte weight per synapse).

Runs alternate between the tools for ``--rounds`` rounds; medians and ratios are printed. Each
timed run of a tool that keeps its network in a process (neurosim, Brian2 runtime, NEST) follows an
untimed warm-up run of ``WARM_UP`` s: on this 2-core VM the first run after a process has waited
while the others ran is tens of milliseconds slower (``bench/idle_penalty.py``: CUBA back to back
34-38 ms, after 1 s asleep 57-110 ms, user CPU time, no page faults; a warm-up run brings it back,
a busy loop only in part), which a 1 s run of 40 ms cannot hide. Brian2 standalone's loop is
timed inside its binary, after its start-up.

Figures (2 cores, quiet machine, 30 November 2026), seconds per simulated second, median of 5 runs
(CUBA, with the warm-up) and 3 runs (Brunel, without it: its runs of seconds do not need it):

==================  ===========  ===============  ==================  ==========  ==================
work                neurosim     Brian2 runtime   Brian2 standalone   NEST 1 th.  NEST 2 threads
==================  ===========  ===============  ==================  ==========  ==================
CUBA                0.038        0.43             0.076 (loop)        1.41        0.41
Brunel AI           2.29         19.5             18.3 (loop)         22.0        8.8
==================  ===========  ===============  ==================  ==========  ==================

Rates and CVs agree within the tolerances (CUBA 5.84 / 5.86 / 5.86 / 5.90 / 5.90 Hz, CV 0.53
everywhere; Brunel 37.40 / 37.32 / 37.32 / 37.17 / 36.99 Hz, CV 0.41 / 0.40). NEST with 2 threads on
2 busy cores is erratic. Targets (issue 10): CUBA >= 2x Brian2 standalone's loop (2.0x: 1.98-1.99x
over three runs, at the target within noise) and >= 5x NEST 2 threads (met: 10.6x); Brunel >= 2x
the fastest peer (met: 3.9x NEST 2 threads). Peak resident memory: neurosim 827 MB, Brian2
1.25-1.49 GB, NEST 1.50 GB for Brunel (most of neurosim's peak is this
script's synapse lists; the network holds 5 bytes per synapse, see ``--work scaling``).

Scaling (Brunel AI, in-degree 100 + 25, 0.5 s, neurosim): 10,000 neurons (1.26 M synapses) 3.1 s per
simulated s; 25,000: 8.0 s; 50,000: 23 s; 100,000: 43 s; 200,000 (25.2 M synapses): 119 s, i.e. 2.5
to 4.7 us per synapse-second (the larger networks leave the caches); memory held 5.0 bytes per
synapse at every size.

    bench/.venv/bin/python bench/networks.py                           # cuba and brunel, 3 rounds
    bench/.venv/bin/python bench/networks.py --work cuba --rounds 5
    bench/.venv/bin/python bench/networks.py --work scaling
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

from _workers import (
    Worker,
    add_worker_options,
    answer,
    brian2_standalone_rerun,
    environment,
    finish,
    load_average,
    run_worker_once,
)

T_END = 1.0          # s simulated per run
WARM_UP = 0.05       # s simulated, untimed, before each timed run (see the module notes)
DT = 1e-4            # s
SEED = 1
TOOLS = ("neurosim", "brian2-runtime", "brian2-standalone", "nest-1", "nest-2")
WORKS = ("cuba", "brunel", "scaling")
TOLERANCE = {"cuba": (0.15, 0.1), "brunel": (0.15, 0.1)}      # relative rate, absolute CV

# CUBA (Brian2's examples/CUBA.py)
CUBA_N, CUBA_N_EXC, CUBA_P = 4000, 3200, 0.02
CUBA_TAU_M, CUBA_TAU_E, CUBA_TAU_I, CUBA_TAU_REF = 20.0, 5.0, 10.0, 5.0        # ms
CUBA_E_L, CUBA_V_T, CUBA_V_R = -49.0, -50.0, -60.0                              # mV
CUBA_W_E, CUBA_W_I = 60 * 0.27 / 10, -20 * 4.5 / 10                             # mV
# Brunel (2000), AI regime
BRUNEL_N_E, BRUNEL_N_I, BRUNEL_EPSILON = 10_000, 2_500, 0.1
BRUNEL_J, BRUNEL_G, BRUNEL_ETA, BRUNEL_DELAY = 0.1, 5.0, 2.0, 1.5               # mV, -, -, ms
BRUNEL_THETA, BRUNEL_V_R, BRUNEL_TAU_M, BRUNEL_TAU_REF = 20.0, 10.0, 20.0, 2.0  # mV, mV, ms, ms
SCALING_SIZES = (10_000, 25_000, 50_000, 100_000, 200_000)
SCALING_IN_DEGREE = 125         # 100 excitatory + 25 inhibitory


# ----------------------------------------------------------------------------------------------
# The networks, as arrays every tool reads.
# ----------------------------------------------------------------------------------------------

def cuba_layout(seed: int = SEED):
    """CUBA's synapses and initial voltages: (pre, post) arrays of the excitatory and inhibitory
    synapses (neuron indices, excitatory neurons first), v_init (mV)."""
    import numpy as np

    from neurosim import connectivity

    rng = np.random.default_rng(seed)
    n_inh = CUBA_N - CUBA_N_EXC
    v_init = rng.uniform(CUBA_V_R, CUBA_V_T, CUBA_N)
    exc = connectivity.fixed_probability(CUBA_N_EXC, CUBA_N, CUBA_P, seed=rng)
    inh = connectivity.fixed_probability(n_inh, CUBA_N, CUBA_P, seed=rng)
    return _synapse_lists(exc, 0), _synapse_lists(inh, CUBA_N_EXC), v_init


def brunel_layout(n_e: int = BRUNEL_N_E, n_i: int = BRUNEL_N_I, c_e: int | None = None,
                  c_i: int | None = None, seed: int = SEED):
    """Brunel's synapses (fixed in-degree) and initial voltages, as :func:`cuba_layout`."""
    import numpy as np

    from neurosim import connectivity

    rng = np.random.default_rng(seed)
    n = n_e + n_i
    c_e = round(BRUNEL_EPSILON * n_e) if c_e is None else c_e
    c_i = round(BRUNEL_EPSILON * n_i) if c_i is None else c_i
    v_init = rng.uniform(0.0, BRUNEL_THETA, n)
    exc = connectivity.fixed_indegree(n_e, n, c_e, seed=rng)
    inh = connectivity.fixed_indegree(n_i, n, c_i, seed=rng)
    return _synapse_lists(exc, 0), _synapse_lists(inh, n_e), v_init, c_e


def _synapse_lists(matrix, first_pre):
    """(pre, post) int64 arrays of a csr matrix of shape (n_post, n_group), pre shifted by first_pre."""
    import numpy as np

    post = np.repeat(np.arange(matrix.shape[0]), np.diff(matrix.indptr))
    return matrix.indices.astype(np.int64) + first_pre, post


def _as_matrix(pre, post, n, weight):
    """The (n, n) weight matrix of a synapse list, as neurosim's connect() takes it (CSR, W[post, pre])."""
    import numpy as np
    import scipy.sparse

    return scipy.sparse.csr_array((np.full(pre.size, weight), (post, pre)), shape=(n, n))


def statistics_of(neurons, times, n_neurons: int, t_end: float) -> dict:
    """Mean rate (Hz) and mean ISI CV (neurons with at least 3 spikes) of a run's spikes."""
    import numpy as np

    neurons, times = np.asarray(neurons, dtype=np.int64), np.asarray(times, dtype=np.float64)
    order = np.lexsort((times, neurons))
    neurons, times = neurons[order], times[order]
    cvs = []
    bounds = np.searchsorted(neurons, np.arange(n_neurons + 1))
    for a, b in zip(bounds[:-1], bounds[1:], strict=True):
        if b - a >= 3:
            isi = np.diff(times[a:b])
            cvs.append(isi.std() / isi.mean())
    return {"rate": neurons.size / (n_neurons * t_end), "cv": float(np.mean(cvs)) if cvs else float("nan")}


def _peak_memory_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


# ----------------------------------------------------------------------------------------------
# Workers: each runs in its own process, reads commands on stdin and answers one JSON line each.
# ----------------------------------------------------------------------------------------------

def _serve(build, run_once, n_neurons: int, answers=None, warm_up=None) -> None:
    """Build (timed), then answer 'first' (the first run, with its statistics) and 'run', one JSON
    line each on ``answers`` (default standard output). ``warm_up(state)`` runs untimed before each
    'run' (see the module notes).

    ``run_once(state)`` runs the simulation (timed: wall and process CPU time) and returns a function
    that gives its spikes as (neurons, times) arrays, called after the timing (the statistics need
    them; the tools' own spike records are inside the timing).
    """
    start = time.perf_counter()
    state = build()
    build_s = time.perf_counter() - start
    for line in sys.stdin:
        command = line.strip()
        if command in ("first", "run"):
            if command == "run" and warm_up is not None:
                warm_up(state)
            start, cpu = time.perf_counter(), time.process_time()
            events = run_once(state)
            elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
            neurons, times = events()
            reply = {"run_s": elapsed, "cpu_s": cpu, "spikes": int(len(neurons))}
            if command == "first":
                reply.update(build_s=build_s, memory_mb=_peak_memory_mb(),
                             **statistics_of(neurons, times, n_neurons, T_END))
            if answers is None:
                answer(reply)
            else:
                answers.write(json.dumps(reply) + "\n")
                answers.flush()
        elif command == "quit":
            return


def neurosim_network(work: str):
    """The work's network in neurosim: ``(network, spike probe, n_neurons)`` (bench/nest_bridge.py
    runs it through the NEST bridge)."""
    import numpy as np

    import neurosim as ns

    if work == "cuba":
        (exc_pre, exc_post), (inh_pre, inh_post), v_init = cuba_layout()
        r = 100.0                                                      # MΩ
        params = ns.PhysicalLIFParameters(tau_m=CUBA_TAU_M * 1e-3, V_rest=CUBA_E_L, V_th=CUBA_V_T,
                                          V_reset=CUBA_V_R, tau_ref=CUBA_TAU_REF * 1e-3, R=r)
        net = ns.SpikingNetwork(dt=DT, seed=SEED)
        cells = net.add_lif(CUBA_N, params, v_init=v_init)
        # A jump of w mV in R I decaying with tau_s (ms) is the charge w tau_s / R (pC).
        net.connect(cells, cells, _as_matrix(exc_pre, exc_post, CUBA_N, CUBA_W_E * CUBA_TAU_E / r),
                    synapse=ns.PSC(CUBA_TAU_E * 1e-3))
        net.connect(cells, cells, _as_matrix(inh_pre, inh_post, CUBA_N, CUBA_W_I * CUBA_TAU_I / r),
                    synapse=ns.PSC(CUBA_TAU_I * 1e-3))
        return net, net.probe(cells, "spikes"), CUBA_N
    (exc_pre, exc_post), (inh_pre, inh_post), v_init, c_e = brunel_layout()
    n = BRUNEL_N_E + BRUNEL_N_I
    params = ns.PhysicalLIFParameters(V_rest=0.0, V_th=BRUNEL_THETA, V_reset=BRUNEL_V_R,
                                      tau_m=BRUNEL_TAU_M * 1e-3, tau_ref=BRUNEL_TAU_REF * 1e-3)
    net = ns.SpikingNetwork(dt=DT, seed=SEED)
    cells = net.add_lif(n, params, v_init=v_init)
    delay = BRUNEL_DELAY * 1e-3
    net.connect(cells, cells, _as_matrix(exc_pre, exc_post, n, BRUNEL_J), synapse=ns.Delta(), delay=delay)
    net.connect(cells, cells, _as_matrix(inh_pre, inh_post, n, -BRUNEL_G * BRUNEL_J), synapse=ns.Delta(),
                delay=delay)
    nu_threshold = BRUNEL_THETA / (BRUNEL_J * c_e * BRUNEL_TAU_M * 1e-3)      # Hz
    external = net.add_spike_source(rates=np.full(n, BRUNEL_ETA * nu_threshold * c_e))
    net.connect(external, cells, ns.connectivity.one_to_one(n, weights=BRUNEL_J), synapse=ns.Delta(),
                delay=delay)
    return net, net.probe(cells, "spikes"), n


def _neurosim_worker(work: str) -> None:
    def build():
        return neurosim_network(work)

    def run_once(state):
        net, probe, _ = state
        return net.run(T_END, progress=False)[probe].all_events

    def warm_up(state):
        state[0].run(WARM_UP, progress=False)

    n = CUBA_N if work == "cuba" else BRUNEL_N_E + BRUNEL_N_I
    _serve(build, run_once, n, warm_up=warm_up)


def _brian2_network(work: str):
    """The network in Brian2 (called once the device is chosen); returns (network, spike monitor)."""
    import brian2 as b2
    import numpy as np

    b2.defaultclock.dt = DT * b2.second
    b2.seed(SEED)
    ms, mV = b2.ms, b2.mV
    if work == "cuba":
        (exc_pre, exc_post), (inh_pre, inh_post), v_init = cuba_layout()
        equations = """
        dv/dt  = (ge + gi - (v - El)) / taum : volt (unless refractory)
        dge/dt = -ge / taue : volt
        dgi/dt = -gi / taui : volt
        """
        namespace = {"taum": CUBA_TAU_M * ms, "taue": CUBA_TAU_E * ms, "taui": CUBA_TAU_I * ms,
                     "El": CUBA_E_L * mV, "Vt": CUBA_V_T * mV, "Vr": CUBA_V_R * mV,
                     "we": CUBA_W_E * mV, "wi": CUBA_W_I * mV}
        cells = b2.NeuronGroup(CUBA_N, equations, threshold="v > Vt", reset="v = Vr",
                               refractory=CUBA_TAU_REF * ms, method="exact", namespace=namespace)
        cells.v = v_init * mV
        ce = b2.Synapses(cells, cells, on_pre="ge += we", namespace=namespace)
        ce.connect(i=exc_pre, j=exc_post)
        ci = b2.Synapses(cells, cells, on_pre="gi += wi", namespace=namespace)
        ci.connect(i=inh_pre, j=inh_post)
        monitor = b2.SpikeMonitor(cells)
        return b2.Network(cells, ce, ci, monitor), monitor
    (exc_pre, exc_post), (inh_pre, inh_post), v_init, c_e = brunel_layout()
    n = BRUNEL_N_E + BRUNEL_N_I
    nu_threshold = BRUNEL_THETA / (BRUNEL_J * c_e * BRUNEL_TAU_M)           # 1/ms
    namespace = {"tau": BRUNEL_TAU_M * ms, "theta": BRUNEL_THETA * mV, "Vr": BRUNEL_V_R * mV}
    # Input during the refractory period is lost (Brunel's model, NEST's iaf_psc_delta): every
    # jump is multiplied by not_refractory. The external counts land in x first, for that reason.
    cells = b2.NeuronGroup(n, "dv/dt = -v / tau : volt (unless refractory)\nx : volt",
                           threshold="v > theta", reset="v = Vr", refractory=BRUNEL_TAU_REF * ms,
                           method="exact", namespace=namespace)
    cells.v = v_init * mV
    synapses = b2.Synapses(cells, cells, "w : volt", on_pre="v_post += w * int(not_refractory_post)",
                           delay=BRUNEL_DELAY * ms)
    synapses.connect(i=np.concatenate([exc_pre, inh_pre]), j=np.concatenate([exc_post, inh_post]))
    synapses.w = np.concatenate([np.full(exc_pre.size, BRUNEL_J),
                                 np.full(inh_pre.size, -BRUNEL_G * BRUNEL_J)]) * mV
    external = b2.PoissonInput(cells, "x", N=c_e, rate=BRUNEL_ETA * nu_threshold / ms, weight=BRUNEL_J * mV)
    apply = cells.run_regularly("v += x * int(not_refractory)\nx = 0 * mV", when="after_synapses")
    monitor = b2.SpikeMonitor(cells)
    return b2.Network(cells, synapses, external, apply, monitor), monitor


def _brian2_runtime_worker(work: str) -> None:
    import brian2 as b2

    b2.prefs.codegen.target = "cython"

    def build():
        network, monitor = _brian2_network(work)
        return network, monitor

    def run_once(state):
        network, monitor = state
        before = int(monitor.num_spikes)
        network.run(T_END * b2.second)
        # Times of this run only, relative to its start.
        start = float(network.t / b2.second) - T_END
        return lambda: (monitor.i[before:], monitor.t[before:] / b2.second - start)

    def warm_up(state):
        state[0].run(WARM_UP * b2.second)

    n = CUBA_N if work == "cuba" else BRUNEL_N_E + BRUNEL_N_I
    _serve(build, run_once, n, warm_up=warm_up)


def _brian2_standalone_build(work: str, directory: str) -> None:
    import brian2 as b2

    b2.set_device("cpp_standalone", build_on_run=False)
    start = time.perf_counter()
    network, monitor = _brian2_network(work)
    network.run(T_END * b2.second)
    build_s = time.perf_counter() - start
    start = time.perf_counter()
    b2.device.build(directory=directory, compile=True, run=False, clean=True)
    compile_s = time.perf_counter() - start
    start = time.perf_counter()
    b2.device.run(directory=directory, with_output=False)
    first_s = time.perf_counter() - start
    n = CUBA_N if work == "cuba" else BRUNEL_N_E + BRUNEL_N_I
    answer({"build_s": build_s, "compile_s": compile_s, "first_s": first_s,
            "loop_s": b2.device._last_run_time,
            "spikes": int(monitor.num_spikes), "memory_mb": _peak_memory_mb(),
            **statistics_of(monitor.i[:], monitor.t[:] / b2.second, n, T_END)})


def nest_build(nest, work: str, threads: int):
    """The work's network written in NEST by hand (a fresh kernel): ``(cells, spike recorder, first
    global id)``. CUBA: ``iaf_psc_exp``, weights as current amplitudes ``w C_m / tau_m``; Brunel:
    ``iaf_psc_delta`` and one ``poisson_generator`` (independent trains per target)."""
    import numpy as np

    nest.ResetKernel()
    nest.SetKernelStatus({"resolution": DT * 1e3, "local_num_threads": threads, "rng_seed": SEED})
    if work == "cuba":
        (exc_pre, exc_post), (inh_pre, inh_post), v_init = cuba_layout()
        c_m = 250.0                                                # pF: weight (pA) = w (mV) C_m / tau_m
        cells = nest.Create("iaf_psc_exp", CUBA_N, params={
            "C_m": c_m, "tau_m": CUBA_TAU_M, "tau_syn_ex": CUBA_TAU_E, "tau_syn_in": CUBA_TAU_I,
            "t_ref": CUBA_TAU_REF, "E_L": CUBA_E_L, "V_th": CUBA_V_T, "V_reset": CUBA_V_R, "I_e": 0.0})
        cells.V_m = v_init
        first = cells[0].global_id
        for pre, post, w in ((exc_pre, exc_post, CUBA_W_E), (inh_pre, inh_post, CUBA_W_I)):
            nest.Connect(pre + first, post + first, "one_to_one",
                         {"weight": np.full(pre.size, w * c_m / CUBA_TAU_M),
                          "delay": np.full(pre.size, DT * 1e3)})
    else:
        (exc_pre, exc_post), (inh_pre, inh_post), v_init, c_e = brunel_layout()
        n = BRUNEL_N_E + BRUNEL_N_I
        cells = nest.Create("iaf_psc_delta", n, params={
            "C_m": 250.0, "tau_m": BRUNEL_TAU_M, "t_ref": BRUNEL_TAU_REF, "E_L": 0.0,
            "V_th": BRUNEL_THETA, "V_reset": BRUNEL_V_R, "I_e": 0.0})
        cells.V_m = v_init
        first = cells[0].global_id
        for pre, post, w in ((exc_pre, exc_post, BRUNEL_J), (inh_pre, inh_post, -BRUNEL_G * BRUNEL_J)):
            nest.Connect(pre + first, post + first, "one_to_one",
                         {"weight": np.full(pre.size, w), "delay": np.full(pre.size, BRUNEL_DELAY)})
        nu_threshold = BRUNEL_THETA / (BRUNEL_J * c_e * BRUNEL_TAU_M)
        rate = BRUNEL_ETA * nu_threshold * c_e * 1000.0                     # Hz, per target
        noise = nest.Create("poisson_generator", params={"rate": rate})
        nest.Connect(noise, cells, "all_to_all", {"weight": BRUNEL_J, "delay": BRUNEL_DELAY})
    recorder = nest.Create("spike_recorder")
    nest.Connect(cells, recorder)
    return cells, recorder, first


def _nest_worker(work: str, threads: int) -> None:
    # NEST writes its banner and messages to standard output: the answers get a copy of the
    # original stream, and standard output becomes standard error.
    sys.stdout.flush()
    answers = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    import nest
    import numpy as np

    nest.verbosity = nest.VerbosityLevel.ERROR

    def build():
        return nest_build(nest, work, threads)

    def run_once(state):
        cells, recorder, first = state
        recorder.n_events = 0
        start = nest.biological_time
        nest.Simulate(T_END * 1e3)

        def events():
            spikes = recorder.get("events")
            return np.asarray(spikes["senders"]) - first, (np.asarray(spikes["times"]) - start) * 1e-3
        return events

    def warm_up(state):
        nest.Simulate(WARM_UP * 1e3)

    n = CUBA_N if work == "cuba" else BRUNEL_N_E + BRUNEL_N_I
    _serve(build, run_once, n, answers, warm_up)


def _scaling_worker(n_neurons: int) -> None:
    """neurosim alone: Brunel's AI network of n_neurons at in-degree 100 + 25; one JSON line."""
    import tracemalloc

    import numpy as np

    import neurosim as ns

    n_e = n_neurons * 4 // 5
    n_i = n_neurons - n_e
    tracemalloc.start()
    start = time.perf_counter()
    (exc_pre, exc_post), (inh_pre, inh_post), v_init, c_e = brunel_layout(n_e, n_i, 100, 25)
    params = ns.PhysicalLIFParameters(V_rest=0.0, V_th=BRUNEL_THETA, V_reset=BRUNEL_V_R,
                                      tau_m=BRUNEL_TAU_M * 1e-3, tau_ref=BRUNEL_TAU_REF * 1e-3)
    net = ns.SpikingNetwork(dt=DT, seed=SEED)
    cells = net.add_lif(n_neurons, params, v_init=v_init)
    delay = BRUNEL_DELAY * 1e-3
    net.connect(cells, cells, _as_matrix(exc_pre, exc_post, n_neurons, BRUNEL_J), synapse=ns.Delta(),
                delay=delay)
    net.connect(cells, cells, _as_matrix(inh_pre, inh_post, n_neurons, -BRUNEL_G * BRUNEL_J),
                synapse=ns.Delta(), delay=delay)
    del exc_pre, exc_post, inh_pre, inh_post
    nu_threshold = BRUNEL_THETA / (BRUNEL_J * c_e * BRUNEL_TAU_M * 1e-3)
    external = net.add_spike_source(rates=np.full(n_neurons, BRUNEL_ETA * nu_threshold * c_e))
    net.connect(external, cells, ns.connectivity.one_to_one(n_neurons, weights=BRUNEL_J), synapse=ns.Delta(),
                delay=delay)
    probe = net.probe(cells, "spikes")
    build_s = time.perf_counter() - start
    held = tracemalloc.get_traced_memory()[0]
    tracemalloc.reset_peak()
    net.run(0.01)                                      # compile (cached after the first size)
    start = time.perf_counter()
    trains = net.run(T_END / 2)[probe]
    run_s = (time.perf_counter() - start) / (T_END / 2)
    peak = tracemalloc.get_traced_memory()[1]
    synapses = sum(c.n_synapses for c in net.connections)
    answer({"n_neurons": n_neurons, "synapses": synapses, "build_s": build_s, "s_per_sim_s": run_s,
            "held_mb": held / 2**20, "run_peak_mb": peak / 2**20,
            "connections_mb": sum(c.nbytes for c in net.connections) / 2**20,
            "rate": trains.n_spikes / (n_neurons * T_END / 2), "rss_mb": _peak_memory_mb()})


# ----------------------------------------------------------------------------------------------
# The conductor.
# ----------------------------------------------------------------------------------------------

def _bench(work: str, rounds: int, scratch: Path, tools: list[str]) -> dict:
    report: dict[str, dict] = {}
    workers: dict[str, Worker] = {}
    for tool in tools:
        if tool == "brian2-standalone":
            directory = str(scratch / f"brian2-{work}")
            built = run_worker_once(__file__, "brian2-standalone-build", work, environment(), "--directory",
                                    directory)
            report[tool] = {**built, "first_s": built["compile_s"] + built["first_s"], "runs": [],
                            "directory": directory}
            continue
        env = environment(NUMBA_CACHE_DIR=str(scratch / f"numba-{work}"), NUMBA_NUM_THREADS="1",
                          OMP_NUM_THREADS="1")
        workers[tool] = Worker(__file__, tool, work, env)
        first = workers[tool].ask("first")
        report[tool] = {**first, "first_s": first["run_s"], "runs": [], "cpu": []}
    for _ in range(rounds):
        for tool in tools:
            if tool == "brian2-standalone":
                report[tool]["runs"].append(brian2_standalone_rerun(report[tool]["directory"])["run_s"])
            else:
                reply = workers[tool].ask("run")
                report[tool]["runs"].append(reply["run_s"])
                report[tool]["cpu"].append(reply["cpu_s"])
    for worker in workers.values():
        worker.close()
    for entry in report.values():
        entry["median_s"] = statistics.median(entry["runs"])
        entry["median_cpu_s"] = statistics.median(entry["cpu"]) if entry.get("cpu") else float("nan")
    return report


def _print(work: str, report: dict) -> None:
    title = {"cuba": "CUBA: 4,000 LIF, p = 2 %, exp. current synapses",
             "brunel": "Brunel AI: 12,500 LIF, 15.6 M delta synapses, delay 1.5 ms, Poisson input"}[work]
    print(f"\n== {title}; {T_END:g} s per run at dt = {DT * 1e3:g} ms ==")
    print(f"{'tool':<19}{'s per sim. s':>13}{'CPU s':>8}{'build (s)':>11}{'first (s)':>11}{'rate (Hz)':>11}"
          f"{'ISI CV':>8}{'peak RSS (MB)':>15}   runs (s)")
    for tool, entry in report.items():
        runs = " ".join(f"{run:.3g}" for run in entry["runs"])
        print(f"{tool:<19}{entry['median_s'] / T_END:>13.3f}{entry['median_cpu_s'] / T_END:>8.3f}"
              f"{entry['build_s']:>11.2f}{entry['first_s']:>11.2f}"
              f"{entry['rate']:>11.2f}{entry['cv']:>8.2f}{entry['memory_mb']:>15.0f}   {runs}")
    if "brian2-standalone" in report:
        entry = report["brian2-standalone"]
        print(f"  brian2-standalone: C++ compile {entry['compile_s']:.1f} s; its runs are the simulation "
              "loop alone (wall time; its CPU time is not reported)")
    if "neurosim" in report:
        ours = report["neurosim"]
        rate_tolerance, cv_tolerance = TOLERANCE[work]
        for tool, entry in report.items():
            if tool == "neurosim":
                continue
            ratio = entry["median_s"] / ours["median_s"]
            rate_ok = abs(ours["rate"] / entry["rate"] - 1) <= rate_tolerance
            cv_ok = abs(ours["cv"] - entry["cv"]) <= cv_tolerance
            print(f"  neurosim vs {tool}: {ratio:.2f}x faster; rate {ours['rate']:.2f} vs "
                  f"{entry['rate']:.2f} Hz "
                  f"({'within' if rate_ok else 'OUTSIDE'} {rate_tolerance:.0%}), CV {ours['cv']:.2f} vs "
                  f"{entry['cv']:.2f} ({'within' if cv_ok else 'OUTSIDE'} {cv_tolerance})")


def _scaling(scratch: Path) -> list[dict]:
    rows = []
    env = environment(NUMBA_CACHE_DIR=str(scratch / "numba-scaling"), NUMBA_NUM_THREADS="1")
    print(f"\n== scaling: Brunel AI, in-degree {SCALING_IN_DEGREE} (100 + 25), {T_END / 2:g} s, neurosim ==")
    print(f"{'neurons':>9}{'synapses':>12}{'s per sim. s':>14}{'us per synapse-s':>18}{'build (s)':>11}"
          f"{'held (MB)':>11}{'run peak (MB)':>15}{'B per synapse':>15}{'rate (Hz)':>11}")
    for size in SCALING_SIZES:
        row = run_worker_once(__file__, "scaling", str(size), env)
        rows.append(row)
        print(f"{row['n_neurons']:>9,}{row['synapses']:>12,}{row['s_per_sim_s']:>14.2f}"
              f"{row['s_per_sim_s'] / row['synapses'] * 1e6:>18.4f}{row['build_s']:>11.1f}"
              f"{row['held_mb']:>11.1f}{row['run_peak_mb']:>15.1f}"
              f"{row['held_mb'] * 2**20 / row['synapses']:>15.2f}{row['rate']:>11.1f}")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--work", action="append",
                        help=f"one of {WORKS} (repeatable); default cuba and brunel")
    parser.add_argument("--rounds", type=int, default=3, help="timed runs per tool, alternated")
    parser.add_argument("--tools", default=",".join(TOOLS), help=f"comma-separated subset of {TOOLS}")
    parser.add_argument("--json", help="also write the raw figures to this file")
    add_worker_options(parser)
    args = parser.parse_args()
    if args.worker:
        work = args.work[0]
        if args.worker == "neurosim":
            _neurosim_worker(work)
        elif args.worker == "brian2-runtime":
            _brian2_runtime_worker(work)
        elif args.worker == "brian2-standalone-build":
            _brian2_standalone_build(work, args.directory)
        elif args.worker.startswith("nest-"):
            _nest_worker(work, int(args.worker.split("-")[1]))
        elif args.worker == "scaling":
            _scaling_worker(int(work))
        return
    if set(args.work or []) - set(WORKS):
        parser.error(f"--work must be one of {WORKS}")
    tools = [tool.strip() for tool in args.tools.split(",") if tool.strip()]
    if not tools or set(tools) - set(TOOLS):
        parser.error(f"--tools must name some of {TOOLS}")
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load average {load_average()}")
    reports = {}
    with tempfile.TemporaryDirectory(prefix="neurosim-networks-") as scratch:
        for work in args.work or ["cuba", "brunel"]:
            if work == "scaling":
                reports[work] = _scaling(Path(scratch))
            else:
                reports[work] = _bench(work, args.rounds, Path(scratch), tools)
                _print(work, reports[work])
    finish(reports, args.json)


if __name__ == "__main__":
    main()
