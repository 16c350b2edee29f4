"""neurosim against Brian2 on the same work: neuron-steps per second, ratios, first-call cost apart.

Work (issue 2, "Fast"):

* ``hh1``     one Hodgkin-Huxley neuron at 10 µA/cm², 1 s at dt = 0.01 ms (forward Euler);
* ``hh1000``  1,000 HH neurons with currents 0-20 µA/cm², 1 s at dt = 0.01 ms (forward Euler);
* ``lif100k`` 100,000 normalized LIF neurons (τm = 20 ms, τref = 2 ms, inputs 0-5), 1 s at
  dt = 0.1 ms. Brian2 integrates with forward Euler and fires on the grid; neurosim uses its exact
  update with spike times and refractory ends resolved inside the step (more work per step).

Every tool records spikes only (Brian2: a SpikeMonitor; neurosim: ``record_v=False``).

Tools, each in its own process so that compile and first-call costs are seen apart:

* ``brian2-runtime``    Brian2's runtime mode (Cython code generation), one thread;
* ``brian2-standalone`` Brian2's cpp_standalone mode, built once per work, then its binary re-run
  (OpenMP with 2 threads for the populations, 1 for the single neuron); its run time is the
  simulation loop's own (``last_run_info.txt``), the binary's whole wall time is shown beside it;
* ``neurosim``          this project, in a process with an empty Numba cache (so its first call
  includes compilation); a second fresh process then measures the first call with the cache warm.

Runs alternate between the tools (round-robin, ``--rounds`` rounds) and the medians are reported,
because timings on a shared machine drift by up to 1.7x between repeats.

Run with the bench environment (see bench/README.md)::

    /work/benchvenv/bin/python bench/neurosim_vs_peers.py            # all work, 3 rounds
    /work/benchvenv/bin/python bench/neurosim_vs_peers.py --work hh1 --rounds 5
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
    environment,
    finish,
    load_average,
    play_role,
    serve,
    start_brian2_standalone,
    start_worker,
)

WORK = {
    #          neurons, t_end (s), dt (s), model
    "hh1": (1, 1.0, 1e-5, "hh"),
    "hh1000": (1000, 1.0, 1e-5, "hh"),
    "lif100k": (100_000, 1.0, 1e-4, "lif"),
}
TAU_M, TAU_REF = 0.02, 0.002
LIF_INPUT_MAX = 5.0
HH_SINGLE_CURRENT = 10.0
HH_CURRENT_MAX = 20.0


def _inputs(work: str):
    import numpy as np
    n_neurons, _, _, model = WORK[work]
    if model == "hh":
        if n_neurons == 1:
            return np.array([HH_SINGLE_CURRENT])
        return np.linspace(0.0, HH_CURRENT_MAX, n_neurons)
    return np.linspace(0.0, LIF_INPUT_MAX, n_neurons)


# ----------------------------------------------------------------------------------------------
# Workers: each runs in its own process, reads commands on stdin and answers one JSON line each.
# ----------------------------------------------------------------------------------------------

def _neurosim_worker(work: str) -> None:
    import numpy as np  # noqa: F401  (imported before timing, like Brian2's imports)

    from neurosim.hh import simulate_hh
    from neurosim.lif import simulate_lif

    n_neurons, t_end, dt, model = WORK[work]
    inputs = _inputs(work)

    def simulate():
        if model == "hh":
            result = simulate_hh(inputs, t_end=t_end, dt=dt, record_v=False)
        else:
            result = simulate_lif(inputs, t_end=t_end, dt=dt, tau_m=TAU_M, tau_ref=TAU_REF,
                                  record_v=False)
        return int(sum(train.size for train in result.spikes.times))

    def run():
        start = time.perf_counter()
        spikes = simulate()
        elapsed = time.perf_counter() - start
        return {"run_s": elapsed, "spikes": spikes}

    serve(simulate, run)


def _brian2_network(work: str):
    """Build the same model in Brian2 (forward Euler, a SpikeMonitor); return (network, monitor)."""
    import brian2 as b2

    n_neurons, t_end, dt, model = WORK[work]
    b2.defaultclock.dt = dt * b2.second
    if model == "hh":
        # The 1952 model shifted to rest at -65 mV, as in neurosim.hh; exprel handles the removable
        # singularities of alpha_m and alpha_n exactly (x / (1 - exp(-x)) = 1 / exprel(-x)).
        equations = """
        dv/dt = (I - g_na*m**3*h*(v - e_na) - g_k*n**4*(v - e_k) - g_l*(v - e_l)) / c_m : volt
        dm/dt = alpha_m*(1 - m) - beta_m*m : 1
        dh/dt = alpha_h*(1 - h) - beta_h*h : 1
        dn/dt = alpha_n*(1 - n) - beta_n*n : 1
        alpha_m = 1/exprel(-(v + 40*mV)/(10*mV))/ms : Hz
        beta_m = 4*exp(-(v + 65*mV)/(18*mV))/ms : Hz
        alpha_h = 0.07*exp(-(v + 65*mV)/(20*mV))/ms : Hz
        beta_h = 1/(1 + exp(-(v + 35*mV)/(10*mV)))/ms : Hz
        alpha_n = 0.1/exprel(-(v + 55*mV)/(10*mV))/ms : Hz
        beta_n = 0.125*exp(-(v + 65*mV)/(80*mV))/ms : Hz
        I : amp/meter**2 (constant)
        """
        namespace = {"c_m": 1 * b2.ufarad / b2.cm**2, "g_na": 120 * b2.msiemens / b2.cm**2,
                     "g_k": 36 * b2.msiemens / b2.cm**2, "g_l": 0.3 * b2.msiemens / b2.cm**2,
                     "e_na": 50 * b2.mV, "e_k": -77 * b2.mV, "e_l": -54.387 * b2.mV}
        group = b2.NeuronGroup(n_neurons, equations, method="euler", threshold="v > 0*mV",
                               refractory="v > 0*mV", namespace=namespace)
        v_rest = -65.0
        group.v = v_rest * b2.mV
        # Gates at their steady state at rest, as neurosim starts them.
        import math

        def rates(a, b):
            return a / (a + b)
        alpha_m = 0.1 * (v_rest + 40) / (1 - math.exp(-(v_rest + 40) / 10))
        alpha_n = 0.01 * (v_rest + 55) / (1 - math.exp(-(v_rest + 55) / 10))
        group.m = rates(alpha_m, 4 * math.exp(-(v_rest + 65) / 18))
        group.h = rates(0.07 * math.exp(-(v_rest + 65) / 20), 1 / (1 + math.exp(-(v_rest + 35) / 10)))
        group.n = rates(alpha_n, 0.125 * math.exp(-(v_rest + 65) / 80))
        group.I = _inputs(work) * b2.uamp / b2.cm**2
    else:
        equations = """
        dv/dt = (v_in - v) / tau_m : 1 (unless refractory)
        v_in : 1 (constant)
        """
        group = b2.NeuronGroup(n_neurons, equations, method="euler", threshold="v > 1", reset="v = 0",
                               refractory=TAU_REF * b2.second, namespace={"tau_m": TAU_M * b2.second})
        group.v = 0
        group.v_in = _inputs(work)
    monitor = b2.SpikeMonitor(group)
    network = b2.Network(group, monitor)
    return network, monitor


# ----------------------------------------------------------------------------------------------
# The conductor: starts the workers, alternates their runs, reports medians and ratios.
# ----------------------------------------------------------------------------------------------

def _bench_work(work: str, rounds: int, scratch: Path, tools: list[str],
                standalone_threads: int | None) -> dict:
    n_neurons, t_end, dt, _ = WORK[work]
    neuron_steps = n_neurons * round(t_end / dt)
    report: dict[str, dict] = {}
    workers: dict[str, Worker] = {}
    cache = scratch / f"numba-cache-{work}"
    threads = "1" if n_neurons == 1 else "2"
    if "neurosim" in tools:
        env = environment(NUMBA_CACHE_DIR=str(cache), NUMBA_NUM_THREADS=threads)
        workers["neurosim"], report["neurosim"] = start_worker(__file__, "neurosim", work, env)
        warm = Worker(__file__, "neurosim", work, env)   # a fresh process, cache now warm
        report["neurosim"]["first_call_cached_s"] = warm.ask("first")["first_call_s"]
        warm.close()
    if "brian2-runtime" in tools:
        workers["brian2-runtime"], report["brian2-runtime"] = start_worker(
            __file__, "brian2-runtime", work, environment())
    standalone_dir = str(scratch / f"brian2-standalone-{work}")
    if "brian2-standalone" in tools:
        report["brian2-standalone"] = start_brian2_standalone(__file__, work, standalone_dir,
                                                              standalone_threads or int(threads))
    alternate_runs(rounds, tools, workers, report, standalone_dir)
    for entry in report.values():
        entry["median_run_s"] = statistics.median(entry["runs"])
        entry["neuron_steps_per_s"] = neuron_steps / entry["median_run_s"]
    return report


def _print_work(work: str, report: dict) -> None:
    n_neurons, t_end, dt, model = WORK[work]
    print(f"\n== {work}: {n_neurons:,} {model.upper()} neuron(s), {t_end:g} s at dt = {dt * 1e3:g} ms ==")
    print(f"{'tool':<19}{'neuron-steps/s':>16}{'median run (s)':>16}{'runs (s)':>28}"
          f"{'first call (s)':>16}{'its overhead':>14}{'spikes':>11}")
    for tool, entry in report.items():
        runs = " ".join(f"{run:.3g}" for run in entry["runs"])
        # The first call's cost beyond a typical run: compilation, code generation, loading.
        overhead = entry["first_call_s"] - entry["median_run_s"]
        print(f"{tool:<19}{entry['neuron_steps_per_s'] / 1e6:>14.1f} M{entry['median_run_s']:>16.3f}"
              f"{runs:>28}{entry['first_call_s']:>16.2f}{overhead:>14.2f}{entry['spikes']:>11,}")
    notes = []
    if "brian2-standalone" in report:
        entry = report["brian2-standalone"]
        notes.append(f"brian2-standalone: compile {entry['compile_s']:.1f} s; {entry['threads']} OpenMP "
                     f"thread(s); whole-binary wall time median {statistics.median(entry['walls']):.3f} s "
                     "(run time above is its simulation loop alone)")
    if "neurosim" in report:
        entry = report["neurosim"]
        notes.append(f"neurosim: first call {entry['first_call_s']:.2f} s with an empty Numba cache "
                     f"(compile included), {entry['first_call_cached_s']:.2f} s in a fresh process "
                     f"with the cache warm (both include one run of ~{entry['median_run_s']:.2g} s)")
        peers = [tool for tool in report if tool != "neurosim"]
        if peers:
            best = max(peers, key=lambda tool: report[tool]["neuron_steps_per_s"])
            ratio = report["neurosim"]["neuron_steps_per_s"] / report[best]["neuron_steps_per_s"]
            notes.append(f"neurosim / best peer ({best}): {ratio:.2f}x")
    for note in notes:
        print("  " + note)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--work", choices=list(WORK), action="append",
                        help="which work to run (repeatable); default all")
    parser.add_argument("--rounds", type=int, default=3, help="timed runs per tool, alternated")
    parser.add_argument("--tools", default="brian2-runtime,brian2-standalone,neurosim",
                        help="comma-separated subset of brian2-runtime, brian2-standalone, neurosim")
    parser.add_argument("--json", help="also write the raw figures to this file")
    parser.add_argument("--standalone-threads", type=int,
                        help="Brian2 standalone's OpenMP threads (default: 1 for one neuron, else 2)")
    add_worker_options(parser, threads=True)
    args = parser.parse_args()
    if args.worker:
        play_role(args, WORK[args.work[0]][1], _neurosim_worker, _brian2_network)
        return
    tools = [tool.strip() for tool in args.tools.split(",") if tool.strip()]
    known = {"brian2-runtime", "brian2-standalone", "neurosim"}
    if not tools or set(tools) - known:
        parser.error(f"--tools must name some of {sorted(known)}")
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, "
          f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '-')}, load average "
          f"{load_average()}")
    reports = {}
    with tempfile.TemporaryDirectory(prefix="neurosim-bench-") as scratch:
        for work in args.work or list(WORK):
            reports[work] = _bench_work(work, args.rounds, Path(scratch), tools, args.standalone_threads)
            _print_work(work, reports[work])
    finish(reports, args.json)


if __name__ == "__main__":
    main()
