"""Hodgkin-Huxley neurons under constant currents: voltage traces, gates, and a raster.

Usage::

    python examples/hh_spikes.py OUTDIR [--quick]

writes to OUTDIR:

- ``hh_voltage.png``: membrane potential over 100 ms at five currents (µA/cm²): silence, a single
  spike, a spike that dies out, and repetitive firing that quickens as the current grows;
- ``hh_gates.png``: one spike at 10 µA/cm², its voltage and the gates m, h, n that shape it, with
  the spike time interpolated at the 0 mV crossing;
- ``hh_raster.png``: 60 neurons with currents from 0 to 20 µA/cm² over 500 ms (spikes only, no
  traces kept), beside each neuron's firing rate after a 100 ms transient: repetitive firing starts
  abruptly near 6.3 µA/cm² at about 55 Hz.

``--quick`` simulates 20 ms traces and 10 neurons for 150 ms (a smoke test; the figures are thin).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import neurosim as ns  # noqa: E402

DT = 1e-5          # s (0.01 ms)
TRACE_CURRENTS = (0.0, 2.5, 5.0, 10.0, 20.0)      # µA/cm²


def plot_voltage(path: Path, quick: bool = False) -> None:
    result = ns.simulate_hh(TRACE_CURRENTS, t_end=0.02 if quick else 0.1, dt=DT, record_every=5)
    fig, axes = plt.subplots(len(TRACE_CURRENTS), 1, figsize=(7.5, 8.0), sharex=True, sharey=True,
                             layout="constrained")
    colors = plt.get_cmap("viridis")(np.linspace(0.0, 0.85, len(TRACE_CURRENTS)))
    for index, (ax, current, color) in enumerate(zip(axes, TRACE_CURRENTS, colors, strict=True)):
        n_spikes = result.spikes.times[index].size
        ns.plot.voltage(result, ax=ax, neurons=[index], color=color,
                        labels=[f"I = {current:g} µA/cm²: {n_spikes} spike{'s' * (n_spikes != 1)}"])
        ax.set_ylabel("V (mV)")
        ax.set_ylim(-85, 55)
        if ax is not axes[-1]:
            ax.set_xlabel("")
    fig.suptitle("Hodgkin-Huxley neuron from rest (forward Euler, dt = 0.01 ms)")
    fig.savefig(path, dpi=130)
    plt.close(fig)


def plot_gates(path: Path, quick: bool = False) -> None:
    result = ns.simulate_hh(10.0, t_end=0.012, dt=DT, record_gates=True)
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(7.0, 5.5), sharex=True, layout="constrained",
                                      height_ratios=(3, 2))
    ns.plot.voltage(result, ax=top, threshold=0.0, labels=["V, I = 10 µA/cm²"], color="k")
    top.plot(result.spikes.times[0] * 1e3, np.zeros(result.spikes.times[0].size), "o", color="tab:red",
             markersize=5, label="spike time (interpolated)")
    top.legend(frameon=False, fontsize="small", loc="upper right")
    top.set_xlabel("")
    t_ms = result.t * 1e3
    for gate, color, meaning in (("m", "tab:red", "Na activation"), ("h", "tab:blue", "Na inactivation"),
                                 ("n", "tab:green", "K activation")):
        bottom.plot(t_ms, result.extra[gate][0], color=color, linewidth=1.2, label=f"{gate}: {meaning}")
    bottom.set_xlabel("time (ms)")
    bottom.set_ylabel("gate (open fraction)")
    bottom.set_ylim(0, 1)
    bottom.legend(frameon=False, fontsize="small", loc="upper right")
    bottom.spines[["top", "right"]].set_visible(False)
    fig.suptitle("One action potential and its gates")
    fig.savefig(path, dpi=130)
    plt.close(fig)


def inverse_mean_isi(times: np.ndarray) -> float:
    """Firing rate (Hz) as 1 / mean inter-spike interval; 0 with fewer than two spikes."""
    return 0.0 if times.size < 2 else (times.size - 1) / (times[-1] - times[0])


def plot_raster(path: Path, quick: bool = False) -> None:
    currents = np.linspace(0.0, 20.0, 10 if quick else 60)
    t_end = 0.15 if quick else 0.5
    result = ns.simulate_hh(currents, t_end=t_end, dt=DT, record_v=False)
    # Inverse mean inter-spike interval after the transient: unlike a spike count over 400 ms it is
    # not quantised in steps of 2.5 Hz. Neurons with fewer than two late spikes are silent.
    rates = np.array([inverse_mean_isi(times[times >= 0.1]) for times in result.spikes.times])
    fig, (left, right) = plt.subplots(1, 2, figsize=(9.5, 5.0), sharey=True, layout="constrained",
                                      width_ratios=(3, 1))
    ns.plot.raster(result.spikes, ax=left)
    left.set_ylabel("neuron (current rises upwards)")
    left.axvline(100, color="0.5", linestyle=":", linewidth=1)
    left.set_title("spikes; rates counted after the dotted line", fontsize="medium")
    rows = np.arange(currents.size)
    right.plot(rates, rows, "o", color="tab:blue", markersize=3.5)
    right.set_xlabel("rate after 100 ms (Hz)\n(1 / mean ISI)")
    right.set_xlim(left=0)
    right.grid(alpha=0.3)
    right.spines[["top", "right"]].set_visible(False)
    current_axis = right.secondary_yaxis(
        "right", functions=(lambda row: np.interp(row, rows, currents),
                            lambda current: np.interp(current, currents, rows)))
    current_axis.set_ylabel("current (µA/cm²)")
    fig.suptitle(f"{currents.size} Hodgkin-Huxley neurons, currents 0-20 µA/cm², {t_end * 1e3:g} ms")
    fig.savefig(path, dpi=130)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("outdir", type=Path, help="folder to write the PNG figures into")
    parser.add_argument("--quick", action="store_true", help="short runs, few neurons (a smoke test)")
    args = parser.parse_args()
    outdir = args.outdir
    outdir.mkdir(parents=True, exist_ok=True)
    for name, plot in (("hh_voltage.png", plot_voltage), ("hh_gates.png", plot_gates),
                       ("hh_raster.png", plot_raster)):
        plot(outdir / name, quick=args.quick)
        print(f"wrote {outdir / name}")


if __name__ == "__main__":
    main()
