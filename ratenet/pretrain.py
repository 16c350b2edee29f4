"""Greedy layer-wise unsupervised pre-training of a network's hidden layers (Hinton, Osindero & Teh
2006; Bengio et al. 2007), before supervised fine-tuning with backprop.

Each hidden Dense layer, with the activation after it, is trained as the encoder of an
:class:`~ratenet.autoencoder.Autoencoder` (or as an :class:`~ratenet.rbm.RBM`) on the
representation that the layers below give for the data, those layers staying fixed; its learned
weights and biases are then written into the network. The output layer is left as it was; calling
``net.fit`` afterwards fine-tunes everything.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import numpy as np

from .activations import Activation, Sigmoid
from .autoencoder import RECONSTRUCTION_LOSSES, Autoencoder
from .layers import Dense
from .maxout import Maxout
from .network import Network
from .optimizers import Optimizer, get_optimizer
from .rbm import RBM
from .validation import check_choice, check_fraction, check_positive_int

#: Pre-training methods of :func:`pretrain`.
METHODS = ("autoencoder", "rbm")

_CHUNK = 1024


@dataclass
class LayerPretraining:
    """What pre-training did to one hidden layer.

    Attributes
    ----------
    layer : int
        Position of the layer among the network's Dense layers (0 = first).
    n_in, n_out : int
        Its sizes.
    method : str
        ``"autoencoder"`` or ``"rbm"``.
    loss : str
        Reconstruction loss of an autoencoder (``"cross_entropy"`` or ``"squared_error"``);
        ``"cd"`` or ``"pcd"`` for an RBM.
    reconstruction_error : list of float
        Per epoch (see :class:`~ratenet.autoencoder.ReconstructionHistory`).
    pseudo_log_likelihood : list of float
        Per epoch, RBMs only.
    input_range : (float, float)
        Smallest and largest value of the representation the layer was trained on.
    rescaled : bool
        True when that representation was rescaled to [0, 1] for training, the rescaling being
        folded into the weights and biases written to the network.
    model : Autoencoder or RBM
        The trained module.
    """

    layer: int
    n_in: int
    n_out: int
    method: str
    loss: str
    reconstruction_error: list[float] = field(default_factory=list)
    pseudo_log_likelihood: list[float] = field(default_factory=list)
    input_range: tuple[float, float] = (0.0, 1.0)
    rescaled: bool = False
    model: object = None

    def __repr__(self) -> str:
        errors = self.reconstruction_error
        trend = f"{errors[0]:.4g} -> {errors[-1]:.4g}" if errors else "not trained"
        return (f"LayerPretraining(layer {self.layer}: {self.n_in}->{self.n_out}, {self.method}, "
                f"{self.loss}, reconstruction_error {trend}{', rescaled' if self.rescaled else ''})")


class Pretraining(list):
    """The list of :class:`LayerPretraining` records that :func:`pretrain` returns, lowest layer
    first."""

    def __repr__(self) -> str:
        inner = "\n  ".join(repr(record) for record in self)
        return f"Pretraining([\n  {inner}\n])"


def pretrain(net: Network, X, method: str = "autoencoder", epochs: int = 10,
             batch_size: int | None = 32, *, optimizer=None, loss: str = "auto", tied: bool = True,
             corruption: float = 0.0, k: int = 1, persistent: bool = False, rescale: bool = False,
             n_layers: int | None = None, seed=None, monitor: bool = True,
             progress: bool | None = None) -> Pretraining:
    """Greedy layer-wise pre-training of the hidden layers of ``net``, in place.

    Parameters
    ----------
    net : Network
        E.g. ``MLP([64, 100, 100, 10], activation="sigmoid")``. Every hidden Dense layer (every
        Dense layer but the last) must be followed directly by an element-wise activation.
    X : array-like, shape (n_samples, n_inputs)
        Unlabelled training inputs.
    method : {"autoencoder", "rbm"}, default "autoencoder"
        Train each layer as an autoencoder's encoder (any element-wise activation) or as a binary
        RBM (sigmoid hidden layers only; P(h = 1 | x) is the layer's output).
    epochs : int, default 10
        Epochs per layer.
    batch_size : int or None, default 32
    optimizer : str or Optimizer, optional
        Optimiser for every layer (an instance is copied, so each layer starts afresh). Default:
        ``Adam(lr=1e-3)`` for autoencoders, ``SGD(lr=0.1)`` for RBMs.
    loss : {"auto", "cross_entropy", "squared_error"}, default "auto"
        Autoencoder reconstruction loss; ``"auto"`` takes the Bernoulli cross-entropy for a layer
        whose input lies in [0, 1] and squared error otherwise.
    tied : bool, default True
        Autoencoders with tied weights.
    corruption : float in [0, 1), default 0
        Masking-noise fraction (denoising autoencoders).
    k : int, default 1
        Gibbs steps of CD-k / PCD-k.
    persistent : bool, default False
        Persistent contrastive divergence for RBMs.
    rescale : bool, default False
        When a layer's input leaves [0, 1] and the method needs [0, 1] (an RBM, or
        ``loss="cross_entropy"``), rescale each input feature to [0, 1] by its minimum and maximum
        over ``X`` and fold that affine map into the weights and biases written to the network, so
        the network computes on the original inputs. Without it, such input is an error.
    n_layers : int, optional
        Pre-train only the lowest ``n_layers`` hidden layers; default all.
    seed : int or numpy.random.Generator, optional
        Seed of shuffling, noise and sampling; default the network's ``seed``. Layer l uses an
        independent stream derived from it.
    monitor : bool, default True
        RBMs: record the pseudo-log-likelihood after every epoch.
    progress : bool or None
        Progress bars.

    Returns
    -------
    Pretraining
        One :class:`LayerPretraining` per pre-trained layer, lowest first.

    Raises
    ------
    ValueError
        For inputs outside [0, 1] that need to be in it (without ``rescale``), for a network
        whose layers do not chain (sizes, or X's width), for a hidden Dense layer not followed by
        an element-wise activation, and for ``method="rbm"`` on non-sigmoid layers.
    """
    if not isinstance(net, Network):
        raise TypeError(f"net must be a Network, got {type(net).__name__}")
    method = check_choice("method", method, METHODS)
    check_choice("loss", loss, ("auto", *RECONSTRUCTION_LOSSES))
    epochs = check_positive_int("epochs", epochs)
    corruption = check_fraction("corruption", corruption)
    if optimizer is not None and not isinstance(get_optimizer(optimizer), Optimizer):
        raise TypeError("optimizer must be a name or an Optimizer")  # pragma: no cover
    hidden = _hidden_layers(net, method)
    if n_layers is not None:
        n_layers = check_positive_int("n_layers", n_layers)
        if n_layers > len(hidden):
            raise ValueError(f"n_layers={n_layers} but the network has {len(hidden)} hidden layers")
        hidden = hidden[:n_layers]
    representation = _check_inputs(net, X)
    seeds = np.random.SeedSequence(_seed_entropy(net.seed if seed is None else seed)).spawn(len(hidden))

    result = Pretraining()
    previous_position = 0
    for (position, dense_index, dense, activation), layer_seed in zip(hidden, seeds, strict=True):
        # representation of the layers below (fixed), computed in inference mode
        representation = _propagate(net.layers[previous_position:position], representation, net.dtype)
        if representation.shape[1] != dense.n_in:
            raise ValueError(f"layer sizes do not chain: the representation below {dense!r} has "
                             f"{representation.shape[1]} features, the layer expects {dense.n_in}")
        low, high = float(representation.min()), float(representation.max())
        layer_loss = loss
        if method == "autoencoder" and loss == "auto":
            layer_loss = "cross_entropy" if low >= 0 and high <= 1 else "squared_error"
        needs_unit_interval = method == "rbm" or layer_loss == "cross_entropy"
        outside = low < 0 or high > 1
        if needs_unit_interval and outside and not rescale:
            what = "a binary RBM" if method == "rbm" else "the Bernoulli cross-entropy loss"
            where = ("X" if dense_index == 0
                     else f"the input of Dense layer {dense_index} (the output of the layers below)")
            raise ValueError(f"{where} must lie in [0, 1] for {what}; its values run from {low:.4g} to "
                             f"{high:.4g}: pass rescale=True to rescale it (folded into the weights)"
                             + (", or use loss='squared_error'" if method == "autoencoder" else ""))
        offset = scale = None
        training_input = representation
        if needs_unit_interval and outside:
            offset = representation.min(axis=0)
            scale = representation.max(axis=0) - offset
            scale[scale == 0] = 1
            training_input = (representation - offset) / scale
        rng = np.random.default_rng(layer_seed)
        record = LayerPretraining(layer=dense_index, n_in=dense.n_in, n_out=dense.n_out, method=method,
                                  loss=layer_loss, input_range=(low, high), rescaled=offset is not None)
        if method == "autoencoder":
            model = Autoencoder(dense.n_in, dense.n_out, activation, loss=layer_loss, tied=tied,
                                corruption=corruption, seed=rng, dtype=net.dtype)
            # start from the network's own random initialisation
            model.set_encoder(dense.W, dense.b)
            history = model.fit(training_input, epochs=epochs, batch_size=batch_size,
                                optimizer=_fresh_optimizer(optimizer, "adam"), seed=rng, progress=progress)
            weights, bias = model.encoder.W, model.encoder.b
        else:
            model = RBM(dense.n_in, dense.n_out, seed=rng, dtype=net.dtype)
            history = model.fit(training_input, epochs=epochs, batch_size=batch_size,
                                optimizer=_fresh_optimizer(optimizer, None), k=k, persistent=persistent,
                                seed=rng, monitor=monitor, progress=progress)
            weights, bias = model.W, model.hidden_bias
            record.loss = "pcd" if persistent else "cd"
            record.pseudo_log_likelihood = list(history.pseudo_log_likelihood)
        weights = np.array(weights, dtype=np.float64)
        bias = np.array(bias, dtype=np.float64)
        if offset is not None:
            # W ((x - offset) / scale) + b = (W / scale) x + (b - (W / scale) offset)
            weights /= scale
            bias -= weights @ offset
        dense.set_weights(weights, bias)
        record.reconstruction_error = list(history.reconstruction_error)
        record.model = model
        result.append(record)
        previous_position = position
    return result


def _hidden_layers(net: Network, method: str) -> list[tuple[int, int, Dense, Activation]]:
    """(position of the Dense in net.layers, its index among Dense layers, the Dense, its
    activation) for every hidden Dense layer, checked."""
    for position, layer in enumerate(net.layers):
        if isinstance(layer, Maxout):
            raise ValueError(f"layer {position} is {layer!r}: pre-training trains Dense hidden layers "
                             "followed by element-wise activations as autoencoders or RBMs, and a maxout "
                             "layer is neither; pre-train a network without Maxout layers")
    dense_positions = [position for position, layer in enumerate(net.layers) if isinstance(layer, Dense)]
    if len(dense_positions) < 2:
        raise ValueError(f"the network has no hidden layer to pre-train (it has {len(dense_positions)} "
                         "Dense layer); pre-training needs at least one Dense layer before the output")
    hidden = []
    previous = None
    for dense_index, position in enumerate(dense_positions[:-1]):
        dense = net.layers[position]
        if previous is not None and dense.n_in != previous.n_out:
            raise ValueError(f"layer sizes do not chain: Dense layer {dense_index} {dense!r} has "
                             f"n_in={dense.n_in} but the layer below has n_out={previous.n_out}")
        following = net.layers[position + 1]
        if not (isinstance(following, Activation) and following.elementwise):
            raise ValueError(f"Dense layer {dense_index} {dense!r} must be followed directly by an "
                             f"element-wise activation to be pre-trained, found {following!r}")
        if method == "rbm" and not isinstance(following, Sigmoid):
            raise ValueError(f"method='rbm' needs sigmoid hidden layers (an RBM's P(h = 1 | x) is a "
                             f"sigmoid); Dense layer {dense_index} is followed by {following!r}: use "
                             "method='autoencoder'")
        hidden.append((position, dense_index, dense, following))
        previous = dense
    last = net.layers[dense_positions[-1]]
    if last.n_in != previous.n_out:
        raise ValueError(f"layer sizes do not chain: the output layer {last!r} has n_in={last.n_in} but "
                         f"the layer below has n_out={previous.n_out}")
    return hidden


def _check_inputs(net: Network, X) -> np.ndarray:
    n_inputs = net.dense_layers[0].n_in
    try:
        array = np.asarray(X, dtype=net.dtype)
    except (TypeError, ValueError) as error:
        raise TypeError(f"X must be a numeric array, got {type(X).__name__}") from error
    if array.ndim != 2 or array.shape[1] != n_inputs:
        raise ValueError(f"X must have shape (n_samples, {n_inputs}) to chain with the network's first "
                         f"layer {net.dense_layers[0]!r}, got {array.shape}")
    if array.shape[0] == 0:
        raise ValueError("X must hold at least one sample")
    if not np.isfinite(array).all():
        raise ValueError("X must be finite; it contains NaN or inf")
    return np.ascontiguousarray(array)


def _propagate(layers, X: np.ndarray, dtype) -> np.ndarray:
    """Output of ``layers`` (inference mode) for X, in chunks, as a new array."""
    if not layers:
        return X
    chunks = []
    for start in range(0, X.shape[0], _CHUNK):
        h = X[start:start + _CHUNK]
        for layer in layers:
            h = layer.forward(h, training=False)
        chunks.append(np.array(h, dtype=dtype))
    return np.ascontiguousarray(np.concatenate(chunks))


def _fresh_optimizer(optimizer, default):
    if optimizer is None:
        return default if default is not None else None
    if isinstance(optimizer, Optimizer):
        fresh = copy.deepcopy(optimizer)
        fresh.reset()
        return fresh
    return optimizer


def _seed_entropy(seed) -> int:
    if isinstance(seed, np.random.Generator):
        return int(seed.integers(2**63))
    if isinstance(seed, int | np.integer) and not isinstance(seed, bool):
        return int(seed)
    raise TypeError(f"seed must be an int or a numpy.random.Generator, got {type(seed).__name__}")
