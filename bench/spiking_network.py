"""A 1,000 -> 1,000 spiking LIF network, neurosim against Brian2; and spiking digits per second.

Work (issue 4, "Fast"):

* ``net1ms`` / ``net01ms``: 1,000 Poisson sources at ``SOURCE_RATE`` = 10 Hz each drive 1,000
  normalized LIF neurons (tau_m = 20 ms, tau_ref = 2 ms, threshold 1, reset 0, no bias) through a
  dense 1,000 x 1,000 weight matrix and exponential synapses (tau_s = 5 ms): a spike of source
  ``j`` adds ``W[i, j] / tau_s`` to neuron ``i``'s synaptic current, which decays as
  ``exp(-dt / tau_s)`` per step. ``W[i, j]`` is uniform in ``[0, 2 * WEIGHT_MEAN]`` with
  ``WEIGHT_MEAN = 1.3e-4`` (seed 0), so the mean input is ``1000 * 10 Hz * 1.3e-4 = 1.3`` (threshold
  1) and the neurons fire at about 30 Hz. 1 s of simulated time at dt = 1 ms and at dt = 0.1 ms.
  Both simulators record the LIF neurons' spikes; the mean output rate is printed as the check that
  they did the same work. The synaptic current follows the notes' Euler algorithm in both
  (``I <- I (1 - dt / tau_s)`` each step, held over the step); Brian2 integrates the voltage with
  forward Euler and fires on the grid, neurosim with its exact-timing LIF step (exact for the input
  held over the step, spike times and refractory ends inside the step: more work per step). Sources:
  neurosim draws Poisson processes (spike times felt at the next step), Brian2's PoissonGroup a
  Bernoulli trial per step; at 10 Hz the two differ by < 1 % (dt = 1 ms) in spike count.
* ``digits``: a 64-100-10 LIF-rate network trained on scikit-learn's digits (a few seconds),
  then ``ratenet.to_spiking(net).run(X_test, t_end=0.2)`` (360 samples, dt = 1 ms, tau_s = 5 ms):
  samples per second and the spiking accuracy. neurosim only (no peer runs this).

Tools, each in its own process, single-threaded (Brian2 standalone without OpenMP, neurosim with
``NUMBA_NUM_THREADS=1`` for the network; the digits run uses 2 threads over its trials):

* ``brian2-runtime``: Brian2's runtime mode (Cython); timed is the whole ``Network.run``;
* ``brian2-standalone``: Brian2's cpp_standalone, built once per work and its binary re-run; timed
  is its simulation loop alone (``last_run_info.txt``), the binary's wall time is shown beside it;
* ``neurosim``: timed is the whole ``SpikingNetwork.run`` (Poisson draws, event sorting, kernel,
  building the SpikeTrains) of a network built once (as Brian2's), in a process with an empty
  Numba cache so that its first call (building, compiling, running) includes compilation.

Runs alternate between the tools for ``--rounds`` rounds; the table shows medians, steps per
second (n_steps / median run time) and our ratio over Brian2's fastest mode. Each timed run of
neurosim and Brian2 runtime follows an untimed run of ``WARM_UP`` s of the same network: on this
2-core VM a process that waited while the others ran is slower in its first tens of milliseconds
(see bench/networks.py), which a run of 10 ms cannot hide; Brian2 standalone's loop is timed inside
its binary, after its start-up.

    /work/benchvenv/bin/python bench/spiking_network.py                 # everything, 5 rounds
    /work/benchvenv/bin/python bench/spiking_network.py --work net01ms --rounds 7
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from _workers import (
    Worker,
    add_worker_options,
    alternate_runs,
    answer,
    environment,
    finish,
    load_average,
    play_role,
    run_worker_once,
    serve,
    start_brian2_standalone,
    start_worker,
)

N_SOURCES = 1000
N_NEURONS = 1000
SOURCE_RATE = 10.0          # Hz, every source
WEIGHT_MEAN = 1.3e-4        # normalized current x s; W uniform in [0, 2 * WEIGHT_MEAN]
TAU_M, TAU_REF, TAU_S = 0.02, 0.002, 0.005
T_END = 1.0
WARM_UP = 0.05              # s simulated, untimed, before each timed run of neurosim and Brian2 runtime
WORK = {"net1ms": 1e-3, "net01ms": 1e-4}
TOOLS = ("brian2-runtime", "brian2-standalone", "neurosim")


def _weights():
    import numpy as np
    return np.random.default_rng(0).uniform(0.0, 2 * WEIGHT_MEAN, size=(N_NEURONS, N_SOURCES))


# ----------------------------------------------------------------------------------------------
# Workers: each runs in its own process, reads commands on stdin and answers one JSON line each.
# ----------------------------------------------------------------------------------------------

def _neurosim_worker(work: str) -> None:
    import numpy as np

    from neurosim import PSC, SpikingNetwork

    dt = WORK[work]
    state = {}

    def build():
        net = SpikingNetwork(dt=dt, seed=1)
        sources = net.add_spike_source(rates=np.full(N_SOURCES, SOURCE_RATE))
        neurons = net.add_lif(N_NEURONS, tau_m=TAU_M, tau_ref=TAU_REF)
        net.connect(sources, neurons, _weights(), synapse=PSC(TAU_S, method="euler"))
        state["net"], state["spikes"] = net, net.probe(neurons, "spikes")

    def first_call():
        build()
        return state["net"].run(T_END)[state["spikes"]].n_spikes

    def run():
        # The network is built once, as Brian2's; each run draws new Poisson spikes.
        state["net"].run(WARM_UP, progress=False)
        start = time.perf_counter()
        result = state["net"].run(T_END)
        elapsed = time.perf_counter() - start
        return {"run_s": elapsed, "spikes": result[state["spikes"]].n_spikes}

    serve(first_call, run)


def _brian2_network(work: str):
    import brian2 as b2
    import numpy as np

    b2.defaultclock.dt = WORK[work] * b2.second
    b2.seed(1)
    sources = b2.PoissonGroup(N_SOURCES, rates=SOURCE_RATE * b2.Hz)
    equations = """
    dv/dt = (I - v) / tau_m : 1 (unless refractory)
    dI/dt = -I / tau_s : 1
    """
    neurons = b2.NeuronGroup(N_NEURONS, equations, threshold="v > 1", reset="v = 0",
                             refractory=TAU_REF * b2.second, method="euler",
                             namespace={"tau_m": TAU_M * b2.second, "tau_s": TAU_S * b2.second})
    synapses = b2.Synapses(sources, neurons, "w : 1", on_pre="I_post += w")
    pre = np.repeat(np.arange(N_SOURCES), N_NEURONS)
    post = np.tile(np.arange(N_NEURONS), N_SOURCES)
    synapses.connect(i=pre, j=post)
    synapses.w = _weights()[post, pre] / TAU_S      # a spike adds w / tau_s, as in neurosim
    monitor = b2.SpikeMonitor(neurons)
    return b2.Network(sources, neurons, synapses, monitor), monitor


def _digits_worker() -> None:
    import ratenet as rn

    X_train, X_test, y_train, y_test = rn.datasets.digits(seed=0)
    net = rn.MLP([64, 100, 10], activation=rn.LIFRate(), output="softmax", seed=0)
    start = time.perf_counter()
    net.fit(X_train, y_train, epochs=20, batch_size=32, optimizer=rn.Adam(lr=2e-3), progress=False)
    train_s = time.perf_counter() - start
    snet = rn.to_spiking(net, tau_s=0.005, dt=1e-3)

    def classify():
        out = snet.run(X_test, t_end=0.2, progress=False)
        return float((out.outputs.argmax(axis=1) == y_test).mean())

    start = time.perf_counter()
    accuracy = classify()
    first_s = time.perf_counter() - start
    runs = []
    for _ in range(int(os.environ.get("BENCH_ROUNDS", "5"))):
        start = time.perf_counter()
        classify()
        runs.append(time.perf_counter() - start)
    answer({"n_samples": int(X_test.shape[0]), "train_s": train_s, "first_call_s": first_s,
            "runs": runs, "spiking_accuracy": accuracy, "rate_accuracy": float(net.score(X_test, y_test))})


# ----------------------------------------------------------------------------------------------
# The conductor.
# ----------------------------------------------------------------------------------------------

def _bench_work(work: str, rounds: int, scratch: Path, tools: list[str]) -> dict:
    n_steps = round(T_END / WORK[work])
    report: dict[str, dict] = {}
    workers: dict[str, Worker] = {}
    if "neurosim" in tools:
        env = environment(NUMBA_CACHE_DIR=str(scratch / f"numba-cache-{work}"), NUMBA_NUM_THREADS="1")
        workers["neurosim"], report["neurosim"] = start_worker(__file__, "neurosim", work, env, counts=[])
    if "brian2-runtime" in tools:
        workers["brian2-runtime"], report["brian2-runtime"] = start_worker(
            __file__, "brian2-runtime", work, environment(), counts=[])
    directory = str(scratch / f"brian2-standalone-{work}")
    if "brian2-standalone" in tools:
        report["brian2-standalone"] = start_brian2_standalone(__file__, work, directory, counts=[])
    alternate_runs(rounds, tools, workers, report, directory)
    for entry in report.values():
        entry["median_run_s"] = statistics.median(entry["runs"])
        entry["steps_per_s"] = n_steps / entry["median_run_s"]
        counts = entry["counts"] or [entry["spikes"]]
        entry["rate_hz"] = statistics.mean(counts) / (N_NEURONS * T_END)
    return report


def _print_work(work: str, report: dict) -> None:
    dt = WORK[work]
    print(f"\n== {work}: {N_SOURCES} Poisson sources at {SOURCE_RATE:g} Hz -> {N_NEURONS} LIF, dense W "
          f"(mean {WEIGHT_MEAN:g}), exp. synapses tau_s = {TAU_S * 1e3:g} ms; {T_END:g} s at dt = "
          f"{dt * 1e3:g} ms ({round(T_END / dt):,} steps) ==")
    print(f"{'tool':<19}{'steps/s':>12}{'median run (s)':>16}{'first call (s)':>16}{'out rate (Hz)':>15}"
          "   runs (s)")
    for tool, entry in report.items():
        runs = " ".join(f"{run:.3g}" for run in entry["runs"])
        print(f"{tool:<19}{entry['steps_per_s'] / 1e3:>10.1f} k{entry['median_run_s']:>16.4f}"
              f"{entry['first_call_s']:>16.2f}{entry['rate_hz']:>15.2f}   {runs}")
    if "brian2-standalone" in report:
        entry = report["brian2-standalone"]
        print(f"  brian2-standalone: compile {entry['compile_s']:.1f} s; binary wall time median "
              f"{statistics.median(entry['walls']):.3f} s (run time above is its simulation loop alone)")
    if "neurosim" in report:
        print(f"  neurosim: first call {report['neurosim']['first_call_s']:.2f} s with an empty Numba "
              "cache (compile included); runs above include all Python-side preparation")
        peers = [tool for tool in report if tool != "neurosim"]
        if peers:
            best = max(peers, key=lambda tool: report[tool]["steps_per_s"])
            ratio = report["neurosim"]["steps_per_s"] / report[best]["steps_per_s"]
            print(f"  neurosim / fastest Brian2 mode ({best}): {ratio:.1f}x")


def _bench_digits(rounds: int, scratch: Path) -> dict:
    env = environment(NUMBA_CACHE_DIR=str(scratch / "numba-cache-digits"), BENCH_ROUNDS=str(rounds))
    report = run_worker_once(__file__, "digits", "digits", env)
    report["median_run_s"] = statistics.median(report["runs"])
    report["samples_per_s"] = report["n_samples"] / report["median_run_s"]
    print(f"\n== digits: 64-100-10 LIF-rate net, to_spiking(...).run(X_test, t_end=0.2), "
          f"{report['n_samples']} samples, dt = 1 ms ==")
    print(f"  {report['samples_per_s']:,.0f} samples/s (median {report['median_run_s']:.3f} s; runs "
          f"{' '.join(f'{r:.3g}' for r in report['runs'])}); first call {report['first_call_s']:.2f} s; "
          f"spiking accuracy {report['spiking_accuracy']:.3f} (rate network {report['rate_accuracy']:.3f}, "
          f"trained in {report['train_s']:.1f} s)")
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--work", choices=[*WORK, "digits"], action="append",
                        help="which work to run (repeatable); default all")
    parser.add_argument("--rounds", type=int, default=5, help="timed runs per tool, alternated")
    parser.add_argument("--tools", default=",".join(TOOLS), help=f"comma-separated subset of {TOOLS}")
    parser.add_argument("--json", help="also write the raw figures to this file")
    add_worker_options(parser)
    args = parser.parse_args()
    if args.worker:
        play_role(args, T_END, _neurosim_worker, _brian2_network, WARM_UP, digits=_digits_worker)
        return
    tools = [tool.strip() for tool in args.tools.split(",") if tool.strip()]
    if not tools or set(tools) - set(TOOLS):
        parser.error(f"--tools must name some of {TOOLS}")
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load average "
          f"{load_average()}")
    reports = {}
    with tempfile.TemporaryDirectory(prefix="neurosim-bench-") as scratch:
        for work in args.work or [*WORK, "digits"]:
            if work == "digits":
                reports[work] = _bench_digits(args.rounds, Path(scratch))
            else:
                reports[work] = _bench_work(work, args.rounds, Path(scratch), tools)
                _print_work(work, reports[work])
    finish(reports, args.json)


if __name__ == "__main__":
    main()
