"""Layers of a ratenet network: the base protocol that every layer (activations included) follows.

A layer maps a batch ``x`` of shape ``(n_samples, n_in)`` to ``(n_samples, n_out)`` in
:meth:`Layer.forward` and, in :meth:`Layer.backward`, maps ``dE/d(output)`` to ``dE/d(input)``
while storing the gradients of its own parameters. Batches are rows, as in scikit-learn and
PyTorch; the notes' column form is the transpose.
"""

from __future__ import annotations

import numpy as np


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

    def config(self) -> dict:
        """Constructor arguments as JSON-compatible values. Default: none."""
        return {}

    def __repr__(self) -> str:
        arguments = ", ".join(f"{key}={value!r}" for key, value in self.config().items())
        return f"{type(self).__name__}({arguments})"
