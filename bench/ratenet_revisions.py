"""ratenet's training and inference throughput at two revisions of this repository, in one run.

The work of ``ratenet_vs_peers.py`` (a 784-1000-1000-10 ReLU MLP, float32, one epoch of plain SGD
in mini-batches of 128 on synthetic data, then class probabilities in chunks of 1024 rows) is
timed in fresh processes that import ratenet from a checkout of each revision, alternating
A B B A ... so that load from other processes hits both alike; the report gives medians and the
median of the per-round ratios B / A. Use it to check that a change costs nothing:

    python bench/ratenet_revisions.py ea14fda HEAD --rounds 6 --samples 30000

Checkouts are made with ``git worktree`` in a temporary folder and removed afterwards. The
revisions must have the same ``ratenet`` API for :func:`_measure` (``MLP``, ``fit``,
``predict_proba``, ``SGD``).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

_WORKER = """
import json, sys, time
sys.path.insert(0, sys.argv[1])
sys.path.insert(1, sys.argv[2])
import numpy as np
import ratenet as rn
from _mlp import BATCH, LEARNING_RATE, SIZES, synthetic_data
X, y = synthetic_data(int(sys.argv[3]))
net = rn.MLP(SIZES, activation="relu", output="softmax", dtype=np.float32, seed=0)
net.fit(X[:256], y[:256], epochs=1, batch_size=BATCH, optimizer=rn.SGD(lr=LEARNING_RATE), progress=False)
net = rn.MLP(SIZES, activation="relu", output="softmax", dtype=np.float32, seed=0)
start = time.perf_counter()
net.fit(X, y, epochs=1, batch_size=BATCH, optimizer=rn.SGD(lr=LEARNING_RATE), progress=False)
train = time.perf_counter() - start
start = time.perf_counter()
net.predict_proba(X)
infer = time.perf_counter() - start
print(json.dumps({"train": len(X) / train, "infer": len(X) / infer}))
"""


def _measure(tree: Path, samples: int) -> dict:
    """Samples per second of training and inference with ratenet imported from ``tree``."""
    result = subprocess.run([sys.executable, "-c", _WORKER, str(tree), str(ROOT / "bench"), str(samples)],
                            capture_output=True, text=True, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("before", help="git revision A (e.g. a commit of main)")
    parser.add_argument("after", help="git revision B (e.g. HEAD)")
    parser.add_argument("--rounds", type=int, default=6, help="A/B pairs (medians are reported)")
    parser.add_argument("--samples", type=int, default=30_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        trees = []
        for label, revision in (("A", args.before), ("B", args.after)):
            tree = Path(folder) / label
            subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(tree), revision],
                           check=True, capture_output=True)
            trees.append(tree)
        try:
            print(f"A = {args.before}, B = {args.after}; {args.samples} samples, {args.rounds} rounds; "
                  f"load average before: {os.getloadavg()[0]:.1f}")
            runs = {"A": [], "B": []}
            for round_index in range(args.rounds):
                order = ("A", "B") if round_index % 2 == 0 else ("B", "A")
                for label in order:
                    runs[label].append(_measure(trees[0 if label == "A" else 1], args.samples))
                print(f"round {round_index + 1}: " + ", ".join(
                    f"{label} train {runs[label][-1]['train']:,.0f}/s infer {runs[label][-1]['infer']:,.0f}/s"
                    for label in ("A", "B")))
            for work in ("train", "infer"):
                ratios = [b[work] / a[work] for a, b in zip(runs["A"], runs["B"], strict=True)]
                print(f"{work}: A {statistics.median(r[work] for r in runs['A']):,.0f} samples/s, "
                      f"B {statistics.median(r[work] for r in runs['B']):,.0f} samples/s, "
                      f"B/A {statistics.median(ratios):.3f} (per-round ratios "
                      f"{', '.join(f'{ratio:.3f}' for ratio in ratios)})")
        finally:
            for tree in trees:
                subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)],
                               capture_output=True)


if __name__ == "__main__":
    main()
