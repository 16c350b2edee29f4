"""Images of what unsupervised pre-training learns: first-layer features, reconstructions beside
their inputs, and samples drawn from an RBM.

Each function tiles its images (each row of an array, reshaped to ``image_shape``) into one mosaic
drawn with a single ``imshow`` on the ``ax`` it is given (a new figure's axes when None) and
returns that ``ax``; the library never calls ``plt.show()``. (The module is not ``plot.py``, which
holds the training plots: learning curves, gradient norms, activation curves.)
"""

from __future__ import annotations

import math

import numpy as np

from .validation import check_axes, check_positive_int


def plot_features(weights, image_shape=None, ax=None, *, n_features: int | None = 64,
                  n_columns: int | None = None, cmap: str = "gray", title: str | None = None):
    """Show the weight vectors of hidden units as images (the features a layer detects).

    Parameters
    ----------
    weights : ndarray, shape (n_hidden, n_inputs), or Dense, Autoencoder or RBM
        One row per hidden unit (a Dense layer's ``W``); for a model, its first-layer weights.
    image_shape : (int, int), optional
        Shape of one image, e.g. (8, 8) for scikit-learn's digits; default: square.
    ax : matplotlib Axes, optional
    n_features : int or None, default 64
        Show the first ``n_features`` units (None: all).
    n_columns : int, optional
        Images per row of the mosaic; default about square.
    cmap : str, default "gray"
    title : str, optional

    Returns
    -------
    matplotlib Axes

    Notes
    -----
    Every feature is scaled to its own range [min, max] -> [0, 1], so each image shows the pattern
    of its weights, not their size (dark: most negative, light: most positive).
    """
    weights = _as_matrix(_weights_of(weights), "weights")
    if n_features is not None:
        weights = weights[:check_positive_int("n_features", n_features)]
    low = weights.min(axis=1, keepdims=True)
    span = weights.max(axis=1, keepdims=True) - low
    span[span == 0] = 1
    scaled = (weights - low) / span
    ax = _mosaic(scaled, image_shape, ax, n_columns, cmap, vmin=0, vmax=1)
    ax.set_title(title if title is not None else f"features of {scaled.shape[0]} hidden units")
    return ax


def plot_reconstructions(inputs, reconstructions, image_shape=None, ax=None, *, n_images: int = 10,
                         cmap: str = "gray", title: str | None = None):
    """Inputs (top row) above their reconstructions (bottom row).

    Parameters
    ----------
    inputs, reconstructions : ndarray, shape (n_samples, n_inputs)
        E.g. ``X`` and ``autoencoder.reconstruct(X)`` (values in [0, 1] are shown on a fixed
        [0, 1] gray scale; other values on their common range).
    image_shape : (int, int), optional
    ax : matplotlib Axes, optional
    n_images : int, default 10
        Number of input/reconstruction pairs (the first ones).
    cmap : str, default "gray"
    title : str, optional

    Returns
    -------
    matplotlib Axes
    """
    inputs = _as_matrix(inputs, "inputs")
    reconstructions = _as_matrix(reconstructions, "reconstructions")
    if inputs.shape != reconstructions.shape:
        raise ValueError(f"inputs and reconstructions must have the same shape, got {inputs.shape} and "
                         f"{reconstructions.shape}")
    n_images = min(check_positive_int("n_images", n_images), inputs.shape[0])
    stacked = np.concatenate([inputs[:n_images], reconstructions[:n_images]])
    low, high = _display_range(stacked)
    ax = _mosaic(stacked, image_shape, ax, n_images, cmap, vmin=low, vmax=high)
    ax.set_title(title if title is not None else "inputs (top) and reconstructions (bottom)")
    return ax


def plot_samples(samples, image_shape=None, ax=None, *, n_columns: int | None = None, cmap: str = "gray",
                 title: str | None = None):
    """Samples drawn from a model (e.g. :meth:`ratenet.RBM.sample`), one image per row.

    Parameters
    ----------
    samples : ndarray, shape (n_samples, n_visible)
    image_shape : (int, int), optional
    ax : matplotlib Axes, optional
    n_columns : int, optional
    cmap : str, default "gray"
    title : str, optional

    Returns
    -------
    matplotlib Axes
    """
    samples = _as_matrix(samples, "samples")
    low, high = _display_range(samples)
    ax = _mosaic(samples, image_shape, ax, n_columns, cmap, vmin=low, vmax=high)
    ax.set_title(title if title is not None else f"{samples.shape[0]} samples from the model")
    return ax


# ------------------------------------------------------------------------------------ helpers

def _weights_of(model) -> np.ndarray:
    """First-layer weight rows (n_hidden, n_inputs) of an array, a Dense layer, an autoencoder or
    an RBM."""
    encoder = getattr(model, "encoder", None)
    if encoder is not None:
        return encoder.W
    weights = getattr(model, "W", None)
    return model if weights is None else weights


def _as_matrix(values, name: str) -> np.ndarray:
    try:
        array = np.asarray(values, dtype=float)
    except (TypeError, ValueError) as error:
        raise TypeError(f"{name} must be a numeric array, got {type(values).__name__}") from error
    if array.ndim != 2 or array.shape[0] == 0:
        raise ValueError(f"{name} must have shape (n_images, n_pixels) with at least one image, "
                         f"got {array.shape}")
    if not np.isfinite(array).all():
        raise ValueError(f"{name} must be finite")
    return array


def _display_range(values: np.ndarray) -> tuple[float, float]:
    low, high = float(values.min()), float(values.max())
    if low >= 0 and high <= 1:
        return 0.0, 1.0
    return (low, high) if high > low else (low - 0.5, high + 0.5)


def _image_shape(image_shape, n_pixels: int) -> tuple[int, int]:
    if image_shape is None:
        side = math.isqrt(n_pixels)
        if side * side != n_pixels:
            raise ValueError(f"images of {n_pixels} pixels are not square: give image_shape=(rows, columns)")
        return side, side
    try:
        rows, columns = (int(size) for size in image_shape)
    except (TypeError, ValueError) as error:
        raise TypeError(f"image_shape must be (rows, columns), got {image_shape!r}") from error
    if rows < 1 or columns < 1 or rows * columns != n_pixels:
        raise ValueError(f"image_shape {image_shape!r} does not hold {n_pixels} pixels")
    return rows, columns


def _mosaic(images: np.ndarray, image_shape, ax, n_columns, cmap, vmin, vmax):
    """Tile the rows of ``images`` into a grid separated by 1-pixel gaps and draw it on ``ax``."""
    rows, columns = _image_shape(image_shape, images.shape[1])
    n_images = images.shape[0]
    n_columns = (math.ceil(math.sqrt(n_images)) if n_columns is None
                 else check_positive_int("n_columns", n_columns))
    n_rows = math.ceil(n_images / n_columns)
    mosaic = np.full((n_rows * (rows + 1) - 1, n_columns * (columns + 1) - 1), np.nan)
    for index, image in enumerate(images):
        top, left = (index // n_columns) * (rows + 1), (index % n_columns) * (columns + 1)
        mosaic[top:top + rows, left:left + columns] = image.reshape(rows, columns)
    ax = check_axes(ax, figsize=(0.6 * n_columns + 1, 0.6 * n_rows * rows / columns + 1))
    ax.imshow(np.ma.masked_invalid(mosaic), cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    return ax
