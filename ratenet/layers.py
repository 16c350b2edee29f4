"""Layers of a ratenet network: the base protocol that every layer (activations included) follows,
and the fully connected :class:`Dense` layer.

A layer maps a batch ``x`` of shape ``(n_samples, n_in)`` to ``(n_samples, n_out)`` in
:meth:`Layer.forward` and, in :meth:`Layer.backward`, maps ``dE/d(output)`` to ``dE/d(input)``
while storing the gradients of its own parameters. Batches are rows, as in scikit-learn and
PyTorch; the course notes' column form is the transpose.
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from ._blas import gemm
from .validation import check_choice, check_dtype, check_nonnegative, check_positive_int

#: Weight initialisations that :meth:`Dense.initialize` knows.
INITIALIZATIONS = ("glorot", "he", "symmetric")


class Layer:
    """Base class of every layer.

    Subclasses implement :meth:`forward` and :meth:`backward`; layers with trainable parameters
    also return them from :meth:`parameters` and their gradients (same order, same shapes, filled
    by the last :meth:`backward`) from :meth:`gradients`. :meth:`config` returns the constructor
    arguments as JSON-compatible values, so that a network can be described and rebuilt without
    pickling.
    """

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        """Output of the layer for the batch ``x``, shape (n_samples, n_in) -> (n_samples, n_out).

        ``training`` is True inside ``fit`` (dropout active, batch statistics used) and False for
        prediction.
        """
        raise NotImplementedError

    def backward(self, grad_output: np.ndarray) -> np.ndarray:
        """Given dE/d(output) of the last :meth:`forward`, return dE/d(input) and store the
        gradients of the layer's parameters."""
        raise NotImplementedError

    def infer(self, x: np.ndarray, scratch: Scratch) -> np.ndarray:
        """Output of the layer in evaluation mode (as ``forward(x, training=False)``), computed
        without changing the layer, so that several threads may call it at once.

        ``scratch`` supplies the output and any temporary arrays (:meth:`Scratch.array`); a
        network keeps one per thread. A width-preserving layer may write its output over ``x`` when
        ``scratch.owns(x)``. Layers that do not implement it make a network serialise its
        predictions (see :meth:`ratenet.Network.forward`).
        """
        raise NotImplementedError

    def parameters(self) -> list[np.ndarray]:
        """Trainable parameter arrays (updated in place by optimisers). Default: none."""
        return []

    def parameter_names(self) -> list[str]:
        """Names of :meth:`parameters`, same order (``["W", "b"]`` for a Dense layer), used in
        reports such as :func:`ratenet.check_gradients`'. Default: their positions."""
        return [str(position) for position in range(len(self.parameters()))]

    def output_width(self, width: int) -> int:
        """Number of features of the output for an input of ``width`` features; raise ValueError
        when the layer cannot take that width. Default: the same width (activations, dropout).
        :class:`ratenet.Graph` checks every connection with it when it is built."""
        return width

    def gradients(self) -> list[np.ndarray]:
        """Gradients of :meth:`parameters` from the last :meth:`backward`, same order."""
        return []

    def buffers(self) -> dict[str, np.ndarray]:
        """Non-trainable state that a saved network must keep (e.g. batch norm's running mean and
        variance), by name. The arrays are the layer's own and are updated in place, so a loader
        can copy saved values into them. Default: none."""
        return {}

    def config(self) -> dict:
        """Constructor arguments as JSON-compatible values. Default: none."""
        return {}

    @classmethod
    def array_shapes(cls, config: dict) -> dict | None:
        """Shapes of the parameters and buffers of a layer built from ``config``, without building
        it: ``{"parameters": [shape, ...], "buffers": {name: shape}}``, or None when the class
        cannot say. :func:`ratenet.load` checks a file's description with it before allocating
        anything (a layer whose class returns None is built first, then compared)."""
        return None

    def check_state(self) -> None:
        """Raise ValueError when the parameters or buffers hold values the layer cannot use
        (default: NaN or infinity); :func:`ratenet.load` refuses such a file."""
        for index, array in enumerate(self.parameters()):
            if not np.isfinite(array).all():
                raise ValueError(f"parameter {index} holds NaN or infinite values")
        for name, array in self.buffers().items():
            if not np.isfinite(array).all():
                raise ValueError(f"buffer {name!r} holds NaN or infinite values")

    def __repr__(self) -> str:
        arguments = ", ".join(f"{key}={value!r}" for key, value in self.config().items())
        return f"{type(self).__name__}({arguments})"


class Scratch:
    """Arrays reused across the evaluation passes of one thread (see :meth:`Layer.infer`).

    A network keeps one per thread, so concurrent predictions never write the same array, while
    the predictions of one thread reuse their arrays from call to call (a fresh large array costs
    page faults on every call). At most ``max_arrays`` arrays are kept; beyond that the oldest
    are dropped.
    """

    def __init__(self, max_arrays: int = 64):
        self.max_arrays = max_arrays
        self._arrays: dict[tuple, np.ndarray] = {}
        self._owned: set[int] = set()

    def array(self, key, shape: tuple[int, ...], dtype) -> np.ndarray:
        """An uninitialised array of ``shape`` and ``dtype`` reserved for ``key`` (any hashable,
        e.g. ``(id(layer), "out")``); the same key, shape and dtype give the same array back."""
        full_key = (key, tuple(shape), np.dtype(dtype).char)
        array = self._arrays.get(full_key)
        if array is None:
            if len(self._arrays) >= self.max_arrays:
                oldest = next(iter(self._arrays))
                self._owned.discard(id(self._arrays.pop(oldest)))
            array = np.empty(shape, dtype=dtype)
            self._arrays[full_key] = array
            self._owned.add(id(array))
        return array

    def owns(self, array: np.ndarray) -> bool:
        """True when ``array`` came from this scratch (so a layer may overwrite it)."""
        return id(array) in self._owned


class WeightLayer(Layer):
    """Base of the layers with weights ``W`` and biases ``b`` that map ``n_in`` features to
    ``n_out`` units (:class:`Dense`, :class:`~ratenet.Maxout`): their parameters, gradients
    ``dW``, ``db`` and initialisation. A network lists them as its ``dense_layers``; weight
    penalties, gradient norms and checks go through them."""

    n_in: int
    n_out: int

    def _configure(self, n_in, n_out, init, dtype, weight_decay, l1) -> None:
        """Check and keep what every weight layer takes (see :class:`Dense`)."""
        self.n_in = check_positive_int("n_in", n_in)
        self.n_out = check_positive_int("n_out", n_out)
        if init is not None:
            check_choice("init", init, INITIALIZATIONS)
        self.init = init
        self.dtype = check_dtype(dtype)
        self.weight_decay = None if weight_decay is None else check_nonnegative("weight_decay", weight_decay)
        self.l1 = None if l1 is None else check_nonnegative("l1", l1)
        #: False for the first layer of a network: dE/dX of the data is not needed.
        self.compute_input_gradient = True

    def _config(self, **own) -> dict:
        """The layer's description: its sizes, ``own`` entries, initialisation, dtype and the
        penalties it sets."""
        config = {"n_in": self.n_in, "n_out": self.n_out, **own, "init": self.init,
                  "dtype": np.dtype(self.dtype).name}
        if self.weight_decay is not None:
            config["weight_decay"] = self.weight_decay
        if self.l1 is not None:
            config["l1"] = self.l1
        return config

    def initialize(self, rng: np.random.Generator, init: str = "glorot") -> None:
        """Draw the weights and zero the biases.

        ``"glorot"``: U[-a, a], a = sqrt(6 / (n_in + n_out)) (Glorot & Bengio 2010; the course
        notes' default). ``"he"``: U[-a, a], a = sqrt(6 / n_in), variance 2 / n_in (He et al. 2015),
        for ReLU. ``"symmetric"``: every weight equal to the Glorot bound a / 2; such a layer never
        breaks symmetry (all units receive the same gradient) and a warning says so. Every array of
        ``W`` is drawn alike (a Maxout layer's pieces are each initialised as a Dense layer).
        """
        check_choice("init", init, INITIALIZATIONS)
        if init == "symmetric":
            warnings.warn("symmetric initialisation: every unit of the layer starts equal and gets "
                          "the same gradient, so backprop never breaks the symmetry (use it only to "
                          "show why random initialisation is needed)", stacklevel=3)
            self.W.fill(0.5 * math.sqrt(6.0 / (self.n_in + self.n_out)))
        else:
            bound = math.sqrt(6.0 / (self.n_in + self.n_out if init == "glorot" else self.n_in))
            self.W[...] = rng.uniform(-bound, bound, size=self.W.shape)
        self.b.fill(0)

    def parameters(self) -> list[np.ndarray]:
        return [self.W, self.b]

    def parameter_names(self) -> list[str]:
        return ["W", "b"]

    def gradients(self) -> list[np.ndarray]:
        return [self.dW, self.db]

    def output_width(self, width: int) -> int:
        if width != self.n_in:
            raise ValueError(f"{self!r} takes {self.n_in} features (n_in), got {width}")
        return self.n_out


class Dense(WeightLayer):
    """Fully connected layer, ``Z = X @ W.T + b``.

    Parameters
    ----------
    n_in, n_out : int
        Number of inputs and of units.
    init : {"glorot", "he", "symmetric"} or None
        Weight initialisation used by :meth:`initialize`; None lets the network choose (He when
        the next layer is a ReLU, Glorot otherwise).
    weights : array-like, shape (n_out, n_in), optional
        Initial weights; when given, the network does not re-initialise this layer.
    bias : array-like, shape (n_out,), optional
        Initial biases (default zero).
    dtype : numpy dtype, optional
        float64 (default) or float32; a network casts its layers to its own dtype.
    weight_decay, l1 : float >= 0 or None, optional
        This layer's L2 (lambda ||W||^2) and L1 (lambda sum|W|) penalty coefficients on its
        weights (not its biases), overriding ``fit``'s global ``weight_decay``/``l1``; None: use the
        global values. See :class:`ratenet.regularization.WeightPenalty`.

    Attributes
    ----------
    W : ndarray, shape (n_out, n_in)
        Weights; ``W[j, i]`` connects input i to unit j (the notes' layout).
    b : ndarray, shape (n_out,)
        Biases.
    dW, db : ndarray
        dE/dW and dE/db of the last :meth:`backward`.

    Notes
    -----
    Output and input-gradient arrays are preallocated per batch size and reused: the array that
    :meth:`forward` returns is overwritten by the next forward pass with the same batch size. Copy
    it if you keep it. Backprop in matrix form over the batch:
    ``dE/dW = (dE/dZ)^T X``, ``dE/db = sum_n dE/dZ[n]``, ``dE/dX = (dE/dZ) W``.
    """

    def __init__(self, n_in: int, n_out: int, *, init: str | None = None, weights=None, bias=None,
                 dtype=np.float64, weight_decay: float | None = None, l1: float | None = None):
        self._configure(n_in, n_out, init, dtype, weight_decay, l1)
        self.W = np.zeros((self.n_out, self.n_in), dtype=self.dtype)
        self.b = np.zeros(self.n_out, dtype=self.dtype)
        self.weights_given = weights is not None
        if weights is not None:
            self.set_weights(weights, bias)
        elif bias is not None:
            self.set_weights(self.W, bias)
        self.dW = np.zeros_like(self.W)
        self.db = np.zeros_like(self.b)
        self._input: np.ndarray | None = None
        self._buffers: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def set_weights(self, weights, bias=None) -> None:
        """Copy ``weights`` (n_out, n_in) and ``bias`` (n_out,) into the layer's arrays, in place."""
        weights = np.asarray(weights, dtype=float)
        if weights.shape != (self.n_out, self.n_in):
            raise ValueError(f"weights must have shape (n_out, n_in) = {(self.n_out, self.n_in)}, "
                             f"got {weights.shape}")
        if not np.all(np.isfinite(weights)):
            raise ValueError("weights must be finite")
        self.W[...] = weights
        if bias is not None:
            bias = np.asarray(bias, dtype=float)
            if bias.shape != (self.n_out,):
                raise ValueError(f"bias must have shape (n_out,) = ({self.n_out},), got {bias.shape}")
            if not np.all(np.isfinite(bias)):
                raise ValueError("bias must be finite")
            self.b[...] = bias

    def astype(self, dtype) -> None:
        """Convert the layer's parameters (and buffers) to ``dtype`` in place of the old arrays."""
        dtype = check_dtype(dtype)
        if dtype == self.dtype:
            return
        self.dtype = dtype
        self.W = self.W.astype(dtype)
        self.b = self.b.astype(dtype)
        self.dW = np.zeros_like(self.W)
        self.db = np.zeros_like(self.b)
        self._buffers.clear()

    def _buffers_for(self, n_samples: int) -> tuple[np.ndarray, np.ndarray]:
        buffers = self._buffers.get(n_samples)
        if buffers is None:
            if len(self._buffers) >= 4:  # e.g. gradient checks with many batch sizes
                self._buffers.pop(next(iter(self._buffers)))
            buffers = (np.empty((n_samples, self.n_out), dtype=self.dtype),
                       np.empty((n_samples, self.n_in), dtype=self.dtype))
            self._buffers[n_samples] = buffers
        return buffers

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        if x.ndim != 2 or x.shape[1] != self.n_in:
            raise ValueError(f"Dense({self.n_in}, {self.n_out}) expects input of shape "
                             f"(n_samples, {self.n_in}), got {x.shape}")
        output, _ = self._buffers_for(x.shape[0])
        # Z = b + X W^T in one GEMM pass over Z (beta = 1 on the broadcast biases)
        np.copyto(output, self.b)
        gemm(1.0, x, self.W.T, 1.0, output)
        self._input = x
        return output

    def infer(self, x: np.ndarray, scratch: Scratch) -> np.ndarray:
        if x.ndim != 2 or x.shape[1] != self.n_in:
            raise ValueError(f"Dense({self.n_in}, {self.n_out}) expects input of shape "
                             f"(n_samples, {self.n_in}), got {x.shape}")
        output = scratch.array((id(self), "out"), (x.shape[0], self.n_out), self.dtype)
        np.copyto(output, self.b)
        gemm(1.0, x, self.W.T, 1.0, output)
        return output

    def backward(self, grad_output: np.ndarray) -> np.ndarray | None:
        """Store dW, db and return dE/dX (None when ``compute_input_gradient`` is False)."""
        x = self._check_backward()
        gemm(1.0, grad_output.T, x, 0.0, self.dW)
        np.sum(grad_output, axis=0, out=self.db)
        return self._input_gradient(grad_output)

    def backward_sgd(self, grad_output: np.ndarray, learning_rate: float) -> np.ndarray | None:
        """Backward pass fused with a plain gradient-descent step: return dE/dX (computed with the
        old weights) and set W <- W - lr (dE/dZ)^T X, b <- b - lr sum_n dE/dZ in place.

        The weight update is folded into the matrix product (GEMM with beta = 1), so dE/dW is never
        stored: ``dW`` and ``db`` are left stale. ``fit`` uses it for :class:`~ratenet.SGD`.
        """
        x = self._check_backward()
        grad_input = self._input_gradient(grad_output)
        gemm(-learning_rate, grad_output.T, x, 1.0, self.W)
        np.sum(grad_output, axis=0, out=self.db)
        self.db *= -learning_rate
        self.b += self.db
        return grad_input

    def _check_backward(self) -> np.ndarray:
        if self._input is None:
            raise RuntimeError("Dense.backward called before forward")
        return self._input

    def _input_gradient(self, grad_output: np.ndarray) -> np.ndarray | None:
        if not self.compute_input_gradient:
            return None
        _, grad_input = self._buffers_for(self._input.shape[0])
        gemm(1.0, grad_output, self.W, 0.0, grad_input)
        return grad_input

    def config(self) -> dict:
        return self._config()

    @classmethod
    def array_shapes(cls, config: dict) -> dict:
        n_in = check_positive_int("n_in", config["n_in"])
        n_out = check_positive_int("n_out", config["n_out"])
        return {"parameters": [(n_out, n_in), (n_out,)], "buffers": {}}

    def __repr__(self) -> str:
        return f"Dense({self.n_in}, {self.n_out})"
