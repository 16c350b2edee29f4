"""What dropout and batch normalisation add to a training epoch, ratenet against PyTorch.

The 784-1000-1000-10 ReLU MLP of ``bench/ratenet_vs_peers.py`` (60,000 synthetic float32 samples,
mini-batches of 128, plain SGD lr 0.01, softmax cross-entropy) is trained for one epoch in four
variants, the same layers in both tools:

- ``plain``: Dense, ReLU, Dense, ReLU, Dense;
- ``dropout``: a Dropout(0.5) after each hidden ReLU;
- ``batchnorm``: a BatchNorm on each hidden pre-activation (Dense, BatchNorm, ReLU);
- ``both``: BatchNorm and Dropout.

The overhead of a variant is its epoch time over the plain epoch time of the same tool, taken
within each round (same machine load) and then the median over rounds. Tools and variants run
alternately, round after round (the order reversed every other round). ratenet's target: at most
15% added by dropout and by batch norm.

Measured here (2-core AMD EPYC, numpy 2.4 OpenBLAS, torch 2.13 CPU, 2 threads, quiet machine,
medians), added epoch time over the plain MLP, after batch norm's training pass moved to fused
Numba kernels (before: ratenet batch norm +11.7%, both +17.0%):

=============  ===================  ===================  ===================  ===================
rounds         ratenet dropout      ratenet batch norm   PyTorch dropout      PyTorch batch norm
=============  ===================  ===================  ===================  ===================
3              +6.4%                +7.3%                +45.1%               +7.0%
5              +8.7%                +8.6%                +35.6%               +3.5%
=============  ===================  ===================  ===================  ===================

(both layers: ratenet +13.9% / +14.6%, PyTorch +39% / +55%); ratenet's epoch took 0.66-0.92 times
PyTorch's in every variant (plain 4.7 s vs 5.5 s).

Run (PyTorch is in /work/torchvenv, which also has numpy and scipy)::

    PYTHONPATH=. /work/torchvenv/bin/python bench/toolkit_overhead.py [--rounds 5] [--threads 1]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import numpy as np
from _mlp import BATCH, LEARNING_RATE, SIZES, synthetic_data, torch_sgd_epoch

import ratenet as rn

DROPOUT = 0.5
VARIANTS = ("plain", "dropout", "batchnorm", "both")


def ratenet_layers(variant: str) -> list:
    layers = []
    for n_in, n_out in zip(SIZES[:-2], SIZES[1:-1], strict=True):
        layers.append(rn.Dense(n_in, n_out))
        if variant in ("batchnorm", "both"):
            layers.append(rn.BatchNorm(n_out))
        layers.append(rn.ReLU())
        if variant in ("dropout", "both"):
            layers.append(rn.Dropout(DROPOUT))
    layers.append(rn.Dense(SIZES[-2], SIZES[-1]))
    return layers


def ratenet_epoch(variant: str, X, y) -> float:
    net = rn.Network(ratenet_layers(variant), loss="softmax_cross_entropy", seed=0, dtype=np.float32)
    start = time.perf_counter()
    net.fit(X, y, epochs=1, batch_size=BATCH, optimizer=rn.SGD(lr=LEARNING_RATE), progress=False)
    return time.perf_counter() - start


class TorchEpoch:
    def __init__(self, threads: int):
        import torch

        torch.set_num_threads(threads)
        self.torch = torch

    def model(self, variant: str):
        nn = self.torch.nn
        layers = []
        for n_in, n_out in zip(SIZES[:-2], SIZES[1:-1], strict=True):
            layers.append(nn.Linear(n_in, n_out))
            if variant in ("batchnorm", "both"):
                layers.append(nn.BatchNorm1d(n_out, momentum=0.1, eps=1e-5))
            layers.append(nn.ReLU())
            if variant in ("dropout", "both"):
                layers.append(nn.Dropout(DROPOUT))
        layers.append(nn.Linear(SIZES[-2], SIZES[-1]))
        return nn.Sequential(*layers)

    def __call__(self, variant: str, X, y) -> float:
        torch = self.torch
        torch.manual_seed(0)
        model = self.model(variant)
        model.train()
        # BatchNorm1d refuses a batch of one, as ratenet does: a last batch of one is skipped.
        return torch_sgd_epoch(torch, model, X, y, min_batch=2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds (medians are reported)")
    parser.add_argument("--samples", type=int, default=60_000)
    parser.add_argument("--threads", type=int, default=2,
                        help="threads of every tool (PyTorch intra-op, OpenBLAS via threadpoolctl)")
    parser.add_argument("--skip-torch", action="store_true")
    args = parser.parse_args()
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(args.threads)
    except ImportError:
        print("threadpoolctl not installed: OpenBLAS threads left as they are")

    X, y = synthetic_data(args.samples)
    tools = {"ratenet": ratenet_epoch}
    if not args.skip_torch:
        try:
            tools["pytorch"] = TorchEpoch(args.threads)
        except ImportError:
            print("PyTorch not installed: skipped")
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, numpy {np.__version__}, "
          f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', 'unset')}"
          + (f", torch {tools['pytorch'].torch.__version__}" if "pytorch" in tools else ""))
    print(f"MLP {SIZES}, ReLU, softmax cross-entropy, {args.samples} float32 samples, batch {BATCH}, "
          f"SGD lr={LEARNING_RATE}, dropout rate {DROPOUT}; {args.rounds} rounds, {args.threads} "
          f"thread(s); load average before: {os.getloadavg()[0]:.1f}")

    runs = [(tool, variant) for tool in tools for variant in VARIANTS]
    seconds = {run: [] for run in runs}
    ratenet_epoch("plain", X[:2 * BATCH], y[:2 * BATCH])  # warm-up (imports, first allocations)
    for round_index in range(args.rounds):
        order = runs if round_index % 2 == 0 else runs[::-1]
        for tool, variant in order:
            seconds[(tool, variant)].append(tools[tool](variant, X, y))
        print(f"round {round_index + 1}: " + ", ".join(
            f"{tool} {variant} {seconds[(tool, variant)][-1]:.2f} s" for tool, variant in runs))

    print(f"\n{'tool':<9}{'variant':<11}{'epoch (s)':>10}{'vs plain':>10}{'time ratenet/pytorch':>22}"
          "   (medians over rounds; ratios taken per round)")
    for tool, variant in runs:
        median = statistics.median(seconds[(tool, variant)])
        overhead = _median_ratio(seconds[(tool, variant)], seconds[(tool, "plain")])
        versus = ""
        if tool == "ratenet" and "pytorch" in tools:
            versus = f"{_median_ratio(seconds[('ratenet', variant)], seconds[('pytorch', variant)]):>22.2f}"
        print(f"{tool:<9}{variant:<11}{median:>10.2f}{overhead - 1:>+10.1%}{versus}")


def _median_ratio(numerators, denominators) -> float:
    return statistics.median(a / b for a, b in zip(numerators, denominators, strict=True))


if __name__ == "__main__":
    main()
