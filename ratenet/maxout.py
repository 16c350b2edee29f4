"""Maxout units (Goodfellow et al. 2013): each unit outputs the largest of k affine functions of its
input.

    z_{n,p,j} = sum_i W[p, j, i] x_{n,i} + b[p, j]        (piece p = 0..k-1 of unit j)
    h_{n,j}   = max_p z_{n,p,j}

A maxout layer is its own nonlinearity (no activation follows it); with k = 2 and one piece fixed
at zero it is a ReLU, and a maxout network with enough pieces approximates any convex function per
unit. Backprop sends each unit's gradient to the piece that won the max (ties go to the first
piece, a valid subgradient): dE/dz_{n,p,j} = dE/dh_{n,j} if p won, else 0; the rest is the Dense
layer's matrix form on the (n_samples, k * n_out) pre-activations, with no loop over samples or
pieces.
"""

from __future__ import annotations

import numpy as np

from .layers import Scratch, WeightLayer
from .validation import check_dtype, check_positive_int


class Maxout(WeightLayer):
    """Fully connected maxout layer: ``h = max_p (X @ W[p].T + b[p])`` over k pieces.

    Parameters
    ----------
    n_in, n_out : int
        Number of inputs and of maxout units.
    k : int >= 1
        Affine pieces per unit (Goodfellow et al. used 2 to 5). k = 1 is a Dense layer.
    init : {"glorot", "he", "symmetric"} or None
        Weight initialisation used by :meth:`initialize`; None lets the network choose, as for
        :class:`~ratenet.Dense`.
    weights : array-like, shape (k, n_out, n_in), optional
        Initial weights; when given, the network does not re-initialise this layer.
    bias : array-like, shape (k, n_out), optional
        Initial biases (default zero).
    dtype : float64 (default) or float32
        A network casts its layers to its own dtype.
    weight_decay, l1 : float >= 0 or None, optional
        This layer's L2 and L1 penalty coefficients on its weights, overriding ``fit``'s global
        ``weight_decay``/``l1``, as for :class:`~ratenet.Dense`.

    Attributes
    ----------
    W : ndarray, shape (k, n_out, n_in)
        ``W[p]`` is piece p's weight matrix, in the layout of a Dense layer's W.
    b : ndarray, shape (k, n_out)
        Biases of the pieces.
    dW, db : ndarray
        dE/dW and dE/db of the last :meth:`backward`.

    Notes
    -----
    Inside a :class:`~ratenet.Network` a Maxout layer takes the place of a Dense layer followed
    by its activation: ``[Maxout(64, 100, k=3), Dense(100, 10)]``. It is listed among the network's
    ``dense_layers`` (the layers with weights), so ``fit``, ``predict``, weight penalties,
    :func:`~ratenet.check_gradients` and :func:`~ratenet.load` handle it. The arrays that
    :meth:`forward` and :meth:`backward` return are reused per batch size, as a Dense layer's.

    References
    ----------
    I. J. Goodfellow, D. Warde-Farley, M. Mirza, A. Courville and Y. Bengio, "Maxout networks",
    ICML 2013, arXiv:1302.4389.
    """

    def __init__(self, n_in: int, n_out: int, k: int = 2, *, init: str | None = None, weights=None,
                 bias=None, dtype=np.float64, weight_decay: float | None = None, l1: float | None = None):
        self._configure(n_in, n_out, init, dtype, weight_decay, l1)
        if isinstance(k, int | np.integer) and not isinstance(k, bool) and k < 1:
            raise ValueError(f"k must be >= 1 (the number of affine pieces per maxout unit; k = 1 is a "
                             f"Dense layer), got {k!r}")
        self.k = check_positive_int("k", k)
        self._allocate()
        self.weights_given = weights is not None
        if weights is not None or bias is not None:
            self.set_weights(self.W if weights is None else weights, bias)

    def _allocate(self) -> None:
        self.W = np.zeros((self.k, self.n_out, self.n_in), dtype=self.dtype)
        self.b = np.zeros((self.k, self.n_out), dtype=self.dtype)
        self.dW = np.zeros_like(self.W)
        self.db = np.zeros_like(self.b)
        self._input: np.ndarray | None = None
        self._winners: np.ndarray | None = None
        self._buffers: dict[int, dict[str, np.ndarray]] = {}

    def set_weights(self, weights, bias=None) -> None:
        """Copy ``weights`` (k, n_out, n_in) and ``bias`` (k, n_out) into the layer's arrays."""
        for name, value, shape, axes in (("weights", weights, self.W.shape, "(k, n_out, n_in)"),
                                         ("bias", bias, self.b.shape, "(k, n_out)")):
            if value is None:
                continue
            array = np.asarray(value, dtype=float)
            if array.shape != shape:
                raise ValueError(f"{name} must have shape {axes} = {shape}, got {array.shape}")
            if not np.all(np.isfinite(array)):
                raise ValueError(f"{name} must be finite")
        self.W[...] = weights
        if bias is not None:
            self.b[...] = bias

    def astype(self, dtype) -> None:
        """Convert the layer's parameters to ``dtype`` in place of the old arrays."""
        dtype = check_dtype(dtype)
        if dtype == self.dtype:
            return
        weights, bias = self.W, self.b
        self.dtype = dtype
        self._allocate()
        self.W[...] = weights
        self.b[...] = bias

    def _buffers_for(self, n_samples: int) -> dict[str, np.ndarray]:
        buffers = self._buffers.get(n_samples)
        if buffers is None:
            if len(self._buffers) >= 4:  # e.g. gradient checks with many batch sizes
                self._buffers.pop(next(iter(self._buffers)))
            shape = (n_samples, self.k, self.n_out)
            buffers = {"pieces": np.empty(shape, dtype=self.dtype),
                       "output": np.empty((n_samples, self.n_out), dtype=self.dtype),
                       "winners": np.empty((n_samples, self.n_out), dtype=np.intp),
                       "better": np.empty((n_samples, self.n_out), dtype=bool),
                       "won": np.empty(shape, dtype=bool),
                       "grad_pieces": np.empty(shape, dtype=self.dtype),
                       "grad_input": np.empty((n_samples, self.n_in), dtype=self.dtype)}
            self._buffers[n_samples] = buffers
        return buffers

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        """max over pieces of ``X @ W[p].T + b[p]``, shape (n_samples, n_in) -> (n_samples, n_out)."""
        self._check_input(x)
        buffers = self._buffers_for(x.shape[0])
        self._affine_pieces(x, buffers["pieces"])
        self._winners = _max_over_pieces(buffers["pieces"], buffers["output"], buffers["winners"],
                                         buffers["better"])
        self._input = x
        return buffers["output"]

    def infer(self, x: np.ndarray, scratch: Scratch) -> np.ndarray:
        """The output of :meth:`forward` in scratch arrays, the layer untouched (thread-safe)."""
        self._check_input(x)
        n_samples = x.shape[0]
        pieces = scratch.array((id(self), "pieces"), (n_samples, self.k, self.n_out), self.dtype)
        output = scratch.array((id(self), "out"), (n_samples, self.n_out), self.dtype)
        self._affine_pieces(x, pieces)
        _max_over_pieces(pieces, output)
        return output

    def _check_input(self, x: np.ndarray) -> None:
        if x.ndim != 2 or x.shape[1] != self.n_in:
            raise ValueError(f"Maxout({self.n_in}, {self.n_out}, k={self.k}) expects input of shape "
                             f"(n_samples, {self.n_in}), got {x.shape}")

    def _affine_pieces(self, x: np.ndarray, pieces: np.ndarray) -> None:
        """pieces[n, p, j] = X[n] . W[p, j] + b[p, j]: all k pieces in one GEMM,
        (n, n_in) @ (n_in, k n_out)."""
        flat = pieces.reshape(x.shape[0], self.k * self.n_out)
        np.matmul(x, self.W.reshape(self.k * self.n_out, self.n_in).T, out=flat)
        flat += self.b.reshape(-1)

    def backward(self, grad_output: np.ndarray) -> np.ndarray | None:
        """Store dW, db and return dE/dX (None when ``compute_input_gradient`` is False)."""
        if self._input is None or self._winners is None:
            raise RuntimeError("Maxout.backward called before forward")
        x, n_samples = self._input, self._input.shape[0]
        buffers = self._buffers_for(n_samples)
        won = buffers["won"]
        np.equal(np.arange(self.k)[None, :, None], self._winners[:, None, :], out=won)
        grad_pieces = np.multiply(won, grad_output[:, None, :], out=buffers["grad_pieces"])
        flat = grad_pieces.reshape(n_samples, self.k * self.n_out)
        np.matmul(flat.T, x, out=self.dW.reshape(self.k * self.n_out, self.n_in))
        np.sum(grad_pieces, axis=0, out=self.db)
        if not self.compute_input_gradient:
            return None
        return np.matmul(flat, self.W.reshape(self.k * self.n_out, self.n_in), out=buffers["grad_input"])

    def winning_pieces(self) -> np.ndarray | None:
        """Index of the winning piece of every unit in the last forward pass, shape (n_samples,
        n_out) (a copy); None before the first forward pass."""
        return None if self._winners is None else self._winners.copy()

    @classmethod
    def array_shapes(cls, config: dict) -> dict:
        n_in = check_positive_int("n_in", config["n_in"])
        n_out = check_positive_int("n_out", config["n_out"])
        k = check_positive_int("k", config.get("k", 2))
        return {"parameters": [(k, n_out, n_in), (k, n_out)], "buffers": {}}

    def config(self) -> dict:
        return self._config(k=self.k)

    def __repr__(self) -> str:
        return f"Maxout({self.n_in}, {self.n_out}, k={self.k})"


def _max_over_pieces(pieces: np.ndarray, output: np.ndarray, winners: np.ndarray | None = None,
                     better: np.ndarray | None = None) -> np.ndarray | None:
    """output = max over axis 1 of ``pieces`` (n, k, n_out), and, when ``winners`` is given, the
    index of the winning piece in it (ties keep the first piece; ``better`` is a boolean (n, n_out)
    scratch array). One contiguous (n, n_out) slice at a time: numpy's argmax along a middle axis
    is several times slower than these k passes."""
    np.copyto(output, pieces[:, 0, :])
    if winners is not None:
        winners.fill(0)
    for piece in range(1, pieces.shape[1]):
        if winners is not None:
            np.greater(pieces[:, piece, :], output, out=better)
            np.copyto(winners, piece, where=better)
        np.maximum(output, pieces[:, piece, :], out=output)
    return winners
