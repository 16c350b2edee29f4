"""The experiment: the data, the six hidden activations, training one network per activation and
seed, and running the LIF networks as spiking networks."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

import neurosim as ns
import ratenet as rn

from .settings import Settings


@dataclass
class Data:
    name: str
    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    description: str


def load_data(name: str, n_test: int | None = None) -> Data:
    """The built-in data set ``name`` ("digits" or "mnist1d"), nothing downloaded."""
    if name == "digits":
        split = rn.datasets.digits(test_size=0.2, seed=0)
        description = ("scikit-learn's 8x8 digits (1797 images, pixels scaled to [0, 1]), "
                       "stratified 80/20 train/test split")
    elif name == "mnist1d":
        split = rn.datasets.mnist1d(n_samples=5000, seed=0)
        description = "MNIST-1D (5000 signals of 40 samples, generated locally), 80/20 split"
    else:
        raise ValueError(f"dataset must be 'digits' or 'mnist1d', got {name!r}")
    X_test, y_test = split.X_test, split.y_test
    if n_test is not None:
        X_test, y_test = X_test[:n_test], y_test[:n_test]
    return Data(name, split.X_train, split.y_train, X_test, y_test, description)


def hh_rate_curve(settings: Settings) -> ns.RateCurve:
    """The Hodgkin-Huxley f-I curve measured by simulation, with its onset bisected."""
    low, high, count = settings.hh_currents
    return ns.rate_curve("hh", np.linspace(low, high, count), t_end=settings.hh_t_end, dt=1e-5,
                         t_skip=settings.hh_t_skip, tol=0.02)


def make_activations(hh_curve: ns.RateCurve, settings: Settings) -> dict[str, Callable[[], rn.Activation]]:
    """Factories of the six hidden activations, by display name.

    The LIF rates have threshold at z = 0 and output 1 at z = 1 (gain 1, bias 1, amplitude
    1/G(2)); the HH curve is shifted to its onset and scaled by ``hh_gain`` µA/cm² per unit of z,
    its output by 1/max rate.
    """
    return {
        "sigmoid": rn.Sigmoid,
        "tanh": rn.Tanh,
        "ReLU": rn.ReLU,
        "LIF rate": rn.LIFRate,
        "soft LIF": rn.SoftLIFRate,
        "HH rate": lambda: rn.RateCurveActivation(hh_curve, gain=settings.hh_gain),
    }


@dataclass
class TrainingRun:
    activation: str
    seed: int
    net: rn.Network
    val_loss: list[float]
    val_accuracy: list[float]
    epochs_to_converge: int
    epochs_run: int
    seconds: float
    test_accuracy: float
    spiking_accuracy: float | None = None
    presentation_times: np.ndarray | None = None
    accuracy_over_time: np.ndarray | None = None


def epochs_to_converge(val_loss: Sequence[float], within: float) -> int:
    """First epoch (counted from 1) whose validation loss is within ``within`` (a fraction) of
    the lowest validation loss of the run."""
    losses = np.asarray(val_loss)
    return int(np.argmax(losses <= losses.min() * (1.0 + within))) + 1


def train_one(name: str, factory: Callable[[], rn.Activation], seed: int, data: Data,
              settings: Settings) -> TrainingRun:
    """Train the MLP with hidden activation ``factory()``; the weights of the epoch with the lowest
    validation loss are kept."""
    # float32: a third faster than float64 here, with the same accuracies.
    net = rn.MLP([data.X_train.shape[1], settings.hidden, 10], activation=factory(), output="softmax",
              seed=seed, dtype=np.float32)
    start = time.perf_counter()
    history = rn.fit(net, data.X_train, data.y_train, epochs=settings.max_epochs,
                  batch_size=settings.batch_size, optimizer=rn.Adam(lr=settings.learning_rate),
                  validation_split=settings.validation_split, seed=seed, progress=False,
                  callbacks=[rn.EarlyStopping("val_loss", patience=settings.patience)])   # keeps the best
    seconds = time.perf_counter() - start
    return TrainingRun(name, seed, net, list(history.val_loss), list(history.val_accuracy),
                       epochs_to_converge(history.val_loss, settings.converged_within), len(history),
                       seconds, float(net.score(data.X_test, data.y_test)))


def run_spiking(run: TrainingRun, data: Data, settings: Settings) -> None:
    """Spiking accuracy of ``run.net`` and its accuracy against presentation time (in place)."""
    classifier = rn.to_spiking(run.net, ns.PSC(settings.tau_s), dt=settings.dt)
    times, accuracy = classifier.accuracy_over_time(data.X_test, data.y_test, t_end=settings.t_present,
                                                    n_points=settings.n_time_points, progress=False)
    run.presentation_times, run.accuracy_over_time = times, accuracy
    # The last point averages over [t_settle, t_present), the window of classifier.score: no second run.
    run.spiking_accuracy = float(accuracy[-1])


def sweep_spiking(net: rn.Network, data: Data, settings: Settings, step: Callable[[], None]) -> dict:
    """Accuracy against presentation time for each tau_s (at dt = settings.dt) and each dt (at
    tau_s = settings.tau_s), inputs as constant currents; and, when the inputs are >= 0, for each
    tau_s with the inputs as Poisson spike trains (200 Hz per unit). Returns
    ``{"tau_s": [(times, accuracy), ...], "dt": [...], "tau_s_poisson": [...] or None}``."""
    def curve(tau_s: float, dt: float, input: str = "current") -> tuple[np.ndarray, np.ndarray]:
        # Euler synapses need dt < 2 tau_s; where that fails the exact decay is used.
        method = "euler" if dt < 2 * tau_s else "exact"
        result = rn.to_spiking(net, ns.PSC(tau_s, method=method), dt=dt, input=input).accuracy_over_time(
            data.X_test, data.y_test, t_end=settings.t_present, n_points=settings.n_time_points,
            progress=False, seed=0)
        step()
        return result

    poisson = None
    if np.all(data.X_test >= 0):
        poisson = [curve(tau_s, settings.dt, "spikes") for tau_s in settings.tau_s_sweep]
    return {"tau_s": [curve(tau_s, settings.dt) for tau_s in settings.tau_s_sweep],
            "dt": [curve(settings.tau_s, dt) for dt in settings.dt_sweep],
            "tau_s_poisson": poisson}
