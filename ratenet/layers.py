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
from scipy.linalg import blas

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

    def parameters(self) -> list[np.ndarray]:
        """Trainable parameter arrays (updated in place by optimisers). Default: none."""
        return []

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

    def __repr__(self) -> str:
        arguments = ", ".join(f"{key}={value!r}" for key, value in self.config().items())
        return f"{type(self).__name__}({arguments})"


class Dense(Layer):
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
        self.n_in = check_positive_int("n_in", n_in)
        self.weight_decay = None if weight_decay is None else check_nonnegative("weight_decay", weight_decay)
        self.l1 = None if l1 is None else check_nonnegative("l1", l1)
        self.n_out = check_positive_int("n_out", n_out)
        if init is not None:
            check_choice("init", init, INITIALIZATIONS)
        self.init = init
        self.dtype = check_dtype(dtype)
        #: False for the first layer of a network: dE/dX of the data is not needed.
        self.compute_input_gradient = True
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

    def initialize(self, rng: np.random.Generator, init: str = "glorot") -> None:
        """Draw the weights and zero the biases.

        ``"glorot"``: U[-a, a], a = sqrt(6 / (n_in + n_out)) (Glorot & Bengio 2010; the notes'
        default). ``"he"``: U[-a, a], a = sqrt(6 / n_in), variance 2 / n_in (He et al. 2015), for
        ReLU. ``"symmetric"``: every weight equal to the Glorot bound a / 2; such a layer never
        breaks symmetry (all units receive the same gradient) and a warning says so.
        """
        check_choice("init", init, INITIALIZATIONS)
        if init == "glorot":
            bound = math.sqrt(6.0 / (self.n_in + self.n_out))
        elif init == "he":
            bound = math.sqrt(6.0 / self.n_in)
        else:
            warnings.warn("symmetric initialisation: every unit of the layer starts equal and gets "
                          "the same gradient, so backprop never breaks the symmetry (use it only to "
                          "show why random initialisation is needed)", stacklevel=3)
            self.W.fill(0.5 * math.sqrt(6.0 / (self.n_in + self.n_out)))
            self.b.fill(0)
            return
        self.W[...] = rng.uniform(-bound, bound, size=self.W.shape)
        self.b.fill(0)

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
        _gemm(1.0, x, self.W.T, 1.0, output)
        self._input = x
        return output

    def backward(self, grad_output: np.ndarray) -> np.ndarray | None:
        """Store dW, db and return dE/dX (None when ``compute_input_gradient`` is False)."""
        x = self._check_backward()
        _gemm(1.0, grad_output.T, x, 0.0, self.dW)
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
        _gemm(-learning_rate, grad_output.T, x, 1.0, self.W)
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
        _gemm(1.0, grad_output, self.W, 0.0, grad_input)
        return grad_input

    def parameters(self) -> list[np.ndarray]:
        return [self.W, self.b]

    def gradients(self) -> list[np.ndarray]:
        return [self.dW, self.db]

    def config(self) -> dict:
        config = {"n_in": self.n_in, "n_out": self.n_out, "init": self.init,
                  "dtype": np.dtype(self.dtype).name}
        if self.weight_decay is not None:
            config["weight_decay"] = self.weight_decay
        if self.l1 is not None:
            config["l1"] = self.l1
        return config

    def __repr__(self) -> str:
        return f"Dense({self.n_in}, {self.n_out})"


def _as_fortran_operand(matrix: np.ndarray) -> tuple[np.ndarray, int]:
    """(array, trans) with op(array) == matrix and array Fortran-ordered, without copying a C- or
    F-contiguous matrix (the transpose of a C-contiguous matrix is F-contiguous)."""
    if matrix.flags.f_contiguous:
        return matrix, 0
    if matrix.flags.c_contiguous:
        return matrix.T, 1
    return np.asfortranarray(matrix), 0


def _gemm(alpha: float, a: np.ndarray, b: np.ndarray, beta: float, out: np.ndarray) -> None:
    """out <- alpha a @ b + beta out, in place, by one BLAS GEMM call.

    ``out`` is C-contiguous, so BLAS (column-major) computes its transpose: out^T = alpha b^T a^T +
    beta out^T. Operands that are C- or F-contiguous (weights, batches and their transposes) are
    passed with the matching transpose flag, never copied. numpy's matmul cannot accumulate
    (beta = 1), which is what folds the bias addition and the SGD update into the product.
    """
    gemm = _GEMM[out.dtype.char]
    first, trans_first = _as_fortran_operand(b.T)
    second, trans_second = _as_fortran_operand(a.T)
    result = gemm(alpha, first, second, beta=beta, c=out.T, trans_a=trans_first, trans_b=trans_second,
                  overwrite_c=1)
    if not np.shares_memory(result, out):  # pragma: no cover - only for non-contiguous ``out``
        out.T[...] = result


_GEMM = {"f": blas.sgemm, "d": blas.dgemm}
