"""Gradient checking: backprop's gradients against central finite differences.

For every parameter w of every Dense (or Maxout) layer, the numerical derivative
``(E(w + eps) - E(w - eps)) / (2 eps)`` (error O(eps^2)) is compared with the backprop gradient.
The error of each parameter array is the norm-wise relative error
``||g_backprop - g_numeric|| / max(||g_backprop|| + ||g_numeric||, tiny)``, which stays
meaningful when single entries are near zero; the result is the largest over all arrays.
"""

from __future__ import annotations

import numpy as np

from ._loop import exclusive
from .network import Network
from .validation import check_positive, check_positive_int


class GradientCheck(float):
    """The maximum relative error (a float), with the per-layer detail.

    Attributes
    ----------
    layers : list of dict
        Per Dense (or Maxout) layer: ``{"layer": index, "W": rel_error_W, "b": rel_error_b}``.
    """

    layers: list[dict]

    def __repr__(self) -> str:
        detail = ", ".join(f"layer {d['layer']}: W {d['W']:.2e}, b {d['b']:.2e}" for d in self.layers)
        return f"GradientCheck(max relative error {float(self):.2e}; {detail})"


def numerical_gradients(net: Network, X, y, eps: float = 1e-6) -> list[tuple[np.ndarray, np.ndarray]]:
    """Central finite-difference gradients (dW, db) of the loss for every Dense (or Maxout) layer.

    Each parameter is perturbed by +/- ``eps`` in turn and restored exactly afterwards (so the
    network must not train, nor predict in another thread, meanwhile). The cost is two forward
    passes per parameter, so use small networks and batches.
    """
    eps = check_positive("eps", eps)
    X, target = _check_float64(net, X, y)
    result = []
    with exclusive(net, "numerical_gradients"):  # the parameters are perturbed in place
        for layer in net.dense_layers:
            pair = []
            for param in (layer.W, layer.b):
                numeric = np.empty_like(param)
                numeric.reshape(-1)[...] = _finite_differences(net, X, target, param, np.arange(param.size),
                                                               eps)
                pair.append(numeric)
            result.append((pair[0], pair[1]))
    return result


def _check_float64(net: Network, X, y) -> tuple[np.ndarray, np.ndarray]:
    if np.dtype(net.dtype) != np.float64:
        raise ValueError("gradient checks need float64 arithmetic; build the network with "
                         "dtype=np.float64 (finite differences in float32 are dominated by rounding)")
    return net.check_Xy(X, y)


def _finite_differences(net: Network, X: np.ndarray, target: np.ndarray, param: np.ndarray,
                        entries: np.ndarray, eps: float) -> np.ndarray:
    """(E(w + eps) - E(w - eps)) / (2 eps) for the flat ``entries`` of ``param``, each restored."""
    flat = param.reshape(-1)
    numeric = np.empty(entries.size)
    for position, index in enumerate(entries):
        original = flat[index]
        try:
            flat[index] = original + eps
            plus = net.loss_value(X, target)
            flat[index] = original - eps
            minus = net.loss_value(X, target)
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


def check_gradients(net: Network, X, y, eps: float = 1e-6, *, max_entries: int | None = None,
                    seed=0) -> GradientCheck:
    """Compare backprop's gradients with central finite differences on every parameter.

    Parameters
    ----------
    net : Network
        A float64 network (its parameters are perturbed and restored).
    X : array-like, shape (n_samples, n_inputs)
    y : array-like
        Targets for the network's loss.
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
        giving the error of each layer's W and b.
    """
    eps = check_positive("eps", eps)
    if max_entries is not None:
        max_entries = check_positive_int("max_entries", max_entries)
    checked_X, target = _check_float64(net, X, y)
    _, analytic = net.loss_and_gradients(X, y)
    rng = np.random.default_rng(seed)
    layers = []
    with exclusive(net, "check_gradients"):  # the parameters are perturbed in place
        for index, (layer, gradients) in enumerate(zip(net.dense_layers, analytic, strict=True)):
            errors = {}
            for name, param, gradient in (("W", layer.W, gradients[0]), ("b", layer.b, gradients[1])):
                entries = np.arange(param.size)
                if max_entries is not None and param.size > max_entries:
                    entries = np.sort(rng.choice(param.size, size=max_entries, replace=False))
                numeric = _finite_differences(net, checked_X, target, param, entries, eps)
                errors[name] = relative_error(gradient.reshape(-1)[entries], numeric)
            layers.append({"layer": index, **errors})
    result = GradientCheck(max(max(d["W"], d["b"]) for d in layers))
    result.layers = layers
    return result
