"""Firing-rate curves: the analytic LIF rate, rate curves measured by simulation, the interpolant.

References are independent of the code under test: scipy quadrature of the LIF's time to threshold,
central finite differences, and a scipy.integrate.solve_ivp Hodgkin-Huxley (hh_reference.py).
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.integrate import quad

import neurosim as ns
from neurosim.rates import RateCurve, firing_onset, lif_rate, lif_rate_derivative, periodic_rates, rate_curve
from neurosim.spikes import SpikeTrains
from tests.neurosim.hh_reference import reference_onset, reference_rate

TAU_M, TAU_REF = 0.02, 0.002


# ------------------------------------------------------------------ the analytic LIF rate

def _lif_rate_by_quadrature(v_in: float, tau_m: float, tau_ref: float) -> float:
    """1 / (tau_ref + T): T = time for tau_m dv/dt = v_in - v to climb from 0 to 1, as a quadrature
    of dt = tau_m dv / (v_in - v), with no closed form used."""
    if v_in <= 1:
        return 0.0
    time_to_threshold, _ = quad(lambda v: tau_m / (v_in - v), 0.0, 1.0, epsabs=0, epsrel=1e-13,
                                limit=200)
    return 1.0 / (tau_ref + time_to_threshold)


@pytest.mark.parametrize("tau_m, tau_ref", [(0.02, 0.002), (0.01, 0.0), (0.05, 0.005)])
def test_lif_rate_matches_quadrature_of_time_to_threshold(tau_m, tau_ref):
    v_in = np.array([-3.0, 0.0, 1.0, 1.001, 1.05, 1.5, 3.0, 20.0, 1e4])
    expected = [_lif_rate_by_quadrature(v, tau_m, tau_ref) for v in v_in]
    # quad reaches ~1e-13 relative; 1e-10 leaves room for its error estimate near v_in = 1.
    np.testing.assert_allclose(lif_rate(v_in, tau_m=tau_m, tau_ref=tau_ref), expected, rtol=1e-10, atol=0)


def test_lif_rate_derivative_matches_central_differences():
    v_in = np.array([1.01, 1.05, 1.3, 2.0, 5.0, 20.0, 300.0])
    step = 1e-6 * v_in
    difference = (lif_rate(v_in + step, TAU_M, TAU_REF) - lif_rate(v_in - step, TAU_M, TAU_REF)) / (2 * step)
    # Central differences err by O(step^2 G''') plus rounding ~1e-16 G / step: ~1e-7 relative here.
    np.testing.assert_allclose(lif_rate_derivative(v_in, TAU_M, TAU_REF), difference, rtol=1e-6)
    assert lif_rate_derivative(0.5, TAU_M, TAU_REF) == 0.0


def test_analytic_lif_curve_is_lif_rate_exactly():
    curve = rate_curve("lif", np.linspace(0, 5, 21), analytic=True, tau_m=0.03, tau_ref=0.001)
    x = np.random.default_rng(1).uniform(-2, 30, size=(7, 11))
    assert curve.is_analytic and curve.onset == 1.0 and curve.input_unit == "1"
    np.testing.assert_array_equal(curve(x), lif_rate(x, tau_m=0.03, tau_ref=0.001))
    np.testing.assert_array_equal(curve.derivative(x), lif_rate_derivative(x, tau_m=0.03, tau_ref=0.001))
    np.testing.assert_array_equal(curve.rates, lif_rate(curve.inputs, tau_m=0.03, tau_ref=0.001))
    assert curve(2.0) == lif_rate(2.0, tau_m=0.03, tau_ref=0.001)
    assert "analytic" in repr(curve)


# ------------------------------------------------------------------ LIF measured by simulation

LIF_INPUTS = np.concatenate([np.linspace(0.0, 0.9, 4), np.geomspace(1.05, 20.0, 30)])


@pytest.mark.parametrize("dt", [1e-3, 1e-4])
def test_simulated_lif_curve_matches_lif_rate(dt):
    curve = rate_curve("lif", LIF_INPUTS, t_end=1.2, dt=dt, t_skip=0.2, tau_m=TAU_M, tau_ref=TAU_REF)
    expected = lif_rate(curve.inputs, tau_m=TAU_M, tau_ref=TAU_REF)
    above = curve.inputs >= 1.05
    # The bound: within 0.5% for v_in in [1.05, 20] at dt = 1 ms and 0.1 ms (a naive Euler
    # LIF is off by up to 18% at 1 ms).
    np.testing.assert_allclose(curve.rates[above], expected[above], rtol=5e-3)
    np.testing.assert_array_equal(curve.rates[~above], 0.0)
    # Firing switches on at v_in = 1; bisection to tol = 0.01 puts the onset within 0.005 of it.
    assert curve.onset == pytest.approx(1.0, abs=0.005)


def test_lif_firing_onset_is_threshold_input():
    onset = firing_onset("lif", 0.5, 2.0, tol=1e-3, dt=1e-4, tau_m=TAU_M, tau_ref=TAU_REF)
    assert onset == pytest.approx(1.0, abs=5e-4)


# ------------------------------------------------------------------ Hodgkin-Huxley f-I curves

# A 0.4 s window holds 20-34 periods: enough for the inverse-mean-ISI rate. t_end = 0.6 s and most
# currents below are test_hh.py's, so a full run computes their solve_ivp references once.
HH_T_END, HH_T_SKIP = 0.6, 0.2


@pytest.fixture(scope="module", params=["euler", "exponential_euler"])
def hh_curve(request):
    """One measured HH f-I curve per method, shared by the tests below (the costly part)."""
    return rate_curve("hh", np.linspace(0.0, 20.0, 81), t_end=HH_T_END, dt=1e-5, t_skip=HH_T_SKIP,
                      method=request.param)


@pytest.fixture(scope="module")
def hh_reference_onset():
    return reference_onset(low=5.5, high=7.0, tolerance=0.01)   # ±0.005 µA/cm²


def test_hh_curve_matches_solve_ivp_reference_away_from_onset(hh_curve, hh_reference_onset):
    # Grid points (8, 10, 15, 20) and a point between them (13.7) test the measurement and the
    # interpolant; 0 and 3 lie below the onset (no spike, or one then silence), > 0.5 from it.
    currents = [0.0, 3.0, 8.0, 10.0, 13.7, 15.0, 20.0]
    assert all(abs(current - hh_reference_onset) > 0.5 for current in currents)
    expected = [reference_rate(current, HH_T_END, HH_T_SKIP) for current in currents]
    # The bound: 1 Hz at dt = 0.01 ms (Euler's error there is ~0.4% of ~50-90 Hz).
    np.testing.assert_allclose(hh_curve(np.array(currents)), expected, rtol=0, atol=1.0)


def test_hh_onset_matches_solve_ivp_reference(hh_curve, hh_reference_onset):
    assert hh_curve.onset == pytest.approx(hh_reference_onset, abs=0.1)   # the bound
    assert hh_curve.input_unit == "µA/cm²"


def test_hh_curve_jumps_at_onset_instead_of_smearing(hh_curve):
    onset = hh_curve.onset
    # HH starts firing at ~50 Hz: 0 just below the onset, the onset rate at it, no ramp between.
    assert hh_curve(onset - 1e-9) == 0.0
    assert hh_curve(onset) == hh_curve.onset_rate
    assert 40.0 < hh_curve.onset_rate < 60.0
    assert hh_curve(onset + 0.01) >= hh_curve.onset_rate


# ------------------------------------------------------------------ the interpolant

def _concave_samples():
    inputs = np.linspace(0.0, 10.0, 11)
    return inputs, 30.0 * np.sqrt(inputs)


def test_interpolant_passes_through_samples():
    inputs, rates = _concave_samples()
    curve = RateCurve(inputs, rates)
    np.testing.assert_allclose(curve(inputs), rates, rtol=1e-13, atol=1e-12)
    jumping = RateCurve(inputs, np.where(inputs < 3, 0.0, rates), onset=2.5, onset_rate=40.0)
    np.testing.assert_allclose(jumping(inputs), jumping.rates, rtol=1e-13, atol=1e-12)


def test_interpolant_is_monotone_where_the_samples_are():
    rng = np.random.default_rng(7)
    inputs = np.sort(rng.uniform(0, 10, 15))
    rising = np.cumsum(rng.exponential(5.0, 15) * (rng.random(15) < 0.7))  # with flat stretches
    falling = rising[-1] - np.cumsum(rng.exponential(1.0, 10))
    curve = RateCurve(np.concatenate([inputs, 10 + np.arange(1, 11)]),
                      np.maximum(np.concatenate([rising, falling]), 0.0))
    dense = np.linspace(inputs[0], inputs[-1], 5001)
    assert np.all(np.diff(curve(dense)) >= -1e-9)          # rising samples: no dip
    dense_falling = np.linspace(11, 20, 2001)
    assert np.all(np.diff(curve(dense_falling)) <= 1e-9)   # falling samples: no bump
    flat = np.flatnonzero(np.diff(rising) == 0)
    for index in flat:                                      # equal samples: exactly flat between
        between = np.linspace(inputs[index], inputs[index + 1], 7)
        np.testing.assert_allclose(curve(between), rising[index], rtol=1e-12)


def test_interpolant_derivative_matches_central_differences():
    inputs, rates = _concave_samples()
    curve = RateCurve(inputs, rates)
    x = np.array([0.3, 1.7, 4.49, 6.2, 9.9, 12.0])        # off the knots (C1 but not C2 there)
    step = 1e-6
    difference = (curve(x + step) - curve(x - step)) / (2 * step)
    # Cubic pieces: the central difference's error is O(step^2) ~ 1e-12, rounding ~1e-8 Hz.
    np.testing.assert_allclose(curve.derivative(x), difference, rtol=1e-6, atol=1e-6)


def test_interpolant_extrapolates_zero_below_and_linearly_above():
    inputs, rates = _concave_samples()
    curve = RateCurve(inputs, rates)
    assert curve(-5.0) == 0.0 and curve.derivative(-5.0) == 0.0
    end_slope = curve.derivative(10.0)
    assert end_slope > 0
    np.testing.assert_allclose(curve([12.0, 30.0]), rates[-1] + end_slope * np.array([2.0, 20.0]))
    np.testing.assert_allclose(curve.derivative([12.0, 30.0]), end_slope)
    # Data not starting at 0: linear with the first slope below the range, clipped at 0.
    shifted = RateCurve(inputs, rates + 10.0)
    first_slope = shifted.derivative(0.0)
    assert shifted(-1e-3) == pytest.approx(10.0 - first_slope * 1e-3)
    assert shifted(-1e3) == 0.0


def test_curve_keeps_shape_and_writes_into_out():
    inputs, rates = _concave_samples()
    curve = RateCurve(inputs, rates)
    x = np.linspace(-1, 12, 24).reshape(2, 3, 4)
    assert curve(x).shape == (2, 3, 4) and curve.derivative(x).shape == (2, 3, 4)
    assert isinstance(curve(3.0), float)
    out = np.empty_like(x)
    assert curve(x, out=out) is out
    np.testing.assert_array_equal(out, curve(x))


def test_curve_round_trips_through_a_plain_dict():
    inputs, rates = _concave_samples()
    curve = RateCurve(inputs, np.where(inputs < 3, 0.0, rates), onset=2.5, onset_rate=40.0,
                      input_unit="µA/cm²", label="test")
    again = RateCurve.from_dict(curve.to_dict())
    x = np.linspace(-1, 12, 50)
    np.testing.assert_array_equal(again(x), curve(x))
    assert (again.onset, again.input_unit, again.label) == (2.5, "µA/cm²", "test")
    analytic = rate_curve("lif", np.linspace(0, 5, 11), analytic=True, tau_m=0.01)
    np.testing.assert_array_equal(RateCurve.from_dict(analytic.to_dict())(x), lif_rate(x, tau_m=0.01))


def test_periodic_rates_use_intervals_and_ignore_dying_trains():
    period = 0.0137
    periodic = np.arange(0.005, 1.0, period)
    dying = np.arange(0.005, 0.4, period)                  # stops firing at 0.4 s
    trains = SpikeTrains([periodic, dying, np.array([0.5]), np.array([])], t_end=1.0)
    rates, repetitive = periodic_rates(trains, t_start=0.2)
    np.testing.assert_allclose(rates, [1 / period, 0.0, 0.0, 0.0], rtol=1e-12)
    np.testing.assert_array_equal(repetitive, [True, False, False, False])


# ------------------------------------------------------------------ bad input

@pytest.mark.parametrize("inputs, rates, kwargs, message", [
    ([0.0, 1.0, 1.0], [0.0, 1.0, 2.0], {}, "strictly increasing"),
    ([0.0, 1.0], [0.0, -1.0], {}, ">= 0"),
    ([0.0, 1.0, 2.0], [0.0, 1.0], {}, "shape"),
    ([0.0], [0.0], {}, "at least 2"),
    ([0.0, 1.0, 2.0], [0.0, 5.0, 6.0], {"onset": 1.5, "onset_rate": 5.0}, "below the onset"),
    ([0.0, 1.0, 2.0], [0.0, 0.0, 6.0], {"onset": 2.0}, "onset must lie"),
    ([0.0, 1.0, 2.0], [0.0, np.nan, 6.0], {}, "finite"),
    ([0.0, 1.0, 2.0], [0.0, 1.0, 2.0], {"onset_rate": 3.0}, "needs an onset"),
])
def test_rate_curve_rejects_bad_samples(inputs, rates, kwargs, message):
    with pytest.raises(ValueError, match=message):
        RateCurve(inputs, rates, **kwargs)


def test_curves_reject_non_finite_inputs():
    curve = RateCurve(*_concave_samples())
    with pytest.raises(ValueError, match="x must be finite"):
        curve(np.array([1.0, np.nan]))
    with pytest.raises(ValueError, match="x must be finite"):
        rate_curve("lif", [0.0, 2.0], analytic=True).derivative(np.inf)


def test_rate_curve_and_onset_reject_bad_arguments():
    with pytest.raises(ValueError, match="unknown model"):
        rate_curve("izhikevich", [0.0, 1.0])
    with pytest.raises(ValueError, match="analytic=True needs model='lif'"):
        rate_curve("hh", [0.0, 1.0], analytic=True)
    with pytest.raises(TypeError, match="tau_m and tau_ref"):
        rate_curve("lif", [0.0, 1.0], analytic=True, v_th=2.0)
    with pytest.raises(ValueError, match="t_skip must be shorter"):
        rate_curve("lif", [0.0, 2.0], t_end=0.5, t_skip=0.5)
    with pytest.raises(ValueError, match="dt must be > 0"):
        rate_curve("lif", [0.0, 2.0], dt=0.0)
    with pytest.raises(ValueError, match="strictly increasing"):
        rate_curve("lif", [2.0, 1.0])
    with pytest.raises(ValueError, match="low=2.0 already fires"):
        firing_onset("lif", 2.0, 3.0)
    with pytest.raises(ValueError, match="does not fire"):
        firing_onset("lif", 0.2, 0.5)
    with pytest.raises(ValueError, match="dt must be given"):
        rate_curve(ns.simulate_hh, [0.0, 1.0])


@pytest.mark.parametrize("description, missing", [
    ({"rates": [0.0, 1.0]}, "inputs"),
    ({"inputs": [0.0, 1.0]}, "rates"),
    ({"inputs": [1.0, 2.0], "analytic": {"model": "lif", "tau_m": 0.02}}, "tau_ref"),
])
def test_rate_curve_from_a_dict_without_a_key_names_it(description, missing):
    # Issue 9 item 9: a KeyError said nothing about what a description needs.
    with pytest.raises(ValueError, match=rf"lacks the key\(s\) \['{missing}'\]"):
        RateCurve.from_dict(description)
    with pytest.raises(TypeError, match="analytic"):
        RateCurve.from_dict({"inputs": [1.0, 2.0], "analytic": "lif"})
