"""Pre-training throughput: one 784 -> 500 autoencoder layer, ratenet against PyTorch.

The same autoencoder in both: sigmoid hidden units, tied weights (decoder = encoder^T), sigmoid
reconstruction with the Bernoulli cross-entropy summed over the 784 inputs and averaged over the
batch, computed from the logits; plain SGD (lr 0.1), mini-batches of 128 drawn by a fresh shuffle,
one epoch over 60,000 synthetic samples in [0, 1]; optionally masking noise (``--corruption``).
Both run in float32 on the CPU; PyTorch with 2 threads. The tools alternate, round after round, so
that load from other processes hits them alike; the report gives medians over rounds (samples per
second) and ratenet's ratio over PyTorch.

Run in an environment with torch (e.g. /work/torchvenv)::

    python bench/pretrain_vs_torch.py [--rounds 3] [--samples 60000] [--batch 128]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import numpy as np

import ratenet as rn

N_VISIBLE, N_HIDDEN = 784, 500
LEARNING_RATE = 0.1


def synthetic_data(n_samples: int, seed: int = 0) -> np.ndarray:
    """Inputs in [0, 1] with structure to learn: a few smooth random prototypes, mixed and squashed."""
    rng = np.random.default_rng(seed)
    prototypes = rng.standard_normal((20, N_VISIBLE)).astype(np.float32)
    mixing = rng.standard_normal((n_samples, 20)).astype(np.float32)
    return (1.0 / (1.0 + np.exp(-(mixing @ prototypes) / 4))).astype(np.float32)


def ratenet_epoch(X: np.ndarray, batch: int, corruption: float) -> tuple[float, float]:
    autoencoder = rn.Autoencoder(N_VISIBLE, N_HIDDEN, "sigmoid", loss="cross_entropy", tied=True,
                                 corruption=corruption, seed=0, dtype=np.float32)
    start = time.perf_counter()
    history = autoencoder.fit(X, epochs=1, batch_size=batch, optimizer=rn.SGD(lr=LEARNING_RATE),
                              progress=False)
    return time.perf_counter() - start, history.reconstruction_error[-1]


def torch_epoch(X: np.ndarray, batch: int, corruption: float) -> tuple[float, float]:
    import torch

    generator = torch.Generator().manual_seed(0)
    bound = float(np.sqrt(6.0 / (N_VISIBLE + N_HIDDEN)))
    weights = torch.empty(N_HIDDEN, N_VISIBLE).uniform_(-bound, bound, generator=generator).requires_grad_()
    hidden_bias = torch.zeros(N_HIDDEN, requires_grad=True)
    visible_bias = torch.zeros(N_VISIBLE, requires_grad=True)
    optimizer = torch.optim.SGD([weights, hidden_bias, visible_bias], lr=LEARNING_RATE)
    data = torch.from_numpy(X)
    start = time.perf_counter()
    order = torch.randperm(data.shape[0], generator=generator)
    total = 0.0
    for begin in range(0, data.shape[0], batch):
        x = data[order[begin:begin + batch]]
        corrupted = x * (torch.rand(x.shape, generator=generator) >= corruption) if corruption else x
        hidden = torch.sigmoid(corrupted @ weights.T + hidden_bias)
        logits = hidden @ weights + visible_bias
        loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, x, reduction="sum") / x.shape[0]
        optimizer.zero_grad(set_to_none=False)
        loss.backward()
        optimizer.step()
        total += float(loss.detach()) * x.shape[0]
    return time.perf_counter() - start, total / data.shape[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--samples", type=int, default=60_000)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--corruption", type=float, default=0.0)
    parser.add_argument("--threads", type=int, default=2,
                        help="threads of PyTorch and of numpy's BLAS (default 2, the machine's cores)")
    arguments = parser.parse_args()

    import torch
    from threadpoolctl import threadpool_info, threadpool_limits

    torch.set_num_threads(arguments.threads)
    threadpool_limits(limits=arguments.threads, user_api="blas")
    X = synthetic_data(arguments.samples)
    pools = [pool for pool in threadpool_info() if pool["user_api"] == "blas"]
    blas = ", ".join(f"{pool['internal_api']} {pool.get('architecture')} {pool['num_threads']} threads"
                     for pool in pools)
    print(f"{platform.processor() or platform.machine()}, numpy {np.__version__} ({blas}), torch "
          f"{torch.__version__} ({torch.get_num_threads()} threads), "
          f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE')}")
    print(f"autoencoder {N_VISIBLE}->{N_HIDDEN}, tied, sigmoid, cross-entropy, SGD lr {LEARNING_RATE}, "
          f"batch {arguments.batch}, corruption {arguments.corruption}, {arguments.samples} samples, float32")
    # warm-up: BLAS threads, allocator, torch's first-call overheads
    ratenet_epoch(X[:2048], arguments.batch, arguments.corruption)
    torch_epoch(X[:2048], arguments.batch, arguments.corruption)
    tools = {"ratenet": ratenet_epoch, "torch": torch_epoch}
    throughput: dict[str, list[float]] = {name: [] for name in tools}
    errors: dict[str, float] = {}
    for round_index in range(arguments.rounds):
        order = list(tools) if round_index % 2 == 0 else list(tools)[::-1]
        for name in order:
            seconds, error = tools[name](X, arguments.batch, arguments.corruption)
            throughput[name].append(arguments.samples / seconds)
            errors[name] = error
            print(f"  round {round_index + 1}: {name:8s} {seconds:6.2f} s  "
                  f"{arguments.samples / seconds:9.0f} samples/s  reconstruction error {error:.2f}")
    medians = {name: statistics.median(values) for name, values in throughput.items()}
    print("\nmedian samples/s: " + ", ".join(f"{name} {value:.0f}" for name, value in medians.items()))
    print(f"ratenet / torch throughput: {medians['ratenet'] / medians['torch']:.2f}x")
    print("epoch reconstruction error (same model, same data; different random streams): "
          + ", ".join(f"{name} {value:.2f}" for name, value in errors.items()))


if __name__ == "__main__":
    main()
