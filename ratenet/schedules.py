"""Learning-rate schedules, applied by ``fit`` at the end of every epoch.

A schedule's :meth:`Schedule.next_learning_rate` receives the number of the epoch just finished
(epochs are numbered from 1, everywhere in ratenet), the learning rate used in it and that epoch's
logs (``loss``, ``val_loss``, ...), and returns the learning rate for the next epoch.
"""

from __future__ import annotations

import math

from .validation import check_choice, check_nonnegative, check_positive, check_positive_int


class Schedule:
    """Base class of learning-rate schedules."""

    def next_learning_rate(self, epoch: int, learning_rate: float, logs: dict) -> float:
        raise NotImplementedError

    def reset(self) -> None:
        """Forget any state (called at the start of ``fit``)."""

    def config(self) -> dict:
        return {}

    def __repr__(self) -> str:
        arguments = ", ".join(f"{key}={value!r}" for key, value in self.config().items())
        return f"{type(self).__name__}({arguments})"


class StepDecay(Schedule):
    """Multiply the learning rate by ``factor`` every ``step_size`` epochs: epoch ``e`` (from 1)
    trains with lr0 * factor ** ((e - 1) // step_size).

    Parameters
    ----------
    step_size : int, default 10
        Epochs between decays.
    factor : float in (0, 1], default 0.5
    """

    def __init__(self, step_size: int = 10, factor: float = 0.5):
        self.step_size = check_positive_int("step_size", step_size)
        self.factor = _check_factor(factor)

    def next_learning_rate(self, epoch, learning_rate, logs):
        return learning_rate * self.factor if epoch % self.step_size == 0 else learning_rate

    def config(self):
        return {"step_size": self.step_size, "factor": self.factor}


class ExponentialDecay(Schedule):
    """Multiply the learning rate by ``factor`` after every epoch: epoch ``e`` (from 1) trains with
    lr0 * factor ** (e - 1).

    Parameters
    ----------
    factor : float in (0, 1], default 0.95
    """

    def __init__(self, factor: float = 0.95):
        self.factor = _check_factor(factor)

    def next_learning_rate(self, epoch, learning_rate, logs):
        return learning_rate * self.factor

    def config(self):
        return {"factor": self.factor}


class ReduceOnPlateau(Schedule):
    """Halve the learning rate when the monitored quantity stops improving (the notes' recipe).

    After ``patience`` epochs in a row without an improvement of the best value by more than
    ``min_delta``, the learning rate is multiplied by ``factor`` (0.5: halved) and the count
    restarts; it never goes below ``min_lr``.

    Parameters
    ----------
    monitor : str, default "val_loss"
        Key of the epoch logs; falls back to ``"loss"`` when there is no validation data.
    factor : float in (0, 1), default 0.5
    patience : int, default 0
        Epochs without improvement tolerated before reducing (0: reduce as soon as an epoch
        does not improve, as the notes do).
    min_delta : float, default 0
    min_lr : float, default 0
    mode : {"min", "max"}, default "min"
        "max" for accuracies.
    """

    def __init__(self, monitor: str = "val_loss", factor: float = 0.5, patience: int = 0,
                 min_delta: float = 0.0, min_lr: float = 0.0, mode: str = "min"):
        self.monitor = str(monitor)
        self.factor = _check_factor(factor)
        if self.factor == 1:
            raise ValueError("factor must be < 1 for ReduceOnPlateau")
        if isinstance(patience, bool) or not isinstance(patience, int) or patience < 0:
            raise ValueError(f"patience must be an integer >= 0, got {patience!r}")
        self.patience = patience
        self.min_delta = check_nonnegative("min_delta", min_delta)
        self.min_lr = check_nonnegative("min_lr", min_lr)
        self.mode = check_choice("mode", mode, ("min", "max"))
        self.reset()

    def reset(self):
        self.best = math.inf if self.mode == "min" else -math.inf
        self.epochs_without_improvement = 0

    def next_learning_rate(self, epoch, learning_rate, logs):
        key = self.monitor if self.monitor in logs else "loss"
        if key not in logs:
            raise KeyError(f"ReduceOnPlateau monitors {self.monitor!r}, which the epoch logs lack")
        value = logs[key]
        improved = (value < self.best - self.min_delta if self.mode == "min"
                    else value > self.best + self.min_delta)
        if improved:
            self.best = value
            self.epochs_without_improvement = 0
            return learning_rate
        self.epochs_without_improvement += 1
        if self.epochs_without_improvement > self.patience:
            self.epochs_without_improvement = 0
            return max(learning_rate * self.factor, self.min_lr)
        return learning_rate

    def config(self):
        return {"monitor": self.monitor, "factor": self.factor, "patience": self.patience,
                "min_delta": self.min_delta, "min_lr": self.min_lr, "mode": self.mode}


def _check_factor(factor) -> float:
    factor = check_positive("factor", factor)
    if factor > 1:
        raise ValueError(f"factor must be in (0, 1], got {factor!r}")
    return factor
