"""Training plots: learning curves (with the early-stopping point), per-layer gradient norms over
training (vanishing and exploding gradients), and activation functions with their derivatives.

Every function draws on the ``ax`` it is given (a new figure's axes when None) and returns it; the
library never calls ``plt.show()``. Image mosaics (features, reconstructions, RBM samples) live in
:mod:`ratenet.image_plots`.
"""

from __future__ import annotations

import numpy as np

from .activations import get_activation
from .validation import check_axes, check_choice


def _history(history):
    history = getattr(history, "history", history)  # a Network: its last History
    if history is None or not hasattr(history, "gradient_norms"):
        raise TypeError("history must be a History returned by fit (or a Network that was fitted)")
    if len(history) == 0:
        raise ValueError("history holds no epochs")
    return history


def plot_learning_curves(history, metric: str = "loss", ax=None, *, title: str | None = None,
                         log: bool = False, best_epoch: int | None = None):
    """Training and validation ``metric`` against epochs, with the early-stopping point.

    Parameters
    ----------
    history : History or Network
        What :func:`ratenet.fit` returned (or a fitted network, whose ``history`` is used).
    metric : {"loss", "accuracy"}, default "loss"
        Plots ``history.<metric>`` (training, measured during each epoch) and
        ``history.val_<metric>`` (validation, after each epoch) when present.
    ax : matplotlib Axes, optional
    title : str, optional
    log : bool, default False
        Logarithmic y axis (useful for losses that fall over decades).
    best_epoch : int, optional
        Epoch to mark (numbered from 1, as everywhere in ratenet); default ``history.best_epoch``
        (set by :class:`~ratenet.EarlyStopping`). The marker is a dashed vertical line labelled
        with the epoch and the validation value there.

    Returns
    -------
    matplotlib Axes
    """
    history = _history(history)
    check_choice("metric", metric, ("loss", "accuracy"))
    train = list(getattr(history, metric))
    validation = list(getattr(history, f"val_{metric}"))
    if not train and not validation:
        raise ValueError(f"history has no {metric!r} values (accuracy is recorded only for "
                         "classification losses)")
    ax = check_axes(ax)
    epochs = np.asarray(history.epochs)
    if train:
        ax.plot(epochs, train, color="C0", label=f"training {metric}")
    if validation:
        ax.plot(epochs, validation, color="C1", label=f"validation {metric}")
    if best_epoch is None:
        best_epoch = history.best_epoch
    if best_epoch is not None:
        series = validation or train
        if not 1 <= best_epoch <= len(series):
            raise ValueError(f"best_epoch must be in [1, {len(series)}] (epochs count from 1), got "
                             f"{best_epoch}")
        ax.axvline(best_epoch, color="0.3", linestyle="--", linewidth=1,
                   label=f"best epoch {best_epoch} (early stopping)")
        ax.plot([best_epoch], [series[best_epoch - 1]], "o", color="C3")
    ax.set_xlabel("epoch")
    ax.set_ylabel(metric)
    if log:
        ax.set_yscale("log")
    ax.legend(frameon=False)
    if title is not None:
        ax.set_title(title)
    return ax


def plot_gradient_norms(history, ax=None, *, log: bool = True, title: str | None = None,
                        labels=None, cmap: str = "viridis"):
    """Per-layer gradient norms ||dE/dW|| over training, one line per Dense layer.

    Layers whose norms sit orders of magnitude below the output layer's learn that much more
    slowly: vanishing gradients (deep sigmoid networks); norms that grow towards the input are
    exploding gradients.

    Parameters
    ----------
    history : History or Network
        ``history.gradient_norms`` (per epoch, per Dense layer, mean over sampled mini-batches).
    ax : matplotlib Axes, optional
    log : bool, default True
        Logarithmic y axis.
    title : str, optional
    labels : list of str, optional
        One per Dense layer; default "layer 1 (input side)", ..., "layer L (output)".
    cmap : str, default "viridis"
        Colour map running from the input layer to the output layer.

    Returns
    -------
    matplotlib Axes
    """
    history = _history(history)
    norms = history.gradient_norm_array()
    n_layers = norms.shape[1]
    if labels is None:
        labels = [f"layer {index + 1}" for index in range(n_layers)]
        labels[0] += " (input side)"
        if n_layers > 1:
            labels[-1] += " (output)"
    labels = list(labels)
    if len(labels) != n_layers:
        raise ValueError(f"labels must name the {n_layers} Dense layers, got {len(labels)}")
    import matplotlib

    colors = matplotlib.colormaps[cmap](np.linspace(0.0, 0.9, n_layers))
    ax = check_axes(ax)
    epochs = np.asarray(history.epochs)
    for index in range(n_layers):
        ax.plot(epochs, norms[:, index], color=colors[index], label=labels[index])
    ax.set_xlabel("epoch")
    ax.set_ylabel("gradient norm ||dE/dW||")
    if log:
        ax.set_yscale("log")
    ax.legend(frameon=False, fontsize="small")
    if title is not None:
        ax.set_title(title)
    return ax


def plot_activation_curves(activations=("sigmoid", "tanh", "relu"), z=None, ax=None, *,
                           derivative: bool = False, title: str | None = None):
    """Activation functions f(z) (or their derivatives f'(z)) against the pre-activation z.

    Parameters
    ----------
    activations : iterable of str or Activation, default ("sigmoid", "tanh", "relu")
        Registry names or instances (e.g. ``rn.LIFRate()``).
    z : array-like, optional
        Pre-activations; default 801 points on [-5, 5].
    ax : matplotlib Axes, optional
    derivative : bool, default False
        Plot f'(z) instead: the sigmoid's never exceeds 1/4, which is why gradients shrink
        through stacked sigmoid layers.
    title : str, optional

    Returns
    -------
    matplotlib Axes
    """
    z = np.linspace(-5.0, 5.0, 801) if z is None else np.asarray(z, dtype=float)
    if z.ndim != 1 or z.size < 2 or not np.all(np.isfinite(z)):
        raise ValueError("z must be a finite 1-D array of at least two pre-activations")
    ax = check_axes(ax)
    for activation in activations:
        function = get_activation(activation)
        values = function.derivative(z) if derivative else function(z)
        label = activation if isinstance(activation, str) else type(function).__name__
        ax.plot(z, values, label=label)
    ax.set_xlabel("pre-activation z")
    ax.set_ylabel("f'(z)" if derivative else "f(z)")
    ax.axhline(0.0, color="0.8", linewidth=0.8, zorder=0)
    ax.legend(frameon=False)
    if title is not None:
        ax.set_title(title)
    return ax
