"""The NEST bridge's cost: the CUBA network run through ``network.run(t_end, backend="nest")`` against
the same network written in NEST by hand (``bench/networks.py``'s).

Issue 13 ("Fast"): the bridge adds at most 10 % to the build time and nothing to the simulation time.

Work: Vogels & Abbott's CUBA as ``bench/networks.py`` builds it (4,000 LIF neurons, 2 %
connectivity, about 320,000 synapses, exponential current synapses, dt = 0.1 ms), the same
connectivity and initial voltages on both sides (``networks.cuba_layout``), 1 s simulated per run,
NEST with ``--threads`` threads (default 1). Each side runs in its own process (one NEST kernel
each); every run builds the network afresh in a reset kernel, and the runs alternate between the
two sides for ``--rounds`` rounds. Timed apart, per run:

* **build**: by hand (``networks.nest_build``), drawing the connectivity and initial voltages, NEST's
  ``Create`` and ``Connect`` (one ``one_to_one`` call per synapse group, arrays of ids, weights and
  delays), the spike recorder, and one step of ``Simulate`` (where NEST prepares its connections);
  through the bridge, drawing the same connectivity and building the neurosim ``SpikingNetwork``
  (``networks.neurosim_network``, shown apart as "neurosim"), then ``net.run(dt, backend="nest")``:
  the bridge's checks and translation, the same ``Create``, ``Connect`` and recorder, and one step
  (shown apart as "bridge");
* **simulate**: ``nest.Simulate`` of 1 s on the network each side left in NEST's kernel (the bridge
  leaves the network it built there): what NEST simulates, whoever built it;
* **end to end**: by hand, the above plus reading the recorder's events; through the bridge, the
  neurosim network plus ``net.run(1.0, backend="nest")`` (build, simulate, results as neurosim's
  ``NetworkResult``).

The bridge builds the same NEST network as the hand-written script (``iaf_psc_exp``, the same
synapses, a one-step delay, the same dynamics: its ``C_m`` is 200 pF where the script's is 250 pF,
with weights scaled to match), so the spike counts agree (the network is chaotic: not spike for
spike).

Figures (2 cores, the machine shared with other work, load average 1.5-2.5, November 2026), medians
of 5 runs with 1 NEST thread (3 runs with 2 threads):

==========  =========  ==========  ==========  =======
side        build (s)  simulate    end to end  spikes
==========  =========  ==========  ==========  =======
by hand     0.265      1.529       1.782       23,591
bridge      0.237      1.510       1.757       23,590
==========  =========  ==========  ==========  =======

The bridge's build (0.034 s for the neurosim network, 0.208 s for the bridge and NEST) is 0.89x the
hand-written script's (which sets the initial voltages in a second pass over the NEST nodes): the
target, at most 1.10x, is met; its simulation takes 0.99x as long (nothing added) and the whole run
0.99x. With 2 threads: build 0.55x (the hand-written builds varied from 0.21 to 1.17 s on the busy
machine), simulate 0.97x, end to end 0.81x.

    NEST_PYTHON bench/nest_bridge.py                 # 3 rounds, 1 thread
    NEST_PYTHON bench/nest_bridge.py --rounds 5 --threads 2

(any Python with the project and the ``nest`` extra installed, e.g. the project's own venv).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

from _workers import Worker, add_worker_options, environment, finish, load_average

SIDES = ("hand", "bridge")


def _answers_stream():
    """NEST writes its banner and messages to standard output: the answers get a copy of the
    original stream, and standard output becomes standard error."""
    sys.stdout.flush()
    answers = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    return answers


def _reply(stream, payload: dict) -> None:
    import json

    stream.write(json.dumps(payload) + "\n")
    stream.flush()


def _hand_worker(threads: int) -> None:
    answers = _answers_stream()
    from networks import DT, T_END, nest_build

    from neurosim.nest import import_nest

    nest = import_nest()
    for line in sys.stdin:
        if line.strip() != "run":
            return
        start = time.perf_counter()
        _, recorder, _ = nest_build(nest, "cuba", threads)
        nest.Simulate(DT * 1e3)                  # one step: NEST prepares its connections
        built = time.perf_counter()
        nest.Simulate(T_END * 1e3)
        simulated = time.perf_counter()
        spikes = len(recorder.get("events")["senders"])
        done = time.perf_counter()
        _reply(answers, {"build_s": built - start, "simulate_s": simulated - built, "total_s": done - start,
                         "spikes": spikes})


def _bridge_worker(threads: int) -> None:
    answers = _answers_stream()
    from networks import DT, T_END, neurosim_network

    from neurosim.nest import import_nest

    nest = import_nest()
    for line in sys.stdin:
        if line.strip() != "run":
            return
        start = time.perf_counter()
        net, probe, _ = neurosim_network("cuba")
        made = time.perf_counter()
        net.run(DT, backend="nest", nest_threads=threads, progress=False)      # build, one step
        built = time.perf_counter()
        nest.Simulate(T_END * 1e3)               # the network the bridge built, still in the kernel
        simulated = time.perf_counter()
        # End to end: the bridge's run of T_END (build, simulate, results) on the same network.
        result = net.run(T_END, backend="nest", nest_threads=threads, progress=False)
        done = time.perf_counter()
        _reply(answers, {"neurosim_s": made - start, "bridge_s": built - made, "build_s": built - start,
                         "simulate_s": simulated - built, "total_s": (made - start) + (done - simulated),
                         "spikes": result[probe].n_spikes})


def _bench(rounds: int, threads: int) -> dict:
    env = environment(NUMBA_NUM_THREADS="1", OMP_NUM_THREADS=str(threads))
    workers = {side: Worker(__file__, side, str(threads), env) for side in SIDES}
    report = {side: [] for side in SIDES}
    for _ in range(rounds):
        for side in SIDES:
            report[side].append(workers[side].ask("run"))
    for worker in workers.values():
        worker.close()
    return report


def _median(runs: list[dict], key: str) -> float:
    return statistics.median(run[key] for run in runs)


def _print(report: dict, threads: int) -> None:
    print(f"\n== CUBA, 4,000 LIF, ~320,000 synapses, 1 s at dt = 0.1 ms; NEST {threads} thread(s); "
          f"medians of {len(report['hand'])} runs ==")
    print(f"{'side':<10}{'build (s)':>11}{'simulate (s)':>14}{'end to end (s)':>16}{'spikes':>9}"
          "   builds (s)")
    for side in SIDES:
        runs = report[side]
        builds = " ".join(f"{run['build_s']:.3g}" for run in runs)
        print(f"{side:<10}{_median(runs, 'build_s'):>11.3f}{_median(runs, 'simulate_s'):>14.3f}"
              f"{_median(runs, 'total_s'):>16.3f}{int(_median(runs, 'spikes')):>9}   {builds}")
    bridge = report["bridge"]
    print(f"  bridge build = neurosim network {_median(bridge, 'neurosim_s'):.3f} s + bridge (checks, "
          f"translation, NEST Create/Connect, first step) {_median(bridge, 'bridge_s'):.3f} s")
    ratios = {key: _median(bridge, key) / _median(report["hand"], key)
              for key in ("build_s", "simulate_s", "total_s")}
    print(f"  build: bridge / by hand = {ratios['build_s']:.3f} (target <= 1.10: "
          f"{'met' if ratios['build_s'] <= 1.10 else 'NOT met'})")
    print(f"  simulate: bridge / by hand = {ratios['simulate_s']:.3f} (target: nothing added, 1.00 within "
          f"the machine's noise)")
    print(f"  end to end: bridge / by hand = {ratios['total_s']:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="runs per side, alternated")
    parser.add_argument("--threads", type=int, default=1, help="NEST's threads")
    parser.add_argument("--work", action="append", help=argparse.SUPPRESS)
    parser.add_argument("--json", help="also write the raw figures to this file")
    add_worker_options(parser)
    args = parser.parse_args()
    if args.worker:
        threads = int(args.work[0])
        (_hand_worker if args.worker == "hand" else _bridge_worker)(threads)
        return
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load average {load_average()}")
    report = _bench(args.rounds, args.threads)
    _print(report, args.threads)
    finish(report, args.json)


if __name__ == "__main__":
    main()
