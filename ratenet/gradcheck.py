"""Gradient checking: backprop's gradients against central finite differences.

For every parameter w of every Dense (or Maxout) layer, the numerical derivative
``(E(w + eps) - E(w - eps)) / (2 eps)`` (error O(eps^2)) is compared with the backprop gradient.
The error of each parameter array is the norm-wise relative error
``||g_backprop - g_numeric|| / max(||g_backprop|| + ||g_numeric||, tiny)``, which stays
meaningful when single entries are near zero; the result is the largest over all arrays.
"""

from __future__ import annotations

import numpy as np

from .network import Network
from .validation import check_positive


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

    Each parameter is perturbed by +/- ``eps`` in turn and restored exactly afterwards. The cost is
    two forward passes per parameter, so use small networks and batches.
    """
    eps = check_positive("eps", eps)
    if np.dtype(net.dtype) != np.float64:
        raise ValueError("gradient checks need float64 arithmetic; build the network with "
                         "dtype=np.float64 (finite differences in float32 are dominated by rounding)")
    X, target = net._check_Xy(X, y)
    result = []
    for layer in net.dense_layers:
        pair = []
        for param in (layer.W, layer.b):
            numeric = np.empty_like(param)
            flat, flat_numeric = param.reshape(-1), numeric.reshape(-1)
            for index in range(flat.size):
                original = flat[index]
                flat[index] = original + eps
                plus = net._loss_value(X, target)
                flat[index] = original - eps
                minus = net._loss_value(X, target)
                flat[index] = original
                flat_numeric[index] = (plus - minus) / (2 * eps)
            pair.append(numeric)
        result.append((pair[0], pair[1]))
    return result


def relative_error(analytic: np.ndarray, numeric: np.ndarray) -> float:
    """Norm-wise relative error ||a - n|| / (||a|| + ||n||); 0 when both vanish."""
    denominator = np.linalg.norm(analytic) + np.linalg.norm(numeric)
    if denominator == 0:
        return 0.0
    return float(np.linalg.norm(analytic - numeric) / denominator)


def check_gradients(net: Network, X, y, eps: float = 1e-6) -> GradientCheck:
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

    Returns
    -------
    GradientCheck
        A float, the maximum norm-wise relative error over all parameter arrays (about 1e-8 or
        less when backprop is right, for smooth activations away from kinks), with ``.layers``
        giving the error of each layer's W and b.
    """
    _, analytic = net.loss_and_gradients(X, y)
    numeric = numerical_gradients(net, X, y, eps=eps)
    layers = []
    for index, ((dW, db), (nW, nb)) in enumerate(zip(analytic, numeric, strict=True)):
        layers.append({"layer": index, "W": relative_error(dW, nW), "b": relative_error(db, nb)})
    result = GradientCheck(max(max(d["W"], d["b"]) for d in layers))
    result.layers = layers
    return result
