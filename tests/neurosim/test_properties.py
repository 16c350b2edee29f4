"""Property-based tests (hypothesis) of neurosim's single-neuron side: the rate functions' shape,
the refractory period of simulated trains, and exact filtering against the direct convolution.

Numba kernels compile once per process, so the simulations run without a deadline and with few
examples; the formula checks run many."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from neurosim import (
    PSC,
    SpikeTrains,
    filter_spikes,
    lif_rate,
    lif_rate_derivative,
    lif_rate_noisy,
    lif_rate_noisy_derivative,
    psc_kernel,
    simulate_lif,
)

tau_m_values = st.floats(1e-3, 0.1)
tau_ref_values = st.floats(0.0, 0.01)
inputs = st.floats(-1e6, 1e6, allow_nan=False)
slow = settings(max_examples=20, deadline=None)


@given(a=inputs, b=inputs, tau_m=tau_m_values, tau_ref=tau_ref_values)
def test_lif_rate_is_monotone_in_the_input_and_bounded_by_one_over_tau_ref(a, b, tau_m, tau_ref):
    low, high = sorted((a, b))
    rate_low, rate_high = lif_rate(np.array([low, high]), tau_m, tau_ref)
    assert 0.0 <= rate_low <= rate_high
    if tau_ref > 0:
        assert rate_high <= 1.0 / tau_ref * (1 + 1e-12)
    slope = lif_rate_derivative(high, tau_m, tau_ref)
    assert np.isfinite(slope) and slope >= 0


@given(a=st.floats(-50.0, 50.0), b=st.floats(-50.0, 50.0), sigma=st.floats(1e-4, 50.0),
       tau_m=tau_m_values, tau_ref=st.floats(1e-4, 0.01))
def test_the_noisy_rate_is_finite_monotone_and_bounded(a, b, sigma, tau_m, tau_ref):
    low, high = sorted((a, b))
    rate_low, rate_high = lif_rate_noisy(np.array([low, high]), sigma, tau_m, tau_ref)
    assert 0.0 <= rate_low <= rate_high * (1 + 1e-9) + 1e-300
    assert rate_high <= 1.0 / tau_ref * (1 + 1e-12)
    slope = lif_rate_noisy_derivative(high, sigma, tau_m, tau_ref)
    assert np.isfinite(slope) and slope >= 0


@slow
@given(v_in=st.lists(st.floats(-2.0, 50.0), min_size=1, max_size=6), tau_m=tau_m_values,
       tau_ref=tau_ref_values, dt=st.sampled_from([1e-4, 3e-4, 1e-3, 2e-3]),
       noise=st.sampled_from([0.0, 0.2, 1.0]), seed=st.integers(0, 2**32))
def test_simulated_spike_gaps_are_at_least_tau_ref(v_in, tau_m, tau_ref, dt, noise, seed):
    result = simulate_lif(np.array(v_in), t_end=0.2, dt=dt, tau_m=tau_m, tau_ref=tau_ref,
                          noise=noise, seed=seed, record_v=False)
    for train in result.spikes.times:
        assert np.all(np.diff(train) >= tau_ref - 1e-12)
        assert train.size == 0 or (train[0] >= 0.0 and train[-1] <= result.t_end)


@slow
@given(times=st.lists(st.floats(0.0, 0.099), max_size=12), order=st.integers(0, 4),
       tau_s=st.floats(5e-4, 0.02), dt=st.sampled_from([2e-4, 5e-4, 1e-3]))
def test_exact_filtering_equals_the_direct_convolution(times, order, tau_s, dt):
    synapse = PSC(tau_s, order=order)
    trains = SpikeTrains([np.array(times)], t_end=0.1)
    filtered = filter_spikes(trains, dt=dt, synapse=synapse)[0]
    grid = np.arange(filtered.size) * dt
    direct = np.zeros(grid.size)
    for t_spike in times:
        # A spike is felt from the first grid point at or after it (a grid time within 1e-9 of a
        # step counts as on it, as SpikeTrains' grids do).
        lag = grid - t_spike
        direct += np.where(lag >= -1e-9 * dt * np.maximum(1, np.rint(grid / dt)),
                           psc_kernel(np.maximum(lag, 0.0), synapse), 0.0)
    scale = max(direct.max(), 1.0 / tau_s)
    np.testing.assert_allclose(filtered, direct, rtol=0, atol=1e-10 * scale)
