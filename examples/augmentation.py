"""Data augmentation through ``fit(augment=...)``: digits shifted by one pixel.

An MLP sees an 8x8 digit as 64 unrelated inputs, so a digit moved by one pixel is, to it, a new
pattern. Training on digits each shifted at random by one pixel (up, down, left, right, or not at
all, a fresh draw for every sample at every step) teaches the network that shift. The hook is a
plain function ``augment(X_batch, rng) -> X_batch`` applied to every training mini-batch (never to
the validation data), with a Generator that ``fit`` derives from its seed.

Two 64-100-10 ReLU networks per seed, with and without augmentation, are trained with Adam and
early stopping on the validation loss (weights of the best epoch restored), and tested on the test
digits as they are and on the same digits each shifted by one pixel in a random direction.

Usage::

    python examples/augmentation.py OUTDIR [--quick]

writes to OUTDIR:

- ``augmentation_samples.png``: test digits and the shifted versions the networks are tested on;
- ``augmentation_curves.png``: training and validation loss with and without augmentation (first
  seed), the early-stopping point marked;

and prints the test accuracies (mean and standard deviation over seeds).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import ratenet as rn  # noqa: E402

SIDE = 8  # digits are SIDE x SIDE images
#: (rows down, columns right) moves the augmentation draws from: none, down, up, right, left.
MOVES = np.array([(0, 0), (1, 0), (-1, 0), (0, 1), (0, -1)])


def shift_images(X: np.ndarray, moves: np.ndarray) -> np.ndarray:
    """Move each image (a row of X, SIDE*SIDE pixels) by its (rows, columns) move of -1, 0 or 1
    pixels; pixels moved in from outside are 0 (background)."""
    n = X.shape[0]
    padded = np.zeros((n, SIDE + 2, SIDE + 2), dtype=X.dtype)
    padded[:, 1:-1, 1:-1] = X.reshape(n, SIDE, SIDE)
    # output[i, r, c] = padded[i, r + 1 - dr_i, c + 1 - dc_i]
    rows = 1 - moves[:, 0, None] + np.arange(SIDE)  # (n, SIDE)
    columns = 1 - moves[:, 1, None] + np.arange(SIDE)
    shifted = padded[np.arange(n)[:, None, None], rows[:, :, None], columns[:, None, :]]
    return shifted.reshape(n, SIDE * SIDE)


def shift_by_one_pixel(X_batch: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The augmentation: every image moved by one of MOVES, drawn independently."""
    return shift_images(X_batch, MOVES[rng.integers(len(MOVES), size=X_batch.shape[0])])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("outdir", type=Path)
    parser.add_argument("--quick", action="store_true", help="one seed, 5 epochs (a smoke test)")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=300)
    args = parser.parse_args(argv)
    args.outdir.mkdir(parents=True, exist_ok=True)
    seeds = range(1 if args.quick else args.seeds)
    epochs = 5 if args.quick else args.epochs

    split = rn.datasets.digits()
    test_rng = np.random.default_rng(12345)
    X_shifted = shift_images(split.X_test, MOVES[1 + test_rng.integers(4, size=len(split.X_test))])

    results = {False: [], True: []}
    histories = {}
    for seed in seeds:
        for augmented in (False, True):
            net = rn.MLP([SIDE * SIDE, 100, 10], activation="relu", seed=seed)
            history = net.fit(split.X_train, split.y_train, epochs=epochs, batch_size=32,
                              optimizer=rn.Adam(lr=1e-3), validation_split=0.2, seed=seed,
                              augment=shift_by_one_pixel if augmented else None,
                              callbacks=[rn.EarlyStopping(patience=15, restore_best=True)],
                              progress=False)
            results[augmented].append((net.score(split.X_test, split.y_test),
                                       net.score(X_shifted, split.y_test), history.best_epoch))
            if seed == seeds[0]:
                histories[augmented] = history

    n_show = 8
    fig, axes = plt.subplots(2, n_show, figsize=(1.3 * n_show, 3.0), layout="constrained")
    for column in range(n_show):
        for row, images in enumerate((split.X_test, X_shifted)):
            axes[row, column].imshow(images[column].reshape(SIDE, SIDE), cmap="gray_r", vmin=0, vmax=1)
            axes[row, column].set_xticks([])
            axes[row, column].set_yticks([])
    axes[0, 0].set_title("test digits", loc="left", fontsize="small")
    axes[1, 0].set_title("shifted by one pixel", loc="left", fontsize="small")
    fig.savefig(args.outdir / "augmentation_samples.png", dpi=120)
    plt.close(fig)

    fig, axes = plt.subplots(1, 2, figsize=(10.0, 4.0), sharey=True, layout="constrained")
    for ax, augmented in zip(axes, (False, True), strict=True):
        rn.plot_learning_curves(histories[augmented], ax=ax, log=True,
                                title="with one-pixel shifts" if augmented else "without augmentation")
    fig.savefig(args.outdir / "augmentation_curves.png", dpi=120)
    plt.close(fig)

    print(f"{'training':<22} {'test accuracy':>16} {'shifted test':>16} {'best epoch':>11}")
    for augmented in (False, True):
        table = np.array(results[augmented], dtype=float)
        cells = [f"{table[:, k].mean():.3f} ± {table[:, k].std():.3f}" for k in (0, 1)]
        name = "one-pixel shifts" if augmented else "no augmentation"
        print(f"{name:<22} {cells[0]:>16} {cells[1]:>16} {table[:, 2].mean():>11.0f}")
    print(f"({len(seeds)} seeds; figures in {args.outdir})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
