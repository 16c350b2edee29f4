"""The project's main demo: spiking neurons, the rate networks built from their f-I curves, and
those networks run back as spiking networks.

Usage::

    python examples/compare_lif_sigmoid.py OUTDIR [--dataset digits|mnist1d] [--seeds N] [--quick]
    neurosim-demo OUTDIR ...          # the same, once the project is installed

In about a minute on two cores it

1. simulates Hodgkin-Huxley and LIF neurons: voltage traces, rasters, f-I curves (the HH curve
   measured by simulation with its firing onset, the LIF curve simulated and analytic);
2. trains the same MLP (64-100-10 on scikit-learn's digits, 40-100-10 on MNIST-1D) with sigmoid,
   tanh, ReLU, LIF-rate, soft-LIF and the measured HH rate curve as hidden activations, several
   seeds each, and tabulates test accuracy, epochs to converge and training time;
3. runs the LIF-rate and soft-LIF networks as spiking LIF networks (``ratenet.to_spiking``,
   tau_s = 5 ms, dt = 1 ms, 0.2 s per sample): spiking accuracy, accuracy against presentation
   time, and a small sweep over tau_s and dt;
4. writes every figure and a one-page ``summary.md`` to OUTDIR.

Everything is seeded: the same command gives the same table (apart from the timings).
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

import neurosim as ns

from . import datasets
from .activations import Activation, LIFRate, RateCurveActivation, ReLU, Sigmoid, SoftLIFRate, Tanh
from .network import MLP, Network
from .optimizers import Adam
from .spiking import to_spiking
from .train import EarlyStopping, fit

# One colour per activation, the same in every figure; the HH and LIF neuron figures use the
# colours of their rate activations.
COLORS = {
    "sigmoid": "#4c72b0",
    "tanh": "#64b5cd",
    "ReLU": "#55a868",
    "LIF rate": "#c44e52",
    "soft LIF": "#dd8452",
    "HH rate": "#8172b3",
}
HH_COLOR, LIF_COLOR = COLORS["HH rate"], COLORS["LIF rate"]
SPIKING = ("LIF rate", "soft LIF")
SWEPT = "soft LIF"             # the network whose tau_s and dt are swept


@dataclass(frozen=True)
class Settings:
    """Sizes of one demo run; :func:`default_settings` and :func:`quick_settings` make them."""

    n_seeds: int = 3
    hidden: int = 100
    max_epochs: int = 50
    patience: int = 6
    learning_rate: float = 5e-3
    batch_size: int = 64
    validation_split: float = 0.2
    # Within this fraction of its lowest validation loss a run counts as converged.
    converged_within: float = 0.05
    n_test: int | None = None                        # None: the whole test set
    tau_s: float = 0.005
    dt: float = 1e-3
    t_present: float = 0.2
    tau_s_sweep: tuple[float, ...] = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05)
    dt_sweep: tuple[float, ...] = (0.00025, 0.0005, 0.001, 0.002)
    n_time_points: int = 40
    # Measured HH f-I curve: forward Euler at 0.01 ms (within 0.4 % of a tight reference), rates
    # from the inter-spike intervals after a 0.2 s transient, onset bisected to 0.02 µA/cm².
    hh_currents: tuple[float, float, int] = (0.0, 60.0, 61)
    hh_t_end: float = 0.6
    hh_t_skip: float = 0.2
    hh_gain: float = 10.0                           # µA/cm² per unit of pre-activation
    neuron_t_end: float = 0.1
    raster_t_end: float = 0.5
    raster_neurons: int = 50
    dpi: int = 120


def default_settings(n_seeds: int = 3) -> Settings:
    return Settings(n_seeds=n_seeds)


def quick_settings(n_seeds: int = 1) -> Settings:
    """A few seconds: tiny training, a short spiking run on 60 test samples, coarse neurons."""
    return Settings(n_seeds=n_seeds, hidden=20, max_epochs=3, patience=2, n_test=60, t_present=0.05,
                    tau_s_sweep=(0.002, 0.005), dt_sweep=(0.001,), n_time_points=5,
                    hh_currents=(0.0, 30.0, 7), hh_t_end=0.15, hh_t_skip=0.05, neuron_t_end=0.03,
                    raster_t_end=0.05, raster_neurons=8, dpi=50)


# --------------------------------------------------------------------------- progress

class Progress:
    """One line per stage on a pipe or in a log; a tqdm bar over the steps on a terminal."""

    def __init__(self, total: int, enabled: bool | None = None, stream=None):
        self.stream = sys.stdout if stream is None else stream
        self.start = time.perf_counter()
        self.bar = None
        if enabled is None:
            enabled = bool(getattr(sys.stderr, "isatty", lambda: False)())
        if enabled:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total, unit="step", bar_format="{l_bar}{bar}| {n_fmt}/{total_fmt} "
                                                                 "[{elapsed}<{remaining}]")

    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    def stage(self, text: str) -> None:
        if self.bar is not None:
            self.bar.set_description(text)
        else:
            print(f"[{self.elapsed():6.1f} s] {text}", file=self.stream, flush=True)

    def step(self, n: int = 1) -> None:
        if self.bar is not None:
            self.bar.update(n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()

    def write(self, text: str) -> None:
        if self.bar is not None:
            self.bar.write(text)
        else:
            print(text, file=self.stream, flush=True)


# --------------------------------------------------------------------------- data and activations

@dataclass
class Data:
    name: str
    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    description: str


def load_data(name: str, n_test: int | None = None) -> Data:
    """The built-in data set ``name`` ("digits" or "mnist1d"), nothing downloaded."""
    if name == "digits":
        split = datasets.digits(test_size=0.2, seed=0)
        description = ("scikit-learn's 8x8 digits (1797 images, pixels scaled to [0, 1]), "
                       "stratified 80/20 train/test split")
    elif name == "mnist1d":
        split = datasets.mnist1d(n_samples=5000, seed=0)
        description = "MNIST-1D (5000 signals of 40 samples, generated locally), 80/20 split"
    else:
        raise ValueError(f"dataset must be 'digits' or 'mnist1d', got {name!r}")
    X_test, y_test = split.X_test, split.y_test
    if n_test is not None:
        X_test, y_test = X_test[:n_test], y_test[:n_test]
    return Data(name, split.X_train, split.y_train, X_test, y_test, description)


def hh_rate_curve(settings: Settings) -> ns.RateCurve:
    """The Hodgkin-Huxley f-I curve measured by simulation, with its onset bisected."""
    low, high, count = settings.hh_currents
    return ns.rate_curve("hh", np.linspace(low, high, count), t_end=settings.hh_t_end, dt=1e-5,
                         t_skip=settings.hh_t_skip, tol=0.02)


def make_activations(hh_curve: ns.RateCurve, settings: Settings) -> dict[str, Callable[[], Activation]]:
    """Factories of the six hidden activations, by display name.

    The LIF rates have threshold at z = 0 and output 1 at z = 1 (gain 1, bias 1, amplitude
    1/G(2)); the HH curve is shifted to its onset and scaled by ``hh_gain`` µA/cm² per unit of z,
    its output by 1/max rate.
    """
    return {
        "sigmoid": Sigmoid,
        "tanh": Tanh,
        "ReLU": ReLU,
        "LIF rate": LIFRate,
        "soft LIF": SoftLIFRate,
        "HH rate": lambda: RateCurveActivation(hh_curve, gain=settings.hh_gain),
    }


# --------------------------------------------------------------------------- training

class _KeepBest:
    """Callback: remember the parameters at the lowest validation loss (restored after fit)."""

    def __init__(self):
        self.best = math.inf
        self.parameters: list[np.ndarray] | None = None

    def on_epoch_end(self, net, epoch, logs):
        if logs["val_loss"] < self.best:
            self.best = logs["val_loss"]
            self.parameters = [p.copy() for p in net.parameters()]
        return False

    def restore(self, net: Network) -> None:
        for parameter, saved in zip(net.parameters(), self.parameters, strict=True):
            parameter[...] = saved


@dataclass
class TrainingRun:
    activation: str
    seed: int
    net: Network
    val_loss: list[float]
    val_accuracy: list[float]
    epochs_to_converge: int
    epochs_run: int
    seconds: float
    test_accuracy: float
    spiking_accuracy: float | None = None
    presentation_times: np.ndarray | None = None
    accuracy_over_time: np.ndarray | None = None


def epochs_to_converge(val_loss: Sequence[float], within: float) -> int:
    """First epoch (counted from 1) whose validation loss is within ``within`` (a fraction) of
    the lowest validation loss of the run."""
    losses = np.asarray(val_loss)
    return int(np.argmax(losses <= losses.min() * (1.0 + within))) + 1


def train_one(name: str, factory: Callable[[], Activation], seed: int, data: Data,
              settings: Settings) -> TrainingRun:
    """Train the MLP with hidden activation ``factory()``; the weights of the epoch with the lowest
    validation loss are kept."""
    # float32: a third faster than float64 here, with the same accuracies.
    net = MLP([data.X_train.shape[1], settings.hidden, 10], activation=factory(), output="softmax",
              seed=seed, dtype=np.float32)
    keep_best = _KeepBest()
    start = time.perf_counter()
    history = fit(net, data.X_train, data.y_train, epochs=settings.max_epochs,
                  batch_size=settings.batch_size, optimizer=Adam(lr=settings.learning_rate),
                  validation_split=settings.validation_split, seed=seed, progress=False,
                  callbacks=[keep_best, EarlyStopping("val_loss", patience=settings.patience)])
    seconds = time.perf_counter() - start
    keep_best.restore(net)
    return TrainingRun(name, seed, net, list(history.val_loss), list(history.val_accuracy),
                       epochs_to_converge(history.val_loss, settings.converged_within), len(history),
                       seconds, float(net.score(data.X_test, data.y_test)))


def run_spiking(run: TrainingRun, data: Data, settings: Settings) -> None:
    """Spiking accuracy of ``run.net`` and its accuracy against presentation time (in place)."""
    classifier = to_spiking(run.net, tau_s=settings.tau_s, n=0, dt=settings.dt)
    times, accuracy = classifier.accuracy_over_time(data.X_test, data.y_test, t_end=settings.t_present,
                                                    n_points=settings.n_time_points, progress=False)
    run.presentation_times, run.accuracy_over_time = times, accuracy
    # The last point averages over [t_settle, t_present), the window of classifier.score: no second run.
    run.spiking_accuracy = float(accuracy[-1])


def sweep_spiking(net: Network, data: Data, settings: Settings, step: Callable[[], None]) -> dict:
    """Accuracy against presentation time for each tau_s (at dt = settings.dt) and each dt (at
    tau_s = settings.tau_s), inputs as constant currents; and, when the inputs are >= 0, for each
    tau_s with the inputs as Poisson spike trains (200 Hz per unit). Returns
    ``{"tau_s": [(times, accuracy), ...], "dt": [...], "tau_s_poisson": [...] or None}``."""
    def curve(tau_s: float, dt: float, input: str = "current") -> tuple[np.ndarray, np.ndarray]:
        # Euler synapses need dt < 2 tau_s; where that fails the exact decay is used.
        method = "euler" if dt < 2 * tau_s else "exact"
        result = to_spiking(net, tau_s=tau_s, n=0, dt=dt, method=method, input=input).accuracy_over_time(
            data.X_test, data.y_test, t_end=settings.t_present, n_points=settings.n_time_points,
            progress=False, seed=0)
        step()
        return result

    poisson = None
    if np.all(data.X_test >= 0):
        poisson = [curve(tau_s, settings.dt, "spikes") for tau_s in settings.tau_s_sweep]
    return {"tau_s": [curve(tau_s, settings.dt) for tau_s in settings.tau_s_sweep],
            "dt": [curve(settings.tau_s, dt) for dt in settings.dt_sweep],
            "tau_s_poisson": poisson}


# --------------------------------------------------------------------------- figures

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
    ns.plot.voltage(hh, ax=axes[0, 0], labels=[f"I = {i:g} µA/cm²" for i in hh_currents], linewidth=1.1)
    for line, color in zip(axes[0, 0].get_lines()[:3], _shades(HH_COLOR, 3), strict=True):
        line.set_color(color)
    axes[0, 0].legend(fontsize="small", loc="upper center", ncols=3, frameon=False)
    axes[0, 0].set_ylim(-85, 70)
    axes[0, 0].set_ylabel("V (mV)")
    axes[0, 0].set_title("Hodgkin-Huxley: membrane potential", loc="left")
    lif_inputs = (0.9, 1.5, 3.0)
    lif = ns.simulate_lif(np.array(lif_inputs), t_end=t_end, dt=1e-4)
    ns.plot.voltage(lif, ax=axes[1, 0], threshold=1.0, labels=[f"v_in = {v:g}" for v in lif_inputs],
                    linewidth=1.1)
    for line, color in zip(axes[1, 0].get_lines()[:3], _shades(LIF_COLOR, 3), strict=True):
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
    """Validation loss and accuracy against epoch, every seed, converged epochs marked."""
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.6), layout="constrained")
    for name, group in runs.items():
        for index, run in enumerate(group):
            epochs = np.arange(1, len(run.val_loss) + 1)
            label = name if index == 0 else "_nolegend_"
            left.plot(epochs, run.val_loss, color=COLORS[name], linewidth=1.3, alpha=0.85, label=label)
            right.plot(epochs, run.val_accuracy, color=COLORS[name], linewidth=1.3, alpha=0.85)
            converged = run.epochs_to_converge - 1
            left.plot(epochs[converged], run.val_loss[converged], "o", color=COLORS[name], markersize=5,
                      markeredgecolor="white", zorder=3)
    left.set_yscale("log")
    left.set_ylabel("validation loss (cross-entropy)")
    left.set_title(f"validation loss; dots: converged (within {settings.converged_within:.0%} "
                   "of the run's minimum)", loc="left", fontsize="medium")
    right.set_ylabel("validation accuracy")
    right.set_title("validation accuracy", loc="left", fontsize="medium")
    low = min(min(r.val_accuracy) for group in runs.values() for r in group)
    right.set_ylim(max(0.0, min(0.8, low)), 1.0)
    for ax in (left, right):
        ax.set_xlabel("epoch")
        _tidy(ax)
    left.legend(frameon=False, fontsize="small", ncols=2)
    fig.suptitle(f"Training: Adam (lr {settings.learning_rate:g}), batches of {settings.batch_size}, "
                 f"early stopping after {settings.patience} epochs without improvement")
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


def _spiking_demo_network(net: Network, x: np.ndarray, settings: Settings, seed: int = 0):
    """One sample through the spiking twin of an LIF network, every population probed.

    Pixels in [0, 1] enter as Poisson spike trains at 200 Hz per unit (``input="spikes"``); inputs
    that can be negative (MNIST-1D) enter as constant currents. Returns the result, the spike
    probes, the output traces (n_outputs, n_t) and their times.
    """
    classifier = to_spiking(net, tau_s=settings.tau_s, n=0, dt=settings.dt,
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
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.8), layout="constrained", width_ratios=(0.55, 1.3, 1.3))
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
    ns.plot.network_raster(result, probes, ax=axes[1], colors=colors)
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


# --------------------------------------------------------------------------- table and summary

@dataclass
class Row:
    activation: str
    accuracy: tuple[float, float]
    spiking: tuple[float, float] | None
    epochs: tuple[float, float]
    seconds: float
    runs: list[TrainingRun] = field(repr=False, default_factory=list)


def _mean_sd(values) -> tuple[float, float]:
    values = np.asarray(values, dtype=float)
    return float(values.mean()), float(values.std(ddof=1)) if values.size > 1 else 0.0


def table_rows(runs: dict[str, list[TrainingRun]]) -> list[Row]:
    rows = []
    for name, group in runs.items():
        spiking = [r.spiking_accuracy for r in group if r.spiking_accuracy is not None]
        rows.append(Row(name, _mean_sd([r.test_accuracy for r in group]),
                        _mean_sd(spiking) if spiking else None,
                        _mean_sd([r.epochs_to_converge for r in group]),
                        float(np.mean([r.seconds for r in group])), group))
    return rows


def format_table(rows: list[Row], markdown: bool) -> str:
    """The results table, as Markdown or as aligned plain text."""
    header = ["hidden activation", "test accuracy (rate)", "test accuracy (spiking)",
              "epochs to converge", "training time (s)"]
    body = []
    for row in rows:
        spiking = "–" if row.spiking is None else f"{row.spiking[0]:.3f} ± {row.spiking[1]:.3f}"
        body.append([row.activation, f"{row.accuracy[0]:.3f} ± {row.accuracy[1]:.3f}", spiking,
                     f"{row.epochs[0]:.1f} ± {row.epochs[1]:.1f}", f"{row.seconds:.2f}"])
    if markdown:
        lines = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] + ["---:"] * 4) + "|"]
        lines += ["| " + " | ".join(cells) + " |" for cells in body]
        return "\n".join(lines)
    widths = [max(len(r[i]) for r in [header, *body]) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) if i == 0 else cell.rjust(w)
                       for i, (cell, w) in enumerate(zip(cells, widths, strict=True)))
             for cells in [header, *body]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _accuracy_at(times: np.ndarray, accuracy: np.ndarray, t: float) -> float:
    """Accuracy at the presentation time nearest to ``t``."""
    return float(accuracy[np.argmin(np.abs(times - t))])


def _sweep_table(sweep: dict, settings: Settings) -> str:
    """The sweep as a Markdown table: accuracy after 20 ms, 50 ms and the whole presentation."""
    marks = sorted({min(0.02, settings.t_present), min(0.05, settings.t_present), settings.t_present})
    lines = ["| input | τs (ms) | dt (ms) | " + " | ".join(f"after {t * 1e3:g} ms" for t in marks) + " |",
             "|---|---:|---:|" + "---:|" * len(marks)]
    cases = [("tau_s", "currents", ((tau, settings.dt) for tau in settings.tau_s_sweep)),
             ("dt", "currents", ((settings.tau_s, dt) for dt in settings.dt_sweep)),
             ("tau_s_poisson", "Poisson spikes", ((tau, settings.dt) for tau in settings.tau_s_sweep))]
    listed = set()
    for key, source, pairs in cases:
        if sweep.get(key) is None:
            continue
        for (times, accuracy), (tau_s, dt) in zip(sweep[key], pairs, strict=True):
            if (source, tau_s, dt) in listed:      # the default (tau_s, dt) is in both sweeps
                continue
            listed.add((source, tau_s, dt))
            cells = " | ".join(f"{_accuracy_at(times, accuracy, t):.3f}" for t in marks)
            lines.append(f"| {source} | {tau_s * 1e3:g} | {dt * 1e3:g} | {cells} |")
    return "\n".join(lines)


def _spiking_loss(rows: list[Row]) -> str:
    """Per LIF network, its spiking accuracy minus its rate accuracy, in points."""
    parts = []
    for row in rows:
        differences = [100 * (r.spiking_accuracy - r.test_accuracy) for r in row.runs
                       if r.spiking_accuracy is not None]
        if differences:
            parts.append(f"{row.activation}: " + ", ".join(f"{d:+.1f}" for d in differences))
    return "; ".join(parts)


def write_summary(path: Path, data: Data, settings: Settings, rows: list[Row], figures: dict[str, str],
                  hh_curve: ns.RateCurve, sweep: dict, command: str, total_seconds: float) -> None:
    sizes = f"{data.X_train.shape[1]}-{settings.hidden}-10"
    capped = [f"{row.activation} {sum(r.epochs_run == settings.max_epochs for r in row.runs)}"
              for row in rows if any(r.epochs_run == settings.max_epochs for r in row.runs)]
    capped_note = ("Runs that reached the epoch cap without early stopping (their count is then a lower "
                   f"bound): {', '.join(capped)}." if capped else "Every run stopped early.")
    runs_rate = next(row.runs[0].test_accuracy for row in rows if row.activation == SWEPT)
    onset = "no onset found" if hh_curve.onset is None else f"onset {hh_curve.onset:.2f} µA/cm²"
    text = f"""# LIF rates vs sigmoid: spiking neurons, rate networks, and back

`{command}` — {total_seconds:.0f} s in all.

**Data**: {data.description}; {data.X_train.shape[0]} training samples (20 % of them held out for
validation), {data.X_test.shape[0]} test samples.
**Network**: MLP {sizes} in float32, softmax output, Glorot initialisation,
Adam (lr {settings.learning_rate:g}), batches of {settings.batch_size}, at most {settings.max_epochs}
epochs with early stopping after {settings.patience} epochs without a lower validation loss; the
weights of the epoch with the lowest validation loss are kept. {settings.n_seeds} seed(s) per
activation (the seed sets the initial weights, the validation split and the shuffling).

{format_table(rows, markdown=True)}

- *test accuracy*: mean ± sd over seeds, on the test set.
- *spiking*: the same network run as LIF neurons (`ratenet.to_spiking`, τs = {settings.tau_s * 1e3:g} ms
  exponential synapses, dt = {settings.dt * 1e3:g} ms, each sample presented as constant input currents
  for {settings.t_present * 1e3:g} ms, outputs averaged after the first
  {min(0.05, settings.t_present / 4) * 1e3:g} ms).
- *epochs to converge*: the first epoch whose validation loss is within {settings.converged_within:.0%}
  of the lowest validation loss of that run.
  {capped_note}
- *training time*: wall-clock seconds per run of `ratenet.fit` (all epochs, early stopping included) on
  this machine; it varies from run to run, the other columns do not.
- *HH rate*: the Hodgkin-Huxley f-I curve measured by simulation (forward Euler, dt = 0.01 ms,
  {settings.hh_currents[2]} currents from {settings.hh_currents[0]:g} to {settings.hh_currents[1]:g} µA/cm²,
  rates from inter-spike intervals after {settings.hh_t_skip * 1e3:g} ms, {onset}) as the activation
  `RateCurveActivation(curve, gain={settings.hh_gain:g})`.

Spiking minus rate accuracy of each network (accuracy points, one per seed): {_spiking_loss(rows)}.

Spiking accuracy of the {SWEPT} network (seed 0, rate accuracy
{runs_rate:.3f}) against presentation time, τs and dt; Poisson inputs fire at 200 Hz per unit pixel:

{_sweep_table(sweep, settings)}

## Single neurons

![neurons]({figures['neurons']})

## The activations

![activations]({figures['activations']})

## Training

![training]({figures['training']})

![accuracy]({figures['accuracy']})

## Spiking networks

![spiking network]({figures['spiking_network']})

![accuracy vs presentation time]({figures['spiking_time']})

![accuracy vs tau_s and dt]({figures['spiking_sweep']})
"""
    path.write_text(text, encoding="utf-8")


# --------------------------------------------------------------------------- main

def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="neurosim-demo",
        description="Spiking neurons, rate networks trained with their f-I curves (LIF, soft LIF, HH) "
                    "against sigmoid/tanh/ReLU, and the LIF networks run back as spiking networks. "
                    "Writes figures and summary.md to OUTDIR.")
    parser.add_argument("outdir", type=Path, nargs="?", default=Path("demo-output"),
                        help="folder for the figures and summary.md (default: demo-output)")
    parser.add_argument("--dataset", choices=("digits", "mnist1d"), default="digits",
                        help="built-in data set (default: digits; nothing is downloaded)")
    parser.add_argument("--seeds", type=int, default=None,
                        help="seeds per activation (default 3, or 1 with --quick)")
    parser.add_argument("--quick", action="store_true",
                        help="a tiny configuration that runs in seconds (for tests; numbers not meaningful)")
    parser.add_argument("--progress", choices=("auto", "bar", "lines"), default="auto",
                        help="a progress bar (on a terminal by default) or one line per stage")
    args = parser.parse_args(argv)
    if args.seeds is not None and args.seeds < 1:
        parser.error(f"--seeds must be >= 1, got {args.seeds}")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run the demo; ``argv`` as on the command line (default ``sys.argv[1:]``)."""
    import matplotlib

    matplotlib.use("Agg")
    args = parse_args(argv)
    settings = (quick_settings if args.quick else default_settings)(
        *(() if args.seeds is None else (args.seeds,)))
    outdir: Path = args.outdir
    outdir.mkdir(parents=True, exist_ok=True)
    program = sys.argv[0] if argv is None else "neurosim-demo"
    program = f"python {program}" if program.endswith(".py") else "neurosim-demo"
    command = " ".join([program, *(sys.argv[1:] if argv is None else list(argv))])

    n_sweep = 2 * len(settings.tau_s_sweep) + len(settings.dt_sweep)
    total_steps = 2 + 6 * settings.n_seeds + 2 * settings.n_seeds + n_sweep + 6
    progress = Progress(total_steps, enabled={"auto": None, "bar": True, "lines": False}[args.progress])
    figures = {key: f"{key}.png" for key in ("neurons", "activations", "training", "accuracy",
                                             "spiking_network", "spiking_time", "spiking_sweep")}
    try:
        progress.stage("measuring the Hodgkin-Huxley f-I curve")
        hh_curve = hh_rate_curve(settings)
        progress.step()
        progress.stage("simulating HH and LIF neurons (voltage, rasters, f-I curves)")
        figure_neurons(outdir / figures["neurons"], hh_curve, settings)
        progress.step()

        data = load_data(args.dataset, settings.n_test)
        activations = make_activations(hh_curve, settings)
        figure_activations(outdir / figures["activations"], activations, settings)
        progress.step()
        progress.stage(f"training {len(activations)} activations x {settings.n_seeds} seed(s) on "
                       f"{args.dataset}")
        runs: dict[str, list[TrainingRun]] = {}
        for name, factory in activations.items():
            for seed in range(settings.n_seeds):
                if progress.bar is not None:
                    progress.stage(f"training {name}, seed {seed}")
                runs.setdefault(name, []).append(train_one(name, factory, seed, data, settings))
                progress.step()
        figure_training(outdir / figures["training"], runs, settings)
        progress.step()

        progress.stage(f"running the LIF networks as spiking networks ({settings.t_present * 1e3:g} ms "
                       "per sample)")
        for name in SPIKING:
            for run in runs[name]:
                run_spiking(run, data, settings)
                progress.step()
        progress.stage(f"sweeping τs and dt ({SWEPT} network, seed 0)")
        sweep = sweep_spiking(runs[SWEPT][0].net, data, settings, progress.step)
        progress.stage("drawing the spiking figures and writing summary.md")
        figure_accuracy(outdir / figures["accuracy"], runs, settings)
        figure_spiking_network(outdir / figures["spiking_network"], runs["soft LIF"][0], data, settings)
        figure_spiking_time(outdir / figures["spiking_time"], runs, settings)
        figure_sweep(outdir / figures["spiking_sweep"], SWEPT, sweep, runs[SWEPT][0].test_accuracy,
                     data.X_test.shape[0], settings)
        progress.step(3)
        rows = table_rows(runs)
        total = progress.elapsed()
        write_summary(outdir / "summary.md", data, settings, rows, figures, hh_curve, sweep, command, total)
        progress.step()
    finally:
        progress.close()
    print()
    print(format_table(rows, markdown=False))
    print(f"\nepochs to converge: first epoch within {settings.converged_within:.0%} of the run's lowest "
          "validation loss; spiking: tau_s = "
          f"{settings.tau_s * 1e3:g} ms, dt = {settings.dt * 1e3:g} ms, {settings.t_present * 1e3:g} ms per "
          "sample")
    print(f"wrote {len(figures)} figures and summary.md to {outdir}/ in {total:.1f} s")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
