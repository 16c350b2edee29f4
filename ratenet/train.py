"""The training loop: mini-batch gradient descent over epochs, with validation, a History,
learning-rate schedules, callbacks and a progress bar.

Mini-batches are gathered into preallocated arrays (``np.take(..., out=...)``), so a training step
copies no batch and allocates nothing that grows with the network; the loss of every step is
checked, and a NaN or inf stops training with an error that names the epoch.
"""

from __future__ import annotations

import math
import sys

import numpy as np

from neurosim._validation import check_positive_int

from .layers import Dense
from .network import Network, _accuracy
from .optimizers import SGD, Optimizer, get_optimizer
from .schedules import Schedule


class History:
    """What happened during :func:`fit`, one entry per epoch.

    Attributes
    ----------
    loss, val_loss : list of float
        Mean training loss over the epoch's mini-batches (measured while the weights change) and
        loss on the validation data at the end of the epoch (empty without validation data).
    accuracy, val_accuracy : list of float
        Same for the accuracy, for classification losses (empty otherwise).
    learning_rate : list of float
        Learning rate used in each epoch.
    gradient_norms : list of list of float
        Per epoch, per Dense layer: the mean Frobenius norm ||dE/dW|| over (up to
        ``gradient_norm_samples`` evenly spaced) mini-batches of the epoch. Layers whose norm
        shrinks towards the input show vanishing gradients; growing ones, exploding gradients.
    """

    def __init__(self):
        self.epochs: list[int] = []
        self.loss: list[float] = []
        self.accuracy: list[float] = []
        self.val_loss: list[float] = []
        self.val_accuracy: list[float] = []
        self.learning_rate: list[float] = []
        self.gradient_norms: list[list[float]] = []

    def append(self, epoch: int, logs: dict, gradient_norms: list[float]) -> None:
        self.epochs.append(epoch)
        self.learning_rate.append(logs["lr"])
        for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
            if key in logs:
                getattr(self, key).append(logs[key])
        self.gradient_norms.append(list(gradient_norms))

    def gradient_norm_array(self) -> np.ndarray:
        """Gradient norms as an array of shape (n_epochs, n_dense_layers)."""
        return np.asarray(self.gradient_norms, dtype=float)

    def as_dict(self) -> dict[str, list]:
        return {key: list(getattr(self, key)) for key in
                ("epochs", "loss", "accuracy", "val_loss", "val_accuracy", "learning_rate",
                 "gradient_norms")}

    def __len__(self) -> int:
        return len(self.epochs)

    def __repr__(self) -> str:
        if not self.epochs:
            return "History(0 epochs)"
        parts = [f"{len(self.epochs)} epochs", f"loss {self.loss[0]:.4g} -> {self.loss[-1]:.4g}"]
        if self.val_loss:
            parts.append(f"val_loss {self.val_loss[-1]:.4g}")
        if self.accuracy:
            parts.append(f"accuracy {self.accuracy[-1]:.4f}")
        if self.val_accuracy:
            parts.append(f"val_accuracy {self.val_accuracy[-1]:.4f}")
        return f"History({', '.join(parts)})"


class Callback:
    """Base class of callbacks; ``fit`` calls :meth:`on_epoch_end` after every epoch.

    Any object with an ``on_epoch_end(net, epoch, logs)`` method, or a plain callable with that
    signature, works as a callback; returning True stops training.
    """

    def on_epoch_end(self, net: Network, epoch: int, logs: dict) -> bool:
        return False


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved for ``patience`` epochs.

    Parameters
    ----------
    monitor : str, default "val_loss"
        Key of the epoch logs (falls back to "loss" without validation data).
    patience : int, default 5
    min_delta : float, default 0
    mode : {"min", "max"}, default "min"
    """

    def __init__(self, monitor: str = "val_loss", patience: int = 5, min_delta: float = 0.0,
                 mode: str = "min"):
        self.monitor = monitor
        self.patience = patience
        self.min_delta = min_delta
        self.mode = mode
        self.best = math.inf if mode == "min" else -math.inf
        self.wait = 0

    def on_epoch_end(self, net, epoch, logs):
        value = logs.get(self.monitor, logs["loss"])
        better = (value < self.best - self.min_delta if self.mode == "min"
                  else value > self.best + self.min_delta)
        if better:
            self.best, self.wait = value, 0
            return False
        self.wait += 1
        return self.wait >= self.patience


def fit(net: Network, X, y, epochs: int = 10, batch_size: int | None = 32, optimizer="adam", *,
        validation_split: float = 0.0, validation_data=None, shuffle: bool = True, seed=None,
        schedule: Schedule | None = None, callbacks=None, progress: bool | None = None,
        gradient_norm_samples: int = 20) -> History:
    """Train ``net`` on ``(X, y)`` by mini-batch gradient descent.

    Parameters
    ----------
    net : Network
    X : array-like, shape (n_samples, n_inputs)
    y : array-like
        Targets in the form the network's loss takes (integer labels or one-hot rows for softmax
        cross-entropy, 0/1 for binary cross-entropy, values for MSE).
    epochs : int, default 10
        Passes over the training data.
    batch_size : int or None, default 32
        Samples per gradient step. None (or ``len(X)``): full-batch gradient descent; 1:
        single-example (stochastic) gradient descent.
    optimizer : str or Optimizer, default "adam"
        An instance keeps its state across calls to ``fit``; a name gets the defaults.
    validation_split : float in [0, 1), default 0
        Fraction of ``(X, y)`` held out for validation, drawn at random with the shuffling
        generator (before any training).
    validation_data : tuple (X_val, y_val), optional
        Validation data; takes precedence over ``validation_split``.
    shuffle : bool, default True
        Shuffle the training samples at every epoch.
    seed : int or numpy.random.Generator, optional
        Seed of the shuffling (and validation split); default: the network's ``seed``.
    schedule : Schedule, optional
        Learning-rate schedule applied after every epoch (``StepDecay``, ``ExponentialDecay``,
        ``ReduceOnPlateau``).
    callbacks : list, optional
        Objects with ``on_epoch_end(net, epoch, logs)`` or callables with that signature; a truthy
        return value stops training. ``logs`` holds ``loss``, ``accuracy``, ``val_loss``,
        ``val_accuracy`` (when defined) and ``lr``.
    progress : bool or None, default None
        Show a tqdm progress bar over epochs; None: only when stderr is a terminal.
    gradient_norm_samples : int, default 20
        Mini-batches per epoch whose gradient norms are recorded (evenly spaced).

    Returns
    -------
    History
        Also stored as ``net.history``.

    Raises
    ------
    FloatingPointError
        When the loss becomes NaN or inf; the message names the epoch and suggests a smaller
        learning rate.
    """
    if not isinstance(net, Network):
        raise TypeError(f"net must be a Network, got {type(net).__name__}")
    epochs = check_positive_int("epochs", epochs)
    gradient_norm_samples = check_positive_int("gradient_norm_samples", gradient_norm_samples)
    optimizer = get_optimizer(optimizer)
    if not isinstance(optimizer, Optimizer):  # pragma: no cover - get_optimizer guarantees it
        raise TypeError("optimizer must be an Optimizer")
    if schedule is not None and not isinstance(schedule, Schedule):
        raise TypeError(f"schedule must be a Schedule, got {type(schedule).__name__}")
    callbacks = list(callbacks or [])
    for index, callback in enumerate(callbacks):
        if not (hasattr(callback, "on_epoch_end") or callable(callback)):
            raise TypeError(f"callbacks[{index}] must have on_epoch_end(net, epoch, logs) or be callable")
    X, target = net._check_Xy(X, y)
    rng = np.random.default_rng(net.seed if seed is None else seed)

    X_val = target_val = None
    if validation_data is not None:
        if not isinstance(validation_data, tuple | list) or len(validation_data) != 2:
            raise TypeError("validation_data must be a tuple (X_val, y_val)")
        X_val, target_val = net._check_Xy(*validation_data, names=("validation_data[0]",
                                                                    "validation_data[1]"))
    elif validation_split:
        if not 0 < validation_split < 1:
            raise ValueError(f"validation_split must be in [0, 1), got {validation_split!r}")
        n_val = int(round(validation_split * X.shape[0]))
        if n_val < 1 or n_val >= X.shape[0]:
            raise ValueError(f"validation_split={validation_split} leaves {n_val} validation samples "
                             f"out of {X.shape[0]}; need at least one on each side")
        order = rng.permutation(X.shape[0])
        X_val, target_val = X[order[:n_val]], target[order[:n_val]]
        X, target = X[order[n_val:]], target[order[n_val:]]

    n_samples = X.shape[0]
    if batch_size is None:
        batch_size = n_samples
    batch_size = min(check_positive_int("batch_size", batch_size), n_samples)
    full_batch = batch_size == n_samples
    n_batches = math.ceil(n_samples / batch_size)
    norm_stride = max(1, n_batches // gradient_norm_samples)

    # Preallocated batches (full size, and the last partial one); rows are gathered into them.
    batch_buffers = {}
    for size in {batch_size, n_samples - (n_batches - 1) * batch_size}:
        batch_buffers[size] = (np.empty((size, X.shape[1]), dtype=X.dtype),
                               np.empty((size, *target.shape[1:]), dtype=target.dtype))
    params, grads = net.parameters(), net.gradients()
    # Plain SGD on Dense-only parameters: the update is folded into the backward GEMMs (no dW
    # stored, no separate pass over the weights), except on the steps that record gradient norms.
    fused_sgd = type(optimizer) is SGD and all(isinstance(layer, Dense) or not layer.parameters()
                                               for layer in net.layers)
    classification = net.loss.is_classification
    if schedule is not None:
        schedule.reset()

    if progress is None:
        progress = bool(getattr(sys.stderr, "isatty", lambda: False)())
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=epochs, desc="fit", unit="epoch")

    history = History()
    net.history = history
    order = np.arange(n_samples)
    try:
        with np.errstate(over="ignore", invalid="ignore"):  # a non-finite loss is caught and reported
            for epoch in range(epochs):
                if shuffle and not full_batch:
                    order = rng.permutation(n_samples)
                loss_sum = 0.0
                correct = 0.0
                norm_sums = np.zeros(len(net.dense_layers))
                norm_count = 0
                for batch_index in range(n_batches):
                    start = batch_index * batch_size
                    stop = min(start + batch_size, n_samples)
                    if full_batch:
                        x_batch, t_batch = X, target
                    else:
                        x_batch, t_batch = batch_buffers[stop - start]
                        rows = order[start:stop]
                        np.take(X, rows, axis=0, out=x_batch)
                        np.take(target, rows, axis=0, out=t_batch)
                    record_norms = batch_index % norm_stride == 0
                    fused = fused_sgd and not record_norms
                    value, output = net._loss_step(x_batch, t_batch, training=True,
                                                   sgd_learning_rate=optimizer.lr if fused else None)
                    if not math.isfinite(value):
                        raise FloatingPointError(
                            f"the training loss became {value} at epoch {epoch + 1} (mini-batch "
                            f"{batch_index + 1} of {n_batches}); the learning rate lr={optimizer.lr:g} is "
                            f"probably too large: try a smaller one (e.g. lr={optimizer.lr / 10:g}) or "
                            "standardize the data")
                    loss_sum += value * (stop - start)
                    if classification:
                        correct += _accuracy(net.loss, output, t_batch) * (stop - start)
                    if record_norms:
                        norm_sums += net.gradient_norms()
                        norm_count += 1
                    if fused:
                        optimizer.step_count += 1
                    else:
                        optimizer.update(params, grads)

                logs = {"loss": loss_sum / n_samples}
                if classification:
                    logs["accuracy"] = correct / n_samples
                if X_val is not None:
                    output = net.forward(X_val)
                    logs["val_loss"] = net.loss.value(output, target_val)
                    if classification:
                        logs["val_accuracy"] = _accuracy(net.loss, output, target_val)
                logs["lr"] = optimizer.lr
                history.append(epoch, logs, list(norm_sums / max(norm_count, 1)))
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix({key: f"{value:.4g}" for key, value in logs.items() if key != "lr"})
                if schedule is not None:
                    optimizer.lr = schedule.next_learning_rate(epoch, optimizer.lr, logs)
                stop_now = False
                for callback in callbacks:
                    hook = getattr(callback, "on_epoch_end", callback)
                    stop_now = bool(hook(net, epoch, logs)) or stop_now
                if stop_now:
                    break
            for param in params:
                if not np.isfinite(param).all():
                    raise FloatingPointError(
                        f"the weights became non-finite in epoch {len(history)}; the learning rate "
                        f"lr={optimizer.lr:g} is probably too large: try a smaller one")
    finally:
        if bar is not None:
            bar.close()
    return history
