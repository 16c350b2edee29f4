"""Sequential networks: :class:`Network` (a list of layers plus a loss) and :class:`MLP` (built from
layer sizes).

Forward and backward passes work on whole mini-batches in the notes' matrix form (batches are rows,
so the notes' column formulas appear transposed):

    Z^l = H^{l-1} W^l.T + b^l,   H^l = f(Z^l)
    dE/dZ^l = f'(Z^l) * (dE/dZ^{l+1} W^{l+1}),   dE/dW^l = (dE/dZ^l).T H^{l-1},   dE/db^l = sum_n dE/dZ^l

There is no Python loop over samples. Every intermediate array is preallocated per batch size and
reused, so a training step allocates (almost) nothing; arrays handed back to the user are copies.
Training keeps its state in the layers (their inputs, for backprop) and runs in one thread at a
time; predictions compute in per-thread scratch arrays and may run in many threads at once.
"""

from __future__ import annotations

import copy
import threading

import numpy as np

from ._loop import exclusive
from .activations import Activation, get_activation
from .layers import INITIALIZATIONS, Dense, Layer, Scratch
from .losses import MSE, BinaryCrossEntropy, Loss, SoftmaxCrossEntropy, get_loss
from .maxout import Maxout
from .optimizers import Optimizer
from .regularization import WeightPenalty, population_statistics
from .validation import check_choice, check_dtype, check_positive_int, check_samples

#: Layers with weights W and biases b that the network initialises, chains by n_in/n_out and lists
#: in ``dense_layers`` (gradient checks, norms and penalties go over them).
WEIGHT_LAYERS = (Dense, Maxout)

#: Rows per chunk when predicting: large enough for efficient matrix products, small enough to
#: keep the buffers in cache-friendly sizes.
PREDICT_CHUNK = 1024


class Network:
    """A sequential network: layers applied in order, then a loss on the last output.

    Parameters
    ----------
    layers : list of Layer
        E.g. ``[Dense(64, 100), Tanh(), Dense(100, 10)]``. Activation layers must be distinct
        instances (they remember their input for the backward pass).
    loss : str or Loss, default "mse"
        Loss on the output of the last layer (``"mse"``, ``"binary_cross_entropy"``,
        ``"softmax_cross_entropy"``, ``"sparsemax"``, ``"l1"`` or an instance). The cross-entropies
        and the sparsemax loss take logits, so the network should end with a Dense layer.
    seed : int or numpy.random.Generator, default 0
        Draws the initial weights of every Dense layer that was not given weights, and is the
        default shuffling seed of :meth:`fit`. Same seed, same network.
    dtype : float64 (default) or float32
        Precision of every parameter and computation.
    init : {"glorot", "he", "symmetric"} or None
        Initialisation of Dense layers that do not name their own; None: He (uniform, variance
        2/n_in) for a layer followed by a ReLU, Glorot uniform (the notes' default) otherwise.
        Biases start at zero.
    """

    def __init__(self, layers: list[Layer], loss: str | Loss = "mse", *, seed=0, dtype=np.float64,
                 init: str | None = None):
        layers = list(layers)
        if not layers:
            raise ValueError("layers must hold at least one layer")
        for index, layer in enumerate(layers):
            if not isinstance(layer, Layer):
                raise TypeError(f"layers[{index}] must be a Layer, got {type(layer).__name__}")
        if len({id(layer) for layer in layers}) != len(layers):
            raise ValueError("layers must be distinct instances (an activation used twice would "
                             "overwrite its own cached input); create one per position")
        if init is not None:
            check_choice("init", init, INITIALIZATIONS)
        self.layers = layers
        self.loss = get_loss(loss)
        self.dtype = check_dtype(dtype)
        self.init = init
        self.seed = seed
        self.dense_layers: list[Dense | Maxout] = [layer for layer in layers
                                                   if isinstance(layer, WEIGHT_LAYERS)]
        if not self.dense_layers:
            raise ValueError("layers must include at least one Dense (or Maxout) layer")
        previous = None
        for layer in layers:
            if isinstance(layer, WEIGHT_LAYERS):
                if previous is not None and layer.n_in != previous.n_out:
                    raise ValueError(f"{layer!r} follows {previous!r}: n_in={layer.n_in} must equal "
                                     f"the previous layer's n_out={previous.n_out}")
                previous = layer
            elif hasattr(layer, "n_features"):  # width-preserving layers with a size (BatchNorm)
                width = previous.n_out if previous is not None else self.dense_layers[0].n_in
                if layer.n_features != width:
                    raise ValueError(f"{layer!r} receives {width} features: n_features must be {width}")
        self.n_inputs = self.dense_layers[0].n_in
        self.n_outputs = self.dense_layers[-1].n_out
        rng = np.random.default_rng(seed)
        for index, layer in enumerate(layers):
            if isinstance(layer, WEIGHT_LAYERS):
                layer.astype(self.dtype)
                layer.compute_input_gradient = index > 0
                if not layer.weights_given:
                    # the activation that follows, looking past BatchNorm/Dropout
                    following = next((other for other in layers[index + 1:]
                                      if isinstance(other, (*WEIGHT_LAYERS, Activation))), None)
                    layer.initialize(rng, layer.init or init or _default_init(following))
            elif hasattr(layer, "astype"):  # e.g. BatchNorm's gamma, beta and running statistics
                layer.astype(self.dtype)
        # Layers that draw random numbers (Dropout) get their own stream, spawned from the seed
        # after initialisation (so the initial weights do not depend on them).
        for layer in layers:
            if hasattr(layer, "attach_rng"):
                layer.attach_rng(rng.spawn(1)[0])
        # Element-wise activations that keep the base class's forward/backward run through
        # network-owned buffers (function(z, out=...), derivative(z, out=...)).
        self._elementwise = [isinstance(layer, Activation)
                             and type(layer).forward is Activation.forward
                             and type(layer).backward is Activation.backward for layer in layers]
        self.history = None
        self._reset_runtime_state()

    def _reset_runtime_state(self) -> None:
        """Training buffers, per-thread scratch and locks: rebuilt, never pickled or copied."""
        self._buffers: dict[tuple, np.ndarray] = {}
        self._pre_activation: list[np.ndarray | None] = [None] * len(self.layers)
        self._thread_state = threading.local()
        # layers that cannot infer without changing themselves make predictions take turns
        self._serial_lock = (None if all(type(layer).infer is not Layer.infer for layer in self.layers)
                             else threading.Lock())

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        for name in ("_buffers", "_pre_activation", "_thread_state", "_serial_lock"):
            state.pop(name, None)
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._reset_runtime_state()

    # ----------------------------------------------------------------------------------- passes
    def _buffer(self, key, shape) -> np.ndarray:
        key = (key, shape)
        buffer = self._buffers.get(key)
        if buffer is None:
            if len(self._buffers) > 64:
                self._buffers.clear()
            buffer = np.empty(shape, dtype=self.dtype)
            self._buffers[key] = buffer
        return buffer

    def _forward(self, x: np.ndarray, training: bool) -> np.ndarray:
        """Output of the last layer for a validated batch, keeping what backprop needs (the layers'
        inputs, the pre-activations); the array is a reused buffer. The training path: one thread
        at a time (see :meth:`train_step`)."""
        h = x
        for index, layer in enumerate(self.layers):
            if self._elementwise[index]:
                self._pre_activation[index] = h
                h = layer.function(h, out=self._buffer(("h", index), h.shape))
            else:
                h = layer.forward(h, training)
        return h

    def _backward(self, grad: np.ndarray, sgd_learning_rate: float | None = None) -> None:
        """Backpropagate dE/d(output) through every layer, filling the Dense layers' dW, db, or,
        given ``sgd_learning_rate``, applying a plain gradient-descent step to them on the way
        (see :meth:`Dense.backward_sgd`)."""
        for index in range(len(self.layers) - 1, -1, -1):
            layer = self.layers[index]
            if self._elementwise[index]:
                z = self._pre_activation[index]
                derivative = layer.derivative(z, out=self._buffer(("d", index), z.shape))
                derivative *= grad
                grad = derivative
            else:
                if sgd_learning_rate is not None and isinstance(layer, Dense):
                    grad = layer.backward_sgd(grad, sgd_learning_rate)
                else:
                    grad = layer.backward(grad)
                if grad is None:  # first Dense layer: the data's gradient is not needed
                    return

    def _loss_step(self, x: np.ndarray, target: np.ndarray, training: bool = True,
                   sgd_learning_rate: float | None = None) -> tuple[float, np.ndarray]:
        """Forward, loss and backward on one batch; returns the loss and the output (a buffer)."""
        output = self._forward(x, training)
        value, grad = self.loss.value_and_gradient(output, target,
                                                   out=self._buffer("loss_grad", output.shape))
        self._backward(grad, sgd_learning_rate)
        return value, output

    def _evaluate(self, X: np.ndarray) -> np.ndarray:
        """Output of the last layer for validated inputs, a new array, computed chunk by chunk in
        the calling thread's own scratch arrays (:meth:`Layer.infer`), or under a lock when a
        layer cannot infer without changing itself."""
        result = np.empty((X.shape[0], self.n_outputs), dtype=self.dtype)
        if self._serial_lock is not None:
            with self._serial_lock:
                for start in range(0, X.shape[0], PREDICT_CHUNK):
                    output = self._forward(X[start:start + PREDICT_CHUNK], training=False)
                    result[start:start + PREDICT_CHUNK] = output
            return result
        scratch = getattr(self._thread_state, "scratch", None)
        if scratch is None:
            scratch = self._thread_state.scratch = Scratch()
        for start in range(0, X.shape[0], PREDICT_CHUNK):
            h = X[start:start + PREDICT_CHUNK]
            for layer in self.layers:
                h = layer.infer(h, scratch)
            result[start:start + PREDICT_CHUNK] = h
        return result

    # --------------------------------------------------------------------------------- checking
    def check_X(self, X, name: str = "X") -> np.ndarray:
        """``X`` as this network takes it (see :func:`ratenet.validation.check_samples`): a
        C-contiguous array of its dtype, shape (n_samples, n_inputs) (a 1-D array for a one-input
        network), finite, real, at least one sample."""
        if np.ndim(X) == 1 and self.n_inputs == 1:
            X = np.reshape(X, (-1, 1))
        return check_samples(X, name, self.n_inputs, self.dtype)

    def check_Xy(self, X, y, names=("X", "y")) -> tuple[np.ndarray, np.ndarray]:
        """``(X, target)`` validated as :meth:`check_X` and the loss's ``prepare_target`` take them,
        with the same number of samples."""
        X = self.check_X(X, names[0])
        target = self.loss.prepare_target(y, self.n_outputs, self.dtype)
        if target.shape[0] != X.shape[0]:
            raise ValueError(f"{names[0]} and {names[1]} hold different numbers of samples "
                             f"({X.shape[0]} vs {target.shape[0]})")
        return X, target

    # ------------------------------------------------------------------------------- public API
    def forward(self, X) -> np.ndarray:
        """Network output (last layer, e.g. logits) for ``X`` (n_samples, n_inputs), a new array.

        Thread safety: :meth:`forward`, :meth:`predict`, :meth:`predict_proba`, :meth:`score` and
        :meth:`loss_value` may be called from several threads at once on one network: each thread
        computes in arrays of its own and no layer is changed (a custom layer without
        :meth:`~ratenet.layers.Layer.infer` makes them take turns instead). While :meth:`fit`
        runs in another thread they read weights that change between and during calls.
        """
        return self._evaluate(self.check_X(X))

    def loss_and_gradients(self, X, y, *, training: bool = False) -> tuple[float, list[tuple[np.ndarray,
                                                                                               np.ndarray]]]:
        """Loss on the batch ``(X, y)`` (mean over samples) and its gradients.

        Parameters
        ----------
        X, y : array-like
        training : bool, default False
            Evaluate in training mode: dropout draws masks, batch normalisation uses (and moves its
            running statistics towards) the batch statistics. All gradients of the layers
            (:meth:`gradients`, e.g. batch norm's gamma and beta) are filled either way.

        Returns
        -------
        loss : float
        grads : list of (dW, db)
            One pair per Dense layer, in order: dW of shape (n_out, n_in), db of shape (n_out,)
            (copies).

        Raises
        ------
        RuntimeError
            While the network trains in another thread (the gradients live in its layers).
        """
        X, target = self.check_Xy(X, y)
        with exclusive(self, "loss_and_gradients"):
            value, _ = self._loss_step(X, target, training=training)
            return value, [(layer.dW.copy(), layer.db.copy()) for layer in self.dense_layers]

    def loss_value(self, X, y) -> float:
        """Loss on ``(X, y)`` (mean over samples, evaluation mode), without gradients; thread-safe
        as :meth:`forward`."""
        X, target = self.check_Xy(X, y)
        total = 0.0
        output = self._evaluate(X)
        for start in range(0, X.shape[0], PREDICT_CHUNK):
            stop = min(start + PREDICT_CHUNK, X.shape[0])
            total += self.loss.value(output[start:stop], target[start:stop]) * (stop - start)
        return total / X.shape[0]

    def train_step(self, x: np.ndarray, target: np.ndarray, optimizer: Optimizer, *,
                   penalty: WeightPenalty | None = None,
                   gradient_norms: np.ndarray | None = None) -> tuple[float, np.ndarray]:
        """One step of gradient descent on one mini-batch: forward in training mode, loss,
        backprop, and the optimiser's update. The step of :func:`ratenet.fit`.

        Plain :class:`~ratenet.SGD` is folded into the backward matrix products (the gradients
        are then not stored) unless a penalty or gradient norms are asked for.

        Parameters
        ----------
        x, target : ndarray
            A batch as :meth:`check_Xy` returns it.
        optimizer : Optimizer
        penalty : WeightPenalty, optional
            Added to the loss, its gradient to the layers' gradients.
        gradient_norms : ndarray, shape (n_dense_layers,), optional
            The Frobenius norms of each Dense layer's data-loss gradient are added into it.

        Returns
        -------
        loss : float
            The batch's loss before the update (mean over its samples, penalty included).
        output : ndarray
            The last layer's output on the batch: a reused buffer, valid until the next step.

        Not thread-safe: a network trains in one thread at a time (``fit`` makes sure).
        """
        fused = optimizer.fused_learning_rate if not penalty and gradient_norms is None else None
        value, output = self._loss_step(x, target, training=True, sgd_learning_rate=fused)
        if gradient_norms is not None:
            gradient_norms += self.gradient_norms()
        if penalty:
            value += penalty.value()
            penalty.add_gradients()
        if fused is None:
            optimizer.update(self.parameters(), self.gradients())
            return value, output
        for layer in self.layers:  # layers other than Dense (BatchNorm): the same plain step
            if not isinstance(layer, Dense):
                for param, grad in zip(layer.parameters(), layer.gradients(), strict=True):
                    param -= fused * grad
        optimizer.step_applied()
        return value, output

    def training_state(self) -> list[np.ndarray]:
        """The arrays that training changes, the network's own (not copies): every layer's
        parameters and buffers (batch norm's running statistics), in layer order. The training
        loop copies them to put a diverged or interrupted run back."""
        return [array for layer in self.layers for array in (*layer.parameters(), *layer.buffers().values())]

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities, shape (n_samples, n_classes) (softmax of the logits; sparsemax of
        them for the sparsemax loss) or, for a binary cross-entropy network, (n_samples, n_outputs)
        probabilities of label 1. Thread-safe as :meth:`forward`."""
        if not self.loss.is_classification:
            raise TypeError(f"predict_proba needs a classification loss; this network's loss is "
                            f"{self.loss!r}")
        return self.loss.output_to_probability(self.forward(X))

    def predict(self, X) -> np.ndarray:
        """Predictions for ``X``; thread-safe as :meth:`forward`.

        Softmax cross-entropy or sparsemax loss: integer labels (n_samples,), the argmax of the
        logits. Binary cross-entropy: 0/1 labels, (n_samples,) for one output, else (n_samples,
        n_outputs). Regression: outputs, (n_samples,) for one output, else (n_samples, n_outputs).
        """
        return self.loss.decision(self.forward(X))

    def score(self, X, y) -> float:
        """Accuracy for classification losses (fraction of samples whose whole label is right);
        coefficient of determination R^2 for regression. Thread-safe as :meth:`forward`."""
        X, target = self.check_Xy(X, y)
        output = self._evaluate(X)
        if self.loss.is_classification:
            return self.loss.accuracy(output, target)
        residual = float(np.sum((output - target) ** 2))
        total = float(np.sum((target - target.mean(axis=0)) ** 2))
        return 1.0 - residual / total if total > 0 else float("nan" if residual else 1.0)

    def fit(self, X, y, epochs: int = 10, batch_size: int | None = 32, optimizer="adam", **options):
        """Train by mini-batch gradient descent (:func:`ratenet.fit`).

        Parameters
        ----------
        X : array-like, shape (n_samples, n_inputs)
        y : array-like
            Targets for the network's loss: integer labels (or one-hot rows) for softmax
            cross-entropy, 0/1 for binary cross-entropy, values of shape (n_samples, n_outputs)
            for MSE.
        epochs : int, default 10
            Passes over the training data (numbered from 1 in the History).
        batch_size : int or None, default 32
            Samples per step; None: full-batch gradient descent.
        optimizer : str or Optimizer, default "adam"
            A name (``"sgd"``, ``"momentum"``, ``"nesterov"``, ``"adagrad"``, ``"rmsprop"``,
            ``"adam"``) or an instance, which keeps its state between calls.
        **options
            Everything else :func:`ratenet.fit` takes: ``validation_split``, ``validation_data``,
            ``shuffle``, ``seed``, ``schedule``, ``callbacks`` (e.g. :class:`~ratenet.EarlyStopping`),
            ``progress``, ``gradient_norm_samples``, ``weight_decay``, ``l1``,
            ``regularize_bias``, ``augment``, ``divergence_factor``, ``on_divergence``.

        Returns
        -------
        History
            Also kept as ``self.history``.

        Raises
        ------
        FloatingPointError
            On runaway training; the weights and optimizer state are put back first (see
            :func:`ratenet.fit`).
        RuntimeError
            When this network is already training in another thread.
        """
        from .train import fit

        return fit(self, X, y, epochs=epochs, batch_size=batch_size, optimizer=optimizer, **options)

    def set_population_statistics(self, X, batch_size: int = PREDICT_CHUNK) -> list:
        """Give every BatchNorm layer the mean and unbiased variance of its input over ``X``, the
        population statistics that the evaluation mode then uses instead of the running averages.

        Call it after training, with the training inputs ``X`` (n_samples >= 2, n_inputs); see
        :func:`ratenet.regularization.population_statistics` for how they are computed. On any
        error no layer is changed. Like :meth:`fit`, it changes the network's training state (the
        running statistics): it raises RuntimeError while the network trains in another thread.

        Returns
        -------
        list of (position, mean, variance)
            Per BatchNorm layer: its index in ``layers`` and the statistics installed (float64).
        """
        X = self.check_X(X)
        with exclusive(self, "set_population_statistics"):
            statistics = population_statistics(self.layers, X, batch_size=batch_size)
            for position, mean, variance in statistics:
                self.layers[position].set_running_statistics(mean, variance)
        return statistics

    def save(self, path, optimizer=None, **options):
        """Write the network (and optionally ``optimizer``) to one ``.npz`` file; see
        :func:`ratenet.io.save` for ``rng=`` and ``metadata=``. :func:`ratenet.load` reads it back.

        Returns the path written (a pathlib.Path).
        """
        from .io import save

        return save(self, path, optimizer, **options)

    def parameters(self) -> list[np.ndarray]:
        """Every trainable array, layer by layer (W, b of each Dense layer)."""
        return [param for layer in self.layers for param in layer.parameters()]

    def gradients(self) -> list[np.ndarray]:
        """Gradients of :meth:`parameters` from the last backward pass, same order."""
        return [grad for layer in self.layers for grad in layer.gradients()]

    def gradient_norms(self) -> list[float]:
        """Frobenius norm of dE/dW of each Dense layer from the last backward pass."""
        return [float(np.sqrt(np.vdot(layer.dW, layer.dW))) for layer in self.dense_layers]

    @property
    def n_parameters(self) -> int:
        return sum(param.size for param in self.parameters())

    def __repr__(self) -> str:
        inner = ", ".join(repr(layer) for layer in self.layers)
        return (f"{type(self).__name__}([{inner}], loss={self.loss!r}, "
                f"dtype={np.dtype(self.dtype).name}, n_parameters={self.n_parameters})")


_OUTPUTS = {"softmax": SoftmaxCrossEntropy, "sigmoid": BinaryCrossEntropy, "linear": MSE}


class MLP(Network):
    """Multilayer perceptron from layer sizes: Dense, activation, ..., Dense, with the output
    nonlinearity fused into the loss.

    Parameters
    ----------
    sizes : list of int
        ``[n_inputs, n_hidden_1, ..., n_outputs]``, at least two entries.
    activation : str or Activation, default "sigmoid"
        Hidden-layer activation: a registry name (``"sigmoid"``, ``"tanh"``, ``"relu"``, ...) or an
        instance, which is cloned so that every hidden layer has its own.
    output : {"softmax", "sigmoid", "linear"}, default "softmax"
        ``"softmax"``: softmax + categorical cross-entropy on the logits (labels 0..K-1 or one-hot);
        ``"sigmoid"``: sigmoid + binary cross-entropy (one output, or multi-label); ``"linear"``:
        MSE regression.
    seed, dtype, init
        As for :class:`Network`.

    Examples
    --------
    >>> net = MLP([64, 100, 10], activation="sigmoid", output="softmax", seed=0)
    >>> net.dense_layers[0].W.shape
    (100, 64)
    """

    def __init__(self, sizes, activation="sigmoid", output: str = "softmax", *, seed=0,
                 dtype=np.float64, init: str | None = None):
        sizes = list(sizes)
        if len(sizes) < 2:
            raise ValueError(f"sizes must list at least the inputs and outputs, got {sizes}")
        sizes = [check_positive_int(f"sizes[{index}]", size) for index, size in enumerate(sizes)]
        check_choice("output", output, tuple(_OUTPUTS))
        template = get_activation(activation)
        layers: list[Layer] = []
        for index, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
            layers.append(Dense(n_in, n_out, dtype=dtype))
            if index < len(sizes) - 2:
                layers.append(_clone_activation(template))
        self.sizes = sizes
        self.activation = template
        self.output = output
        super().__init__(layers, loss=_OUTPUTS[output](), seed=seed, dtype=dtype, init=init)

    def __repr__(self) -> str:
        return (f"MLP({self.sizes}, activation={self.activation!r}, output={self.output!r}, "
                f"dtype={np.dtype(self.dtype).name})")


def _clone_activation(activation: Activation) -> Activation:
    """A fresh instance with the same configuration (activations cache their input)."""
    try:
        return type(activation)(**activation.config())
    except TypeError:
        return copy.deepcopy(activation)


def _default_init(following: Layer | None) -> str:
    return "he" if getattr(following, "name", "") == "relu" else "glorot"
