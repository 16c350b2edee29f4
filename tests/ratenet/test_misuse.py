"""Numbers at the edges and arguments that are wrong (issue 9, items 7 and 9, ratenet's part):
each case returned a wrong number, NaN, or an unhelpful error before."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import ratenet as rn


# ------------------------------------------------------------------------------------- numerics
@pytest.mark.parametrize("z", [-40.0, -300.0, -700.0, -745.0, 30.0, 700.0])
def test_sigmoid_keeps_full_relative_precision_on_both_sides(z):
    # reference: 1 / (1 + e^-z) in exact-enough form, e^z / (1 + e^z) for z < 0
    exact = math.exp(z) / (1 + math.exp(z)) if z < 0 else 1 / (1 + math.exp(-z))
    value = float(rn.Sigmoid()(np.array([z]))[0])
    assert value == pytest.approx(exact, rel=1e-14, abs=0)
    slope = float(rn.Sigmoid().derivative(np.array([z]))[0])
    expected_slope = math.exp(-abs(z)) / (1 + math.exp(-abs(z))) ** 2
    assert slope == pytest.approx(expected_slope, rel=1e-14, abs=0)


@pytest.mark.parametrize("activation", [rn.Softmax(), rn.Sparsemax()], ids=["softmax", "sparsemax"])
def test_softmax_and_sparsemax_of_infinite_logits_are_their_limits(activation):
    out = activation(np.array([[0.0, np.inf], [-np.inf, 1.0], [np.inf, np.inf]]))
    np.testing.assert_array_equal(out, [[0.0, 1.0], [0.0, 1.0], [0.5, 0.5]])


@settings(max_examples=200, deadline=None)
@given(arrays(np.float64, st.tuples(st.integers(1, 4), st.integers(1, 6)),
              elements=st.floats(-1.7e308, 1.7e308, allow_nan=False, allow_infinity=False)))
def test_softmax_and_sparsemax_rows_are_finite_and_sum_to_one_for_extreme_finite_logits(z):
    for activation in (rn.Softmax(), rn.Sparsemax()):
        out = activation(z)
        assert np.isfinite(out).all() and (out >= 0).all()
        np.testing.assert_allclose(out.sum(axis=1), 1.0, rtol=1e-12)


def test_soft_lif_rate_saturates_for_overflowing_inputs():
    activation = rn.SoftLIFRate()
    z = np.array([3.6e306, 1e308, -3.6e306])
    rates = activation(z)
    assert rates[0] == rates[1] == pytest.approx(activation.amplitude / activation.tau_ref, rel=1e-12)
    assert rates[2] == 0.0
    np.testing.assert_array_equal(activation.derivative(z), [0.0, 0.0, 0.0])


# ------------------------------------------------------------------------------------ arguments
def test_complex_inputs_are_refused_not_truncated():
    net = rn.MLP([2, 3, 2], seed=0)
    with pytest.raises(TypeError, match="X must be real"):
        net.predict(np.array([[1 + 2j, 0.5]]))
    with pytest.raises(TypeError, match="X must be real"):
        net.fit(np.ones((4, 2)) * (1 + 1j), np.arange(4) % 2, progress=False)


def test_a_uint64_label_beyond_int64_is_reported_as_itself():
    net = rn.MLP([2, 3, 2], seed=0)
    with pytest.raises(ValueError, match="9223372036854775808"):
        net.fit(np.ones((2, 2)), np.array([0, 2**63], dtype=np.uint64), progress=False)


def test_validation_split_as_a_string_is_a_type_error_naming_it():
    net = rn.MLP([2, 3, 2], seed=0)
    with pytest.raises(TypeError, match="validation_split"):
        net.fit(np.ones((10, 2)), np.arange(10) % 2, validation_split="0.1", progress=False)


def test_class_labels_given_to_a_mean_squared_error_network_suggest_cross_entropy():
    net = rn.Network([rn.Dense(2, 3), rn.Tanh(), rn.Dense(3, 3)], seed=0)  # default loss: MSE
    with pytest.raises(ValueError, match="softmax_cross_entropy"):
        net.fit(np.ones((6, 2)), np.arange(6) % 3, progress=False)


@pytest.mark.parametrize("plot", [
    lambda ax, history, net: rn.plot_learning_curves(history, ax=ax),
    lambda ax, history, net: rn.plot_gradient_norms(history, ax=ax),
    lambda ax, history, net: rn.plot_activation_curves(ax=ax),
    lambda ax, history, net: rn.plot_features(net.dense_layers[0].W, image_shape=(2, 2), ax=ax),
])
def test_plots_given_something_other_than_axes_name_ax(plot):
    net = rn.MLP([4, 3, 2], seed=0)
    history = net.fit(np.ones((6, 4)), np.arange(6) % 2, epochs=2, progress=False)
    with pytest.raises(TypeError, match="ax must be a matplotlib Axes"):
        plot("the axes", history, net)


def test_an_mlp_without_its_output_size_says_so():
    split = rn.datasets.digits()
    with pytest.warns(UserWarning, match=r"MLP\(\[64, 100, 10\]\)"):
        rn.MLP([64, 100]).fit(split.X_train[:50], split.y_train[:50], epochs=1, progress=False)


def test_early_stopping_on_a_key_the_logs_lack_fails_before_training():
    net = rn.MLP([2, 3, 2], seed=0)
    before = net.dense_layers[0].W.copy()
    with pytest.raises(ValueError, match="bogus"):
        net.fit(np.ones((6, 2)), np.arange(6) % 2, epochs=3, callbacks=[rn.EarlyStopping("bogus")],
                progress=False)
    np.testing.assert_array_equal(net.dense_layers[0].W, before)  # not one epoch ran
