"""The same networks run by neurosim and, unchanged, by the NEST simulator: ``backend="nest"``.

Usage::

    python examples/nest_backend.py OUTDIR [--quick] [--threads N]
    mpirun -np 2 python examples/nest_backend.py OUTDIR       # with a NEST built with MPI

Needs NEST (``pip install ".[nest]"``). Two networks, each run by neurosim's kernels and then
through :mod:`neurosim.nest`, which builds it in NEST 3 (``iaf_psc_alpha``, ``iaf_psc_exp``,
``spike_generator``...) and returns neurosim's own result:

- feed-forward: 40 given spike trains (30 Hz) onto 20 LIF neurons through alpha PSCs (3 ms) with
  a delay of 1 ms, dt = 0.1 ms, 1 s. Both simulators see the same input spikes at the same steps; the
  per-neuron spike counts agree within one spike (NEST checks the threshold at step ends, neurosim
  solves the crossing inside the step);
- CUBA (``examples/cuba.py``: Vogels & Abbott, 4,000 LIF, exponential PSCs), the same connectivity
  and initial voltages. The network is chaotic: the two runs part after some tens of ms, and their
  statistics agree (mean rate within a few %, ISI CV).

Writes to OUTDIR ``nest_counts.png`` (the feed-forward counts, neurosim against NEST) and
``nest_cuba.png`` (CUBA's population rate in both over the first 300 ms, and the distributions of
the neurons' ISI CV),
and prints the NEST model of every population and the rates. Under ``mpirun`` every process runs
the script and gets the whole result; only the first writes the figures. ``--quick`` runs CUBA for
0.3 s instead of 2 s.
"""

from __future__ import annotations

import argparse
import importlib.util
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import neurosim as ns  # noqa: E402
from neurosim.nest import import_nest, nest_models  # noqa: E402

DT = 1e-4                                  # s


def _cuba_example():
    """examples/cuba.py, loaded from beside this script."""
    spec = importlib.util.spec_from_file_location("cuba", Path(__file__).with_name("cuba.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def feed_forward(seed: int = 0) -> tuple[ns.SpikingNetwork, ns.Probe]:
    """40 given spike trains onto 20 LIF neurons through alpha PSCs, and a spike probe."""
    rng = np.random.default_rng(seed)
    trains = ns.SpikeTrains([np.sort(rng.uniform(0, 1.0, rng.poisson(30))) for _ in range(40)], t_end=1.0)
    net = ns.SpikingNetwork(dt=DT, seed=seed)
    inputs = net.add_spike_source(trains=trains, label="inputs")
    cells = net.add_lif(20, tau_m=rng.uniform(0.015, 0.025, 20), bias=rng.uniform(0.4, 0.6, 20),
                        v_init=rng.uniform(0, 0.9, 20), label="LIF")
    net.connect(inputs, cells, rng.uniform(0, 0.0011, (20, 40)), synapse=ns.PSC(0.003, order=1), delay=1e-3)
    return net, net.probe(cells, "spikes")


def compare(net: ns.SpikingNetwork, probe: ns.Probe, t_end: float, threads: int) -> dict:
    """Run ``net`` on both simulators; their spike trains and run times (s)."""
    start = time.perf_counter()
    ours = net.run(t_end, progress=False)[probe]
    middle = time.perf_counter()
    theirs = net.run(t_end, backend="nest", nest_threads=threads)[probe]
    return {"neurosim": ours, "NEST": theirs, "seconds": (middle - start, time.perf_counter() - middle)}


def plot_counts(runs: dict, path: Path) -> None:
    """The feed-forward network's per-neuron spike counts, NEST against neurosim."""
    ours, theirs = runs["neurosim"].counts(), runs["NEST"].counts()
    fig, ax = plt.subplots(figsize=(4.6, 4.2), layout="constrained")
    top = max(ours.max(), theirs.max()) + 2
    ax.fill_between([0, top], [-1, top - 1], [1, top + 1], color="0.85", label="within one spike")
    ax.plot([0, top], [0, top], color="0.4", linewidth=0.8)
    ax.plot(ours, theirs, "o", color="C0", markersize=5, label="a neuron")
    ax.set_xlim(0, top)
    ax.set_ylim(0, top)
    ax.set_xlabel("spikes in 1 s, neurosim")
    ax.set_ylabel("spikes in 1 s, NEST (iaf_psc_alpha)")
    ax.set_title(f"feed-forward, alpha PSCs: largest difference {np.abs(ours - theirs).max()} spike(s)",
                 fontsize="small")
    ax.legend(frameon=False, loc="upper left")
    fig.savefig(path, dpi=130)
    plt.close(fig)


def plot_cuba(runs: dict, isi_cv, path: Path) -> None:
    """CUBA's population rate on both simulators, and their neurons' ISI CVs (``isi_cv(trains)``)."""
    fig, (rate_ax, cv_ax) = plt.subplots(1, 2, figsize=(10, 3.6), layout="constrained",
                                         gridspec_kw={"width_ratios": [2.2, 1]})
    shown = min(runs["neurosim"].t_end, 0.3)                 # s: the first 300 ms
    bins = np.arange(0.0, shown + 1e-9, 0.005)
    for (name, trains), color in zip(((k, runs[k]) for k in ("neurosim", "NEST")), ("C0", "C3"), strict=True):
        counts, _ = np.histogram(np.concatenate(trains.times), bins=bins)
        rate = trains.n_spikes / (trains.n_neurons * trains.t_end)          # over the whole run
        rate_ax.plot(bins[:-1] * 1e3, counts / (trains.n_neurons * 0.005), color=color, linewidth=0.9,
                     label=f"{name}: mean {rate:.2f} Hz")
        cv = isi_cv(trains)
        cv_ax.hist(cv, bins=30, range=(0, 1.5), histtype="step", color=color, linewidth=1.4,
                   label=f"{name}: mean {cv.mean():.2f}")
        cv_ax.set_ylim(0, cv_ax.get_ylim()[1] * 1.25)              # room for the legend
    rate_ax.set_xlabel("time (ms)")
    rate_ax.set_ylabel("population rate (Hz, 5 ms bins)")
    rate_ax.set_title(f"CUBA, the same network and initial state: the first {shown * 1e3:.0f} ms (the runs "
                      "part, chaos)", fontsize="small")
    rate_ax.legend(frameon=False, loc="upper right")
    cv_ax.set_xlabel("ISI coefficient of variation")
    cv_ax.set_ylabel("neurons")
    cv_ax.legend(frameon=False, fontsize="small", loc="upper right")
    fig.savefig(path, dpi=130)
    plt.close(fig)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("outdir", type=Path, help="folder for the figures")
    parser.add_argument("--quick", action="store_true", help="CUBA for 0.3 s instead of 2 s")
    parser.add_argument("--threads", type=int, default=1, help="NEST's threads per process")
    args = parser.parse_args(argv)
    first_process = import_nest().Rank() == 0
    net, probe = feed_forward()
    print("feed-forward on NEST:", nest_models(net))
    counts = compare(net, probe, 1.0, args.threads)
    difference = np.abs(counts["neurosim"].counts() - counts["NEST"].counts())
    print(f"  spikes: neurosim {counts['neurosim'].n_spikes}, NEST {counts['NEST'].n_spikes}; largest "
          f"per-neuron difference {difference.max()}")
    cuba_example = _cuba_example()
    cuba_net, cuba_probe = cuba_example.build(seed=0)
    print("CUBA on NEST:", nest_models(cuba_net))
    t_end = 0.3 if args.quick else 2.0
    cuba = compare(cuba_net, cuba_probe, t_end, args.threads)
    for name, seconds in zip(("neurosim", "NEST"), cuba["seconds"], strict=True):
        trains = cuba[name]
        print(f"  {name:8s} mean rate {trains.rates().mean():.2f} Hz, mean ISI CV "
              f"{cuba_example.isi_cv(trains).mean():.2f} ({seconds:.1f} s for {t_end:g} s)")
    if first_process:
        args.outdir.mkdir(parents=True, exist_ok=True)
        plot_counts(counts, args.outdir / "nest_counts.png")
        plot_cuba(cuba, cuba_example.isi_cv, args.outdir / "nest_cuba.png")


if __name__ == "__main__":
    main()
