"""Maxout layers: the forward pass against the definition written out piece by piece, backprop
against finite differences, Glorot initialisation, training, saving and refusals."""

import numpy as np
import pytest

import ratenet as rn


def _pieces_by_hand(layer, X):
    """z[n, p, j] = sum_i W[p, j, i] X[n, i] + b[p, j], one piece and one sample at a time."""
    n_samples = X.shape[0]
    z = np.empty((n_samples, layer.k, layer.n_out))
    for n in range(n_samples):
        for p in range(layer.k):
            z[n, p] = layer.W[p] @ X[n] + layer.b[p]
    return z


def _margin_between_best_pieces(layer, X):
    """Smallest gap between the largest and second-largest piece over all units and samples."""
    z = np.sort(_pieces_by_hand(layer, X), axis=1)
    return float((z[:, -1] - z[:, -2]).min())


def test_forward_is_the_max_over_k_affine_pieces():
    rng = np.random.default_rng(0)
    layer = rn.Maxout(4, 3, k=5, weights=rng.normal(size=(5, 3, 4)), bias=rng.normal(size=(5, 3)))
    X = rng.normal(size=(7, 4))
    pieces = _pieces_by_hand(layer, X)
    np.testing.assert_allclose(layer.forward(X), pieces.max(axis=1), rtol=1e-13, atol=1e-14)
    np.testing.assert_array_equal(layer.winning_pieces(), pieces.argmax(axis=1))


def test_maxout_with_one_piece_is_a_dense_layer():
    rng = np.random.default_rng(1)
    weights, bias, X = rng.normal(size=(3, 4)), rng.normal(size=3), rng.normal(size=(6, 4))
    maxout = rn.Maxout(4, 3, k=1, weights=weights[None], bias=bias[None])
    np.testing.assert_allclose(maxout.forward(X), rn.Dense(4, 3, weights=weights, bias=bias).forward(X),
                               rtol=1e-14)


def test_maxout_with_a_zero_piece_is_a_relu_unit():
    # max(w.x + b, 0): pieces (W, b) and (0, 0)
    rng = np.random.default_rng(2)
    weights, bias, X = rng.normal(size=(3, 4)), rng.normal(size=3), rng.normal(size=(6, 4))
    maxout = rn.Maxout(4, 3, k=2, weights=np.stack([weights, np.zeros_like(weights)]),
                       bias=np.stack([bias, np.zeros(3)]))
    np.testing.assert_allclose(maxout.forward(X), np.maximum(X @ weights.T + bias, 0), rtol=1e-14)


@pytest.mark.parametrize("k", [1, 2, 4])
def test_backprop_through_maxout_matches_finite_differences(k):
    rng = np.random.default_rng(3)
    X, y = rng.normal(size=(6, 3)), rng.integers(0, 3, size=6)
    for seed in range(20):  # the first seed whose pieces keep clear of ties (the max's kinks)
        net = rn.Network([rn.Maxout(3, 5, k=k), rn.Maxout(5, 4, k=k), rn.Dense(4, 3)],
                         loss="softmax_cross_entropy", seed=seed)
        hidden = net.layers[0].forward(X).copy()
        if k == 1 or min(_margin_between_best_pieces(net.layers[0], X),
                         _margin_between_best_pieces(net.layers[1], hidden)) > 1e-3:
            break
    else:
        pytest.fail("no seed keeps the maxout pieces clear of ties")
    error = rn.check_gradients(net, X, y)
    assert len(error.layers) == 3          # both Maxout layers are checked, W and b
    assert error < 1e-6, repr(error)


def test_input_gradient_matches_finite_differences():
    rng = np.random.default_rng(4)
    layer = rn.Maxout(3, 4, k=3, weights=rng.normal(size=(3, 4, 3)), bias=rng.normal(size=(3, 4)))
    X, upstream = rng.normal(size=(5, 3)), rng.normal(size=(5, 4))
    assert _margin_between_best_pieces(layer, X) > 1e-3
    layer.forward(X)
    grad_input = layer.backward(upstream).copy()
    numeric = np.empty_like(X)
    for index in np.ndindex(X.shape):
        plus, minus = X.copy(), X.copy()
        plus[index] += 1e-6
        minus[index] -= 1e-6
        up, down = np.vdot(upstream, layer.forward(plus)), np.vdot(upstream, layer.forward(minus))
        numeric[index] = (up - down) / 2e-6
    np.testing.assert_allclose(grad_input, numeric, rtol=1e-7, atol=1e-9)


def test_glorot_initialisation_draws_each_piece_like_a_dense_layer():
    net = rn.Network([rn.Maxout(200, 100, k=3), rn.Dense(100, 10)], loss="softmax_cross_entropy", seed=5)
    layer = net.layers[0]
    bound = np.sqrt(6 / (200 + 100))
    assert layer.W.shape == (3, 100, 200) and layer.b.shape == (3, 100)
    assert np.abs(layer.W).max() <= bound and np.all(layer.b == 0)
    # U[-a, a]: mean 0, variance a^2 / 3; 60,000 draws give the variance to about 1%
    assert abs(layer.W.mean()) < 0.01 * bound
    assert layer.W.var() == pytest.approx(bound**2 / 3, rel=0.02)
    # the pieces differ (otherwise the max would never switch), and the seed fixes them
    assert not np.allclose(layer.W[0], layer.W[1])
    again = rn.Network([rn.Maxout(200, 100, k=3), rn.Dense(100, 10)], loss="softmax_cross_entropy", seed=5)
    np.testing.assert_array_equal(again.layers[0].W, layer.W)


@pytest.mark.parametrize("optimizer", [rn.SGD(lr=0.5), rn.Adam(lr=0.05)], ids=repr)
def test_a_maxout_network_learns_xor(optimizer):
    X, y = rn.datasets.xor()
    net = rn.Network([rn.Maxout(2, 4, k=3), rn.Dense(4, 2)], loss="softmax_cross_entropy", seed=0)
    before = net.layers[0].W.copy()
    net.fit(X, y, epochs=400, batch_size=None, optimizer=optimizer, progress=False)
    assert net.score(X, y) == 1.0
    assert not np.array_equal(net.layers[0].W, before)


def test_weight_decay_reaches_maxout_weights():
    net = rn.Network([rn.Maxout(2, 3, k=2), rn.Dense(3, 2)], loss="softmax_cross_entropy", seed=0)
    penalty = rn.WeightPenalty(net, weight_decay=0.1)
    expected = 0.1 * sum(np.sum(layer.W**2) for layer in net.dense_layers)
    assert penalty.value() == pytest.approx(expected, rel=1e-14)
    own = rn.Network([rn.Maxout(2, 3, k=2, weight_decay=0.0), rn.Dense(3, 2)], loss="softmax_cross_entropy",
                     seed=0)
    assert rn.WeightPenalty(own, weight_decay=0.1).value() == pytest.approx(
        0.1 * np.sum(own.layers[1].W**2), rel=1e-14)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_save_and_load_predict_bit_identically(tmp_path, dtype):
    X, y = rn.datasets.xor()
    net = rn.Network([rn.Maxout(2, 4, k=3, l1=1e-4), rn.Dropout(0.1), rn.Maxout(4, 3, k=2), rn.Dense(3, 2)],
                     loss="softmax_cross_entropy", seed=1, dtype=dtype)
    net.fit(X, y, epochs=20, batch_size=2, progress=False)
    net.save(tmp_path / "maxout.npz")
    loaded = rn.load(tmp_path / "maxout.npz")
    assert [repr(layer) for layer in loaded.layers] == [repr(layer) for layer in net.layers]
    assert loaded.layers[0].l1 == 1e-4 and loaded.layers[0].W.dtype == dtype
    np.testing.assert_array_equal(loaded.forward(X), net.forward(X))


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="k must be >= 1.*Dense"):
        rn.Maxout(3, 4, k=0)
    with pytest.raises(ValueError, match="k must be >= 1"):
        rn.Maxout(3, 4, k=-2)
    with pytest.raises(TypeError, match="k must be an integer"):
        rn.Maxout(3, 4, k=2.5)
    with pytest.raises(ValueError, match=r"weights must have shape \(k, n_out, n_in\) = \(2, 4, 3\)"):
        rn.Maxout(3, 4, k=2, weights=np.zeros((4, 3)))
    with pytest.raises(ValueError, match="bias must be finite"):
        rn.Maxout(3, 4, k=2, bias=np.full((2, 4), np.nan))
    with pytest.raises(ValueError, match="expects input of shape"):
        rn.Maxout(3, 4).forward(np.zeros((2, 5)))
    with pytest.raises(ValueError, match="n_in=4 must equal the previous layer's n_out=5"):
        rn.Network([rn.Maxout(3, 5), rn.Dense(4, 2)])


def test_maxout_networks_are_refused_where_maxout_has_no_meaning():
    net = rn.Network([rn.Dense(4, 6), rn.Sigmoid(), rn.Maxout(6, 6, k=2), rn.Dense(6, 2)],
                     loss="softmax_cross_entropy")
    with pytest.raises(ValueError, match="maxout layer is neither"):
        rn.pretrain(net, np.random.default_rng(0).random((10, 4)), epochs=1)
    with pytest.raises(ValueError, match="no spiking equivalent"):
        rn.to_spiking(net)


def test_tied_pieces_send_the_gradient_to_the_first_piece_only():
    # all pieces equal: the max is each of them, and a subgradient must count the unit once
    rng = np.random.default_rng(6)
    weights, X, upstream = rng.normal(size=(3, 4)), rng.normal(size=(5, 4)), rng.normal(size=(5, 3))
    layer = rn.Maxout(4, 3, k=3, weights=np.stack([weights] * 3))
    layer.forward(X)
    grad_input = layer.backward(upstream)
    dense = rn.Dense(4, 3, weights=weights)
    dense.forward(X)
    np.testing.assert_allclose(grad_input, dense.backward(upstream), rtol=1e-14)
    np.testing.assert_allclose(layer.dW[0], dense.dW, rtol=1e-14)
    assert not layer.dW[1:].any() and not layer.db[1:].any()
    np.testing.assert_array_equal(layer.winning_pieces(), 0)


def test_inference_leaves_the_layer_untouched_and_matches_forward():
    rng = np.random.default_rng(7)
    layer = rn.Maxout(4, 3, k=3, weights=rng.normal(size=(3, 3, 4)), bias=rng.normal(size=(3, 3)))
    X_train, X_other = rng.normal(size=(6, 4)), rng.normal(size=(6, 4))
    expected = layer.forward(X_other).copy()
    layer.forward(X_train)
    winners = layer.winning_pieces()
    np.testing.assert_array_equal(layer.infer(X_other, rn.layers.Scratch()), expected)
    np.testing.assert_array_equal(layer.winning_pieces(), winners)   # the training cache is intact


def test_a_maxout_network_predicts_from_several_threads_at_once():
    from concurrent.futures import ThreadPoolExecutor

    rng = np.random.default_rng(8)
    net = rn.Network([rn.Maxout(16, 64, k=3), rn.Maxout(64, 32, k=2), rn.Dense(32, 4)],
                     loss="softmax_cross_entropy", seed=0)
    batches = [rng.normal(size=(200, 16)) for _ in range(8)]
    serial = [net.forward(batch) for batch in batches]
    with ThreadPoolExecutor(4) as pool:
        parallel = list(pool.map(net.forward, batches * 3))
    for index, output in enumerate(parallel):
        np.testing.assert_array_equal(output, serial[index % len(batches)])


def test_array_shapes_from_the_config_match_the_layer():
    layer = rn.Maxout(5, 7, k=4, l1=0.1)
    shapes = rn.Maxout.array_shapes(layer.config())
    assert shapes == {"parameters": [param.shape for param in layer.parameters()], "buffers": {}}
