"""The MLP training work shared by ``ratenet_vs_peers.py`` and ``toolkit_overhead.py``.

Both time a 784-1000-1000-10 ReLU MLP trained with softmax cross-entropy and plain SGD
(``LEARNING_RATE``, no momentum, no weight decay) in mini-batches of ``BATCH`` on synthetic
float32 data; here are those figures, the data (:func:`synthetic_data`) and PyTorch's timed
training epoch (:func:`torch_sgd_epoch`), so that the two benchmarks measure the same work.
The scripts run as ``python bench/<script>.py``, which puts ``bench/`` first on ``sys.path``.
"""

from __future__ import annotations

import time

import numpy as np

SIZES = [784, 1000, 1000, 10]
BATCH = 128
LEARNING_RATE = 0.01


def synthetic_data(n_samples: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian inputs (float32) labelled by a random linear teacher (10 classes)."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_samples, SIZES[0]), dtype=np.float32)
    teacher = rng.standard_normal((SIZES[0], SIZES[-1])).astype(np.float32)
    y = (X @ teacher).argmax(axis=1).astype(np.int64)
    return X, y


def torch_sgd_epoch(torch, model, X: np.ndarray, y: np.ndarray, min_batch: int = 1) -> float:
    """Train ``model`` (a PyTorch module) for one epoch; return the epoch's wall time in seconds.

    Plain SGD (``LEARNING_RATE``) on softmax cross-entropy over ``X``, ``y`` (shared with PyTorch,
    not copied) in mini-batches of ``BATCH`` in a seeded random order; the time runs from the
    shuffle to the last step. A final batch of fewer than ``min_batch`` rows is skipped
    (``min_batch=2`` for BatchNorm1d, which refuses a batch of one, as ratenet does).
    ``torch`` is the imported module, so that this file imports without PyTorch.
    """
    optimizer = torch.optim.SGD(model.parameters(), lr=LEARNING_RATE)
    loss_function = torch.nn.CrossEntropyLoss()
    X_t, y_t = torch.from_numpy(X), torch.from_numpy(y)
    generator = torch.Generator().manual_seed(0)
    start = time.perf_counter()
    order = torch.randperm(X_t.shape[0], generator=generator)
    for first in range(0, X_t.shape[0], BATCH):
        rows = order[first:first + BATCH]
        if rows.shape[0] < min_batch:
            continue
        optimizer.zero_grad(set_to_none=True)
        loss = loss_function(model(X_t[rows]), y_t[rows])
        loss.backward()
        optimizer.step()
    return time.perf_counter() - start
