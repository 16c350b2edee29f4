"""Training and inference throughput of ratenet against PyTorch and scikit-learn.

The same 784-1000-1000-10 ReLU MLP, trained for one epoch on 60,000 synthetic samples with
mini-batches of 128 and plain SGD (lr 0.01, no momentum, no weight decay), softmax cross-entropy;
then inference (class probabilities) on the same 60,000 samples in chunks of 1024 rows. PyTorch
runs on the CPU in float32 with 2 threads; scikit-learn's MLPClassifier (solver "sgd", one epoch
per ``partial_fit``) in float32 and float64; ratenet in float32 (and float64 for reference).

The tools run alternately, round after round, so that load from other processes on the machine
hits them alike; the report gives medians over rounds and our ratio over each peer.

Run (PyTorch and scikit-learn in the same environment as ratenet)::

    python bench/ratenet_vs_peers.py [--rounds 3] [--samples 60000] [--threads 2]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
import warnings

import numpy as np
from _mlp import BATCH, LEARNING_RATE, SIZES, synthetic_data, torch_sgd_epoch

import ratenet as rn

INFERENCE_CHUNK = 1024


# --------------------------------------------------------------------------------------- ratenet
class Ratenet:
    def __init__(self, dtype):
        self.dtype = dtype
        self.name = f"ratenet {np.dtype(dtype).name}"

    def train_epoch(self, X, y) -> float:
        self.net = rn.MLP(SIZES, activation="relu", output="softmax", dtype=self.dtype, seed=0)
        X = X.astype(self.dtype, copy=False)
        start = time.perf_counter()
        self.net.fit(X, y, epochs=1, batch_size=BATCH, optimizer=rn.SGD(lr=LEARNING_RATE), progress=False)
        return time.perf_counter() - start

    def infer(self, X) -> float:
        X = X.astype(self.dtype, copy=False)
        start = time.perf_counter()
        self.net.predict_proba(X)
        return time.perf_counter() - start


# --------------------------------------------------------------------------------------- PyTorch
class Torch:
    name = "pytorch float32"

    def __init__(self, threads: int = 2):
        import torch

        torch.set_num_threads(threads)
        self.torch = torch

    def train_epoch(self, X, y) -> float:
        torch = self.torch
        torch.manual_seed(0)
        self.model = torch.nn.Sequential(
            torch.nn.Linear(SIZES[0], SIZES[1]), torch.nn.ReLU(),
            torch.nn.Linear(SIZES[1], SIZES[2]), torch.nn.ReLU(),
            torch.nn.Linear(SIZES[2], SIZES[3]))
        return torch_sgd_epoch(torch, self.model, X, y)

    def infer(self, X) -> float:
        torch = self.torch
        X_t = torch.from_numpy(X)
        start = time.perf_counter()
        with torch.inference_mode():
            for first in range(0, X_t.shape[0], INFERENCE_CHUNK):
                torch.softmax(self.model(X_t[first:first + INFERENCE_CHUNK]), dim=1)
        return time.perf_counter() - start


# ---------------------------------------------------------------------------------- scikit-learn
class Sklearn:
    def __init__(self, dtype):
        self.dtype = dtype
        self.name = f"scikit-learn {np.dtype(dtype).name}"

    def train_epoch(self, X, y) -> float:
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.neural_network import MLPClassifier

        self.model = MLPClassifier(hidden_layer_sizes=tuple(SIZES[1:-1]), activation="relu",
                                   solver="sgd", learning_rate_init=LEARNING_RATE, momentum=0.0,
                                   nesterovs_momentum=False, alpha=0.0, batch_size=BATCH,
                                   shuffle=True, random_state=0)
        X = X.astype(self.dtype, copy=False)
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            self.model.partial_fit(X, y, classes=np.arange(SIZES[-1]))
        return time.perf_counter() - start

    def infer(self, X) -> float:
        X = X.astype(self.dtype, copy=False)
        start = time.perf_counter()
        for first in range(0, X.shape[0], INFERENCE_CHUNK):
            self.model.predict_proba(X[first:first + INFERENCE_CHUNK])
        return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds (medians are reported)")
    parser.add_argument("--samples", type=int, default=60_000)
    parser.add_argument("--skip", nargs="*", default=[], help="tools to skip: torch sklearn float64")
    parser.add_argument("--threads", type=int, default=2,
                        help="threads of every tool (PyTorch intra-op, OpenBLAS via threadpoolctl); "
                             "1 gives steadier ratios on a machine loaded by other work")
    args = parser.parse_args()
    if args.threads != 2:
        from threadpoolctl import threadpool_limits

        threadpool_limits(args.threads)

    X, y = synthetic_data(args.samples)
    tools = [Ratenet(np.float32)]
    if "torch" not in args.skip:
        try:
            tools.append(Torch(args.threads))
        except ImportError:
            print("PyTorch not installed: skipped")
    if "sklearn" not in args.skip:
        tools.append(Sklearn(np.float32))
        if "float64" not in args.skip:
            tools.append(Sklearn(np.float64))
    if "float64" not in args.skip:
        tools.append(Ratenet(np.float64))

    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, numpy {np.__version__}, "
          f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', 'unset')}")
    try:
        from threadpoolctl import threadpool_info

        for pool in threadpool_info():
            print(f"  {pool['internal_api']} {pool.get('version')} {pool.get('architecture')} "
                  f"threads={pool['num_threads']} ({os.path.basename(pool['filepath'])})")
    except ImportError:
        pass
    print(f"MLP {SIZES}, ReLU, softmax cross-entropy, {args.samples} samples, batch {BATCH}, "
          f"SGD lr={LEARNING_RATE}; inference in chunks of {INFERENCE_CHUNK}; {args.rounds} rounds, "
          f"{args.threads} thread(s) per tool; load average before: {os.getloadavg()[0]:.1f}")

    train = {tool.name: [] for tool in tools}
    infer = {tool.name: [] for tool in tools}
    for round_index in range(args.rounds):
        order = tools if round_index % 2 == 0 else tools[::-1]
        for tool in order:
            train[tool.name].append(args.samples / tool.train_epoch(X, y))
            infer[tool.name].append(args.samples / tool.infer(X))
        print(f"round {round_index + 1}: " + ", ".join(
            f"{name} {train[name][-1]:,.0f}/{infer[name][-1]:,.0f}" for name in train))

    # Ratios are taken within each round (same load for both tools), then their median.
    ours = "ratenet float32"
    print(f"\n{'tool':<22}{'train samples/s':>18}{'infer samples/s':>18}{'ours/peer train':>18}"
          f"{'ours/peer infer':>18}   (medians; ratios: median of per-round ratios)")
    for name in train:
        train_ratio = statistics.median(a / b for a, b in zip(train[ours], train[name], strict=True))
        infer_ratio = statistics.median(a / b for a, b in zip(infer[ours], infer[name], strict=True))
        print(f"{name:<22}{statistics.median(train[name]):>18,.0f}{statistics.median(infer[name]):>18,.0f}"
              f"{train_ratio:>18.2f}{infer_ratio:>18.2f}")


if __name__ == "__main__":
    main()
