"""Model selection on the digits: a grid search over hidden-layer size, learning rate and dropout
rate, scored on a validation set, the winner tested once on held-out test data, saved and reloaded.

Usage::

    python examples/model_selection.py OUTDIR [--n-jobs N] [--epochs E] [--quick]

prints the table of every trial (best first) and writes to OUTDIR:

- ``model_selection.png``: validation accuracy over the grid (hidden units x learning rate, one
  panel per dropout rate) and the learning curves of the selected network;
- ``model_selection.md``: the same table in Markdown, with the test accuracy of the winner;
- ``best_net.npz``: the selected network (``ratenet.load`` reads it back; the script checks that
  the reloaded network predicts the test set identically).

The test set plays no part in the choice: the search holds out 20% of the training set for
validation (the course notes' three-way split).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import ratenet as rn  # noqa: E402

SPACE = {"hidden": [32, 64, 128], "lr": [3e-4, 1e-3, 3e-3], "dropout": [0.0, 0.3]}


def build(hidden, lr, dropout, seed=0):
    """64 pixels -> hidden ReLU units (with dropout) -> 10 logits, trained by Adam at rate lr."""
    layers = [rn.Dense(64, hidden), rn.ReLU()]
    if dropout > 0:
        layers.append(rn.Dropout(dropout))
    layers.append(rn.Dense(hidden, 10))
    net = rn.Network(layers, loss="softmax_cross_entropy", seed=seed)
    return net, {"optimizer": rn.Adam(lr=lr)}


def plot(result: rn.SearchResult, path: Path) -> None:
    hidden, rates, dropouts = SPACE["hidden"], SPACE["lr"], SPACE["dropout"]
    fig, axes = plt.subplots(1, len(dropouts) + 1, figsize=(4.0 * (len(dropouts) + 1), 3.6),
                             layout="constrained")
    scores = {(row["hidden"], row["lr"], row["dropout"]): row["score"] for row in result.rows}
    low, high = min(scores.values()), max(scores.values())
    for ax, dropout in zip(axes, dropouts, strict=False):
        grid = np.array([[scores[(h, lr, dropout)] for lr in rates] for h in hidden])
        image = ax.imshow(grid, vmin=low, vmax=high, cmap="viridis", origin="lower")
        for i in range(len(hidden)):
            for j in range(len(rates)):
                ax.text(j, i, f"{grid[i, j]:.3f}", ha="center", va="center",
                        color="white" if grid[i, j] < (low + high) / 2 else "black", fontsize=9)
        ax.set_xticks(range(len(rates)), [f"{lr:g}" for lr in rates])
        ax.set_yticks(range(len(hidden)), [str(h) for h in hidden])
        ax.set_xlabel("learning rate (Adam)")
        ax.set_ylabel("hidden units")
        ax.set_title(f"validation accuracy, dropout {dropout:g}")
    fig.colorbar(image, ax=axes[:-1], shrink=0.8)
    history = result.best_net.history
    curves = axes[-1]
    curves.plot(history.accuracy, label="training (during epoch)")
    curves.plot(history.val_accuracy, label="validation")
    curves.set_xlabel("epoch")
    curves.set_ylabel("accuracy")
    curves.set_title(f"selected: {result.best_params}", fontsize=8)
    curves.legend(frameon=False)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("outdir", type=Path)
    parser.add_argument("--n-jobs", type=int, default=2, help="trials at once (joblib; -1: every core)")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--quick", action="store_true", help="1 epoch per trial, serially (a smoke test)")
    args = parser.parse_args(argv)
    if args.quick:
        args.epochs, args.n_jobs = 1, 1
    args.outdir.mkdir(parents=True, exist_ok=True)

    X_train, X_test, y_train, y_test = rn.datasets.digits(test_size=0.2, seed=0)
    start = time.perf_counter()
    result = rn.grid_search(build, SPACE, X_train, y_train, validation_split=0.2,
                            fit_params={"epochs": args.epochs, "batch_size": 32},
                            n_jobs=args.n_jobs, seed=0)
    seconds = time.perf_counter() - start
    test_accuracy = result.best_net.score(X_test, y_test)
    table = result.to_markdown()
    print(result)
    print(table)
    print(f"\n{len(result)} trials in {seconds:.1f} s with n_jobs={args.n_jobs}; selected "
          f"{result.best_params}: validation accuracy {result.best_score:.4f}, "
          f"test accuracy {test_accuracy:.4f}")

    saved = result.best_net.save(args.outdir / "best_net.npz")
    reloaded = rn.load(saved)
    assert np.array_equal(reloaded.predict(X_test), result.best_net.predict(X_test))
    print(f"saved to {saved}; the reloaded network predicts the test set identically")

    plot(result, args.outdir / "model_selection.png")
    (args.outdir / "model_selection.md").write_text(
        f"# Grid search on the digits\n\n{table}\n\nSelected {result.best_params}: validation accuracy "
        f"{result.best_score:.4f}, test accuracy {test_accuracy:.4f} ({len(result)} trials, "
        f"{args.epochs} epochs each, {seconds:.1f} s with n_jobs={args.n_jobs}).\n")


if __name__ == "__main__":
    main()
