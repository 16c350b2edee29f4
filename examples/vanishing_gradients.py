"""Vanishing gradients in a deep sigmoid network, and two cures: ReLU units and batch normalisation.

The course notes' case: backprop multiplies dE/dZ by f'(z) W at every layer on the way down, and the
sigmoid's slope never exceeds 1/4, so in a deep sigmoid network the gradients reaching the first
layers are orders of magnitude smaller than those at the output: the first layers barely learn.
Three networks of the same shape (8 Dense layers, 7 hidden layers of 32 units) are trained on
scikit-learn's digits with the same plain SGD:

- sigmoid hidden units (Glorot initialisation);
- ReLU hidden units (He initialisation), whose slope is 1 where active;
- sigmoid units with a BatchNorm layer on every pre-activation (Ioffe & Szegedy 2015).

Usage::

    python examples/vanishing_gradients.py OUTDIR [--quick]

writes to OUTDIR:

- ``gradient_norms.png``: ||dE/dW|| of each layer over the epochs, one panel per network (log
  scale): the sigmoid network's layers fan out over about four decades, the other two stay together;
- ``learning_curves.png``: training and validation loss of each network;
- ``sigmoid_derivative.png``: f'(z) of sigmoid, tanh and ReLU (the 1/4 ceiling);

and prints, per network, the ratio of the first layer's gradient norm to the last layer's in the
first epoch and the test accuracy.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402

import ratenet as rn  # noqa: E402

DEPTH = 8  # Dense layers
WIDTH = 32  # units per hidden layer
KINDS = ("sigmoid", "relu", "sigmoid + batch norm")


def build(kind: str, n_inputs: int, n_classes: int, seed: int) -> rn.Network:
    """A DEPTH-layer network of the given kind (see the module docstring)."""
    layers: list[rn.Layer] = []
    n_in = n_inputs
    for _ in range(DEPTH - 1):
        layers.append(rn.Dense(n_in, WIDTH))
        if kind == "sigmoid + batch norm":
            layers.append(rn.BatchNorm(WIDTH))
        layers.append(rn.ReLU() if kind == "relu" else rn.Sigmoid())
        n_in = WIDTH
    layers.append(rn.Dense(n_in, n_classes))
    return rn.Network(layers, loss="softmax_cross_entropy", seed=seed)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("outdir", type=Path)
    parser.add_argument("--quick", action="store_true", help="3 epochs (a smoke test)")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    args.outdir.mkdir(parents=True, exist_ok=True)
    epochs = 3 if args.quick else args.epochs

    split = rn.datasets.digits(standardize=True)
    histories, rows = {}, []
    for kind in KINDS:
        net = build(kind, split.X_train.shape[1], 10, args.seed)
        history = net.fit(split.X_train, split.y_train, epochs=epochs, batch_size=32,
                          optimizer=rn.SGD(lr=0.05), validation_split=0.2, seed=args.seed,
                          progress=False)
        histories[kind] = history
        norms = history.gradient_norm_array()
        rows.append((kind, norms[0, 0] / norms[0, -1], net.score(split.X_test, split.y_test)))

    fig, axes = plt.subplots(1, len(KINDS), figsize=(13.0, 4.2), sharey=True, layout="constrained")
    for ax, kind in zip(axes, KINDS, strict=True):
        rn.plot_gradient_norms(histories[kind], ax=ax, title=kind)
        if ax is not axes[0]:
            ax.set_ylabel("")
            ax.get_legend().remove()
    fig.suptitle(f"Per-layer gradient norms, {DEPTH} Dense layers of {WIDTH} units, digits, SGD lr 0.05")
    fig.savefig(args.outdir / "gradient_norms.png", dpi=120)
    plt.close(fig)

    fig, axes = plt.subplots(1, len(KINDS), figsize=(13.0, 4.0), sharey=True, layout="constrained")
    for ax, kind in zip(axes, KINDS, strict=True):
        rn.plot_learning_curves(histories[kind], ax=ax, title=kind)
    fig.savefig(args.outdir / "learning_curves.png", dpi=120)
    plt.close(fig)

    ax = rn.plot_activation_curves(["sigmoid", "tanh", "relu"], derivative=True,
                                   title="slopes: the sigmoid's never exceeds 1/4")
    ax.axhline(0.25, color="0.5", linestyle=":", linewidth=1)
    ax.figure.savefig(args.outdir / "sigmoid_derivative.png", dpi=120)
    plt.close(ax.figure)

    print(f"{'network':<22} {'|dW1| / |dW8| (epoch 1)':>24} {'test accuracy':>14}")
    for kind, ratio, accuracy in rows:
        print(f"{kind:<22} {ratio:>24.2e} {accuracy:>14.3f}")
    print(f"figures in {args.outdir}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
