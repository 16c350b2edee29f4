"""ratenet: multilayer rate networks whose activations can be neurons' firing-rate curves.

Build a network in a few lines, train it by backpropagation, and run an LIF-rate network back as a
spiking network with neurosim.
"""

from . import datasets
from .activations import (
    Activation,
    Arctan,
    LIFRate,
    Linear,
    OneHot,
    RateCurveActivation,
    ReLU,
    Sigmoid,
    SoftLIFRate,
    Softmax,
    Sparsemax,
    Tanh,
    Threshold,
    activation_names,
    get_activation,
    register_activation,
)
from .layers import Layer
from .perceptron import Perceptron, PerceptronConvergenceWarning, PerceptronResult

__version__ = "0.1.0"

__all__ = [
    "Activation",
    "Arctan",
    "LIFRate",
    "Layer",
    "Linear",
    "OneHot",
    "Perceptron",
    "PerceptronConvergenceWarning",
    "PerceptronResult",
    "RateCurveActivation",
    "ReLU",
    "Sigmoid",
    "SoftLIFRate",
    "Softmax",
    "Sparsemax",
    "Tanh",
    "Threshold",
    "activation_names",
    "datasets",
    "get_activation",
    "register_activation",
]
