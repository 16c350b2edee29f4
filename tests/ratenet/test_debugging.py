"""debug_on_small_data: each check passes on a healthy network and fails, with advice, on the
fault it exists to catch; the user's network, data and optimiser are never changed."""

import math

import numpy as np
import pytest

import ratenet as rn


@pytest.fixture(scope="module")
def digits():
    X_train, _, y_train, _ = rn.datasets.digits(seed=0)
    return X_train, y_train


def _state(net):
    """Copies of every parameter and buffer, and the dropout generators' states."""
    arrays = [array.copy() for layer in net.layers
              for array in (*layer.parameters(), *layer.buffers().values())]
    generators = [layer.rng.bit_generator.state for layer in net.layers if isinstance(layer, rn.Dropout)]
    return arrays, generators, net.history, net.dtype


def _assert_unchanged(net, before):
    arrays, generators, history, dtype = _state(net)
    for old, new in zip(before[0], arrays, strict=True):
        np.testing.assert_array_equal(old, new)
    assert generators == before[1] and history is before[2] and dtype == before[3]


def test_a_healthy_network_passes_every_check_and_is_left_unchanged(digits):
    X, y = digits
    net = rn.Network([rn.Dense(64, 32), rn.BatchNorm(32), rn.ReLU(), rn.Dropout(0.3), rn.Dense(32, 10)],
                     loss="softmax_cross_entropy", seed=0)
    before = _state(net)
    X_before, y_before = X.copy(), y.copy()
    optimizer = rn.Adam(lr=0.01)
    report = rn.debug_on_small_data(net, X, y, optimizer=optimizer)
    assert report.passed, repr(report)
    assert [check.name for check in report.checks] == ["gradient_check", "initial_loss",
                                                       "overfit_small_subset"]
    assert report["gradient_check"].numbers["max_relative_error"] < 1e-6
    assert report["initial_loss"].numbers["expected"] == pytest.approx(math.log(10), rel=1e-15)
    overfit = report["overfit_small_subset"].numbers
    assert overfit["final_loss"] <= 0.01 * overfit["initial_loss"] and overfit["accuracy"] == 1.0
    assert "every check passed" in repr(report) and "[pass] initial_loss" in repr(report)
    _assert_unchanged(net, before)
    np.testing.assert_array_equal(X, X_before)
    np.testing.assert_array_equal(y, y_before)
    assert optimizer.step_count == 0


def test_a_float32_network_is_checked_in_float64_and_stays_float32(digits):
    X, y = digits
    net = rn.MLP([64, 16, 10], activation="tanh", dtype=np.float32, seed=1)
    before = _state(net)
    report = rn.debug_on_small_data(net, X, y)
    assert report.passed, repr(report)
    _assert_unchanged(net, before)
    assert net.dense_layers[0].W.dtype == np.float32


def test_a_wrong_backward_pass_fails_the_gradient_check_with_advice(digits):
    class ForgetfulTanh(rn.Tanh):
        """tanh whose backward drops the derivative."""

        def backward(self, grad_output):
            return grad_output

    X, y = digits
    net = rn.Network([rn.Dense(64, 16), ForgetfulTanh(), rn.Dense(16, 10)], loss="softmax_cross_entropy")
    report = rn.debug_on_small_data(net, X, y)
    check = report["gradient_check"]
    assert check.passed is False and check.numbers["max_relative_error"] > 1e-3
    assert "weight layer 0" in check.advice and "backward()" in check.advice
    assert not report.passed and "[FAIL] gradient_check" in repr(report)


def test_unscaled_inputs_fail_the_initial_loss_check_with_advice(digits):
    X, y = digits
    net = rn.MLP([64, 100, 10], activation="relu", seed=0)
    report = rn.debug_on_small_data(net, X * 100, y, epochs=5)
    check = report["initial_loss"]
    assert check.passed is False and check.numbers["initial_loss"] > 10 * math.log(10)
    assert "Standardize the inputs" in check.advice


def test_expected_initial_losses_of_the_other_losses(digits):
    X, y = digits
    rng = np.random.default_rng(0)
    targets = rng.normal(size=(len(X), 3))
    report = rn.debug_on_small_data(rn.MLP([64, 16, 3], activation="tanh", output="linear"), X, targets,
                                    epochs=50)
    assert report["initial_loss"].passed
    rows = report["initial_loss"].numbers["samples"]
    assert 0.5 < report["initial_loss"].numbers["expected"] / 1.5 < 2   # 1/2 E||t||^2 = 1.5 for N(0, 1)
    assert rows == 1000
    binary = rn.debug_on_small_data(rn.MLP([64, 16, 2], output="sigmoid"), X,
                                    (targets[:, :2] > 0).astype(float), epochs=20)
    assert binary["initial_loss"].numbers["expected"] == pytest.approx(2 * math.log(2))
    sparse = rn.debug_on_small_data(rn.Network([rn.Dense(64, 16), rn.Tanh(), rn.Dense(16, 10)],
                                               loss="sparsemax"), X, y, epochs=50)
    assert sparse["initial_loss"].numbers["expected"] == pytest.approx(0.45)
    assert sparse["initial_loss"].numbers["factor"] == 10


def test_a_learning_rate_too_small_fails_to_overfit_with_advice(digits):
    X, y = digits
    net = rn.MLP([64, 32, 10], activation="relu", seed=0)
    report = rn.debug_on_small_data(net, X, y, optimizer=rn.SGD(lr=1e-6), epochs=10)
    check = report["overfit_small_subset"]
    assert check.passed is False and check.numbers["epochs"] == 10
    assert "raise the learning rate" in check.advice and "SGD(lr=1e-06)" in check.advice
    assert report["gradient_check"].passed and report["initial_loss"].passed


def test_a_diverging_optimiser_is_reported_not_raised(digits):
    X, y = digits
    report = rn.debug_on_small_data(rn.MLP([64, 32, 10], activation="relu"), X, y,
                                    optimizer=rn.SGD(lr=1e6), epochs=20)
    check = report["overfit_small_subset"]
    assert check.passed is False and "lower the learning rate" in check.advice


def test_a_trained_network_is_flagged_in_the_initial_loss_summary(digits):
    X, y = digits
    net = rn.MLP([64, 16, 10], seed=0)
    net.fit(X[:100], y[:100], epochs=1, progress=False)
    report = rn.debug_on_small_data(net, X, y, epochs=5)
    assert "has been trained" in report["initial_loss"].summary


def test_bad_input_raises_and_leaves_the_network_as_it_was(digits):
    X, y = digits
    net = rn.MLP([64, 16, 10], seed=0)
    before = _state(net)
    with pytest.raises(ValueError, match="class range"):
        rn.debug_on_small_data(net, X, y + 5)
    with pytest.raises(ValueError, match="shape"):
        rn.debug_on_small_data(net, X[:, :10], y)
    with pytest.raises(ValueError, match="different numbers of samples"):
        rn.debug_on_small_data(net, X, y[:-1])
    with pytest.raises(ValueError, match="overfit_fraction"):
        rn.debug_on_small_data(net, X, y, overfit_fraction=2)
    with pytest.raises(TypeError, match="Network"):
        rn.debug_on_small_data("net", X, y)
    with pytest.raises(KeyError, match="the checks are"):
        rn.debug_on_small_data(net, X, y, epochs=2)["speed"]
    _assert_unchanged(net, before)
