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
from .layers import INITIALIZATIONS, Dense, Layer, Scratch, WeightLayer
from .losses import MSE, BinaryCrossEntropy, Loss, SoftmaxCrossEntropy, get_loss
from .maxout import Maxout
from .merge import Merge
from .model import PREDICT_CHUNK, Model, is_elementwise, is_following_layer, prepare_layers, score_outputs
from .regularization import population_statistics
from .validation import check_choice, check_dtype, check_positive_int, check_samples


class Network(Model):
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
            if isinstance(layer, Merge):
                raise TypeError(f"layers[{index}] is {layer!r}, which combines several inputs: a "
                                "sequential Network has one path; build a ratenet.Graph instead")
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
                                                   if isinstance(layer, WeightLayer)]
        if not self.dense_layers:
            raise ValueError("layers must include at least one Dense (or Maxout) layer")
        previous = None
        for layer in layers:
            if isinstance(layer, WeightLayer):
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
        for index, layer in enumerate(layers):
            if isinstance(layer, WeightLayer):
                layer.compute_input_gradient = index > 0
        # the activation or weight layer after each layer, looking past BatchNorm/Dropout
        following = [next((other for other in layers[index + 1:] if is_following_layer(other)), None)
                     for index in range(len(layers))]
        prepare_layers(layers, following, dtype=self.dtype, init=init, rng=np.random.default_rng(seed))
        # Element-wise activations that keep the base class's forward/backward run through
        # network-owned buffers (function(z, out=...), derivative(z, out=...)).
        self._elementwise = [is_elementwise(layer) for layer in layers]
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

    def loss_step(self, x: np.ndarray, target: np.ndarray, *, training: bool = True,
                  sgd_learning_rate: float | None = None) -> tuple[float, np.ndarray]:
        """Forward, loss and backward on one batch; returns the loss and the output (a buffer).
        See :meth:`Model.loss_step <ratenet.model.Model.loss_step>`."""
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

    # ------------------------------------------------------------------ the Model protocol
    def data_arrays(self, X, y, names=("X", "y")) -> tuple[np.ndarray, np.ndarray]:
        """``(X, target)`` as :meth:`check_Xy` returns them (the training loop's arrays)."""
        return self.check_Xy(X, y, names)

    def batch_parts(self, arrays: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """``(x, target)`` of a batch of :meth:`data_arrays`."""
        x, target = arrays
        return x, target

    def loss_targets(self, target: np.ndarray) -> list[tuple[Loss, int, np.ndarray]]:
        return [(self.loss, self.n_outputs, target)]

    def checked_parameters(self) -> list[tuple[int, dict[str, tuple[np.ndarray, np.ndarray]]]]:
        """The weights and biases of each Dense (or Maxout) layer, labelled by its index among
        them: ``[(index, {"W": (W, dW), "b": (b, db)}), ...]``."""
        return [(index, {"W": (layer.W, layer.dW), "b": (layer.b, layer.db)})
                for index, layer in enumerate(self.dense_layers)]

    def loss_outputs(self, x: np.ndarray) -> np.ndarray:
        """The last layer's output for validated inputs (:meth:`forward` without the checks)."""
        return self._evaluate(x)

    def outputs_loss(self, output: np.ndarray, target: np.ndarray) -> float:
        return self.loss.value(output, target)

    def outputs_accuracy(self, output: np.ndarray, target: np.ndarray) -> float:
        return self.loss.accuracy(output, target)

    @property
    def is_classification(self) -> bool:
        return self.loss.is_classification

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
            value = self.compute_gradients(X, target, training=training)
            return value, [(layer.dW.copy(), layer.db.copy()) for layer in self.dense_layers]

    def loss_value(self, X, y) -> float:
        """Loss on ``(X, y)`` (mean over samples, evaluation mode), without gradients; thread-safe
        as :meth:`forward`. Computed chunk by chunk, so the loss's temporaries stay small."""
        X, target = self.check_Xy(X, y)
        total = 0.0
        output = self._evaluate(X)
        for start in range(0, X.shape[0], PREDICT_CHUNK):
            stop = min(start + PREDICT_CHUNK, X.shape[0])
            total += self.loss.value(output[start:stop], target[start:stop]) * (stop - start)
        return total / X.shape[0]

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
        return score_outputs(self.loss, self._evaluate(X), target)

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

