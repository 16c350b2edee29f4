"""Skip connections in a flow graph: a deep sigmoid MLP with and without them, on the digits.

The same layers twice: an input layer, then ``BLOCKS`` blocks of two sigmoid layers
(``f(h) = sigmoid(W2 sigmoid(W1 h))``), then a softmax output. As a chain, ``h <- f(h)``: backprop
multiplies the gradient by a sigmoid slope (at most 1/4) and a weight matrix at every layer, and in
the layers near the input it vanishes (the course notes' vanishing gradients). As an ``rn.Graph``
with a skip around every block (He et al. 2016), ``h <- h + f(h)``: the sum hands its gradient
unchanged to ``h``, so every block receives the output's gradient directly, plus what flows through
the blocks above it. The graph is built in a few lines::

    nodes = [("h0", [rn.Dense(64, WIDTH), rn.Sigmoid()], "pixels")]
    for k in range(1, BLOCKS + 1):
        nodes += [(f"f{k}", [rn.Dense(WIDTH, WIDTH), rn.Sigmoid(), rn.Dense(WIDTH, WIDTH), rn.Sigmoid()],
                   f"h{k - 1}"),
                  (f"h{k}", rn.Add(), [f"h{k - 1}", f"f{k}"])]
    nodes.append(("logits", rn.Dense(WIDTH, 10), f"h{BLOCKS}"))
    graph = rn.Graph({"pixels": 64}, nodes, losses={"logits": "softmax_cross_entropy"})

Both start from the same weights (the chain is the Network of the same layers, seeded alike) and
train with the same plain SGD.

Usage::

    python examples/residual_mlp.py OUTDIR [--quick]

prints the graph's summary, the first layer's gradient norm over the last layer's and the test
accuracy of each model, and writes to OUTDIR:

- ``residual_gradient_norms.png``: ||dE/dW|| of every Dense layer over the epochs, the chain beside
  the residual graph (log scale): the chain's layers fan out over decades, the graph's stay together;
- ``residual_learning_curves.png``: training loss and validation accuracy of both;
- ``residual_summary.txt``: the graph's node table and the results.

Runs in about 20 seconds on two cores (``--quick``: a few seconds).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402

import ratenet as rn  # noqa: E402

WIDTH = 32
LEARNING_RATE = 0.1


def block_layers() -> list[rn.Layer]:
    return [rn.Dense(WIDTH, WIDTH), rn.Sigmoid(), rn.Dense(WIDTH, WIDTH), rn.Sigmoid()]


def residual_graph(blocks: int, n_inputs: int, n_classes: int, seed: int) -> rn.Graph:
    """h0 = sigmoid(W x); h_k = h_{k-1} + f_k(h_{k-1}); logits = W_out h_blocks."""
    nodes = [("h0", [rn.Dense(n_inputs, WIDTH), rn.Sigmoid()], "pixels")]
    for k in range(1, blocks + 1):
        nodes += [(f"f{k}", block_layers(), f"h{k - 1}"),
                  (f"h{k}", rn.Add(), [f"h{k - 1}", f"f{k}"])]
    nodes.append(("logits", rn.Dense(WIDTH, n_classes), f"h{blocks}"))
    return rn.Graph({"pixels": n_inputs}, nodes, losses={"logits": "softmax_cross_entropy"}, seed=seed)


def chain_network(blocks: int, n_inputs: int, n_classes: int, seed: int) -> rn.Network:
    """The same layers without the skips: h_k = f_k(h_{k-1})."""
    layers = [rn.Dense(n_inputs, WIDTH), rn.Sigmoid()]
    for _ in range(blocks):
        layers += block_layers()
    layers.append(rn.Dense(WIDTH, n_classes))
    return rn.Network(layers, loss="softmax_cross_entropy", seed=seed)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("outdir", type=Path)
    parser.add_argument("--quick", action="store_true", help="2 blocks, 3 epochs (a smoke test)")
    parser.add_argument("--blocks", type=int, default=6)
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    args.outdir.mkdir(parents=True, exist_ok=True)
    blocks, epochs = (2, 3) if args.quick else (args.blocks, args.epochs)

    split = rn.datasets.digits(standardize=True, seed=args.seed)
    n_inputs = split.X_train.shape[1]
    models = {"chain (rn.Network)": chain_network(blocks, n_inputs, 10, args.seed),
              "residual (rn.Graph)": residual_graph(blocks, n_inputs, 10, args.seed)}
    histories, rows = {}, []
    for name, model in models.items():
        histories[name] = model.fit(split.X_train, split.y_train, epochs=epochs, batch_size=32,
                                    optimizer=rn.SGD(lr=LEARNING_RATE), validation_split=0.2, seed=args.seed,
                                    progress=False)
        norms = histories[name].gradient_norm_array()
        rows.append((name, norms[0, 0] / norms[0, -1], model.score(split.X_test, split.y_test)))

    n_dense = len(models["residual (rn.Graph)"].dense_layers)
    fig, axes = plt.subplots(1, 2, figsize=(12.0, 4.4), sharey=True, layout="constrained")
    for ax, name in zip(axes, models, strict=True):
        rn.plot_gradient_norms(histories[name], ax=ax, title=name)
        if ax is not axes[0]:
            ax.set_ylabel("")
            ax.get_legend().remove()
    fig.suptitle(f"Per-layer gradient norms, {n_dense} sigmoid Dense layers of {WIDTH} units, digits, "
                 f"SGD lr {LEARNING_RATE}")
    fig.savefig(args.outdir / "residual_gradient_norms.png", dpi=120)
    plt.close(fig)

    fig, (loss_ax, accuracy_ax) = plt.subplots(1, 2, figsize=(12.0, 4.2), layout="constrained")
    for index, (name, history) in enumerate(histories.items()):
        loss_ax.plot(history.epochs, history.loss, color=f"C{index}", label=name)
        accuracy_ax.plot(history.epochs, history.val_accuracy, color=f"C{index}", label=name)
    loss_ax.set(xlabel="epoch", ylabel="training loss", yscale="log")
    accuracy_ax.set(xlabel="epoch", ylabel="validation accuracy", ylim=(0, 1))
    for ax in (loss_ax, accuracy_ax):
        ax.legend(frameon=False)
    fig.savefig(args.outdir / "residual_learning_curves.png", dpi=120)
    plt.close(fig)

    table = [f"{'model':<22} {'|dW first| / |dW last| (epoch 1)':>34} {'test accuracy':>14}"]
    table += [f"{name:<22} {ratio:>34.2e} {accuracy:>14.3f}" for name, ratio, accuracy in rows]
    summary = models["residual (rn.Graph)"].summary()
    text = summary + "\n\n" + "\n".join(table) + "\n"
    (args.outdir / "residual_summary.txt").write_text(text, encoding="utf-8")
    print(summary, "", *table, f"figures in {args.outdir}", sep="\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
