"""Softmax or sparsemax at the output: the same digits network trained with each loss.

Two 64-100-10 tanh networks learn the 8x8 digits, one with softmax cross-entropy, one with the
sparsemax loss of Martins & Astudillo (2016), ``loss="sparsemax"``, whose gradient is
sparsemax(z) - onehot(t). Both predict the argmax of their logits; their probabilities differ:
softmax never gives a class exactly zero, sparsemax (the Euclidean projection of the logits onto
the probability simplex) gives exact zeros to every class it rules out.

Usage::

    python examples/sparsemax.py OUTDIR [--quick]

prints the test accuracy of each network and the mean number of classes with non-zero probability,
and writes to OUTDIR:

- ``sparsemax_two_classes.png``: for logits (t, 0), the probability of the first class and the
  loss of a label 0 against t, softmax (logistic curve, cross-entropy) against sparsemax (a
  clipped line, a loss that reaches exactly 0 once t >= 1);
- ``sparsemax_digits.png``: the probabilities both networks give the six test digits the softmax
  network is least sure of, and, over the test set, how many classes get a non-zero probability
  (softmax: always all ten).

Runs in about ten seconds on two cores.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import ratenet as rn  # noqa: E402

LOSSES = {"softmax cross-entropy": "softmax_cross_entropy", "sparsemax loss": "sparsemax"}
N_SHOWN = 6


def train(loss: str, X, y, epochs: int, seed: int) -> rn.Network:
    net = rn.Network([rn.Dense(64, 100), rn.Tanh(), rn.Dense(100, 10)], loss=loss, seed=seed)
    net.fit(X, y, epochs=epochs, batch_size=32, optimizer=rn.Adam(lr=1e-3), progress=False)
    return net


def plot_two_classes(path: Path) -> None:
    t = np.linspace(-3, 3, 601)
    logits = np.column_stack([t, np.zeros_like(t)])
    softmax, sparsemax = rn.Softmax()(logits)[:, 0], rn.Sparsemax()(logits)[:, 0]
    labels = np.zeros(t.size, dtype=int)
    per_sample = {name: [rn.get_loss(loss).value(row[None, :], labels[:1]) for row in logits]
                  for name, loss in LOSSES.items()}
    fig, (left, right) = plt.subplots(1, 2, figsize=(10.0, 3.8), layout="constrained")
    left.plot(t, softmax, label="softmax")
    left.plot(t, sparsemax, label="sparsemax")
    left.set_xlabel("t  (logits (t, 0))")
    left.set_ylabel("probability of class 0")
    left.legend(frameon=False)
    for name, values in per_sample.items():
        right.plot(t, values, label=name)
    right.set_xlabel("t")
    right.set_ylabel("loss for label 0")
    right.legend(frameon=False)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_digits(path: Path, probabilities: dict[str, np.ndarray], X_test, y_test) -> None:
    fig = plt.figure(figsize=(12.0, 6.0), layout="constrained")
    grid = fig.add_gridspec(2, N_SHOWN + 2)
    classes = np.arange(10)
    least_sure = np.argsort(probabilities["softmax cross-entropy"].max(axis=1))[:N_SHOWN]
    for column, sample in enumerate(least_sure):
        image = fig.add_subplot(grid[0, column])
        image.imshow(X_test[sample].reshape(8, 8), cmap="gray_r")
        image.set_title(f"test digit {sample}, label {y_test[sample]}", fontsize="small")
        image.axis("off")
        bars = fig.add_subplot(grid[1, column])
        for offset, (name, probability) in zip((-0.2, 0.2), probabilities.items(), strict=True):
            bars.bar(classes + offset, probability[sample], width=0.4, label=name)
        bars.set_xticks(classes)
        bars.set_ylim(0, 1)
        bars.tick_params(labelsize="x-small")
        if column == 0:
            bars.set_ylabel("probability")
            bars.legend(frameon=False, fontsize="x-small", loc="upper right")
    histogram = fig.add_subplot(grid[:, N_SHOWN:])
    for name, probability in probabilities.items():
        support = np.count_nonzero(probability > 0, axis=1)
        histogram.hist(support, bins=np.arange(0.5, 11.5), alpha=0.6, label=name)
    histogram.set_xlabel("classes with non-zero probability")
    histogram.set_ylabel("test digits")
    histogram.set_xticks(range(1, 11))
    histogram.legend(frameon=False, fontsize="small")
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("outdir", type=Path)
    parser.add_argument("--quick", action="store_true", help="5 epochs (a smoke test)")
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    args.outdir.mkdir(parents=True, exist_ok=True)
    epochs = 5 if args.quick else args.epochs

    plot_two_classes(args.outdir / "sparsemax_two_classes.png")
    X_train, X_test, y_train, y_test = rn.datasets.digits(seed=args.seed)
    probabilities = {}
    print(f"{'loss':<24} {'test accuracy':>13} {'mean non-zero classes':>22}")
    for name, loss in LOSSES.items():
        net = train(loss, X_train, y_train, epochs, args.seed)
        probability = net.predict_proba(X_test)
        probabilities[name] = probability
        support = np.count_nonzero(probability > 0, axis=1).mean()
        print(f"{name:<24} {net.score(X_test, y_test):>13.4f} {support:>22.2f}")
    plot_digits(args.outdir / "sparsemax_digits.png", probabilities, X_test, y_test)
    print(f"figures in {args.outdir}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
