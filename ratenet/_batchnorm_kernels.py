"""Numba kernels of :class:`ratenet.BatchNorm` in training mode: the forward and backward passes
fused into three and two sweeps over the batch.

With numpy each step (column sums, centring, the variance, scaling, the shift; and in the backward
pass two column sums and three element-wise updates) is its own sweep over the (n_samples,
n_features) batch: a dozen in all. Here a forward pass reads the input three times (sum, centred
sum of squares, output) and a backward pass reads the gradient and the input twice (the two
column sums, then dE/dx); the centred input is recomputed instead of stored. Per-feature sums are
accumulated in float64 whatever the batch's dtype, rows outer and features inner, so that the
inner loops run over contiguous memory and vectorise.
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True)
def train_forward(x, gamma, beta, eps, mean, var, scale, output):
    """Batch statistics and the normalised, scaled, shifted output.

    Fills ``mean`` and ``var`` (biased, over the batch) and ``scale = gamma / sqrt(var + eps)``,
    and writes ``output = (x - mean) * scale + beta``.
    """
    n, f = x.shape
    acc = np.zeros(f)
    for i in range(n):
        row = x[i]
        for j in range(f):
            acc[j] += row[j]
    for j in range(f):
        mean[j] = acc[j] / n
        acc[j] = 0.0
    for i in range(n):
        row = x[i]
        for j in range(f):
            c = row[j] - mean[j]
            acc[j] += c * c
    for j in range(f):
        var[j] = acc[j] / n
        scale[j] = gamma[j] / np.sqrt(acc[j] / n + eps)
    for i in range(n):
        row = x[i]
        out = output[i]
        for j in range(f):
            out[j] = (row[j] - mean[j]) * scale[j] + beta[j]


@numba.njit(cache=True)
def train_backward(grad_output, x, mean, var, scale, eps, dgamma, dbeta, grad_input):
    """Gradients through the batch statistics of :func:`train_forward`.

    With ``c = x - mean``, ``k = 1 / sqrt(var + eps)`` and ``g = grad_output``:
    ``dbeta = sum(g)``, ``dgamma = k sum(g c)`` and
    ``dE/dx = gamma k (g - sum(g) / n - c k^2 sum(g c) / n)`` (``gamma k`` is ``scale``).
    """
    n, f = x.shape
    sum_g = np.zeros(f)
    sum_gc = np.zeros(f)
    for i in range(n):
        g_row = grad_output[i]
        x_row = x[i]
        for j in range(f):
            g = g_row[j]
            sum_g[j] += g
            sum_gc[j] += g * (x_row[j] - mean[j])
    shift = np.empty(f, x.dtype)
    factor = np.empty(f, x.dtype)
    for j in range(f):
        k2 = 1.0 / (var[j] + eps)
        dbeta[j] = sum_g[j]
        dgamma[j] = sum_gc[j] * np.sqrt(k2)
        shift[j] = sum_g[j] / n
        factor[j] = sum_gc[j] * k2 / n
    for i in range(n):
        g_row = grad_output[i]
        x_row = x[i]
        out = grad_input[i]
        for j in range(f):
            out[j] = scale[j] * (g_row[j] - shift[j] - (x_row[j] - mean[j]) * factor[j])
