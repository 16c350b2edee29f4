"""The Vogels & Abbott (2005) CUBA network, as Brian2's examples/CUBA.py writes it.

Usage::

    python examples/cuba.py OUTDIR [--quick] [--seed N]

4,000 LIF neurons (3,200 excitatory, 800 inhibitory) connected at random with probability 2 %,
current-based exponential synapses (tau_e = 5 ms, tau_i = 10 ms), in the paper's units:
``tau_m dV/dt = -(V - E_l) + g_e + g_i`` with tau_m = 20 ms, E_l = -49 mV (above the threshold:
the neurons fire on their own), threshold V_t = -50 mV, reset V_r = -60 mV, refractory 5 ms, and
``g_e``, ``g_i`` (mV) jumping by w_e = 60 x 0.27 / 10 = 1.62 mV and w_i = -20 x 4.5 / 10 = -9 mV at
each spike. Initial voltages uniform in [V_r, V_t); dt = 0.1 ms; 1 s.

In neurosim the membrane is a :class:`~neurosim.PhysicalLIFParameters` population (mV, seconds;
R = 100 MΩ, so ``g = R I``), and a synapse whose ``R I`` jumps by ``w`` mV and decays with
``tau_s`` delivers the charge ``w tau_s / R`` (pC = mV ms / MΩ): the weight of a ``PSC(tau_s)``
connection into the population.

Writes to OUTDIR ``cuba_raster.png`` (spikes of 400 neurons), ``cuba_rate.png`` (population rate in
1 ms bins) and ``cuba_isi_cv.png`` (the ISI coefficient of variation of every neuron), and prints
the mean rate and CV: Brian2 and NEST give about 5.3-5.4 Hz and 0.5 (the network is chaotic:
compare statistics over seeds, never spike times). ``--quick`` simulates 0.5 s.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import neurosim as ns  # noqa: E402

N_NEURONS, N_EXCITATORY = 4000, 3200
P_CONNECT = 0.02
TAU_M, TAU_E, TAU_I, TAU_REF = 0.020, 0.005, 0.010, 0.005      # s
E_L, V_T, V_R = -49.0, -50.0, -60.0                            # mV
W_E, W_I = 60 * 0.27 / 10, -20 * 4.5 / 10                      # mV: the jumps of g_e, g_i
R = 100.0                                                      # MΩ: R I in mV for I in nA
DT = 1e-4                                                      # s


def build(seed: int = 0, n_neurons: int = N_NEURONS) -> tuple[ns.SpikingNetwork, ns.Probe]:
    """The CUBA network (excitatory neurons first, as Brian2's ``i < 3200``) and a spike probe."""
    rng = np.random.default_rng(seed)
    n_exc = n_neurons * N_EXCITATORY // N_NEURONS
    n_inh = n_neurons - n_exc
    params = ns.PhysicalLIFParameters(tau_m=TAU_M, V_rest=E_L, V_th=V_T, V_reset=V_R, tau_ref=TAU_REF, R=R)
    net = ns.SpikingNetwork(dt=DT, seed=rng)
    cells = net.add_lif(n_neurons, params, v_init=rng.uniform(V_R, V_T, n_neurons), label="CUBA")
    # Two connections of the population onto itself, one per synapse: the excitatory neurons'
    # columns of W (the inhibitory ones empty), then the inhibitory neurons' columns.
    charge_e, charge_i = W_E * (TAU_E * 1e3) / R, W_I * (TAU_I * 1e3) / R      # pC
    exc = ns.connectivity.fixed_probability(n_exc, n_neurons, P_CONNECT, weights=charge_e, seed=rng)
    inh = ns.connectivity.fixed_probability(n_inh, n_neurons, P_CONNECT, weights=charge_i, seed=rng)
    net.connect(cells, cells, ns.connectivity.offset_columns(exc, 0, n_neurons), synapse=ns.PSC(TAU_E))
    net.connect(cells, cells, ns.connectivity.offset_columns(inh, n_exc, n_neurons), synapse=ns.PSC(TAU_I))
    return net, net.probe(cells, "spikes")


def isi_cv(trains: ns.SpikeTrains, min_spikes: int = 3) -> np.ndarray:
    """The coefficient of variation of each neuron's inter-spike intervals (neurons with at least
    ``min_spikes`` spikes)."""
    return trains.isi_cv()[trains.counts() >= min_spikes]


def simulate(t_end: float, seed: int = 0, progress: bool | None = None) -> dict:
    """Run the network for ``t_end`` seconds; return its spikes and statistics."""
    net, probe = build(seed)
    start = time.perf_counter()
    trains = net.run(t_end, progress=progress)[probe]
    elapsed = time.perf_counter() - start
    cv = isi_cv(trains)
    return {"trains": trains, "rate": float(trains.rates().mean()), "cv": cv,
            "mean_cv": float(np.mean(cv)), "seconds": elapsed}


def plot(stats: dict, outdir: Path) -> None:
    trains = stats["trains"]
    shown = ns.SpikeTrains(list(trains.times[::10]), t_end=trains.t_end)          # 400 neurons
    fig, ax = plt.subplots(figsize=(9, 4.2), layout="constrained")
    ns.plot.raster(shown, ax=ax, marker_size=1.5)
    ax.set_title(f"CUBA (Vogels & Abbott 2005): every 10th of {trains.n_neurons} neurons, "
                 f"mean rate {stats['rate']:.2f} Hz")
    fig.savefig(outdir / "cuba_raster.png", dpi=130)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(9, 3), layout="constrained")
    population = trains.bin(1e-3).sum(axis=0) / (trains.n_neurons * 1e-3)        # Hz, 1 ms bins
    ax.plot(np.arange(population.size), population, color="C0", linewidth=0.8)
    ax.axhline(stats["rate"], color="k", linestyle="--", linewidth=0.8, label=f"mean {stats['rate']:.2f} Hz")
    ax.set_xlabel("time (ms)")
    ax.set_ylabel("population rate (Hz)")
    ax.set_xlim(0, trains.t_end * 1e3)
    ax.legend(frameon=False, loc="upper right")
    fig.savefig(outdir / "cuba_rate.png", dpi=130)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(5, 3.6), layout="constrained")
    ax.hist(stats["cv"], bins=40, color="C2", alpha=0.8)
    ax.axvline(stats["mean_cv"], color="k", linestyle="--", linewidth=0.9,
               label=f"mean {stats['mean_cv']:.2f}")
    ax.set_xlabel("ISI coefficient of variation")
    ax.set_ylabel("neurons")
    ax.set_title(f"{stats['cv'].size} neurons with >= 3 spikes", fontsize="small")
    ax.legend(frameon=False)
    fig.savefig(outdir / "cuba_isi_cv.png", dpi=130)
    plt.close(fig)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("outdir", type=Path, help="folder for the figures")
    parser.add_argument("--quick", action="store_true", help="simulate 0.5 s instead of 1 s")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    args.outdir.mkdir(parents=True, exist_ok=True)
    stats = simulate(0.5 if args.quick else 1.0, seed=args.seed)
    trains = stats["trains"]
    print(f"CUBA: {trains.n_neurons} neurons, {trains.t_end:g} s simulated in {stats['seconds']:.2f} s; "
          f"mean rate {stats['rate']:.2f} Hz, mean ISI CV {stats['mean_cv']:.2f}")
    plot(stats, args.outdir)


if __name__ == "__main__":
    main()
