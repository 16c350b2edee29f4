"""The one mini-batch training loop of ratenet: :func:`ratenet.fit`, :meth:`ratenet.Autoencoder.fit`
and :meth:`ratenet.RBM.fit` all run :func:`run_epochs`.

It owns what every training run shares: shuffling, gathering rows into preallocated batches,
the progress bar, and the guards that make a run safe to fail:

- Divergence. A mini-batch whose loss is not finite, or exceeds ``divergence_factor`` times the
  loss at the start of the call (``max(initial loss, 1)``, so that a loss already near zero does
  not make every fluctuation look like a blow-up), or parameters that are no longer finite at the
  end of an epoch, stop the run before anything overflows. The model's training state
  (parameters and buffers) and the optimiser's state (moments, step count, learning rate) are put
  back as they were at the end of the last completed epoch, or at the start of the call, and
  :class:`FloatingPointError` says what was restored and what to change; ``on_divergence="warn"``
  warns instead and returns.
- Interruption. Ctrl-C (or any exception from a callback) during an epoch puts the same state
  back to the end of the last completed epoch before the exception propagates: never a
  half-applied mini-batch.
- One thread at a time. A model that is already training (in another thread, or in an enclosing
  call) refuses a second run with :class:`RuntimeError`; see :func:`exclusive`.

The snapshot costs one copy of the training state and of the optimiser's state, refreshed at the
end of every epoch.
"""

from __future__ import annotations

import math
import sys
import threading
import warnings
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numpy as np

#: A mini-batch loss above this multiple of the loss at the start of the call is a divergence.
DIVERGENCE_FACTOR = 1e4
#: What a divergence does: raise FloatingPointError, or warn and stop.
ON_DIVERGENCE = ("raise", "warn")

_training: weakref.WeakSet = weakref.WeakSet()
_training_lock = threading.Lock()


@contextmanager
def exclusive(model: object, action: str = "fit") -> Iterator[None]:
    """Run the body as the only user of ``model``'s training state (its layers' cached inputs and
    gradients); raise RuntimeError if another thread, or an enclosing call, is using it."""
    with _training_lock:
        if model in _training:
            raise RuntimeError(f"{action} cannot run: this {type(model).__name__} is already training "
                               "(in another thread, or in the call that this one is nested in). A model "
                               "trains in one thread at a time; train a copy (copy.deepcopy) in parallel")
        _training.add(model)
    try:
        yield
    finally:
        with _training_lock:
            _training.discard(model)


class Snapshot:
    """A copy of a model's training state and its optimiser's state, to put a run back (taken
    at creation: the start of the call).

    Parameters
    ----------
    arrays : list of ndarray
        The model's own arrays that training changes (copied, then copied back, in place).
    optimizer : Optimizer
    """

    def __init__(self, arrays: list[np.ndarray], optimizer):
        self._pairs = [(array, np.empty_like(array)) for array in arrays]
        self._optimizer = optimizer
        self._state: dict[str, list[np.ndarray]] | None = None
        self.take(None)

    def take(self, epoch: int | None) -> None:
        """Copy the current state (at the end of ``epoch``, or at the start for None)."""
        for array, saved in self._pairs:
            np.copyto(saved, array)
        self._state = self._optimizer.copy_state(self._state)
        self._step_count = self._optimizer.step_count
        self._learning_rate = self._optimizer.lr
        #: Number (from 1) of the epoch whose end the snapshot holds; None: the start of the call.
        self.epoch = epoch

    def restore(self) -> None:
        """Copy the snapshot back into the model's and the optimiser's own arrays."""
        for array, saved in self._pairs:
            np.copyto(array, saved)
        self._optimizer.restore(self._state, self._step_count, self._learning_rate)

    def describe(self) -> str:
        return ("the start of this call" if self.epoch is None
                else f"the end of epoch {self.epoch}")


class Divergence(Exception):
    """Raised inside the loop when training runs away; turned into FloatingPointError."""


def run_epochs(model, arrays: tuple[np.ndarray, ...], optimizer, *, epochs: int, batch_size: int,
               shuffle: bool, rng: np.random.Generator, step: Callable[[tuple, int], float],
               measure: Callable[[int, float], dict], record: Callable[[int, dict], bool],
               progress: bool | None, desc: str,
               divergence_factor: float = DIVERGENCE_FACTOR, on_divergence: str = "raise") -> int:
    """Train ``model`` for up to ``epochs`` passes over ``arrays``; return the epochs completed.

    Parameters
    ----------
    model
        Has ``training_state()``: its own arrays that training changes.
    arrays : tuple of ndarray
        Equal-length arrays (inputs, targets...) whose rows form the mini-batches.
    optimizer : Optimizer
    epochs, batch_size : int
        ``batch_size`` is at most the number of samples; equal to it, the arrays are used as they
        are (full-batch gradient descent).
    shuffle : bool
        Draw a new order of the samples from ``rng`` at every epoch.
    step : callable ``step(batch, batch_index) -> loss``
        One training step on a batch (a tuple of arrays, reused buffers), including the
        optimiser's update; returns the batch's mean loss before the update.
    measure : callable ``measure(epoch, mean_loss) -> logs``
        (``epoch``: the epoch's number, from 1; likewise for ``record``)
        The epoch's figures (the mean training loss, validation figures...), computed without
        changing anything; a value that is not finite counts as a divergence.
    record : callable ``record(epoch, logs) -> stop``
        Records the epoch (history, schedules, callbacks); True ends the run.
    progress : bool or None
        A tqdm bar over epochs; None: only when stderr is a terminal.
    desc : str
        The bar's label.
    divergence_factor : float > 1
    on_divergence : {"raise", "warn"}
    """
    n_samples = arrays[0].shape[0]
    n_batches = math.ceil(n_samples / batch_size)
    full_batch = batch_size == n_samples
    sizes = {batch_size, n_samples - (n_batches - 1) * batch_size}
    buffers = {} if full_batch else {
        size: tuple(np.empty((size, *a.shape[1:]), dtype=a.dtype) for a in arrays) for size in sizes}
    snapshot = Snapshot(model.training_state(), optimizer)          # the call's start
    bar = _progress_bar(progress, epochs, desc)
    order = np.arange(n_samples)
    reference = None
    completed = 0
    try:
        with np.errstate(over="ignore", invalid="ignore"):  # a runaway value is caught below
            for epoch in range(1, epochs + 1):
                if shuffle and not full_batch:
                    order = rng.permutation(n_samples)
                total = 0.0
                for batch_index in range(n_batches):
                    start = batch_index * batch_size
                    stop = min(start + batch_size, n_samples)
                    if full_batch:
                        batch = arrays
                    else:
                        batch = buffers[stop - start]
                        for source, target in zip(arrays, batch, strict=True):
                            np.take(source, order[start:stop], axis=0, out=target)
                    value = step(batch, batch_index)
                    if reference is None:
                        reference = max(value, 1.0) if math.isfinite(value) else 1.0
                    if not value <= divergence_factor * reference:  # also catches NaN
                        raise Divergence(f"the loss reached {value:.4g} at epoch {epoch}, mini-batch "
                                         f"{batch_index + 1} of {n_batches} (the limit is "
                                         f"{divergence_factor:g} x {reference:.4g})")
                    total += value * (stop - start)
                if not all(np.isfinite(array).all() for array in model.training_state()):
                    raise Divergence(f"the parameters became non-finite in epoch {epoch}")
                logs = measure(epoch, total / n_samples)
                for key, value in logs.items():
                    if not math.isfinite(value):
                        raise Divergence(f"{key} became {value} at the end of epoch {epoch}")
                stop_now = record(epoch, logs)
                completed = epoch
                snapshot.take(epoch)
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix({key: f"{value:.4g}" for key, value in logs.items() if key != "lr"})
                if stop_now:
                    break
    except Divergence as divergence:
        snapshot.restore()
        message = (f"training diverged: {divergence}; the parameters, buffers and optimizer state "
                   f"are back as they were at {snapshot.describe()}. The learning rate "
                   f"lr={optimizer.lr:g} is probably too large: try a smaller one, e.g. "
                   f"lr={optimizer.lr / 10:g}, or standardize the inputs")
        if on_divergence == "raise":
            raise FloatingPointError(message) from None
        warnings.warn(message, RuntimeWarning, stacklevel=3)
    except BaseException:
        snapshot.restore()  # Ctrl-C or a failing callback: back to the last completed epoch
        raise
    finally:
        if bar is not None:
            bar.close()
    return completed


def check_divergence_options(divergence_factor: float, on_divergence: str) -> tuple[float, str]:
    """Validate the divergence options of the ``fit`` methods."""
    if isinstance(divergence_factor, bool) or not isinstance(divergence_factor, int | float):
        raise TypeError(f"divergence_factor must be a number > 1, got {type(divergence_factor).__name__}")
    if not divergence_factor > 1:
        raise ValueError(f"divergence_factor must be > 1 (a multiple of the initial loss), got "
                         f"{divergence_factor!r}")
    if on_divergence not in ON_DIVERGENCE:
        raise ValueError(f"on_divergence must be one of {list(ON_DIVERGENCE)}, got {on_divergence!r}")
    return float(divergence_factor), on_divergence


def batch_size_for(batch_size: int | None, n_samples: int) -> int:
    """The batch size a ``fit`` uses: None means the full batch; larger than the data, the data."""
    if batch_size is None:
        return n_samples
    if isinstance(batch_size, bool) or not isinstance(batch_size, int | np.integer):
        raise TypeError(f"batch_size must be an integer or None, got {type(batch_size).__name__}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size!r}")
    return min(int(batch_size), n_samples)


def _progress_bar(progress: bool | None, epochs: int, desc: str):
    if progress is None:
        progress = bool(getattr(sys.stderr, "isatty", lambda: False)())
    if not progress:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=epochs, desc=desc, unit="epoch")
