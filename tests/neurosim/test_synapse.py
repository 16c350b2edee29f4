"""PSC kernels and spike filtering, held against quadrature and the direct convolution.

The reference convolution is written out in this file from the kernel's formula (math.exp and
math.factorial, one spike at a time), independent of neurosim's kernel and of its recursion.
"""

import math

import numpy as np
import pytest
from scipy.integrate import quad

from neurosim import PSC, SpikeTrains, filter_spikes, psc_kernel

TAU_S = 0.005


def reference_convolution(grid, spike_times, tau_s, n):
    """sum over spikes of t^n e^{-t/tau} / (n! tau^(n+1)) at each grid time, t = t_k - t_spike >= 0."""
    total = np.zeros(len(grid))
    for k, t_k in enumerate(grid):
        for t_spike in spike_times:
            lag = t_k - t_spike
            if lag >= 0:
                total[k] += lag**n * math.exp(-lag / tau_s) / (math.factorial(n) * tau_s ** (n + 1))
    return total


@pytest.mark.parametrize("n", [0, 1, 2, 3])
def test_psc_kernel_integrates_to_one(n):
    # Adaptive quadrature, split at the peak n tau_s; its own error estimate is ~1e-10.
    head, _ = quad(psc_kernel, 0.0, max(n, 1) * TAU_S, args=(PSC(TAU_S, n),), epsabs=1e-12)
    tail, _ = quad(psc_kernel, max(n, 1) * TAU_S, np.inf, args=(PSC(TAU_S, n),), epsabs=1e-12)
    assert head + tail == pytest.approx(1.0, abs=1e-6)


def test_psc_kernel_values_from_the_formula():
    assert psc_kernel(0.0, PSC(TAU_S, order=0)) == pytest.approx(200.0, rel=1e-15)
    assert psc_kernel(0.0, PSC(TAU_S, order=1)) == 0.0
    # Alpha function at its peak t = tau_s: e^{-1} / tau_s.
    assert psc_kernel(TAU_S, PSC(TAU_S, order=1)) == pytest.approx(math.exp(-1) / TAU_S, rel=1e-13)
    # n = 2 at t = 3 tau_s: 9 e^{-3} / (2 tau_s).
    expected = 9 * math.exp(-3) / (2 * TAU_S)
    assert psc_kernel(3 * TAU_S, PSC(TAU_S, order=2)) == pytest.approx(expected, rel=1e-13)
    np.testing.assert_array_equal(psc_kernel(np.array([-1.0, -1e-9]), PSC(order=1)), [0.0, 0.0])
    assert psc_kernel(np.zeros((2, 3))).shape == (2, 3)


@pytest.mark.parametrize("n", [0, 1, 2])
def test_psc_kernel_peaks_at_n_tau_s(n):
    t = np.linspace(0, 10 * TAU_S, 100_001)
    assert t[np.argmax(psc_kernel(t, PSC(TAU_S, order=n)))] == pytest.approx(n * TAU_S, abs=1e-7)


@pytest.mark.parametrize("bad, error", [({"tau_s": 0.0}, ValueError), ({"tau_s": -0.005}, ValueError),
                                        ({"order": -1}, ValueError), ({"order": 1.5}, TypeError),
                                        ({"order": True}, TypeError)])
def test_psc_rejects_bad_parameters(bad, error):
    name = next(iter(bad))
    with pytest.raises(error, match=name):
        PSC(**bad)


@pytest.mark.parametrize("function", [psc_kernel, lambda t, synapse: filter_spikes(
    SpikeTrains([[0.01]], t_end=0.1), 1e-3, synapse)])
def test_the_synapse_must_be_a_psc_value(function):
    with pytest.raises(TypeError, match="synapse must be a neurosim.PSC"):
        function(0.01, {"tau_s": 0.005, "n": 1})
    with pytest.raises(TypeError, match="synapse must be a neurosim.PSC"):
        function(0.01, 0.005)


# n = 0, 1, 2 run the kernel's unrolled loops; n = 3 its general loop.
@pytest.mark.parametrize("n", [0, 1, 2, 3])
def test_exact_filtering_equals_the_convolution_for_spikes_on_the_grid(n):
    dt, t_start = 1e-3, 0.0
    grid = t_start + np.arange(200) * dt
    spikes = [grid[[3, 10, 11, 12, 60, 61, 150]], grid[[0]], np.array([])]
    trains = SpikeTrains(spikes, t_end=0.2)
    filtered = filter_spikes(trains, dt=dt, synapse=PSC(TAU_S, order=n, method="exact"))
    assert filtered.shape == (3, 200)
    for row, spike_times in zip(filtered, spikes, strict=True):
        reference = reference_convolution(grid, spike_times, TAU_S, n)
        # 200 steps of a recursion whose every step rounds: a few hundred ulps of the peak at most.
        np.testing.assert_allclose(row, reference, rtol=1e-12, atol=1e-12 * filtered.max())


@pytest.mark.parametrize("n", [0, 1, 2, 3])
def test_exact_filtering_equals_the_convolution_for_spikes_off_the_grid(n):
    dt, t_start = 0.7e-3, 0.05
    rng = np.random.default_rng(2)
    spikes = [np.sort(rng.uniform(t_start, 0.2, size=25)), np.sort(rng.uniform(t_start, 0.2, size=3))]
    trains = SpikeTrains(spikes, t_end=0.2, t_start=t_start)
    filtered = filter_spikes(trains, dt=dt, synapse=PSC(TAU_S, order=n))
    grid = t_start + np.arange(filtered.shape[1]) * dt
    assert grid[-1] < 0.2 <= grid[-1] + dt
    for row, spike_times in zip(filtered, spikes, strict=True):
        reference = reference_convolution(grid, spike_times, TAU_S, n)
        np.testing.assert_allclose(row, reference, rtol=1e-12, atol=1e-12 * filtered.max())


def test_value_at_a_spikes_own_grid_time_is_h_of_zero():
    # The exact kernel's jump 1/tau_s = 200 at tau_s = 5 ms; Nengo's zero-order hold would give
    # (1 - exp(-dt/tau_s)) / dt = 181.27 at dt = 1 ms.
    trains = SpikeTrains([np.array([0.010])], t_end=0.02)
    for method in ("exact", "euler"):
        filtered = filter_spikes(trains, dt=1e-3, synapse=PSC(TAU_S, method=method))
        assert filtered[0, 9] == 0.0
        assert filtered[0, 10] == pytest.approx(200.0, rel=1e-14)
    exact = filter_spikes(trains, dt=1e-3, synapse=PSC(TAU_S))
    assert exact[0, 11] == pytest.approx(200 * math.exp(-0.2), rel=1e-14)


@pytest.mark.parametrize("n", [0, 1, 2, 3])
def test_euler_filtering_converges_at_first_order(n):
    # Spikes on the coarsest grid, so each finer grid holds them too; the error is measured at the
    # coarse grid's points (common to all) against the analytic convolution.
    coarse_dt, t_end = 1e-3, 0.1
    coarse_grid = np.arange(100) * coarse_dt
    spike_times = coarse_grid[[5, 20, 22, 40, 70]]
    reference = reference_convolution(coarse_grid, spike_times, TAU_S, n)
    trains = SpikeTrains([spike_times], t_end=t_end)
    errors = []
    for refinement in (1, 2, 4, 8):
        filtered = filter_spikes(trains, dt=coarse_dt / refinement,
                                 synapse=PSC(TAU_S, order=n, method="euler"))
        errors.append(np.max(np.abs(filtered[0, ::refinement] - reference)))
    orders = np.log2(np.array(errors[:-1]) / np.array(errors[1:]))
    # First order: each halving of dt halves the error (observed orders within 0.15 of 1; the
    # second-order remainder at dt/tau_s = 0.2 is what keeps the first ratio off 2).
    np.testing.assert_allclose(orders, 1.0, atol=0.15)
    assert errors[-1] < 0.05 * reference.max()


def test_a_raster_filters_like_its_spike_trains():
    rng = np.random.default_rng(3)
    raster = rng.random((4, 300)) < 0.05
    from_raster = filter_spikes(raster, dt=1e-3, synapse=PSC(order=1))
    from_trains = filter_spikes(SpikeTrains.from_raster(raster, dt=1e-3), dt=1e-3, synapse=PSC(order=1))
    np.testing.assert_array_equal(from_raster, from_trains)
    assert from_raster.shape == (4, 300)


def test_t_end_extends_the_grid_past_the_recording():
    trains = SpikeTrains([np.array([0.01])], t_end=0.02)
    filtered = filter_spikes(trains, dt=1e-3, t_end=0.05)
    assert filtered.shape == (1, 50)
    assert filtered[0, 40] == pytest.approx(200 * math.exp(-30e-3 / TAU_S), rel=1e-12)


@pytest.mark.parametrize("kwargs, error, name", [
    ({"dt": 0.0}, ValueError, "dt"),
    ({"dt": 1e-3, "t_end": -1.0}, ValueError, "t_end"),
    ({"dt": 0.01, "synapse": PSC(method="euler")}, ValueError, "dt"),
    ({"dt": 1e-3, "tau_s": 0.005}, TypeError, "tau_s"),
])
def test_filter_spikes_rejects_bad_arguments(kwargs, error, name):
    trains = SpikeTrains([np.array([0.01])], t_end=0.1)
    with pytest.raises(error, match=name):
        filter_spikes(trains, **kwargs)


def test_filter_spikes_rejects_a_list_of_spike_times():
    with pytest.raises(TypeError, match="SpikeTrains"):
        filter_spikes([np.array([0.01])], dt=1e-3)


# --------------------------------------------------------------------------- issue 9 items 6 and 7

@pytest.mark.parametrize("order", [154, 171, 250])
def test_exact_filtering_of_high_orders_equals_the_convolution(order):
    # The propagator exp(-a) a^m / m! overflowed from order ~155 (m! as a float); in logarithms it
    # does not. Reference: the kernel's formula in logarithms, spike by spike.
    tau_s, dt = 2e-4, 1e-3
    spike_times = np.array([0.0031, 0.0100, 0.0207])
    trains = SpikeTrains([spike_times], t_end=0.1)
    filtered = filter_spikes(trains, dt=dt, synapse=PSC(tau_s, order=order))
    grid = np.arange(100) * dt
    reference = np.zeros(grid.size)
    for t_spike in spike_times:
        lag = grid - t_spike
        after = lag > 0
        reference[after] += np.exp(order * np.log(lag[after] / tau_s) - lag[after] / tau_s
                                   - math.lgamma(order + 1)) / tau_s
    assert np.all(np.isfinite(filtered)) and reference.max() > 100
    np.testing.assert_allclose(filtered[0], reference, rtol=1e-10, atol=1e-10 * reference.max())


def test_filter_spikes_refuses_a_huge_grid_before_allocating():
    trains = SpikeTrains([np.array([0.01])], t_end=1e6)
    with pytest.raises(ValueError, match=r"dt: the filtered trains \(1 x \d+ floats\) would need 7.28 TiB.*"
                                         r"larger dt"):
        filter_spikes(trains, dt=1e-6)


def test_filter_spikes_refuses_a_huge_kernel_order_before_allocating():
    trains = SpikeTrains([np.linspace(0.0, 0.09, 100)], t_end=0.1)
    with pytest.raises(ValueError, match=r"synapse: the stage values of 100 spikes for a kernel of order "
                                         r"100000000.*lower kernel order"):
        filter_spikes(trains, dt=1e-3, synapse=PSC(0.005, order=10**8))
