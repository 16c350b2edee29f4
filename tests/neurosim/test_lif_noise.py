"""The noisy LIF step (Brunel's white-noise input): exact Ornstein-Uhlenbeck statistics, crossings
inside the step, counter-based random numbers; and simulate_lif(noise=...) built on it."""

import math

import numpy as np
import pytest
from numba import njit

from neurosim import _lif_kernels
from neurosim._lif_kernels import lif_noisy_step, lif_step, noise_keys

TAU_M, TAU_REF = 0.02, 0.002


@njit(cache=True)
def _drive(v_in, sigma, dt, tau_m, tau_ref, keys, n_steps, v_start):
    """Step each neuron (one key each) n_steps times; return the last v, spike counts and the
    membrane's samples at every step (n_neurons, n_steps)."""
    n = keys.shape[0]
    counts = np.zeros(n, dtype=np.int64)
    samples = np.empty((n, n_steps))
    scratch = np.empty(64)
    decay = math.exp(-dt / tau_m)
    for i in range(n):
        v, refractory = v_start, 0.0
        for step in range(n_steps):
            v, refractory, fired = lif_noisy_step(v, refractory, v_in, sigma, dt, decay, tau_m, tau_ref,
                                                  keys[i], step, scratch)
            counts[i] += fired
            samples[i, step] = v
    return counts, samples


def test_without_noise_the_noisy_step_is_the_exact_step():
    scratch = np.empty(64)
    for v, refractory, v_in in [(0.3, 0.0, 0.9), (0.99, 0.0, 5.0), (0.0, 0.0005, 3.0), (0.5, 0.0, 400.0)]:
        decay = math.exp(-1e-3 / TAU_M)
        expected = lif_step(v, refractory, v_in, 1e-3, decay, TAU_M, 0.0001)
        got = lif_noisy_step(v, refractory, v_in, 0.0, 1e-3, decay, TAU_M, 0.0001, np.uint64(1), 0, scratch)
        assert got == expected[:3]
        n_spikes, first, period = expected[2:]
        written = min(n_spikes, 64)
        np.testing.assert_array_equal(scratch[:written], first + np.arange(written) * period)


def test_the_free_membrane_is_an_ornstein_uhlenbeck_process_with_variance_sigma_squared_over_two():
    # Far below threshold (v_in = -5, sigma = 1: threshold 6 / 0.71 = 8.5 standard deviations away)
    # the membrane is the OU process: stationary mean v_in, variance sigma^2 / 2, correlation
    # exp(-lag / tau_m). 400 neurons x 0.5 s at dt = 1 ms, exact update: every sample is exact in
    # distribution, so even this coarse step must match. Tolerances: 5 standard errors.
    keys = noise_keys(np.uint64(2024), np.arange(400))
    _, samples = _drive(-5.0, 1.0, 1e-3, TAU_M, TAU_REF, keys, 500, -5.0)
    assert samples.mean() == pytest.approx(-5.0, abs=0.02)
    variance = samples.var()
    assert variance == pytest.approx(0.5, rel=0.03)
    centred = samples + 5.0
    for lag in (5, 20):
        correlation = np.mean(centred[:, lag:] * centred[:, :-lag]) / variance
        assert correlation == pytest.approx(math.exp(-lag * 1e-3 / TAU_M), abs=0.02)


def test_the_noise_depends_only_on_the_key_and_the_step():
    keys = noise_keys(np.uint64(7), np.arange(3))
    first, samples = _drive(0.9, 0.3, 1e-4, TAU_M, TAU_REF, keys, 3000, 0.0)
    again, samples_again = _drive(0.9, 0.3, 1e-4, TAU_M, TAU_REF, keys[::-1].copy(), 3000, 0.0)
    np.testing.assert_array_equal(samples, samples_again[::-1])
    np.testing.assert_array_equal(first, again[::-1])
    other = noise_keys(np.uint64(8), np.arange(3))
    assert not np.array_equal(_drive(0.9, 0.3, 1e-4, TAU_M, TAU_REF, other, 3000, 0.0)[1], samples)
    # Keys of distinct neurons differ, and are reproducible.
    assert len(set(noise_keys(np.uint64(7), np.arange(10_000)).tolist())) == 10_000
    np.testing.assert_array_equal(noise_keys(np.uint64(7), np.arange(3)), keys)


def test_uniform_and_normal_draws_have_the_right_moments():
    @njit
    def draw(n):
        uniform = np.empty(n)
        normal = np.empty(n)
        state = _lif_kernels._stream_start(np.uint64(99), 5)
        for i in range(n):
            state, uniform[i] = _lif_kernels._next_uniform(state)
            state, normal[i] = _lif_kernels._next_normal(state)
        return uniform, normal

    from scipy import stats

    uniform, normal = draw(2_000_000)
    # The ziggurat's normals against the exact normal law: Kolmogorov-Smirnov, and the tails
    # (beyond the base layer's edge R = 3.44 the tail algorithm takes over).
    assert stats.kstest(normal, "norm").pvalue > 1e-3
    assert np.mean(np.abs(normal) > 3.442619855899) == pytest.approx(2 * stats.norm.sf(3.442619855899),
                                                                      rel=0.15)
    assert np.mean(np.abs(normal) > 4.0) == pytest.approx(2 * stats.norm.sf(4.0), rel=0.35)
    assert uniform.min() >= 0.0 and uniform.max() < 1.0
    assert uniform.mean() == pytest.approx(0.5, abs=0.003)
    assert normal.mean() == pytest.approx(0.0, abs=0.01)
    assert normal.var() == pytest.approx(1.0, rel=0.01)
    assert np.mean(normal**4) == pytest.approx(3.0, rel=0.03)
    assert np.mean(np.abs(normal) > 3.0) == pytest.approx(0.0027, abs=0.0006)


def test_crossings_inside_the_step_keep_a_coarse_step_at_the_fine_steps_rate():
    # Checking the threshold only at step ends misses crossings that come back below it inside the
    # step; the bridge correction restores them, so dt = 1 ms and dt = 0.05 ms fire at the same rate
    # (same seeds, 300 neurons x 2 s after a 0.1 s transient; 4 standard errors of the difference).
    keys = noise_keys(np.uint64(11), np.arange(300))
    rates = []
    for dt in (1e-3, 5e-5):
        warmup, _ = _drive(0.8, 0.2, dt, TAU_M, TAU_REF, keys, int(round(0.1 / dt)), 0.0)
        total, _ = _drive(0.8, 0.2, dt, TAU_M, TAU_REF, keys, int(round(2.1 / dt)), 0.0)
        rates.append((total - warmup) / 2.0)
    coarse, fine = rates
    error = math.sqrt(coarse.var() / coarse.size + fine.var() / fine.size)
    assert abs(coarse.mean() - fine.mean()) < 4 * error
    assert error < 0.02 * fine.mean()


# --------------------------------------------------------------------------- simulate_lif(noise=...)

def test_simulated_rates_match_the_siegert_rate_over_a_grid_at_a_tenth_of_a_millisecond():
    # One run, 250 neurons per (mu, sigma), started at random potentials so that nearly periodic
    # neurons do not fire in step; rates counted over [0.2, 2.2) s at dt = 0.1 ms. Tolerance: 4
    # standard errors of the mean over the neurons plus one spike per window (0.5 Hz, the
    # quantization of a count), and never more than 6% (standard errors here: 0.03% to 1.7%).
    from neurosim import lif_rate_noisy, simulate_lif

    grid = [(0.7, 0.3), (0.9, 0.1), (1.0, 0.2), (1.2, 0.1), (1.5, 0.5), (2.0, 0.05)]
    per_point = 250
    mu = np.repeat([m for m, _ in grid], per_point)
    sigma = np.repeat([s for _, s in grid], per_point)
    v_init = np.random.default_rng(0).uniform(0.0, 1.0, mu.size)
    result = simulate_lif(mu, t_end=2.2, dt=1e-4, noise=sigma, seed=42, v_init=v_init, record_v=False)
    rates = result.spikes.rates(t_start=0.2).reshape(len(grid), per_point)
    for (m, s), measured in zip(grid, rates, strict=True):
        expected = lif_rate_noisy(m, s, TAU_M, TAU_REF)
        standard_error = measured.std() / math.sqrt(per_point)
        assert abs(measured.mean() - expected) < 4 * standard_error + 0.5, (m, s, measured.mean(), expected)
        assert measured.mean() == pytest.approx(expected, rel=0.06)


def test_simulated_free_membrane_has_variance_sigma_squared_over_two():
    from neurosim import simulate_lif

    result = simulate_lif(np.full(200, 0.2), t_end=0.5, dt=5e-4, noise=0.1, seed=5, v_init=0.2)
    samples = result.v[:, 40:]           # after 20 ms (one tau_m) the start no longer matters
    assert result.spikes.n_spikes == 0   # threshold 11 standard deviations away
    assert samples.mean() == pytest.approx(0.2, abs=0.002)
    assert samples.var() == pytest.approx(0.1**2 / 2, rel=0.04)


def test_the_same_seed_gives_the_same_run_whatever_the_threads_or_segments():
    import numba

    from neurosim import simulate_lif

    v_in = np.linspace(0.6, 1.6, 30)
    first = simulate_lif(v_in, t_end=0.3, dt=2e-4, noise=0.3, seed=9)
    segmented = simulate_lif(v_in, t_end=0.3, dt=2e-4, noise=0.3, seed=9, progress=True)
    threads = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        single = simulate_lif(v_in, t_end=0.3, dt=2e-4, noise=0.3, seed=np.random.SeedSequence(9))
    finally:
        numba.set_num_threads(threads)
    for other in (segmented, single):
        np.testing.assert_array_equal(other.v, first.v)
        for a, b in zip(first.spikes.times, other.spikes.times, strict=True):
            np.testing.assert_array_equal(a, b)
    different = simulate_lif(v_in, t_end=0.3, dt=2e-4, noise=0.3, seed=10)
    assert not np.array_equal(different.v, first.v)
    generator = simulate_lif(v_in, t_end=0.3, dt=2e-4, noise=0.3, seed=np.random.default_rng(9))
    assert generator.v.shape == first.v.shape and first.method == "exact-ou"


def test_a_spike_buffer_that_overflows_is_rerun_with_the_same_noise(monkeypatch):
    import neurosim.lif as lif_module
    from neurosim import simulate_lif

    reference = simulate_lif(np.full(5, 1.5), t_end=0.5, dt=1e-4, noise=0.4, seed=1, record_v=False)
    monkeypatch.setattr(lif_module, "_noisy_spike_capacity", lambda currents, *_: np.ones(5, dtype=np.int64))
    rerun = simulate_lif(np.full(5, 1.5), t_end=0.5, dt=1e-4, noise=0.4, seed=1, record_v=False)
    assert reference.spikes.n_spikes > 20
    for a, b in zip(reference.spikes.times, rerun.spikes.times, strict=True):
        np.testing.assert_array_equal(a, b)


def test_spike_gaps_respect_the_refractory_period_with_noise():
    from neurosim import simulate_lif

    result = simulate_lif(np.full(20, 3.0), t_end=0.5, dt=1e-3, tau_ref=0.004, noise=1.0, seed=2,
                          record_v=False)
    gaps = np.concatenate(result.spikes.isis())
    assert gaps.size > 500 and gaps.min() >= 0.004 - 1e-12


def test_zero_noise_is_the_deterministic_neuron_and_physical_noise_is_in_millivolts():
    from neurosim import PhysicalLIFParameters, simulate_lif

    v_in = np.array([0.5, 1.3, 4.0])
    quiet = simulate_lif(v_in, t_end=0.2, dt=1e-3, noise=0.0, seed=1)
    plain = simulate_lif(v_in, t_end=0.2, dt=1e-3)
    np.testing.assert_array_equal(quiet.v, plain.v)
    # Physical: sigma = 5 mV over V_th - V_reset = 10 mV is sigma = 0.5 normalized.
    brunel = PhysicalLIFParameters(V_rest=0.0, V_th=20.0, V_reset=10.0, tau_m=TAU_M, tau_ref=TAU_REF)
    physical = simulate_lif(0.2, t_end=0.3, dt=1e-4, params=brunel, noise=5.0, seed=4)
    twin = simulate_lif(1.0, t_end=0.3, dt=1e-4, noise=0.5, seed=4)
    np.testing.assert_allclose(physical.spikes.times[0], twin.spikes.times[0], rtol=0, atol=1e-9)
    np.testing.assert_allclose(physical.v, brunel.voltage(twin.v), rtol=0, atol=1e-9)


@pytest.mark.parametrize("kwargs, error, message", [
    (dict(noise=-0.1), ValueError, "noise"),
    (dict(noise=[0.1, 0.2, 0.3]), ValueError, "noise"),
    (dict(noise=float("nan")), ValueError, "noise"),
    (dict(noise=0.1j), TypeError, "noise"),
    (dict(seed=3), ValueError, "seed"),
    (dict(noise=0.1, seed="abc"), TypeError, "seed"),
    (dict(noise=0.1, seed=-1), TypeError, "seed"),
])
def test_bad_noise_arguments_are_refused(kwargs, error, message):
    from neurosim import simulate_lif

    with pytest.raises(error, match=message):
        simulate_lif([0.5, 1.5], t_end=0.05, **kwargs)
