"""Why the network benches warm each tool up before timing it: a run after a pause is slower.

On this project's 2-core VM a process that has waited (asleep, or while other processes ran) runs
its next short simulation tens of milliseconds slower, in user CPU time and without page faults;
a short run of the same network before it brings the speed back, a busy loop only in part. A
bench that alternates tools gives every tool such a pause before each run, so ``bench/networks.py``
and ``bench/spiking_network.py`` run an untimed ``WARM_UP`` of the network first. This script
measures the effect on the CUBA network (``networks.neurosim_network``), one simulated second per
run, in one process:

* ``back to back``: runs one after the other;
* ``after 1 s asleep``: each run after ``time.sleep(1)``;
* ``asleep, then 0.1 s busy``: the same, then 0.1 s of a busy loop;
* ``asleep, then a warm-up run``: the same, then an untimed run of ``WARM_UP`` s.

Each row: the median wall time, user and system CPU time and minor page faults of 5 runs.

    .venv/bin/python bench/idle_penalty.py
"""

from __future__ import annotations

import os
import resource
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("NUMBA_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from networks import WARM_UP, neurosim_network  # noqa: E402


def _timed(net) -> tuple[float, float, float, int]:
    """Wall, user and system seconds and minor page faults of one run of 1 s."""
    before, start = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    net.run(1.0, progress=False)
    wall, after = time.perf_counter() - start, resource.getrusage(resource.RUSAGE_SELF)
    return (wall, after.ru_utime - before.ru_utime, after.ru_stime - before.ru_stime,
            after.ru_minflt - before.ru_minflt)


def _busy(seconds: float) -> None:
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        pass


def main() -> None:
    net, _, _ = neurosim_network("cuba")
    net.run(0.1, progress=False)                     # compile (or load from the cache)
    pauses = {
        "back to back": lambda: None,
        "after 1 s asleep": lambda: time.sleep(1.0),
        "asleep, then 0.1 s busy": lambda: (time.sleep(1.0), _busy(0.1)),
        "asleep, then a warm-up run": lambda: (time.sleep(1.0), net.run(WARM_UP, progress=False)),
    }
    print(f"CUBA, 1 s simulated per run, medians of 5; load average {os.getloadavg()[0]:.1f}")
    print(f"{'before each run':<28}{'wall (ms)':>10}{'user (ms)':>11}{'sys (ms)':>10}{'page faults':>13}")
    for name, pause in pauses.items():
        rows = []
        for _ in range(5):
            pause()
            rows.append(_timed(net))
        wall, user, system, faults = (statistics.median(column) for column in zip(*rows, strict=True))
        print(f"{name:<28}{wall * 1e3:>10.1f}{user * 1e3:>11.1f}{system * 1e3:>10.1f}{faults:>13.0f}")


if __name__ == "__main__":
    main()
