"""Argument checks: every rejection names the argument."""

import numpy as np
import pytest

from neurosim.validation import as_current, check_choice, check_positive, time_steps


@pytest.mark.parametrize("bad", [0.0, -1e-3, float("nan"), float("inf")])
def test_check_positive_rejects_and_names_the_argument(bad):
    with pytest.raises(ValueError, match="dt"):
        check_positive("dt", bad)


def test_check_positive_rejects_non_numbers():
    with pytest.raises(TypeError, match="tau_m"):
        check_positive("tau_m", "0.02")


def test_time_steps_counts_steps_and_rejects_short_runs():
    assert time_steps(1.0, 1e-5) == (1.0, 1e-5, 100_000)
    with pytest.raises(ValueError, match="t_end"):
        time_steps(1e-4, 1e-3)


def test_as_current_shapes():
    assert as_current(5.0, 10).shape == (1, 1)
    assert as_current([0.0, 5.0, 10.0], 10).shape == (3, 1)
    assert as_current(np.zeros((2, 10)), 10).shape == (2, 10)
    with pytest.raises(ValueError, match="current"):
        as_current(np.zeros((2, 9)), 10)
    with pytest.raises(ValueError, match="current"):
        as_current([1.0, np.nan], 10)


def test_check_choice_lists_the_choices():
    with pytest.raises(ValueError, match="euler"):
        check_choice("method", "rk4", ["euler", "exponential_euler"])


def test_as_finite_array_keeps_scalars_zero_dimensional():
    from neurosim.validation import as_finite_array

    assert as_finite_array("bias", 0.5, ndim=(0, 1)).shape == ()


# --------------------------------------------------------------------------- memory guard

def test_check_allocation_names_the_argument_the_estimate_and_the_way_out():
    from neurosim.validation import check_allocation

    assert check_allocation("dt", 1000.5, "use a larger dt") == 1001
    with pytest.raises(ValueError, match=r"record_v: a 10 x 10 trace would need 7\.45 GiB.*limit of 2 GiB"
                                         r".*MAX_ALLOCATION_BYTES.*pass record_v=False"):
        check_allocation("record_v", 8e9, "pass record_v=False", what="a 10 x 10 trace")


def test_the_allocation_limit_is_read_at_every_check(monkeypatch):
    from neurosim import validation

    monkeypatch.setattr(validation, "MAX_ALLOCATION_BYTES", 100)
    with pytest.raises(ValueError, match="100 bytes"):
        validation.check_allocation("dt", 101, "use a larger dt")
    monkeypatch.setattr(validation, "MAX_ALLOCATION_BYTES", 8 * 2**30)
    assert validation.check_allocation("record_v", 4 * 2**30, "") == 4 * 2**30


def test_the_allocation_limit_comes_from_the_environment_at_import():
    import subprocess
    import sys

    code = "import neurosim.validation as v; print(v.MAX_ALLOCATION_BYTES)"
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                            env={**__import__("os").environ, "NEUROSIM_MAX_ALLOCATION_BYTES": "5e9"})
    assert int(output.stdout) == 5_000_000_000


# --------------------------------------------------------------------------- units

def test_check_time_constant_warns_for_milliseconds_typed_as_seconds():
    import neurosim as ns
    from neurosim.validation import check_time_constant

    assert issubclass(ns.UnitsWarning, UserWarning)
    with pytest.warns(ns.UnitsWarning, match=r"tau_m=20 s.*Did you mean tau_m=0\.02 \(20 ms\)"):
        assert check_time_constant("tau_m", 20) == 20.0
    with pytest.warns(ns.UnitsWarning, match=r"tau_s=0\.005"):
        check_time_constant("tau_s", [0.005, 5.0])


def test_check_time_constant_accepts_seconds_silently_and_per_neuron_arrays():
    import warnings

    from neurosim.validation import check_time_constant

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert check_time_constant("tau_m", 0.999) == 0.999
        values = check_time_constant("tau_ref", np.array([0.0, 0.002]), allow_zero=True)
    np.testing.assert_array_equal(values, [0.0, 0.002])
    assert not values.flags.writeable


@pytest.mark.parametrize("bad, error", [(0.0, ValueError), (-0.01, ValueError), ([0.01, 0.0], ValueError),
                                        (float("nan"), ValueError), (1j, TypeError), ("0.02", TypeError),
                                        (np.zeros((2, 2)) + 0.01, ValueError), ([], ValueError)])
def test_check_time_constant_rejects_non_positive_and_non_real_values(bad, error):
    from neurosim.validation import check_time_constant

    with pytest.raises(error, match="tau_m"):
        check_time_constant("tau_m", bad)


@pytest.mark.parametrize("value", [[1.0, 2j], np.array([1 + 0j]), [[1.0], [2 + 1j]]])
def test_complex_input_is_rejected_not_truncated(value):
    from neurosim.validation import as_finite_array

    with pytest.raises(TypeError, match="x must be real; got complex"):
        as_finite_array("x", value)


def test_a_synapse_time_constant_in_milliseconds_warns():
    import neurosim as ns

    with pytest.warns(ns.UnitsWarning, match=r"tau_s=0\.005"):
        assert ns.PSC(5).tau_s == 5.0
    with pytest.raises(TypeError, match="tau_s"):
        ns.PSC([0.005])


@pytest.mark.parametrize("call", [
    lambda ns: ns.simulate_lif([1.5 + 0.5j], t_end=0.01),
    lambda ns: ns.simulate_hh(5.0 + 1j, t_end=0.001),
    lambda ns: ns.psc_kernel(np.array([0.001 + 0j])),
    lambda ns: ns.lif_rate(np.array([2.0 + 1j])),
    lambda ns: ns.lif_rate_noisy(1.0, np.array([0.1 + 0.1j])),
    lambda ns: ns.rate_curve("lif", [1.0, 2.0], analytic=True)(np.array([1.5 + 1j])),
    lambda ns: ns.RateCurve([0.0, 1.0], [0.0, 5.0])(np.array([0.5 + 1j])),
    lambda ns: ns.SpikeTrains([np.array([0.1 + 0j])], t_end=1.0),
    lambda ns: ns.SpikeTrains.from_events(np.array([0]), np.array([0.1 + 0j]), 1, t_end=1.0),
    lambda ns: ns.PhysicalLIFParameters().normalized_input(np.array([0.1 + 1j])),
])
def test_complex_input_is_rejected_everywhere(call):
    # Issue 9 item 7: numpy casts complex to float by dropping the imaginary part (with a warning).
    import neurosim as ns

    with pytest.raises(TypeError, match="real; got complex"):
        call(ns)
