"""Greedy layer-wise pre-training: each hidden layer learns from the representation below it, the
learned weights land in the network, fine-tuning runs end to end on digits, and requests that
cannot work are refused with a clear error."""

import numpy as np
import pytest

import ratenet as rn


@pytest.fixture(scope="module")
def digits():
    split = rn.datasets.digits(seed=0)
    return split.X_train[:500], split.y_train[:500], split.X_test, split.y_test


@pytest.mark.parametrize("method", ["autoencoder", "rbm"])
def test_pretraining_then_fine_tuning_runs_end_to_end_on_digits(digits, method):
    X, y, X_test, y_test = digits
    net = rn.MLP([64, 40, 30, 10], activation="sigmoid", seed=0)
    initial = [(layer.W.copy(), layer.b.copy()) for layer in net.dense_layers]
    records = rn.pretrain(net, X, method=method, epochs=6, batch_size=20, corruption=0.1, seed=1,
                          progress=False)
    assert [record.layer for record in records] == [0, 1]
    assert [(record.n_in, record.n_out) for record in records] == [(64, 40), (40, 30)]
    for record, layer, (W0, _) in zip(records, net.dense_layers, initial, strict=False):
        assert len(record.reconstruction_error) == 6
        # reconstruction error falls during pre-training ...
        assert record.reconstruction_error[-1] < record.reconstruction_error[0]
        # ... and the weights moved well away from the random initialisation
        assert np.linalg.norm(layer.W - W0) > 0.2 * np.linalg.norm(W0)
    # the output layer is left for fine-tuning
    np.testing.assert_array_equal(net.dense_layers[2].W, initial[2][0])
    history = net.fit(X, y, epochs=15, batch_size=32, optimizer=rn.Adam(lr=0.01), progress=False)
    assert history.loss[-1] < history.loss[0]
    assert net.score(X_test, y_test) > 0.8  # 10 classes: chance is 0.1
    assert method in repr(records)


def test_each_layer_is_the_trained_encoder_and_learned_from_the_fixed_layer_below(digits):
    X = digits[0][:200]
    net = rn.MLP([64, 20, 12, 10], activation="tanh", seed=0)
    records = rn.pretrain(net, X, epochs=2, loss="squared_error", tied=False, progress=False)
    for record, layer in zip(records, net.dense_layers, strict=False):
        np.testing.assert_array_equal(layer.W, record.model.encoder.W)
        np.testing.assert_array_equal(layer.b, record.model.encoder.b)
        assert record.loss == "squared_error"
    # layer 1's autoencoder saw tanh(X W0^T + b0): the first layer's final (fixed) weights
    below = np.tanh(X @ net.dense_layers[0].W.T + net.dense_layers[0].b)
    second = records[1].model
    assert second.reconstruction_error(below) == pytest.approx(
        0.5 * np.mean(np.sum((second.reconstruct(below) - below) ** 2, axis=1)), rel=1e-12)
    assert second.reconstruction_error(below) < records[1].reconstruction_error[0]


def test_auto_loss_is_cross_entropy_in_the_unit_interval_and_squared_error_outside(digits):
    X = digits[0][:100]
    net = rn.MLP([64, 16, 16, 10], activation="relu", seed=0)
    records = rn.pretrain(net, X, epochs=1, progress=False)
    assert records[0].loss == "cross_entropy"  # pixels in [0, 1]
    assert records[1].loss == "squared_error"  # ReLU outputs exceed 1
    assert records[1].input_range[1] > 1


def test_rescaling_is_folded_into_the_network_weights(digits):
    X = 4 * digits[0][:150] - 1  # pixels in [-1, 3]
    net = rn.MLP([64, 16, 10], activation="sigmoid", seed=0)
    records = rn.pretrain(net, X, method="rbm", epochs=2, rescale=True, progress=False)
    assert records[0].rescaled
    rbm = records[0].model
    low, high = X.min(axis=0), X.max(axis=0)
    span = np.where(high > low, high - low, 1)
    # the network on the original X computes the RBM's hidden probabilities of the rescaled X
    hidden = 1 / (1 + np.exp(-(X @ net.dense_layers[0].W.T + net.dense_layers[0].b)))
    np.testing.assert_allclose(hidden, rbm.hidden_probability((X - low) / span), rtol=1e-10, atol=1e-12)


def test_same_seed_same_pretraining(digits):
    weights = []
    for _ in range(2):
        net = rn.MLP([64, 12, 10], seed=0)
        rn.pretrain(net, digits[0][:100], epochs=2, corruption=0.3, seed=5, progress=False)
        weights.append(net.dense_layers[0].W.copy())
    np.testing.assert_array_equal(weights[0], weights[1])


def test_n_layers_limits_pretraining_to_the_lowest_layers(digits):
    net = rn.MLP([64, 12, 8, 10], seed=0)
    second = net.dense_layers[1].W.copy()
    records = rn.pretrain(net, digits[0][:100], epochs=1, n_layers=1, progress=False)
    assert len(records) == 1
    np.testing.assert_array_equal(net.dense_layers[1].W, second)


def test_requests_that_cannot_work_are_refused(digits):
    X = digits[0][:50]
    net = rn.MLP([64, 12, 10], activation="sigmoid", seed=0)
    with pytest.raises(ValueError, match=r"\[0, 1\].*rescale=True"):
        rn.pretrain(net, X - 0.5, method="rbm", progress=False)
    with pytest.raises(ValueError, match=r"\[0, 1\].*rescale=True"):
        rn.pretrain(net, X * 2, loss="cross_entropy", progress=False)
    with pytest.raises(ValueError, match=r"shape \(n_samples, 64\)"):
        rn.pretrain(net, X[:, :60], progress=False)
    with pytest.raises(ValueError, match="sigmoid"):
        rn.pretrain(rn.MLP([64, 12, 10], activation="relu"), X, method="rbm", progress=False)
    with pytest.raises(ValueError, match="no hidden layer"):
        rn.pretrain(rn.MLP([64, 10]), X, progress=False)
    with pytest.raises(ValueError, match="method"):
        rn.pretrain(net, X, method="pca", progress=False)
    with pytest.raises(ValueError, match="n_layers"):
        rn.pretrain(net, X, n_layers=2, progress=False)
    with pytest.raises(TypeError, match="Network"):
        rn.pretrain("net", X)


def test_layers_that_do_not_chain_are_refused():
    # a network whose layer list was edited after construction no longer chains
    net = rn.MLP([6, 5, 4, 3], seed=0)
    net.layers[2] = rn.Dense(7, 4)
    with pytest.raises(ValueError, match="do not chain"):
        rn.pretrain(net, np.random.default_rng(0).random((10, 6)), progress=False)
    # a hidden layer followed by something other than an activation cannot be pre-trained
    layers = [rn.Dense(6, 5), rn.Dense(5, 3)]
    with pytest.raises(ValueError, match="element-wise activation"):
        rn.pretrain(rn.Network(layers, loss="mse"), np.zeros((4, 6)), progress=False)
