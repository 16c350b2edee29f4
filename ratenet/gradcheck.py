"""Gradient checking: backprop's gradients against central finite differences.

For every parameter w of every Dense (or Maxout) layer of a Network, or of every node of a Graph,
the numerical derivative ``(E(w + eps) - E(w - eps)) / (2 eps)`` (error O(eps^2)) is compared with
the backprop gradient.
The error of each parameter array is the norm-wise relative error
``||g_backprop - g_numeric|| / max(||g_backprop|| + ||g_numeric||, tiny)``, which stays
meaningful when single entries are near zero; the result is the largest over all arrays.
"""

from __future__ import annotations

import numpy as np

from ._loop import exclusive
from .model import Model
from .validation import check_positive, check_positive_int


class GradientCheck(float):
    """The maximum relative error (a float), with the detail per layer.

    Attributes
    ----------
    layers : list of dict
        Per checked layer, its label and the error of each of its parameter arrays: for a
        Network, per Dense (or Maxout) layer, ``{"layer": index, "W": rel_error_W, "b":
        rel_error_b}``; for a Graph, per node with parameters, ``{"layer": node_name, "W": ...,
        "b": ...}`` (``"gamma"``, ``"beta"`` for batch normalisation).
    """

    layers: list[dict]

    def __repr__(self) -> str:
        detail = ", ".join(f"layer {entry['layer']}: "
                           + ", ".join(f"{key} {value:.2e}" for key, value in entry.items() if key != "layer")
                           for entry in self.layers)
        return f"GradientCheck(max relative error {float(self):.2e}; {detail})"


def numerical_gradients(net: Model, X, y, eps: float = 1e-6) -> list[tuple[np.ndarray, ...]]:
    """Central finite-difference gradients of the loss for every checked parameter array.

    For a Network: ``(dW, db)`` for every Dense (or Maxout) layer; for a Graph: one tuple per
    node with parameters, in the order of the node's ``parameters()`` (see
    :meth:`ratenet.model.Model.checked_parameters`).

    Each parameter is perturbed by +/- ``eps`` in turn and restored exactly afterwards (so the
    model must not train, nor predict in another thread, meanwhile). The cost is two forward
    passes per parameter, so use small models and batches.
    """
    eps = check_positive("eps", eps)
    inputs, targets = _check_float64(net, X, y)
    result = []
    with exclusive(net, "numerical_gradients"):  # the parameters are perturbed in place
        for _, named in net.checked_parameters():
            group = []
            for param, _ in named.values():
                numeric = np.empty_like(param)
                numeric.reshape(-1)[...] = _finite_differences(net, inputs, targets, param,
                                                               np.arange(param.size), eps)
                group.append(numeric)
            result.append(tuple(group))
    return result


def _check_float64(net: Model, X, y) -> tuple:
    if not isinstance(net, Model):
        raise TypeError(f"net must be a ratenet Network or Graph, got {type(net).__name__}")
    if np.dtype(net.dtype) != np.float64:
        raise ValueError("gradient checks need float64 arithmetic; build the network with "
                         "dtype=np.float64 (finite differences in float32 are dominated by rounding)")
    return net.batch_parts(net.data_arrays(X, y))


def _finite_differences(net: Model, inputs, targets, param: np.ndarray, entries: np.ndarray,
                        eps: float) -> np.ndarray:
    """(E(w + eps) - E(w - eps)) / (2 eps) for the flat ``entries`` of ``param``, each restored."""
    flat = param.reshape(-1)
    numeric = np.empty(entries.size)
    for position, index in enumerate(entries):
        original = flat[index]
        try:
            flat[index] = original + eps
            plus = net.outputs_loss(net.loss_outputs(inputs), targets)
            flat[index] = original - eps
            minus = net.outputs_loss(net.loss_outputs(inputs), targets)
        finally:
            flat[index] = original
        numeric[position] = (plus - minus) / (2 * eps)
    return numeric


def relative_error(analytic: np.ndarray, numeric: np.ndarray) -> float:
    """Norm-wise relative error ||a - n|| / (||a|| + ||n||); 0 when both vanish."""
    denominator = np.linalg.norm(analytic) + np.linalg.norm(numeric)
    if denominator == 0:
        return 0.0
    return float(np.linalg.norm(analytic - numeric) / denominator)


def check_gradients(net: Model, X, y, eps: float = 1e-6, *, max_entries: int | None = None,
                    seed=0) -> GradientCheck:
    """Compare backprop's gradients with central finite differences on every parameter.

    Parameters
    ----------
    net : Network or Graph
        A float64 model (its parameters are perturbed and restored). A Network's Dense (and
        Maxout) layers are checked; a Graph's every node with parameters (batch normalisation's
        gamma and beta included).
    X : array-like, shape (n_samples, n_inputs)
        Inputs as the model takes them (a Graph with several inputs: a dict name -> array).
    y : array-like
        Targets for the model's loss (a Graph with several losses: a dict output name -> target).
    eps : float, default 1e-6
        Finite-difference step.
    max_entries : int, optional
        Check at most this many entries of each parameter array, drawn at random without
        replacement (seeded by ``seed``); the error of an array is then the norm-wise relative
        error over its drawn entries. Default: every entry (two forward passes each), which is
        slow for large networks.
    seed : int or numpy.random.Generator, default 0
        Draws the entries when ``max_entries`` is given.

    Returns
    -------
    GradientCheck
        A float, the maximum norm-wise relative error over all parameter arrays (about 1e-8 or
        less when backprop is right, for smooth activations away from kinks), with ``.layers``
        giving the error of each parameter array, layer by layer.
    """
    eps = check_positive("eps", eps)
    if max_entries is not None:
        max_entries = check_positive_int("max_entries", max_entries)
    inputs, targets = _check_float64(net, X, y)
    rng = np.random.default_rng(seed)
    layers = []
    with exclusive(net, "check_gradients"):  # the gradients are filled, the parameters perturbed
        net.compute_gradients(inputs, targets)
        groups = [(label, {name: (param, gradient.copy()) for name, (param, gradient) in named.items()})
                  for label, named in net.checked_parameters()]
        for label, named in groups:
            errors = {}
            for name, (param, gradient) in named.items():
                entries = np.arange(param.size)
                if max_entries is not None and param.size > max_entries:
                    entries = np.sort(rng.choice(param.size, size=max_entries, replace=False))
                numeric = _finite_differences(net, inputs, targets, param, entries, eps)
                errors[name] = relative_error(gradient.reshape(-1)[entries], numeric)
            layers.append({"layer": label, **errors})
    result = GradientCheck(max((error for entry in layers for key, error in entry.items() if key != "layer"),
                               default=0.0))
    result.layers = layers
    return result
