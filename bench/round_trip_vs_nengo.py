"""Spiking classification throughput: ratenet's spiking twins against the same network in Nengo.

Work (issue 11, "Fast"): scikit-learn's digits (360 test images), each presented for 200 ms, and
the class read from the output layer.

* A 64-100-10 soft-LIF network (``rn.SoftLIFRate(sigma=0.02)``, tau_m = 20 ms, tau_ref = 2 ms) is
  trained on the digits (seed 0), then run as spiking LIF neurons at dt = 1 ms:

  - ``ratenet``: ``rn.to_spiking(net, ns.PSC(0.005), readout="filtered", initial_state="uniform")``
    and ``.run(X_test, t_end=0.2)``: all 360 samples as trials of one network, the hidden layer
    driven by constant currents, the output read from its spike trains through 5 ms exponential
    synapses, averaged after ``t_settle``. Timed: the whole call (building the network, the
    simulation, reading the spikes), with 1 and with 2 Numba threads.
  - ``nengo``: the same converted network in Nengo 4 (reference simulator): a ``PresentInput``
    node shows the 360 images one after the other for 200 ms each; ``Connection(stim,
    hidden.neurons, transform=g W_1)`` (the trained transform, scaled by the LIF gain), hidden
    ``LIF(tau_rc, tau_ref, amplitude=A)`` neurons with bias ``g b_1 + c``, and
    ``Connection(hidden.neurons, out, transform=W_2, synapse=Lowpass(0.005))`` plus a bias node
    ``b_2``. Timed: ``sim.run(72 s)``; the build (``nengo.Simulator(model)``) is reported apart.
    Nengo's neurons start each image where the previous left them, ours at voltages spread
    uniformly (Nengo's own default initial state): the same per-step work.

* A 64-100-10 network trained on a measured Hodgkin-Huxley rate curve
  (``rn.RateCurveActivation(ns.rate_curve("hh", ...), gain=3)``) run as HH neurons at dt = 0.01 ms
  (HH needs it): ``ratenet`` only (Nengo has no HH neuron), samples per second.

The timed runs alternate between the tools for ``--rounds`` rounds in one process; the table
shows medians and the ratio of samples per second. The first call of the spiking twin (Numba's
compile or cache load) is timed apart. Spiking and rate accuracies are printed as the check that
both tools did the work.

    bench/.venv/bin/python bench/round_trip_vs_nengo.py              # 5 rounds (~2 min)
    bench/.venv/bin/python bench/round_trip_vs_nengo.py --rounds 3 --skip-hh

Nengo goes in its own virtual environment (``pip install -e ".[bench]"`` or just ``nengo``).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numba  # noqa: E402
import numpy as np  # noqa: E402

import neurosim as ns  # noqa: E402
import ratenet as rn  # noqa: E402

T_PRESENT = 0.2
DT = 1e-3
TAU_S = 0.005
HIDDEN = 100


def train_lif_network():
    X_train, X_test, y_train, y_test = rn.datasets.digits(seed=0)
    net = rn.MLP([64, HIDDEN, 10], activation=rn.SoftLIFRate(sigma=0.02), output="softmax", seed=0)
    net.fit(X_train, y_train, epochs=40, batch_size=32, optimizer=rn.Adam(lr=1e-3), progress=False)
    return net, X_test, y_test


def train_hh_network(X_train, y_train):
    curve = ns.rate_curve("hh", currents=np.linspace(-20, 40, 61), t_end=1.0, dt=1e-5, t_skip=0.2)
    net = rn.MLP([64, HIDDEN, 10], activation=rn.RateCurveActivation(curve, gain=3.0), output="softmax",
                 seed=0)
    net.fit(X_train, y_train, epochs=40, batch_size=32, optimizer=rn.Adam(lr=1e-3), progress=False)
    return net


def nengo_model(net, X):
    """The converted network in Nengo, showing the samples of X one after the other."""
    import nengo

    dense_in, lif, dense_out = net.layers
    with nengo.Network(seed=0) as model:
        stim = nengo.Node(nengo.processes.PresentInput(X, presentation_time=T_PRESENT))
        neurons = nengo.LIF(tau_rc=lif.tau_m, tau_ref=lif.tau_ref, amplitude=lif.amplitude)
        hidden = nengo.Ensemble(dense_in.n_out, 1, neuron_type=neurons, gain=np.ones(dense_in.n_out),
                                bias=lif.gain * dense_in.b + lif.bias)
        nengo.Connection(stim, hidden.neurons, transform=lif.gain * dense_in.W, synapse=None)
        out = nengo.Node(size_in=dense_out.n_out)
        nengo.Connection(hidden.neurons, out, transform=dense_out.W, synapse=nengo.Lowpass(TAU_S))
        nengo.Connection(nengo.Node(dense_out.b), out, synapse=None)
        probe = nengo.Probe(out, synapse=None)
    return model, probe


def nengo_decisions(data: np.ndarray, n_samples: int, t_settle: float) -> np.ndarray:
    steps = int(round(T_PRESENT / DT))
    per_sample = data[: n_samples * steps].reshape(n_samples, steps, -1)
    return per_sample[:, int(round(t_settle / DT)):].mean(axis=1).argmax(axis=1)


def bench_lif(rounds: int) -> dict:
    import nengo

    net, X_test, y_test = train_lif_network()
    snet = rn.to_spiking(net, ns.PSC(TAU_S), dt=DT, readout="filtered", initial_state="uniform")
    start = time.perf_counter()
    result = snet.run(X_test, T_PRESENT)
    first_call = time.perf_counter() - start
    t_settle = result.t_settle
    ours_accuracy = float(np.mean(result.outputs.argmax(axis=1) == y_test))

    model, probe = nengo_model(net, X_test)
    start = time.perf_counter()
    sim = nengo.Simulator(model, dt=DT, progress_bar=False)
    nengo_build = time.perf_counter() - start
    times = {"ratenet 1 thread": [], "ratenet 2 threads": [], "nengo": []}
    nengo_accuracy = None
    for _ in range(rounds):
        for threads in (1, 2):
            numba.set_num_threads(threads)
            start = time.perf_counter()
            snet.run(X_test, T_PRESENT)
            times[f"ratenet {threads} thread{'s' if threads > 1 else ''}"].append(time.perf_counter() - start)
        sim.reset()
        start = time.perf_counter()
        sim.run(T_PRESENT * X_test.shape[0], progress_bar=False)
        times["nengo"].append(time.perf_counter() - start)
        nengo_accuracy = float(np.mean(nengo_decisions(sim.data[probe], X_test.shape[0], t_settle) == y_test))
    numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
    sim.close()
    return {"n_samples": X_test.shape[0], "times": times, "first_call_s": first_call,
            "nengo_build_s": nengo_build,
            "accuracy": {"rate network": float(net.score(X_test, y_test)), "ratenet spiking": ours_accuracy,
                         "nengo spiking": nengo_accuracy}}


def bench_hh(rounds: int) -> dict:
    X_train, X_test, y_train, y_test = rn.datasets.digits(seed=0)
    net = train_hh_network(X_train, y_train)
    snet = rn.to_spiking(net, ns.PSC(TAU_S), readout="filtered")
    start = time.perf_counter()
    result = snet.run(X_test, T_PRESENT)
    first_call = time.perf_counter() - start
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        snet.run(X_test, T_PRESENT)
        times.append(time.perf_counter() - start)
    return {"n_samples": X_test.shape[0], "times": {f"ratenet HH, {numba.get_num_threads()} threads": times},
            "first_call_s": first_call, "dt": snet.dt,
            "accuracy": {"rate network": float(net.score(X_test, y_test)),
                         "ratenet spiking": float(np.mean(result.outputs.argmax(axis=1) == y_test))}}


def report(title: str, figures: dict) -> None:
    print(f"\n== {title}")
    n = figures["n_samples"]
    medians = {tool: statistics.median(runs) for tool, runs in figures["times"].items()}
    print(f"{'tool':<22} {'median s':>9} {'samples/s':>10}   runs (s)")
    for tool, runs in figures["times"].items():
        print(f"{tool:<22} {medians[tool]:>9.3f} {n / medians[tool]:>10.0f}   "
              + " ".join(f"{r:.3f}" for r in runs))
    if "nengo" in medians:
        for tool in medians:
            if tool != "nengo":
                print(f"ratio {tool} / nengo (samples/s): {medians['nengo'] / medians[tool]:.1f}x")
        print(f"nengo build (Simulator) {figures['nengo_build_s']:.2f} s, apart")
    print(f"first call of the spiking twin (compile or cache load included) {figures['first_call_s']:.2f} s")
    print("accuracy: " + ", ".join(f"{k} {v:.3f}" for k, v in figures["accuracy"].items()))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--skip-hh", action="store_true", help="leave out the HH twin (about 10 s a run)")
    args = parser.parse_args(argv)
    import nengo

    print(f"nengo {nengo.__version__}, numpy {np.__version__}, numba threads "
          f"{numba.config.NUMBA_NUM_THREADS}, OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '-')}")
    print(f"load average at the start {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    report(f"digits, 64-{HIDDEN}-10 soft-LIF twin, {T_PRESENT * 1e3:g} ms per sample at dt = {DT * 1e3:g} ms",
           bench_lif(args.rounds))
    if not args.skip_hh:
        report(f"digits, 64-{HIDDEN}-10 HH-curve twin, {T_PRESENT * 1e3:g} ms per sample at dt = 0.01 ms "
               "(Nengo has no HH neuron)", bench_hh(max(1, args.rounds // 2)))
    print(f"\nload average at the end {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
