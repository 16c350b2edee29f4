"""What the flow-graph machinery costs: a residual MLP as an ``rn.Graph`` against the same layers as a
chain, and against PyTorch (issue 12, Fast: within 10% of the chain per sample, and within the
GEMM bound shared with PyTorch).

The work: a 784-input MLP of width ``--width`` (default 1000) with ``--blocks`` residual blocks
(default 2), each ``h <- relu(h + W2 relu(W1 h))``, a 10-class softmax output, trained for one epoch
on ``--samples`` synthetic float32 samples (``bench/_mlp.py``'s Gaussian inputs and linear teacher)
in mini-batches of 128 with plain SGD (lr 0.01; ``--optimizer adam`` for Adam). Timed, one epoch
each, alternating within every round (the order reversed every other round):

- ``graph``: the residual MLP as an ``rn.Graph`` (``rn.Add`` for the skips);
- ``graph chain``: the same layers without the skips, as an ``rn.Graph`` (the machinery alone);
- ``network chain``: the same layers without the skips, as an ``rn.Network`` (the tuned chain);
- ``torch``, ``torch chain``: the residual MLP and its chain in PyTorch (``torch.nn``, the same
  initial weights are not needed: the timing does not depend on them);
- ``ratenet GEMMs``, ``torch GEMMs``: an epoch's matrix products alone (per mini-batch and layer,
  ``X W^T``, ``G^T X`` and ``G W``), through the BLAS call ratenet's Dense layers make (scipy's
  OpenBLAS) and through ``torch.mm``: the floor under each tool's epoch, which tells a gap between
  the libraries' GEMMs from one in what they do around them.

The residual graph does the chain's GEMMs plus, per block, one sum forward and one gradient sum
backward (O(batch x width) against the GEMMs' O(batch x width^2)), so "within 10% of the chain"
bounds the graph's bookkeeping and those sums. Each epoch's CPU time (``time.process_time``) and
wall time are measured; the ratios, of CPU time, are taken within each round (same machine load)
and their median reported. With one thread (the default) the CPU time is the work itself, which
other processes on a shared machine disturb far less than the wall time.

Measured here (2-core AMD EPYC shared with other sessions; numpy 2.4 with scipy's OpenBLAS, torch
2.13 CPU; 1 thread; 4,096 samples, 7 rounds; medians of the per-round ratios of CPU time), in two
runs at load averages 2.8 and 5.5-6.5:

=======================================================  =========  =========
ratio                                                    load 2.8   load 6
=======================================================  =========  =========
residual graph / chain network (target <= 1.10)          1.028      1.017
chain graph / chain network (the machinery alone)        0.993      0.964
residual graph / PyTorch residual                        0.957      0.942
chain network / PyTorch chain                            1.024      0.924
chain network / its matrix products alone (scipy BLAS)   1.03       1.00
PyTorch chain / its matrix products alone (torch.mm)     1.25       1.42
the matrix products alone: scipy BLAS / torch.mm         1.23       1.19
=======================================================  =========  =========

(epochs of 1.2-1.3 s CPU at load 2.8, every model): the graph costs what the chain costs, and
both run at the speed of their matrix products, which OpenBLAS computes about 20% slower than
torch.mm here; PyTorch loses that back around its GEMMs. Where the per-step overhead weighs most,
``--width 64 --samples 16384 --skip-torch`` (GEMMs under half the epoch), the machinery alone
costs 2.6% and the residual graph 8.9% (its sums included) over the chain network. With
``--threads 2`` on the loaded machine the same GEMM epoch took 1.7 to 10.4 s CPU from round to
round (OpenBLAS threads spinning while the other core is taken): no ratio means anything there.

Run (PyTorch from the ``bench`` extra, or any venv with torch==2.13.0 CPU)::

    python bench/graph_vs_chain.py [--rounds 5] [--samples 8192] [--threads 2] [--skip-torch]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import numpy as np
from _mlp import BATCH, LEARNING_RATE, synthetic_data, torch_sgd_epoch

import ratenet as rn
from ratenet._blas import gemm  # the one BLAS call of ratenet's Dense layers (scipy's OpenBLAS)

N_INPUTS, N_CLASSES = 784, 10


def residual_graph(width: int, blocks: int, skips: bool = True) -> rn.Graph:
    """The residual MLP (``skips=False``: the same layers as a chain) as an ``rn.Graph``."""
    nodes = [("h0", [rn.Dense(N_INPUTS, width), rn.ReLU()], "pixels")]
    for block in range(1, blocks + 1):
        previous = f"h{block - 1}"
        nodes.append((f"f{block}", [rn.Dense(width, width), rn.ReLU(), rn.Dense(width, width)], previous))
        if skips:
            nodes += [(f"sum{block}", rn.Add(), [previous, f"f{block}"]),
                      (f"h{block}", rn.ReLU(), f"sum{block}")]
        else:
            nodes.append((f"h{block}", rn.ReLU(), f"f{block}"))
    nodes.append(("logits", rn.Dense(width, N_CLASSES), f"h{blocks}"))
    return rn.Graph(inputs={"pixels": N_INPUTS}, nodes=nodes, losses={"logits": "softmax_cross_entropy"},
                    seed=0, dtype=np.float32)


def chain_network(width: int, blocks: int) -> rn.Network:
    layers = [rn.Dense(N_INPUTS, width), rn.ReLU()]
    for _ in range(blocks):
        layers += [rn.Dense(width, width), rn.ReLU(), rn.Dense(width, width), rn.ReLU()]
    layers.append(rn.Dense(width, N_CLASSES))
    return rn.Network(layers, loss="softmax_cross_entropy", seed=0, dtype=np.float32)


def ratenet_epoch(model, X, y, optimizer: str) -> tuple[float, float]:
    """(wall, CPU) seconds of one training epoch."""
    optimizer = rn.SGD(lr=LEARNING_RATE) if optimizer == "sgd" else rn.Adam(lr=1e-3)
    start, cpu = time.perf_counter(), time.process_time()
    # one mini-batch per epoch records gradient norms (PyTorch computes none): the others take the
    # fused SGD step
    model.fit(X, y, epochs=1, batch_size=BATCH, optimizer=optimizer, progress=False, gradient_norm_samples=1)
    return time.perf_counter() - start, time.process_time() - cpu


def layer_shapes(width: int, blocks: int) -> list[tuple[int, int]]:
    return [(N_INPUTS, width)] + [(width, width)] * (2 * blocks) + [(width, N_CLASSES)]


def gemm_epoch(multiply, shapes, n_samples: int, dtype) -> tuple[float, float]:
    """(wall, CPU) seconds of an epoch's matrix products alone, with ``multiply(a, b, out)``: per
    mini-batch and layer, Z = X W^T, dW = G^T X and (but for the first layer) dX = G W."""
    rng = np.random.default_rng(0)
    batch = BATCH
    weights = [rng.standard_normal((n_out, n_in)).astype(dtype) for n_in, n_out in shapes]
    inputs = [rng.standard_normal((batch, n_in)).astype(dtype) for n_in, _ in shapes]
    grads = [rng.standard_normal((batch, n_out)).astype(dtype) for _, n_out in shapes]
    outs = [(np.empty((batch, n_out), dtype), np.empty((n_out, n_in), dtype), np.empty((batch, n_in), dtype))
            for n_in, n_out in shapes]
    start, cpu = time.perf_counter(), time.process_time()
    for _ in range(n_samples // batch):
        for index, (w, x, g, (z, dw, dx)) in enumerate(zip(weights, inputs, grads, outs, strict=True)):
            multiply(x, w.T, z)
            multiply(g.T, x, dw)
            if index:
                multiply(g, w, dx)
    return time.perf_counter() - start, time.process_time() - cpu


class TorchEpoch:
    def __init__(self, threads: int, width: int, blocks: int):
        import torch

        torch.set_num_threads(threads)
        self.torch, self.width, self.blocks = torch, width, blocks

    def model(self, skips: bool):
        nn = self.torch.nn
        width, blocks = self.width, self.blocks

        class Residual(nn.Module):
            def __init__(self):
                super().__init__()
                self.first = nn.Linear(N_INPUTS, width)
                self.blocks = nn.ModuleList(
                    nn.Sequential(nn.Linear(width, width), nn.ReLU(), nn.Linear(width, width))
                    for _ in range(blocks))
                self.last = nn.Linear(width, N_CLASSES)

            def forward(self, x):
                h = self.first(x).relu()
                for block in self.blocks:
                    h = (h + block(h)).relu() if skips else block(h).relu()
                return self.last(h)

        return Residual()

    def __call__(self, skips: bool, X, y, optimizer: str) -> tuple[float, float]:
        if optimizer != "sgd":
            raise SystemExit("the PyTorch epoch is plain SGD: run with --skip-torch for --optimizer adam")
        self.torch.manual_seed(0)
        model = self.model(skips)
        cpu = time.process_time()
        wall = torch_sgd_epoch(self.torch, model, X, y)
        return wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds (medians are reported)")
    parser.add_argument("--samples", type=int, default=8192)
    parser.add_argument("--width", type=int, default=1000)
    parser.add_argument("--blocks", type=int, default=2)
    parser.add_argument("--optimizer", choices=("sgd", "adam"), default="sgd")
    parser.add_argument("--threads", type=int, default=1,
                        help="threads of every tool (PyTorch intra-op, OpenBLAS via threadpoolctl); with "
                             "1, CPU time is the work itself, little disturbed by other processes")
    parser.add_argument("--skip-torch", action="store_true")
    args = parser.parse_args()
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(args.threads)
    except ImportError:
        print("threadpoolctl not installed: OpenBLAS threads left as they are")

    X, y = synthetic_data(args.samples)
    width, blocks, optimizer = args.width, args.blocks, args.optimizer
    shapes = layer_shapes(width, blocks)
    # every tool: a function of the data, returning the (wall, CPU) seconds of one epoch
    tools = {
        "ratenet GEMMs": lambda X, y: gemm_epoch(lambda a, b, out: gemm(1.0, a, b, 0.0, out), shapes,
                                                 X.shape[0], np.float32),
        "graph": lambda X, y: ratenet_epoch(residual_graph(width, blocks), X, y, optimizer),
        "graph chain": lambda X, y: ratenet_epoch(residual_graph(width, blocks, skips=False), X, y,
                                                  optimizer),
        "network chain": lambda X, y: ratenet_epoch(chain_network(width, blocks), X, y, optimizer),
    }
    torch_version = ""
    if not args.skip_torch:
        try:
            torch_epoch = TorchEpoch(args.threads, width, blocks)
        except ImportError:
            print("PyTorch not installed: skipped")
        else:
            torch = torch_epoch.torch
            torch_version = f", torch {torch.__version__}"

            def torch_mm(a, b, out):
                torch.mm(torch.from_numpy(a), torch.from_numpy(b), out=torch.from_numpy(out))

            tools["torch"] = lambda X, y: torch_epoch(True, X, y, optimizer)
            tools["torch chain"] = lambda X, y: torch_epoch(False, X, y, optimizer)
            tools["torch GEMMs"] = lambda X, y: gemm_epoch(torch_mm, shapes, X.shape[0], np.float32)
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, numpy {np.__version__}, "
          f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', 'unset')}{torch_version}")
    print(f"residual MLP {N_INPUTS}-{width} x {blocks} blocks-{N_CLASSES}, ReLU, softmax cross-entropy, "
          f"{args.samples} float32 samples, batch {BATCH}, {optimizer}; {args.rounds} rounds, "
          f"{args.threads} thread(s); load average before: {os.getloadavg()[0]:.1f}")

    for tool in tools.values():  # warm-up: imports, thread pools, first allocations
        tool(X[:2 * BATCH], y[:2 * BATCH])
    wall, seconds = {tool: [] for tool in tools}, {tool: [] for tool in tools}
    names = list(tools)
    for round_index in range(args.rounds):
        for tool in names if round_index % 2 == 0 else names[::-1]:
            elapsed, cpu = tools[tool](X, y)
            wall[tool].append(elapsed)
            seconds[tool].append(cpu)
        print(f"round {round_index + 1} (CPU s): "
              + ", ".join(f"{tool} {seconds[tool][-1]:.2f}" for tool in names), flush=True)

    print(f"\n{'model':<15}{'CPU (s)':>9}{'us/sample':>11}{'wall (s)':>10}   CPU time of each run (s)")
    for tool in names:
        runs = " ".join(f"{value:.2f}" for value in seconds[tool])
        median = statistics.median(seconds[tool])
        print(f"{tool:<15}{median:>9.2f}{1e6 * median / args.samples:>11.1f}"
              f"{statistics.median(wall[tool]):>10.2f}   {runs}")
    print("\nratios of CPU time per sample (median over rounds of the ratio within each round):")
    pairs = [("graph", "network chain", "residual graph / chain network (target <= 1.10)"),
             ("graph chain", "network chain", "chain graph / chain network (the machinery alone)"),
             ("graph", "torch", "residual graph / PyTorch residual"),
             ("network chain", "torch chain", "chain network / PyTorch chain"),
             ("torch", "torch chain", "PyTorch residual / PyTorch chain"),
             ("network chain", "ratenet GEMMs", "chain network / its matrix products (scipy BLAS)"),
             ("torch chain", "torch GEMMs", "PyTorch chain / its matrix products alone (torch.mm)"),
             ("ratenet GEMMs", "torch GEMMs", "the matrix products alone: scipy BLAS / torch.mm")]
    for numerator, denominator, label in pairs:
        if numerator in seconds and denominator in seconds:
            ratio = statistics.median(a / b for a, b in zip(seconds[numerator], seconds[denominator],
                                                            strict=True))
            print(f"  {label:<52}{ratio:6.3f}")
    print(f"load average after: {os.getloadavg()[0]:.1f} (2 cores shared with other work: absolute times "
          "vary, ratios within a round are what to compare)")


if __name__ == "__main__":
    main()
