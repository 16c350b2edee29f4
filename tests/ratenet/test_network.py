"""Network and MLP: construction, initialisation, the matrix-form forward and backward passes
against a hand-written NumPy reference, dtypes, buffers that never leak, and input errors."""

import warnings

import numpy as np
import pytest

import ratenet as rn


def test_mlp_layout_follows_the_notes():
    net = rn.MLP([64, 100, 10], activation="sigmoid", output="softmax", seed=0)
    assert [type(layer).__name__ for layer in net.layers] == ["Dense", "Sigmoid", "Dense"]
    assert [(layer.W.shape, layer.b.shape) for layer in net.dense_layers] == [((100, 64), (100,)),
                                                                               ((10, 100), (10,))]
    assert isinstance(net.loss, rn.SoftmaxCrossEntropy)
    assert net.n_parameters == 64 * 100 + 100 + 100 * 10 + 10


def test_every_hidden_layer_gets_its_own_activation_instance():
    template = rn.Tanh()
    net = rn.MLP([3, 4, 4, 4, 2], activation=template)
    activations = [layer for layer in net.layers if isinstance(layer, rn.Activation)]
    assert len(activations) == 3 and len({id(a) for a in activations}) == 3
    assert all(type(a) is rn.Tanh for a in activations)


def test_glorot_initialisation_bounds_and_zero_biases():
    net = rn.MLP([200, 300, 10], activation="tanh", seed=0)
    for layer in net.dense_layers:
        bound = np.sqrt(6 / (layer.n_in + layer.n_out))
        assert np.abs(layer.W).max() <= bound
        # U[-b, b] has standard deviation b / sqrt(3); with >= 3,000 draws the sample value is
        # within ~1% of it (relative spread of a uniform sample's std ~ 0.45 / sqrt(n))
        assert layer.W.std() == pytest.approx(bound / np.sqrt(3), rel=0.05)
        assert not layer.b.any()


def test_he_initialisation_before_relu():
    net = rn.MLP([500, 400, 10], activation="relu", seed=0)
    first, last = net.dense_layers
    # He uniform: variance 2 / n_in (the layer feeding a ReLU); the output layer keeps Glorot
    assert first.W.var() == pytest.approx(2 / 500, rel=0.02)
    assert last.W.var() == pytest.approx(2 / (400 + 10), rel=0.05)


def test_same_seed_same_network_different_seed_different_network():
    a, b, c = (rn.MLP([5, 7, 3], seed=seed) for seed in (1, 1, 2))
    np.testing.assert_array_equal(a.dense_layers[0].W, b.dense_layers[0].W)
    assert not np.array_equal(a.dense_layers[0].W, c.dense_layers[0].W)


def test_symmetric_initialisation_warns_and_never_breaks_symmetry():
    X, y = rn.datasets.xor()
    with pytest.warns(UserWarning, match="symmetr"):
        net = rn.MLP([2, 3, 1], activation="sigmoid", output="sigmoid", init="symmetric")
    net.fit(X, y, epochs=50, batch_size=None, optimizer=rn.SGD(lr=0.5), progress=False)
    hidden = net.dense_layers[0].W
    # every hidden unit received the same updates: the rows are still identical
    np.testing.assert_allclose(hidden, np.broadcast_to(hidden[0], hidden.shape), rtol=0, atol=0)


def _reference_gradients(X, labels, W1, b1, W2, b2):
    """The notes' backprop for one tanh hidden layer and softmax cross-entropy, written out."""
    z1 = X @ W1.T + b1
    h1 = np.tanh(z1)
    logits = h1 @ W2.T + b2
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    n = len(X)
    loss = -np.mean(np.log(p[np.arange(n), labels]))
    delta2 = (p - np.eye(W2.shape[0])[labels]) / n
    delta1 = (1 - h1**2) * (delta2 @ W2)
    return loss, [(delta2.T @ h1, delta2.sum(0)), (delta1.T @ X, delta1.sum(0))][::-1]


def test_loss_and_gradients_match_the_written_out_backprop():
    rng = np.random.default_rng(0)
    X, labels = rng.normal(size=(9, 4)), rng.integers(0, 3, size=9)
    net = rn.Network([rn.Dense(4, 5), rn.Tanh(), rn.Dense(5, 3)], loss=rn.SoftmaxCrossEntropy(), seed=0)
    loss, grads = net.loss_and_gradients(X, labels)
    (W1, b1), (W2, b2) = [(layer.W, layer.b) for layer in net.dense_layers]
    expected_loss, expected = _reference_gradients(X, labels, W1, b1, W2, b2)
    assert loss == pytest.approx(expected_loss, rel=1e-13)
    for (dW, db), (eW, eb) in zip(grads, expected, strict=True):
        np.testing.assert_allclose(dW, eW, rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(db, eb, rtol=1e-12, atol=1e-15)


def test_returned_gradients_and_predictions_are_not_overwritten_by_later_calls():
    rng = np.random.default_rng(1)
    net = rn.MLP([4, 6, 3], activation="relu", seed=0)
    X1, X2 = rng.normal(size=(5, 4)), rng.normal(size=(5, 4))
    first = net.predict_proba(X1)
    _, grads = net.loss_and_gradients(X1, [0, 1, 2, 0, 1])
    kept = [dW.copy() for dW, _ in grads]
    net.predict_proba(X2)
    net.loss_and_gradients(X2, [2, 2, 2, 2, 2])
    np.testing.assert_array_equal(first, net.predict_proba(X1))
    for dW, copy in zip((dW for dW, _ in grads), kept, strict=True):
        np.testing.assert_array_equal(dW, copy)


def test_predictions_are_independent_of_chunking():
    rng = np.random.default_rng(2)
    net = rn.MLP([3, 8, 4], activation="tanh", seed=0)
    X = rng.normal(size=(2500, 3))  # more than one predict chunk of 1024 rows
    whole = net.predict_proba(X)
    np.testing.assert_allclose(whole[1500:1510], net.predict_proba(X[1500:1510]), rtol=1e-14)
    np.testing.assert_allclose(whole.sum(axis=1), 1, rtol=1e-14)
    np.testing.assert_array_equal(net.predict(X), whole.argmax(axis=1))


def test_float32_network_stays_float32_through_training_and_prediction():
    rng = np.random.default_rng(3)
    X, y = rng.normal(size=(64, 5)), rng.integers(0, 3, size=64)
    net = rn.MLP([5, 8, 3], activation="relu", dtype=np.float32, seed=0)
    net.fit(X, y, epochs=2, batch_size=16, optimizer=rn.Adam(), progress=False)
    assert all(p.dtype == np.float32 for p in net.parameters() + net.gradients())
    assert net.predict_proba(X).dtype == np.float32
    # float32 agrees with float64 to single precision on the same initial weights
    net64 = rn.MLP([5, 8, 3], activation="relu", seed=0)
    net32 = rn.MLP([5, 8, 3], activation="relu", dtype=np.float32, seed=0)
    np.testing.assert_allclose(net32.predict_proba(X), net64.predict_proba(X), rtol=1e-5, atol=1e-6)


def test_sigmoid_and_linear_outputs():
    X = np.random.default_rng(4).normal(size=(6, 2))
    binary = rn.MLP([2, 3, 1], output="sigmoid", seed=0)
    p = binary.predict_proba(X)
    assert p.shape == (6, 1) and np.all((p > 0) & (p < 1))
    np.testing.assert_array_equal(binary.predict(X), (p[:, 0] > 0.5).astype(int))
    regression = rn.MLP([2, 3, 1], output="linear", seed=0)
    assert regression.predict(X).shape == (6,)
    with pytest.raises(TypeError, match="classification"):
        regression.predict_proba(X)


@pytest.mark.parametrize("bad_X, message", [(np.ones((4, 3)), r"shape \(n_samples, 2\)"),
                                            (np.array([[0.0, np.nan]]), "finite"),
                                            ("abc", "numeric")])
def test_bad_inputs_name_the_argument(bad_X, message):
    net = rn.MLP([2, 3, 2], seed=0)
    with pytest.raises((ValueError, TypeError), match=message):
        net.predict(bad_X)


def test_label_and_length_errors():
    net = rn.MLP([2, 3, 2], seed=0)
    with pytest.raises(ValueError, match="class range"):
        net.score(np.zeros((2, 2)), [0, 2])
    with pytest.raises(ValueError, match="different numbers of samples"):
        net.loss_and_gradients(np.zeros((3, 2)), [0, 1])


def test_construction_errors():
    with pytest.raises(ValueError, match="unknown activation"):
        rn.MLP([2, 3, 2], activation="swish")
    with pytest.raises(ValueError, match="output"):
        rn.MLP([2, 3, 2], output="tanh")
    with pytest.raises(ValueError, match="n_in=4"):
        rn.Network([rn.Dense(2, 3), rn.Tanh(), rn.Dense(4, 2)])
    shared = rn.Tanh()
    with pytest.raises(ValueError, match="distinct"):
        rn.Network([rn.Dense(2, 2), shared, rn.Dense(2, 2), shared, rn.Dense(2, 1)])
    with pytest.raises(ValueError, match="unknown loss"):
        rn.Network([rn.Dense(2, 1)], loss="hinge")


def test_given_weights_are_kept_and_repr_is_readable():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        layer = rn.Dense(2, 1, weights=[[0.4, -0.2]], bias=[-0.9])
        net = rn.Network([layer], loss="mse", seed=0)
    np.testing.assert_array_equal(net.dense_layers[0].W, [[0.4, -0.2]])
    np.testing.assert_allclose(net.predict(np.array([[1.0, 1.0]])), [-0.7])
    assert "Dense(2, 1)" in repr(net) and "MSE" in repr(net)
