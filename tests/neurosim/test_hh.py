"""The Hodgkin-Huxley simulator against an independent solve_ivp reference (hh_reference.py).

The reference integrates the same equations, written out separately, with DOP853 at rtol 1e-9 and
locates spikes by event root-finding; its rates and spike times are exact to far better than the
tolerances below, so the tolerances measure the simulator's time-stepping error only.
"""

import math

import numpy as np
import pytest
from scipy.optimize import brentq

import neurosim.hh as hh_module
from neurosim.hh import HHParameters, hh_steady_state, simulate_hh
from tests.neurosim.hh_reference import (
    rate_from_spike_times,
    rate_functions,
    reference_rate,
    reference_spike_times,
    reference_trajectory,
)

METHODS = ["euler", "exponential_euler"]
# Currents 0-20 µA/cm², away from the onset of repetitive firing (~6.26): two silent, four firing.
F_I_CURRENTS = [0.0, 3.0, 8.0, 10.0, 15.0, 20.0]
F_I_T_END, F_I_T_SKIP = 0.6, 0.1      # s; the rate is the inverse mean ISI after the transient


def resting_potential(params: HHParameters) -> float:
    """The fixed point of the HH equations with no input: the root of the total ionic current with
    every gate at its steady state, from the reference's rate functions (brentq, xtol 1e-12 mV)."""
    def ionic(v):
        alpha_m, beta_m, alpha_h, beta_h, alpha_n, beta_n = rate_functions(v)
        m, h, n = alpha_m / (alpha_m + beta_m), alpha_h / (alpha_h + beta_h), alpha_n / (alpha_n + beta_n)
        return (params.g_na * m**3 * h * (v - params.e_na) + params.g_k * n**4 * (v - params.e_k)
                + params.g_l * (v - params.e_l))
    return brentq(ionic, -80.0, -50.0, xtol=1e-12)


@pytest.fixture(scope="module")
def f_i_reference():
    return np.array([reference_rate(current, F_I_T_END, F_I_T_SKIP) for current in F_I_CURRENTS])


@pytest.mark.parametrize("method", METHODS)
def test_f_i_curve_at_dt_10us_is_within_1_hz_of_solve_ivp(method, f_i_reference):
    # Both sides use the inverse mean ISI of the spikes in [0.1 s, 0.6 s), free of the 2 Hz
    # quantisation a spike count over 0.5 s would add. Measured errors: Euler <= 0.05 Hz away from
    # the onset, exponential Euler about -0.2 to -0.3 Hz; the tolerance is 1 Hz.
    result = simulate_hh(F_I_CURRENTS, F_I_T_END, dt=1e-5, method=method, record_v=False)
    rates = np.array([rate_from_spike_times(times, F_I_T_SKIP, F_I_T_END)
                      for times in result.spikes.times])
    assert f_i_reference[:2].tolist() == [0.0, 0.0]
    assert np.all(f_i_reference[2:] > 50.0)
    np.testing.assert_allclose(rates, f_i_reference, atol=1.0, rtol=0)


def test_resting_potential_without_input_is_the_fixed_point_near_minus_65_mV():
    rest = resting_potential(HHParameters())
    assert abs(rest + 65.0) < 0.01                     # E_L = -54.387 is chosen for this
    result = simulate_hh(0.0, 0.1, dt=1e-5)
    assert result.spikes.times[0].size == 0
    # Forward Euler has the ODE's fixed points; 100 ms of relaxation from -65 mV leave < 1e-3 mV.
    assert abs(result.v[0, -1] - rest) < 1e-3
    assert np.all(np.abs(result.v[0] - rest) < 0.01)


def test_changed_parameters_move_the_resting_potential():
    params = HHParameters(e_l=-60.0, g_l=0.5)
    rest = resting_potential(params)
    result = simulate_hh(0.0, 0.2, dt=1e-5, params=params, v_init=rest)
    assert abs(rest + 65.0) > 0.5
    assert np.max(np.abs(result.v[0] - rest)) < 1e-6   # started at the fixed point, stays there


@pytest.mark.parametrize("method", METHODS)
def test_voltage_trace_matches_solve_ivp_and_converges_at_first_order(method):
    # 15 ms at 10 µA/cm² cover the first spike and the recovery. Both methods are first order: the
    # largest error (on the upstroke, where V moves 400 mV/ms and a small delay is a large error)
    # shrinks about tenfold when dt does.
    errors = []
    for dt in (1e-5, 1e-6):
        result = simulate_hh(10.0, 0.015, dt=dt, method=method)
        exact = reference_trajectory(10.0, result.t)
        errors.append(np.max(np.abs(result.v[0] - exact[0])))
    assert errors[1] < 1.0                              # mV, at dt = 1 µs (measured 0.5-0.8)
    assert 7.0 < errors[0] / errors[1] < 13.0


@pytest.mark.parametrize("method", METHODS)
def test_first_spike_time_matches_solve_ivp_and_converges(method):
    exact = reference_spike_times(10.0, 0.005)[0]       # about 1.90 ms
    errors = [abs(simulate_hh(10.0, 0.005, dt=dt, method=method, record_v=False).spikes.times[0][0]
                  - exact) for dt in (1e-5, 1e-6)]
    assert errors[0] < 3e-5                             # s: measured 17 µs (Euler), 26 µs (exp. Euler)
    assert errors[1] < 4e-6                             # first order: ~10x smaller
    assert errors[1] < errors[0] / 5


def test_spike_times_are_interpolated_threshold_crossings_of_the_trace():
    # From the recorded trace alone: the crossing of 0 mV between the two samples that bracket it.
    result = simulate_hh(15.0, 0.1, dt=1e-5)
    v, t = result.v[0], result.t
    above = v >= 0.0
    crossing = np.nonzero(~above[:-1] & above[1:])[0]
    expected = t[crossing] + (0.0 - v[crossing]) / (v[crossing + 1] - v[crossing]) * result.dt
    spikes = result.spikes.times[0]
    assert spikes.size == crossing.size > 3
    np.testing.assert_allclose(spikes, expected, rtol=0, atol=1e-12)
    assert np.any(np.abs(spikes / result.dt - np.round(spikes / result.dt)) > 0.1)   # off the grid


def test_threshold_argument_moves_the_crossing_earlier():
    low = simulate_hh(10.0, 0.005, threshold=-20.0, record_v=False).spikes.times[0]
    zero = simulate_hh(10.0, 0.005, record_v=False).spikes.times[0]
    assert low.size == zero.size == 1 and low[0] < zero[0]


def test_rate_functions_are_exact_at_their_removable_singularities():
    # α_n(-55) = 0.1 and α_m(-40) = 1 (the limits of x/(1 - e^{-x})); steady states from them.
    m, _, n = hh_steady_state([-55.0, -40.0])
    n_at_singularity = 0.1 / (0.1 + 0.125 * math.exp(-10.0 / 80.0))
    m_at_singularity = 1.0 / (1.0 + 4.0 * math.exp(-25.0 / 18.0))
    assert n[0] == pytest.approx(n_at_singularity, rel=1e-14)
    assert m[1] == pytest.approx(m_at_singularity, rel=1e-14)
    # Continuous through them: the reference's expm1 form a hair away agrees to 1e-12.
    for v in (-55.0, -40.0):
        for offset in (-1e-7, 1e-7, -0.05, 0.05, -3.0, 3.0):
            alpha_m, beta_m, alpha_h, beta_h, alpha_n, beta_n = rate_functions(v + offset)
            m, h, n = hh_steady_state(v + offset)
            assert m[0] == pytest.approx(alpha_m / (alpha_m + beta_m), rel=1e-12)
            assert h[0] == pytest.approx(alpha_h / (alpha_h + beta_h), rel=1e-12)
            assert n[0] == pytest.approx(alpha_n / (alpha_n + beta_n), rel=1e-12)


def test_gates_start_at_steady_state_of_v_init():
    result = simulate_hh([0.0, 0.0], 1e-3, v_init=[-65.0, -55.0], record_gates=True)
    for index, v in enumerate((-65.0, -55.0)):
        alpha_m, beta_m, alpha_h, beta_h, alpha_n, beta_n = rate_functions(v)
        assert result.v[index, 0] == v
        assert result.extra["m"][index, 0] == pytest.approx(alpha_m / (alpha_m + beta_m), rel=1e-12)
        assert result.extra["h"][index, 0] == pytest.approx(alpha_h / (alpha_h + beta_h), rel=1e-12)
        assert result.extra["n"][index, 0] == pytest.approx(alpha_n / (alpha_n + beta_n), rel=1e-12)


def test_record_every_decimates_and_record_v_false_keeps_the_same_spikes():
    currents = [0.0, 10.0, 20.0]
    full = simulate_hh(currents, 0.05, record_gates=True)
    assert full.v.shape == (3, 5000) and full.t.shape == (5000,)
    np.testing.assert_allclose(full.t, np.arange(5000) * 1e-5, rtol=1e-12)
    thinned = simulate_hh(currents, 0.05, record_every=7, record_gates=True)
    assert thinned.v.shape == (3, 715)                 # samples before steps 0, 7, ..., 4998
    np.testing.assert_array_equal(thinned.v, full.v[:, ::7])
    np.testing.assert_allclose(thinned.t, full.t[::7], rtol=1e-12)
    for gate in "mhn":
        np.testing.assert_array_equal(thinned.extra[gate], full.extra[gate][:, ::7])
    spikes_only = simulate_hh(currents, 0.05, record_v=False)
    assert spikes_only.v is None and spikes_only.extra == {} and spikes_only.t.size == 0
    for result in (thinned, spikes_only):
        for mine, theirs in zip(result.spikes.times, full.spikes.times, strict=True):
            np.testing.assert_array_equal(mine, theirs)
    assert "hh" in repr(full) and "not recorded" in repr(spikes_only)


def test_full_spike_buffers_resume_without_changing_the_result(monkeypatch):
    reference = simulate_hh([10.0, 20.0], 0.5, record_every=10)
    monkeypatch.setattr(hh_module, "_SPIKES_PER_SECOND", 0.0)     # 16 spikes a row, ~40 per neuron
    resumed = simulate_hh([10.0, 20.0], 0.5, record_every=10, progress=True)
    np.testing.assert_array_equal(resumed.v, reference.v)
    assert min(times.size for times in reference.spikes.times) > 32
    for mine, theirs in zip(resumed.spikes.times, reference.spikes.times, strict=True):
        np.testing.assert_array_equal(mine, theirs)


def test_current_forms_scalar_per_neuron_and_over_time():
    n_steps = 3000
    scalar = simulate_hh(10.0, n_steps * 1e-5)
    per_neuron = simulate_hh([10.0, 10.0], n_steps * 1e-5)
    over_time = simulate_hh(np.full((2, n_steps), 10.0), n_steps * 1e-5)
    assert scalar.n_neurons == 1 and per_neuron.n_neurons == 2
    np.testing.assert_array_equal(over_time.v, per_neuron.v)
    np.testing.assert_array_equal(per_neuron.v[1], scalar.v[0])
    # A step switched on at 20 ms (from rest) spikes as a step at 0 does, 20 ms later; the 4 µV
    # by which rest differs from the -65 mV start shifts it by < 1 µs.
    step_on = np.zeros((1, n_steps))
    step_on[0, 2000:] = 10.0
    delayed = simulate_hh(step_on, n_steps * 1e-5)
    assert delayed.spikes.times[0].size == 1
    assert abs(delayed.spikes.times[0][0] - 0.02 - scalar.spikes.times[0][0]) < 1e-6


@pytest.mark.parametrize("method", METHODS)
def test_divergence_at_large_dt_raises_with_the_dt_and_a_stable_one(method):
    with pytest.raises(FloatingPointError, match=r"dt = 0\.0002 s.*dt <= 2e-05 s"):
        simulate_hh([10.0, 100.0], 0.05, dt=2e-4, method=method)


@pytest.mark.parametrize(("kwargs", "error", "name"), [
    ({"dt": 0.0}, ValueError, "dt"),
    ({"dt": -1e-5}, ValueError, "dt"),
    ({"t_end": 1e-6}, ValueError, "t_end"),
    ({"current": [1.0, np.nan]}, ValueError, "current"),
    ({"current": np.zeros((2, 7))}, ValueError, "current"),
    ({"current": np.zeros((2, 3, 4))}, ValueError, "current"),
    ({"current": []}, ValueError, "current"),
    ({"current": "ten"}, TypeError, "current"),
    ({"method": "rk4"}, ValueError, "method"),
    ({"record_every": 0}, ValueError, "record_every"),
    ({"record_every": 2.5}, TypeError, "record_every"),
    ({"threshold": float("inf")}, ValueError, "threshold"),
    ({"v_init": [-65.0, -60.0, -55.0]}, ValueError, "v_init"),
    ({"v_init": np.nan}, ValueError, "v_init"),
    ({"params": {"g_na": 120.0}}, TypeError, "params"),
    ({"record_v": "yes"}, TypeError, "record_v"),
])
def test_bad_arguments_raise_naming_the_argument(kwargs, error, name):
    arguments = {"current": [5.0, 10.0], "t_end": 1e-3, "dt": 1e-5} | kwargs
    with pytest.raises(error, match=name):
        simulate_hh(**arguments)


@pytest.mark.parametrize("field", ["capacitance", "g_na", "g_k", "g_l"])
def test_parameters_must_be_positive_and_are_frozen(field):
    with pytest.raises(ValueError, match=field):
        HHParameters(**{field: 0.0})
    params = HHParameters()
    with pytest.raises(AttributeError):
        params.g_na = 1.0
    assert (params.capacitance, params.g_na, params.g_k, params.g_l) == (1.0, 120.0, 36.0, 0.3)
    assert (params.e_na, params.e_k, params.e_l, params.v_rest) == (50.0, -77.0, -54.387, -65.0)


def test_recording_a_huge_population_is_refused_with_advice():
    # 100,000 neurons x 1 s at 0.01 ms would be 75 GiB of voltage trace: refused before allocating.
    with pytest.raises(ValueError, match=r"record_v=False.*record_every >= 38"):
        simulate_hh(np.zeros(100_000), 1.0, dt=1e-5)


@pytest.mark.parametrize("kwargs, culprit", [(dict(current=1e9), r"input reaches 1e\+09 µA/cm²"),
                                             (dict(current=5.0, v_init=1e6), r"v_init = 1e\+06 mV")])
def test_divergence_at_a_stable_dt_blames_the_input_not_dt(kwargs, culprit):
    # Issue 9 item 7: with dt already at the usual 0.01 ms, a huge current or v_init is what is
    # wrong; the message must say so instead of asking for dt <= 0.02 ms.
    message = rf"dt = 1e-05 s.*within the stable range.*{culprit}"
    with pytest.raises(FloatingPointError, match=message) as info:
        simulate_hh(t_end=0.002, dt=1e-5, **kwargs)
    assert "too large" not in str(info.value)
