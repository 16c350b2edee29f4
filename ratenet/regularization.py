"""Regularisation for ratenet networks: :class:`Dropout` and :class:`BatchNorm` layers, and the
L2/L1 weight penalty (:class:`WeightPenalty`) that ``fit(weight_decay=..., l1=...)`` adds to the
loss.

Both layers behave differently in training and in evaluation: ``Network._forward`` passes
``training=True`` inside ``fit`` and ``training=False`` for ``predict``/``score``/``forward``, so
the switch needs nothing from the user.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from . import _batchnorm_kernels as _kernels
from .layers import Layer, Scratch
from .validation import check_dtype, check_fraction, check_nonnegative, check_positive, check_positive_int


def _check_rate(rate) -> float:
    if isinstance(rate, bool) or not isinstance(rate, numbers.Real):
        raise TypeError(f"rate must be a number in [0, 1), got {type(rate).__name__}")
    rate = float(rate)
    if not 0.0 <= rate < 1.0:
        raise ValueError(f"rate must be in [0, 1) (the fraction of units dropped; 1 would drop "
                         f"every unit), got {rate!r}")
    return rate


class Dropout(Layer):
    """Inverted dropout (Srivastava et al. 2014): in training, each unit of each sample is zeroed
    with probability ``rate`` and the survivors are scaled by ``1 / (1 - rate)``; in evaluation the
    layer is the identity.

    The scaling keeps the expected activation equal to the undropped one, so the network needs no
    change at test time (the notes' rescaling by the keep probability, applied while training).
    A fresh mask is drawn for every sample at every training step; backprop multiplies the
    gradient by the same mask. Each unit's draw uses 16 random bits, so the drop probability is
    ``rate`` rounded to a multiple of 2^-16 (within 7.7e-6 of it); the scaling uses that exact
    probability, so the expected activation is exactly the undropped one.

    Parameters
    ----------
    rate : float in [0, 1)
        Probability of dropping a unit. 0 makes the layer the identity.
    seed : int or numpy.random.Generator, optional
        Source of the masks. Default: a generator that the :class:`~ratenet.Network` derives
        from its own ``seed`` (so the same network seed gives the same masks).

    Notes
    -----
    The array returned by :meth:`forward` in training is a reused buffer (as for
    :class:`~ratenet.Dense`). Place the layer after an activation (or on the inputs); its width
    is that of its input.
    """

    def __init__(self, rate: float, *, seed=None):
        self.rate = _check_rate(rate)
        #: units are dropped when their 16 random bits fall below this threshold
        self._threshold = np.uint16(min(round(self.rate * 65536), 65535))
        #: 1 / keep probability, for the exact keep probability 1 - threshold / 2^16
        self._scale = 65536.0 / (65536 - int(self._threshold))
        self.rng: np.random.Generator | None = None if seed is None else np.random.default_rng(seed)
        self._seed_given = seed is not None
        self._mask: np.ndarray | None = None
        self._buffers: dict[tuple, tuple[np.ndarray, ...]] = {}

    def attach_rng(self, rng: np.random.Generator) -> None:
        """Draw the masks from ``rng`` unless the layer was given its own seed (a network hands
        every layer that has this method a stream spawned from the network's seed)."""
        if not self._seed_given:
            self.rng = rng

    def _buffers_for(self, shape, dtype):
        """(mask, output, keep, grad_input) for inputs of this shape: the scaled mask, the output
        and the input gradient in ``dtype``, and the boolean keep-mask."""
        key = (shape, np.dtype(dtype).char)
        buffers = self._buffers.get(key)
        if buffers is None:
            if len(self._buffers) >= 4:
                self._buffers.pop(next(iter(self._buffers)))
            buffers = (np.empty(shape, dtype=dtype), np.empty(shape, dtype=dtype),
                       np.empty(shape, dtype=bool), np.empty(shape, dtype=dtype))
            self._buffers[key] = buffers
        return buffers

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        """``x * mask / (1 - rate)`` in training (a fresh Bernoulli mask), ``x`` otherwise.

        Shape (n_samples, n_features) -> same.
        """
        if not training or self.rate == 0.0:
            self._mask = None
            return x
        if self.rng is None:
            raise RuntimeError("Dropout has no random generator: give it a seed, or use it inside a "
                               "Network (which supplies one from its own seed)")
        dtype = x.dtype if x.dtype in (np.float32, np.float64) else np.float64
        mask, output, keep, _ = self._buffers_for(x.shape, dtype)
        # 16 random bits per unit, four units per 64-bit draw of the generator: a unit is kept
        # when its bits are >= threshold, with probability exactly 1 - threshold / 2^16
        bits = self.rng.bit_generator.random_raw(-(-x.size // 4)).view(np.uint16)[:x.size]
        np.greater_equal(bits.reshape(x.shape), self._threshold, out=keep)
        np.multiply(keep, self._scale, out=mask)
        np.multiply(x, mask, out=output)
        self._mask = mask
        return output

    def infer(self, x: np.ndarray, scratch: Scratch) -> np.ndarray:
        """The identity (dropout is off in evaluation)."""
        return x

    def backward(self, grad_output: np.ndarray) -> np.ndarray:
        """dE/dx = dE/dy * mask / (1 - rate) (the identity after an evaluation-mode forward)."""
        if self._mask is None:
            return grad_output
        grad_input = self._buffers_for(self._mask.shape, self._mask.dtype)[3]
        np.multiply(grad_output, self._mask, out=grad_input)
        return grad_input

    @property
    def mask(self) -> np.ndarray | None:
        """Scaled mask of the last training forward pass (0 or 1/(1-rate)); None after evaluation."""
        return self._mask

    def config(self) -> dict:
        return {"rate": self.rate}

    @classmethod
    def array_shapes(cls, config: dict) -> dict:
        return {"parameters": [], "buffers": {}}


class BatchNorm(Layer):
    """Batch normalisation (Ioffe & Szegedy 2015) of each unit's pre-activation.

    Training (``fit``): each feature is normalised by the mean and variance of the mini-batch,
    ``x_hat = (x - mu_B) / sqrt(var_B + eps)``, then scaled and shifted, ``y = gamma x_hat + beta``,
    and the running statistics move towards the batch ones:
    ``running = momentum * running + (1 - momentum) * batch`` (the running variance uses the
    unbiased batch variance, ``var_B * m / (m - 1)``). Backprop goes through the batch statistics:
    ``dE/dx = gamma / sqrt(var_B + eps) * (g - mean(g) - x_hat * mean(g * x_hat))``, g = dE/dy.

    Evaluation (``predict``, ``score``): ``y = gamma (x - running_mean) / sqrt(running_var + eps)
    + beta``, a fixed affine map. After training, :meth:`ratenet.Network.set_population_statistics`
    replaces the running averages by the mean and unbiased variance over the whole training set
    (the paper's population statistics), which the running averages only approximate, with a lag
    of about ``1 / (1 - momentum)`` steps behind the changing weights.

    Parameters
    ----------
    n_features : int
        Width of the input (the preceding Dense layer's ``n_out``).
    momentum : float in [0, 1), default 0.9
        Weight of the old running statistics at each training step (Keras's convention;
        PyTorch's ``momentum=0.1`` is this ``momentum=0.9``).
    eps : float > 0, default 1e-5
        Added to the variance before the square root.
    dtype : float64 (default) or float32
        A network casts the layer to its own dtype.

    Attributes
    ----------
    gamma, beta : ndarray, shape (n_features,)
        Learned scale (starts at 1) and shift (starts at 0).
    dgamma, dbeta : ndarray
        Their gradients from the last :meth:`backward`.
    running_mean, running_var : ndarray, shape (n_features,)
        Running statistics used in evaluation (start at 0 and 1); returned by :meth:`buffers`.

    Raises
    ------
    ValueError
        In training mode on a batch of one sample (its variance is undefined).
    """

    def __init__(self, n_features: int, *, momentum: float = 0.9, eps: float = 1e-5,
                 dtype=np.float64):
        self.n_features = check_positive_int("n_features", n_features)
        self.momentum = check_fraction("momentum", momentum)
        self.eps = float(check_positive("eps", eps))
        self.dtype = check_dtype(dtype)
        self._allocate()

    def _allocate(self, old: dict | None = None) -> None:
        n, dtype = self.n_features, self.dtype
        self.gamma = np.ones(n, dtype=dtype)
        self.beta = np.zeros(n, dtype=dtype)
        self.running_mean = np.zeros(n, dtype=dtype)
        self.running_var = np.ones(n, dtype=dtype)
        if old is not None:
            for name, array in old.items():
                getattr(self, name)[...] = array
        self.dgamma = np.zeros(n, dtype=dtype)
        self.dbeta = np.zeros(n, dtype=dtype)
        self._mean = np.empty(n, dtype=dtype)
        self._var = np.empty(n, dtype=dtype)
        self._inv_std = np.empty(n, dtype=dtype)
        self._scale = np.empty(n, dtype=dtype)
        self._shift = np.empty(n, dtype=dtype)
        self._batch_buffers: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        self._ones_vector: np.ndarray | None = None
        self._input: np.ndarray | None = None
        self._training = False

    def astype(self, dtype) -> None:
        """Convert parameters and running statistics to ``dtype`` (new arrays)."""
        dtype = check_dtype(dtype)
        if dtype == self.dtype:
            return
        old = {name: getattr(self, name) for name in ("gamma", "beta", "running_mean", "running_var")}
        self.dtype = dtype
        self._allocate(old)

    def _buffers_for(self, n_samples: int):
        buffers = self._batch_buffers.get(n_samples)
        if buffers is None:
            if len(self._batch_buffers) >= 4:
                self._batch_buffers.pop(next(iter(self._batch_buffers)))
            buffers = tuple(np.empty((n_samples, self.n_features), dtype=self.dtype) for _ in range(3))
            self._batch_buffers[n_samples] = buffers
        return buffers

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        if x.ndim != 2 or x.shape[1] != self.n_features:
            raise ValueError(f"BatchNorm({self.n_features}) expects input of shape "
                             f"(n_samples, {self.n_features}), got {x.shape}")
        n = x.shape[0]
        output = self._buffers_for(n)[0]
        self._training = training
        self._input = x
        if not training:
            self._evaluation_map(self._inv_std, self._scale, self._shift)
            np.multiply(x, self._scale, out=output)
            output += self._shift
            return output
        if n < 2:
            raise ValueError("BatchNorm in training mode needs a batch of at least 2 samples (the "
                             "variance of one sample is undefined); got a batch of 1")
        # Three fused sweeps over the batch (ratenet._batchnorm_kernels): sums, centred sum of
        # squares, output. x_hat is never stored; the backward pass recomputes x - mean.
        _kernels.train_forward(x, self.gamma, self.beta, self.eps, self._mean, self._var, self._scale,
                               output)
        m = self.momentum
        self.running_mean *= m
        self.running_mean += (1.0 - m) * self._mean
        self.running_var *= m
        self.running_var += ((1.0 - m) * n / (n - 1)) * self._var
        return output

    def infer(self, x: np.ndarray, scratch: Scratch) -> np.ndarray:
        """``gamma (x - running_mean) / sqrt(running_var + eps) + beta``, the fixed evaluation map."""
        if x.ndim != 2 or x.shape[1] != self.n_features:
            raise ValueError(f"BatchNorm({self.n_features}) expects input of shape "
                             f"(n_samples, {self.n_features}), got {x.shape}")
        scale = scratch.array((id(self), "scale"), (self.n_features,), self.dtype)
        shift = scratch.array((id(self), "shift"), (self.n_features,), self.dtype)
        self._evaluation_map(scale, scale, shift)
        out = x if scratch.owns(x) else scratch.array((id(self), "out"), x.shape, self.dtype)
        np.multiply(x, scale, out=out)
        out += shift
        return out

    def _evaluation_map(self, inv_std: np.ndarray, scale: np.ndarray, shift: np.ndarray) -> None:
        """Fill the evaluation map ``y = x scale + shift``: ``inv_std = 1 / sqrt(running_var + eps)``,
        ``scale = gamma inv_std``, ``shift = beta - running_mean scale`` (``inv_std`` may be ``scale``).
        One arithmetic for forward(training=False) and infer, so both give the same bits."""
        np.add(self.running_var, self.eps, out=inv_std)
        np.sqrt(inv_std, out=inv_std)
        np.divide(1.0, inv_std, out=inv_std)
        np.multiply(self.gamma, inv_std, out=scale)
        np.multiply(self.running_mean, scale, out=shift)
        np.subtract(self.beta, shift, out=shift)

    def _ones(self, n: int) -> np.ndarray:
        ones = self._ones_vector
        if ones is None or ones.shape[0] != n:
            ones = self._ones_vector = np.ones(n, dtype=self.dtype)
        return ones

    def backward(self, grad_output: np.ndarray) -> np.ndarray:
        """Fill dgamma, dbeta and return dE/dx, through the batch statistics after a training
        forward pass, through the fixed running statistics after an evaluation one."""
        if self._input is None:
            raise RuntimeError("BatchNorm.backward called before forward")
        n = grad_output.shape[0]
        _, centered, grad_input = self._buffers_for(n)
        if self._training:
            _kernels.train_backward(grad_output, self._input, self._mean, self._var, self._scale,
                                    self.eps, self.dgamma, self.dbeta, grad_input)
            return grad_input
        # Evaluation mode: x_hat = (x - running_mean) * inv_std, fixed.
        np.matmul(self._ones(n), grad_output, out=self.dbeta)
        np.subtract(self._input, self.running_mean, out=centered)
        np.einsum("ij,ij->j", grad_output, centered, out=self.dgamma)
        self.dgamma *= self._inv_std
        np.multiply(grad_output, self._scale, out=grad_input)
        return grad_input

    def normalize(self, x: np.ndarray, mean, variance) -> np.ndarray:
        """``gamma (x - mean) / sqrt(variance + eps) + beta`` for given statistics, a new array of
        x's shape (the evaluation-mode map, with ``mean``/``variance`` in place of the running
        statistics); nothing is stored."""
        scale = self.gamma / np.sqrt(np.asarray(variance) + self.eps)
        return ((x - np.asarray(mean)) * scale + self.beta).astype(x.dtype, copy=False)

    def set_running_statistics(self, mean, variance) -> None:
        """Replace the running mean and variance (used in evaluation) by ``mean`` and ``variance``,
        each of shape (n_features,), finite, the variance >= 0. See
        :meth:`ratenet.Network.set_population_statistics`, which sets the training set's."""
        arrays = []
        for name, value in (("mean", mean), ("variance", variance)):
            array = np.asarray(value, dtype=np.float64)
            if array.shape != (self.n_features,):
                raise ValueError(f"{name} must have shape ({self.n_features},), got {array.shape}")
            if not np.all(np.isfinite(array)):
                raise ValueError(f"{name} must be finite")
            arrays.append(array)
        if np.any(arrays[1] < 0):
            raise ValueError("variance must be >= 0")
        self.running_mean[...] = arrays[0]
        self.running_var[...] = arrays[1]

    def parameters(self) -> list[np.ndarray]:
        return [self.gamma, self.beta]

    def parameter_names(self) -> list[str]:
        return ["gamma", "beta"]

    def gradients(self) -> list[np.ndarray]:
        return [self.dgamma, self.dbeta]

    def output_width(self, width: int) -> int:
        if width != self.n_features:
            raise ValueError(f"{self!r} takes {self.n_features} features (n_features), got {width}")
        return width

    def buffers(self) -> dict[str, np.ndarray]:
        return {"running_mean": self.running_mean, "running_var": self.running_var}

    def config(self) -> dict:
        return {"n_features": self.n_features, "momentum": self.momentum, "eps": self.eps}

    @classmethod
    def array_shapes(cls, config: dict) -> dict:
        n = check_positive_int("n_features", config["n_features"])
        return {"parameters": [(n,), (n,)], "buffers": {"running_mean": (n,), "running_var": (n,)}}

    def check_state(self) -> None:
        """Finite parameters and statistics, and a running variance >= 0."""
        super().check_state()
        if np.any(self.running_var < 0):
            raise ValueError("buffer 'running_var' holds negative variances")


def population_statistics(layers: list[Layer], X: np.ndarray, *,
                          batch_size: int = 1024) -> list[tuple[int, np.ndarray, np.ndarray]]:
    """Mean and unbiased variance of every BatchNorm layer's input over the whole of ``X``.

    The batch-normalisation paper's test-time statistics (Ioffe & Szegedy 2015, Algorithm 2: "the
    population, rather than mini-batch, statistics"), computed once after training: each BatchNorm
    layer's input is produced by the layers below it in evaluation mode, the BatchNorm layers below
    it normalising with *their* population statistics (as they will at test time), so the
    statistics of layer l are those of the network that will actually be used.

    Parameters
    ----------
    layers : list of Layer
        A network's layers, in order.
    X : ndarray, shape (n_samples, n_inputs)
        The training inputs, validated and in the network's dtype, at least 2 samples.
    batch_size : int, default 1024
        Rows propagated at a time (memory: one chunk of every layer's output).

    Returns
    -------
    list of (position, mean, variance)
        For every BatchNorm layer, its position in ``layers``, the mean of its input over the
        samples and the unbiased variance (divided by n_samples - 1), float64 arrays of shape
        (n_features,). Nothing is changed: :meth:`BatchNorm.set_running_statistics` installs them.

    Notes
    -----
    The variance is the unbiased one because that is what the running variance averages:
    ``fit`` feeds it each mini-batch's unbiased variance, and for mini-batches drawn without
    replacement from the training set, the expected unbiased mini-batch variance is exactly the
    training set's unbiased variance. The running averages therefore estimate these values, and
    converge to them for a long momentum horizon (momentum -> 1) over fixed weights. Sums are
    accumulated in float64, chunk by chunk with Chan et al.'s pairwise update of the mean and the
    sum of squared deviations, so the result does not depend on ``batch_size`` beyond rounding.
    """
    batch_size = check_positive_int("batch_size", batch_size)
    if X.ndim != 2 or X.shape[0] < 2:
        raise ValueError(f"X must hold at least 2 samples to define a variance, got shape {X.shape}")
    positions = [position for position, layer in enumerate(layers) if isinstance(layer, BatchNorm)]
    if not positions:
        raise ValueError("the network has no BatchNorm layer: there are no population statistics to set")
    found: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    scratch = Scratch()
    for position in positions:
        count = 0
        mean = np.zeros(layers[position].n_features)
        squares = np.zeros_like(mean)  # sum of squared deviations from the mean
        for start in range(0, X.shape[0], batch_size):
            h = X[start:start + batch_size]
            for below in range(position):
                if below in found:
                    h = layers[below].normalize(h, *found[below])
                elif type(layers[below]).infer is not Layer.infer:
                    h = layers[below].infer(h, scratch)   # evaluation mode, the layer untouched
                else:
                    h = layers[below].forward(h, training=False)
            chunk = np.asarray(h, dtype=np.float64)
            chunk_mean = chunk.mean(axis=0)
            chunk_squares = np.square(chunk - chunk_mean).sum(axis=0)
            total = count + chunk.shape[0]
            delta = chunk_mean - mean
            mean += delta * (chunk.shape[0] / total)
            squares += chunk_squares + np.square(delta) * (count * chunk.shape[0] / total)
            count = total
        if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(squares))):
            raise FloatingPointError(f"the input of BatchNorm layer {position} is not finite over X (or "
                                     "its variance overflows float64); check the data and the weights")
        found[position] = (mean, squares / (count - 1))
    return [(position, *found[position]) for position in positions]


class WeightPenalty:
    """The penalty ``sum_layers (l2 * ||W||^2 + l1 * sum|W|)`` on the weights of a network's Dense
    (and Maxout) layers.

    Its gradient is ``2 l2 W + l1 sign(W)`` (the notes' weight decay: the gradient 2 lambda theta
    of lambda ||theta||^2). A layer's own ``weight_decay``/``l1`` override the global values.
    Biases are left out unless ``include_bias``.

    Parameters
    ----------
    net : Network
    weight_decay, l1 : float >= 0, default 0
        Global L2 and L1 coefficients.
    include_bias : bool, default False
        Penalise the biases too (with the same coefficients).

    Attributes
    ----------
    terms : list of (param, grad, l2, l1)
        The penalised arrays, their gradient arrays, and coefficients (zero terms left out).
    """

    def __init__(self, net, weight_decay: float = 0.0, l1: float = 0.0, include_bias: bool = False):
        weight_decay = check_nonnegative("weight_decay", weight_decay)
        l1 = check_nonnegative("l1", l1)
        self.terms: list[tuple[np.ndarray, np.ndarray, float, float]] = []
        for layer in net.dense_layers:  # Dense and Maxout layers
            l2_layer = weight_decay if layer.weight_decay is None else layer.weight_decay
            l1_layer = l1 if layer.l1 is None else layer.l1
            if l2_layer == 0 and l1_layer == 0:
                continue
            self.terms.append((layer.W, layer.dW, float(l2_layer), float(l1_layer)))
            if include_bias:
                self.terms.append((layer.b, layer.db, float(l2_layer), float(l1_layer)))
        self._scratch = [np.empty_like(param) for param, *_ in self.terms]

    def __bool__(self) -> bool:
        return bool(self.terms)

    def value(self) -> float:
        """Current value of the penalty."""
        total = 0.0
        for param, _, l2, l1 in self.terms:
            if l2:
                total += l2 * float(np.vdot(param, param))
            if l1:
                total += l1 * float(np.abs(param).sum())
        return total if math.isfinite(total) else float("inf")

    def add_gradients(self) -> None:
        """Add the penalty's gradient to the layers' gradient arrays (dW, and db with biases)."""
        for (param, grad, l2, l1), scratch in zip(self.terms, self._scratch, strict=True):
            if l2:
                np.multiply(param, 2.0 * l2, out=scratch)
                grad += scratch
            if l1:
                np.sign(param, out=scratch)
                scratch *= l1
                grad += scratch

    def __repr__(self) -> str:
        return f"WeightPenalty({len(self.terms)} arrays)"
