"""Firing-rate curves (f-I curves): the analytic LIF rate and curves measured by simulation.

The LIF rate is the notes' G: a neuron with ``tau_m dv/dt = v_in - v``, threshold 1, reset 0 and
refractory period ``tau_ref`` that receives a constant normalized input ``v_in`` fires at

    G(v_in) = 1 / (tau_ref - tau_m ln(1 - 1/v_in))   for v_in > 1, and 0 otherwise.

We evaluate ``-ln(1 - 1/v) = log1p(1 / (v - 1))``, which stays accurate as ``v`` grows large, where
``1 - 1/v`` would round to 1.

With Gaussian white noise (``tau_m dv/dt = mu - v + sigma sqrt(tau_m) xi(t)``, Brunel's convention)
the rate is the diffusion approximation's (Siegert's) :func:`lif_rate_noisy`.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable

import numpy as np
from scipy import special
from scipy.interpolate import PchipInterpolator

from . import _rate_kernels
from .lif import DEFAULT_TAU_M, DEFAULT_TAU_REF
from .spikes import SpikeTrains
from .validation import (
    as_finite_array,
    check_choice,
    check_finite,
    check_nonnegative,
    check_positive,
    check_positive_int,
    check_time_constant,
    time_steps,
)


def lif_rate(v_in: object, tau_m: float = DEFAULT_TAU_M,
             tau_ref: float = DEFAULT_TAU_REF) -> np.ndarray | float:
    """Analytic firing rate of the normalized LIF neuron, in Hz.

    Parameters
    ----------
    v_in : float or array_like
        Constant normalized input (dimensionless; threshold 1). Any shape; finite and real.
    tau_m : float
        Membrane time constant (s), > 0.
    tau_ref : float
        Refractory period (s), >= 0.

    Returns
    -------
    float or ndarray
        ``G(v_in)`` in Hz, same shape as ``v_in``; 0 where ``v_in <= 1``.

    Raises
    ------
    ValueError
        For a non-finite ``v_in``, or, with ``tau_ref = 0``, an input so large (about 3.6e306
        tau_m) that the rate exceeds the largest float.
    """
    tau_m, tau_ref = _lif_time_constants(tau_m, tau_ref)
    v = as_finite_array("v_in", v_in)
    rate = np.zeros_like(v)
    above = v > 1
    with np.errstate(over="ignore"):
        rate[above] = 1.0 / (tau_ref + tau_m * np.log1p(1.0 / (v[above] - 1.0)))
    if not np.all(np.isfinite(rate)):
        raise ValueError(f"v_in up to {v.max():.3g} gives a rate beyond the largest float with "
                         f"tau_ref={tau_ref!r} s; lower v_in or give the neuron a refractory period")
    return rate if rate.ndim else float(rate)


def lif_rate_derivative(v_in: object, tau_m: float = DEFAULT_TAU_M,
                        tau_ref: float = DEFAULT_TAU_REF) -> np.ndarray | float:
    """Derivative dG/dv_in of :func:`lif_rate`, in Hz per unit of normalized input.

    For ``v_in > 1``, ``G' = tau_m G^2 / (v_in (v_in - 1))``; it is 0 below threshold and grows
    without bound as ``v_in`` approaches 1 from above, and tends to ``1 / tau_m`` for large inputs
    when ``tau_ref = 0``.

    Parameters
    ----------
    v_in : float or array_like
        Normalized input (dimensionless). Any shape; finite and real.
    tau_m, tau_ref : float
        Membrane time constant and refractory period (s).
    """
    tau_m, tau_ref = _lif_time_constants(tau_m, tau_ref)
    v = as_finite_array("v_in", v_in)
    slope = np.zeros_like(v)
    above = v > 1
    va = v[above]
    # G' = tau_m / ((v q) ((v - 1) q)) with q = 1 / G: no factor overflows for large v.
    period = tau_ref + tau_m * np.log1p(1.0 / (va - 1.0))
    with np.errstate(over="ignore"):
        slope[above] = tau_m / (va * period) / ((va - 1.0) * period)
    return slope if slope.ndim else float(slope)


def _lif_time_constants(tau_m: object, tau_ref: object) -> tuple[float, float]:
    return (check_time_constant("tau_m", tau_m, scalar=True, stacklevel=4),
            check_time_constant("tau_ref", tau_ref, allow_zero=True, scalar=True, stacklevel=4))


# --------------------------------------------------------------------------------------------
# The noisy LIF neuron: Siegert's rate
# --------------------------------------------------------------------------------------------

_SQRT_PI = math.sqrt(math.pi)
#: Gauss-Legendre rule on panels of width _PANEL; erfcx is entire, so 12 nodes on a quarter
#: unit integrate it to rounding.
_GAUSS_NODES, _GAUSS_WEIGHTS = np.polynomial.legendre.leggauss(12)
_PANEL = 0.25
#: Beyond this, erfcx is integrated from its asymptotic series (12 terms: error < 1e-17).
_ASYMPTOTIC_FROM = 10.0
_ASYMPTOTIC_TERMS = 12


def _gauss(function: Callable[[np.ndarray], np.ndarray], a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``integral_a^b function(u) du`` by one Gauss-Legendre panel per element of ``a``, ``b``."""
    half = 0.5 * (b - a)
    points = (0.5 * (a + b))[..., None] + half[..., None] * _GAUSS_NODES
    return half * (function(points) @ _GAUSS_WEIGHTS)


@functools.cache
def _erfcx_table() -> np.ndarray:
    """``integral_0^x erfcx`` at ``x = 0, _PANEL, ..., _ASYMPTOTIC_FROM``."""
    knots = np.arange(0.0, _ASYMPTOTIC_FROM + _PANEL / 2, _PANEL)
    panels = _gauss(special.erfcx, knots[:-1], knots[1:])
    return np.concatenate(([0.0], np.cumsum(panels)))


def _asymptotic_coefficients() -> np.ndarray:
    """``c_n`` of ``integral erfcx(w) dw = (ln w + sum_n c_n w^(-2n)) / sqrt(pi)`` (n >= 1), from
    ``erfcx(w) ~ sum_n (-1)^n (2n - 1)!! / (2 w^2)^n / (w sqrt(pi))``."""
    n = np.arange(1, _ASYMPTOTIC_TERMS + 1)
    double_factorial = np.cumprod(2.0 * n - 1.0)
    return -((-1.0) ** n) * double_factorial / (2.0 ** (n + 1) * n)


_ASYMPTOTIC_COEFFICIENTS = _asymptotic_coefficients()


def _asymptotic_difference(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``integral_a^b erfcx`` for ``_ASYMPTOTIC_FROM <= a <= b`` from the asymptotic series."""
    total = np.log1p((b - a) / a)
    for n, coefficient in enumerate(_ASYMPTOTIC_COEFFICIENTS, start=1):
        total += coefficient * (b ** (-2.0 * n) - a ** (-2.0 * n))
    return total / _SQRT_PI


def _erfcx_integral_from_zero(x: np.ndarray) -> np.ndarray:
    """``integral_0^x erfcx(w) dw`` for ``x >= 0``."""
    table = _erfcx_table()
    near = np.minimum(x, _ASYMPTOTIC_FROM)
    knot = np.minimum(np.floor(near / _PANEL), table.size - 2)
    result = table[knot.astype(np.int64)] + _gauss(special.erfcx, knot * _PANEL, near)
    far = x > _ASYMPTOTIC_FROM
    result[far] += _asymptotic_difference(np.full(far.sum(), _ASYMPTOTIC_FROM), x[far])
    return result


def _erfcx_integral(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``integral_a^b erfcx(w) dw`` for ``0 <= a <= b`` (arrays of one shape)."""
    result = np.empty(a.shape)
    far = a >= _ASYMPTOTIC_FROM
    short = ~far & (b - a <= _PANEL)
    rest = ~(far | short)
    result[far] = _asymptotic_difference(a[far], b[far])
    result[short] = _gauss(special.erfcx, a[short], b[short])
    result[rest] = _erfcx_integral_from_zero(b[rest]) - _erfcx_integral_from_zero(a[rest])
    return result


def _scaled_integrand(u: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """``exp(u^2) (1 + erf(u)) exp(-scale)`` without overflow, for ``u^2 <= scale`` where u > 0."""
    positive = u > 0
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):  # the branch np.where drops
        return np.where(positive, np.exp(np.where(positive, u * u, 0.0) - scale) * special.erfc(-u),
                        special.erfcx(-u) * np.exp(-scale))


def _siegert_terms(mu: np.ndarray, sigma: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For ``sigma > 0``: ``(scale, integral, (lower, upper))`` with ``integral = exp(-scale)
    integral_lower^upper exp(u^2) (1 + erf(u)) du``, ``upper = (1 - mu) / sigma``, ``lower = -mu /
    sigma`` and ``scale = max(upper, 0)^2`` (the factor that keeps the integral finite far below
    threshold, where it grows like exp(upper^2))."""
    upper = (1.0 - mu) / sigma
    lower = -mu / sigma
    scale = np.maximum(upper, 0.0) ** 2
    integral = np.empty(mu.shape)
    # exp(u^2)(1 + erf(u)) = erfcx(-u); for u > 0 it is 2 exp(u^2) - erfcx(u), whose first part
    # integrates to 2 exp(u^2) D(u) (D Dawson's function).
    short = upper - lower <= _PANEL
    short_scale = scale[short][:, None]
    integral[short] = _gauss(lambda u: _scaled_integrand(u, short_scale), lower[short], upper[short])
    below = ~short & (upper <= 0)          # the whole range below 0: integral of erfcx(w), w = -u
    integral[below] = _erfcx_integral(-upper[below], -lower[below])
    across = ~short & (lower < 0) & (upper > 0)
    a, b = -lower[across], upper[across]
    zeros = np.zeros(a.shape)
    integral[across] = 2.0 * special.dawsn(b) + np.exp(-b * b) * (_erfcx_integral(zeros, a)
                                                                   - _erfcx_integral(zeros, b))
    above = ~short & (lower >= 0)
    a, b = lower[above], upper[above]
    with np.errstate(under="ignore"):
        integral[above] = (2.0 * (special.dawsn(b) - np.exp(a * a - b * b) * special.dawsn(a))
                           - np.exp(-b * b) * _erfcx_integral(a, b))
    return scale, integral, (lower, upper)


def _noisy_arguments(mu: object, sigma: object, tau_m: object, tau_ref: object):
    tau_m, tau_ref = _lif_time_constants(tau_m, tau_ref)
    mu = as_finite_array("mu", mu)
    sigma = as_finite_array("sigma", sigma)
    if np.any(sigma < 0):
        raise ValueError("sigma must be >= 0 (units of the threshold)")
    try:
        mu, sigma = np.broadcast_arrays(mu, sigma)
    except ValueError as error:
        raise ValueError(f"mu and sigma must broadcast together, got shapes {mu.shape} and "
                         f"{sigma.shape}") from error
    return mu, sigma, tau_m, tau_ref


def lif_rate_noisy(mu: object, sigma: object, tau_m: float = DEFAULT_TAU_M,
                   tau_ref: float = DEFAULT_TAU_REF) -> np.ndarray | float:
    """Firing rate (Hz) of the normalized LIF neuron driven by white noise: Siegert's formula.

    The neuron is ``tau_m dv/dt = mu - v + sigma sqrt(tau_m) xi(t)`` with threshold 1, reset 0
    and refractory period ``tau_ref`` (Brunel 2000's convention; ``xi`` Gaussian white noise,
    ``sigma`` in units of the threshold, so the free membrane fluctuates with standard deviation
    ``sigma / sqrt(2)``). Its stationary rate is

        1 / rate = tau_ref + tau_m sqrt(pi) integral_{-mu/sigma}^{(1-mu)/sigma} exp(u^2) (1 + erf(u)) du,

    the biologically grounded smooth rate curve that soft LIF imitates. It tends to
    :func:`lif_rate` as ``sigma -> 0`` (and equals it at ``sigma = 0``).

    Numerics: the integrand is ``erfcx(-u)``; where ``u < 0`` it is integrated by Gauss-Legendre
    panels (from a table) and, beyond ``|u| = 10``, from its asymptotic series (so ``sigma`` ->
    0 above threshold keeps full precision); where ``u > 0`` the part ``2 exp(u^2)`` is
    integrated by Dawson's function. Far below threshold the integral grows like
    ``exp(((1 - mu)/sigma)^2)``: it is carried scaled by that factor, so the rate underflows
    gracefully to 0 instead of overflowing (NaN).

    Parameters
    ----------
    mu : float or array_like
        Mean normalized input (threshold 1). Any shape, broadcast against ``sigma``.
    sigma : float or array_like
        Noise amplitude (units of the threshold), >= 0.
    tau_m, tau_ref : float
        Membrane time constant (s), > 0, and refractory period (s), >= 0.

    Returns
    -------
    float or ndarray
        Rate in Hz, of the broadcast shape of ``mu`` and ``sigma``.

    References
    ----------
    Brunel, N. (2000). Dynamics of sparsely connected networks of excitatory and inhibitory spiking
    neurons. J. Comput. Neurosci. 8, 183-208 (eq. 21). Siegert, A. J. F. (1951). On the first
    passage time probability problem. Phys. Rev. 81, 617.
    """
    mu, sigma, tau_m, tau_ref = _noisy_arguments(mu, sigma, tau_m, tau_ref)
    rate = np.empty(mu.shape)
    quiet = sigma == 0
    rate[quiet] = lif_rate(mu[quiet], tau_m, tau_ref)
    noisy = ~quiet
    scale, integral, _ = _siegert_terms(mu[noisy], sigma[noisy])
    with np.errstate(under="ignore"):
        factor = np.exp(-scale)
        rate[noisy] = factor / (tau_ref * factor + tau_m * _SQRT_PI * integral)
    return rate if rate.ndim else float(rate)


def lif_rate_noisy_derivative(mu: object, sigma: object, tau_m: float = DEFAULT_TAU_M,
                              tau_ref: float = DEFAULT_TAU_REF) -> np.ndarray | float:
    """Derivative d rate / d mu of :func:`lif_rate_noisy`, in Hz per unit of normalized input.

    From the integral's limits, ``d rate/d mu = rate^2 tau_m sqrt(pi) (f(y_th) - f(y_r)) / sigma``
    with ``f(u) = exp(u^2)(1 + erf(u))``, ``y_th = (1 - mu)/sigma``, ``y_r = -mu/sigma``; evaluated
    with the same scaling as the rate, so it is finite everywhere. At ``sigma = 0`` it is
    :func:`lif_rate_derivative`. Same parameters and shapes as :func:`lif_rate_noisy`.
    """
    mu, sigma, tau_m, tau_ref = _noisy_arguments(mu, sigma, tau_m, tau_ref)
    slope = np.empty(mu.shape)
    quiet = sigma == 0
    slope[quiet] = lif_rate_derivative(mu[quiet], tau_m, tau_ref)
    noisy = ~quiet
    sigma = sigma[noisy]
    scale, integral, (lower, upper) = _siegert_terms(mu[noisy], sigma)
    with np.errstate(under="ignore"):
        factor = np.exp(-scale)
        denominator = tau_ref * factor + tau_m * _SQRT_PI * integral
        rate = factor / denominator
        difference = _scaled_integrand(upper, scale) - _scaled_integrand(lower, scale)
        slope[noisy] = rate * tau_m * _SQRT_PI * difference / (sigma * denominator)
    return slope if slope.ndim else float(slope)


# --------------------------------------------------------------------------------------------
# Rate curves as callables
# --------------------------------------------------------------------------------------------

class RateCurve:
    """A firing-rate curve f(x) (an f-I curve): a callable with a derivative, for arrays of any shape.

    A curve is either *sampled* (rates measured at a grid of inputs, joined by a monotone cubic
    interpolant) or *analytic* (built with :meth:`from_function`, e.g. the LIF rate, whose values
    and derivative are the function's own).

    The sampled interpolant:

    * between the knots it is the piecewise-cubic Hermite interpolant of Fritsch & Carlson
      (PCHIP, as ``scipy.interpolate.PchipInterpolator`` computes the slopes): it passes through
      every sample, is C1, and is monotone on every interval where the samples are, so it never
      overshoots into negative rates or spurious bumps;
    * **at an onset** of repetitive firing (``onset`` not None) the curve jumps: it is exactly 0
      for ``x < onset`` and equals ``onset_rate`` at ``x = onset``; the knots are
      ``(onset, onset_rate)`` followed by the samples above the onset. The Hodgkin-Huxley neuron
      jumps from 0 to about 51 Hz there, so knowing where the jump is matters more than the
      smoothness across it. The derivative ignores the jump (it is 0 below the onset and the
      interpolant's right derivative at it);
    * **below the first knot** (no onset given) it continues linearly with the first slope, clipped
      at 0: when the samples start at rate 0 (a neuron below threshold) that is 0;
    * **above the last knot** it continues linearly with the interpolant's end slope, so that the
      derivative stays informative for an activation function pushed beyond the sampled range
      (a saturating neuron has a small end slope there). The curve is clipped at 0 everywhere.

    Parameters
    ----------
    inputs : array_like, shape (n,)
        Sampled inputs, strictly increasing, n >= 2 (in ``input_unit``).
    rates : array_like, shape (n,)
        Firing rates at ``inputs`` (Hz), finite and >= 0.
    onset : float, optional
        Input where repetitive firing starts (in ``input_unit``), within the sampled range; every
        sample below it must have rate 0, and at least one sample must lie above it.
    onset_rate : float, optional
        Rate just above the onset (Hz). Default 0 (a continuous onset, like the LIF's); ignored
        when no ``onset`` is given.
    input_unit : str
        Unit of the inputs: "µA/cm²" for Hodgkin-Huxley currents, "1" for the normalized LIF input.
    label : str
        A short description for plots and ``repr``.
    model : dict, optional
        The neuron whose curve this is, as :func:`rate_curve` records it: ``{"model": "hh", "dt": s,
        "method": ..., "threshold": mV, "params": {HHParameters fields}}`` or ``{"model": "lif",
        "dt": s, "tau_m": s, "tau_ref": s}`` (plus ``"noise"``, sigma, when measured with noise;
        an analytic curve has no ``"dt"``). It lets a rate network trained on the curve be run as
        that neuron (ratenet's spiking twins). JSON values only.

    Attributes
    ----------
    inputs, rates : ndarray, shape (n,)
        The samples (read-only).
    onset, onset_rate : float or None
    input_unit, label : str
    model : dict or None
        The neuron model the curve belongs to (see ``model`` above); None when unknown.

    Examples
    --------
    >>> curve = RateCurve([0.0, 1.0, 2.0, 3.0], [0.0, 0.0, 40.0, 60.0], onset=1.5, onset_rate=30.0)
    >>> curve([1.0, 1.5, 3.0, 4.0])
    array([ 0., 30., 60., 80.])
    """

    def __init__(self, inputs: object, rates: object, *, onset: float | None = None,
                 onset_rate: float | None = None, input_unit: str = "1", label: str = "",
                 model: dict | None = None):
        inputs = as_finite_array("inputs", inputs, ndim=1).copy()
        rates = as_finite_array("rates", rates, ndim=1).copy()
        if inputs.size < 2:
            raise ValueError(f"inputs must hold at least 2 samples, got {inputs.size}")
        if rates.shape != inputs.shape:
            raise ValueError(f"rates must have the shape of inputs {inputs.shape}, got {rates.shape}")
        if not np.all(np.diff(inputs) > 0):
            raise ValueError("inputs must be strictly increasing")
        if np.any(rates < 0):
            raise ValueError("rates must be >= 0 (Hz)")
        if not isinstance(input_unit, str):
            raise TypeError(f"input_unit must be a string, got {type(input_unit).__name__}")
        if not isinstance(label, str):
            raise TypeError(f"label must be a string, got {type(label).__name__}")
        if model is not None and not (isinstance(model, dict) and isinstance(model.get("model"), str)):
            raise TypeError(f"model must be None or a dict with a 'model' name, got {model!r}")
        knots, knot_rates = inputs, rates
        if onset is not None:
            onset = check_finite("onset", onset)
            onset_rate = 0.0 if onset_rate is None else check_nonnegative("onset_rate", onset_rate)
            if not inputs[0] <= onset < inputs[-1]:
                raise ValueError(f"onset must lie in the sampled range [{inputs[0]:g}, {inputs[-1]:g}) "
                                 f"with at least one sample above it, got {onset!r}")
            below = inputs < onset
            if np.any(rates[below] != 0):
                raise ValueError("rates below the onset must be 0: repetitive firing starts at the onset")
            above = inputs > onset
            knots = np.concatenate(([onset], inputs[above]))
            knot_rates = np.concatenate(([onset_rate], rates[above]))
        elif onset_rate is not None:
            raise ValueError("onset_rate needs an onset")
        inputs.flags.writeable = False
        rates.flags.writeable = False
        self.inputs: np.ndarray = inputs
        self.rates: np.ndarray = rates
        self.onset: float | None = onset
        self.onset_rate: float | None = onset_rate
        self.input_unit = input_unit
        self.label = label
        self.model: dict | None = None if model is None else dict(model)
        self._function = None
        self._derivative = None
        self._spec: dict | None = None
        self._build_pieces(knots, knot_rates)

    # The curve is stored as m + 1 cubic pieces p_j(t) = c0 + c1 t + c2 t^2 + c3 t^3 with
    # t = x - base_j: piece 0 lies below the first knot, pieces 1..m-1 between the knots, piece m
    # above the last knot. One searchsorted and one Horner evaluation then cover every x.
    def _build_pieces(self, knots: np.ndarray, knot_rates: np.ndarray) -> None:
        slopes = PchipInterpolator(knots, knot_rates).derivative()(knots) if knots.size > 2 else \
            np.full(2, (knot_rates[1] - knot_rates[0]) / (knots[1] - knots[0]))
        width = np.diff(knots)
        secant = np.diff(knot_rates) / width
        start_slope, end_slope = slopes[:-1], slopes[1:]
        n_pieces = knots.size + 1
        coefficients = np.zeros((4, n_pieces))
        coefficients[0, 1:-1] = knot_rates[:-1]
        coefficients[1, 1:-1] = start_slope
        coefficients[2, 1:-1] = (3 * secant - 2 * start_slope - end_slope) / width
        coefficients[3, 1:-1] = (start_slope + end_slope - 2 * secant) / width**2
        if self.onset is None:  # linear below the first knot (clipped at 0 on evaluation)
            coefficients[0, 0], coefficients[1, 0] = knot_rates[0], slopes[0]
        coefficients[0, -1], coefficients[1, -1] = knot_rates[-1], slopes[-1]
        self._knots = knots
        self._base = np.concatenate(([knots[0]], knots[:-1], [knots[-1]]))
        self._coefficients = coefficients

    @classmethod
    def from_function(cls, function: Callable[[np.ndarray], np.ndarray],
                      derivative: Callable[[np.ndarray], np.ndarray], inputs: object, *,
                      onset: float | None = None, input_unit: str = "1", label: str = "") -> RateCurve:
        """A curve whose values and derivative are given functions (an analytic rate curve).

        Parameters
        ----------
        function, derivative : callable
            ``function(x)`` -> rate (Hz) and ``derivative(x)`` -> Hz per input unit, element-wise on
            arrays of any shape.
        inputs : array_like, shape (n,)
            Inputs at which the curve is sampled for ``inputs``/``rates`` (plots, ``repr``);
            strictly increasing.
        onset : float, optional
            Where firing starts, if known (e.g. 1 for the normalized LIF).
        input_unit, label : str
            As for :class:`RateCurve`.
        """
        if not (callable(function) and callable(derivative)):
            raise TypeError("function and derivative must be callables of an array")
        inputs = as_finite_array("inputs", inputs, ndim=1)
        rates = np.asarray(function(inputs), dtype=np.float64)
        curve = cls.__new__(cls)
        curve_onset = None if onset is None else check_finite("onset", onset)
        # Validate the samples the usual way, without an onset (an analytic onset need not lie
        # inside the sampled range), then attach the functions.
        cls.__init__(curve, inputs, rates, input_unit=input_unit, label=label)
        curve.onset = curve_onset
        curve._function = function
        curve._derivative = derivative
        return curve

    @property
    def is_analytic(self) -> bool:
        """True when the curve evaluates a function rather than an interpolant of samples."""
        return self._function is not None

    def __call__(self, x: object, out: np.ndarray | None = None) -> np.ndarray | float:
        """Firing rate at ``x`` (Hz).

        Parameters
        ----------
        x : float or array_like
            Inputs in ``input_unit``, any shape; must be finite.
        out : ndarray, optional
            Float64 array of ``x``'s shape to write the result into.

        Returns
        -------
        float or ndarray
            Rates (Hz), float64, shaped like ``x``.
        """
        return self._evaluate(x, out, derivative=False)

    def derivative(self, x: object, out: np.ndarray | None = None) -> np.ndarray | float:
        """Slope df/dx at ``x``, in Hz per input unit; same conventions as :meth:`__call__`."""
        return self._evaluate(x, out, derivative=True)

    def _evaluate(self, x: object, out: np.ndarray | None, *, derivative: bool) -> np.ndarray | float:
        x = as_finite_array("x", x)
        if self._function is not None:
            result = np.asarray((self._derivative if derivative else self._function)(x), dtype=np.float64)
        else:
            result = np.empty(x.shape)
            _rate_kernels.evaluate_pieces(np.ascontiguousarray(x).reshape(-1), self._knots, self._base,
                                          self._coefficients, derivative, result.reshape(-1))
        if out is not None:
            np.copyto(out, result)
            return out
        return result if result.ndim else float(result)

    def to_dict(self) -> dict:
        """A JSON-serializable description from which :meth:`from_dict` rebuilds the curve.

        Raises
        ------
        TypeError
            For a curve made by :meth:`from_function` with functions other than the LIF rate.
        """
        if self._function is not None and self._spec is None:
            raise TypeError("a RateCurve built from arbitrary functions cannot be serialized")
        description = {"inputs": self.inputs.tolist(), "rates": self.rates.tolist(),
                       "onset": self.onset, "onset_rate": self.onset_rate,
                       "input_unit": self.input_unit, "label": self.label}
        if self._spec is not None:
            description["analytic"] = dict(self._spec)
        if self.model is not None:
            description["model"] = dict(self.model)
        return description

    @classmethod
    def from_dict(cls, description: dict) -> RateCurve:
        """Rebuild a curve from :meth:`to_dict`'s output (no unpickling).

        Raises
        ------
        TypeError
            If ``description`` (or its ``"analytic"`` entry) is not a dict.
        ValueError
            If a required key is missing (``"inputs"``, ``"rates"``; ``"model"``, ``"tau_m"``,
            ``"tau_ref"`` of an analytic curve), naming it, or a value is invalid.
        """
        if not isinstance(description, dict):
            raise TypeError(f"description must be a dict, got {type(description).__name__}")
        spec = description.get("analytic")
        if spec is not None:
            if not isinstance(spec, dict):
                raise TypeError(f"description['analytic'] must be a dict, got {type(spec).__name__}")
            _require_keys(spec, ("model", "tau_m", "tau_ref"), "description['analytic']")
            if spec["model"] != "lif":
                raise ValueError(f"unknown analytic curve {spec!r}")
            _require_keys(description, ("inputs",), "description")
            return _analytic_lif_curve(description["inputs"], spec["tau_m"], spec["tau_ref"],
                                       label=description.get("label"))
        _require_keys(description, ("inputs", "rates"), "description")
        return cls(description["inputs"], description["rates"], onset=description.get("onset"),
                   onset_rate=description.get("onset_rate"),
                   input_unit=description.get("input_unit", "1"), label=description.get("label", ""),
                   model=description.get("model"))

    def __repr__(self) -> str:
        kind = "analytic" if self.is_analytic else f"{self.inputs.size} samples"
        unit = "" if self.input_unit == "1" else f" {self.input_unit}"
        onset = "" if self.onset is None else f", onset={self.onset:.4g}{unit}"
        if self.onset_rate is not None:
            onset += f" ({self.onset_rate:.4g} Hz)"
        return (f"RateCurve({self.label!r}, {kind}, inputs [{self.inputs[0]:g}, {self.inputs[-1]:g}]"
                f"{unit}, rates [{self.rates.min():.4g}, {self.rates.max():.4g}] Hz{onset})")


def _require_keys(mapping: dict, keys: tuple[str, ...], name: str) -> None:
    missing = [key for key in keys if key not in mapping]
    if missing:
        raise ValueError(f"{name} lacks the key(s) {missing}; RateCurve.to_dict() writes "
                         "'inputs', 'rates', 'onset', 'onset_rate', 'input_unit', 'label' (and 'analytic' "
                         "with 'model', 'tau_m', 'tau_ref' for the analytic LIF curve)")


def _analytic_lif_curve(inputs: object, tau_m: float, tau_ref: float, label: str | None = None) -> RateCurve:
    tau_m, tau_ref = _lif_time_constants(tau_m, tau_ref)
    curve = RateCurve.from_function(functools.partial(lif_rate, tau_m=tau_m, tau_ref=tau_ref),
                                    functools.partial(lif_rate_derivative, tau_m=tau_m, tau_ref=tau_ref),
                                    inputs, onset=1.0, input_unit="1",
                                    label=label or f"LIF analytic (τm={tau_m * 1e3:g} ms, "
                                                   f"τref={tau_ref * 1e3:g} ms)")
    curve._spec = {"model": "lif", "tau_m": tau_m, "tau_ref": tau_ref}
    curve.model = dict(curve._spec)
    return curve


# --------------------------------------------------------------------------------------------
# Measuring rate curves by simulation
# --------------------------------------------------------------------------------------------

_MODELS = ("hh", "lif")
_DEFAULT_DT = {"hh": 1e-5, "lif": 1e-3}
_INPUT_UNIT = {"hh": "µA/cm²", "lif": "1"}
_MODEL_NAME = {"hh": "HH", "lif": "LIF"}


def _simulator(model: object) -> tuple[Callable, str]:
    """The simulate function for ``model`` and a short name for it."""
    if callable(model):
        return model, getattr(model, "__name__", "model")
    check_choice("model", model, _MODELS)
    if model == "hh":
        from .hh import simulate_hh
        return simulate_hh, "hh"
    from .lif import simulate_lif
    return simulate_lif, "lif"


def _measure(model: object, currents: np.ndarray, t_end: float, dt: float, t_skip: float,
             method: str | None, model_params: dict) -> tuple[np.ndarray, np.ndarray]:
    """Simulate one neuron per current in one run; return (rates in Hz, fires repetitively)."""
    simulate, _ = _simulator(model)
    params = dict(model_params)
    if method is not None:
        params["method"] = method
    result = simulate(currents, t_end=t_end, dt=dt, record_v=False, **params)
    return periodic_rates(result.spikes, t_skip)


def periodic_rates(trains: SpikeTrains, t_start: float) -> tuple[np.ndarray, np.ndarray]:
    """Rates of neurons firing periodically, from their inter-spike intervals after ``t_start``.

    A neuron *fires repetitively* when it has at least two spikes in ``[t_start, t_end)`` and its
    last spike comes less than two mean intervals before ``t_end`` (a train that dies out after a
    transient does not). Its rate is then ``(k - 1) / (t_k - t_1)`` over its k spikes in the
    window: for a periodic train this is 1/period exactly, where a count over the window would be
    off by up to one spike (1 Hz for a 1 s window). Other neurons get rate 0.

    Parameters
    ----------
    trains : SpikeTrains
        Spike times of the population (s).
    t_start : float
        Start of the measurement window (s), skipping the transient; the window ends at
        ``trains.t_end``.

    Returns
    -------
    rates : ndarray, shape (n_neurons,)
        Hz; 0 for neurons that do not fire repetitively.
    repetitive : ndarray of bool, shape (n_neurons,)
    """
    if not isinstance(trains, SpikeTrains):
        raise TypeError(f"trains must be a SpikeTrains, got {type(trains).__name__}")
    t_start = check_finite("t_start", t_start)
    if not trains.t_start <= t_start < trains.t_end:
        raise ValueError(f"t_start must lie in [{trains.t_start:g}, {trains.t_end:g}) s, got {t_start!r}")
    rates = np.zeros(trains.n_neurons)
    repetitive = np.zeros(trains.n_neurons, dtype=bool)
    for index, times in enumerate(trains.times):
        window = times[np.searchsorted(times, t_start):]
        if window.size < 2:
            continue
        mean_interval = (window[-1] - window[0]) / (window.size - 1)
        if mean_interval > 0 and trains.t_end - window[-1] < 2 * mean_interval:
            repetitive[index] = True
            rates[index] = 1.0 / mean_interval
    return rates, repetitive


def _check_run(t_end: object, dt: object, t_skip: object, model: object) -> tuple[float, float, float]:
    if dt is None:
        if callable(model):
            raise ValueError("dt must be given (s) when model is a callable")
        dt = _DEFAULT_DT[check_choice("model", model, _MODELS)]
    t_end, dt, _ = time_steps(t_end, dt)
    t_skip = check_nonnegative("t_skip", t_skip)
    if not t_skip < t_end:
        raise ValueError(f"t_skip must be shorter than t_end={t_end:g} s, got {t_skip!r} s")
    return t_end, dt, t_skip


def _bisect_onset(model: object, low: float, high: float, tol: float, n_candidates: int,
                  run: tuple, method: str | None, model_params: dict,
                  high_rate: float | None = None) -> tuple[float, float]:
    """Shrink [low, high] (low not firing repetitively, high firing) to width <= tol.

    Each step simulates ``n_candidates`` evenly spaced currents inside the bracket in one
    vectorized run, so the bracket shrinks by a factor n_candidates + 1 per run. Returns the
    bracket's midpoint and the rate measured at its upper end.
    """
    t_end, dt, t_skip = run
    while high - low > tol:
        candidates = np.linspace(low, high, n_candidates + 2)[1:-1]
        rates, repetitive = _measure(model, candidates, t_end, dt, t_skip, method, model_params)
        if repetitive.any():
            first = int(np.argmax(repetitive))
            high, high_rate = candidates[first], rates[first]
            low = candidates[first - 1] if first > 0 else low
        else:
            low = candidates[-1]
    if high_rate is None:
        rates, _ = _measure(model, np.array([high]), t_end, dt, t_skip, method, model_params)
        high_rate = rates[0]
    return 0.5 * (low + high), float(high_rate)


def firing_onset(model: object, low: float, high: float, tol: float = 0.01, *, t_end: float = 1.2,
                 dt: float | None = None, t_skip: float = 0.2, method: str | None = None,
                 n_candidates: int = 8, **model_params: object) -> float:
    """Input where repetitive firing starts, located by bisection between ``low`` and ``high``.

    Each bisection step simulates ``n_candidates`` currents spread over the current bracket in one
    vectorized run and keeps the sub-interval where firing switches on, so the bracket shrinks by
    a factor ``n_candidates + 1`` per run. "Repetitive firing" is judged as in
    :func:`periodic_rates` over ``[t_skip, t_end)``, for a constant input switched on at t = 0.

    Parameters
    ----------
    model : {"hh", "lif"} or callable
        The neuron model, or a simulate function called as
        ``model(currents, t_end=..., dt=..., record_v=False, **model_params)`` and returning an object
        with a ``spikes`` :class:`SpikeTrains` (like :func:`neurosim.simulate_hh`).
    low, high : float
        Bracket (input unit: µA/cm² for HH, normalized for LIF): ``low`` must not fire
        repetitively, ``high`` must.
    tol : float
        Width of the final bracket; the returned onset is its midpoint, within ``tol / 2`` of the
        true onset (at the given dt).
    t_end, dt, t_skip : float
        Run length, time step (default: 1e-5 s for HH, 1e-3 s for LIF) and transient skipped (s).
    method : str, optional
        Passed to the simulator (e.g. "euler" or "exponential_euler" for HH).
    n_candidates : int
        Currents per bisection run.
    **model_params
        Passed to the simulator (e.g. ``tau_m``, ``tau_ref`` for LIF, ``params`` for HH).

    Returns
    -------
    float
        The onset, in the input unit.

    Raises
    ------
    ValueError
        If ``low`` fires repetitively or ``high`` does not.
    """
    low = check_finite("low", low)
    high = check_finite("high", high)
    if not high > low:
        raise ValueError(f"high must be greater than low={low!r}, got {high!r}")
    tol = check_positive("tol", tol)
    n_candidates = check_positive_int("n_candidates", n_candidates)
    run = _check_run(t_end, dt, t_skip, model)
    model_params = _default_params(model, model_params)
    rates, repetitive = _measure(model, np.array([low, high]), *run, method, model_params)
    if repetitive[0]:
        raise ValueError(f"low={low!r} already fires repetitively ({rates[0]:.3g} Hz); lower it")
    if not repetitive[1]:
        raise ValueError(f"high={high!r} does not fire repetitively; raise it")
    onset, _ = _bisect_onset(model, low, high, tol, n_candidates, run, method, model_params,
                             high_rate=rates[1])
    return onset


def _default_params(model: object, model_params: dict) -> dict:
    if isinstance(model, str) and model == "lif":
        return {"tau_m": DEFAULT_TAU_M, "tau_ref": DEFAULT_TAU_REF, **model_params}
    return dict(model_params)


def rate_curve(model: object, currents: object, t_end: float = 1.2, dt: float | None = None,
               t_skip: float = 0.2, method: str | None = None, *, analytic: bool = False,
               tol: float = 0.01, input_unit: str | None = None, label: str | None = None,
               **model_params: object) -> RateCurve:
    """The f-I curve of a neuron model, measured by simulation (or analytic for LIF).

    All ``currents`` are simulated in ONE vectorized run, one unconnected neuron per current,
    without recording voltages; each rate comes from the inter-spike intervals after ``t_skip``
    (see :func:`periodic_rates`). When firing switches on inside the sampled range, its onset is
    then located by bisection (:func:`firing_onset`'s method) to within ``tol / 2`` and stored in
    the curve, whose interpolant jumps there instead of smearing the jump over a grid interval.

    Parameters
    ----------
    model : {"hh", "lif"} or callable
        "hh": :func:`neurosim.simulate_hh`, currents in µA/cm². "lif": :func:`neurosim.simulate_lif`,
        normalized inputs (threshold 1). A callable is used like ``simulate_hh``.
    currents : array_like, shape (n,)
        Inputs to sample, strictly increasing, n >= 2.
    t_end : float
        Length of each run (s).
    dt : float, optional
        Time step (s); default 1e-5 (0.01 ms) for HH, 1e-3 for LIF; required for a callable.
    t_skip : float
        Initial transient left out of the rate measurement (s).
    method : str, optional
        Integration method passed to the simulator (HH: "euler" or "exponential_euler").
    analytic : bool
        For ``model="lif"`` only: return the analytic curve, whose values and derivative are
        :func:`lif_rate` and :func:`lif_rate_derivative` exactly (``tau_m``, ``tau_ref`` from
        ``model_params``); nothing is simulated.
    tol : float
        Bisection tolerance for the onset (input unit).
    input_unit, label : str, optional
        Override the defaults ("µA/cm²" for HH, "1" for LIF; a label naming model, method and dt).
    **model_params
        Passed to the simulator (LIF: ``tau_m``, ``tau_ref`` in s, default 0.02 and 0.002).

    Returns
    -------
    RateCurve

    Examples
    --------
    >>> curve = rate_curve("hh", currents=np.linspace(0, 20, 81), t_end=1.2, dt=1e-5, t_skip=0.2)
    >>> curve(10.0), curve.derivative(10.0), curve.onset       # doctest: +SKIP
    """
    currents = as_finite_array("currents", currents, ndim=1)
    if currents.size < 2 or not np.all(np.diff(currents) > 0):
        raise ValueError("currents must hold at least 2 strictly increasing values")
    if not isinstance(analytic, bool):
        raise TypeError(f"analytic must be True or False, got {type(analytic).__name__}")
    if analytic:
        if model != "lif":
            raise ValueError(f"analytic=True needs model='lif' (the only analytic rate), got {model!r}")
        unknown = set(model_params) - {"tau_m", "tau_ref"}
        if unknown:
            raise TypeError(f"the analytic LIF curve takes only tau_m and tau_ref, got {sorted(unknown)}")
        curve = _analytic_lif_curve(currents, model_params.get("tau_m", DEFAULT_TAU_M),
                                    model_params.get("tau_ref", DEFAULT_TAU_REF), label=label)
        return curve
    _, name = _simulator(model)
    run = _check_run(t_end, dt, t_skip, model)
    tol = check_positive("tol", tol)
    model_params = _default_params(model, model_params)
    rates, repetitive = _measure(model, currents, *run, method, model_params)
    onset = onset_rate = None
    if repetitive.any() and not repetitive[0]:
        first = int(np.argmax(repetitive))
        onset, onset_rate = _bisect_onset(model, currents[first - 1], currents[first], tol, 8, run,
                                          method, model_params, high_rate=rates[first])
        # Samples below the onset have rate 0 (periodic_rates gives 0 to transient firing); a
        # sample above it that falls silent again (e.g. depolarization block) stays a 0 knot.
    if input_unit is None:
        input_unit = _INPUT_UNIT.get(name, "")
    if label is None:
        method_text = f"{method}, " if method else ""
        label = f"{_MODEL_NAME.get(name, name)} simulated ({method_text}dt={run[1] * 1e3:g} ms)"
    return RateCurve(currents, rates, onset=onset, onset_rate=onset_rate, input_unit=input_unit,
                     label=label, model=_model_description(model, run[1], method, model_params))


def _model_description(model: object, dt: float, method: str | None, model_params: dict) -> dict | None:
    """What a measured curve records of its neuron (RateCurve's ``model``); None for a callable."""
    if model == "lif":
        from .lif import LIFParameters

        params = model_params.get("params")
        if params is None:
            tau_m, tau_ref = model_params["tau_m"], model_params["tau_ref"]
        elif type(params) is LIFParameters:
            tau_m, tau_ref = params.tau_m, params.tau_ref
        else:
            return None         # physical units: the curve's inputs are nA, not the normalized input
        if np.ndim(tau_m) or np.ndim(tau_ref):
            return None         # one curve cannot stand for neurons with different parameters
        description = {"model": "lif", "dt": dt, "tau_m": float(tau_m), "tau_ref": float(tau_ref)}
        noise = model_params.get("noise")
        if noise is not None:
            levels = np.unique(np.asarray(noise, dtype=np.float64))
            if levels.size > 1:
                return None     # one curve cannot stand for neurons with different noise
            if levels[0] > 0:
                description["noise"] = float(levels[0])
        return description
    if model == "hh":
        from dataclasses import asdict

        from .hh import HHParameters

        params = model_params.get("params") or HHParameters()
        return {"model": "hh", "dt": dt, "method": method or "euler",
                "threshold": float(model_params.get("threshold", 0.0)),
                "params": {key: float(value) for key, value in asdict(params).items()}}
    return None
