"""Numba kernel that evaluates a sampled rate curve (see :class:`neurosim.rates.RateCurve`)."""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True)
def evaluate_pieces(x: np.ndarray, knots: np.ndarray, base: np.ndarray, coefficients: np.ndarray,
                    derivative: bool, out: np.ndarray) -> None:
    """Evaluate a curve made of cubic pieces at every ``x`` (1-D), writing into ``out``.

    Piece ``j`` is ``c0 + c1 t + c2 t^2 + c3 t^3`` with ``t = x - base[j]`` and ``c = coefficients[:, j]``;
    ``j`` is the number of knots <= x (binary search), so piece 0 lies below the first knot and
    the last piece above the last knot. The curve is clipped at 0, where its derivative is 0.
    """
    n_knots = knots.size
    for index in range(x.size):
        value_x = x[index]
        low, high = 0, n_knots
        while low < high:
            middle = (low + high) >> 1
            if knots[middle] <= value_x:
                low = middle + 1
            else:
                high = middle
        t = value_x - base[low]
        c1, c2, c3 = coefficients[1, low], coefficients[2, low], coefficients[3, low]
        value = coefficients[0, low] + t * (c1 + t * (c2 + t * c3))
        if derivative:
            out[index] = 0.0 if value < 0.0 else c1 + t * (2.0 * c2 + 3.0 * t * c3)
        else:
            out[index] = value if value > 0.0 else 0.0
