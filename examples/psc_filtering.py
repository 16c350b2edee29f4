"""Post-synaptic current filtering of a spike train: kernels, exact vs Euler filtering, Euler's error.

Usage::

    python examples/psc_filtering.py OUTDIR [--quick]

writes to OUTDIR:

- ``psc_kernels.png``: the kernels h(t) for n = 0, 1, 2 at tau_s = 5 ms (each of unit area);
- ``psc_filtering.png``: one spike train filtered with each kernel, exactly and by Euler at
  dt = 1 ms, over the exact trace on a 0.01 ms grid;
- ``psc_euler_error.png``: Euler's largest error against the exact convolution as dt shrinks
  (first order: a line of slope 1 on log-log axes).

It runs in seconds; ``--quick`` (for the tests) halves the steps of the error figure.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import neurosim as ns  # noqa: E402

TAU_S = 0.005  # s
ORDERS = (0, 1, 2)
COLORS = ("tab:blue", "tab:orange", "tab:green")


def plot_kernels(path: Path) -> None:
    t = np.linspace(-0.002, 0.04, 2000)
    fig, ax = plt.subplots(figsize=(6.0, 3.6), layout="constrained")
    for n, color in zip(ORDERS, COLORS, strict=True):
        ax.plot(t * 1e3, ns.psc_kernel(t, ns.PSC(TAU_S, order=n)), color=color,
                label=f"n = {n}" + ("  (exponential)" if n == 0 else "  (alpha)" if n == 1 else ""))
        if n > 0:
            ax.axvline(n * TAU_S * 1e3, color=color, linewidth=0.7, linestyle=":")
    ax.set_xlabel("time since the spike (ms)")
    ax.set_ylabel("h(t) (1/s)")
    ax.set_title(f"PSC kernels $t^n e^{{-t/τ_s}} / (n!\\,τ_s^{{n+1}})$, τs = {TAU_S * 1e3:g} ms, unit area",
                 fontsize="medium")
    ax.set_xlim(t[0] * 1e3, t[-1] * 1e3)
    ax.set_ylim(bottom=0)
    ax.grid(True, color="0.85", linewidth=0.6)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.legend(frameon=False)
    fig.savefig(path, dpi=150)
    plt.close(fig)


def plot_filtering(trains: ns.SpikeTrains, path: Path) -> None:
    coarse_dt, fine_dt = 1e-3, 1e-5
    fig, axes = plt.subplots(len(ORDERS), 1, figsize=(8.0, 7.5), sharex=True, layout="constrained")
    for ax, n, color in zip(axes, ORDERS, COLORS, strict=True):
        fine = ns.filter_spikes(trains, dt=fine_dt, synapse=ns.PSC(TAU_S, order=n))
        exact = ns.filter_spikes(trains, dt=coarse_dt, synapse=ns.PSC(TAU_S, order=n, method="exact"))
        euler = ns.filter_spikes(trains, dt=coarse_dt, synapse=ns.PSC(TAU_S, order=n, method="euler"))
        ns.plot.filtered(trains, fine, dt=fine_dt, ax=ax, labels=["exact, dt = 0.01 ms"], color="0.75",
                         linewidth=2.5, synapse=ns.PSC(TAU_S, order=n), spike_color="k")
        t_coarse = np.arange(exact.shape[1]) * coarse_dt * 1e3
        ax.plot(t_coarse, exact[0], "o", color=color, markersize=3.5, label="exact, dt = 1 ms")
        ax.plot(t_coarse, euler[0], "x", color="k", markersize=4, markeredgewidth=0.9,
                label="Euler, dt = 1 ms")
        ax.set_title(f"n = {n}", loc="left", fontsize="medium")
        if ax is axes[0]:
            ax.legend(frameon=False, fontsize="small", loc="upper left", ncols=3)
        ax.set_ylim(top=1.3 * fine.max())
        if ax is not axes[-1]:
            ax.set_xlabel("")
    fig.suptitle(f"A spike train filtered by PSC kernels (τs = {TAU_S * 1e3:g} ms)", fontsize="medium")
    fig.savefig(path, dpi=150)
    plt.close(fig)


def euler_errors(trains: ns.SpikeTrains, dts: np.ndarray) -> dict[int, np.ndarray]:
    """Largest |Euler - exact| over the 1 ms grid, relative to the exact trace's peak, per dt."""
    errors = {}
    for n in ORDERS:
        reference = ns.filter_spikes(trains, dt=1e-3, synapse=ns.PSC(TAU_S, order=n))[0]
        per_dt = []
        euler_synapse = ns.PSC(TAU_S, order=n, method="euler")
        for dt in dts:
            every = int(round(1e-3 / dt))
            euler = ns.filter_spikes(trains, dt=dt, synapse=euler_synapse)[0, ::every]
            per_dt.append(np.max(np.abs(euler - reference)) / reference.max())
        errors[n] = np.array(per_dt)
    return errors


def plot_euler_error(errors: dict[int, np.ndarray], dts: np.ndarray, path: Path) -> None:
    fig, ax = plt.subplots(figsize=(5.5, 4.0), layout="constrained")
    for (n, error), color in zip(errors.items(), COLORS, strict=True):
        ax.loglog(dts * 1e3, error, "o-", color=color, label=f"n = {n}")
    guide = errors[0][0] * dts / dts[0]
    ax.loglog(dts * 1e3, guide, "--", color="0.5", linewidth=0.9, label="slope 1 (first order)")
    ax.set_xlabel("time step dt (ms)")
    ax.set_ylabel("max |Euler − exact| / peak")
    ax.set_title("Euler filtering converges at first order", fontsize="medium")
    ax.grid(True, which="both", color="0.9", linewidth=0.5)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.legend(frameon=False, fontsize="small")
    fig.savefig(path, dpi=150)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("outdir", type=Path, help="folder to write the PNGs to (created if missing)")
    parser.add_argument("--quick", action="store_true", help="three time steps in the error figure")
    args = parser.parse_args()
    outdir = args.outdir
    outdir.mkdir(parents=True, exist_ok=True)

    # Spikes on the 1 ms grid (so that Euler's error is its own, not a rounding of spike times):
    # an isolated spike, a burst whose PSCs sum, a lone spike and a close pair; the last 90 ms
    # show the decay (and leave room for the kernel insets).
    spike_times = np.array([10, 40, 43, 46, 49, 80, 100, 102]) * 1e-3
    trains = ns.SpikeTrains([spike_times], t_end=0.2)

    plot_kernels(outdir / "psc_kernels.png")
    plot_filtering(trains, outdir / "psc_filtering.png")
    dts = 1e-3 / 2.0 ** np.arange(3 if args.quick else 6)
    errors = euler_errors(trains, dts)
    plot_euler_error(errors, dts, outdir / "psc_euler_error.png")

    for n, error in errors.items():
        orders = np.log2(error[:-1] / error[1:])
        print(f"n = {n}: Euler max error / peak at dt = 1 ms: {error[0]:.3f}; "
              f"observed orders {np.array2string(orders, precision=2)}")
    print(f"wrote {len(list(outdir.glob('psc_*.png')))} figures to {outdir}")


if __name__ == "__main__":
    main()
