"""What every trainable ratenet model shares: :class:`Model`, the protocol through which
:func:`ratenet.fit`, :func:`ratenet.check_gradients`, :func:`ratenet.save` and the training loop
take a model, and the preparation of its layers (:func:`prepare_layers`).

Two models implement it: :class:`~ratenet.Network`, a chain of layers with one loss, and
:class:`~ratenet.Graph`, a directed acyclic graph of modules with named inputs and several
weighted losses. The training loop batches a tuple of equal-length arrays (:meth:`Model.data_arrays`
gives it: the inputs, then the targets); the model splits each batch back into its own forms of
inputs and targets (:meth:`Model.batch_parts`) and trains on it (:meth:`Model.train_step`).
Nothing in ``fit`` asks which kind of model it has.
"""

from __future__ import annotations

import numpy as np

from .activations import Activation
from .layers import Dense, Layer, WeightLayer
from .optimizers import Optimizer
from .regularization import WeightPenalty

#: Rows per chunk when predicting: large enough for efficient matrix products, small enough to
#: keep the buffers in cache-friendly sizes.
PREDICT_CHUNK = 1024


class Model:
    """Base class of the trainable models, :class:`~ratenet.Network` and :class:`~ratenet.Graph`.

    A model holds ``layers`` (every module, in evaluation order), ``dense_layers`` (the weight
    layers among them, Dense and Maxout), ``dtype``, ``seed`` and ``history``. The methods below
    marked *protocol* are what :func:`ratenet.fit`, :func:`ratenet.check_gradients` and the
    training loop use; each model implements them for its own forms of inputs, targets and outputs
    (a Network: one array each; a Graph: one array, or a tuple in the order of its inputs and of
    its losses). The others are shared.
    """

    layers: list[Layer]
    dense_layers: list
    history = None

    # ----------------------------------------------------------------------- protocol: data
    def data_arrays(self, X, y, names=("X", "y")) -> tuple[np.ndarray, ...]:
        """Protocol: the inputs and targets, validated, as one tuple of arrays with the same number
        of rows (the inputs first): what the training loop shuffles and cuts into mini-batches.
        ``names`` name ``X`` and ``y`` in error messages."""
        raise NotImplementedError

    def batch_parts(self, arrays: tuple[np.ndarray, ...]) -> tuple:
        """Protocol: ``(inputs, targets)`` of a batch of :meth:`data_arrays`, in the forms that
        :meth:`train_step`, :meth:`loss_outputs` and :meth:`outputs_loss` take."""
        raise NotImplementedError

    def loss_targets(self, targets) -> list[tuple]:
        """Protocol: ``[(loss, n_outputs, target), ...]``, each loss with the width of the output
        it takes and its targets (``fit`` checks that labels use the outputs)."""
        raise NotImplementedError

    # ------------------------------------------------------------------- protocol: training
    def loss_step(self, inputs, targets, *, training: bool = True,
                  sgd_learning_rate: float | None = None) -> tuple[float, object]:
        """Protocol: forward (in training mode or not), loss and backward on a batch; returns the
        loss (mean over the samples) and the outputs the losses took (reused buffers, valid until
        the next pass). Every layer's gradients are filled, except that given
        ``sgd_learning_rate``, Dense layers apply a plain gradient-descent step during the backward
        pass instead of storing theirs (:meth:`ratenet.Dense.backward_sgd`). Not thread-safe."""
        raise NotImplementedError

    def checked_parameters(self) -> list[tuple[object, dict[str, tuple[np.ndarray, np.ndarray]]]]:
        """Protocol: the parameters that :func:`ratenet.check_gradients` checks, in groups:
        ``[(label, {name: (parameter, gradient)}), ...]``."""
        raise NotImplementedError

    # ------------------------------------------------------------------ protocol: measuring
    def loss_outputs(self, inputs):
        """Protocol: the outputs the losses take, for validated inputs, in new arrays. Thread-safe
        (computed in the calling thread's own scratch arrays)."""
        raise NotImplementedError

    def outputs_loss(self, outputs, targets) -> float:
        """Protocol: the (total) loss of ``outputs`` against ``targets``, mean over samples."""
        raise NotImplementedError

    def outputs_accuracy(self, outputs, targets) -> float:
        """Protocol: the accuracy of ``outputs`` against ``targets`` (classification only, see
        :attr:`is_classification`)."""
        raise NotImplementedError

    @property
    def is_classification(self) -> bool:
        """Protocol: True when the model's (main) loss classifies, so that accuracy is defined."""
        raise NotImplementedError

    # -------------------------------------------------------------------------------- shared
    def train_step(self, inputs, targets, optimizer: Optimizer, *, penalty: WeightPenalty | None = None,
                   gradient_norms: np.ndarray | None = None) -> tuple[float, object]:
        """One step of gradient descent on one mini-batch: forward in training mode, loss,
        backprop, and the optimiser's update. The step of :func:`ratenet.fit`.

        Plain :class:`~ratenet.SGD` is folded into the backward matrix products (the gradients
        are then not stored) unless a penalty or gradient norms are asked for.

        Parameters
        ----------
        inputs, targets
            A batch as :meth:`batch_parts` returns it.
        optimizer : Optimizer
        penalty : WeightPenalty, optional
            Added to the loss, its gradient to the layers' gradients.
        gradient_norms : ndarray, shape (n_dense_layers,), optional
            The Frobenius norms of each Dense layer's data-loss gradient are added into it.

        Returns
        -------
        loss : float
            The batch's loss before the update (mean over its samples, penalty included).
        outputs
            What the losses took (a Network: its last layer's output): reused buffers, valid until
            the next step.

        Not thread-safe: a model trains in one thread at a time (``fit`` makes sure).
        """
        fused = optimizer.fused_learning_rate if not penalty and gradient_norms is None else None
        value, outputs = self.loss_step(inputs, targets, training=True, sgd_learning_rate=fused)
        if gradient_norms is not None:
            gradient_norms += self.gradient_norms()
        if penalty:
            value += penalty.value()
            penalty.add_gradients()
        if fused is None:
            optimizer.update(self.parameters(), self.gradients())
            return value, outputs
        for layer in self.layers:  # layers other than Dense (BatchNorm): the same plain step
            if not isinstance(layer, Dense):
                for param, grad in zip(layer.parameters(), layer.gradients(), strict=True):
                    param -= fused * grad
        optimizer.step_applied()
        return value, outputs

    def compute_gradients(self, inputs, targets, *, training: bool = False) -> float:
        """The loss on a batch (as :meth:`batch_parts` gives it), filling every layer's gradients
        (:meth:`gradients`) without updating anything. Not thread-safe: the caller holds the model
        (:func:`ratenet._loop.exclusive`)."""
        value, _ = self.loss_step(inputs, targets, training=training)
        return value

    def parameters(self) -> list[np.ndarray]:
        """Every trainable array, layer by layer (W, b of each Dense layer, gamma and beta of each
        BatchNorm...), the model's own."""
        return [param for layer in self.layers for param in layer.parameters()]

    def gradients(self) -> list[np.ndarray]:
        """Gradients of :meth:`parameters` from the last backward pass, same order."""
        return [grad for layer in self.layers for grad in layer.gradients()]

    def training_state(self) -> list[np.ndarray]:
        """The arrays that training changes, the model's own (not copies): every layer's
        parameters and buffers (batch norm's running statistics), in layer order. The training
        loop copies them to put a diverged or interrupted run back."""
        return [array for layer in self.layers for array in (*layer.parameters(), *layer.buffers().values())]

    def gradient_norms(self) -> list[float]:
        """Frobenius norm of dE/dW of each Dense (or Maxout) layer from the last backward pass."""
        return [float(np.sqrt(np.vdot(layer.dW, layer.dW))) for layer in self.dense_layers]

    @property
    def n_parameters(self) -> int:
        return sum(param.size for param in self.parameters())


def default_init(following: Layer | None) -> str:
    """The initialisation of a weight layer whose weights are followed by ``following`` (the next
    activation or weight layer): He before a ReLU, Glorot otherwise."""
    return "he" if getattr(following, "name", "") == "relu" else "glorot"


def prepare_layers(layers: list[Layer], following: list[Layer | None], *, dtype, init: str | None,
                   rng: np.random.Generator) -> None:
    """Cast every layer to ``dtype``, draw the initial weights of the weight layers not given
    weights (in the order of ``layers``, from ``rng``), then give every layer that draws random
    numbers (Dropout) its own stream spawned from ``rng``.

    ``following[i]`` is the activation or weight layer that receives ``layers[i]``'s output, looking
    past width-preserving layers (BatchNorm, Dropout, sums); it chooses the default initialisation
    (:func:`default_init`) of a weight layer that names none, when ``init`` is None.
    """
    for layer, after in zip(layers, following, strict=True):
        if isinstance(layer, WeightLayer):
            layer.astype(dtype)
            if not layer.weights_given:
                layer.initialize(rng, layer.init or init or default_init(after))
        elif hasattr(layer, "astype"):  # e.g. BatchNorm's gamma, beta and running statistics
            layer.astype(dtype)
    # Layers that draw random numbers (Dropout) get their own stream, spawned from the seed after
    # initialisation (so the initial weights do not depend on them).
    for layer in layers:
        if hasattr(layer, "attach_rng"):
            layer.attach_rng(rng.spawn(1)[0])


def is_elementwise(layer: Layer) -> bool:
    """True for an activation that keeps the base class's forward and backward: a model runs it
    element-wise through its own buffers (``function(z, out=...)``, ``derivative(z, out=...)``)."""
    return (isinstance(layer, Activation) and type(layer).forward is Activation.forward
            and type(layer).backward is Activation.backward)


def score_outputs(loss, output: np.ndarray, target: np.ndarray) -> float:
    """A model's score of its ``output`` against ``target``: the loss's accuracy for classification
    losses, the coefficient of determination R^2 for regression (NaN for a constant target that
    is missed, 1 for one that is hit)."""
    if loss.is_classification:
        return loss.accuracy(output, target)
    residual = float(np.sum((output - target) ** 2))
    total = float(np.sum((target - target.mean(axis=0)) ** 2))
    return 1.0 - residual / total if total > 0 else float("nan" if residual else 1.0)


def is_following_layer(layer: Layer) -> bool:
    """True for the layers that decide a weight layer's default initialisation (activations and
    weight layers); the others (BatchNorm, Dropout, sums) are looked past."""
    return isinstance(layer, WeightLayer | Activation)
