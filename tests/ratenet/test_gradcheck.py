"""Backprop against central finite differences (float64), for every activation away from its
kinks, every loss, and networks of 1 to 4 hidden layers.

``check_gradients`` returns the largest norm-wise relative error ||g_bp - g_fd|| / (||g_bp|| +
||g_fd||) over all parameter arrays. With eps = 1e-6 the finite differences carry an error of about
eps^2 |E'''| + 1e-16 |E| / eps, i.e. ~1e-10 relative for these O(1) losses, so the issue's bound
of 1e-6 leaves three orders of magnitude of room while a wrong gradient (a missing factor, a
transposed matrix) gives errors of order 0.1-1.
"""

import numpy as np
import pytest

import ratenet as rn
from ratenet.activations import activation_names

TOLERANCE = 1e-6

#: Registered activations that a gradient check cannot test: their derivative is zero almost
#: everywhere (threshold), they are inference-only (one_hot), or they need a measured rate curve
#: built elsewhere (rate_curve, tested in test_activations.py). Every other registered activation
#: is checked automatically, so a newly registered one joins this test without an edit.
NOT_GRADIENT_CHECKED = {"threshold", "one_hot", "rate_curve"}
CHECKED_ACTIVATIONS = [name for name in activation_names() if name not in NOT_GRADIENT_CHECKED]


def _data(n_inputs=3, n_samples=6, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n_samples, n_inputs)), rng.integers(0, 3, size=n_samples)


def _away_from_kinks(net, X, margin=1e-3):
    """True when no pre-activation of an element-wise activation lies within ``margin`` of 0,
    where ReLU and the LIF rate (default gain/bias) have their kinks; finite differences with
    eps = 1e-6 on the weights move z by far less than the margin."""
    h = X
    for layer in net.layers:
        if isinstance(layer, rn.Dense):
            h = h @ layer.W.T + layer.b
            if np.any(np.abs(h) < margin):
                return False
        else:
            h = layer.function(h) if hasattr(layer, "function") else layer.forward(h)
    return True


@pytest.mark.parametrize("n_hidden", [1, 2, 3, 4])
@pytest.mark.parametrize("activation", CHECKED_ACTIVATIONS)
def test_backprop_matches_finite_differences_for_every_activation_and_depth(activation, n_hidden):
    X, y = _data()
    for seed in range(20):  # the first seed whose pre-activations keep clear of the kinks
        net = rn.MLP([3] + [4] * n_hidden + [3], activation=activation, output="softmax", seed=seed)
        if _away_from_kinks(net, X):
            break
    else:
        pytest.fail("no seed keeps the pre-activations away from the kinks")
    error = rn.check_gradients(net, X, y)
    assert error < TOLERANCE, repr(error)


@pytest.mark.parametrize("output, target_kind", [("softmax", "labels"), ("softmax", "onehot"),
                                                 ("sigmoid", "binary"), ("linear", "real")])
def test_backprop_matches_finite_differences_for_every_mlp_output_loss(output, target_kind):
    X, labels = _data(n_samples=7, seed=3)
    rng = np.random.default_rng(4)
    y = {"labels": labels, "onehot": np.eye(3)[labels], "binary": rng.integers(0, 2, size=(7, 3)),
         "real": rng.normal(size=(7, 3))}[target_kind]
    net = rn.MLP([3, 5, 4, 3], activation="tanh", output=output, seed=1)
    error = rn.check_gradients(net, X, y)
    assert error < TOLERANCE, repr(error)


@pytest.mark.parametrize("loss", [rn.L1Error(), rn.BinaryCrossEntropy(from_logits=False), rn.MSE()],
                         ids=repr)
def test_backprop_matches_finite_differences_for_losses_on_sigmoid_outputs(loss):
    # L1's kink is where output == target: sigmoid outputs in (0, 1) against targets 0/1 never touch it
    X, _ = _data(n_samples=5, seed=5)
    y = np.random.default_rng(6).integers(0, 2, size=(5, 2))
    net = rn.Network([rn.Dense(3, 4), rn.Tanh(), rn.Dense(4, 2), rn.Sigmoid()], loss=loss, seed=2)
    error = rn.check_gradients(net, X, y)
    assert error < TOLERANCE, repr(error)


def test_gradient_check_reports_per_layer_errors():
    X, y = _data()
    result = rn.check_gradients(rn.MLP([3, 4, 3], activation="sigmoid", seed=0), X, y)
    assert [entry["layer"] for entry in result.layers] == [0, 1]
    assert float(result) == max(max(entry["W"], entry["b"]) for entry in result.layers)


def test_gradient_check_catches_a_wrong_backward_pass():
    class WrongTanh(rn.Tanh):
        """tanh whose backward forgets the derivative (passes the gradient straight through)."""

        def backward(self, grad_output):
            return grad_output

    X, y = _data()
    net = rn.Network([rn.Dense(3, 4), WrongTanh(), rn.Dense(4, 3)], loss="softmax_cross_entropy", seed=0)
    assert rn.check_gradients(net, X, y) > 1e-3


def test_gradient_check_refuses_float32():
    net = rn.MLP([3, 4, 3], dtype=np.float32)
    with pytest.raises(ValueError, match="float64"):
        rn.check_gradients(net, *_data())


def test_gradient_check_on_sampled_entries_agrees_and_catches_errors():
    X, y = _data()
    net = rn.MLP([3, 8, 6, 3], activation="tanh", seed=0)
    full, sampled = rn.check_gradients(net, X, y), rn.check_gradients(net, X, y, max_entries=5, seed=1)
    assert full < TOLERANCE and sampled < TOLERANCE
    # 5 entries of each array larger than 5 were checked: the errors differ from the full check's
    assert [entry["layer"] for entry in sampled.layers] == [0, 1, 2]
    assert sampled.layers[0]["W"] != full.layers[0]["W"]

    class WrongTanh(rn.Tanh):
        def backward(self, grad_output):
            return grad_output

    wrong = rn.Network([rn.Dense(3, 8), WrongTanh(), rn.Dense(8, 3)], loss="softmax_cross_entropy", seed=0)
    assert rn.check_gradients(wrong, X, y, max_entries=4) > 1e-3
    with pytest.raises(ValueError, match="max_entries"):
        rn.check_gradients(net, X, y, max_entries=0)
