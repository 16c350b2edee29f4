"""The LIF neuron with white-noise input: simulated rates against Siegert's formula.

Usage::

    python examples/noisy_lif.py OUTDIR [--quick]

The neuron is Brunel's (2000) ``tau_m dv/dt = mu - v + sigma sqrt(tau_m) xi(t)`` (threshold 1,
reset 0, tau_m = 20 ms, tau_ref = 2 ms; ``sigma`` in units of the threshold). Writes to OUTDIR:

- ``noisy_lif_rates.png``: the rate against the mean input ``mu`` for sigma = 0.05, 0.2 and 0.5:
  :func:`neurosim.lif_rate_noisy` (Siegert, lines) and ``simulate_lif(..., noise=sigma)`` at
  dt = 0.1 ms (markers), with the deterministic LIF rate (sigma = 0, dashed) and the closest of
  ratenet's soft LIF rates (dotted; its smoothing fitted by least squares), the smooth curve that
  imitates the noisy one; below, the simulation's relative error with its standard error;
- ``noisy_lif_membrane.png``: a free membrane's trace and the histogram of its potential, against
  the Ornstein-Uhlenbeck law N(mu, sigma^2 / 2).

It prints the table of simulated and Siegert rates. ``--quick`` uses fewer neurons and shorter runs.
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
from ratenet.activations import SoftLIFRate  # noqa: E402

TAU_M, TAU_REF = 0.02, 0.002          # s
SIGMAS = (0.05, 0.2, 0.5)             # units of the threshold
DT = 1e-4                             # s
T_SKIP = 0.2                          # s of transient left out of the rates


def simulated_rates(mu: np.ndarray, sigma: float, n_neurons: int, t_end: float,
                    seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean rate (Hz) over ``n_neurons`` neurons at each ``mu``, and its standard error, from one run."""
    drive = np.repeat(mu, n_neurons)
    start = np.random.default_rng(seed).uniform(0.0, 1.0, drive.size)   # spread the phases
    result = ns.simulate_lif(drive, t_end=t_end, dt=DT, tau_m=TAU_M, tau_ref=TAU_REF, noise=sigma,
                             seed=seed, v_init=start, record_v=False)
    rates = result.spikes.rates(t_start=T_SKIP).reshape(mu.size, n_neurons)
    return rates.mean(axis=1), rates.std(axis=1) / np.sqrt(n_neurons)


def best_soft_lif(mu: np.ndarray, rates: np.ndarray) -> SoftLIFRate:
    """The soft LIF rate (ratenet, Hunsberger & Eliasmith 2015) whose smoothing scale fits ``rates``
    best in the least-squares sense, from a log-spaced scan: its smoothing is not the noise's sigma."""
    candidates = [SoftLIFRate(sigma=gamma, tau_m=TAU_M, tau_ref=TAU_REF, bias=0.0, amplitude=1.0)
                  for gamma in np.geomspace(1e-3, 1.0, 121)]
    return min(candidates, key=lambda soft: float(np.sum((soft(mu) - rates) ** 2)))


def plot_rates(path: Path, n_neurons: int, t_end: float, n_points: int) -> None:
    mu_fine = np.linspace(0.0, 2.0, 400)
    mu_points = np.linspace(0.2, 2.0, n_points)
    figure, (top, bottom) = plt.subplots(2, 1, figsize=(7.5, 6.5), sharex=True, layout="constrained",
                                         height_ratios=(3, 1.3))
    top.plot(mu_fine, ns.lif_rate(mu_fine, TAU_M, TAU_REF), color="k", linestyle="--", linewidth=1.1,
             label="deterministic LIF (σ = 0)")
    print(f"{'sigma':>6} {'mu':>6} {'simulated (Hz)':>16} {'Siegert (Hz)':>13} {'error':>8}")
    for index, sigma in enumerate(SIGMAS):
        color = f"C{index}"
        theory = ns.lif_rate_noisy(mu_fine, sigma, TAU_M, TAU_REF)
        top.plot(mu_fine, theory, color=color, linewidth=1.6, label=f"Siegert, σ = {sigma:g}")
        soft = best_soft_lif(mu_fine, theory)
        top.plot(mu_fine, soft(mu_fine), color=color, linestyle=":", linewidth=1.2)
        print(f"sigma = {sigma:g}: the closest soft LIF has smoothing {soft.sigma:.3g}")
        measured, error = simulated_rates(mu_points, sigma, n_neurons, t_end, seed=index)
        expected = ns.lif_rate_noisy(mu_points, sigma, TAU_M, TAU_REF)
        top.plot(mu_points, measured, "o", color=color, markerfacecolor="white", markersize=5)
        shown = expected > 1.0                        # relative errors of rates below 1 Hz are noise
        bottom.errorbar(mu_points[shown], 100 * (measured[shown] / expected[shown] - 1),
                        yerr=100 * error[shown] / expected[shown], fmt="o", color=color, markersize=4,
                        capsize=2)
        for m, got, want in zip(mu_points, measured, expected, strict=True):
            relative = f"{100 * (got / want - 1):7.2f}%" if want > 1 else "       -"
            print(f"{sigma:6.2f} {m:6.2f} {got:16.2f} {want:13.2f} {relative}")
    top.plot([], [], "o", color="0.3", markerfacecolor="white", label=f"simulated, dt = {DT * 1e3:g} ms")
    top.plot([], [], ":", color="0.3", label="closest soft LIF (ratenet)")
    top.set_ylabel("firing rate (Hz)")
    top.set_ylim(0, None)
    top.legend(frameon=False, fontsize="small", loc="upper left")
    top.set_title(f"Noisy LIF (τm = {TAU_M * 1e3:g} ms, τref = {TAU_REF * 1e3:g} ms): simulation and "
                  "Siegert's rate")
    bottom.axhline(0.0, color="0.4", linewidth=0.8)
    bottom.set_xlabel("mean input μ (normalized, threshold 1)")
    bottom.set_ylabel("simulated / Siegert − 1 (%)")
    for ax in (top, bottom):
        ax.grid(True, color="0.88", linewidth=0.6)
    figure.savefig(path, dpi=130)
    plt.close(figure)


def plot_membrane(path: Path, t_end: float) -> None:
    mu, sigma = 0.3, 0.1                              # threshold 7 standard deviations away
    result = ns.simulate_lif(np.full(50, mu), t_end=t_end, dt=DT, tau_m=TAU_M, tau_ref=TAU_REF,
                             noise=sigma, seed=7, v_init=mu, record_v=True)
    figure, (trace, histogram) = plt.subplots(1, 2, figsize=(10, 3.6), layout="constrained",
                                              width_ratios=(2, 1))
    shown = result.t <= 0.3
    trace.plot(result.t[shown] * 1e3, result.v[0, shown], color="C0", linewidth=0.7)
    trace.axhline(mu, color="0.3", linestyle="--", linewidth=0.8, label="μ")
    trace.set_xlabel("time (ms)")
    trace.set_ylabel("v (normalized)")
    trace.legend(frameon=False, fontsize="small")
    samples = result.v[:, result.t >= 5 * TAU_M].ravel()
    histogram.hist(samples, bins=60, density=True, color="C0", alpha=0.6, label="simulated")
    x = np.linspace(samples.min(), samples.max(), 200)
    variance = sigma**2 / 2
    histogram.plot(x, np.exp(-(x - mu) ** 2 / (2 * variance)) / np.sqrt(2 * np.pi * variance), color="k",
                   linewidth=1.2, label="N(μ, σ²/2)")
    histogram.set_xlabel("v")
    histogram.set_title(f"variance {samples.var():.5f} (σ²/2 = {variance:.5f})", fontsize="small")
    histogram.legend(frameon=False, fontsize="small")
    figure.savefig(path, dpi=130)
    plt.close(figure)
    print(f"free membrane: mean {samples.mean():.4f} (mu = {mu}), variance {samples.var():.6f} "
          f"(sigma^2/2 = {variance:.6f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("outdir", type=Path, help="folder for the figures")
    parser.add_argument("--quick", action="store_true", help="fewer neurons and shorter runs")
    args = parser.parse_args()
    args.outdir.mkdir(parents=True, exist_ok=True)
    n_neurons, t_end, n_points = (40, 1.2, 7) if args.quick else (300, 5.2, 13)
    start = time.perf_counter()
    plot_rates(args.outdir / "noisy_lif_rates.png", n_neurons, t_end, n_points)
    plot_membrane(args.outdir / "noisy_lif_membrane.png", 1.0 if args.quick else 4.0)
    print(f"done in {time.perf_counter() - start:.1f} s; figures in {args.outdir}")


if __name__ == "__main__":
    main()
