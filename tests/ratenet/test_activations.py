"""Specifications of ratenet.activations: every f(z), its derivative from z, dtypes, the registry.

References are independent of the code under test: central finite differences of the activation's
own function, closed-form formulas written here, scipy's softmax, and a bisection for the
sparsemax threshold.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy.optimize import brentq
from scipy.special import softmax as scipy_softmax

import neurosim
from ratenet import activations as act

TAU_M, TAU_REF = 0.02, 0.002


def lif_rate_formula(v_in: float, tau_m: float = TAU_M, tau_ref: float = TAU_REF) -> float:
    """The notes' G, written from the formula with scalar math (independent of the library)."""
    if v_in <= 1:
        return 0.0
    return 1.0 / (tau_ref - tau_m * math.log(1.0 - 1.0 / v_in))


class AnalyticLIFCurve:
    """A stand-in rate curve: the LIF rate as an object with __call__ and derivative."""

    onset = 1.0

    def __call__(self, x):
        return np.vectorize(lif_rate_formula)(x)

    def derivative(self, x):
        x = np.asarray(x, dtype=np.float64)
        rate = self(x)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(x > 1, TAU_M * rate**2 / (x * (x - 1)), 0.0)


def central_difference(function, z: np.ndarray, step: float = 1e-6) -> np.ndarray:
    return (function(z + step) - function(z - step)) / (2 * step)


# z grids for the derivative checks, away from each activation's kink (the step of a central
# difference, 1e-6, never straddles one: the nearest point is 0.05 from it).
SMOOTH_GRID = np.linspace(-4, 4, 81)
AWAY_FROM_ZERO = SMOOTH_GRID[np.abs(SMOOTH_GRID) >= 0.05]

ELEMENTWISE_CASES = [
    ("linear", act.Linear(), SMOOTH_GRID),
    ("sigmoid", act.Sigmoid(), SMOOTH_GRID),
    ("tanh", act.Tanh(), SMOOTH_GRID),
    ("relu", act.ReLU(), AWAY_FROM_ZERO),
    ("arctan", act.Arctan(), SMOOTH_GRID),
    ("threshold", act.Threshold(), AWAY_FROM_ZERO),
    ("lif_rate", act.LIFRate(), AWAY_FROM_ZERO),
    ("lif_rate_scaled", act.LIFRate(tau_m=0.01, tau_ref=0.004, gain=2.5, bias=0.5, amplitude=0.2),
     SMOOTH_GRID[np.abs(SMOOTH_GRID - 0.2) >= 0.05]),
    ("soft_lif_rate", act.SoftLIFRate(), np.concatenate([SMOOTH_GRID, [-50.0, -1.2, -0.6]])),
    ("soft_lif_rate_wide", act.SoftLIFRate(sigma=0.5, gain=0.7, bias=1.3), SMOOTH_GRID),
    ("rate_curve", act.RateCurveActivation(AnalyticLIFCurve(), amplitude=0.01, gain=1.5), AWAY_FROM_ZERO),
]


CASE_IDS = [case[0] for case in ELEMENTWISE_CASES]


@pytest.mark.parametrize(("label", "activation", "z"), ELEMENTWISE_CASES, ids=CASE_IDS)
def test_derivative_matches_central_differences_of_the_function(label, activation, z):
    # float64, step 1e-6: truncation error ~ f''' h^2 and rounding ~ eps |f| / h ~ 1e-10 |f|, so
    # agreement to 1e-6 relative (plus 1e-8 absolute for slopes near 0) is a strict test.
    numeric = central_difference(activation.function, z)
    analytic = activation.derivative(z)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize(("label", "activation", "z"), ELEMENTWISE_CASES, ids=CASE_IDS)
def test_float32_in_float32_out_and_out_argument_is_used(label, activation, z):
    z32 = z.astype(np.float32)
    for method in (activation.function, activation.derivative):
        result = method(z32)
        assert result.dtype == np.float32
        # float32 agrees with float64 to float32 rounding (relative 1e-4 allows the amplified
        # rounding of the steep LIF curve near threshold).
        np.testing.assert_allclose(result, method(z32.astype(np.float64)), rtol=1e-4, atol=1e-6)
        buffer = np.empty_like(z32)
        assert method(z32, out=buffer) is buffer
        np.testing.assert_array_equal(buffer, result)
        in_place = z32.copy()
        np.testing.assert_array_equal(method(in_place, out=in_place), result)


@pytest.mark.parametrize(("label", "activation", "z"), ELEMENTWISE_CASES, ids=CASE_IDS)
def test_forward_and_backward_apply_f_and_f_prime_to_a_batch(label, activation, z):
    batch = np.resize(z, (3, 4))
    np.testing.assert_array_equal(activation.forward(batch), activation.function(batch))
    grad = np.arange(12.0).reshape(3, 4)
    np.testing.assert_allclose(activation.backward(grad), grad * activation.derivative(batch), rtol=1e-15)


@pytest.mark.parametrize(("label", "activation", "z"), ELEMENTWISE_CASES, ids=CASE_IDS)
def test_calling_an_activation_on_a_scalar_gives_a_scalar(label, activation, z):
    assert activation(0.5) == activation.function(np.array([0.5]))[0]
    assert activation(np.float32(0.5)).dtype == np.float32
    assert activation(2) == activation.function(np.array([2.0]))[0]  # an integer is taken as float64


def test_arctan_and_threshold_values():
    np.testing.assert_allclose(act.Arctan()(np.array([-1.0, 0.0, np.sqrt(3)])),
                               [-np.pi / 4, 0, np.pi / 3], rtol=1e-15)
    # the convention at 0: a unit that exactly reaches threshold fires
    np.testing.assert_array_equal(act.Threshold()(np.array([-1e-12, 0.0, 2.0])), [0, 1, 1])
    np.testing.assert_array_equal(act.Threshold().derivative(np.array([-1.0, 0.0, 1.0])), [0, 0, 0])


# --------------------------------------------------------------------------- softmax and friends

def test_softmax_rows_sum_to_one_and_stay_finite_for_huge_logits():
    logits = np.array([[1e4, -1e4, 0.0], [-1e4, -1e4 + 1.0, -1e4], [3.0, 1.0, 0.2]])
    for dtype in (np.float64, np.float32):
        h = act.Softmax()(logits.astype(dtype))
        assert h.dtype == dtype
        assert np.all(np.isfinite(h))
        np.testing.assert_allclose(h.sum(axis=1), 1, rtol=1e-6)
    h = act.Softmax()(logits)
    np.testing.assert_array_equal(h[0], [1, 0, 0])
    # row 2 is softmax([0, 1, 0]) shifted by -1e4; written out: e / (2 + e)
    np.testing.assert_allclose(h[1], [1 / (2 + math.e), math.e / (2 + math.e), 1 / (2 + math.e)], rtol=1e-12)
    np.testing.assert_allclose(h[2], scipy_softmax(logits[2]), rtol=1e-14)


def jacobian_vector_product_by_differences(function, z: np.ndarray, grad: np.ndarray,
                                           step: float = 1e-6) -> np.ndarray:
    """dE/dz for E = sum(grad * f(z)), by central differences in each entry of z."""
    result = np.zeros_like(z)
    for index in np.ndindex(z.shape):
        plus, minus = z.copy(), z.copy()
        plus[index] += step
        minus[index] -= step
        result[index] = np.sum(grad * (function(plus) - function(minus))) / (2 * step)
    return result


@pytest.mark.parametrize("activation", [act.Softmax(), act.Sparsemax()], ids=["softmax", "sparsemax"])
def test_vector_activation_backward_is_the_jacobian_vector_product(activation):
    rng = np.random.default_rng(1)
    z = rng.normal(scale=1.5, size=(6, 5))
    grad = rng.normal(size=(6, 5))
    activation.forward(z, training=True)
    analytic = activation.backward(grad)
    numeric = jacobian_vector_product_by_differences(activation.function, z, grad)
    # Central differences in float64 with step 1e-6: error ~1e-9 (sparsemax is piecewise linear, so
    # exact unless a step crosses a support change, which these random z do not).
    np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-8)


def test_softmax_has_no_elementwise_derivative():
    with pytest.raises(TypeError, match="not element-wise.*backward"):
        act.Softmax().derivative(np.zeros((2, 3)))
    assert act.Softmax.elementwise is False and act.Sigmoid.elementwise is True


def sparsemax_by_bisection(row: np.ndarray) -> np.ndarray:
    """Projection onto the simplex: find tau with sum(max(z - tau, 0)) = 1 by root finding."""
    tau = brentq(lambda t: np.maximum(row - t, 0).sum() - 1, row.min() - 1, row.max(), xtol=1e-14)
    return np.maximum(row - tau, 0)


def test_sparsemax_is_the_projection_onto_the_simplex():
    rng = np.random.default_rng(2)
    z = np.vstack([rng.normal(scale=2, size=(20, 7)), [[1e4, 1e4 - 0.5, 0, 0, 0, 0, -1e4]]])
    h = act.Sparsemax()(z)
    assert np.all(h >= 0)
    np.testing.assert_allclose(h.sum(axis=1), 1, rtol=1e-12)
    for row, projected in zip(z, h, strict=True):
        np.testing.assert_allclose(projected, sparsemax_by_bisection(row), atol=1e-10)
    # hand-worked cases: equal logits share, a dominant one takes all, the paper's example shape
    np.testing.assert_allclose(act.Sparsemax()(np.array([[0.0, 0.0], [3.0, 0.0], [1.0, 0.5]])),
                               [[0.5, 0.5], [1.0, 0.0], [0.75, 0.25]], rtol=1e-15)
    assert act.Sparsemax()(z.astype(np.float32)).dtype == np.float32


def test_one_hot_marks_the_argmax_and_refuses_to_train():
    z = np.array([[0.1, 3.0, -1.0], [2.0, 2.0, 0.0]], dtype=np.float32)
    h = act.OneHot()(z)
    assert h.dtype == np.float32
    np.testing.assert_array_equal(h, [[0, 1, 0], [1, 0, 0]])  # a tie goes to the first index
    layer = act.get_activation("one-hot")
    layer.forward(z)
    with pytest.raises(TypeError, match="inference only"):
        layer.backward(np.ones_like(z))
    with pytest.raises(TypeError, match="inference only"):
        layer.derivative(z)


# --------------------------------------------------------------------------- firing-rate curves

def test_lif_rate_is_amplitude_times_the_notes_G_of_gain_z_plus_bias():
    activation = act.LIFRate(tau_m=TAU_M, tau_ref=TAU_REF, gain=2.0, bias=0.8, amplitude=0.01)
    z = np.array([-1.0, 0.0, 0.1, 0.11, 0.5, 1.0, 10.0, 1e6])
    expected = [0.01 * lif_rate_formula(2.0 * value + 0.8) for value in z]
    np.testing.assert_allclose(activation(z), expected, rtol=1e-12)
    np.testing.assert_allclose(activation.derivative(z),
                               0.01 * 2.0 * neurosim.lif_rate_derivative(2.0 * z + 0.8), rtol=1e-12)
    assert (activation.tau_m, activation.tau_ref, activation.gain, activation.bias, activation.amplitude) \
        == (TAU_M, TAU_REF, 2.0, 0.8, 0.01)


def test_lif_rate_default_amplitude_makes_twice_threshold_rate_one():
    activation = act.LIFRate()
    # with the default gain 1 and bias 1, z = 1 is v_in = 2; G(2) = 1 / (tau_ref + tau_m ln 2) ~ 63 Hz
    assert activation.amplitude == pytest.approx(1 / lif_rate_formula(2.0), rel=1e-14)
    assert activation(np.array([1.0]))[0] == pytest.approx(1.0, rel=1e-14)
    assert activation(np.array([0.0]))[0] == 0.0  # threshold at z = 0, like ReLU
    assert act.SoftLIFRate().amplitude == activation.amplitude
    # rates saturate at amplitude / tau_ref and are never NaN for extreme inputs
    extreme = activation(np.array([-1e300, 1e300]))
    np.testing.assert_allclose(extreme, [0, activation.amplitude / TAU_REF], rtol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fast_log1p_used_by_the_rate_curves_is_accurate_to_a_few_ulps(dtype):
    # The LIF rates evaluate log(1 + u) with numpy's vectorized log plus a rounding correction;
    # against numpy's log1p in float64, the relative error must stay within 4 ulps of dtype over
    # u from the smallest normal to the largest finite values.
    info = np.finfo(dtype)
    u = np.logspace(np.log10(info.tiny), np.log10(info.max) - 1, 5000).astype(dtype)
    reference = np.log1p(u.astype(np.float64))
    relative_error = np.abs(act._log1p(u).astype(np.float64) - reference) / reference
    assert act._log1p(u).dtype == dtype
    assert relative_error.max() <= 4 * info.eps


def test_soft_lif_rate_tends_to_lif_rate_as_sigma_shrinks():
    z = np.linspace(-2, 3, 501)
    away = np.abs(z) >= 0.1
    lif = act.LIFRate()(z)
    previous = np.inf
    for sigma in (1e-1, 1e-2, 1e-3, 1e-4):
        soft = act.SoftLIFRate(sigma=sigma)(z)
        assert np.all(soft >= lif - 1e-12)  # sigma softplus(j / sigma) >= max(j, 0)
        gap = np.max(np.abs(soft - lif))
        assert gap < previous
        previous = gap
    # Below threshold the soft rate decays only like amplitude sigma / (tau_m |j|) = 7.9e-4 at
    # |j| = 0.1 for sigma = 1e-4; above it the two agree to rounding.
    np.testing.assert_allclose(soft[away], lif[away], atol=1e-3, rtol=1e-9)
    above = z >= 0.1
    np.testing.assert_allclose(soft[above], lif[above], rtol=1e-12)


def test_soft_lif_rate_has_a_finite_nonzero_gradient_at_threshold():
    for dtype in (np.float64, np.float32):
        activation = act.SoftLIFRate(sigma=0.02)
        slope = activation.derivative(np.array([0.0], dtype=dtype))[0]
        assert np.isfinite(slope) and slope > 0
    # at threshold p = sigma ln 2; written out from Eq. 3 of Hunsberger & Eliasmith:
    sigma, amplitude = 0.02, act.SoftLIFRate().amplitude
    p = sigma * math.log(2)
    rate = 1 / (TAU_REF + TAU_M * math.log1p(1 / p))
    expected = amplitude * TAU_M * rate**2 * 0.5 / (p * (1 + p))
    assert act.SoftLIFRate(sigma=sigma).derivative(np.array([0.0]))[0] == pytest.approx(expected, rel=1e-12)
    assert act.SoftLIFRate(sigma=sigma)(np.array([0.0]))[0] == pytest.approx(amplitude * rate, rel=1e-12)


def test_soft_lif_rate_is_continuous_where_it_switches_to_its_asymptotes():
    sigma = 0.02
    activation = act.SoftLIFRate(sigma=sigma)
    edge = -1 - 30 * sigma  # z where j / sigma = -30 with the default gain and bias
    z = np.array([edge - 1e-9, edge + 1e-9])
    for method in (activation.function, activation.derivative):
        below, above = method(z)
        assert below == pytest.approx(above, rel=1e-7)
    # far below threshold, no underflow to 0 and no overflow: rate ~ amplitude sigma / (tau_m |j|)
    far = activation(np.array([-1e6]))[0]
    assert far == pytest.approx(activation.amplitude * sigma / (TAU_M * 1e6), rel=1e-4)


def test_rate_curve_activation_applies_gain_bias_and_amplitude_to_any_curve():
    curve = AnalyticLIFCurve()
    activation = act.RateCurveActivation(curve, amplitude=0.02, gain=3.0, bias=1.2)
    z = np.array([-0.5, 0.0, 0.3, 2.0])
    np.testing.assert_allclose(activation(z), [0.02 * lif_rate_formula(3 * v + 1.2) for v in z], rtol=1e-13)
    assert activation(z.astype(np.float32)).dtype == np.float32
    # bias defaults to the curve's onset; amplitude has no default without sampled rates
    assert act.RateCurveActivation(curve, amplitude=1.0).bias == 1.0
    with pytest.raises(ValueError, match="amplitude"):
        act.RateCurveActivation(curve)
    with pytest.raises(TypeError, match="curve"):
        act.RateCurveActivation(lambda x: x)


def test_rate_curve_activation_with_a_neurosim_rate_curve_round_trips_through_config():
    rate_curve_class = neurosim.RateCurve
    inputs = np.linspace(0.0, 6.0, 25)
    rates = np.array([lif_rate_formula(v) for v in inputs])
    curve = rate_curve_class(inputs, rates, input_unit="1", label="sampled LIF")
    activation = act.RateCurveActivation(curve, gain=2.0, bias=1.0)
    assert activation.amplitude == pytest.approx(1 / rates.max(), rel=1e-14)
    z = np.array([0.3, 0.75, 1.2, 2.4])
    # the curve passes through its samples: z = 0.75 is v_in = 2.5, a sample
    assert activation(z)[1] == pytest.approx(lif_rate_formula(2.5) / rates.max(), rel=1e-12)
    config = activation.config()
    rebuilt = act.get_activation("rate_curve", **json.loads(json.dumps(config)))
    np.testing.assert_allclose(rebuilt(z), activation(z), rtol=1e-14)
    np.testing.assert_allclose(rebuilt.derivative(z), activation.derivative(z), rtol=1e-14)
    inside = np.linspace(0.05, 2.4, 13)
    np.testing.assert_allclose(activation.derivative(inside),
                               central_difference(activation.function, inside), rtol=1e-5, atol=1e-8)


def test_rate_curve_activation_runs_a_measured_hodgkin_huxley_curve():
    # A coarse HH f-I curve (21 currents, dt = 0.02 ms, 0.3 s runs): cheap, and real. Its rates jump
    # from 0 to about 50 Hz at the onset of repetitive firing (near 6.2 uA/cm^2).
    curve = neurosim.rate_curve("hh", np.linspace(0.0, 20.0, 21), t_end=0.3, dt=2e-5, t_skip=0.1)
    activation = act.RateCurveActivation(curve, gain=2.0)
    assert activation.bias == curve.onset  # z = 0 is the onset of firing by default
    assert activation.amplitude == pytest.approx(1 / curve.rates.max(), rel=1e-14)
    below, at_onset = activation(np.array([-0.01, 0.0]))
    assert below == 0.0
    assert at_onset == pytest.approx(curve.onset_rate * activation.amplitude, rel=1e-12)
    # z that maps onto a sampled current (14 uA/cm^2) gives that sample's rate
    z_sample = (14.0 - curve.onset) / 2.0
    assert activation(np.array([z_sample]))[0] == pytest.approx(curve.rates[14] * activation.amplitude,
                                                                 rel=1e-9)
    # The interpolant is C1 above the onset: the derivative matches finite differences there.
    z = np.linspace(0.3, 6.5, 9)
    np.testing.assert_allclose(activation.derivative(z), central_difference(activation.function, z),
                               rtol=1e-5, atol=1e-8)
    assert activation(z.astype(np.float32)).dtype == np.float32
    rebuilt = act.get_activation("rate_curve", **json.loads(json.dumps(activation.config())))
    np.testing.assert_array_equal(rebuilt(z), activation(z))


# --------------------------------------------------------------------------- registry

def test_registry_knows_every_activation_and_lists_choices_on_error():
    assert set(act.activation_names()) >= {"linear", "sigmoid", "tanh", "arctan", "threshold", "relu",
                                           "softmax", "one_hot", "sparsemax", "lif_rate",
                                           "soft_lif_rate", "rate_curve"}
    assert isinstance(act.get_activation("SoftMax"), act.Softmax)
    with pytest.raises(ValueError, match=r"unknown activation 'swish'.*\['arctan'.*'tanh'"):
        act.get_activation("swish")
    with pytest.raises(TypeError, match="name or an Activation"):
        act.get_activation(3)
    with pytest.raises(TypeError, match="lif_rate"):
        act.get_activation("lif_rate", tau=0.1)
    with pytest.raises(ValueError, match="tau_ref"):
        act.LIFRate(tau_ref=-0.001)
    with pytest.raises(ValueError, match="sigma"):
        act.SoftLIFRate(sigma=0)


@pytest.mark.parametrize("activation", [act.LIFRate(tau_m=0.01, gain=2.0, bias=0.5, amplitude=0.1),
                                        act.SoftLIFRate(sigma=0.05, tau_ref=0.001), act.Sigmoid()],
                         ids=["lif_rate", "soft_lif_rate", "sigmoid"])
def test_config_rebuilds_the_same_activation(activation):
    rebuilt = act.get_activation(activation.name, **activation.config())
    assert type(rebuilt) is type(activation) and rebuilt.config() == activation.config()
    assert repr(rebuilt) == repr(activation)
