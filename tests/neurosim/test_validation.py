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
