"""Weight decay on the course notes' noisy line: 1000 hidden units overfitting five points.

Five points around the line y = 0.4 x - 0.9 (noise 0.5) are fitted by a 1-1000-1 tanh network
(3001 weights for 5 targets), full-batch Adam, 5000 epochs, with the L2 penalty lambda ||W||^2 on
the weights (biases excluded) for several lambda. Without it the network threads every point with a
curve that swings far from the line between and beyond them; with it the curve stays close to the
line (the course notes: weight decay prefers small weights, hence smooth functions).

Usage::

    python examples/weight_decay.py OUTDIR [--quick]

writes to OUTDIR:

- ``weight_decay_fits.png``: the five points, the true line and the fitted curves;
- ``weight_decay_errors.png``: training error, error against the true line on [-5, 5], and the
  squared weight norm ||W||^2, against lambda;

and prints the same numbers as a table.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import ratenet as rn  # noqa: E402
from ratenet.datasets import LINE_INTERCEPT, LINE_SLOPE  # noqa: E402

HIDDEN = 1000
DECAYS = (0.0, 1e-3, 1e-2, 3e-2)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("outdir", type=Path)
    parser.add_argument("--quick", action="store_true", help="200 epochs (a smoke test)")
    parser.add_argument("--epochs", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    args.outdir.mkdir(parents=True, exist_ok=True)
    epochs = 200 if args.quick else args.epochs

    X, y = rn.datasets.noisy_line(n_points=5, noise=0.5, seed=args.seed)
    grid = np.linspace(-5.5, 5.5, 441)
    inside = np.abs(grid) <= 5.0
    true_line = LINE_SLOPE * grid + LINE_INTERCEPT
    rows, curves = [], {}
    for decay in DECAYS:
        net = rn.MLP([1, HIDDEN, 1], activation="tanh", output="linear", seed=args.seed)
        net.fit(X, y, epochs=epochs, batch_size=None, optimizer=rn.Adam(lr=1e-2), weight_decay=decay,
                progress=False)
        curve = net.predict(grid)
        curves[decay] = curve
        train_error = float(np.mean((net.predict(X) - y) ** 2))
        line_error = float(np.mean((curve[inside] - true_line[inside]) ** 2))
        weight_norm = float(sum(np.sum(layer.W ** 2) for layer in net.dense_layers))
        rows.append((decay, train_error, line_error, weight_norm))

    fig, ax = plt.subplots(figsize=(6.5, 4.5), layout="constrained")
    ax.plot(grid, true_line, color="0.4", linestyle="--", label="true line 0.4x - 0.9")
    for index, decay in enumerate(DECAYS):
        ax.plot(grid, curves[decay], color=f"C{index}", label=f"λ = {decay:g}")
    ax.plot(X[:, 0], y, "ko", markersize=7, label="5 noisy points", zorder=5)
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.set_ylim(-5, 4)
    ax.set_title(f"1-{HIDDEN}-1 tanh network, L2 weight decay λ||W||², {epochs} epochs")
    ax.legend(frameon=False, fontsize="small")
    fig.savefig(args.outdir / "weight_decay_fits.png", dpi=120)
    plt.close(fig)

    table = np.array(rows)
    positions = np.arange(len(DECAYS))
    fig, (left, right) = plt.subplots(1, 2, figsize=(10.0, 4.0), layout="constrained")
    left.plot(positions, table[:, 1], "o-", label="training error (5 points)")
    left.plot(positions, table[:, 2], "s-", label="error against the true line")
    left.set_yscale("log")
    left.set_ylabel("mean squared error")
    left.legend(frameon=False)
    right.plot(positions, table[:, 3], "o-", color="C2")
    right.set_yscale("log")
    right.set_ylabel("||W||² (all weights)")
    for ax in (left, right):
        ax.set_xticks(positions, [f"{decay:g}" for decay in DECAYS])
        ax.set_xlabel("weight decay λ")
    fig.savefig(args.outdir / "weight_decay_errors.png", dpi=120)
    plt.close(fig)

    print(f"{'lambda':>8} {'train MSE':>10} {'MSE vs line':>12} {'||W||^2':>9}")
    for decay, train_error, line_error, weight_norm in rows:
        print(f"{decay:>8g} {train_error:>10.4f} {line_error:>12.4f} {weight_norm:>9.2f}")
    print(f"figures in {args.outdir}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
