"""Does unsupervised pre-training help a deep sigmoid network that has few labels?

A 64-100-100-100-100-10 sigmoid network (four hidden layers) learns the 8x8 digits from only 10
labelled images per class (100 labels), while the 1437 training images are all available without
labels. Three starts are compared, each fine-tuned by backprop on the 100 labelled images in the
same way:

- random: Glorot-uniform weights, no pre-training;
- autoencoder: greedy layer-wise pre-training of the four hidden layers as tied-weight denoising
  autoencoders (20% masking noise) on all 1437 unlabelled images;
- rbm: the same with RBMs trained by CD-1.

Fine-tuning uses either SGD with momentum (lr 0.1, beta 0.9) or Adam (lr 1e-3), 100 epochs,
mini-batches of 10. Every (start, optimiser) pair is run for 5 seeds (the seed draws the labelled
subset, the initialisation and the shuffling), and test accuracy on the 360 held-out images is
reported as mean, standard deviation and range.

Usage::

    python examples/pretraining.py OUTDIR [--seeds 5] [--quick]

``--quick``: one seed, 2 pre-training and 5 fine-tuning epochs (a smoke test).

prints the table and writes to OUTDIR:

- ``pretraining_accuracy.png``: test accuracy per seed and its mean for each start and optimiser;
- ``pretraining_features.png``: first-layer features learned by the autoencoder and by the RBM,
  digits beside their autoencoder reconstructions, samples from the first RBM, and the
  reconstruction error of every layer during pre-training;
- ``pretraining_results.txt``: the table.

Runs in about 1-2 minutes on two cores.
"""

from __future__ import annotations

import argparse
import copy
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import ratenet as rn  # noqa: E402

SIZES = [64, 100, 100, 100, 100, 10]
LABELS_PER_CLASS = 10
STARTS = ("random", "autoencoder", "rbm")
OPTIMIZERS = {
    "SGD+momentum": lambda: rn.Momentum(lr=0.1, beta=0.9),
    "Adam": lambda: rn.Adam(lr=1e-3),
}
FINE_TUNE_EPOCHS = 100
FINE_TUNE_BATCH = 10


def labelled_subset(y: np.ndarray, per_class: int, rng: np.random.Generator) -> np.ndarray:
    """Indices of ``per_class`` images of every class, drawn without replacement."""
    return np.concatenate([rng.choice(np.flatnonzero(y == label), per_class, replace=False)
                           for label in range(10)])


def pretrained_network(start: str, X_unlabelled: np.ndarray, seed: int, epochs: int = 20):
    """The network for one start (before fine-tuning) and its pre-training records."""
    net = rn.MLP(SIZES, activation="sigmoid", output="softmax", seed=seed)
    if start == "autoencoder":
        records = rn.pretrain(net, X_unlabelled, method="autoencoder", epochs=epochs, batch_size=32,
                              corruption=0.2, tied=True, seed=seed, progress=False)
    elif start == "rbm":
        records = rn.pretrain(net, X_unlabelled, method="rbm", epochs=epochs, batch_size=10, k=1,
                              seed=seed, monitor=False, progress=False)
    else:
        records = None
    return net, records


def run(n_seeds: int, quick: bool = False):
    X_train, X_test, y_train, y_test = rn.datasets.digits(seed=0)
    accuracy = {(start, name): [] for start in STARTS for name in OPTIMIZERS}
    examples = {}
    for seed in range(n_seeds):
        labelled = labelled_subset(y_train, LABELS_PER_CLASS, np.random.default_rng(1000 + seed))
        for start in STARTS:
            net, records = pretrained_network(start, X_train, seed, epochs=2 if quick else 20)
            if seed == 0:
                examples[start] = (copy.deepcopy(net), records)
            for name, make_optimizer in OPTIMIZERS.items():
                tuned = copy.deepcopy(net)
                tuned.fit(X_train[labelled], y_train[labelled], epochs=5 if quick else FINE_TUNE_EPOCHS,
                          batch_size=FINE_TUNE_BATCH, optimizer=make_optimizer(), seed=seed, progress=False)
                accuracy[start, name].append(tuned.score(X_test, y_test))
        print(f"  seed {seed}: " + ", ".join(f"{start}/{name} {accuracy[start, name][-1]:.3f}"
                                            for start in STARTS for name in OPTIMIZERS), flush=True)
    return accuracy, examples, X_train


def table(accuracy: dict, n_seeds: int) -> str:
    lines = [f"Test accuracy on 360 digits, {LABELS_PER_CLASS * 10} labelled training images, network "
             f"{'-'.join(map(str, SIZES))} (sigmoid), {n_seeds} seeds: mean +/- std [min, max]",
             f"{'start':<12}" + "".join(f"{name:>32}" for name in OPTIMIZERS)]
    for start in STARTS:
        cells = []
        for name in OPTIMIZERS:
            values = np.array(accuracy[start, name])
            cells.append(f"{values.mean():.3f} +/- {values.std():.3f} "
                         f"[{values.min():.3f}, {values.max():.3f}]")
        lines.append(f"{start:<12}" + "".join(f"{cell:>32}" for cell in cells))
    return "\n".join(lines)


def plot_accuracy(accuracy: dict, path: Path) -> None:
    fig, ax = plt.subplots(figsize=(7.0, 4.0), layout="constrained")
    width = 0.35
    for offset, name in zip((-width / 2, width / 2), OPTIMIZERS, strict=True):
        means = [np.mean(accuracy[start, name]) for start in STARTS]
        positions = np.arange(len(STARTS)) + offset
        ax.bar(positions, means, width=width * 0.9, alpha=0.5, label=f"fine-tuned with {name}")
        for position, start in zip(positions, STARTS, strict=True):
            values = accuracy[start, name]
            ax.plot(np.full(len(values), position), values, "k.", markersize=5)
    ax.axhline(0.1, color="gray", linestyle=":", label="chance")
    ax.set_xticks(np.arange(len(STARTS)), [f"{start}\n(no pre-training)" if start == "random" else
                                           f"{start}\npre-training" for start in STARTS])
    ax.set_ylabel("test accuracy")
    ax.set_ylim(0, 1)
    ax.set_title(f"Deep sigmoid network (4 hidden layers), {LABELS_PER_CLASS * 10} labels: dots are seeds")
    ax.legend(loc="lower right", fontsize=8)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_features_figure(examples: dict, X: np.ndarray, path: Path) -> None:
    fig, axes = plt.subplots(2, 3, figsize=(12.0, 8.0), layout="constrained")
    autoencoder_records = examples["autoencoder"][1]
    rbm_records = examples["rbm"][1]
    rn.plot_features(autoencoder_records[0].model, (8, 8), ax=axes[0, 0], n_features=64,
                     title="first-layer features: denoising autoencoder")
    rn.plot_features(rbm_records[0].model, (8, 8), ax=axes[0, 1], n_features=64,
                     title="first-layer features: RBM")
    first = autoencoder_records[0].model
    rn.plot_reconstructions(X[:10], first.reconstruct(X[:10]), (8, 8), ax=axes[0, 2], n_images=10,
                            title="digits (top), reconstructions (bottom)")
    samples = rbm_records[0].model.sample(36, n_steps=1000, initial=X[:36], seed=0, return_probability=True)
    rn.plot_samples(samples, (8, 8), ax=axes[1, 0], n_columns=6,
                    title="first RBM: P(x | h), 1000 Gibbs steps")
    # Cross-entropy against soft targets (grey pixels, hidden probabilities) cannot fall below the
    # targets' own entropy, hence the plateaus of the upper autoencoder layers.
    curves = ((axes[1, 1], autoencoder_records, "autoencoders: cross-entropy"),
              (axes[1, 2], rbm_records, "RBMs: squared error of the mean-field reconstruction"))
    for ax, records, name in curves:
        for record in records:
            errors = np.array(record.reconstruction_error)
            ax.plot(np.arange(1, len(errors) + 1), errors / errors[0], marker=".",
                    label=f"layer {record.layer + 1} ({record.n_in}->{record.n_out})")
        ax.set_xlabel("pre-training epoch")
        ax.set_ylabel("reconstruction error / first epoch's")
        ax.set_title(name, fontsize=10)
        ax.legend(fontsize=8)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("outdir", type=Path)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="one seed, a few epochs (a smoke test)")
    arguments = parser.parse_args()
    if arguments.quick:
        arguments.seeds = 1
    arguments.outdir.mkdir(parents=True, exist_ok=True)
    start_time = time.perf_counter()
    accuracy, examples, X_train = run(arguments.seeds, quick=arguments.quick)
    text = table(accuracy, arguments.seeds)
    print("\n" + text)
    (arguments.outdir / "pretraining_results.txt").write_text(text + "\n")
    plot_accuracy(accuracy, arguments.outdir / "pretraining_accuracy.png")
    plot_features_figure(examples, X_train, arguments.outdir / "pretraining_features.png")
    print(f"\nwrote {arguments.outdir}/pretraining_accuracy.png, pretraining_features.png, "
          f"pretraining_results.txt ({time.perf_counter() - start_time:.0f} s)")


if __name__ == "__main__":
    main()
