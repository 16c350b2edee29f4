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

import numpy as np

from ._blas import gemm
from ._loop import DIVERGENCE_FACTOR, batch_size_for, check_divergence_options, exclusive, run_epochs
from .activations import Activation, Sigmoid, get_activation
from .layers import INITIALIZATIONS, Dense
from .losses import MSE, BinaryCrossEntropy
from .optimizers import Optimizer, get_optimizer
from .validation import check_choice, check_dtype, check_fraction, check_positive_int, check_samples

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

    def record(self, epoch: int, error: float, learning_rate: float,
               validation_error: float | None = None) -> None:
        """Append one epoch's figures (``validation_error`` None without validation data)."""
        self.epochs.append(epoch)
        self.reconstruction_error.append(error)
        self.learning_rate.append(learning_rate)
        if validation_error is not None:
            self.val_reconstruction_error.append(validation_error)

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

    def __init__(self, n_visible: int, n_hidden: int, activation="sigmoid", *,
                 loss: str = "cross_entropy", tied: bool = True, corruption: float = 0.0,
                 init: str = "glorot", seed=0, dtype=np.float64):
        self.n_visible = check_positive_int("n_visible", n_visible)
        self.n_hidden = check_positive_int("n_hidden", n_hidden)
        self.activation = _copy_activation(activation)
        self.loss_name = check_choice("loss", loss, RECONSTRUCTION_LOSSES)
        self.loss = BinaryCrossEntropy(from_logits=True) if loss == "cross_entropy" else MSE()
        self.tied = bool(tied)
        self.corruption = check_fraction("corruption", corruption)
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

    def _encode_for_training(self, x: np.ndarray) -> np.ndarray:
        """Hidden activities for a validated batch (a reused buffer); keeps Z for backward."""
        z = self.encoder.forward(x, training=True)
        self._z = z
        return self.activation.function(z, out=self._buffer("h", z.shape))

    def _decode_for_training(self, h: np.ndarray) -> np.ndarray:
        """Decoder pre-activation A = H V^T + c for a batch (a reused buffer)."""
        if self.tied:
            a = self._buffer("a", (h.shape[0], self.n_visible))
            np.copyto(a, self.visible_bias)
            gemm(1.0, h, self.encoder.W, 1.0, a)  # A = c + H W in one pass over A
            return a
        return self.decoder.forward(h, training=True)

    def _loss_step(self, x: np.ndarray, target: np.ndarray, learning_rate: float | None = None) -> float:
        """Forward, loss and backward on one batch; returns the loss.

        Without ``learning_rate``, fills :meth:`gradients`. With it, takes a plain gradient-descent
        step instead, folded into the weight-gradient products (GEMM with beta = 1: W <- W - lr
        dE/dW without storing dE/dW); every gradient is computed from the old weights first.
        """
        h = self._encode_for_training(x)
        a = self._decode_for_training(h)
        value, grad_a = self.loss.value_and_gradient(a, target, out=self._buffer("grad_a", a.shape))
        grad_h = self._buffer("grad_h", h.shape)
        gemm(1.0, grad_a, self.decoder_weights, 0.0, grad_h)  # dE/dH = dE/dA V
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
                gemm(1.0, h.T, grad_a, 1.0, self.encoder.dW)
            else:
                gemm(1.0, grad_a.T, h, 0.0, self.decoder.dW)
                np.sum(grad_a, axis=0, out=self.decoder.db)
            return value
        rate = -learning_rate
        gemm(rate, grad_z.T, x, 1.0, self.encoder.W)
        if self.tied:
            gemm(rate, h.T, grad_a, 1.0, self.encoder.W)
        else:
            gemm(rate, grad_a.T, h, 1.0, self.decoder.W)
        _add_scaled_column_sum(self.encoder.b, rate, grad_z, self.encoder.db)
        _add_scaled_column_sum(self.visible_bias, rate, grad_a, self._buffer("dc", self.visible_bias.shape))
        return value

    # ------------------------------------------------------------------------------ checking
    def _check_X(self, X, name: str = "X") -> np.ndarray:
        return check_samples(X, name, self.n_visible, self.dtype,
                           unit_interval=self.loss_name == "cross_entropy",
                           why="the Bernoulli cross-entropy loss (loss='cross_entropy')",
                           remedy="rescale it to [0, 1] or use loss='squared_error'")

    # ---------------------------------------------------------------------------- public API
    def encode(self, X) -> np.ndarray:
        """Hidden representation ``f(X W^T + b)``, shape (n_samples, n_hidden), a new array.

        :meth:`encode`, :meth:`decode`, :meth:`reconstruct` and :meth:`reconstruction_error` may be
        called from several threads at once: they compute in arrays of their own.
        """
        X = self._check_X(X)
        hidden = X @ self.encoder.W.T
        hidden += self.encoder.b
        return self.activation.function(hidden, out=hidden)

    def decode(self, H) -> np.ndarray:
        """Reconstruction from codes ``H`` (n_samples, n_hidden): ``sigmoid(H V^T + c)`` for the
        cross-entropy loss, ``H V^T + c`` for squared error; shape (n_samples, n_visible)."""
        H = check_samples(H, "H", self.n_hidden, self.dtype)
        logits = self._decoder_logits(H)
        return self.loss.output_to_probability(logits) if self.loss_name == "cross_entropy" else logits

    def _decoder_logits(self, H: np.ndarray) -> np.ndarray:
        """``H V^T + c`` for validated codes, a new array."""
        logits = H @ self.decoder_weights.T
        logits += self.visible_bias
        return logits

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
            total += self.loss.value(self._decoder_logits(self.encode(x)), x) * x.shape[0]
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
        with exclusive(self, "loss_and_gradients"):
            value = self._loss_step(X, target)
            return value, [grad.copy() for grad in self.gradients()]

    def fit(self, X, epochs: int = 10, batch_size: int | None = 32, optimizer="adam", *,
            shuffle: bool = True, seed=None, validation_data=None, progress: bool | None = None,
            divergence_factor: float = DIVERGENCE_FACTOR,
            on_divergence: str = "raise") -> ReconstructionHistory:
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
        divergence_factor, on_divergence
            Runaway training (see :func:`ratenet.fit`): the weights and optimizer state go back
            to the last completed epoch (or the start of the call); then raise or warn.

        Returns
        -------
        ReconstructionHistory
            Also kept as ``self.history``.

        Raises
        ------
        FloatingPointError
            On runaway training (learning rate too large); the weights are restored first.
        RuntimeError
            When the autoencoder is already training in another thread.
        """
        X = self._check_X(X)
        X_val = None if validation_data is None else self._check_X(validation_data, "validation_data")
        epochs = check_positive_int("epochs", epochs)
        optimizer = get_optimizer(optimizer)
        divergence_factor, on_divergence = check_divergence_options(divergence_factor, on_divergence)
        rng = np.random.default_rng(self.seed if seed is None else seed)
        batch_size = batch_size_for(batch_size, X.shape[0])
        history = ReconstructionHistory()

        def measure(epoch: int, error: float) -> dict:
            logs = {"error": error}
            if X_val is not None:
                logs["val_error"] = self.reconstruction_error(X_val)
            return logs

        def record(epoch: int, logs: dict) -> bool:
            history.record(epoch, logs["error"], optimizer.lr, logs.get("val_error"))
            return False

        with exclusive(self):
            self.history = history
            run_epochs(self, (X,), optimizer, epochs=epochs, batch_size=batch_size, shuffle=shuffle,
                       rng=rng, step=lambda batch, _: self.train_step(batch[0], optimizer, rng),
                       measure=measure, record=record, progress=progress, desc="autoencoder",
                       divergence_factor=divergence_factor, on_divergence=on_divergence)
        return history

    def train_step(self, x: np.ndarray, optimizer: Optimizer, rng: np.random.Generator) -> float:
        """One step of gradient descent on the batch ``x`` (validated, as :meth:`fit` passes it):
        masking noise on the input when ``corruption`` > 0 (drawn from ``rng``), the clean ``x``
        as the target; plain SGD folded into the weight-gradient products. Returns the batch's
        loss before the update. Not thread-safe: one thread trains an autoencoder at a time."""
        source = x
        if self.corruption > 0:
            noise = self._buffer("noise", x.shape)
            rng.random(out=noise, dtype=self.dtype)
            keep = self._buffer("keep", x.shape, dtype=np.bool_)
            np.greater_equal(noise, self.corruption, out=keep)
            source = np.multiply(x, keep, out=self._buffer("corrupted", x.shape))
        learning_rate = optimizer.fused_learning_rate
        value = self._loss_step(source, x, learning_rate)
        if learning_rate is None:
            optimizer.update(self.parameters(), self.gradients())
        else:
            optimizer.step_applied()
        return value

    def training_state(self) -> list[np.ndarray]:
        """The arrays that training changes, the autoencoder's own: :meth:`parameters`."""
        return self.parameters()

    def __repr__(self) -> str:
        return (f"Autoencoder({self.n_visible}, {self.n_hidden}, activation={self.activation!r}, "
                f"loss={self.loss_name!r}, tied={self.tied}, corruption={self.corruption}, "
                f"dtype={np.dtype(self.dtype).name})")


# ----------------------------------------------------------------------------- shared helpers

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


def _add_scaled_column_sum(vector: np.ndarray, scale: float, matrix: np.ndarray, scratch: np.ndarray) -> None:
    """vector += scale * matrix.sum(axis=0), in place, through ``scratch`` (vector's shape)."""
    np.sum(matrix, axis=0, out=scratch)
    scratch *= scale
    vector += scratch
