"""The demo's figures; each function draws one figure and writes it to ``path``."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

import neurosim as ns
import ratenet as rn

from .experiment import Data, TrainingRun
from .settings import COLORS, HH_COLOR, LIF_COLOR, SPIKING, Settings

# Voltage traces of one panel told apart by hue (Okabe-Ito: distinct for colour-blind readers too):
# weakest input, middle, strongest.
TRACE_COLORS = ("#0072B2", "#E69F00", "#009E73")


def _tidy(ax) -> None:
    ax.grid(True, color="0.88", linewidth=0.6)
    ax.set_axisbelow(True)
    ax.spines[["top", "right"]].set_visible(False)


def _shades(color: str, n: int) -> list:
    """``n`` shades of ``color``: from a light tint through the colour to a dark shade."""
    from matplotlib.colors import to_rgb

    base = np.array(to_rgb(color))
    if n <= 3:
        return [tuple(1 - (1 - base) * f) for f in np.linspace(0.45, 1.0, n)]
    light = [1 - (1 - base) * f for f in (0.35, 0.6)]
    dark = [base * f for f in np.linspace(1.0, 0.45, n - 2)]
    return [tuple(c) for c in light + dark]


def _label_rows_by_input(ax, inputs: np.ndarray, ticks: Sequence[float]) -> None:
    """Label a raster's rows (one neuron per input, increasing upwards) with input values."""
    rows = np.arange(inputs.size)
    ax.set_yticks(np.interp(ticks, inputs, rows), [f"{t:g}" for t in ticks])


def figure_neurons(path: Path, hh_curve: ns.RateCurve, settings: Settings) -> None:
    """HH and LIF: voltage traces, rasters over a ramp of inputs, f-I curves."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 3, figsize=(15, 8), layout="constrained", width_ratios=(1.2, 1.2, 1))
    t_end = settings.neuron_t_end
    # Voltage traces
    hh_currents = (4.0, 8.0, 20.0)
    hh = ns.simulate_hh(hh_currents, t_end=t_end, dt=1e-5, record_every=5)
    ns.plot.voltage(hh, ax=axes[0, 0], labels=[f"I = {i:g} µA/cm²" for i in hh_currents], linewidth=1.3)
    for line, color in zip(axes[0, 0].get_lines()[:3], TRACE_COLORS, strict=True):
        line.set_color(color)
    axes[0, 0].legend(fontsize="small", loc="upper center", ncols=3, frameon=False)
    axes[0, 0].set_ylim(-85, 70)
    axes[0, 0].set_ylabel("V (mV)")
    axes[0, 0].set_title("Hodgkin-Huxley: membrane potential", loc="left")
    lif_inputs = (0.9, 1.5, 3.0)
    lif = ns.simulate_lif(np.array(lif_inputs), t_end=t_end, dt=1e-4)
    ns.plot.voltage(lif, ax=axes[1, 0], threshold=1.0, labels=[f"v_in = {v:g}" for v in lif_inputs],
                    linewidth=1.3)
    for line, color in zip(axes[1, 0].get_lines()[:3], TRACE_COLORS, strict=True):
        line.set_color(color)
    axes[1, 0].legend(fontsize="small", loc="upper center", ncols=4, frameon=False)
    axes[1, 0].set_ylim(-0.05, 1.35)
    axes[1, 0].set_title("LIF (τm = 20 ms, τref = 2 ms): normalized potential", loc="left")

    # Rasters over a ramp of inputs
    n = settings.raster_neurons
    hh_ramp = np.linspace(0.0, 20.0, n)
    hh_spikes = ns.simulate_hh(hh_ramp, t_end=settings.raster_t_end, dt=1e-5, record_v=False)
    ns.plot.raster(hh_spikes, ax=axes[0, 1], color=HH_COLOR)
    _label_rows_by_input(axes[0, 1], hh_ramp, (0, 5, 10, 15, 20))
    axes[0, 1].set_ylabel("neuron's input current (µA/cm²)")
    axes[0, 1].set_title(f"{n} HH neurons, constant currents", loc="left")
    lif_ramp = np.linspace(0.0, 4.0, n)
    lif_spikes = ns.simulate_lif(lif_ramp, t_end=settings.raster_t_end, dt=1e-3, record_v=False)
    ns.plot.raster(lif_spikes, ax=axes[1, 1], color=LIF_COLOR)
    _label_rows_by_input(axes[1, 1], lif_ramp, (0, 1, 2, 3, 4))
    axes[1, 1].set_ylabel("neuron's input v_in (threshold 1)")
    axes[1, 1].set_title(f"{n} LIF neurons, constant inputs (dt = 1 ms)", loc="left")

    # f-I curves
    ax = axes[0, 2]
    ns.plot.rate_curve(hh_curve, ax=ax, color=HH_COLOR, n_points=2000,
                       label="measured (forward Euler, 0.01 ms)")
    onset = hh_curve.onset
    if onset is not None:
        ax.axvline(onset, color="0.4", linestyle=":", linewidth=1)
        ax.annotate(f"onset {onset:.2f} µA/cm²\njump to {float(hh_curve(onset + 1e-6)):.0f} Hz",
                    xy=(onset, float(hh_curve(onset + 1e-6))), xytext=(onset + 8, 25),
                    fontsize="small", arrowprops=dict(arrowstyle="->", color="0.3"))
    ax.set_title(f"HH f-I curve, measured at {hh_curve.inputs.size} currents", loc="left")
    ax = axes[1, 2]
    inputs = np.linspace(0.0, 5.0, 41)
    simulated = ns.rate_curve("lif", inputs, t_end=1.0, dt=1e-3, t_skip=0.1, label="simulated (dt = 1 ms)")
    analytic = ns.rate_curve("lif", inputs, analytic=True, label="analytic G(v_in)")
    ns.plot.rate_curve(simulated, ax=ax, analytic=analytic, color=LIF_COLOR)
    ax.set_title("LIF f-I curve", loc="left")
    fig.suptitle("Single neurons: what the rate activations are made of", fontsize="x-large")
    fig.savefig(path, dpi=settings.dpi)
    plt.close(fig)


def figure_activations(path: Path, activations: dict, settings: Settings) -> None:
    """Every hidden activation f(z) and its slope f'(z), in its colour."""
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2), layout="constrained")
    z = np.linspace(-3, 3, 1201)
    for name, factory in activations.items():
        activation = factory()
        style = dict(color=COLORS[name], linewidth=1.8, label=name)
        if name == "soft LIF":      # it hides the LIF rate everywhere but near z = 0
            style.update(linestyle=(0, (4, 2)), zorder=3)
        left.plot(z, activation(z), **style)
        right.plot(z, activation.derivative(z), **style)
    left.set_title("hidden activation h = f(z)", loc="left")
    right.set_title("slope f'(z) used by backprop", loc="left")
    right.set_ylim(-0.1, 3.0)
    for ax in (left, right):
        ax.set_xlabel("pre-activation z")
        ax.set_xlim(z[0], z[-1])
        _tidy(ax)
    left.set_ylabel("h")
    right.set_ylabel("f'(z)")
    left.legend(frameon=False, fontsize="small", loc="upper left")
    fig.suptitle(f"The six hidden activations (LIF rates: output 1 at z = 1; HH: onset at z = 0, "
                 f"{settings.hh_gain:g} µA/cm² per unit z)")
    fig.savefig(path, dpi=settings.dpi)
    plt.close(fig)


def figure_training(path: Path, runs: dict[str, list[TrainingRun]], settings: Settings) -> None:
    """Validation loss against epoch: one small panel per activation, its seeds in its colour over
    the other activations' runs in grey, the converged epochs marked and the result written in."""
    import matplotlib.pyplot as plt

    names = list(runs)
    n_columns = 3
    n_rows = math.ceil(len(names) / n_columns)
    fig, axes = plt.subplots(n_rows, n_columns, figsize=(12, 3.1 * n_rows + 0.6), sharex=True, sharey=True,
                             layout="constrained", squeeze=False)
    for ax, name in zip(axes.flat, names, strict=False):
        for other in names:              # the context: every other run, quietly
            if other != name:
                for run in runs[other]:
                    ax.plot(np.arange(1, len(run.val_loss) + 1), run.val_loss, color="0.82", linewidth=0.8)
        for run in runs[name]:
            epochs = np.arange(1, len(run.val_loss) + 1)
            ax.plot(epochs, run.val_loss, color=COLORS[name], linewidth=1.8)
            converged = run.epochs_to_converge - 1
            ax.plot(epochs[converged], run.val_loss[converged], "o", color=COLORS[name], markersize=6,
                    markeredgecolor="white", zorder=3)
        accuracy = np.mean([run.test_accuracy for run in runs[name]])
        converged = np.mean([run.epochs_to_converge for run in runs[name]])
        ax.set_title(name, loc="left", color=COLORS[name], fontweight="bold")
        ax.text(0.97, 0.93, f"test accuracy {accuracy:.1%}\nconverged by epoch {converged:.0f}",
                transform=ax.transAxes, ha="right", va="top", fontsize="small", color="0.25")
        ax.set_yscale("log")
        _tidy(ax)
    for ax in axes.flat[len(names):]:
        ax.set_visible(False)
    for ax in axes[-1]:
        ax.set_xlabel("epoch")
    for ax in axes[:, 0]:
        ax.set_ylabel("validation loss")
    fig.suptitle(f"Training each hidden activation ({len(next(iter(runs.values())))} seed(s) each, in "
                 "colour; the other activations in grey). Dots: the epoch a run converged "
                 f"(within {settings.converged_within:.0%} of its lowest loss)", fontsize="medium")
    fig.savefig(path, dpi=settings.dpi)
    plt.close(fig)


def figure_accuracy(path: Path, runs: dict[str, list[TrainingRun]], settings: Settings) -> None:
    """Test accuracy per activation (each seed, mean ± sd), rate and spiking."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9.5, 4.2), layout="constrained")
    names = list(runs)
    rows = np.arange(len(names))[::-1]
    for row, name in zip(rows, names, strict=True):
        rate = np.array([r.test_accuracy for r in runs[name]])
        ax.errorbar(rate.mean(), row + 0.12, xerr=rate.std(ddof=1) if rate.size > 1 else None, fmt="o",
                    color=COLORS[name], markersize=7, capsize=0, elinewidth=3, alpha=0.9)
        ax.plot(rate, np.full(rate.size, row + 0.12), "|", color=COLORS[name], markersize=13,
                markeredgewidth=1.5, alpha=0.7)
        spiking = [r.spiking_accuracy for r in runs[name] if r.spiking_accuracy is not None]
        if spiking:
            spiking = np.array(spiking)
            ax.errorbar(spiking.mean(), row - 0.18, xerr=spiking.std(ddof=1) if spiking.size > 1 else None,
                        fmt="s", color=COLORS[name], markerfacecolor="white", markersize=7, capsize=0,
                        elinewidth=3, markeredgewidth=1.5, alpha=0.9)
            ax.plot(spiking, np.full(spiking.size, row - 0.18), "|", color=COLORS[name], markersize=13,
                    markeredgewidth=1.5, alpha=0.7)
    ax.set_yticks(rows, names)
    for tick, name in zip(ax.get_yticklabels(), names, strict=True):
        tick.set_color(COLORS[name])
    from matplotlib.lines import Line2D

    ax.legend([Line2D([], [], marker="o", color="0.3", linestyle="none"),
               Line2D([], [], marker="s", color="0.3", markerfacecolor="white", linestyle="none"),
               Line2D([], [], marker="|", color="0.3", linestyle="none", markersize=10)],
              ["rate network (mean ± sd)", f"spiking LIF network, {settings.t_present * 1e3:g} ms",
               "single seeds"], frameon=False, fontsize="small", loc="upper left",
              bbox_to_anchor=(1.01, 1.0))
    from matplotlib.ticker import PercentFormatter

    ax.xaxis.set_major_formatter(PercentFormatter(1.0, decimals=1))
    ax.set_xlabel("test accuracy (axis zoomed to the results)")
    ax.set_ylim(-0.7, len(names) - 0.4)
    _tidy(ax)
    ax.grid(False, axis="y")
    ax.set_title(f"Test accuracy, {len(next(iter(runs.values())))} seed(s) per activation", loc="left")
    fig.savefig(path, dpi=settings.dpi)
    plt.close(fig)


def _spiking_demo_network(net: rn.Network, x: np.ndarray, settings: Settings, seed: int = 0):
    """One sample through the spiking twin of an LIF network, every population probed.

    Pixels in [0, 1] enter as Poisson spike trains at 200 Hz per unit (``input="spikes"``); inputs
    that can be negative (MNIST-1D) enter as constant currents. Returns the result, the spike
    probes, the output traces (n_outputs, n_t) and their times.
    """
    classifier = rn.to_spiking(net, ns.PSC(settings.tau_s), dt=settings.dt,
                               input="spikes" if np.all(x >= 0) else "current")
    network, populations = classifier.network(x[None, :], seed=seed)
    probes = [network.probe(population, "spikes") for population in populations]
    filtered = network.probe(populations[-1], "filtered", synapse=classifier.synapse)
    result = network.run(settings.t_present)
    return result, probes, classifier.readout(result[filtered]), result.times(filtered)


def figure_spiking_network(path: Path, run: TrainingRun, data: Data, settings: Settings) -> None:
    """One test sample: its input, the raster of every population, and the output traces with the
    rate network's logits dashed."""
    import matplotlib.pyplot as plt

    index = 0
    x, label = data.X_test[index], int(data.y_test[index])
    result, probes, outputs, times = _spiking_demo_network(run.net, x, settings)
    logits = run.net.forward(x[None, :])[0]
    fig, axes = plt.subplots(1, 3, figsize=(15, 5.6), layout="constrained", width_ratios=(0.55, 1.3, 1.3))
    if x.size == 64:
        axes[0].imshow(x.reshape(8, 8), cmap="gray_r", vmin=0, vmax=1)
        axes[0].set_xticks([])
        axes[0].set_yticks([])
    else:
        axes[0].plot(x, color="0.2")
        axes[0].set_xlabel("position")
        _tidy(axes[0])
    axes[0].set_title(f"test sample {index}: a {label}", loc="left")
    colors = ["0.45", COLORS[run.activation]][-len(probes):]
    ns.plot.network_raster(result, probes, ax=axes[1], colors=colors, marker_size=4.0)
    inputs = "pixels as Poisson spikes" if len(probes) > 1 else "inputs as constant currents"
    axes[1].set_title(f"spikes ({run.activation} network, seed {run.seed}; {inputs})", loc="left")
    # The true class in the network's colour, the nine others in grey.
    colors = [COLORS[run.activation] if d == label else "0.55" for d in range(outputs.shape[0])]
    ns.plot.filtered_traces(times, outputs, ax=axes[2], rate_prediction=logits,
                            labels=[f"class {d}" for d in range(outputs.shape[0])], colors=colors,
                            highlight=label, ylabel="output logit (from filtered spikes)")
    from matplotlib.lines import Line2D

    axes[2].legend([Line2D([], [], color=COLORS[run.activation], linewidth=2.2),
                    Line2D([], [], color="0.55", linewidth=1.0),
                    Line2D([], [], color="0.3", linestyle="--", linewidth=1.1)],
                   [f"class {label} (true)", "the 9 other classes", "rate network's logits"],
                   frameon=False, fontsize="small", loc="lower right", ncols=3)
    low, high = axes[2].get_ylim()
    axes[2].set_ylim(low - 0.12 * (high - low), high)
    axes[2].set_title(f"outputs: spiking (solid) vs rate network (dashed); τs = {settings.tau_s * 1e3:g} ms",
                      loc="left", fontsize="medium")
    decided = int(np.argmax(outputs[:, times >= min(0.05, settings.t_present / 4)].mean(axis=1)))
    fig.suptitle(f"The rate network run as spiking LIF neurons: decides {decided}, true label {label}")
    fig.savefig(path, dpi=settings.dpi)
    plt.close(fig)


def figure_spiking_time(path: Path, runs: dict[str, list[TrainingRun]], settings: Settings) -> None:
    """Accuracy against presentation time, mean ± sd over seeds, rate accuracy dashed."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 4.4), layout="constrained")
    for name in SPIKING:
        group = runs.get(name, [])
        if not group:
            continue
        times = group[0].presentation_times * 1e3
        curves = np.array([r.accuracy_over_time for r in group])
        mean = curves.mean(axis=0)
        ax.plot(times, mean, color=COLORS[name], linewidth=1.8, marker="o", markersize=3,
                label=f"{name}, spiking")
        if len(group) > 1:
            sd = curves.std(axis=0, ddof=1)
            ax.fill_between(times, mean - sd, mean + sd, color=COLORS[name], alpha=0.18, linewidth=0)
        rate = np.mean([r.test_accuracy for r in group])
        ax.axhline(rate, color=COLORS[name], linestyle="--", linewidth=1.1, label=f"{name}, rate network")
    ax.set_xlabel("presentation time per sample (ms)")
    ax.set_ylabel("test accuracy")
    ax.set_xlim(0, settings.t_present * 1e3)
    ax.set_ylim(top=1.0)
    ax.legend(frameon=False, fontsize="small", loc="lower right")
    _tidy(ax)
    ax.set_title(f"Spiking accuracy vs presentation time (τs = {settings.tau_s * 1e3:g} ms, "
                 f"dt = {settings.dt * 1e3:g} ms; band: ± sd over seeds)", loc="left", fontsize="medium")
    fig.savefig(path, dpi=settings.dpi)
    plt.close(fig)


def figure_sweep(path: Path, name: str, sweep: dict, rate_accuracy: float, n_test: int,
                 settings: Settings) -> None:
    """Test error against presentation time (log scale), one curve per tau_s and per dt; with
    Poisson inputs, one per tau_s again."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter

    panels = [("tau_s", "τs", settings.tau_s_sweep, f"currents in, dt = {settings.dt * 1e3:g} ms"),
              ("dt", "dt", settings.dt_sweep, f"currents in, τs = {settings.tau_s * 1e3:g} ms")]
    if sweep.get("tau_s_poisson") is not None:
        panels.append(("tau_s_poisson", "τs", settings.tau_s_sweep,
                       f"Poisson spikes in, dt = {settings.dt * 1e3:g} ms"))
    fig, axes = plt.subplots(1, len(panels), figsize=(5.2 * len(panels), 4.6), layout="constrained",
                             sharey=True)
    # Zero errors are drawn at half an error (the resolution of the test set), not at -inf.
    floor = 0.5 / n_test
    for ax, (key, symbol, values, fixed) in zip(np.atleast_1d(axes), panels, strict=True):
        for (times, accuracy), value, color in zip(sweep[key], values, _shades(COLORS[name], len(values)),
                                                  strict=True):
            error = np.maximum(1.0 - accuracy, floor)
            ax.plot(times * 1e3, error, color=color, linewidth=1.6, label=f"{symbol} = {value * 1e3:g} ms")
        ax.axhline(max(1.0 - rate_accuracy, floor), color="0.3", linestyle="--", linewidth=1.0,
                   label="rate network")
        ax.set_xlabel("presentation time per sample (ms)")
        ax.set_xlim(0, settings.t_present * 1e3)
        ax.set_yscale("log")
        ax.set_title(fixed, loc="left")
        ax.legend(frameon=False, fontsize="small", loc="upper right")
        _tidy(ax)
    first = np.atleast_1d(axes)[0]
    first.set_ylabel("spiking test error (log scale)")
    ticks = [t for t in (0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0) if t >= floor]
    first.set_yticks(ticks, [f"{t:.0%}" if t >= 0.01 else f"{t:.1%}" for t in ticks])
    first.yaxis.set_minor_formatter(FuncFormatter(lambda v, _: ""))
    first.set_ylim(top=1.0)
    fig.suptitle(f"{name} network (seed 0) run as LIF neurons: test error against presentation time")
    fig.savefig(path, dpi=settings.dpi)
    plt.close(fig)
