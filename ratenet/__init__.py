"""ratenet: multilayer rate networks whose activations can be neurons' firing-rate curves.

Build a network in a few lines (a chain of layers, :class:`Network`, or a flow graph with skip
connections, several inputs and several losses, :class:`Graph`), train it by backpropagation, and
run it back as a spiking network with neurosim (LIF, Hodgkin-Huxley, integrate-and-fire twins of its
rate activations), with diagnostics of how well the spikes follow the rates.

"The course notes" in the docstrings are the lecture notes this project follows, from Hodgkin-Huxley
and LIF neurons through the perceptron (their Chapter 7), backpropagation, optimisers and
regularisation to autoencoders and RBMs; their symbols are kept (W of shape (n_out, n_in), the
column formulas transposed for batches in rows).
"""

from . import conversion, datasets, downloads
from .activations import (
    Activation,
    Arctan,
    LIFRate,
    Linear,
    NoisyLIFRate,
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
from .autoencoder import Autoencoder, ReconstructionHistory
from .debugging import DebugCheck, SmallDataReport, debug_on_small_data
from .diagnostics import (
    ConversionDiagnosis,
    LayerDiagnosis,
    diagnose,
    plot_accuracy_over_time,
    plot_rate_histogram,
    plot_rate_scatter,
)
from .gradcheck import GradientCheck, check_gradients, numerical_gradients
from .graph import Graph
from .image_plots import plot_features, plot_reconstructions, plot_samples
from .io import Checkpoint, NetworkFileError, load, load_checkpoint, register_layer
from .layers import Dense, Layer, WeightLayer
from .losses import (
    MSE,
    BinaryCrossEntropy,
    CategoricalLoss,
    L1Error,
    Loss,
    SoftmaxCrossEntropy,
    SparsemaxLoss,
    get_loss,
)
from .maxout import Maxout
from .merge import Add, Concatenate, Merge
from .model import Model
from .network import MLP, Network
from .optimizers import SGD, Adagrad, Adam, Momentum, Nesterov, Optimizer, RMSProp, get_optimizer
from .perceptron import Perceptron, PerceptronConvergenceWarning, PerceptronResult
from .plot import plot_activation_curves, plot_gradient_norms, plot_learning_curves
from .pretrain import LayerPretraining, Pretraining, pretrain
from .rbm import RBM
from .rbm_likelihood import LogLikelihood, LogPartition
from .regularization import BatchNorm, Dropout, WeightPenalty
from .schedules import ExponentialDecay, ReduceOnPlateau, Schedule, StepDecay
from .search import SearchResult, grid_search, random_search
from .spiking import SpikingClassifier, SpikingOutput, spiking_accuracy, to_spiking
from .train import Callback, EarlyStopping, History, fit

__version__ = "0.1.0"

__all__ = [
    "Activation",
    "Adagrad",
    "Adam",
    "Add",
    "Arctan",
    "Autoencoder",
    "BatchNorm",
    "BinaryCrossEntropy",
    "Callback",
    "CategoricalLoss",
    "Checkpoint",
    "Concatenate",
    "ConversionDiagnosis",
    "DebugCheck",
    "Dense",
    "Dropout",
    "EarlyStopping",
    "ExponentialDecay",
    "GradientCheck",
    "Graph",
    "History",
    "L1Error",
    "LIFRate",
    "Layer",
    "LayerDiagnosis",
    "LayerPretraining",
    "Linear",
    "LogLikelihood",
    "LogPartition",
    "Loss",
    "MLP",
    "MSE",
    "Maxout",
    "Merge",
    "Model",
    "Momentum",
    "Nesterov",
    "NoisyLIFRate",
    "Network",
    "NetworkFileError",
    "OneHot",
    "Optimizer",
    "Perceptron",
    "PerceptronConvergenceWarning",
    "PerceptronResult",
    "Pretraining",
    "RBM",
    "RMSProp",
    "RateCurveActivation",
    "ReLU",
    "ReconstructionHistory",
    "ReduceOnPlateau",
    "SGD",
    "Schedule",
    "SearchResult",
    "Sigmoid",
    "SmallDataReport",
    "SoftLIFRate",
    "Softmax",
    "SoftmaxCrossEntropy",
    "Sparsemax",
    "SparsemaxLoss",
    "SpikingClassifier",
    "SpikingOutput",
    "StepDecay",
    "Tanh",
    "Threshold",
    "WeightLayer",
    "WeightPenalty",
    "activation_names",
    "check_gradients",
    "conversion",
    "datasets",
    "debug_on_small_data",
    "diagnose",
    "downloads",
    "fit",
    "get_activation",
    "get_loss",
    "get_optimizer",
    "grid_search",
    "load",
    "load_checkpoint",
    "numerical_gradients",
    "plot_accuracy_over_time",
    "plot_activation_curves",
    "plot_features",
    "plot_gradient_norms",
    "plot_learning_curves",
    "plot_rate_histogram",
    "plot_rate_scatter",
    "plot_reconstructions",
    "plot_samples",
    "pretrain",
    "random_search",
    "register_activation",
    "register_layer",
    "spiking_accuracy",
    "to_spiking",
]
