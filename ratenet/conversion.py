"""What each layer of a trained rate network becomes when it runs as spiking neurons.

A hidden layer computes ``h = f(z)`` with ``z = W h_prev + b``. When ``f`` is the firing rate of a
neuron model, scaled, ``f(z) = A r(g z + c)``, its *twin* is a population of that neuron receiving
the input ``g z + c``: a filtered spike train has the neuron's rate as its mean, so ``A`` times the
filtered trains stands for ``h``. A :class:`NeuronTwin` holds ``g`` (gain), ``c`` (offset), ``A``
(amplitude) and how to add such neurons to a :class:`neurosim.SpikingNetwork`:

- :class:`~ratenet.LIFRate` and :class:`~ratenet.SoftLIFRate` (whose smoothing only gives training a
  gradient at threshold) run as the LIF neurons of their ``tau_m``, ``tau_ref``;
- :class:`~ratenet.NoisyLIFRate` runs as LIF neurons that receive its white noise ``sigma``;
- a :class:`~ratenet.RateCurveActivation` of a curve that neurosim measured (``curve.model`` says
  which neuron: :func:`neurosim.rate_curve` records it) runs as that neuron: Hodgkin-Huxley
  neurons with the curve's parameters, integration method and threshold (currents in µA/cm²),
  or LIF neurons;
- :class:`~ratenet.ReLU` runs as non-leaky integrate-and-fire (IF) neurons with reset by
  subtraction, whose rate is exactly their input (Rueckauer et al. 2017), once data-based weight
  normalisation has given the layer a scale: the ``percentile`` of its activations on training
  data (the maximum for ``percentile=100``, Diehl et al. 2015) fires at ``max_rate``.

:func:`spiking_layers` reads a :class:`~ratenet.Network` into its hidden layers (weights with any
:class:`~ratenet.BatchNorm` folded in, :class:`~ratenet.Dropout` dropped, as at inference) and the
linear readout, and refuses, naming the layer, an activation that has no twin. New twins are added
with :func:`register_twin`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from neurosim import HHParameters, Population, SpikingNetwork
from neurosim.hh import METHODS as HH_METHODS
from neurosim.hh import STABLE_DT as HH_STABLE_DT

from .activations import Activation, LIFRate, NoisyLIFRate, RateCurveActivation, ReLU
from .layers import Dense
from .network import Network
from .regularization import BatchNorm, Dropout
from .validation import check_positive

__all__ = ["ConversionContext", "HHTwin", "IFTwin", "LIFTwin", "NeuronTwin", "Readout", "SpikingLayer",
           "register_twin", "spiking_layers", "twin_of"]


class NeuronTwin:
    """The spiking neurons that stand for one activation: ``h = amplitude * rate(gain * z + offset)``.

    Attributes
    ----------
    activation : Activation
        The rate network's activation this twin reproduces.
    gain : float
        Neuron input per unit of pre-activation ``z`` (the neuron's input unit).
    offset : float
        Input added to ``gain * z`` (the neuron's input unit).
    amplitude : float
        Network units per Hz: ``h = amplitude * rate``.
    max_rate : float
        The neuron's rate ceiling (Hz): ``1 / tau_ref`` for LIF, the highest sampled rate of a
        measured curve. Rates near it are *saturated*.
    kind : str
        Short name of the neuron ("LIF", "HH", ...), used in labels.
    """

    kind = ""

    def __init__(self, activation: Activation, *, gain: float, offset: float, amplitude: float,
                 max_rate: float):
        self.activation = activation
        self.gain = float(gain)
        self.offset = float(offset)
        self.amplitude = float(amplitude)
        self.max_rate = float(max_rate)

    #: The step (s) this neuron is simulated at when the user gives none.
    default_dt = 1e-3

    def rate(self, z: np.ndarray) -> np.ndarray:
        """The rate (Hz) the rate network assigns to pre-activations ``z``: ``f(z) / amplitude``."""
        return np.asarray(self.activation(np.asarray(z, dtype=np.float64)), dtype=np.float64) / self.amplitude

    def input_of(self, z: np.ndarray) -> np.ndarray:
        """The neurons' input ``gain * z + offset`` (their input unit)."""
        return self.gain * np.asarray(z, dtype=np.float64) + self.offset

    def check_dt(self, dt: float, layer: str) -> None:
        """Raise ``ValueError`` if these neurons cannot be simulated at step ``dt`` (s)."""

    #: The inputs ``(low, high)`` (the neuron's input unit) over which the rate is known, or None
    #: for a rate defined for every input (an analytic curve).
    input_range: tuple[float, float] | None = None

    def add_population(self, network: SpikingNetwork, n: int, *, bias, current=None, v_init=None,
                       label: str) -> Population:
        """Add ``n`` of these neurons to ``network`` with the given constant input and start state."""
        raise NotImplementedError

    def phase_voltages(self, v_in: np.ndarray, phase: np.ndarray,
                       rng: np.random.Generator) -> np.ndarray | None:
        """Initial voltages at ``phase`` (fractions in [0, 1) of the interspike interval elapsed since
        the last spike) of the cycle that a constant input ``v_in`` drives, both of shape
        (n_trials, n).

        A uniformly random phase is the stationary state of a neuron that has received ``v_in`` for
        a long time. None when the model has no closed form for it (the neurons start at rest).
        """
        return None

    def uniform_voltages(self, shape: tuple, rng: np.random.Generator) -> np.ndarray | None:
        """Initial voltages spread between rest and threshold, independent of the input; None for
        models that start at rest."""
        return None

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(gain={self.gain:.4g}, offset={self.offset:.4g}, "
                f"amplitude={self.amplitude:.4g}, max_rate={self.max_rate:.4g} Hz)")


class LIFTwin(NeuronTwin):
    """Normalized LIF neurons (threshold 1, reset 0) with membrane time constant ``tau_m`` and
    refractory period ``tau_ref`` (s). neurosim integrates them with exact spike timing, so any
    step ``dt`` keeps their rate."""

    kind = "LIF"

    def __init__(self, activation: Activation, *, tau_m: float, tau_ref: float, gain: float, offset: float,
                 amplitude: float, noise: float = 0.0):
        super().__init__(activation, gain=gain, offset=offset, amplitude=amplitude,
                         max_rate=1.0 / tau_ref if tau_ref > 0 else np.inf)
        self.tau_m = float(tau_m)
        self.tau_ref = float(tau_ref)
        self.noise = float(noise)

    def add_population(self, network, n, *, bias, current=None, v_init=None, label):
        noise = {"noise": self.noise} if self.noise > 0 else {}
        return network.add_lif(n, tau_m=self.tau_m, tau_ref=self.tau_ref, bias=bias, current=current,
                               v_init=0.0 if v_init is None else v_init, label=label, **noise)

    def phase_voltages(self, v_in, phase, rng):
        if self.noise > 0:                     # a noisy neuron has no cycle: spread it instead
            return self.uniform_voltages(np.shape(v_in), rng)
        # Under a constant v_in > 1 the neuron fires with period T = tau_ref + tau_m ln(v_in / (v_in - 1)).
        # At a time s = phase T after its last spike it is refractory for s < tau_ref, else at
        # v_in (1 - exp(-(s - tau_ref) / tau_m)). A refractory remainder
        # r = tau_ref - s is encoded as the voltage v_in (1 - exp(r / tau_m)) < 0, from which the free
        # membrane takes exactly r to reach the reset 0: the spike times are those of the cycle.
        # Below threshold the stationary state is the fixed point v = v_in (just below the threshold
        # for v_in = 1, which it approaches without reaching).
        v_in = np.asarray(v_in, dtype=np.float64)
        firing = v_in > 1
        excess = np.where(firing, v_in - 1.0, 1.0)
        period = self.tau_ref + self.tau_m * np.log1p(1.0 / excess)
        since_spike = phase * period
        free = since_spike - self.tau_ref
        voltage = v_in * -np.expm1(-free / self.tau_m)          # also right for free < 0 (refractory)
        return np.where(firing, voltage, np.minimum(v_in, np.nextafter(1.0, 0.0)))

    def uniform_voltages(self, shape, rng):
        return rng.uniform(0.0, 1.0, shape)

    def __repr__(self) -> str:
        noise = f", noise={self.noise:g}" if self.noise > 0 else ""
        return (f"LIFTwin(tau_m={self.tau_m:g} s, tau_ref={self.tau_ref:g} s{noise}, gain={self.gain:.4g}, "
                f"offset={self.offset:.4g}, amplitude={self.amplitude:.4g})")


class IFTwin(NeuronTwin):
    """Non-leaky integrate-and-fire neurons, ``dv/dt = J`` (threshold 1, ``J`` in 1/s), with reset
    by subtraction: a constant input ``J > 0`` fires at exactly ``J`` Hz, so they run a ReLU layer
    (Rueckauer et al. 2017). ``J = max_rate * z / scale``: the layer's activation ``scale`` (from
    data-based normalisation) fires at ``max_rate``, the rate budget reported as ``max_rate``
    (the neurons can exceed it: an activation above ``scale``, which the normalisation data did not
    have, fires faster)."""

    kind = "IF"

    def __init__(self, activation: Activation, *, scale: float, max_rate: float):
        super().__init__(activation, gain=max_rate / scale, offset=0.0, amplitude=scale / max_rate,
                         max_rate=max_rate)
        self.scale = float(scale)

    def add_population(self, network, n, *, bias, current=None, v_init=None, label):
        return network.add_if(n, reset="subtract", bias=bias, current=current,
                              v_init=0.0 if v_init is None else v_init, label=label)

    def phase_voltages(self, v_in, phase, rng):
        # dv/dt = J: for J > 0 the potential sweeps [0, 1) at constant speed, so the phase is the
        # voltage; for J <= 0 the neuron never fires and rests where it starts (0).
        return np.where(np.asarray(v_in) > 0, phase, 0.0)

    def uniform_voltages(self, shape, rng):
        return rng.uniform(0.0, 1.0, shape)

    def __repr__(self) -> str:
        return f"IFTwin(scale={self.scale:.4g}, max_rate={self.max_rate:g} Hz, reset='subtract')"


class HHTwin(NeuronTwin):
    """Hodgkin-Huxley neurons (currents in µA/cm²) with the parameters, integration method and spike
    threshold of the curve they were measured with. They need a small step: forward Euler diverges
    above ``neurosim.hh.STABLE_DT`` (0.02 ms); by default they run at the curve's own step."""

    kind = "HH"

    def __init__(self, activation: RateCurveActivation, *, params: HHParameters, method: str,
                 threshold: float, curve_dt: float):
        rates = getattr(activation.curve, "rates", None)
        super().__init__(activation, gain=activation.gain, offset=activation.bias,
                         amplitude=activation.amplitude,
                         max_rate=float(np.max(rates)) if rates is not None else np.inf)
        self.params = params
        self.method = method
        self.threshold = float(threshold)
        self.default_dt = float(curve_dt)
        inputs = getattr(activation.curve, "inputs", None)
        self.input_range = None if inputs is None else (float(inputs[0]), float(inputs[-1]))

    def check_dt(self, dt, layer):
        if dt > HH_STABLE_DT:
            raise ValueError(f"{layer} runs as Hodgkin-Huxley neurons, which need dt <= {HH_STABLE_DT:g} s "
                             f"(forward Euler diverges above); its curve was measured at dt = "
                             f"{self.default_dt:g} s: pass dt={self.default_dt:g} or leave dt=None")

    def add_population(self, network, n, *, bias, current=None, v_init=None, label):
        return network.add_hh(n, self.params, current=current, bias=bias, threshold=self.threshold,
                              method=self.method, label=label)

    def __repr__(self) -> str:
        return (f"HHTwin(method={self.method!r}, dt={self.default_dt:g} s, gain={self.gain:.4g} µA/cm², "
                f"offset={self.offset:.4g} µA/cm², amplitude={self.amplitude:.4g})")


# --------------------------------------------------------------------------- the registry

@dataclass(frozen=True)
class ConversionContext:
    """What a twin builder may use besides the activation.

    Attributes
    ----------
    name : str
        The layer ("hidden 2"), for messages.
    pre_activations : ndarray, shape (n_samples, n_neurons), or None
        The layer's pre-activations ``z`` on the normalisation data (``to_spiking(normalize_on=)``),
        None without data.
    percentile : float
        Percentile of the layer's positive activations on the data taken as its scale (100: the
        maximum).
    max_rate : float
        Rate (Hz) at which the scale fires, for twins whose rate is linear in their input.
    """

    name: str
    pre_activations: np.ndarray | None
    percentile: float
    max_rate: float


def _lif_rate_twin(activation: LIFRate, context: ConversionContext) -> NeuronTwin:
    return LIFTwin(activation, tau_m=activation.tau_m, tau_ref=activation.tau_ref, gain=activation.gain,
                   offset=activation.bias, amplitude=activation.amplitude)


def _noisy_lif_rate_twin(activation: NoisyLIFRate, context: ConversionContext) -> NeuronTwin:
    return LIFTwin(activation, tau_m=activation.tau_m, tau_ref=activation.tau_ref, gain=activation.gain,
                   offset=activation.bias, amplitude=activation.amplitude, noise=activation.sigma)


def _rate_curve_twin(activation: RateCurveActivation, context: ConversionContext) -> NeuronTwin | None:
    model = getattr(activation.curve, "model", None)
    name = model.get("model") if isinstance(model, dict) else None
    if name == "lif":
        return LIFTwin(activation, tau_m=model["tau_m"], tau_ref=model["tau_ref"], gain=activation.gain,
                       offset=activation.bias, amplitude=activation.amplitude, noise=model.get("noise", 0.0))
    if name == "hh":
        method = model.get("method", "euler")
        if method not in HH_METHODS:
            return None
        return HHTwin(activation, params=HHParameters(**model.get("params", {})), method=method,
                      threshold=model.get("threshold", 0.0), curve_dt=model.get("dt", 1e-5))
    return None


def _relu_twin(activation: ReLU, context: ConversionContext) -> NeuronTwin:
    if context.pre_activations is None:
        raise ValueError(f"{context.name} (ReLU) runs as integrate-and-fire neurons once data has set its "
                         "scale: pass normalize_on=X_train (data-based weight normalisation)")
    positive = context.pre_activations[context.pre_activations > 0]
    if positive.size == 0:
        raise ValueError(f"{context.name} (ReLU) is never active on the normalisation data "
                         "(normalize_on): its scale is undefined; give data on which it fires")
    scale = float(np.percentile(positive, context.percentile))
    return IFTwin(activation, scale=scale, max_rate=context.max_rate)


_TWINS: list[tuple[type, Callable[[Activation, ConversionContext], NeuronTwin | None]]] = [
    (NoisyLIFRate, _noisy_lif_rate_twin),   # before LIFRate, its parent
    (LIFRate, _lif_rate_twin),              # SoftLIFRate is a LIFRate: the same neurons
    (RateCurveActivation, _rate_curve_twin),
    (ReLU, _relu_twin),
]


def register_twin(activation_type: type,
                  build: Callable[[Activation, ConversionContext], NeuronTwin | None]) -> None:
    """Teach :func:`twin_of` the spiking twin of a new activation type.

    Parameters
    ----------
    activation_type : type
        An :class:`~ratenet.Activation` subclass.
    build : callable
        ``build(activation, context)`` (context: a :class:`ConversionContext`) returns a
        :class:`NeuronTwin`, or None when that particular activation has no twin. Registered types
        are tried before the built-in ones, most recent first, so a subclass can take over from
        its parent.
    """
    if not (isinstance(activation_type, type) and issubclass(activation_type, Activation)):
        raise TypeError(f"activation_type must be an Activation subclass, got {activation_type!r}")
    if not callable(build):
        raise TypeError("build must be a callable taking the activation and a ConversionContext")
    _TWINS.insert(0, (activation_type, build))


def twin_of(activation: Activation, context: ConversionContext | None = None) -> NeuronTwin | None:
    """The spiking twin of ``activation``, or None when no neuron model has it as its rate."""
    context = ConversionContext("a hidden layer", None, 99.9, 500.0) if context is None else context
    for activation_type, build in _TWINS:
        if isinstance(activation, activation_type):
            return build(activation, context)
    return None


def _no_twin_reason(activation: Activation) -> str:
    if isinstance(activation, RateCurveActivation):
        return ("its rate curve does not say which neuron it was measured from (curve.model is unset: "
                "measure it with neurosim.rate_curve('hh' or 'lif', ...), which records it)")
    if getattr(activation, "elementwise", True) is False:
        return "it maps each row as a whole, which no single neuron's rate does"
    return (f"{activation.name or type(activation).__name__} is not the firing rate of a neuron model "
            "(it has no refractory ceiling and no threshold of a membrane)")


# --------------------------------------------------------------------------- reading a network

@dataclass(frozen=True, repr=False)
class SpikingLayer:
    """One hidden layer of a spiking twin.

    Attributes
    ----------
    name : str
        "hidden 1", "hidden 2", ...
    position : int
        Index of its activation in ``net.layers``.
    weights : ndarray, shape (n_out, n_in), float64
        ``W`` (with a following BatchNorm folded in).
    bias : ndarray, shape (n_out,), float64
    twin : NeuronTwin
    """

    name: str
    position: int
    weights: np.ndarray
    bias: np.ndarray
    twin: NeuronTwin

    @property
    def n(self) -> int:
        return self.weights.shape[0]

    def __repr__(self) -> str:
        return f"SpikingLayer({self.name!r}, {self.weights.shape[1]} -> {self.n}, {self.twin!r})"


@dataclass(frozen=True, repr=False)
class Readout:
    """The output layer, read linearly from the last hidden layer: ``activation(W h + b)``.

    ``activation`` is None for logits (a network that ends with a Dense layer), else the output
    activation the network ends with (e.g. a sigmoid for a regression to [0, 1]).
    """

    weights: np.ndarray
    bias: np.ndarray
    activation: Activation | None

    def __repr__(self) -> str:
        return f"Readout({self.weights.shape[1]} -> {self.weights.shape[0]}, activation={self.activation!r})"


def spiking_layers(net: Network, *, normalize_on=None, percentile: float = 99.9,
                   max_rate: float = 500.0) -> tuple[list[SpikingLayer], Readout]:
    """Read ``net`` as hidden layers with spiking twins and a linear readout.

    The layers must read ``Dense, [BatchNorm], activation, [Dropout], Dense, ..., Dense,
    [output activation]``: every hidden activation has a twin (see the module docs), BatchNorm is
    folded into the Dense before it with its running statistics, Dropout is the identity (as at
    inference), two Dense layers in a row are composed.

    Parameters
    ----------
    net : Network
    normalize_on : array_like, shape (n_samples, n_inputs), optional
        Data (the training set, or a few thousand samples of it) on which the layers that need a
        scale (ReLU) measure their activations, layer after layer through the rate network.
    percentile : float
        Percentile of a layer's positive activations on ``normalize_on`` taken as its scale, in
        (0, 100]: 100 is the maximum (Diehl et al. 2015); 99.9 or 99.99 ignore outliers
        (Rueckauer et al. 2017).
    max_rate : float
        Rate (Hz) at which a scaled layer's scale fires.

    Raises
    ------
    ValueError
        Naming the first layer that cannot be converted and why, with what would work instead.
    """
    if not isinstance(net, Network):
        raise TypeError(f"net must be a ratenet Network, got {type(net).__name__}")
    percentile = check_positive("percentile", percentile)
    if percentile > 100:
        raise ValueError(f"percentile must be in (0, 100] (100: the maximum), got {percentile!r}")
    max_rate = check_positive("max_rate", max_rate)
    hidden, readout = _read_stages(net)
    h = None if normalize_on is None else _normalization_data(normalize_on, hidden[0][1][0].shape[1])
    layers = []
    for number, (position, (weights, bias), activation) in enumerate(hidden, start=1):
        name = f"hidden {number}"
        z = None if h is None else h @ weights.T + bias
        twin = twin_of(activation, ConversionContext(name, z, percentile, max_rate))
        if twin is None:
            raise ValueError(f"hidden layer {number} (layer {position}, {activation!r}) has no spiking twin: "
                             f"{_no_twin_reason(activation)}. Train it with rn.LIFRate, rn.SoftLIFRate, "
                             "rn.NoisyLIFRate, rn.ReLU (converted with normalize_on=X_train) or a "
                             "RateCurveActivation of a curve measured by neurosim.rate_curve to run it as "
                             "spiking neurons")
        layers.append(SpikingLayer(name, position, weights, bias, twin))
        if h is not None:
            h = np.asarray(activation(z), dtype=np.float64)
    return layers, readout


def _read_stages(net: Network) -> tuple[list, Readout]:
    """The hidden stages ``(position, (W, b), activation)`` and the readout of ``net``'s layers."""
    hidden, affine = [], None
    for position, layer in enumerate(net.layers):
        if isinstance(layer, Dense):
            affine = _compose(affine, layer)
        elif isinstance(layer, BatchNorm):
            if affine is None:
                raise ValueError(f"layer {position} ({layer!r}) comes before any Dense layer; to_spiking "
                                 "needs the network to start with a Dense layer")
            affine = _fold_batch_norm(affine, layer)
        elif isinstance(layer, Dropout):
            continue
        elif isinstance(layer, Activation):
            if affine is None:
                raise ValueError(f"layer {position} ({layer!r}) follows no Dense layer; to_spiking needs "
                                 "Dense layers between activations")
            hidden.append((position, affine, layer))
            affine = None
        else:
            raise ValueError(f"layer {position} ({layer!r}) has no spiking equivalent: to_spiking reads "
                             "Dense, BatchNorm, Dropout and activation layers")
    output_activation = None
    if affine is None and hidden:            # the network ends with an activation: the output's
        _, affine, output_activation = hidden.pop()
    if not hidden:
        raise ValueError("to_spiking needs at least one hidden layer: Dense, activation, ..., Dense")
    return hidden, Readout(affine[0], affine[1], output_activation)


def _normalization_data(data, n_inputs: int) -> np.ndarray:
    data = np.asarray(data, dtype=np.float64)
    if data.ndim != 2 or data.shape[1] != n_inputs or data.shape[0] == 0:
        raise ValueError(f"normalize_on must have shape (n_samples, {n_inputs}) with n_samples >= 1, "
                         f"got {data.shape}")
    if not np.all(np.isfinite(data)):
        raise ValueError("normalize_on must be finite; it contains NaN or inf")
    return data


def _compose(affine, dense: Dense):
    weights = np.asarray(dense.W, dtype=np.float64)
    bias = np.asarray(dense.b, dtype=np.float64)
    if affine is None:
        return weights.copy(), bias.copy()
    return weights @ affine[0], weights @ affine[1] + bias


def _fold_batch_norm(affine, norm: BatchNorm):
    # At inference BatchNorm is gamma (x - mean) / sqrt(var + eps) + beta: an affine map per feature.
    scale = np.asarray(norm.gamma, np.float64) / np.sqrt(np.asarray(norm.running_var, np.float64) + norm.eps)
    weights, bias = affine
    return (weights * scale[:, None],
            scale * (bias - np.asarray(norm.running_mean, np.float64)) + np.asarray(norm.beta, np.float64))
