"""Batch normalisation at test time with population statistics: the mean and unbiased variance of
each unit's input over the whole training set, against the same quantities computed by hand, and
against the running averages, which estimate them, for a long momentum horizon."""

import numpy as np
import pytest

import ratenet as rn


def _data(n_samples=300, n_inputs=5, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(loc=1.5, scale=2.0, size=(n_samples, n_inputs))
    return X, (X[:, 0] + X[:, 1] > 3).astype(int)


def _net(momentum=0.9, seed=0):
    layers = [rn.Dense(5, 12), rn.BatchNorm(12, momentum=momentum), rn.Tanh(),
              rn.Dense(12, 8), rn.BatchNorm(8, momentum=momentum), rn.ReLU(), rn.Dense(8, 2)]
    return rn.Network(layers, loss="softmax_cross_entropy", seed=seed)


def test_population_statistics_are_the_training_sets_mean_and_unbiased_variance():
    X, y = _data()
    net = _net()
    net.fit(X, y, epochs=3, batch_size=32, progress=False)
    dense1, bn1, _, dense2, bn2, _, _ = net.layers
    net.set_population_statistics(X)
    # by hand: the first BatchNorm sees X W1^T + b1 ...
    z1 = X @ dense1.W.T + dense1.b
    np.testing.assert_allclose(bn1.running_mean, z1.mean(axis=0), rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(bn1.running_var, z1.var(axis=0, ddof=1), rtol=1e-12)
    # ... the second sees the first normalised with those population statistics
    h1 = np.tanh(bn1.gamma * (z1 - z1.mean(axis=0)) / np.sqrt(z1.var(axis=0, ddof=1) + bn1.eps) + bn1.beta)
    z2 = h1 @ dense2.W.T + dense2.b
    np.testing.assert_allclose(bn2.running_mean, z2.mean(axis=0), rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(bn2.running_var, z2.var(axis=0, ddof=1), rtol=1e-12)
    # evaluation uses them
    h2 = np.maximum(bn2.gamma * (z2 - z2.mean(axis=0)) / np.sqrt(z2.var(axis=0, ddof=1) + bn2.eps)
                    + bn2.beta, 0)
    np.testing.assert_allclose(net.forward(X), h2 @ net.layers[6].W.T + net.layers[6].b, rtol=1e-11)


def test_chunking_does_not_change_the_statistics():
    X, y = _data(n_samples=101)
    net = _net()
    net.fit(X, y, epochs=2, batch_size=16, progress=False)
    whole = net.set_population_statistics(X, batch_size=1024)
    chunked = net.set_population_statistics(X, batch_size=7)
    assert [position for position, *_ in whole] == [1, 4]
    for (_, mean, var), (_, chunk_mean, chunk_var) in zip(whole, chunked, strict=True):
        np.testing.assert_allclose(chunk_mean, mean, rtol=1e-12, atol=1e-13)
        np.testing.assert_allclose(chunk_var, var, rtol=1e-12)


def test_running_averages_agree_with_population_statistics_for_a_long_momentum_horizon():
    # With the weights frozen after training, every training-mode step moves the running mean
    # towards a mini-batch mean and the running variance towards a mini-batch unbiased variance;
    # over mini-batches drawn without replacement both are unbiased for the population values.
    # With momentum 0.999 (a horizon of 1000 steps) and 6000 steps the start (0, 1) is forgotten
    # (0.999^6000 = 0.0025) and the average's noise is sqrt((1 - m) / (1 + m)) = 0.022 times a
    # single batch's (a batch mean of 32 has std sigma / sqrt(32) = 0.18 sigma; a Gaussian unbiased
    # variance 0.25 sigma^2), so the two agree to about 0.004 sigma and 0.6% of sigma^2 per unit:
    # the tolerances 0.015 sigma and 2% allow for the maximum over 12 units. (Momentum 0.9 misses
    # them: its noise is 0.23 times a batch's, about 0.04 sigma.)
    X, y = _data(n_samples=640)
    net = rn.Network([rn.Dense(5, 12), rn.BatchNorm(12, momentum=0.999), rn.Tanh(), rn.Dense(12, 2)],
                     loss="softmax_cross_entropy", seed=1)
    net.fit(X, y, epochs=5, batch_size=32, progress=False)
    bn = net.layers[1]
    rng = np.random.default_rng(2)
    bn.set_running_statistics(np.zeros(12), np.ones(12))
    for _ in range(300):
        order = rng.permutation(len(X))
        for start in range(0, len(X), 32):
            h = X[order[start:start + 32]]
            for layer in net.layers[:2]:
                h = layer.forward(h, training=True)
    running_mean, running_var = bn.running_mean.copy(), bn.running_var.copy()
    (_, mean, var), = net.set_population_statistics(X)
    sigma = np.sqrt(var)
    assert np.all(np.abs(running_mean - mean) < 0.015 * sigma), np.abs(running_mean - mean) / sigma
    np.testing.assert_allclose(running_var, var, rtol=0.02)
    np.testing.assert_array_equal(bn.running_mean, mean)


def test_a_failed_call_changes_nothing():
    X, y = _data()
    net = _net()
    net.fit(X, y, epochs=1, progress=False)
    before = [array.copy() for layer in net.layers for array in layer.buffers().values()]
    with pytest.raises(ValueError, match="shape"):
        net.set_population_statistics(X[:, :3])
    with pytest.raises(ValueError, match="at least 2 samples"):
        net.set_population_statistics(X[:1])
    with pytest.raises(ValueError, match="finite"):
        net.set_population_statistics(np.where(X > 4, np.nan, X))
    with pytest.raises(ValueError, match="batch_size"):
        net.set_population_statistics(X, batch_size=0)
    after = [array for layer in net.layers for array in layer.buffers().values()]
    for old, new in zip(before, after, strict=True):
        np.testing.assert_array_equal(old, new)


def test_a_network_without_batch_norm_is_refused_and_bad_statistics_too():
    with pytest.raises(ValueError, match="no BatchNorm layer"):
        rn.MLP([5, 4, 2]).set_population_statistics(np.zeros((3, 5)))
    bn = rn.BatchNorm(3)
    with pytest.raises(ValueError, match=r"variance must have shape \(3,\)"):
        bn.set_running_statistics(np.zeros(3), np.ones(4))
    with pytest.raises(ValueError, match="variance must be >= 0"):
        bn.set_running_statistics(np.zeros(3), -np.ones(3))


def test_population_statistics_are_saved_with_the_network(tmp_path):
    X, y = _data()
    net = _net()
    net.fit(X, y, epochs=1, progress=False)
    net.set_population_statistics(X)
    net.save(tmp_path / "bn.npz")
    np.testing.assert_array_equal(rn.load(tmp_path / "bn.npz").forward(X), net.forward(X))
