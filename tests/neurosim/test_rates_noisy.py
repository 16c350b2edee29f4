"""Siegert's rate of the noisy LIF neuron (lif_rate_noisy) and its derivative, against an independent
quadrature of another form of the integral, the deterministic limit and finite differences; and the
input checks of the LIF rate functions (issue 9 item 7)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.integrate import quad

from neurosim import lif_rate, lif_rate_derivative, lif_rate_noisy, lif_rate_noisy_derivative

TAU_M, TAU_REF = 0.02, 0.002


def siegert_by_quadrature(mu: float, sigma: float, tau_m: float = TAU_M, tau_ref: float = TAU_REF) -> float:
    """The same rate from a different form of the integral: with erfcx(z) = (2/sqrt(pi))
    int_0^inf exp(-t^2 - 2 z t) dt, sqrt(pi) int_yr^yth exp(u^2)(1 + erf u) du
    = int_0^inf exp(-t^2) (exp(2 yth t) - exp(2 yr t)) / t dt, integrated by scipy's quad."""
    upper, lower = (1.0 - mu) / sigma, -mu / sigma

    def integrand(t: float) -> float:
        if t == 0.0:
            return 2.0 * (upper - lower)
        return (math.exp(-t * t + 2.0 * upper * t) - math.exp(-t * t + 2.0 * lower * t)) / t

    peak = max(upper, 0.0)                   # the integrand's bulk lies around t = upper
    head, _ = quad(integrand, 0.0, peak + 10.0, epsabs=0.0, epsrel=1e-13, limit=500)
    tail, _ = quad(integrand, peak + 10.0, np.inf, epsabs=0.0, epsrel=1e-13, limit=500)
    return 1.0 / (tau_ref + tau_m * (head + tail))


# Where (1 - mu) / sigma > 20 the reference's exp(2 yth t) overflows (the rate is below 1e-170 there;
# see test_far_below_and_far_above_threshold_the_rate_is_finite).
GRID = [(mu, sigma) for mu in (-1.0, 0.2, 0.5, 0.8, 0.95, 1.0, 1.05, 1.3, 2.0, 5.0, 20.0)
        for sigma in (0.05, 0.2, 0.5, 1.0, 3.0, 30.0) if (1.0 - mu) / sigma <= 20.0]


@pytest.mark.parametrize("mu, sigma", GRID)
def test_siegert_rate_matches_an_independent_quadrature(mu, sigma):
    expected = siegert_by_quadrature(mu, sigma)
    assert lif_rate_noisy(mu, sigma, TAU_M, TAU_REF) == pytest.approx(expected, rel=1e-9, abs=1e-300)


def test_siegert_rate_with_other_time_constants_and_no_refractory_period():
    for tau_m, tau_ref in [(0.01, 0.0), (0.005, 0.004)]:
        assert lif_rate_noisy(1.1, 0.3, tau_m, tau_ref) == pytest.approx(
            siegert_by_quadrature(1.1, 0.3, tau_m, tau_ref), rel=1e-9)


@pytest.mark.parametrize("mu", [1.001, 1.1, 2.0, 10.0, 1e6])
def test_small_noise_above_threshold_gives_the_deterministic_rate(mu):
    for sigma in (1e-3, 1e-5, 1e-9):
        assert lif_rate_noisy(mu, sigma) == pytest.approx(lif_rate(mu), rel=10 * sigma / (mu - 1) + 1e-12)
    assert lif_rate_noisy(mu, 0.0) == lif_rate(mu)
    assert lif_rate_noisy_derivative(mu, 1e-9) == pytest.approx(lif_rate_derivative(mu), rel=1e-6)
    assert lif_rate_noisy_derivative(mu, 0.0) == lif_rate_derivative(mu)


def test_far_below_and_far_above_threshold_the_rate_is_finite():
    # Far below: the integral grows like exp(81^2); the rate underflows to 0 instead of NaN.
    mu = np.array([-1e6, -50.0, 0.0, 0.19, 0.9, 1e3, 1e12, 1e300])
    for sigma in (1e-3, 0.01, 0.1, 10.0):
        rates = lif_rate_noisy(mu, sigma)
        slopes = lif_rate_noisy_derivative(mu, sigma)
        assert np.all(np.isfinite(rates)) and np.all(np.isfinite(slopes))
        assert np.all(rates >= 0) and np.all(rates <= 1 / TAU_REF) and np.all(slopes >= 0)
    assert lif_rate_noisy(0.19, 0.01) == 0.0          # exp(-81^2) underflows
    assert 0 < lif_rate_noisy(0.2, 0.05) < 1e-100     # exp(-16^2) does not
    assert lif_rate_noisy(1e300, 0.01) == pytest.approx(1 / TAU_REF)


def test_the_rate_rises_with_the_mean_input_and_the_noise_below_threshold():
    mu = np.linspace(-1.0, 4.0, 501)
    for sigma in (0.02, 0.3, 2.0):
        rates = lif_rate_noisy(mu, sigma)
        assert np.all(np.diff(rates) >= 0)
        representable = rates > 1e-290          # below, exp(-yth^2) has underflowed to 0
        assert np.all(np.diff(rates[representable]) > 0) and representable.sum() > 200
    sigma = np.linspace(0.05, 2.0, 50)
    assert np.all(np.diff(lif_rate_noisy(0.8, sigma)) > 0)


def test_the_derivative_matches_central_differences():
    mu = np.array([-0.5, 0.3, 0.8, 0.99, 1.0, 1.01, 1.5, 3.0, 20.0])
    for sigma in (0.05, 0.3, 2.0):
        step = 1e-6 * np.maximum(1.0, np.abs(mu))
        numeric = (lif_rate_noisy(mu + step, sigma) - lif_rate_noisy(mu - step, sigma)) / (2 * step)
        np.testing.assert_allclose(lif_rate_noisy_derivative(mu, sigma), numeric, rtol=2e-6, atol=1e-300)


def test_rates_broadcast_mu_against_sigma():
    rates = lif_rate_noisy(np.linspace(0, 2, 5), np.array([[0.1], [0.5]]))
    assert rates.shape == (2, 5)
    assert rates[1, 2] == lif_rate_noisy(1.0, 0.5)
    assert isinstance(lif_rate_noisy(1.0, 0.5), float)
    with pytest.raises(ValueError, match="broadcast"):
        lif_rate_noisy(np.zeros(3), np.ones(2))


@pytest.mark.parametrize("function", [lif_rate_noisy, lif_rate_noisy_derivative])
def test_noisy_rate_rejects_bad_input(function):
    with pytest.raises(ValueError, match="sigma"):
        function(1.0, -0.1)
    with pytest.raises(ValueError, match="mu"):
        function(np.nan, 0.1)
    with pytest.raises(TypeError, match="mu"):
        function(1.0 + 1j, 0.1)
    with pytest.raises(ValueError, match="tau_m"):
        function(1.0, 0.1, tau_m=0.0)


# ------------------------------------------------------------- issue 9 item 7: lif_rate's inputs

@pytest.mark.parametrize("function", [lif_rate, lif_rate_derivative])
@pytest.mark.parametrize("bad, error", [(np.nan, ValueError), (None, ValueError), ([2.0, np.inf], ValueError),
                                        (2.0 + 1j, TypeError), (np.array([2.0 + 0.5j]), TypeError)])
def test_lif_rate_rejects_non_finite_and_complex_input(function, bad, error):
    with pytest.raises(error, match="v_in"):
        function(bad)


def test_lif_rate_of_a_huge_input_without_refractory_period_is_finite_or_refused():
    # The literal 1.8e308 is inf (refused as non-finite above); 1.7e308 / tau_m is beyond the largest
    # float: a clear error, not inf.
    with pytest.raises(ValueError, match="v_in.*largest float"):
        lif_rate(1.7e308, tau_ref=0.0)
    with pytest.raises(ValueError, match="v_in must be finite"):
        lif_rate(1.8e308, tau_ref=0.0)
    assert lif_rate(1e300, tau_ref=0.0) == pytest.approx(1e300 / TAU_M, rel=1e-12)
    # The slope tends to 1 / tau_m, with no overflow on the way (G^2 alone would overflow).
    assert lif_rate_derivative(1.7e308, tau_ref=0.0) == pytest.approx(1 / TAU_M, rel=1e-12)
    assert lif_rate_derivative(1e200) == 0.0


def test_lif_rate_time_constants_in_milliseconds_warn():
    from neurosim import UnitsWarning

    with pytest.warns(UnitsWarning, match="tau_m=0.02"):
        lif_rate(2.0, tau_m=20)
    with pytest.warns(UnitsWarning, match="tau_ref=0.002"):
        lif_rate_noisy(2.0, 0.1, tau_ref=2)
