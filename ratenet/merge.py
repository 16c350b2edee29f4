"""Modules that combine several inputs into one, where the paths of a :class:`ratenet.Graph` meet:
:class:`Add` (an element-wise sum, the skip connection of a residual network) and
:class:`Concatenate` (features side by side), both on the :class:`Merge` protocol.

Their backward passes are the Jacobian-vector products of the flow-graph notes: a sum hands its
output gradient unchanged to every input (d(a + b)/da = I), a concatenation hands each input its
own columns of it.
"""

from __future__ import annotations

import numpy as np

from .layers import Layer, Scratch


class Merge(Layer):
    """Base class of the modules that combine several inputs into one output (:class:`Add`,
    :class:`Concatenate`), the nodes of a :class:`ratenet.Graph` where paths meet.

    A merge takes a list of arrays where a layer takes one: :meth:`forward` and :meth:`infer` get
    the inputs in the order of the node's input names, and :meth:`backward` returns dE/d(input)
    for each of them, in the same order. The arrays it returns may be shared (a sum passes the
    same gradient to every input): callers must not write into them. Subclasses also implement
    :meth:`merged_width`, which checks the inputs' widths when the graph is built. A sequential
    :class:`ratenet.Network` refuses merges.
    """

    def forward(self, inputs: list[np.ndarray], training: bool = False) -> np.ndarray:
        """The output for the batches ``inputs`` (each of shape (n_samples, width_i))."""
        raise NotImplementedError

    def backward(self, grad_output: np.ndarray) -> list[np.ndarray]:
        """dE/d(input) for each input of the last :meth:`forward`, given dE/d(output)."""
        raise NotImplementedError

    def infer(self, inputs: list[np.ndarray], scratch: Scratch) -> np.ndarray:
        """The output in evaluation mode, computed in ``scratch`` without changing the module (see
        :meth:`Layer.infer`); it may write over ``inputs[0]`` when ``scratch.owns(inputs[0])``."""
        raise NotImplementedError

    def merged_width(self, widths: list[int]) -> int:
        """Width of the output for inputs of ``widths`` features; ValueError when they cannot be
        combined (checked when a graph is built)."""
        raise NotImplementedError

    def output_width(self, width: int) -> int:
        return self.merged_width([width])

    @classmethod
    def array_shapes(cls, config: dict) -> dict:
        return {"parameters": [], "buffers": {}}

    def _buffer(self, key, shape: tuple[int, ...], dtype) -> np.ndarray:
        """A reused array per (key, shape, dtype); at most 8 are kept."""
        buffers = self.__dict__.setdefault("_buffers", {})
        full_key = (key, shape, np.dtype(dtype).char)
        array = buffers.get(full_key)
        if array is None:
            if len(buffers) >= 8:  # e.g. gradient checks with many batch sizes
                buffers.pop(next(iter(buffers)))
            array = buffers[full_key] = np.empty(shape, dtype=dtype)
        return array

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state.pop("_buffers", None)  # reused arrays, rebuilt on demand: never pickled or copied
        return state


class Add(Merge):
    """Element-wise sum of two or more inputs of one width: ``h = x_1 + x_2 + ...``.

    The skip connection of a residual block, ``h + f(h)``: in a :class:`ratenet.Graph`, the node
    ``("skip", rn.Add(), ["hidden", "block"])``. Backprop hands dE/dh unchanged to every input,
    and where a value also feeds other nodes the graph sums the gradients it receives.
    """

    def __init__(self):
        self._n_inputs = 0

    def merged_width(self, widths: list[int]) -> int:
        if len(widths) < 2:
            raise ValueError(f"Add sums at least 2 inputs, got {len(widths)}")
        if len(set(widths)) != 1:
            raise ValueError(f"Add sums inputs of one width, got widths {list(widths)}; use a Dense "
                             "layer to bring them to one width, or Concatenate to join them")
        return widths[0]

    def forward(self, inputs: list[np.ndarray], training: bool = False) -> np.ndarray:
        first = inputs[0]
        output = self._buffer("out", first.shape, first.dtype)
        np.add(first, inputs[1], out=output)
        for other in inputs[2:]:
            output += other
        self._n_inputs = len(inputs)
        return output

    def infer(self, inputs: list[np.ndarray], scratch: Scratch) -> np.ndarray:
        first = inputs[0]
        output = first if scratch.owns(first) else scratch.array((id(self), "out"), first.shape, first.dtype)
        np.add(first, inputs[1], out=output)
        for other in inputs[2:]:
            output += other
        return output

    def backward(self, grad_output: np.ndarray) -> list[np.ndarray]:
        """The same array for every input (d(sum)/d(x_i) is the identity); do not write into it."""
        if not self._n_inputs:
            raise RuntimeError("Add.backward called before forward")
        return [grad_output] * self._n_inputs


class Concatenate(Merge):
    """Joins the features of two or more inputs side by side: widths w_1, w_2, ... give one
    output of width w_1 + w_2 + ..., the inputs' columns in the order of the node's input names.

    Backprop hands each input its own columns of dE/d(output) (copied into contiguous arrays).
    """

    def __init__(self):
        self._widths: list[int] = []

    def merged_width(self, widths: list[int]) -> int:
        if len(widths) < 2:
            raise ValueError(f"Concatenate joins at least 2 inputs, got {len(widths)}")
        return int(sum(widths))

    def _join(self, inputs: list[np.ndarray], output: np.ndarray) -> None:
        start = 0
        for part in inputs:
            stop = start + part.shape[1]
            output[:, start:stop] = part
            start = stop

    def forward(self, inputs: list[np.ndarray], training: bool = False) -> np.ndarray:
        self._widths = [part.shape[1] for part in inputs]
        first = inputs[0]
        output = self._buffer("out", (first.shape[0], sum(self._widths)), first.dtype)
        self._join(inputs, output)
        return output

    def infer(self, inputs: list[np.ndarray], scratch: Scratch) -> np.ndarray:
        first = inputs[0]
        shape = (first.shape[0], sum(part.shape[1] for part in inputs))
        output = scratch.array((id(self), "out"), shape, first.dtype)
        self._join(inputs, output)
        return output

    def backward(self, grad_output: np.ndarray) -> list[np.ndarray]:
        if not self._widths:
            raise RuntimeError("Concatenate.backward called before forward")
        grads, start = [], 0
        for position, width in enumerate(self._widths):
            grad = self._buffer(("grad", position), (grad_output.shape[0], width), grad_output.dtype)
            np.copyto(grad, grad_output[:, start:start + width])
            grads.append(grad)
            start += width
        return grads
