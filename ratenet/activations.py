"""Activation functions f(z) and their derivatives f'(z), each computed from the pre-activation z.

Derivatives are taken from z, not from h = f(z): arctan and the firing-rate curves cannot be
differentiated from h (the course notes' remark). Every activation is also a :class:`~ratenet.layers.Layer`,
so it can stand between Dense layers in a :class:`~ratenet.network.Network`; a string name is looked
up in a small registry (:func:`get_activation`), and an unknown name is an error that lists the
choices.
"""

from __future__ import annotations

import numpy as np

from neurosim import lif_rate_noisy, lif_rate_noisy_derivative
from neurosim.lif import DEFAULT_TAU_M, DEFAULT_TAU_REF

from .layers import Layer, Scratch
from .losses import sigmoid, softmax, sparsemax
from .validation import check_finite, check_nonnegative, check_positive


class Activation(Layer):
    """An element-wise activation h = f(z).

    Subclasses implement :meth:`function` and :meth:`derivative`. Both accept ``out=``, an array of
    z's shape and dtype to write into (it may be ``z`` itself), so that the training loop can reuse
    buffers instead of allocating per step.
    """

    #: Registry name, e.g. "sigmoid".
    name: str = ""
    #: True when f acts on each entry alone (diagonal Jacobian, :meth:`derivative` defined); False
    #: for softmax, sparsemax and one-hot, which map each row as a whole.
    elementwise: bool = True

    def function(self, z: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """f(z), element-wise, same shape and dtype as ``z``."""
        raise NotImplementedError

    def derivative(self, z: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """f'(z), element-wise, same shape and dtype as ``z``."""
        raise NotImplementedError

    def __call__(self, z: np.ndarray) -> np.ndarray:
        """f(z) for an array or a scalar (integers are taken as float64); a scalar gives a scalar
        of its dtype."""
        z = np.asarray(z)
        if not np.issubdtype(z.dtype, np.floating):
            z = z.astype(np.float64)
        if z.ndim == 0:
            return self.function(z.reshape(1))[0]
        return self.function(z)

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        self._z = x
        return self.function(x)

    def infer(self, x: np.ndarray, scratch: Scratch) -> np.ndarray:
        out = x if scratch.owns(x) else scratch.array((id(self), "out"), x.shape, x.dtype)
        return self.function(x, out=out)

    @classmethod
    def array_shapes(cls, config: dict) -> dict:
        return {"parameters": [], "buffers": {}}

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

    Evaluated by :func:`ratenet.losses.sigmoid` from ``exp(-|z|)``: it never overflows and keeps
    full relative precision on both sides (f(-700) = 9.86e-305, not 0).
    """

    name = "sigmoid"

    def function(self, z, out=None):
        return sigmoid(z, out=out)

    def derivative(self, z, out=None):
        # f'(z) = f(z) f(-z) is even: s (1 - s) with s = f(-|z|) = e / (1 + e), e = exp(-|z|),
        # keeps full relative precision far out on either side
        out = np.abs(z, out=out)
        np.negative(out, out=out)
        np.exp(out, out=out)
        denominator = out + 1
        out /= denominator
        np.subtract(1, out, out=denominator)
        out *= denominator
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


class Arctan(Activation):
    """Inverse tangent, f(z) = arctan z (range (-pi/2, pi/2)); f'(z) = 1 / (1 + z^2).

    The derivative cannot be written in terms of h = f(z) cheaply, which is why every derivative
    here is computed from z.
    """

    name = "arctan"

    def function(self, z, out=None):
        return np.arctan(z, out=out)

    def derivative(self, z, out=None):
        out = np.square(z, out=out)
        out += 1
        return np.reciprocal(out, out=out)


class Threshold(Activation):
    """Heaviside step of the perceptron: f(z) = 1 for z >= 0, else 0; f'(z) = 0.

    The convention at z = 0 is 1 (a unit whose weighted input reaches the threshold exactly
    fires), as in the notes' perceptron. The derivative is 0 everywhere it exists, so gradient
    descent cannot train it: the perceptron learns it with its own rule (:mod:`ratenet.perceptron`).
    """

    name = "threshold"

    def function(self, z, out=None):
        if out is None:
            return (z >= 0).astype(z.dtype)
        np.greater_equal(z, 0, out=out)
        return out

    def derivative(self, z, out=None):
        if out is None:
            return np.zeros_like(z)
        out.fill(0)
        return out


class _VectorActivation(Activation):
    """An activation that maps each row (the last axis) as a whole, not element by element.

    Its Jacobian is not diagonal, so :meth:`derivative` (the element-wise f') does not exist and
    raises; :meth:`backward` computes the Jacobian-vector product instead.
    """

    elementwise = False

    def derivative(self, z, out=None):
        raise TypeError(f"{self.name} is not element-wise: its Jacobian is not diagonal, so it has no "
                        "element-wise derivative; use backward(grad_output), the Jacobian-vector product")

    def forward(self, x, training=False):
        self._h = self.function(x)
        return self._h


class Softmax(_VectorActivation):
    """Softmax over the last axis: f(z)_i = e^{z_i} / sum_j e^{z_j}.

    Evaluated as ``e^{z - max z} / sum e^{z - max z}`` (the same value), which never overflows and
    gives rows summing to 1 for logits of any size. Not element-wise: :meth:`derivative` raises,
    and :meth:`backward` applies the Jacobian ``J = diag(h) - h h^T`` to the incoming gradient,
    ``dE/dz = h * (g - sum(g * h))`` per row. For classification, prefer the fused softmax +
    cross-entropy loss, whose gradient is simply ``h - t``.
    """

    name = "softmax"

    def function(self, z, out=None):
        return softmax(z, out=out)

    def backward(self, grad_output):
        h = self._h
        weighted = np.sum(grad_output * h, axis=-1, keepdims=True)
        grad_input = grad_output - weighted
        grad_input *= h
        return grad_input


class OneHot(_VectorActivation):
    """One-hot of the argmax over the last axis: 1 at the largest z of each row, 0 elsewhere.

    Ties go to the first maximal index (``numpy.argmax``). Inference only (it turns scores into a
    decision): it has no useful gradient, so :meth:`backward` and :meth:`derivative` raise. Train
    with softmax and swap in one-hot for prediction.
    """

    name = "one_hot"

    def function(self, z, out=None):
        winners = np.argmax(z, axis=-1)  # before out is cleared: out may be z itself
        if out is None:
            out = np.zeros_like(z)
        else:
            out.fill(0)
        np.put_along_axis(out, winners[..., None], 1, axis=-1)
        return out

    def derivative(self, z, out=None):
        raise TypeError("one_hot is for inference only: argmax has no gradient. Train with 'softmax' and "
                        "use one_hot only to turn outputs into decisions")

    def backward(self, grad_output):
        self.derivative(grad_output)


class Sparsemax(_VectorActivation):
    """Sparsemax over the last axis: the Euclidean projection of z onto the probability simplex.

    ``f(z) = max(z - tau(z), 0)`` where the threshold ``tau`` makes each row sum to 1. With the
    row sorted decreasingly, ``z_(1) >= z_(2) >= ...``, the support size is
    ``k = max{k : 1 + k z_(k) > sum_{j<=k} z_(j)}`` and ``tau = (sum_{j<=k} z_(j) - 1) / k``.
    Unlike softmax it gives exact zeros. The row maximum is subtracted first (tau shifts with z),
    so large logits do not lose precision in the cumulative sums.

    The Jacobian is ``diag(s) - s s^T / |S|`` with ``s`` the indicator of the support ``S``, so
    :meth:`backward` returns ``s * (g - mean_{j in S} g_j)`` per row; :meth:`derivative` raises.

    References
    ----------
    A. F. T. Martins and R. F. Astudillo, "From softmax to sparsemax: a sparse model of attention
    and multi-label classification", ICML 2016, arXiv:1602.02068 (Algorithm 1 and Eq. 14).
    """

    name = "sparsemax"

    def function(self, z, out=None):
        return sparsemax(z, out=out)

    def backward(self, grad_output):
        support = (self._h > 0).astype(grad_output.dtype)
        support_mean = np.sum(grad_output * support, axis=-1, keepdims=True) / np.sum(
            support, axis=-1, keepdims=True)
        grad_input = grad_output - support_mean
        grad_input *= support
        return grad_input


# --------------------------------------------------------------------------- firing-rate curves

def _default_lif_amplitude(tau_m: float, tau_ref: float) -> float:
    """1 / G(2): the amplitude that makes the LIF rate 1 at twice the threshold input."""
    return tau_ref + tau_m * float(np.log(2.0))


class LIFRate(Activation):
    """Firing rate of a leaky integrate-and-fire neuron (the notes' G), scaled to O(1).

    ``h = amplitude * G(gain * z + bias)`` with, for the normalized input ``v_in = gain z + bias``
    (threshold 1),

        G(v_in) = 1 / (tau_ref + tau_m ln(1 + 1 / (v_in - 1)))   for v_in > 1, else 0,

    the rate of :func:`neurosim.lif_rate` in Hz, and
    ``f'(z) = amplitude * gain * G'(v_in)``, ``G' = tau_m G^2 / (v_in (v_in - 1))`` (as
    :func:`neurosim.lif_rate_derivative`). Both are computed here in place, in z's dtype; they
    agree with neurosim's functions to rounding. G' grows without bound as ``v_in -> 1+``: the
    kink at threshold is sharper than ReLU's (see :class:`SoftLIFRate` for a smoothed version).

    Parameters
    ----------
    tau_m : float
        Membrane time constant (s), > 0. Default 0.02.
    tau_ref : float
        Refractory period (s), >= 0. Default 0.002 (so rates saturate at 1/tau_ref = 500 Hz).
    gain : float
        Gain from the pre-activation z to the normalized input v_in (dimensionless), > 0.
        Default 1.
    bias : float
        Offset added to ``gain * z`` (normalized input units). Default 1, which puts the threshold
        at z = 0, where ReLU's kink is: a neuron fires for z > 0 and is silent for z <= 0.
    amplitude : float, optional
        Scale from Hz to the network's units (s), > 0. Default ``1 / G(2)`` (about 1/63.1 Hz =
        0.0158 s with the default time constants): the output is 1 where the input is twice the
        threshold (z = 1 with the default gain and bias), so activations and their slopes are
        O(1) like a sigmoid's or ReLU's and Glorot initialisation suits them. It plays the role of
        ``amplitude`` in Nengo's rate neurons. A spiking network that reproduces this rate network
        multiplies its filtered spike trains by ``amplitude``.

    Attributes
    ----------
    tau_m, tau_ref, gain, bias, amplitude : float
        The resolved parameters; a spiking conversion feeds neurons ``v_in = gain * z + bias`` and
        reads ``amplitude * (filtered spikes)``.
    """

    name = "lif_rate"

    def __init__(self, tau_m: float = DEFAULT_TAU_M, tau_ref: float = DEFAULT_TAU_REF, gain: float = 1.0,
                 bias: float = 1.0, amplitude: float | None = None):
        self.tau_m = check_positive("tau_m", tau_m)
        self.tau_ref = check_nonnegative("tau_ref", tau_ref)
        self.gain = check_positive("gain", gain)
        self.bias = check_finite("bias", bias)
        self.amplitude = (_default_lif_amplitude(self.tau_m, self.tau_ref) if amplitude is None
                          else check_positive("amplitude", amplitude))

    def config(self):
        return {"tau_m": self.tau_m, "tau_ref": self.tau_ref, "gain": self.gain, "bias": self.bias,
                "amplitude": self.amplitude}

    def input_current(self, z: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """The neuron's normalized input ``v_in = gain * z + bias`` (dimensionless, threshold 1)."""
        out = np.multiply(z, z.dtype.type(self.gain), out=out)
        out += z.dtype.type(self.bias)
        return out

    def function(self, z, out=None):
        dtype = z.dtype.type
        v_in = self.input_current(z)
        firing = v_in > 1
        # excess = v_in - 1 is >= eps (the spacing of floats above 1) wherever the neuron fires, so
        # flooring it at eps changes only the silent entries, keeping their arithmetic finite;
        # they are zeroed at the end by the mask.
        excess = np.subtract(v_in, 1, out=v_in)
        np.maximum(excess, np.finfo(z.dtype).eps, out=excess)
        inverse_excess = np.reciprocal(excess, out=excess)
        out = _log1p(inverse_excess, out=out)
        out *= dtype(self.tau_m)
        out += dtype(self.tau_ref)
        np.divide(dtype(self.amplitude), out, out=out)
        out *= firing
        return out

    def derivative(self, z, out=None):
        dtype = z.dtype.type
        v_in = self.input_current(z)
        firing = v_in > 1
        excess = np.subtract(v_in, 1)
        np.maximum(excess, np.finfo(z.dtype).eps, out=excess)  # as in function()
        np.maximum(v_in, 1, out=v_in)  # unchanged where firing; avoids dividing by v_in <= 0
        inverse_excess = np.reciprocal(excess, out=excess)
        # G = 1 / (tau_ref + tau_m log1p(1 / (v - 1))); G' = tau_m G^2 / (v (v - 1)).
        out = _log1p(inverse_excess, out=out)
        out *= dtype(self.tau_m)
        out += dtype(self.tau_ref)
        np.reciprocal(out, out=out)
        np.square(out, out=out)
        out *= inverse_excess
        out /= v_in
        out *= dtype(self.tau_m * self.amplitude * self.gain)
        out *= firing
        return out


class SoftLIFRate(LIFRate):
    """The LIF rate smoothed at threshold (Hunsberger & Eliasmith 2015): a usable gradient there.

    The LIF rate depends on ``j = v_in - 1`` through ``max(j, 0)``; the soft LIF rate replaces it
    with ``p = sigma * softplus(j / sigma)``:

        G_soft(v_in) = 1 / (tau_ref + tau_m ln(1 + 1 / p)),   p = sigma ln(1 + e^{j / sigma}),

    which tends to :class:`LIFRate` as ``sigma -> 0`` and has a finite, nonzero slope everywhere,
    including at threshold. ``dG_soft/dv_in = tau_m G_soft^2 sigmoid(j / sigma) / (p (1 + p))``.

    Numerics: softplus is evaluated as ``max(x, 0) + log1p(e^{-|x|})``, which never overflows;
    far below threshold (``x = j / sigma < -30``), where ``p`` would underflow, the code switches to
    the asymptotes ``ln(1 + 1/p) -> -ln(sigma) - j / sigma`` and ``sigmoid(x) / (p (1 + p)) -> 1 / sigma``
    (relative error below e^{-30}). The soft rate decays only like ``sigma / (tau_m |j|)`` there.

    Parameters
    ----------
    sigma : float
        Smoothing scale in units of normalized input, > 0. Default 0.02 (that of the paper's
        experiments, gamma = 0.02, for inputs of threshold 1).
    tau_m, tau_ref, gain, bias, amplitude
        As for :class:`LIFRate`. The default amplitude is LIFRate's, ``1 / G(2)`` of the *hard* LIF
        rate, so a SoftLIFRate network runs as a spiking LIF network with the same parameters.

    References
    ----------
    E. Hunsberger and C. Eliasmith, "Spiking deep networks with LIF neurons", arXiv:1510.08829
    (2015), Eq. 3 and its derivative.
    """

    name = "soft_lif_rate"

    #: Below this value of x = j / sigma the asymptotic forms are used.
    _ASYMPTOTE_BELOW = -30.0

    def __init__(self, sigma: float = 0.02, tau_m: float = DEFAULT_TAU_M, tau_ref: float = DEFAULT_TAU_REF,
                 gain: float = 1.0, bias: float = 1.0, amplitude: float | None = None):
        super().__init__(tau_m=tau_m, tau_ref=tau_ref, gain=gain, bias=bias, amplitude=amplitude)
        self.sigma = check_positive("sigma", sigma)

    def config(self):
        return {"sigma": self.sigma, **super().config()}

    def _smoothed_excess(self, z):
        """Return x_c = max(j / sigma, -30), softplus(x_c), p = sigma softplus(x_c), ln(1 + 1/p_exact).

        Clamping x at -30 is the switch to the asymptotes without branches: below it, p(x) ~ sigma e^x,
        so ln(1 + 1/p(x)) = ln(1 + 1/p(x_c)) + (x_c - x) up to a relative e^{-30}, and the slope
        factor sigmoid(x) / (p (1 + p)) is 1 / sigma, its value at x_c, to the same accuracy.
        """
        dtype = z.dtype.type
        with np.errstate(over="ignore"):
            x = self.input_current(z)
            x -= 1
            x /= dtype(self.sigma)
        # (x is also capped far above threshold, where softplus(x) = x and 1/p vanishes beside 1,
        # so that an overflowing input gives the saturated rate and a zero slope, not NaN)
        x_clamped = np.clip(x, dtype(self._ASYMPTOTE_BELOW), np.finfo(z.dtype).max / 1e3)
        # softplus(x) = max(x, 0) + log1p(e^{-|x|}): never overflows
        decay = np.abs(x_clamped)
        np.negative(decay, out=decay)
        np.exp(decay, out=decay)
        softplus = _log1p(decay)
        softplus += np.maximum(x_clamped, 0, out=decay)
        p = np.multiply(softplus, dtype(self.sigma))
        log_term = _log1p(np.reciprocal(p, out=decay))
        # x_clamped - x: 0 except far below threshold (written so that x = +inf gives 0, not NaN)
        np.subtract(self._ASYMPTOTE_BELOW, x, out=x)
        np.maximum(x, 0, out=x)
        log_term += x
        return x_clamped, softplus, p, log_term

    def function(self, z, out=None):
        dtype = z.dtype.type
        log_term = self._smoothed_excess(z)[3]
        out = np.multiply(log_term, dtype(self.tau_m), out=out)
        out += dtype(self.tau_ref)
        return np.divide(dtype(self.amplitude), out, out=out)

    def derivative(self, z, out=None):
        dtype = z.dtype.type
        x_clamped, softplus, p, log_term = self._smoothed_excess(z)
        # rate / amplitude = 1 / (tau_ref + tau_m log_term); slope = tau_m rate^2 sigmoid(x) / (p (1 + p))
        out = np.multiply(log_term, dtype(self.tau_m), out=out)
        out += dtype(self.tau_ref)
        np.reciprocal(out, out=out)
        np.square(out, out=out)
        # sigmoid(x) = e^x / (1 + e^x) = exp(x - softplus(x)), stable for either sign of x
        ratio = np.subtract(x_clamped, softplus, out=x_clamped)
        np.exp(ratio, out=ratio)
        ratio /= p
        p += 1
        ratio /= p
        out *= ratio
        out *= dtype(self.tau_m * self.amplitude * self.gain)
        return out


class NoisyLIFRate(LIFRate):
    """The firing rate of an LIF neuron that receives white noise: Siegert's diffusion rate.

    ``h = amplitude * G_sigma(gain * z + bias)`` where ``G_sigma(mu)`` is the stationary rate of
    ``tau_m dv/dt = mu - v + sigma sqrt(tau_m) xi(t)`` (threshold 1, reset 0, refractory period
    ``tau_ref``), :func:`neurosim.lif_rate_noisy`, and ``f'(z) = amplitude * gain * G_sigma'``
    with the exact derivative :func:`neurosim.lif_rate_noisy_derivative`. The noise smooths the
    threshold as soft LIF does, but as a neuron does: below threshold the neuron fires on the
    fluctuations at a rate falling like a Gaussian tail, so a network trained with it runs as LIF
    neurons *receiving that noise* (its spiking twin adds it) and keeps its rates.

    Computed in float64 (the Siegert integral) and written in z's dtype; several times slower
    than :class:`LIFRate`, which is a closed form.

    Parameters
    ----------
    sigma : float
        Noise amplitude in units of the threshold, > 0 (the free membrane's standard deviation is
        ``sigma / sqrt(2)``). Default 0.1.
    tau_m, tau_ref, gain, bias, amplitude
        As for :class:`LIFRate` (the default amplitude is the noiseless rate's ``1 / G(2)``).

    References
    ----------
    N. Brunel, "Dynamics of sparsely connected networks of excitatory and inhibitory spiking
    neurons", J. Comput. Neurosci. 8 (2000), eq. 21; E. Hunsberger and C. Eliasmith,
    arXiv:1510.08829 (2015), on soft LIF as a stand-in for it.
    """

    name = "noisy_lif_rate"

    def __init__(self, sigma: float = 0.1, tau_m: float = DEFAULT_TAU_M, tau_ref: float = DEFAULT_TAU_REF,
                 gain: float = 1.0, bias: float = 1.0, amplitude: float | None = None):
        super().__init__(tau_m=tau_m, tau_ref=tau_ref, gain=gain, bias=bias, amplitude=amplitude)
        self.sigma = check_positive("sigma", sigma)

    def config(self):
        return {"sigma": self.sigma, **super().config()}

    def _rate(self, mu):
        return lif_rate_noisy(mu, self.sigma, tau_m=self.tau_m, tau_ref=self.tau_ref)

    def _rate_derivative(self, mu):
        return lif_rate_noisy_derivative(mu, self.sigma, tau_m=self.tau_m, tau_ref=self.tau_ref)

    def function(self, z, out=None):
        return _scaled_in_float64(self._rate, z, out, self.gain, self.bias, self.amplitude)

    def derivative(self, z, out=None):
        return _scaled_in_float64(self._rate_derivative, z, out, self.gain, self.bias,
                                  self.amplitude * self.gain)


class RateCurveActivation(Activation):
    """A firing-rate curve as an activation: ``h = amplitude * curve(gain * z + bias)``.

    ``f'(z) = amplitude * gain * curve.derivative(gain * z + bias)``. The curve is any object with
    ``curve(x)`` and ``curve.derivative(x)`` acting element-wise on float64 arrays, in Hz and Hz per
    input unit, e.g. a :class:`neurosim.RateCurve` measured by simulating Hodgkin-Huxley neurons
    (input in µA/cm²) or LIF neurons. Values are computed in float64 and written in z's dtype.

    Parameters
    ----------
    curve : rate curve or dict
        The f-I curve, or a description from ``RateCurve.to_dict()`` (as found in :meth:`config`),
        which is rebuilt with ``neurosim.RateCurve.from_dict``.
    amplitude : float, optional
        Scale from Hz to the network's units (s), > 0. Default ``1 / max(curve.rates)``: outputs lie
        in [0, 1] over the sampled range of the curve. Required when the curve has no ``rates``.
    gain : float
        Input units per unit of z, > 0. Default 1.
    bias : float, optional
        Input added to ``gain * z`` (in the curve's input unit). Default ``curve.onset`` when the
        curve knows its onset (so the neuron starts firing at z = 0, as ReLU does), else 0.

    Attributes
    ----------
    curve, amplitude, gain, bias
        The resolved values; a spiking conversion feeds neurons the input ``gain * z + bias``.
    """

    name = "rate_curve"

    def __init__(self, curve: object, amplitude: float | None = None, gain: float = 1.0,
                 bias: float | None = None):
        if isinstance(curve, dict):
            curve = _rate_curve_from_dict(curve)
        if not (callable(curve) and callable(getattr(curve, "derivative", None))):
            raise TypeError("curve must be a rate curve: callable as curve(x) with a curve.derivative(x) "
                            f"method (e.g. a neurosim.RateCurve), got {type(curve).__name__}")
        self.curve = curve
        self.gain = check_positive("gain", gain)
        if bias is None:
            onset = getattr(curve, "onset", None)
            bias = 0.0 if onset is None else onset
        self.bias = check_finite("bias", bias)
        if amplitude is None:
            rates = getattr(curve, "rates", None)
            peak = float(np.max(rates)) if rates is not None and np.size(rates) else 0.0
            if not (np.isfinite(peak) and peak > 0):
                raise ValueError("amplitude is needed: the curve has no positive sampled rates to take "
                                 "1 / max(rates) from")
            amplitude = 1.0 / peak
        self.amplitude = check_positive("amplitude", amplitude)

    def config(self):
        to_dict = getattr(self.curve, "to_dict", None)
        curve = to_dict() if callable(to_dict) else repr(self.curve)
        return {"curve": curve, "amplitude": self.amplitude, "gain": self.gain, "bias": self.bias}

    def __repr__(self):
        return (f"RateCurveActivation({self.curve!r}, amplitude={self.amplitude!r}, gain={self.gain!r}, "
                f"bias={self.bias!r})")

    def function(self, z, out=None):
        return _scaled_in_float64(self.curve, z, out, self.gain, self.bias, self.amplitude)

    def derivative(self, z, out=None):
        return _scaled_in_float64(self.curve.derivative, z, out, self.gain, self.bias,
                                  self.amplitude * self.gain)


def _scaled_in_float64(function, z, out, gain, bias, scale):
    """``scale * function(gain * z + bias)`` computed in float64 (rate curves are), written in z's
    dtype (into ``out`` when given)."""
    x = np.multiply(z, gain, dtype=np.float64)
    x += bias
    values = np.asarray(function(x), dtype=np.float64) * scale
    if out is None:
        return values.astype(z.dtype, copy=False)
    np.copyto(out, values, casting="same_kind")
    return out


def _log1p(u: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """log(1 + u) for u >= 0, accurate to a few ulps, from numpy's vectorized log.

    ``numpy.log1p`` runs element by element, about 9x slower than ``numpy.log`` in float32 here.
    With ``w = fl(1 + u)``, ``log(w)`` is off by the rounding of ``w``, ``(w - 1) - u`` (computed
    exactly: both subtractions are of nearby numbers when u < 1, and the error is negligible
    beside log(w) >= log 2 when u >= 1); the first-order correction removes it. ``out`` must not be
    ``u``.
    """
    w = u + 1
    correction = np.subtract(w, 1, out=out)  # one scratch array (w) besides out
    correction -= u
    correction /= w
    np.log(w, out=w)
    return np.subtract(w, correction, out=correction)


def _rate_curve_from_dict(description: dict) -> object:
    try:
        from neurosim.rates import RateCurve
    except ImportError as error:  # pragma: no cover - neurosim ships RateCurve
        raise TypeError("rebuilding a rate curve from a dict needs neurosim.RateCurve") from error
    return RateCurve.from_dict(description)


# --------------------------------------------------------------------------- registry

_REGISTRY: dict[str, type[Activation]] = {}


def _normalize_name(name: str) -> str:
    return name.strip().lower().replace("-", "_").replace(" ", "_")


def register_activation(cls: type[Activation]) -> type[Activation]:
    """Add an :class:`Activation` subclass to the name registry (usable as a decorator).

    The name is ``cls.name``, stored in the normalized form that :func:`get_activation` looks up
    (lower case, "-" and spaces as "_").
    """
    if not (isinstance(cls, type) and issubclass(cls, Activation)):
        raise TypeError(f"register_activation takes an Activation subclass, got {cls!r}")
    if not cls.name:
        raise ValueError(f"{cls.__name__} has no registry name")
    _REGISTRY[_normalize_name(cls.name)] = cls
    return cls


for _cls in (Linear, Sigmoid, Tanh, ReLU, Arctan, Threshold, Softmax, OneHot, Sparsemax, LIFRate,
             SoftLIFRate, NoisyLIFRate, RateCurveActivation):
    register_activation(_cls)


def get_activation(activation: str | Activation, **params) -> Activation:
    """Return an :class:`Activation` for a registry name or pass an instance through.

    Parameters
    ----------
    activation : str or Activation
        A registry name (case-insensitive; "one-hot" and "one_hot" are the same) or an instance.
    **params
        Constructor arguments for a name, e.g. ``get_activation("lif_rate", tau_ref=0.001)``;
        ``get_activation(a.name, **a.config())`` rebuilds an activation ``a``. Not allowed with an
        instance.

    Raises
    ------
    ValueError
        For an unknown name, listing the known ones.
    TypeError
        For anything that is neither a string nor an Activation, for parameters given with an
        instance, or for parameters the activation does not take.
    """
    if isinstance(activation, Activation):
        if params:
            raise TypeError("parameters can only be given with an activation name, not an instance")
        return activation
    if isinstance(activation, str):
        cls = activation_class(activation)
        try:
            return cls(**params)
        except TypeError as error:
            raise TypeError(f"activation {activation!r} ({cls.__name__}): {error}") from error
    raise TypeError(f"activation must be a name or an Activation, got {type(activation).__name__}")


def activation_class(name: str) -> type[Activation]:
    """The :class:`Activation` subclass registered under ``name`` (case-insensitive); ValueError
    listing the known names for an unknown one."""
    if not isinstance(name, str):
        raise TypeError(f"an activation name must be a string, got {type(name).__name__}")
    try:
        return _REGISTRY[_normalize_name(name)]
    except KeyError:
        raise ValueError(f"unknown activation {name!r}; choose one of {sorted(_REGISTRY)} or pass an "
                         "Activation instance") from None


def activation_names() -> list[str]:
    """The registered activation names, sorted."""
    return sorted(_REGISTRY)
