"""ratenet: multilayer rate networks whose activations can be neurons' firing-rate curves.

Build a network in a few lines, train it by backpropagation, and run an LIF-rate network back as a
spiking network with neurosim.
"""

from . import datasets
from .activations import Activation, Linear, ReLU, Sigmoid, Tanh, get_activation
from .layers import Layer

__version__ = "0.1.0"

__all__ = [
    "Activation",
    "Layer",
    "Linear",
    "ReLU",
    "Sigmoid",
    "Tanh",
    "datasets",
    "get_activation",
]
