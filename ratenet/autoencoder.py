"""Autoencoders: one hidden layer trained to reconstruct its own input, the building block of greedy
layer-wise pre-training (:func:`ratenet.pretrain`).

The encoder is a ratenet :class:`~ratenet.layers.Dense` layer followed by any element-wise ratenet
activation (sigmoid, tanh, ReLU, the LIF-rate curves...), ``H = f(X W^T + b)``. The decoder maps
the code back, ``A = H V^T + c``, where ``V`` (n_visible, n_hidden) is a second Dense layer's weights
or, with tied weights, ``V = W^T``. Two reconstruction losses, per sample summed over the visible
units and averaged over the samples of a batch (ratenet's fused losses):

* ``"cross_entropy"``: inputs in [0, 1] read as Bernoulli probabilities, reconstruction
  ``sigmoid(A)``, ``E = -sum_i [x_i log xhat_i + (1 - x_i) log(1 - xhat_i)]``, evaluated from the
  logits ``A`` as ``softplus(A) - x A`` (never log(0)); dE/dA = xhat - x.
* ``"squared_error"``: real inputs, linear reconstruction ``xhat = A``, ``E = 1/2 sum_i (xhat_i - x_i)^2``;
  dE/dA = xhat - x.

With tied weights the matrix W appears twice, in the encoder and (transposed) in the decoder; its
gradient is the sum of the two contributions, ``dE/dW = (dE/dZ)^T X + H^T (dE/dA)``.

A denoising autoencoder (Vincent et al. 2008) reconstructs the clean input from a corrupted copy in
which a fraction ``corruption`` of the entries, drawn anew for every mini-batch, is set to zero
(masking noise).
"""

from __future__ import annotations

import copy
import math
import sys

import numpy as np
from scipy.linalg import blas

from .activations import Activation, Sigmoid, get_activation
from .layers import INITIALIZATIONS, Dense
from .losses import MSE, BinaryCrossEntropy
from .optimizers import SGD, Optimizer, get_optimizer
from .validation import check_choice, check_dtype, check_nonnegative, check_positive_int

#: Reconstruction losses of :class:`Autoencoder`.
RECONSTRUCTION_LOSSES = ("cross_entropy", "squared_error")

#: Rows per chunk when encoding or evaluating whole data sets.
_CHUNK = 1024


class ReconstructionHistory:
    """Reconstruction error per epoch of :meth:`Autoencoder.fit` (or :meth:`RBM.fit`).

    Attributes
    ----------
    epochs : list of int
    reconstruction_error : list of float
        Mean over the epoch's mini-batches of the training objective (per sample, summed over the
        visible units), measured while the weights change; for a denoising autoencoder, the error
        of reconstructing clean inputs from corrupted ones.
    val_reconstruction_error : list of float
        Reconstruction error of the clean validation data at the end of each epoch (empty without
        validation data).
    learning_rate : list of float
    pseudo_log_likelihood : list of float
        RBMs only: mean pseudo-log-likelihood per sample (nats) at the end of each epoch.
    """

    def __init__(self):
        self.epochs: list[int] = []
        self.reconstruction_error: list[float] = []
        self.val_reconstruction_error: list[float] = []
        self.learning_rate: list[float] = []
        self.pseudo_log_likelihood: list[float] = []

    def as_dict(self) -> dict[str, list]:
        """The record as plain lists (JSON-ready)."""
        return {key: list(getattr(self, key)) for key in
                ("epochs", "reconstruction_error", "val_reconstruction_error", "learning_rate",
                 "pseudo_log_likelihood")}

    def __len__(self) -> int:
        return len(self.epochs)

    def __repr__(self) -> str:
        if not self.epochs:
            return "ReconstructionHistory(0 epochs)"
        parts = [f"{len(self.epochs)} epochs", "reconstruction_error "
                 f"{self.reconstruction_error[0]:.4g} -> {self.reconstruction_error[-1]:.4g}"]
        if self.val_reconstruction_error:
            parts.append(f"val {self.val_reconstruction_error[-1]:.4g}")
        if self.pseudo_log_likelihood:
            parts.append(f"pseudo_log_likelihood {self.pseudo_log_likelihood[-1]:.4g}")
        return f"ReconstructionHistory({', '.join(parts)})"


class Autoencoder:
    """One-hidden-layer autoencoder, optionally with tied weights and masking noise.

    Parameters
    ----------
    n_visible : int
        Number of inputs (and of reconstructed outputs).
    n_hidden : int
        Number of hidden units (the code).
    activation : str or Activation, default "sigmoid"
        Element-wise hidden activation: a registry name or an instance (copied), e.g.
        ``"soft_lif_rate"``.
    loss : {"cross_entropy", "squared_error"}, default "cross_entropy"
        ``"cross_entropy"``: sigmoid reconstruction and Bernoulli cross-entropy, inputs must lie in
        [0, 1]; ``"squared_error"``: linear reconstruction and 1/2 squared error, any real inputs.
    tied : bool, default True
        Decoder weights are the transpose of the encoder's (one shared matrix).
    corruption : float in [0, 1), default 0
        Fraction of input entries set to zero in each training mini-batch (denoising); 0 trains a
        plain autoencoder.
    init : {"glorot", "he"}, default "glorot"
        Initialisation of the weight matrices (:meth:`Dense.initialize`); biases start at zero.
    seed : int or numpy.random.Generator, default 0
        Seed of the initialisation and the default seed of :meth:`fit` (shuffling, noise).
    dtype : float64 (default) or float32

    Attributes
    ----------
    encoder : Dense
        ``W`` (n_hidden, n_visible) and hidden biases ``b`` (n_hidden,).
    decoder : Dense or None
        Untied: ``W`` (n_visible, n_hidden) and visible biases (n_visible,). None when tied.
    visible_bias : ndarray, shape (n_visible,)
        The decoder's bias c (the decoder Dense's ``b`` when untied).
    history : ReconstructionHistory or None
        Record of the last :meth:`fit`.

    Examples
    --------
    >>> ae = Autoencoder(64, 32, activation="sigmoid", tied=True, seed=0)
    >>> history = ae.fit(X, epochs=10, batch_size=32)            # doctest: +SKIP
    >>> codes = ae.encode(X)                                      # doctest: +SKIP
    """

    #: fit() with plain SGD steps inside the weight-gradient products (see :meth:`_loss_step`).
    fuses_sgd = True

    def __init__(self, n_visible: int, n_hidden: int, activation="sigmoid", *,
                 loss: str = "cross_entropy", tied: bool = True, corruption: float = 0.0,
                 init: str = "glorot", seed=0, dtype=np.float64):
        self.n_visible = check_positive_int("n_visible", n_visible)
        self.n_hidden = check_positive_int("n_hidden", n_hidden)
        self.activation = _copy_activation(activation)
        self.loss_name = check_choice("loss", loss, RECONSTRUCTION_LOSSES)
        self.loss = BinaryCrossEntropy(from_logits=True) if loss == "cross_entropy" else MSE()
        self.tied = bool(tied)
        self.corruption = _check_corruption(corruption)
        check_choice("init", init, tuple(name for name in INITIALIZATIONS if name != "symmetric"))
        self.init = init
        self.seed = seed
        self.dtype = check_dtype(dtype)
        rng = np.random.default_rng(seed)
        self.encoder = Dense(self.n_visible, self.n_hidden, dtype=self.dtype)
        self.encoder.initialize(rng, init)
        # The data's gradient is never needed: the encoder's backward stops at its weights.
        self.encoder.compute_input_gradient = False
        if self.tied:
            self.decoder = None
            self.visible_bias = np.zeros(self.n_visible, dtype=self.dtype)
            self._visible_bias_gradient = np.zeros_like(self.visible_bias)
        else:
            self.decoder = Dense(self.n_hidden, self.n_visible, dtype=self.dtype)
            self.decoder.initialize(rng, init)
            self.visible_bias = self.decoder.b
        self.history: ReconstructionHistory | None = None
        self._buffers: dict[tuple, np.ndarray] = {}

    # ------------------------------------------------------------------------------ parameters
    @property
    def decoder_weights(self) -> np.ndarray:
        """Decoder matrix V, shape (n_visible, n_hidden) (a view of ``encoder.W.T`` when tied)."""
        return self.encoder.W.T if self.tied else self.decoder.W

    def parameters(self) -> list[np.ndarray]:
        """Trainable arrays: [W, b, c] when tied, [W, b, V, c] when not (updated in place)."""
        if self.tied:
            return [self.encoder.W, self.encoder.b, self.visible_bias]
        return [self.encoder.W, self.encoder.b, self.decoder.W, self.decoder.b]

    def gradients(self) -> list[np.ndarray]:
        """Gradients of :meth:`parameters` from the last backward pass, same order."""
        if self.tied:
            return [self.encoder.dW, self.encoder.db, self._visible_bias_gradient]
        return [self.encoder.dW, self.encoder.db, self.decoder.dW, self.decoder.db]

    def set_encoder(self, weights, bias=None) -> None:
        """Copy ``weights`` (n_hidden, n_visible) and ``bias`` (n_hidden,) into the encoder (e.g.
        the random initialisation of a network's layer)."""
        self.encoder.set_weights(weights, bias)

    # ---------------------------------------------------------------------------------- passes
    def _buffer(self, key: str, shape: tuple[int, ...], dtype=None) -> np.ndarray:
        buffer = self._buffers.get((key, shape))
        if buffer is None:
            if len(self._buffers) > 32:
                self._buffers.clear()
            buffer = np.empty(shape, dtype=dtype or self.dtype)
            self._buffers[(key, shape)] = buffer
        return buffer

    def _encode(self, x: np.ndarray) -> np.ndarray:
        """Hidden activities for a validated batch (a reused buffer); keeps Z for backward."""
        z = self.encoder.forward(x, training=True)
        self._z = z
        return self.activation.function(z, out=self._buffer("h", z.shape))

    def _decode_logits(self, h: np.ndarray) -> np.ndarray:
        """Decoder pre-activation A = H V^T + c for a batch (a reused buffer)."""
        if self.tied:
            a = self._buffer("a", (h.shape[0], self.n_visible))
            np.copyto(a, self.visible_bias)
            _gemm(1.0, h, self.encoder.W, 1.0, a)  # A = c + H W in one pass over A
            return a
        return self.decoder.forward(h, training=True)

    def _loss_step(self, x: np.ndarray, target: np.ndarray, learning_rate: float | None = None) -> float:
        """Forward, loss and backward on one batch; returns the loss.

        Without ``learning_rate``, fills :meth:`gradients`. With it, takes a plain gradient-descent
        step instead, folded into the weight-gradient products (GEMM with beta = 1: W <- W - lr
        dE/dW without storing dE/dW); every gradient is computed from the old weights first.
        """
        h = self._encode(x)
        a = self._decode_logits(h)
        value, grad_a = self.loss.value_and_gradient(a, target, out=self._buffer("grad_a", a.shape))
        grad_h = self._buffer("grad_h", h.shape)
        decoder_weights = self.encoder.W.T if self.tied else self.decoder.W
        _gemm(1.0, grad_a, decoder_weights, 0.0, grad_h)  # dE/dH = dE/dA V
        grad_z = self._buffer("grad_z", h.shape)
        if type(self.activation) is Sigmoid:
            # f' = f (1 - f) exactly for the logistic function: two passes over the H already
            # computed instead of re-evaluating the sigmoid from Z
            np.subtract(1, h, out=grad_z)
            grad_z *= h
        else:
            self.activation.derivative(self._z, out=grad_z)
        grad_z *= grad_h
        if learning_rate is None:
            self.encoder.backward(grad_z)  # dW = (dE/dZ)^T X, db
            if self.tied:
                np.sum(grad_a, axis=0, out=self._visible_bias_gradient)
                # the decoder's use of W adds (dE/dV)^T = H^T dE/dA to the encoder's dW
                _gemm(1.0, h.T, grad_a, 1.0, self.encoder.dW)
            else:
                _gemm(1.0, grad_a.T, h, 0.0, self.decoder.dW)
                np.sum(grad_a, axis=0, out=self.decoder.db)
            return value
        rate = -learning_rate
        _gemm(rate, grad_z.T, x, 1.0, self.encoder.W)
        if self.tied:
            _gemm(rate, h.T, grad_a, 1.0, self.encoder.W)
        else:
            _gemm(rate, grad_a.T, h, 1.0, self.decoder.W)
        _add_scaled_column_sum(self.encoder.b, rate, grad_z, self.encoder.db)
        _add_scaled_column_sum(self.visible_bias, rate, grad_a, self._buffer("dc", self.visible_bias.shape))
        return value

    # ------------------------------------------------------------------------------ checking
    def _check_X(self, X, name: str = "X") -> np.ndarray:
        return _check_data(X, name, self.n_visible, self.dtype,
                           unit_interval=self.loss_name == "cross_entropy",
                           why="the Bernoulli cross-entropy loss (loss='cross_entropy')",
                           remedy="rescale it to [0, 1] or use loss='squared_error'")

    # ---------------------------------------------------------------------------- public API
    def encode(self, X) -> np.ndarray:
        """Hidden representation ``f(X W^T + b)``, shape (n_samples, n_hidden), a new array."""
        X = self._check_X(X)
        result = np.empty((X.shape[0], self.n_hidden), dtype=self.dtype)
        for start in range(0, X.shape[0], _CHUNK):
            result[start:start + _CHUNK] = self._encode(X[start:start + _CHUNK])
        return result

    def decode(self, H) -> np.ndarray:
        """Reconstruction from codes ``H`` (n_samples, n_hidden): ``sigmoid(H V^T + c)`` for the
        cross-entropy loss, ``H V^T + c`` for squared error; shape (n_samples, n_visible)."""
        H = _check_data(H, "H", self.n_hidden, self.dtype)
        result = np.empty((H.shape[0], self.n_visible), dtype=self.dtype)
        for start in range(0, H.shape[0], _CHUNK):
            result[start:start + _CHUNK] = self._decode_logits(H[start:start + _CHUNK])
        if self.loss_name == "cross_entropy":
            result = self.loss.output_to_probability(result)
        return result

    def reconstruct(self, X) -> np.ndarray:
        """``decode(encode(X))``, shape (n_samples, n_visible): the clean input's reconstruction."""
        return self.decode(self.encode(X))

    def reconstruction_error(self, X) -> float:
        """Mean over samples of the reconstruction loss of the clean inputs ``X`` (summed over the
        visible units): nats for cross-entropy, squared-error units of X otherwise."""
        X = self._check_X(X)
        total = 0.0
        for start in range(0, X.shape[0], _CHUNK):
            x = X[start:start + _CHUNK]
            a = self._decode_logits(self._encode(x))
            value, _ = self.loss.value_and_gradient(a, x, out=self._buffer("grad_a", a.shape))
            total += value * x.shape[0]
        return total / X.shape[0]

    def corrupt(self, X, seed=None) -> np.ndarray:
        """A copy of ``X`` with masking noise: each entry independently set to 0 with probability
        ``corruption`` (the noise :meth:`fit` applies to every mini-batch).

        Parameters
        ----------
        X : array-like, shape (n_samples, n_visible)
        seed : int or numpy.random.Generator, optional
            Default: the autoencoder's ``seed``.
        """
        X = self._check_X(X)
        rng = np.random.default_rng(self.seed if seed is None else seed)
        return X * (rng.random(X.shape, dtype=self.dtype) >= self.corruption)

    def loss_and_gradients(self, X, target=None) -> tuple[float, list[np.ndarray]]:
        """Loss of reconstructing ``target`` (default ``X``) from the input ``X``, and its
        gradients (copies, in the order of :meth:`parameters`). No noise is added: pass a corrupted
        ``X`` and the clean ``target`` to evaluate the denoising objective."""
        X = self._check_X(X)
        target = X if target is None else self._check_X(target, "target")
        if target.shape != X.shape:
            raise ValueError(f"target must have the shape of X {X.shape}, got {target.shape}")
        value = self._loss_step(X, target)
        return value, [grad.copy() for grad in self.gradients()]

    def fit(self, X, epochs: int = 10, batch_size: int | None = 32, optimizer="adam", *,
            shuffle: bool = True, seed=None, validation_data=None,
            progress: bool | None = None) -> ReconstructionHistory:
        """Train on ``X`` by mini-batch gradient descent on the reconstruction loss.

        Parameters
        ----------
        X : array-like, shape (n_samples, n_visible)
            In [0, 1] for the cross-entropy loss.
        epochs : int, default 10
        batch_size : int or None, default 32
            Samples per step; None: the full batch.
        optimizer : str or Optimizer, default "adam"
            A ratenet optimiser (an instance keeps its state between calls).
        shuffle : bool, default True
            Reshuffle the samples every epoch.
        seed : int or numpy.random.Generator, optional
            Seed of shuffling and masking noise; default: the autoencoder's ``seed``.
        validation_data : array-like, optional
            Clean data whose reconstruction error is recorded after every epoch.
        progress : bool or None
            tqdm bar over epochs; None: only when stderr is a terminal.

        Returns
        -------
        ReconstructionHistory
            Also kept as ``self.history``.

        Raises
        ------
        FloatingPointError
            When the loss becomes NaN or inf (learning rate too large).
        """
        X = self._check_X(X)
        X_val = None if validation_data is None else self._check_X(validation_data, "validation_data")
        epochs = check_positive_int("epochs", epochs)
        optimizer = get_optimizer(optimizer)
        rng = np.random.default_rng(self.seed if seed is None else seed)
        n_samples = X.shape[0]
        batch_size = n_samples if batch_size is None else min(check_positive_int("batch_size",
                                                                                 batch_size), n_samples)
        history = self.history = ReconstructionHistory()
        _run_epochs(self, X, X_val, epochs, batch_size, optimizer, shuffle, rng, history, progress,
                    desc="autoencoder")
        return history

    def _train_batch(self, x: np.ndarray, rng: np.random.Generator, learning_rate=None) -> float:
        """Loss and gradients (or, given ``learning_rate``, a fused SGD step) for the batch ``x``,
        the clean target; masking noise on the input when ``corruption`` > 0."""
        source = x
        if self.corruption > 0:
            noise = self._buffer("noise", x.shape)
            rng.random(out=noise, dtype=self.dtype)
            keep = self._buffer("keep", x.shape, dtype=np.bool_)
            np.greater_equal(noise, self.corruption, out=keep)
            source = np.multiply(x, keep, out=self._buffer("corrupted", x.shape))
        return self._loss_step(source, x, learning_rate)

    def __repr__(self) -> str:
        return (f"Autoencoder({self.n_visible}, {self.n_hidden}, activation={self.activation!r}, "
                f"loss={self.loss_name!r}, tied={self.tied}, corruption={self.corruption}, "
                f"dtype={np.dtype(self.dtype).name})")


# ----------------------------------------------------------------------------- shared helpers

def _run_epochs(model, X, X_val, epochs, batch_size, optimizer: Optimizer, shuffle, rng, history,
                progress, desc, after_epoch=None) -> None:
    """Mini-batch loop shared by Autoencoder and RBM: ``model._train_batch(x, rng)`` fills
    ``model.gradients()`` and returns the batch's reconstruction error; the optimiser steps. A
    model with ``fuses_sgd = True`` takes ``_train_batch(x, rng, lr)`` and steps itself for SGD."""
    n_samples = X.shape[0]
    n_batches = math.ceil(n_samples / batch_size)
    params, grads = model.parameters(), model.gradients()
    # plain SGD folds into the products of models that offer it (no stored gradients)
    fused_sgd = type(optimizer) is SGD and getattr(model, "fuses_sgd", False)
    buffers = {size: np.empty((size, X.shape[1]), dtype=X.dtype)
               for size in {batch_size, n_samples - (n_batches - 1) * batch_size}}
    if progress is None:
        progress = bool(getattr(sys.stderr, "isatty", lambda: False)())
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=epochs, desc=desc, unit="epoch")
    order = np.arange(n_samples)
    try:
        with np.errstate(over="ignore", invalid="ignore"):
            for epoch in range(epochs):
                if shuffle and batch_size < n_samples:
                    order = rng.permutation(n_samples)
                total = 0.0
                for batch_index in range(n_batches):
                    start = batch_index * batch_size
                    stop = min(start + batch_size, n_samples)
                    if batch_size == n_samples:
                        x = X
                    else:
                        x = buffers[stop - start]
                        np.take(X, order[start:stop], axis=0, out=x)
                    if fused_sgd:
                        value = model._train_batch(x, rng, optimizer.lr)
                        optimizer.step_count += 1
                    else:
                        value = model._train_batch(x, rng)
                        optimizer.update(params, grads)
                    if not math.isfinite(value):
                        raise FloatingPointError(
                            f"the reconstruction error became {value} at epoch {epoch + 1} "
                            f"(mini-batch {batch_index + 1} of {n_batches}); the learning rate "
                            f"lr={optimizer.lr:g} is probably too large: try e.g. lr={optimizer.lr / 10:g}")
                    total += value * (stop - start)
                history.epochs.append(epoch)
                history.reconstruction_error.append(total / n_samples)
                history.learning_rate.append(optimizer.lr)
                if X_val is not None:
                    history.val_reconstruction_error.append(model.reconstruction_error(X_val))
                if after_epoch is not None:
                    after_epoch(epoch)
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix(error=f"{history.reconstruction_error[-1]:.4g}")
        for param in params:
            if not np.isfinite(param).all():
                raise FloatingPointError(f"the weights became non-finite; the learning rate "
                                         f"lr={optimizer.lr:g} is probably too large")
    finally:
        if bar is not None:
            bar.close()


def _check_data(X, name: str, n_features: int, dtype, *, unit_interval: bool = False, why: str = "",
                remedy: str = "") -> np.ndarray:
    """Validated C-contiguous (n_samples, n_features) array of ``dtype``; optionally in [0, 1]."""
    try:
        array = np.asarray(X, dtype=dtype)
    except (TypeError, ValueError) as error:
        raise TypeError(f"{name} must be a numeric array, got {type(X).__name__}") from error
    if array.ndim != 2 or array.shape[1] != n_features:
        raise ValueError(f"{name} must have shape (n_samples, {n_features}), got {array.shape}")
    if array.shape[0] == 0:
        raise ValueError(f"{name} must hold at least one sample")
    if not np.isfinite(array).all():
        raise ValueError(f"{name} must be finite; it contains NaN or inf")
    if unit_interval:
        low, high = float(array.min()), float(array.max())
        if low < 0 or high > 1:
            raise ValueError(f"{name} must lie in [0, 1] for {why}; its values run from {low:.4g} to "
                             f"{high:.4g}: {remedy}")
    return np.ascontiguousarray(array)


def _check_corruption(corruption) -> float:
    value = check_nonnegative("corruption", corruption)
    if value >= 1:
        raise ValueError(f"corruption must be a fraction in [0, 1), got {corruption!r}")
    return value


def _copy_activation(activation) -> Activation:
    """A private, element-wise activation instance (activations cache their input)."""
    template = get_activation(activation)
    if not template.elementwise:
        raise ValueError(f"activation must be element-wise (one hidden unit's output depends on its "
                         f"own input only), got {template.name!r}")
    try:
        return type(template)(**template.config())
    except TypeError:
        return copy.deepcopy(template)


def _gemm(alpha: float, a: np.ndarray, b: np.ndarray, beta: float, out: np.ndarray) -> None:
    """out <- alpha a @ b + beta out in place, by one BLAS GEMM (beta = 1 accumulates, which
    numpy's matmul cannot). ``out`` is C-contiguous, so BLAS (column-major) is asked for out^T =
    alpha b^T a^T + beta out^T; C- or F-contiguous operands pass with a transpose flag, uncopied."""
    gemm = blas.sgemm if out.dtype == np.float32 else blas.dgemm
    first, transpose_first = _column_major(b.T)
    second, transpose_second = _column_major(a.T)
    result = gemm(alpha, first, second, beta=beta, c=out.T, trans_a=transpose_first,
                  trans_b=transpose_second, overwrite_c=1)
    if not np.shares_memory(result, out):  # pragma: no cover - out is always C-contiguous here
        out.T[...] = result


def _column_major(matrix: np.ndarray) -> tuple[np.ndarray, int]:
    """(array, transpose flag) with op(array) == matrix and array Fortran-ordered, no copy for C-
    or F-contiguous input."""
    if matrix.flags.f_contiguous:
        return matrix, 0
    if matrix.flags.c_contiguous:
        return matrix.T, 1
    return np.asfortranarray(matrix), 0


def _add_scaled_column_sum(vector: np.ndarray, scale: float, matrix: np.ndarray, scratch: np.ndarray) -> None:
    """vector += scale * matrix.sum(axis=0), in place, through ``scratch`` (vector's shape)."""
    np.sum(matrix, axis=0, out=scratch)
    scratch *= scale
    vector += scratch
