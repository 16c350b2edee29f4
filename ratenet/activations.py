"""Activation functions f(z) and their derivatives f'(z), each computed from the pre-activation z.

Derivatives are taken from z, not from h = f(z): arctan and the firing-rate curves cannot be
differentiated from h (the notes' remark). Every activation is also a :class:`~ratenet.layers.Layer`,
so it can stand between Dense layers in a :class:`~ratenet.network.Network`; a string name is looked
up in a small registry (:func:`get_activation`), and an unknown name is an error that lists the
choices.
"""

from __future__ import annotations

import numpy as np

from .layers import Layer


class Activation(Layer):
    """An element-wise activation h = f(z).

    Subclasses implement :meth:`function` and :meth:`derivative`. Both accept ``out=``, an array of
    z's shape and dtype to write into (it may be ``z`` itself), so that the training loop can reuse
    buffers instead of allocating per step.
    """

    #: Registry name, e.g. "sigmoid".
    name: str = ""

    def function(self, z: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """f(z), element-wise, same shape and dtype as ``z``."""
        raise NotImplementedError

    def derivative(self, z: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """f'(z), element-wise, same shape and dtype as ``z``."""
        raise NotImplementedError

    def __call__(self, z: np.ndarray) -> np.ndarray:
        return self.function(np.asarray(z))

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        self._z = x
        return self.function(x)

    def backward(self, grad_output: np.ndarray) -> np.ndarray:
        return grad_output * self.derivative(self._z)


class Linear(Activation):
    """Identity, f(z) = z."""

    name = "linear"

    def function(self, z, out=None):
        if out is None:
            return z.copy()
        np.copyto(out, z)
        return out

    def derivative(self, z, out=None):
        if out is None:
            return np.ones_like(z)
        out.fill(1)
        return out


class Sigmoid(Activation):
    """Logistic sigmoid, f(z) = 1 / (1 + e^{-z}); f'(z) = f(z) (1 - f(z)).

    Evaluated as ``(1 + tanh(z / 2)) / 2``, which never overflows.
    """

    name = "sigmoid"

    def function(self, z, out=None):
        out = np.multiply(z, 0.5, out=out)
        np.tanh(out, out=out)
        out += 1
        out *= 0.5
        return out

    def derivative(self, z, out=None):
        out = self.function(z, out=out)
        out *= 1 - out
        return out


class Tanh(Activation):
    """Hyperbolic tangent, f(z) = tanh z; f'(z) = 1 - tanh^2 z."""

    name = "tanh"

    def function(self, z, out=None):
        return np.tanh(z, out=out)

    def derivative(self, z, out=None):
        out = np.tanh(z, out=out)
        np.square(out, out=out)
        np.subtract(1, out, out=out)
        return out


class ReLU(Activation):
    """Rectified linear unit, f(z) = max(z, 0); f'(z) = 1 for z > 0, else 0."""

    name = "relu"

    def function(self, z, out=None):
        return np.maximum(z, 0, out=out)

    def derivative(self, z, out=None):
        if out is None:
            return (z > 0).astype(z.dtype)
        np.greater(z, 0, out=out)
        return out


_REGISTRY: dict[str, type[Activation]] = {}


def register_activation(cls: type[Activation]) -> type[Activation]:
    """Add an :class:`Activation` subclass to the name registry (usable as a decorator)."""
    if not cls.name:
        raise ValueError(f"{cls.__name__} has no registry name")
    _REGISTRY[cls.name] = cls
    return cls


for _cls in (Linear, Sigmoid, Tanh, ReLU):
    register_activation(_cls)


def get_activation(activation: str | Activation) -> Activation:
    """Return an :class:`Activation` for a registry name or pass an instance through.

    Raises
    ------
    ValueError
        For an unknown name, listing the known ones.
    TypeError
        For anything that is neither a string nor an Activation.
    """
    if isinstance(activation, Activation):
        return activation
    if isinstance(activation, str):
        try:
            return _REGISTRY[activation.lower()]()
        except KeyError:
            raise ValueError(f"unknown activation {activation!r}; choose one of "
                             f"{sorted(_REGISTRY)} or pass an Activation instance") from None
    raise TypeError(f"activation must be a name or an Activation, got {type(activation).__name__}")
