"""Specification of the LIF simulator, checked against the closed-form solution of the model.

For an input ``v_in`` constant over an interval the membrane obeys
``v(t) = v_in + (v0 - v_in) exp(-t / tau_m)``; from the reset it reaches the threshold after
``tau_m ln(v_in / (v_in - 1))``, so the spikes of a constant input are periodic with period
``tau_ref + tau_m ln(v_in / (v_in - 1))`` = 1 / lif_rate. These formulas, written out in the tests,
are the references; the simulator claims to reproduce them up to rounding at any dt.
"""

import numpy as np
import pytest

import neurosim as ns
from neurosim.lif import LIFParameters, PhysicalLIFParameters, simulate_lif

TAU_M = 0.02
TAU_REF = 0.002


def analytic_spike_times(v_in, t_end, v_init=0.0, tau_m=TAU_M, tau_ref=TAU_REF):
    """Spike times of a neuron with constant input v_in > 1 from v_init, by the closed form."""
    first = tau_m * np.log((v_in - v_init) / (v_in - 1.0))
    period = tau_ref + tau_m * np.log(v_in / (v_in - 1.0))
    times = first + period * np.arange(int((t_end - first) / period) + 1)
    return times[times <= t_end]


def isi_rates(spikes):
    """Rate of each neuron from its spike times: (n - 1) / (last - first), window edges excluded."""
    return np.array([(train.size - 1) / (train[-1] - train[0]) for train in spikes.times])


@pytest.mark.parametrize("dt", [1e-3, 1e-4], ids=["1ms", "0.1ms"])
def test_lif_rate_matches_simulation(dt):
    # One vectorized run of 120 neurons over v_in in [1.05, 20]. The rate is taken from the
    # interspike intervals, (n - 1) / (t_last - t_first), not from a count over a window: a count
    # is off by up to one spike per window (1/(G T), 3% at 15.9 Hz over 2 s), which would measure
    # the window edge, not the integrator. The issue asks for 0.5%; a naive Euler LIF misses it
    # by -18% at v_in = 10, dt = 1 ms.
    v_in = np.concatenate([np.linspace(1.05, 20.0, 100), np.geomspace(1.05, 1.5, 20)])
    res = simulate_lif(v_in, t_end=2.0, dt=dt, tau_m=TAU_M, tau_ref=TAU_REF, record_v=False)
    expected = ns.lif_rate(v_in, tau_m=TAU_M, tau_ref=TAU_REF)
    simulated = isi_rates(res.spikes)
    np.testing.assert_allclose(simulated, expected, rtol=5e-3)
    # The update, crossing time and refractory end are exact for constant input, so only rounding
    # of spike times (~1e-16 s each, relative to intervals >= 3 ms) remains: hold it to 1e-9.
    np.testing.assert_allclose(simulated, expected, rtol=1e-9)


def test_lif_rate_from_counts_over_a_long_window():
    # Counted over [0.5 s, 40 s) the window edge contributes at most one spike, 1/(G T) <= 0.16%
    # at the lowest rate (15.9 Hz), leaving most of the 0.5% budget to the integrator at dt = 1 ms.
    v_in = np.array([1.05, 1.3, 2.0, 5.0, 10.0, 20.0])
    res = simulate_lif(v_in, t_end=40.0, dt=1e-3, record_v=False)
    np.testing.assert_allclose(res.spikes.rates(t_start=0.5), ns.lif_rate(v_in), rtol=5e-3)


def test_subthreshold_trace_is_the_exponential_approach():
    # v(t) = v_in (1 - exp(-t/tau_m)) from rest; v_in + (v0 - v_in) exp(-t/tau_m) from v0.
    # The update is the exact solution, so agreement is to rounding (1e-12).
    v_in = np.array([0.0, 0.3, 0.99, -0.5])
    v_init = np.array([0.0, 0.0, 0.5, 0.2])
    res = simulate_lif(v_in, t_end=0.2, dt=1e-3, v_init=v_init)
    expected = v_in[:, None] + (v_init - v_in)[:, None] * np.exp(-res.t / TAU_M)
    np.testing.assert_allclose(res.v, expected, rtol=0, atol=1e-12)
    assert res.v_unit == "1" and res.t[1] == pytest.approx(1e-3)
    assert all(train.size == 0 for train in res.spikes.times)


@pytest.mark.parametrize("dt", [1e-3, 7e-4, 1e-4])
def test_spike_times_equal_the_analytic_sequence(dt):
    # dt = 0.7 ms does not divide tau_ref = 2 ms: the refractory end falls inside a step and is
    # carried across step boundaries. Exact up to rounding of accumulated times: 1e-12 s.
    for v_in, v_init in [(1.5, 0.0), (3.0, 0.0), (3.0, 0.6), (12.0, -1.0)]:
        res = simulate_lif(v_in, t_end=0.5, dt=dt, v_init=v_init, record_v=False)
        expected = analytic_spike_times(v_in, res.t_end, v_init)
        np.testing.assert_allclose(res.spikes.times[0], expected, rtol=0, atol=1e-12)


def test_refractory_clamp_holds_the_reset_then_resumes_the_exponential():
    # Between a spike at t_s and t_s + tau_ref the potential is the reset, 0; afterwards it is the
    # approach from 0, v_in (1 - exp(-(t - t_s - tau_ref) / tau_m)), until the next spike.
    v_in, tau_ref = 4.0, 0.005
    res = simulate_lif(v_in, t_end=0.1, dt=1e-4, tau_ref=tau_ref)
    spikes = res.spikes.times[0]
    assert spikes.size >= 5
    last_spike = np.array([spikes[spikes < t].max() if np.any(spikes < t) else np.nan for t in res.t])
    after = res.t - last_spike
    refractory = after <= tau_ref
    assert np.count_nonzero(refractory) > 200
    assert np.all(res.v[0, refractory] == 0.0)
    free = after > tau_ref
    expected = v_in * (1 - np.exp(-(after[free] - tau_ref) / TAU_M))
    np.testing.assert_allclose(res.v[0, free], expected, rtol=0, atol=1e-10)


@pytest.mark.parametrize("tau_ref", [0.0, 2e-4, 5e-4])
def test_several_spikes_per_step_when_tau_ref_is_shorter_than_dt(tau_ref):
    # With v_in = 50 the neuron reaches threshold 0.40 ms after each reset, so at dt = 1 ms a step
    # holds two or more spikes; each must still sit at its analytic time (to 1e-12 s).
    v_in, dt = 50.0, 1e-3
    res = simulate_lif(v_in, t_end=0.3, dt=dt, tau_ref=tau_ref, record_v=False)
    expected = analytic_spike_times(v_in, res.t_end, tau_ref=tau_ref)
    got = res.spikes.times[0]
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)
    assert np.bincount((got // dt).astype(int)).max() >= 2
    rate = ns.lif_rate(v_in, tau_ref=tau_ref)
    assert isi_rates(res.spikes)[0] == pytest.approx(rate, rel=1e-9)


@pytest.mark.parametrize("tau_m, tau_ref, dt", [(1e-4, 2e-3, 1e-3), (2e-3, 0.25, 1e-4)],
                         ids=["dt_10x_tau_m", "tau_ref_125x_tau_m"])
def test_extreme_time_scales_keep_the_analytic_spike_times(tau_m, tau_ref, dt):
    # A step ten membrane time constants long, and a refractory period far longer than tau_m
    # (the fast kernel then waits for the refractory end in several stages). Both kernels, the
    # constant-input one and the per-step one (2-D current), against the closed form (1e-12 s).
    t_end = 1.0
    n_steps = int(round(t_end / dt))
    expected = analytic_spike_times(2.5, t_end, tau_m=tau_m, tau_ref=tau_ref)
    for current in (2.5, np.full((1, n_steps), 2.5)):
        res = simulate_lif(current, t_end=t_end, dt=dt, tau_m=tau_m, tau_ref=tau_ref, record_v=False)
        np.testing.assert_allclose(res.spikes.times[0], expected, rtol=0, atol=1e-12)


def test_time_varying_current_equals_constant_current_when_constant():
    # The per-step path (2-D current) and the constant-input path compute the same exact solution;
    # they may differ by rounding only. Neurons cover silent, slow, fast and refractory-heavy cases.
    v_in = np.array([0.5, 1.0, 1.02, 1.7, 4.0, 15.0, 60.0])
    n_steps = 700
    constant = simulate_lif(v_in, t_end=0.7, dt=1e-3, tau_ref=0.0037)
    varying = simulate_lif(np.repeat(v_in[:, None], n_steps, axis=1), t_end=0.7, dt=1e-3, tau_ref=0.0037)
    for a, b in zip(constant.spikes.times, varying.spikes.times, strict=True):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)
    # A rounding difference in a spike time (~1e-15 s) shows in v through its slope v_in/tau_m
    # (up to 3000 /s here): 1e-10 covers it.
    np.testing.assert_allclose(constant.v, varying.v, rtol=0, atol=1e-10)
    assert constant.spikes.times[1].size == 0  # exactly at threshold: the exponential never gets there


def test_step_change_of_current_gives_the_piecewise_exact_first_spike():
    # v_in = 0.5 for 0.1 s, then 3: v(0.1) = 0.5 (1 - e^{-5}), crossing after tau_m ln((3 - v1)/2).
    dt, n_steps = 1e-3, 200
    current = np.where(np.arange(n_steps) < 100, 0.5, 3.0)[None, :]
    res = simulate_lif(current, t_end=0.2, dt=dt)
    v1 = 0.5 * (1 - np.exp(-0.1 / TAU_M))
    first = 0.1 + TAU_M * np.log((3.0 - v1) / 2.0)
    assert res.spikes.times[0][0] == pytest.approx(first, abs=1e-12)
    np.testing.assert_allclose(np.diff(res.spikes.times[0]), TAU_REF + TAU_M * np.log(1.5), atol=1e-12)


def test_brief_strong_pulse_fires_at_the_piecewise_exact_times():
    # v_in = 0.5, then 50 during [0.1, 0.105) s, then 0.5 again. From v0 = 0.5 (1 - e^{-5}) the
    # pulse crosses after tau_m ln((50 - v0)/49), fires again tau_ref + tau_m ln(50/49) later, and
    # the 0.4 ms of pulse left after the second refractory period end below threshold.
    dt, n_steps = 1e-3, 300
    current = np.full((2, n_steps), 0.5)
    current[0, 100:105] = 50.0
    res = simulate_lif(current, t_end=0.3, dt=dt, record_v=False)
    v0 = 0.5 * (1 - np.exp(-0.1 / TAU_M))
    first = 0.1 + TAU_M * np.log((50.0 - v0) / 49.0)
    second = first + TAU_REF + TAU_M * np.log(50.0 / 49.0)
    assert second + TAU_REF + TAU_M * np.log(50.0 / 49.0) > 0.105
    np.testing.assert_allclose(res.spikes.times[0], [first, second], rtol=0, atol=1e-12)
    assert res.spikes.times[1].size == 0


def test_physical_neuron_and_its_normalized_twin_fire_together():
    # C = 0.25 nF, R = 80 MΩ: tau_m = 20 ms. With V_rest = -70, V_reset = -60, V_th = -50 mV and
    # I = 0.3 nA: v_in = (V_rest - V_reset + R I) / (V_th - V_reset) = (-10 + 24) / 10 = 1.4.
    params = PhysicalLIFParameters(C=0.25, R=80.0, V_rest=-70.0, V_th=-50.0, V_reset=-60.0,
                                   tau_ref=0.003)
    assert params.tau_m == pytest.approx(0.02)
    assert params.normalized_input(0.3) == pytest.approx(1.4)
    currents = np.array([0.3, 0.5, 0.05])
    physical = simulate_lif(currents, t_end=0.5, dt=1e-4, params=params)
    twin = simulate_lif((-10.0 + currents / 0.0125) / 10.0, t_end=0.5, dt=1e-4, tau_m=0.02,
                        tau_ref=0.003)
    for a, b in zip(physical.spikes.times, twin.spikes.times, strict=True):
        assert a.size > 0 or b.size == 0
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)
    assert physical.v_unit == "mV"
    np.testing.assert_allclose(physical.v, -60.0 + 10.0 * twin.v, rtol=0, atol=1e-9)
    # Below threshold the physical solution is V_rest + R I + (V0 - V_rest - R I) exp(-t/tau_m).
    quiet = simulate_lif(0.05, t_end=0.1, dt=1e-3, params=params, v_init=-65.0)
    expected = -70.0 + 4.0 + (-65.0 + 70.0 - 4.0) * np.exp(-quiet.t / 0.02)
    np.testing.assert_allclose(quiet.v[0], expected, rtol=0, atol=1e-9)


def test_lif_parameters_object_is_the_same_as_keywords():
    v_in = np.array([1.3, 6.0])
    by_keywords = simulate_lif(v_in, t_end=0.3, tau_m=0.01, tau_ref=0.004, record_v=False)
    by_params = simulate_lif(v_in, t_end=0.3, params=LIFParameters(tau_m=0.01, tau_ref=0.004),
                             record_v=False)
    for a, b in zip(by_keywords.spikes.times, by_params.spikes.times, strict=True):
        np.testing.assert_array_equal(a, b)


def test_record_every_decimates_the_trace_and_record_v_false_keeps_spikes_only():
    v_in = np.array([0.7, 2.5, 9.0])
    full = simulate_lif(v_in, t_end=0.25, dt=1e-4)
    every = simulate_lif(v_in, t_end=0.25, dt=1e-4, record_every=7)
    assert full.v.shape == (3, 2500) and every.v.shape == (3, 358)  # ceil(2500 / 7)
    np.testing.assert_array_equal(every.v, full.v[:, ::7])
    np.testing.assert_allclose(every.t, full.t[::7], rtol=1e-12)
    bare = simulate_lif(v_in, t_end=0.25, dt=1e-4, record_v=False)
    assert bare.v is None and bare.t.size == 0
    for a, b in zip(full.spikes.times, bare.spikes.times, strict=True):
        np.testing.assert_array_equal(a, b)
    assert "not recorded" in repr(bare) and "lif" in repr(bare)


def test_progress_bar_run_in_segments_equals_one_run():
    # The progress bar splits the run into segments; the state (v, refractory time left) carried
    # between them must make no difference.
    v_in = np.linspace(0.5, 30.0, 40)
    whole = simulate_lif(v_in, t_end=0.3, dt=3e-4, tau_ref=0.0011)
    parts = simulate_lif(v_in, t_end=0.3, dt=3e-4, tau_ref=0.0011, progress=True)
    for a, b in zip(whole.spikes.times, parts.spikes.times, strict=True):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)
    np.testing.assert_allclose(whole.v, parts.v, rtol=0, atol=1e-12)


def test_very_fast_firing_keeps_every_spike():
    # tau_ref = 0 and v_in = 2000: 40 kHz, many spikes per step; the counts must equal the
    # analytic count floor((T - t1)/P) + 1 exactly.
    res = simulate_lif(2000.0, t_end=0.05, dt=1e-3, tau_ref=0.0, record_v=False)
    assert res.spikes.times[0].size == analytic_spike_times(2000.0, 0.05, tau_ref=0.0).size


def test_spike_buffer_too_large_for_the_bound_counts_first_then_keeps_every_spike(monkeypatch):
    # With the buffer limit lowered below the a-priori bound (3 x 14 slots), the run counts spikes
    # first and reruns with exact slots; the trains must still be the analytic ones. Below the
    # actual count (3 x 12 spikes) it must refuse with a ValueError instead of truncating.
    from neurosim import validation

    monkeypatch.setattr(validation, "MAX_ALLOCATION_BYTES", 40 * 8)
    res = simulate_lif(np.full(3, 2.0), t_end=0.2, dt=1e-3, record_v=False)
    for train in res.spikes.times:
        np.testing.assert_allclose(train, analytic_spike_times(2.0, 0.2), rtol=0, atol=1e-12)
    monkeypatch.setattr(validation, "MAX_ALLOCATION_BYTES", 20 * 8)
    with pytest.raises(ValueError, match="t_end: 36 spike times"):
        simulate_lif(np.full(3, 2.0), t_end=0.2, dt=1e-3, record_v=False)


@pytest.mark.parametrize("kwargs, message", [
    (dict(dt=0.0), "dt"),
    (dict(dt=-1e-3), "dt"),
    (dict(t_end=1e-4), "t_end"),
    (dict(current=[1.0, np.nan]), "current"),
    (dict(current=np.ones((2, 3))), "current"),
    (dict(current=np.ones((2, 3, 4))), "current"),
    (dict(tau_m=0.0), "tau_m"),
    (dict(tau_ref=-1e-3), "tau_ref"),
    (dict(tau_m=0.02, params=LIFParameters()), "tau_m"),
    (dict(v_init=1.0), "v_init"),
    (dict(v_init=[0.0, 0.1, 0.2]), "v_init"),
    (dict(record_every=0), "record_every"),
])
def test_bad_arguments_raise_value_error_naming_them(kwargs, message):
    arguments = dict(current=[1.5, 2.0], t_end=0.1, dt=1e-3) | kwargs
    with pytest.raises(ValueError, match=message):
        simulate_lif(**arguments)


def test_bad_types_and_parameter_objects_are_rejected():
    with pytest.raises(TypeError, match="params"):
        simulate_lif(1.5, t_end=0.1, params={"tau_m": 0.02})
    with pytest.raises(TypeError, match="record_every"):
        simulate_lif(1.5, t_end=0.1, record_every=2.5)
    with pytest.raises(ValueError, match="tau_m"):
        LIFParameters(tau_m=-0.01)
    with pytest.raises(ValueError, match="V_th"):
        PhysicalLIFParameters(V_th=-70.0, V_reset=-65.0)
    with pytest.raises(ValueError, match="R"):
        PhysicalLIFParameters(R=0.0)
    with pytest.raises(ValueError, match="v_init"):
        simulate_lif(0.5, t_end=0.1, params=PhysicalLIFParameters(), v_init=-40.0)
    with pytest.raises(ValueError, match="record_every"):
        simulate_lif(np.ones(100_000), t_end=10.0, dt=1e-4)  # a 74 GiB trace is refused up front


# ------------------------------------------------------------- per-neuron and physical parameters

def test_per_neuron_parameters_equal_separate_populations():
    # Three neurons with their own tau_m and tau_ref in one run fire exactly as three runs of one
    # neuron each, for constant and time-varying inputs.
    tau_m = np.array([0.01, 0.02, 0.035])
    tau_ref = np.array([0.0, 0.002, 0.005])
    v_in = np.array([1.3, 2.5, 7.0])
    varying = np.tile(v_in[:, None], (1, 300)) * (1 + 0.3 * np.sin(np.arange(300) / 17.0))
    for current in (v_in, varying):
        together = simulate_lif(current, t_end=0.3, dt=1e-3, tau_m=tau_m, tau_ref=tau_ref)
        for i in range(3):
            alone = simulate_lif(current[i:i + 1], t_end=0.3, dt=1e-3, tau_m=tau_m[i], tau_ref=tau_ref[i])
            np.testing.assert_array_equal(together.spikes.times[i], alone.spikes.times[0])
            np.testing.assert_array_equal(together.v[i], alone.v[0])
        rates = together.spikes.rates(t_start=0.0)
        assert np.all(rates > 0)


def test_per_neuron_parameters_in_a_block_of_mixed_time_constants_match_the_analytic_rate():
    # 1,100 neurons (three kernel blocks) whose tau_m differ: each fires at lif_rate of its own
    # parameters (the periodic rate from the ISIs, exact to rounding).
    from neurosim import lif_rate
    from neurosim.rates import periodic_rates

    rng = np.random.default_rng(3)
    tau_m = rng.uniform(0.005, 0.05, 1100)
    tau_ref = rng.uniform(0.0, 0.004, 1100)
    v_in = rng.uniform(1.2, 8.0, 1100)
    result = simulate_lif(v_in, t_end=0.5, dt=1e-3, params=LIFParameters(tau_m=tau_m, tau_ref=tau_ref),
                          record_v=False)
    rates, repetitive = periodic_rates(result.spikes, 0.05)
    expected = np.array([lif_rate(v, t, r) for v, t, r in zip(v_in, tau_m, tau_ref, strict=True)])
    assert repetitive.all()
    np.testing.assert_allclose(rates, expected, rtol=1e-9)


def test_a_scalar_current_drives_every_neuron_of_per_neuron_parameters():
    result = simulate_lif(2.0, t_end=0.2, params=LIFParameters(tau_m=[0.01, 0.02]), record_v=False)
    assert result.n_neurons == 2
    assert result.spikes.times[0].size > result.spikes.times[1].size


def test_per_neuron_parameters_of_the_wrong_length_are_refused():
    with pytest.raises(ValueError, match="3 per-neuron values, but there are 2 neurons"):
        simulate_lif([1.5, 2.0], t_end=0.1, tau_m=[0.01, 0.02, 0.03])
    with pytest.raises(ValueError, match="one length"):
        LIFParameters(tau_m=[0.01, 0.02], tau_ref=[0.001, 0.002, 0.003])
    with pytest.raises(ValueError, match="tau_ref"):
        LIFParameters(tau_ref=[0.001, -0.002])
    with pytest.raises(ValueError, match="V_th"):
        PhysicalLIFParameters(V_th=[-50.0, -70.0], V_reset=-65.0)


def test_brunel_neuron_in_millivolts_fires_with_its_normalized_twin():
    # Brunel (2000): rest 0, threshold 20 mV, reset 10 mV, tau_m 20 ms, tau_ref 2 ms. A drive
    # R I = 25 mV is v_in = (0 - 10 + 25) / 10 = 1.5, with R = 100 MΩ (the default) I = 0.25 nA.
    brunel = PhysicalLIFParameters(V_rest=0.0, V_th=20.0, V_reset=10.0, tau_m=0.02, tau_ref=0.002)
    assert (brunel.R, brunel.C) == (100.0, pytest.approx(0.2))
    physical = simulate_lif(0.25, t_end=0.3, dt=1e-4, params=brunel)
    twin = simulate_lif(1.5, t_end=0.3, dt=1e-4, tau_m=0.02, tau_ref=0.002)
    np.testing.assert_allclose(physical.spikes.times[0], twin.spikes.times[0], rtol=0, atol=1e-12)
    np.testing.assert_allclose(physical.v, 10.0 + 10.0 * twin.v, rtol=0, atol=1e-9)


def test_physical_per_neuron_parameters_map_each_neuron_onto_its_normalized_twin():
    params = PhysicalLIFParameters(V_rest=[-70.0, -65.0], V_th=[-50.0, -52.0], V_reset=[-60.0, -70.0],
                                   tau_m=[0.01, 0.03], C=[0.2, 0.3], tau_ref=[0.001, 0.004])
    np.testing.assert_allclose(params.R, [50.0, 100.0])
    current = np.array([0.5, 0.25])
    v_in = params.normalized_input(current)
    np.testing.assert_allclose(v_in, [(-10.0 + 25.0) / 10.0, (5.0 + 25.0) / 18.0])
    # The same per-neuron map applies to every column of a time-varying current.
    np.testing.assert_allclose(params.normalized_input(np.tile(current[:, None], (1, 4))),
                               np.tile(v_in[:, None], (1, 4)))
    physical = simulate_lif(current, t_end=0.2, dt=1e-4, params=params)
    twin = simulate_lif(v_in, t_end=0.2, dt=1e-4, params=params.normalized())
    for a, b in zip(physical.spikes.times, twin.spikes.times, strict=True):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)
    np.testing.assert_allclose(physical.v, params.voltage(twin.v), rtol=0, atol=1e-9)
    np.testing.assert_allclose(params.normalized_voltage(physical.v), twin.v, rtol=0, atol=1e-9)


def test_resistance_capacitance_and_tau_m_determine_each_other():
    assert PhysicalLIFParameters(R=10.0, C=1.0).tau_m == pytest.approx(0.01)   # 10 MΩ x 1 nF = 10 ms
    assert PhysicalLIFParameters(tau_m=0.01, R=10.0).C == pytest.approx(1.0)
    assert PhysicalLIFParameters(tau_m=0.01, C=0.25).R == pytest.approx(40.0)
    with pytest.raises(ValueError, match="at most two of tau_m, R and C"):
        PhysicalLIFParameters(tau_m=0.01, R=10.0, C=1.0)
    with pytest.raises(ValueError, match="C"):
        PhysicalLIFParameters(C=-1.0)


def test_synaptic_weights_from_a_voltage_jump_and_a_charge():
    # A weight w adds w h(t) to v_in, so v moves by w / tau_m in all: a jump J mV is
    # w = tau_m J / (V_th - V_reset). Checked against a simulation: a short pulse of total
    # normalized charge w moves v by w / tau_m (with tau_m >> pulse).
    brunel = PhysicalLIFParameters(V_rest=0.0, V_th=20.0, V_reset=10.0, tau_m=0.02, tau_ref=0.002)
    assert brunel.weight_from_jump(0.1) == pytest.approx(0.02 * 0.1 / 10.0, rel=1e-15)
    # 0.5 pC into 0.2 nF is a 2.5 mV jump.
    assert brunel.weight_from_charge(0.5) == pytest.approx(brunel.weight_from_jump(2.5), rel=1e-15)
    weight = brunel.weight_from_jump(2.5)
    pulse_steps, dt = 10, 1e-6
    current = np.zeros((1, 2000))
    current[0, :pulse_steps] = weight / (pulse_steps * dt)
    run = simulate_lif(current, t_end=2000 * dt, dt=dt, tau_m=0.02, v_init=0.0)
    jump_mv = 10.0 * run.v[0, pulse_steps] / np.exp(-0.5 * pulse_steps * dt / 0.02)
    assert jump_mv == pytest.approx(2.5, rel=1e-4)
    # Per-neuron parameters scale a (n_post, n_pre) matrix row by row.
    params = PhysicalLIFParameters(tau_m=[0.01, 0.02], V_th=[-50.0, -55.0])
    np.testing.assert_allclose(params.weight_from_jump(np.ones((2, 3))),
                               [[0.01 / 15.0] * 3, [0.02 / 10.0] * 3])


def test_parameter_objects_compare_by_value_and_default_in_one_place():
    import neurosim.lif as lif_module
    from neurosim import lif_rate

    assert LIFParameters(tau_m=[0.01, 0.02]) == LIFParameters(tau_m=np.array([0.01, 0.02]))
    assert LIFParameters() != LIFParameters(tau_m=0.03)
    assert (LIFParameters().tau_m, LIFParameters().tau_ref) == (lif_module.DEFAULT_TAU_M,
                                                                lif_module.DEFAULT_TAU_REF)
    assert PhysicalLIFParameters().normalized() == LIFParameters()
    assert lif_rate(2.0) == lif_rate(2.0, lif_module.DEFAULT_TAU_M, lif_module.DEFAULT_TAU_REF)


def test_time_constants_in_milliseconds_warn():
    from neurosim import UnitsWarning

    with pytest.warns(UnitsWarning, match="tau_m=0.02"):
        LIFParameters(tau_m=20)
    with pytest.warns(UnitsWarning, match="tau_ref=0.002"):
        PhysicalLIFParameters(tau_ref=2)
    with pytest.warns(UnitsWarning, match="tau_m=0.02"):
        simulate_lif(1.5, t_end=0.01, tau_m=20, record_v=False)
