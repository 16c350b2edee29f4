"""Debugging a network on a small data set, as Larochelle's lectures advise before a long training
run: are the gradients right, is the loss at initialisation what it should be, and can the
network learn a handful of samples by heart?

:func:`debug_on_small_data` runs the three checks on a float64 copy of the network (the user's
network, data and optimiser are never changed) and returns a :class:`SmallDataReport` with each
check's numbers, a pass/fail and advice.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field

import numpy as np

from .gradcheck import check_gradients
from .layers import WeightLayer
from .losses import MSE, BinaryCrossEntropy, L1Error, Loss, SoftmaxCrossEntropy, SparsemaxLoss
from .network import Network
from .optimizers import Adam, Optimizer, get_optimizer
from .regularization import Dropout
from .validation import check_positive, check_positive_int

#: Samples on which the initial loss is measured (at most; drawn at random).
INITIAL_LOSS_SAMPLES = 1000


@dataclass
class DebugCheck:
    """One check of :func:`debug_on_small_data`.

    Attributes
    ----------
    name : str
        ``"gradient_check"``, ``"initial_loss"`` or ``"overfit_small_subset"``.
    passed : bool or None
        None when the check could not judge (e.g. no expected initial loss for a custom loss).
    summary : str
        One line with the numbers.
    numbers : dict
        The measured and expected values, by name.
    advice : str
        What to look at when the check fails (empty when it passes).
    """

    name: str
    passed: bool | None
    summary: str
    numbers: dict = field(default_factory=dict)
    advice: str = ""

    def __repr__(self) -> str:
        mark = {True: "pass", False: "FAIL", None: "----"}[self.passed]
        text = f"[{mark}] {self.name}: {self.summary}"
        if self.advice:
            text += f"\n       advice: {self.advice}"
        return text


@dataclass
class SmallDataReport:
    """What :func:`debug_on_small_data` found: its checks, in order, and whether all passed.

    ``report["initial_loss"]`` gives a check by name; ``report.passed`` is True when no check
    failed (checks that could not judge do not count against it).
    """

    checks: list[DebugCheck]

    @property
    def passed(self) -> bool:
        return all(check.passed is not False for check in self.checks)

    def __getitem__(self, name: str) -> DebugCheck:
        for check in self.checks:
            if check.name == name:
                return check
        raise KeyError(f"no check {name!r}; the checks are {[check.name for check in self.checks]}")

    def __repr__(self) -> str:
        failed = sum(check.passed is False for check in self.checks)
        head = ("SmallDataReport: every check passed" if failed == 0
                else f"SmallDataReport: {failed} of {len(self.checks)} checks FAILED")
        return "\n".join([head, *("  " + repr(check).replace("\n", "\n  ") for check in self.checks)])


def debug_on_small_data(net: Network, X, y, *, n_samples: int = 20, gradient_samples: int = 5,
                        max_gradient_entries: int = 200, gradient_tolerance: float = 1e-5,
                        initial_loss_factor: float | None = None, epochs: int = 500, optimizer=None,
                        overfit_fraction: float = 0.01, seed=0) -> SmallDataReport:
    """Run Larochelle's small-data checks on a copy of ``net``: gradients, initial loss, overfitting.

    1. **Gradient check**: backprop against central finite differences
       (:func:`~ratenet.check_gradients`) on ``gradient_samples`` samples, at most
       ``max_gradient_entries`` random entries per parameter array. Passes below
       ``gradient_tolerance`` (a correct backprop gives ~1e-8; a wrong one ~1e-2 or more).
    2. **Initial loss** against the loss of a network that knows nothing yet, on up to 1,000
       samples (:func:`expected_initial_loss`): softmax cross-entropy ``log C`` for C classes
       (uniform probabilities); binary cross-entropy ``n_outputs log 2`` (every probability 1/2);
       the sparsemax loss ``(1 - 1/C) / 2`` (equal logits); MSE ``1/2 mean ||t||^2`` and L1
       ``mean sum|t|`` (outputs near 0). Passes within a factor of it either way: 2 for the
       cross-entropies, 5 for MSE and L1 (a fresh network's outputs are O(1), not 0, and add their
       own spread), 10 for the sparsemax loss (sparsemax has no temperature, so logits of a
       Glorot-initialised network, spread by ~1, already make it far from uniform). Measured on
       the digits with 64-100-100-C ReLU, tanh and sigmoid networks: healthy starts lie at 1.05-1.45
       times the value (cross-entropies), 1.1-3.5 (MSE), 2-5 (sparsemax); unscaled inputs (pixels
       times 100) into ReLUs at 40-6,000 times. Meaningful for a freshly built network, before
       ``fit``. Other losses are not judged.
    3. **Overfitting a small subset**: ``n_samples`` random samples, trained full-batch for up to
       ``epochs`` epochs with ``optimizer`` (default ``Adam(lr=0.01)``), dropout switched off and no
       weight penalty. Passes when the training loss falls to ``overfit_fraction`` of its initial
       value (and, for classification, every sample is classified right).

    Parameters
    ----------
    net : Network
        Not changed: the checks run on a float64 copy (its layers deep-copied, weights kept).
    X : array-like, shape (n_total, n_inputs)
    y : array-like
        Targets in the form the network's loss takes.
    n_samples : int, default 20
        Size of the subset to overfit (Larochelle: "a small subset of the training set").
    gradient_samples : int, default 5
    max_gradient_entries : int, default 200
        Entries checked per parameter array (two forward passes each).
    gradient_tolerance : float, default 1e-5
    initial_loss_factor : float > 1, optional
        Overrides the factor above.
    epochs : int, default 500
        Training stops earlier once the target loss is reached.
    optimizer : str or Optimizer, optional
        Copied, never changed.
    overfit_fraction : float in (0, 1), default 0.01
    seed : int, default 0
        Draws the subsets, the gradient-check entries and the copy's shuffling/dropout streams.

    Returns
    -------
    SmallDataReport
        ``report.passed``, ``report["gradient_check"]`` etc., and a readable repr.

    Examples
    --------
    >>> net = rn.MLP([64, 100, 10], activation="relu", seed=0)
    >>> report = rn.debug_on_small_data(net, X_train, y_train)
    >>> report.passed
    True
    """
    if not isinstance(net, Network):
        raise TypeError(f"net must be a ratenet Network, got {type(net).__name__}")
    n_samples = check_positive_int("n_samples", n_samples)
    gradient_samples = check_positive_int("gradient_samples", gradient_samples)
    max_gradient_entries = check_positive_int("max_gradient_entries", max_gradient_entries)
    gradient_tolerance = check_positive("gradient_tolerance", gradient_tolerance)
    if initial_loss_factor is not None:
        initial_loss_factor = check_positive("initial_loss_factor", initial_loss_factor)
        if initial_loss_factor <= 1:
            raise ValueError(f"initial_loss_factor must be > 1, got {initial_loss_factor!r}")
    epochs = check_positive_int("epochs", epochs)
    overfit_fraction = check_positive("overfit_fraction", overfit_fraction)
    if overfit_fraction >= 1:
        raise ValueError(f"overfit_fraction must be in (0, 1), got {overfit_fraction!r}")
    optimizer = copy.deepcopy(get_optimizer(Adam(lr=0.01) if optimizer is None else optimizer))
    optimizer.reset()

    twin = float64_copy(net, seed=seed)
    X_all, y_all = twin.check_Xy(X, y)
    rng = np.random.default_rng(seed)
    subset = rng.permutation(X_all.shape[0])[:n_samples]
    if subset.size < 2:
        raise ValueError("X must hold at least 2 samples to debug on")
    X_small, y_small = X_all[subset], y_all[subset]
    gradient_rows = subset[:gradient_samples]
    loss_rows = rng.permutation(X_all.shape[0])[:INITIAL_LOSS_SAMPLES]

    checks = [_gradient_check(twin, X_all[gradient_rows], y_all[gradient_rows], max_gradient_entries,
                              gradient_tolerance, rng),
              _initial_loss_check(twin, X_all[loss_rows], y_all[loss_rows], initial_loss_factor,
                                  trained=net.history is not None),
              _overfit_check(twin, X_small, y_small, epochs, optimizer, overfit_fraction, seed)]
    return SmallDataReport(checks)


def float64_copy(net: Network, seed=0) -> Network:
    """A float64 :class:`~ratenet.Network` with deep copies of ``net``'s layers and loss, keeping
    every weight (nothing is re-initialised) and sharing no array with ``net``."""
    layers = copy.deepcopy(net.layers)
    for layer in layers:
        if isinstance(layer, WeightLayer):
            layer.weights_given = True
    return Network(layers, loss=copy.deepcopy(net.loss), seed=seed, dtype=np.float64, init=net.init)


def _gradient_check(twin: Network, X, target, max_entries: int, tolerance: float,
                    rng: np.random.Generator) -> DebugCheck:
    error = check_gradients(twin, X, target, max_entries=max_entries, seed=rng)
    worst = max(error.layers, key=lambda entry: max(entry["W"], entry["b"]))
    numbers = {"max_relative_error": float(error), "tolerance": tolerance, "samples": X.shape[0],
               "per_layer": error.layers}
    summary = (f"max relative error {float(error):.2e} between backprop and finite differences "
               f"(tolerance {tolerance:.0e}) on {X.shape[0]} samples")
    if error < tolerance:
        return DebugCheck("gradient_check", True, summary, numbers)
    position = twin.layers.index(twin.dense_layers[worst["layer"]])
    advice = (f"backprop disagrees with finite differences, worst at weight layer {worst['layer']} "
              f"(network layer {position}, {twin.dense_layers[worst['layer']]!r}); the layers above it "
              "pass it their gradient: check the backward() of any custom layer or activation there. "
              "Activations with kinks (ReLU, LIF rate) can spoil a finite difference when a "
              "pre-activation sits within eps of the kink: rerun with another seed to tell the two apart.")
    return DebugCheck("gradient_check", False, summary, numbers, advice)


def expected_initial_loss(loss: Loss, target: np.ndarray, n_outputs: int) -> tuple[float, str, float] | None:
    """The loss of a network that knows nothing yet, how it is derived, and the factor within which
    a healthy start lies (see :func:`debug_on_small_data`); None for a loss it does not know.

    Softmax cross-entropy: log C; binary cross-entropy: n_outputs log 2; sparsemax loss:
    (1 - 1/C) / 2; MSE: 1/2 mean ||t||^2; L1: mean sum |t| (``target`` as prepared by the loss).
    """
    if isinstance(loss, SoftmaxCrossEntropy):
        return math.log(n_outputs), f"log C = log {n_outputs} (uniform probabilities)", 2.0
    if isinstance(loss, BinaryCrossEntropy):
        return n_outputs * math.log(2), f"{n_outputs} x log 2 (every probability 1/2)", 2.0
    if isinstance(loss, SparsemaxLoss):
        return (1 - 1 / n_outputs) / 2, f"(1 - 1/C) / 2 with C = {n_outputs} (equal logits)", 10.0
    if isinstance(loss, MSE):
        return 0.5 * float(np.mean(np.sum(np.square(target), axis=1))), "1/2 mean ||t||^2 (outputs ~ 0)", 5.0
    if isinstance(loss, L1Error):
        return float(np.mean(np.sum(np.abs(target), axis=1))), "mean sum |t| (outputs ~ 0)", 5.0
    return None


def _initial_loss_check(twin: Network, X, target, factor: float | None, trained: bool) -> DebugCheck:
    value = twin.loss_value(X, target)
    expected = expected_initial_loss(twin.loss, target, twin.n_outputs)
    if expected is not None and factor is None:
        factor = expected[2]
    numbers = {"initial_loss": value, "expected": None if expected is None else expected[0],
               "factor": factor, "samples": X.shape[0]}
    note = (" (the network has been trained: this check is meant for a freshly built one)"
            if trained else "")
    if expected is None or expected[0] <= 0:
        return DebugCheck("initial_loss", None, f"{value:.4g}; no expected value for {twin.loss!r}{note}",
                          numbers)
    expected_value, derivation, _ = expected
    summary = f"{value:.4g}, expected {derivation} = {expected_value:.4g}, within a factor {factor:g}{note}"
    if expected_value / factor <= value <= expected_value * factor:
        return DebugCheck("initial_loss", True, summary, numbers)
    if value > expected_value:
        advice = ("the initial loss is too high: the network's first outputs are far too large. "
                  "Standardize the inputs (zero mean, unit variance per feature; for regression the "
                  "targets too), keep the default Glorot/He initialisation rather than larger weights, "
                  "and start the output biases at zero.")
    else:
        advice = ("the initial loss is lower than a network that knows nothing should have: check "
                  "that the targets are what the loss expects (labels 0..C-1, one-hot rows) and that "
                  "the weights were not already trained or loaded.")
    return DebugCheck("initial_loss", False, summary, numbers, advice)


def _overfit_check(twin: Network, X, target, epochs: int, optimizer: Optimizer, fraction: float,
                   seed) -> DebugCheck:
    for layer in twin.layers:
        if isinstance(layer, Dropout):
            layer.rate = 0.0   # the copy's dropout is switched off (its forward is then the identity)
    start = twin.loss_value(X, target)
    goal = fraction * start

    def reached(net, epoch, logs):
        return logs["loss"] <= goal

    with np.errstate(all="ignore"):
        try:
            history = twin.fit(X, target, epochs=epochs, batch_size=None, optimizer=optimizer, seed=seed,
                               callbacks=[reached], progress=False)
            final, diverged = history.loss[-1], False
        except FloatingPointError:
            final, diverged, history = math.inf, True, None
    accuracy = history.accuracy[-1] if history is not None and history.accuracy else None
    numbers = {"samples": X.shape[0], "initial_loss": start, "final_loss": final, "target_loss": goal,
               "epochs": 0 if history is None else len(history), "accuracy": accuracy,
               "optimizer": repr(optimizer)}
    summary = (f"{X.shape[0]} samples: loss {start:.4g} -> {final:.4g} in {numbers['epochs']} epochs "
               f"(target <= {goal:.3g})")
    if accuracy is not None:
        summary += f", training accuracy {accuracy:.3f}"
    if diverged:
        return DebugCheck("overfit_small_subset", False, summary, numbers,
                          "training diverged (the loss became non-finite or ran far above its start) "
                          f"with {optimizer!r}: lower the learning rate.")
    if final <= goal and (accuracy is None or accuracy == 1.0):
        return DebugCheck("overfit_small_subset", True, summary, numbers)
    if final > start:
        return DebugCheck("overfit_small_subset", False, summary, numbers,
                          f"the loss grew during training with {optimizer!r}: the learning rate is "
                          "probably too large; lower the learning rate.")
    advice = (f"the network cannot learn {X.shape[0]} samples by heart. If the loss barely moved, raise "
              f"the learning rate or the epochs ({optimizer!r}, {epochs} epochs); if it stalls high, look "
              "for dead (ReLU) or saturated (sigmoid, tanh) units, too few hidden units, or wrong labels "
              "(shuffled X against y); a gradient check that fails points to a bug in backprop.")
    return DebugCheck("overfit_small_subset", False, summary, numbers, advice)
