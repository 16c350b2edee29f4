"""Brunel (2000): a sparse network of excitatory and inhibitory LIF neurons with delta synapses and
delays, in its four regimes (his Fig. 8).

Usage::

    python examples/brunel.py OUTDIR [--quick] [--seed N]

N_E = 10,000 excitatory and N_I = 2,500 inhibitory neurons, ``tau_m dV/dt = -V + R I(t)`` with
threshold 20 mV, reset 10 mV, tau_m = 20 ms, refractory 2 ms. Every neuron receives C_E = 1,000
synapses from excitatory and C_I = 250 from inhibitory neurons chosen at random (in-degree 10 %),
and C_E external Poisson inputs at rate nu_ext each; a spike makes the potential jump by J = 0.1 mV
(excitatory and external) or -g J (inhibitory) after a delay D = 1.5 ms, and is lost during the
refractory period. ``nu_thr = theta / (J C_E tau_m)`` = 10 Hz is the external rate that brings the
mean input to threshold. Fig. 8's regimes:

- SR, synchronous regular (g = 3, nu_ext / nu_thr = 2): excitation dominates, neurons fire almost
  regularly at high rates in synchronous waves;
- SI fast (g = 6, nu_ext / nu_thr = 4): inhibition dominates, fast population oscillations
  (~ 180 Hz), each neuron firing irregularly at a low rate;
- AI, asynchronous irregular (g = 5, nu_ext / nu_thr = 2): stationary population activity, irregular
  neurons;
- SI slow (g = 4.5, nu_ext / nu_thr = 0.9): slow oscillations, irregular neurons.

neurosim builds it with :class:`~neurosim.PhysicalLIFParameters` (mV), :class:`~neurosim.Delta`
synapses (weights: the jumps, mV), ``delay=`` and :func:`neurosim.connectivity.fixed_indegree`;
the external input is one Poisson source per neuron at ``C_E nu_ext`` (20 kHz in the AI regime: its
counts are drawn step by step, as NEST's ``poisson_generator`` does). dt = 0.1 ms.

Writes ``brunel_regimes.png`` (for each regime, the raster of 50 excitatory neurons and the
population rate over 100 ms) and prints, per regime, the mean rate beside Brunel's mean-field rate
(the self-consistent Siegert rate, through :func:`neurosim.lif_rate_noisy`; exact for the
asynchronous state), the neurons' ISI CV and the population rate's spread over time. ``--quick``
simulates a network 5 times smaller (the same in-degree fraction) for 0.3 s.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import scipy.optimize  # noqa: E402

import neurosim as ns  # noqa: E402

N_E, N_I = 10_000, 2_500
EPSILON = 0.1                        # in-degree as a fraction of each population
J = 0.1                              # mV
THETA, V_RESET, TAU_M, TAU_REF = 20.0, 10.0, 0.020, 0.002      # mV, mV, s, s
DELAY = 1.5e-3                       # s
DT = 1e-4                            # s
REGIMES = {"SR": (3.0, 2.0), "SI fast": (6.0, 4.0), "AI": (5.0, 2.0), "SI slow": (4.5, 0.9)}
T_SKIP = 0.1                         # s of transient left out of the statistics


def build(g: float, eta: float, *, scale: float = 1.0, seed: int = 0):
    """The network at relative inhibition ``g`` and external drive ``eta = nu_ext / nu_thr``,
    ``scale`` times Brunel's size. Returns the network and a spike probe of every neuron
    (excitatory first)."""
    rng = np.random.default_rng(seed)
    n_e, n_i = int(round(N_E * scale)), int(round(N_I * scale))
    n = n_e + n_i
    c_e, c_i = int(round(EPSILON * n_e)), int(round(EPSILON * n_i))
    params = ns.PhysicalLIFParameters(V_rest=0.0, V_th=THETA, V_reset=V_RESET, tau_m=TAU_M, tau_ref=TAU_REF)
    net = ns.SpikingNetwork(dt=DT, seed=rng)
    cells = net.add_lif(n, params, v_init=rng.uniform(0.0, THETA, n), label="Brunel")
    # Every neuron's C_E excitatory and C_I inhibitory inputs: W's excitatory and inhibitory columns.
    exc = ns.connectivity.fixed_indegree(n_e, n, c_e, weights=J, seed=rng)
    inh = ns.connectivity.fixed_indegree(n_i, n, c_i, weights=-g * J, seed=rng)
    net.connect(cells, cells, ns.connectivity.offset_columns(exc, 0, n), synapse=ns.Delta(), delay=DELAY)
    net.connect(cells, cells, ns.connectivity.offset_columns(inh, n_e, n), synapse=ns.Delta(), delay=DELAY)
    nu_threshold = THETA / (J * c_e * TAU_M)                       # Hz
    external = net.add_spike_source(rates=np.full(n, eta * nu_threshold * c_e), label="external")
    net.connect(external, cells, ns.connectivity.one_to_one(n, weights=J), synapse=ns.Delta(), delay=DELAY)
    return net, net.probe(cells, "spikes")


def mean_field_rate(g: float, eta: float, c_e: int) -> float:
    """Brunel's stationary (asynchronous) rate (Hz): the self-consistent solution of
    ``nu = Siegert(mu(nu), sigma(nu))`` with ``mu = C_E J tau (nu_ext + nu (1 - gamma g))`` and
    ``sigma^2 = C_E J^2 tau (nu_ext + nu (1 + gamma g^2))``, ``gamma = C_I / C_E = 1/4`` (his eqs. 4-5
    and 21), through :func:`neurosim.lif_rate_noisy` in units of ``theta - V_r``."""
    nu_ext = eta * THETA / (J * c_e * TAU_M)
    span = THETA - V_RESET

    def excess(nu):
        mu = c_e * J * TAU_M * (nu_ext + nu * (1 - 0.25 * g))
        sigma = np.sqrt(c_e * J**2 * TAU_M * (nu_ext + nu * (1 + 0.25 * g**2)))
        return ns.lif_rate_noisy((mu - V_RESET) / span, sigma / span, TAU_M, TAU_REF) - nu

    return float(scipy.optimize.brentq(excess, 1e-6, 1.0 / TAU_REF - 1e-6))


def statistics(trains: ns.SpikeTrains, n_exc: int) -> dict:
    """Mean rate (Hz), mean ISI CV of the excitatory neurons, and the population rate (1 ms bins)
    with its coefficient of variation over time (synchrony: 0 for an asynchronous state)."""
    rates = trains.rates(t_start=T_SKIP)
    cvs = trains.isi_cv()[:n_exc][trains.counts()[:n_exc] >= 5]
    population = trains.bin(1e-3).sum(axis=0) / (trains.n_neurons * 1e-3)        # Hz, 1 ms bins
    steady = population[np.arange(population.size) * 1e-3 >= T_SKIP]
    return {"rate": float(rates.mean()), "cv": float(np.mean(cvs)) if cvs.size else float("nan"),
            "population": population, "synchrony": float(steady.std() / max(steady.mean(), 1e-12))}


def simulate(t_end: float, *, scale: float = 1.0, seed: int = 0, regimes=REGIMES) -> dict:
    """Every regime's spikes and statistics."""
    results = {}
    for name, (g, eta) in regimes.items():
        net, probe = build(g, eta, scale=scale, seed=seed)
        start = time.perf_counter()
        trains = net.run(t_end)[probe]
        stats = statistics(trains, int(round(N_E * scale)))
        stats.update(trains=trains, seconds=time.perf_counter() - start, g=g, eta=eta,
                     theory=mean_field_rate(g, eta, int(round(EPSILON * N_E * scale))))
        results[name] = stats
    return results


def plot(results: dict, path: Path, window: tuple[float, float]) -> None:
    fig, axes = plt.subplots(2, len(results), figsize=(4.2 * len(results), 5.6), layout="constrained",
                             height_ratios=(2, 1), sharex=True)
    for column, (name, stats) in enumerate(results.items()):
        trains = stats["trains"]
        shown = ns.SpikeTrains(list(trains.times[:50]), t_end=trains.t_end)
        raster, rate = axes[0, column], axes[1, column]
        ns.plot.raster(shown, ax=raster, marker_size=2.5)
        raster.set_xlim(window[0] * 1e3, window[1] * 1e3)
        raster.set_xlabel("")
        raster.set_title(f"{name}: g = {stats['g']:g}, ν_ext/ν_thr = {stats['eta']:g}\n"
                         f"{stats['rate']:.1f} Hz, ISI CV {stats['cv']:.2f}", fontsize="medium")
        t = np.arange(stats["population"].size) * 1e-3
        inside = (t >= window[0]) & (t < window[1])
        rate.plot(t[inside] * 1e3, stats["population"][inside], color="C3", linewidth=0.9)
        rate.set_xlabel("time (ms)")
        rate.set_ylim(bottom=0)
        if column == 0:
            rate.set_ylabel("population rate (Hz)")
        else:
            raster.set_ylabel("")
    fig.suptitle("Brunel (2000), Fig. 8: N_E = 10,000, N_I = 2,500, J = 0.1 mV, D = 1.5 ms")
    fig.savefig(path, dpi=130)
    plt.close(fig)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("outdir", type=Path, help="folder for the figures")
    parser.add_argument("--quick", action="store_true", help="a 5 times smaller network for 0.3 s")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    args.outdir.mkdir(parents=True, exist_ok=True)
    scale, t_end = (0.2, 0.3) if args.quick else (1.0, 0.6)
    results = simulate(t_end, scale=scale, seed=args.seed)
    for name, stats in results.items():
        print(f"{name:8s} g = {stats['g']:<4g} nu_ext/nu_thr = {stats['eta']:<4g} rate {stats['rate']:6.2f} "
              f"Hz "
              f"(mean field {stats['theory']:6.2f} Hz)  ISI CV {stats['cv']:.2f}  population-rate CV "
              f"{stats['synchrony']:.2f}  ({stats['seconds']:.1f} s for {t_end:g} s)")
    plot(results, args.outdir / "brunel_regimes.png", (t_end - 0.1, t_end))


if __name__ == "__main__":
    main()
