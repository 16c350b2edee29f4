"""The perceptron of the course notes' Chapter 7: one threshold unit and its learning rule.

The unit computes ``o = step(w . x + b)`` with ``step(z) = 1 for z >= 0, else 0`` (the
:class:`~ratenet.activations.Threshold` activation). Learning goes through the training samples
one at a time, in order; after each it applies

    E = t - o,    w <- w + eta E x,    b <- b + eta E

(nothing changes when the output is right, E = 0). Training stops after the first epoch without a
single error, or after ``max_epochs``. The perceptron convergence theorem guarantees the first for
linearly separable data (OR); for data that no line separates (XOR) the rule cycles forever, and
:meth:`Perceptron.fit` says so: its result has ``converged=False`` and a warning is issued.

Conventions, where other texts and libraries differ:

- The bias is a weight on a constant input of 1, so it follows the weights' rule, ``b <- b + eta E``.
  Texts that write the unit with a threshold, ``o = step(w . x - theta)``, have ``theta = -b`` and
  the rule ``theta <- theta - eta E``: the same perceptron.
- ``step(0) = 1``: a sample exactly on the boundary counts as class 1, and a target of 1 there is
  no error. scikit-learn's ``Perceptron`` (labels y = +-1, ``eta0`` for eta) updates
  ``w <- w + eta y x``, ``b <- b + eta y`` whenever ``y (w . x + b) <= 0``, so it also updates on
  the boundary, for either class; from zero weights (where every z is 0) the two rules part at the
  first sample. Off the boundary they are the same rule (``E = t - o`` is ``y`` on an error, 0
  otherwise). scikit-learn also shuffles the samples every epoch by default (``shuffle=True``);
  here they are visited in order. PyTorch has no perceptron rule.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np

from .activations import Threshold
from .validation import as_finite_array, check_finite, check_positive, check_positive_int

__all__ = ["Perceptron", "PerceptronConvergenceWarning", "PerceptronResult"]


class PerceptronConvergenceWarning(UserWarning):
    """Training stopped at ``max_epochs`` with errors left (the data may not be linearly separable)."""


@dataclass
class PerceptronResult:
    """What :meth:`Perceptron.fit` did.

    Attributes
    ----------
    converged : bool
        True if an epoch went by without an error.
    epochs : int
        Number of epochs run.
    errors : int
        Number of misclassified samples (updates made) in the last epoch; 0 when converged.
    errors_per_epoch : list of int
        The same count for every epoch, in order.
    weights : ndarray, shape (n_inputs,)
        Copy of the weights after training.
    bias : float
        The bias after training.
    """

    converged: bool
    epochs: int
    errors: int
    errors_per_epoch: list[int] = field(repr=False)
    weights: np.ndarray = field(repr=False)
    bias: float = field(repr=False)

    def __repr__(self) -> str:
        state = "converged" if self.converged else "did NOT converge"
        return (f"PerceptronResult({state} after {self.epochs} epoch(s), {self.errors} error(s) in the "
                f"last epoch, weights={np.array2string(self.weights, precision=4)}, bias={self.bias:.4g})")


class Perceptron:
    """A single threshold unit trained by the perceptron rule.

    Parameters
    ----------
    n_inputs : int
        Number of inputs, >= 1.
    learning_rate : float
        eta in ``w <- w + eta E x``, > 0. Default 1, the notes' rule ``w <- w + E x``. (Starting from
        zero weights, eta only rescales w and b and does not change the decisions.)
    weights : array_like, shape (n_inputs,), optional
        Initial weights. Default: zeros, unless ``seed`` is given.
    bias : float
        Initial bias. Default 0.
    seed : int or numpy.random.Generator, optional
        If given (and ``weights`` is not), initial weights are drawn uniformly from [-0.5, 0.5].

    Attributes
    ----------
    weights : ndarray, shape (n_inputs,)
    bias : float

    Examples
    --------
    >>> X, y = ratenet.datasets.logical_or()
    >>> perceptron = Perceptron(2)
    >>> perceptron.fit(X, y).converged
    True
    >>> perceptron.predict(X)
    array([0, 1, 1, 1])
    """

    def __init__(self, n_inputs: int, learning_rate: float = 1.0, weights: object = None, bias: float = 0.0,
                 seed: int | np.random.Generator | None = None):
        self.n_inputs = check_positive_int("n_inputs", n_inputs)
        self.learning_rate = check_positive("learning_rate", learning_rate)
        if weights is not None:
            weights = as_finite_array("weights", weights, ndim=1).copy()
            if weights.shape != (self.n_inputs,):
                raise ValueError(f"weights must have shape ({self.n_inputs},), got {weights.shape}")
        elif seed is not None:
            weights = np.random.default_rng(seed).uniform(-0.5, 0.5, size=self.n_inputs)
        else:
            weights = np.zeros(self.n_inputs)
        self.weights: np.ndarray = weights
        self.bias = check_finite("bias", bias)
        self._step = Threshold()

    def decision_function(self, X: object) -> np.ndarray:
        """The weighted input ``z = X w + b``, shape (n_samples,), for X of shape (n_samples, n_inputs)."""
        return self._check_X(X) @ self.weights + self.bias

    def predict(self, X: object) -> np.ndarray:
        """The unit's outputs ``step(X w + b)`` in {0, 1}, int64 of shape (n_samples,)."""
        return self._step(self.decision_function(X)).astype(np.int64)

    def fit(self, X: object, y: object, max_epochs: int = 100) -> PerceptronResult:
        """Train with the perceptron rule until an epoch without errors or ``max_epochs``.

        Parameters
        ----------
        X : array_like, shape (n_samples, n_inputs)
            Inputs, visited in order in every epoch.
        y : array_like, shape (n_samples,)
            Targets, each 0 or 1.
        max_epochs : int
            Most epochs to run, >= 1. Default 100.

        Returns
        -------
        PerceptronResult
            With ``converged=False`` (and a :class:`PerceptronConvergenceWarning`) if errors were
            left after ``max_epochs``.
        """
        X = self._check_X(X)
        targets = as_finite_array("y", y, ndim=1)
        if targets.shape[0] != X.shape[0]:
            raise ValueError(f"y must hold one target per sample of X ({X.shape[0]}), got {targets.shape[0]}")
        if not np.all((targets == 0) | (targets == 1)):
            raise ValueError("y must hold targets 0 or 1 (the threshold unit's outputs)")
        max_epochs = check_positive_int("max_epochs", max_epochs)
        errors_per_epoch: list[int] = []
        for _ in range(max_epochs):
            errors = 0
            for x, target in zip(X, targets, strict=True):
                output = 1.0 if x @ self.weights + self.bias >= 0 else 0.0
                error = target - output  # the notes' E, in {-1, 0, 1}
                if error != 0:
                    errors += 1
                    self.weights += self.learning_rate * error * x
                    self.bias += self.learning_rate * error
            errors_per_epoch.append(errors)
            if errors == 0:
                break
        result = PerceptronResult(converged=errors == 0, epochs=len(errors_per_epoch), errors=errors,
                                  errors_per_epoch=errors_per_epoch, weights=self.weights.copy(),
                                  bias=float(self.bias))
        if not result.converged:
            warnings.warn(f"the perceptron did not converge in {max_epochs} epochs: {errors} of {X.shape[0]} "
                          "samples were still misclassified in the last epoch; the data may not be linearly "
                          "separable (as XOR is not)", PerceptronConvergenceWarning, stacklevel=2)
        return result

    def _check_X(self, X: object) -> np.ndarray:
        X = as_finite_array("X", X, ndim=2)
        if X.shape[1] != self.n_inputs:
            raise ValueError(f"X must have {self.n_inputs} columns (n_inputs), got shape {X.shape}")
        return X

    def __repr__(self) -> str:
        return (f"Perceptron(n_inputs={self.n_inputs}, learning_rate={self.learning_rate:g}, "
                f"weights={np.array2string(self.weights, precision=4)}, bias={self.bias:.4g})")
