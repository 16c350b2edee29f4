"""Compile time of a first SpikingNetwork.run: with an empty Numba cache (cold) and from the cache.

Issue 10 asks for at most 5 s cold and 1 s cached. Each measurement runs in a fresh process with
``NUMBA_CACHE_DIR`` pointing at a folder of its own: empty for the cold runs, the one the cold run
filled for the cached runs. Timed is the first ``run`` of a small network (0.1 s of simulated time,
a few milliseconds of work) after ``import neurosim`` (timed apart). The networks:

* ``dense``: Poisson sources -> LIF through a dense matrix, exponential synapses, a spike probe
  (the shape of the ratenet spiking twins);
* ``cuba``: one LIF population onto itself through two sparse connections with exponential synapses
  of two time constants (the CUBA network's structure);
* ``brunel``: delta synapses with delays and a high-rate Poisson source drawn in the kernel (the
  Brunel network's structure).

A network of another structure compiles its own specialisation of the kernel (the parts it lacks are
left out), so each is measured with a cache that has not seen the others. Repeats alternate between
the networks; the table shows medians.

    .venv/bin/python bench/compile_time.py                # 3 repeats
    .venv/bin/python bench/compile_time.py --repeats 5 --work cuba
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

WORKS = ("dense", "cuba", "brunel")
REPOSITORY = Path(__file__).resolve().parent.parent

CHILD = r"""
import json, sys, time
start = time.perf_counter()
import numpy as np
import neurosim as ns
imported = time.perf_counter() - start
work = sys.argv[1]
net = ns.SpikingNetwork(dt=1e-4, seed=0)
if work == "dense":
    source = net.add_spike_source(rates=np.full(100, 20.0))
    cells = net.add_lif(50, bias=0.5)
    net.connect(source, cells, np.full((50, 100), 0.002), synapse=ns.PSC(0.005))
elif work == "cuba":
    params = ns.PhysicalLIFParameters(tau_m=0.02, V_rest=-49.0, V_th=-50.0, V_reset=-60.0, tau_ref=0.005,
                                      R=100.0)
    cells = net.add_lif(200, params, v_init=np.linspace(-60.0, -50.5, 200))
    W = ns.connectivity.fixed_probability(200, 200, 0.02, weights=0.08, seed=1)
    net.connect(cells, cells, W, synapse=ns.PSC(0.005))
    net.connect(cells, cells, -W, synapse=ns.PSC(0.010))
else:
    params = ns.PhysicalLIFParameters(V_rest=0.0, V_th=20.0, V_reset=10.0, tau_m=0.02, tau_ref=0.002)
    cells = net.add_lif(200, params, v_init=np.linspace(0.0, 19.0, 200))
    W = ns.connectivity.fixed_indegree(200, 200, 20, weights=0.1, seed=1)
    net.connect(cells, cells, W, synapse=ns.Delta(), delay=1.5e-3)
    external = net.add_spike_source(rates=np.full(200, 20000.0))
    net.connect(external, cells, ns.connectivity.one_to_one(200, weights=0.1), synapse=ns.Delta(),
                delay=1.5e-3)
net.probe(cells, "spikes")
start = time.perf_counter()
net.run(0.1)
first = time.perf_counter() - start
start = time.perf_counter()
net.run(0.1)
second = time.perf_counter() - start
print(json.dumps({"import_s": imported, "first_s": first, "second_s": second}))
"""


def _measure(work: str, cache: str) -> dict:
    env = dict(os.environ, NUMBA_CACHE_DIR=cache, PYTHONPATH=str(REPOSITORY) + os.pathsep
               + os.environ.get("PYTHONPATH", ""))
    output = subprocess.run([sys.executable, "-c", CHILD, work], capture_output=True, text=True, env=env,
                            check=True)
    return json.loads(output.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--work", choices=WORKS, action="append")
    parser.add_argument("--json", help="also write the raw figures to this file")
    args = parser.parse_args()
    works = args.work or list(WORKS)
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load average "
          f"{' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    results = {work: {"cold": [], "cached": [], "import": []} for work in works}
    with tempfile.TemporaryDirectory(prefix="neurosim-compile-") as scratch:
        for repeat in range(args.repeats):
            for work in works:
                cache = str(Path(scratch) / f"{work}-{repeat}")
                cold = _measure(work, cache)
                cached = _measure(work, cache)
                results[work]["cold"].append(cold["first_s"])
                results[work]["cached"].append(cached["first_s"])
                results[work]["import"].append(cached["import_s"])
    print(f"\n{'network':<9}{'cold first run (s)':>20}{'cached first run (s)':>22}{'import (s)':>12}   "
          "cold runs / cached runs")
    for work, entry in results.items():
        cold, cached = statistics.median(entry["cold"]), statistics.median(entry["cached"])
        runs = " ".join(f"{x:.1f}" for x in entry["cold"])
        runs += " / " + " ".join(f"{x:.2f}" for x in entry["cached"])
        print(f"{work:<9}{cold:>20.2f}{cached:>22.2f}{statistics.median(entry['import']):>12.2f}   {runs}")
    print("\ntargets (issue 10): cold <= 5 s, cached <= 1 s; load average at the end "
          f"{' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
