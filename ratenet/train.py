"""Training a network: :func:`fit` (mini-batch gradient descent over epochs) with validation, a
History, learning-rate schedules, callbacks and early stopping.

The epochs, mini-batches, progress bar and the guards against runaway training and interruption
are ratenet's one training loop (:func:`ratenet._loop.run_epochs`, shared with autoencoders and
RBMs); what is particular to networks (accuracy, gradient norms, validation, callbacks) is here,
and one step is :meth:`Network.train_step`.
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from ._loop import DIVERGENCE_FACTOR, batch_size_for, check_divergence_options, exclusive, run_epochs
from .losses import SoftmaxCrossEntropy
from .network import MLP, Network
from .optimizers import get_optimizer
from .regularization import BatchNorm, WeightPenalty
from .schedules import Schedule
from .validation import check_choice, check_nonnegative, check_positive_int


class History:
    """What happened during :func:`fit`, one entry per epoch.

    Epochs are numbered from 1, everywhere in ratenet (``epochs``, ``best_epoch``, the ``epoch`` a
    callback or a schedule receives, the plots, the messages): the entry of epoch ``e`` in each
    list is at index ``e - 1``.

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
        The norms are those of the data loss (before any weight penalty is added).
    best_epoch : int or None
        Number (from 1) of the epoch whose weights :class:`EarlyStopping` selected (and restored when
        ``restore_best``); None without early stopping.
    """

    def __init__(self):
        self.epochs: list[int] = []
        self.loss: list[float] = []
        self.accuracy: list[float] = []
        self.val_loss: list[float] = []
        self.val_accuracy: list[float] = []
        self.learning_rate: list[float] = []
        self.gradient_norms: list[list[float]] = []
        #: Number (from 1) of the epoch whose weights an :class:`EarlyStopping` callback kept.
        self.best_epoch: int | None = None

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
    """Base class of callbacks; ``fit`` calls :meth:`on_train_begin` before the first epoch,
    :meth:`on_epoch_end` after every epoch and :meth:`on_train_end` after the last one.

    Any object with an ``on_epoch_end(net, epoch, logs)`` method (the other two are optional), or
    a plain callable with that signature, works as a callback; returning True stops training.
    """

    def on_train_begin(self, net: Network) -> None:
        return None

    def on_epoch_end(self, net: Network, epoch: int, logs: dict) -> bool:
        return False

    def on_train_end(self, net: Network) -> None:
        return None


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved for ``patience`` epochs, and restore the weights of
    the best epoch (the notes' "look ahead" early stopping).

    Parameters
    ----------
    monitor : {"val_loss", "val_accuracy"} or another key of the epoch logs, default "val_loss"
        Without validation data, ``val_*`` falls back to the training counterpart (``loss``,
        ``accuracy``) with a warning.
    patience : int >= 1, default 5
        Epochs without improvement tolerated; training stops at the ``patience``-th.
    min_delta : float >= 0, default 0
        An improvement must beat the best value by more than this.
    mode : {"min", "max"} or None, default None
        None: "max" when ``monitor`` names an accuracy, "min" otherwise.
    restore_best : bool, default True
        At the end of training, copy back the parameters and buffers (batch-norm running
        statistics) of every layer as they were at the end of the best epoch.

    Attributes
    ----------
    best : float
        Best monitored value.
    best_epoch : int or None
        Number (from 1) of the epoch of ``best``; also stored as ``net.history.best_epoch``.
    stopped_epoch : int or None
        Number of the epoch after which training was stopped (None if it ran all epochs).

    Notes
    -----
    Works with :class:`~ratenet.ReduceOnPlateau` (which ``fit`` applies before the callbacks): the
    learning rate halves on plateaus, and training stops only when ``patience`` epochs bring no
    improvement despite the halvings. The optimiser's state is not restored.
    """

    def __init__(self, monitor: str = "val_loss", patience: int = 5, min_delta: float = 0.0,
                 mode: str | None = None, restore_best: bool = True):
        if not isinstance(monitor, str):
            raise TypeError(f"monitor must be a key of the epoch logs such as 'val_loss', got {monitor!r}")
        self.monitor = monitor
        self.patience = check_positive_int("patience", patience)
        self.min_delta = check_nonnegative("min_delta", min_delta)
        if mode is None:
            mode = "max" if "acc" in monitor else "min"
        self.mode = check_choice("mode", mode, ("min", "max"))
        self.restore_best = bool(restore_best)
        self._snapshot: list[tuple[np.ndarray, np.ndarray]] = []
        self._reset()

    def _reset(self) -> None:
        self.best = math.inf if self.mode == "min" else -math.inf
        self.wait = 0
        self.best_epoch: int | None = None
        self.stopped_epoch: int | None = None
        self._last_epoch: int | None = None
        self._warned = False

    def on_train_begin(self, net):
        self._reset()
        self._snapshot = []
        if self.restore_best:
            arrays = [array for layer in net.layers
                      for array in (*layer.parameters(), *layer.buffers().values())]
            self._snapshot = [(array, np.empty_like(array)) for array in arrays]

    def check_logs(self, keys) -> None:
        """Refuse, before the first epoch, a ``monitor`` that the epoch logs will not hold."""
        fallback = self.monitor[4:] if self.monitor.startswith("val_") else None
        if self.monitor not in keys and fallback not in keys:
            raise ValueError(f"EarlyStopping monitors {self.monitor!r}, which the epoch logs will not "
                             f"hold (they hold {sorted(keys)})")

    def _value(self, logs) -> float:
        if self.monitor in logs:
            return logs[self.monitor]
        fallback = self.monitor[4:] if self.monitor.startswith("val_") else None
        if fallback in logs:
            if not self._warned:
                warnings.warn(f"EarlyStopping monitors {self.monitor!r} but there is no validation "
                              f"data; using the training {fallback!r} instead", stacklevel=4)
                self._warned = True
            return logs[fallback]
        raise KeyError(f"EarlyStopping monitors {self.monitor!r}, which the epoch logs lack "
                       f"(they hold {sorted(logs)})")

    def on_epoch_end(self, net, epoch, logs):
        value = self._value(logs)
        self._last_epoch = epoch
        better = (value < self.best - self.min_delta if self.mode == "min"
                  else value > self.best + self.min_delta)
        if better:
            self.best, self.wait, self.best_epoch = value, 0, epoch
            for array, copy in self._snapshot:
                np.copyto(copy, array)
            return False
        self.wait += 1
        if self.wait >= self.patience:
            self.stopped_epoch = epoch
            return True
        return False

    def on_train_end(self, net):
        if self.restore_best and self.best_epoch is not None and self.best_epoch != self._last_epoch:
            for array, copy in self._snapshot:
                np.copyto(array, copy)
        history = getattr(net, "history", None)
        if history is not None:
            history.best_epoch = self.best_epoch

    def config(self) -> dict:
        return {"monitor": self.monitor, "patience": self.patience, "min_delta": self.min_delta,
                "mode": self.mode, "restore_best": self.restore_best}

    def __repr__(self) -> str:
        arguments = ", ".join(f"{key}={value!r}" for key, value in self.config().items())
        return f"EarlyStopping({arguments})"


def fit(net: Network, X, y, epochs: int = 10, batch_size: int | None = 32, optimizer="adam", *,
        validation_split: float = 0.0, validation_data=None, shuffle: bool = True, seed=None,
        schedule: Schedule | None = None, callbacks=None, progress: bool | None = None,
        gradient_norm_samples: int = 20, weight_decay: float = 0.0, l1: float = 0.0,
        regularize_bias: bool = False, augment=None, divergence_factor: float = DIVERGENCE_FACTOR,
        on_divergence: str = "raise") -> History:
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
        Objects with ``on_epoch_end(net, epoch, logs)`` (``epoch`` counts from 1) or callables with
        that signature; a truthy
        return value stops training. ``logs`` holds ``loss``, ``accuracy``, ``val_loss``,
        ``val_accuracy`` (when defined) and ``lr``. Objects may also have ``on_train_begin(net)``
        and ``on_train_end(net)`` (e.g. :class:`EarlyStopping` restores the best weights there),
        and ``check_logs(keys)``, called before the first epoch with the keys the logs will hold.
    progress : bool or None, default None
        Show a tqdm progress bar over epochs; None: only when stderr is a terminal.
    gradient_norm_samples : int, default 20
        Mini-batches per epoch whose gradient norms are recorded (evenly spaced).
    weight_decay : float >= 0, default 0
        L2 penalty ``weight_decay * ||W||^2`` on the weights of every Dense layer (gradient
        ``2 weight_decay W``, the notes' weight decay); a layer's own ``Dense(weight_decay=...)``
        overrides it.
    l1 : float >= 0, default 0
        L1 penalty ``l1 * sum|W|`` (gradient ``l1 sign(W)``), which drives weights to zero; a
        layer's own ``Dense(l1=...)`` overrides it.
    regularize_bias : bool, default False
        Penalise the biases too. With a penalty, ``loss`` and ``val_loss`` in the logs and the
        History are the data loss plus the penalty (so that they stay comparable).
    augment : callable, optional
        ``augment(X_batch, rng) -> X_batch``, applied to every training mini-batch before the
        forward pass (never to validation data); ``rng`` is a numpy Generator derived from the
        shuffling seed. It may change the batch in place; it must return an array of the same
        shape.
    divergence_factor : float > 1, default 1e4
        A mini-batch loss above this multiple of the loss at the start of the call (at least 1)
        counts as runaway training, as does a NaN or infinite loss or parameter.
    on_divergence : {"raise", "warn"}, default "raise"
        On runaway training the parameters, buffers and optimizer state are put back as they were
        at the end of the last completed epoch (or at the start of the call); then raise
        FloatingPointError, or warn (RuntimeWarning) and return the History so far.

    Returns
    -------
    History
        Also stored as ``net.history``.

    Raises
    ------
    FloatingPointError
        On runaway training (see ``on_divergence``); the message says what was restored and
        suggests a smaller learning rate.
    RuntimeError
        When the network is already training in another thread.
    ValueError
        When the network has a BatchNorm layer and the last mini-batch would hold one sample.

    Notes
    -----
    Ctrl-C (KeyboardInterrupt), or an exception from a callback or ``augment``, puts the
    network and optimizer back as they were at the end of the last completed epoch before it
    propagates: never a half-applied mini-batch. ``net.history`` holds the completed epochs.
    """
    if not isinstance(net, Network):
        raise TypeError(f"net must be a Network, got {type(net).__name__}")
    epochs = check_positive_int("epochs", epochs)
    gradient_norm_samples = check_positive_int("gradient_norm_samples", gradient_norm_samples)
    optimizer = get_optimizer(optimizer)
    if schedule is not None and not isinstance(schedule, Schedule):
        raise TypeError(f"schedule must be a Schedule, got {type(schedule).__name__}")
    callbacks = list(callbacks or [])
    for index, callback in enumerate(callbacks):
        if not (hasattr(callback, "on_epoch_end") or callable(callback)):
            raise TypeError(f"callbacks[{index}] must have on_epoch_end(net, epoch, logs) or be callable")
    if augment is not None and not callable(augment):
        raise TypeError(f"augment must be a callable augment(X_batch, rng) -> X_batch, got "
                        f"{type(augment).__name__}")
    divergence_factor, on_divergence = check_divergence_options(divergence_factor, on_divergence)
    penalty = WeightPenalty(net, weight_decay, l1, include_bias=bool(regularize_bias))
    X, target = net.check_Xy(X, y)
    _warn_unused_outputs(net, target)
    rng = np.random.default_rng(net.seed if seed is None else seed)
    (X, target), validation = _split_validation(net, X, target, validation_split, validation_data, rng)
    n_samples = X.shape[0]
    batch_size = batch_size_for(batch_size, n_samples)
    if (n_samples - 1) % batch_size == 0 and any(isinstance(layer, BatchNorm) for layer in net.layers):
        raise ValueError(f"{n_samples} training samples in batches of {batch_size} leave a last "
                         "mini-batch of one sample, on which batch normalisation is undefined; "
                         "choose another batch_size")
    epoch_run = _EpochRecord(net, optimizer, penalty, validation, schedule, callbacks,
                             norm_stride=max(1, math.ceil(n_samples / batch_size) // gradient_norm_samples),
                             augment=augment, augment_rng=rng.spawn(1)[0] if augment is not None else None,
                             full_batch=batch_size == n_samples, n_samples=n_samples)
    with exclusive(net):
        if schedule is not None:
            schedule.reset()
        net.history = epoch_run.history
        epoch_run.begin()
        run_epochs(net, (X, target), optimizer, epochs=epochs, batch_size=batch_size, shuffle=shuffle,
                   rng=rng, step=epoch_run.step, measure=epoch_run.measure, record=epoch_run.record,
                   progress=progress,
                   desc="fit", divergence_factor=divergence_factor, on_divergence=on_divergence)
        for callback in callbacks:
            if hasattr(callback, "on_train_end"):
                callback.on_train_end(net)
    return epoch_run.history


def _warn_unused_outputs(net: Network, target: np.ndarray) -> None:
    """Warn when integer labels use a small part of a softmax network's outputs: most often the
    output size was left out of an MLP's sizes (``MLP([64, 100])`` has 100 classes, no hidden layer)."""
    if not isinstance(net.loss, SoftmaxCrossEntropy) or target.ndim != 1:
        return
    n_classes = int(target.max()) + 1
    if net.n_outputs > max(2 * n_classes, 2):
        hint = ""
        if isinstance(net, MLP) and len(net.sizes) == 2:
            hint = (f": an MLP's last size is its number of classes, so MLP({net.sizes}) has no hidden "
                    f"layer; {net.sizes[1]} hidden units for {n_classes} classes is "
                    f"MLP([{net.sizes[0]}, {net.sizes[1]}, {n_classes}])")
        warnings.warn(f"the network has {net.n_outputs} outputs (classes) but y holds labels "
                      f"0..{n_classes - 1}{hint}", UserWarning, stacklevel=3)


def _split_validation(net: Network, X: np.ndarray, target: np.ndarray, validation_split, validation_data,
                      rng: np.random.Generator):
    """``((X, target), (X_val, target_val) or None)``: the validation data given, or a random
    ``validation_split`` of the training data."""
    if validation_data is not None:
        if not isinstance(validation_data, tuple | list) or len(validation_data) != 2:
            raise TypeError("validation_data must be a tuple (X_val, y_val)")
        return (X, target), net.check_Xy(*validation_data, names=("validation_data[0]", "validation_data[1]"))
    if isinstance(validation_split, bool) or not isinstance(validation_split, int | float | np.floating):
        raise TypeError(f"validation_split must be a number in [0, 1), got "
                        f"{type(validation_split).__name__} {validation_split!r}")
    if not validation_split:
        return (X, target), None
    if not 0 < validation_split < 1:
        raise ValueError(f"validation_split must be in [0, 1), got {validation_split!r}")
    n_val = int(round(validation_split * X.shape[0]))
    if n_val < 1 or n_val >= X.shape[0]:
        raise ValueError(f"validation_split={validation_split} leaves {n_val} validation samples "
                         f"out of {X.shape[0]}; need at least one on each side")
    order = rng.permutation(X.shape[0])
    return (X[order[n_val:]], target[order[n_val:]]), (X[order[:n_val]], target[order[:n_val]])


class _EpochRecord:
    """What :func:`fit` does per mini-batch and per epoch around the shared loop: augmentation,
    accuracy and gradient norms, validation, the History, schedule and callbacks."""

    def __init__(self, net, optimizer, penalty, validation, schedule, callbacks, *, norm_stride,
                 augment, augment_rng, full_batch, n_samples):
        self.net, self.optimizer, self.penalty = net, optimizer, penalty or None
        self.validation, self.schedule, self.callbacks = validation, schedule, callbacks
        self.norm_stride, self.augment, self.augment_rng = norm_stride, augment, augment_rng
        self.full_batch, self.n_samples = full_batch, n_samples
        self.classification = net.loss.is_classification
        self.history = History()
        self._reset_sums()

    def _reset_sums(self) -> None:
        self.correct = 0.0
        self.norm_sums = np.zeros(len(self.net.dense_layers))
        self.norm_count = 0

    def begin(self) -> None:
        keys = ["loss", "lr"] + (["accuracy"] if self.classification else [])
        if self.validation is not None:
            keys += ["val_loss"] + (["val_accuracy"] if self.classification else [])
        for callback in self.callbacks:
            if hasattr(callback, "on_train_begin"):
                callback.on_train_begin(self.net)
            if hasattr(callback, "check_logs"):
                callback.check_logs(keys)

    def step(self, batch: tuple[np.ndarray, np.ndarray], batch_index: int) -> float:
        x_batch, t_batch = batch
        if self.augment is not None:
            x_batch = _augmented(self.augment, x_batch.copy() if self.full_batch else x_batch,
                                 self.augment_rng)
        record = batch_index % self.norm_stride == 0
        value, output = self.net.train_step(x_batch, t_batch, self.optimizer, penalty=self.penalty,
                                            gradient_norms=self.norm_sums if record else None)
        self.norm_count += record
        if self.classification:
            self.correct += self.net.loss.accuracy(output, t_batch) * x_batch.shape[0]
        return value

    def measure(self, epoch: int, mean_loss: float) -> dict:
        net = self.net
        logs = {"loss": mean_loss}
        if self.classification:
            logs["accuracy"] = self.correct / self.n_samples
        if self.validation is not None:
            X_val, target_val = self.validation
            output = net.forward(X_val)
            logs["val_loss"] = net.loss.value(output, target_val) + (
                self.penalty.value() if self.penalty else 0.0)
            if self.classification:
                logs["val_accuracy"] = net.loss.accuracy(output, target_val)
        logs["lr"] = self.optimizer.lr
        return logs

    def record(self, epoch: int, logs: dict) -> bool:
        self.history.append(epoch, logs, list(self.norm_sums / max(self.norm_count, 1)))
        self._reset_sums()
        if self.schedule is not None:
            self.optimizer.lr = self.schedule.next_learning_rate(epoch, self.optimizer.lr, logs)
        stop = False
        for callback in self.callbacks:
            hook = getattr(callback, "on_epoch_end", callback)
            stop = bool(hook(self.net, epoch, logs)) or stop
        return stop


def _augmented(augment, x_batch: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Apply the user's augmentation to a batch and check what comes back."""
    result = augment(x_batch, rng)
    if result is None:
        raise TypeError("augment must return the augmented batch (got None)")
    result = np.asarray(result, dtype=x_batch.dtype)
    if result.shape != x_batch.shape:
        raise ValueError(f"augment must return an array of the batch's shape {x_batch.shape}, "
                         f"got {result.shape}")
    return np.ascontiguousarray(result)
