"""The round trip, whole: a neuron's rate curve -> a trained rate network -> the same network as spikes.

1. Measure the Hodgkin-Huxley neuron's f-I curve by simulation (onset bisected), beside the LIF
   rate, its soft version and the rate of an LIF neuron receiving noise (Siegert).
2. Train the same MLP with six hidden activations: sigmoid, ReLU, LIF rate, soft LIF, noisy LIF and
   the measured HH curve (several seeds).
3. Run every network that has a spiking twin as spikes (ReLU: integrate-and-fire neurons after
   data-based normalisation; the LIF rates: LIF neurons, the noisy one receiving its noise; HH
   curve: HH neurons at dt = 0.01 ms), each sample presented for 20, 50 and 200 ms.
4. Write the table of rate against spiking accuracy over seeds (``summary.md``, printed too) and
   the figures: the rate curves (``rate_curves.png``), accuracy per activation
   (``accuracy.png``), accuracy against presentation time (``accuracy_time.png``), and the
   conversion diagnostics of one network per neuron model (``diagnostics.png``).

    python examples/round_trip.py out/round_trip            # digits, 3 seeds (a few minutes)
    python examples/round_trip.py out/round_trip --quick    # seconds: tiny sizes, numbers meaningless
    python examples/round_trip.py out/rt --data mnist       # MNIST, downloaded once (11.6 MB)

Data: scikit-learn's bundled digits by default (no download); ``--data mnist1d`` generates
MNIST-1D locally; ``--data mnist`` and ``--data fashion-mnist`` download the IDX files on first use
(verified, cached; see ``ratenet.datasets.mnist``).
"""

import argparse
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

import neurosim as ns
import ratenet as rn

ACTIVATIONS = ("sigmoid", "ReLU", "LIF rate", "soft LIF", "noisy LIF", "HH curve")
COLORS = {"sigmoid": "0.45", "ReLU": "#8c6d31", "LIF rate": "#1f77b4", "soft LIF": "#17becf",
          "noisy LIF": "#9467bd", "HH curve": "#d62728"}
DATASETS = ("digits", "mnist1d", "mnist", "fashion-mnist")


@dataclass(frozen=True)
class Settings:
    """Sizes of one run; ``--quick`` shrinks them."""

    n_seeds: int = 3
    hidden: int = 100
    epochs: int = 60
    learning_rate: float = 1e-3
    batch_size: int = 32
    n_test: int | None = None                     # None: the whole test set
    presentations: tuple[float, ...] = (0.02, 0.05, 0.2)
    n_time_points: int = 40
    synapse: ns.PSC = field(default_factory=lambda: ns.PSC(0.005))
    # Measured over the inputs the trained network uses, negative ones included: the spiking twin
    # warns about inputs outside this range (forward Euler HH diverges below about -25 µA/cm²).
    hh_currents: tuple[float, float, int] = (-20.0, 60.0, 81)
    hh_t_end: float = 0.6
    hh_t_skip: float = 0.2
    hh_gain: float = 3.0                          # µA/cm² per unit of pre-activation
    noise: float = 0.1                            # NoisyLIFRate's sigma (threshold units)
    percentile: float = 99.9                      # ReLU normalisation
    n_normalize: int = 2000                       # training samples the ReLU scales are measured on
    dpi: int = 120


QUICK = Settings(n_seeds=1, hidden=16, epochs=3, n_test=40, presentations=(0.01, 0.02, 0.04),
                 n_time_points=4, hh_currents=(-20.0, 30.0, 11), hh_t_end=0.15, hh_t_skip=0.05,
                 n_normalize=200, dpi=50)


def load_data(name: str, seed: int = 0) -> rn.datasets.Split:
    if name == "digits":
        return rn.datasets.digits(seed=seed)
    if name == "mnist1d":
        return rn.datasets.mnist1d(n_samples=5000, seed=seed)
    if name == "mnist":
        return rn.datasets.mnist()
    if name == "fashion-mnist":
        return rn.datasets.fashion_mnist()
    raise ValueError(f"unknown data set {name!r}; choose one of {list(DATASETS)}")


def make_activation(name: str, curve: ns.RateCurve, settings: Settings) -> rn.Activation:
    """The hidden activation ``name``: the LIF rates with threshold at z = 0 (gain 1, bias 1), the HH
    curve shifted to its onset and scaled by ``hh_gain`` µA/cm² per unit of z."""
    factories = {
        "sigmoid": rn.Sigmoid,
        "ReLU": rn.ReLU,
        "LIF rate": rn.LIFRate,
        "soft LIF": lambda: rn.SoftLIFRate(sigma=0.02),
        "noisy LIF": lambda: rn.NoisyLIFRate(sigma=settings.noise),
        "HH curve": lambda: rn.RateCurveActivation(curve, gain=settings.hh_gain),
    }
    return factories[name]()


@dataclass
class Run:
    """One trained network and what its spiking twin did."""

    activation: str
    seed: int
    net: rn.Network
    rate_accuracy: float
    spiking: dict = field(default_factory=dict)          # presentation time (s) -> accuracy
    times: np.ndarray | None = None                      # accuracy against presentation time
    accuracy_curve: np.ndarray | None = None
    spiking_seconds: float = 0.0


def train(name: str, seed: int, data, curve, settings: Settings) -> Run:
    n_inputs, n_classes = data.X_train.shape[1], int(data.y_train.max()) + 1
    net = rn.MLP([n_inputs, settings.hidden, n_classes], activation=make_activation(name, curve, settings),
                 output="softmax", seed=seed)
    net.fit(data.X_train, data.y_train, epochs=settings.epochs, batch_size=settings.batch_size,
            optimizer=rn.Adam(lr=settings.learning_rate), progress=False)
    X_test, y_test = _test_set(data, settings)
    return Run(name, seed, net, float(net.score(X_test, y_test)))


def twin(run: Run, data, settings: Settings) -> rn.SpikingClassifier | None:
    """The spiking twin of a trained network, or None for an activation without one (sigmoid)."""
    if run.activation == "sigmoid":
        return None
    normalize_on = data.X_train[:settings.n_normalize] if run.activation == "ReLU" else None
    return rn.to_spiking(run.net, settings.synapse, normalize_on=normalize_on, percentile=settings.percentile)


def run_spiking(run: Run, data, settings: Settings, seed: int) -> None:
    """Accuracy at each presentation time (one run of the longest; see accuracy_curve)."""
    snet = twin(run, data, settings)
    if snet is None:
        return
    X_test, y_test = _test_set(data, settings)
    start = time.perf_counter()
    result = snet.run(X_test, max(settings.presentations), seed=seed)
    run.spiking_seconds = time.perf_counter() - start
    run.times, run.accuracy_curve = snet.accuracy_curve(result, y_test, settings.n_time_points)
    for t in settings.presentations:
        # Each presentation time is a run of its own length: the curve's point at t averages the
        # readout over [min(t_settle, t / 2), t), as a run of length t with its default window.
        index = int(np.argmin(np.abs(run.times - t)))
        run.spiking[t] = float(run.accuracy_curve[index])


def _test_set(data, settings: Settings):
    n = settings.n_test or data.X_test.shape[0]
    return data.X_test[:n], data.y_test[:n]


# --------------------------------------------------------------------------- figures

def figure_rate_curves(path: Path, curve: ns.RateCurve, settings: Settings) -> None:
    """Left: the measured HH f-I curve. Right: the LIF family against normalized input."""
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4), layout="constrained")
    ns.plot.rate_curve(curve, ax=left, color=COLORS["HH curve"], n_points=2000)
    left.set_title(f"Hodgkin-Huxley, measured (onset {curve.onset:.2f} µA/cm²)", loc="left")
    v = np.linspace(0, 4, 801)
    right.plot(v, ns.lif_rate(v), color=COLORS["LIF rate"], label="LIF rate")
    soft = rn.SoftLIFRate(sigma=0.02)
    right.plot(v, soft(v - 1) / soft.amplitude, color=COLORS["soft LIF"], linestyle="--",
               label="soft LIF (σ = 0.02)")
    right.plot(v, ns.lif_rate_noisy(v, settings.noise), color=COLORS["noisy LIF"],
               label=f"LIF with noise σ = {settings.noise:g} (Siegert)")
    right.set_xlabel("normalized input v_in (threshold 1)")
    right.set_ylabel("rate (Hz)")
    right.set_title("LIF rates (τm = 20 ms, τref = 2 ms)", loc="left")
    right.legend(frameon=False)
    for ax in (left, right):
        _tidy(ax)
    fig.savefig(path, dpi=settings.dpi)
    plt.close(fig)


def figure_accuracy(path: Path, runs: dict, settings: Settings) -> None:
    """Rate accuracy and spiking accuracy at each presentation time, per activation and seed."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 4.2), layout="constrained")
    columns = ["rate", *[f"{t * 1e3:g} ms" for t in settings.presentations]]
    for row, name in enumerate(ACTIVATIONS):
        group = runs[name]
        values = [[r.rate_accuracy for r in group]] + [[r.spiking.get(t, np.nan) for r in group]
                                                        for t in settings.presentations]
        for column, seeds in enumerate(values):
            x = column + (row - (len(ACTIVATIONS) - 1) / 2) * 0.12
            seeds = np.array(seeds)
            if np.all(np.isnan(seeds)):
                continue
            ax.plot(np.full(seeds.size, x), seeds, "o", color=COLORS[name], markersize=4, alpha=0.7,
                    label=name if column == 0 else None)
            ax.plot([x - 0.05, x + 0.05], [np.mean(seeds)] * 2, color=COLORS[name], linewidth=2)
    ax.set_xticks(range(len(columns)), columns)
    ax.set_xlabel("rate network, then its spiking twin at each presentation time")
    ax.set_ylabel("test accuracy")
    ax.set_title("Rate against spiking accuracy (dots: seeds, bars: means; sigmoid has no twin)", loc="left")
    ax.legend(frameon=False, ncols=3, fontsize="small", loc="lower right")
    _tidy(ax)
    fig.savefig(path, dpi=settings.dpi)
    plt.close(fig)


def figure_time(path: Path, runs: dict, settings: Settings) -> None:
    """Spiking accuracy against presentation time, mean over seeds, rate accuracy dashed."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4.5), layout="constrained")
    for name in ACTIVATIONS:
        group = [r for r in runs[name] if r.times is not None]
        if not group:
            continue
        curves = np.array([r.accuracy_curve for r in group])
        ax.plot(group[0].times * 1e3, curves.mean(axis=0), color=COLORS[name], label=name)
        ax.axhline(np.mean([r.rate_accuracy for r in group]), color=COLORS[name], linestyle="--",
                   linewidth=0.8, alpha=0.7)
    for t in settings.presentations:
        ax.axvline(t * 1e3, color="0.8", linewidth=0.8, zorder=0)
    ax.set_xscale("log")
    ax.set_xticks([t * 1e3 for t in settings.presentations] + [5, 10],
                  [f"{t * 1e3:g}" for t in settings.presentations] + ["5", "10"])
    ax.set_xlabel("presentation time (ms, log scale)")
    ax.set_ylabel("spiking test accuracy (mean over seeds)")
    ax.set_title("Accuracy against presentation time (dashed: the rate network)", loc="left")
    ax.legend(frameon=False, fontsize="small", loc="lower right")
    _tidy(ax)
    fig.savefig(path, dpi=settings.dpi)
    plt.close(fig)


def figure_diagnosis(path: Path, diagnoses: dict, settings: Settings) -> None:
    """Per network (one seed): spiking against rate-network rates, and the rate histogram."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, len(diagnoses), figsize=(3.6 * len(diagnoses), 6.6), layout="constrained",
                             squeeze=False)
    for column, (name, diagnosis) in enumerate(diagnoses.items()):
        rn.plot_rate_scatter(diagnosis, 0, ax=axes[0, column], color=COLORS[name])
        axes[0, column].set_title(f"{name}: r = {diagnosis.layers[0].correlation:.3f}", loc="left",
                                  fontsize="medium")
        rn.plot_rate_histogram(diagnosis, 0, ax=axes[1, column], color=COLORS[name])
        axes[1, column].set_title(f"{diagnosis.layers[0].silent_units} silent, "
                                  f"{diagnosis.layers[0].saturated_units} saturated", loc="left",
                                  fontsize="medium")
        if column:
            axes[0, column].set_ylabel("")
            axes[1, column].set_ylabel("")
    fig.suptitle("Conversion diagnostics: does each spiking neuron fire at its rate? (test samples)")
    fig.savefig(path, dpi=settings.dpi)
    plt.close(fig)


def _tidy(ax) -> None:
    ax.grid(True, color="0.9", linewidth=0.6)
    ax.set_axisbelow(True)
    ax.spines[["top", "right"]].set_visible(False)


# --------------------------------------------------------------------------- table

def table_rows(runs: dict, settings: Settings) -> list[list[str]]:
    rows = []
    for name in ACTIVATIONS:
        group = runs[name]
        cells = [name, _mean_sd([r.rate_accuracy for r in group])]
        for t in settings.presentations:
            values = [r.spiking[t] for r in group if t in r.spiking]
            cells.append(_mean_sd(values) if values else "–")
        neuron = {"sigmoid": "–", "ReLU": "IF (reset by subtraction)", "HH curve": "Hodgkin-Huxley",
                  "noisy LIF": f"LIF + noise σ={settings.noise:g}"}.get(name, "LIF")
        seconds = [r.spiking_seconds for r in group if r.times is not None]
        cells += [neuron, f"{np.mean(seconds):.1f}" if seconds else "–"]
        rows.append(cells)
    return rows


def _mean_sd(values) -> str:
    values = np.asarray(values, dtype=float)
    sd = values.std(ddof=1) if values.size > 1 else 0.0
    return f"{values.mean():.3f} ± {sd:.3f}"


def write_summary(outdir: Path, runs: dict, curve: ns.RateCurve, settings: Settings, data_name: str,
                  per_seed: list[str]) -> str:
    header = ["hidden activation", "rate", *[f"spiking {t * 1e3:g} ms" for t in settings.presentations],
              "spiking neurons", "spiking run (s)"]
    rows = table_rows(runs, settings)
    markdown = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    markdown += ["| " + " | ".join(row) + " |" for row in rows]
    lines = [f"# The round trip on {data_name}", "",
             f"{settings.n_seeds} seed(s); MLP with {settings.hidden} hidden units, Adam "
             f"(lr {settings.learning_rate:g}), {settings.epochs} epochs; test accuracy on "
             f"{settings.n_test or 'all'} test samples, mean ± sd over seeds. Spiking twins: synapse "
             f"{settings.synapse!r}, dt = 1 ms (HH: 0.01 ms), first layer started halfway through the "
             "cycle its input drives, output read from the last hidden layer's spike counts. HH curve: "
             f"{curve!r}.", "", *markdown, "", "Per seed:", "", *per_seed, "",
             "![rate curves](rate_curves.png)", "", "![accuracy](accuracy.png)", "",
             "![accuracy against presentation time](accuracy_time.png)", "",
             "![conversion diagnostics](diagnostics.png)", ""]
    (outdir / "summary.md").write_text("\n".join(lines), encoding="utf-8")
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    return "\n".join("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True))
                     for row in [header, *rows])


# --------------------------------------------------------------------------- main

def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("outdir", type=Path, help="folder for the figures and summary.md")
    parser.add_argument("--quick", action="store_true", help="tiny sizes, for a smoke test (seconds)")
    parser.add_argument("--data", choices=DATASETS, default="digits")
    parser.add_argument("--seeds", type=int, default=None, help="number of seeds (default 3, quick 1)")
    args = parser.parse_args(argv)
    if args.seeds is not None and args.seeds < 1:
        parser.error("--seeds must be >= 1")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    settings = QUICK if args.quick else Settings()
    if args.seeds is not None:
        settings = replace(settings, n_seeds=args.seeds)
    outdir = args.outdir
    outdir.mkdir(parents=True, exist_ok=True)
    data = load_data(args.data)
    low, high, count = settings.hh_currents
    curve = ns.rate_curve("hh", np.linspace(low, high, count), t_end=settings.hh_t_end, dt=1e-5,
                          t_skip=settings.hh_t_skip, tol=0.02)
    print(f"measured {curve!r}", flush=True)
    runs = {name: [] for name in ACTIVATIONS}
    per_seed, diagnoses = [], {}
    for seed in range(settings.n_seeds):
        for name in ACTIVATIONS:
            run = train(name, seed, data, curve, settings)
            run_spiking(run, data, settings, seed)
            runs[name].append(run)
            cells = ", ".join(f"{t * 1e3:g} ms {a:.3f}" for t, a in run.spiking.items()) or "no spiking twin"
            per_seed.append(f"- {name}, seed {seed}: rate {run.rate_accuracy:.3f}; spiking {cells}")
            print(per_seed[-1], flush=True)
            if seed == 0 and name in ("ReLU", "soft LIF", "noisy LIF", "HH curve"):
                X_test, y_test = _test_set(data, settings)
                diagnoses[name] = rn.diagnose(twin(run, data, settings), X_test[:200], y_test[:200],
                                              t_end=max(settings.presentations))
    figure_rate_curves(outdir / "rate_curves.png", curve, settings)
    figure_accuracy(outdir / "accuracy.png", runs, settings)
    figure_time(outdir / "accuracy_time.png", runs, settings)
    figure_diagnosis(outdir / "diagnostics.png", diagnoses, settings)
    print(write_summary(outdir, runs, curve, settings, args.data, per_seed))
    print(f"figures and summary.md in {outdir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
