"""NoisyLIFRate: Siegert's rate of a noisy LIF neuron as an activation, with its exact derivative."""

import numpy as np
import pytest

import neurosim as ns
import ratenet as rn


def test_noisy_lif_rate_is_the_siegert_rate_scaled():
    activation = rn.NoisyLIFRate(sigma=0.2, tau_ref=0.003, gain=1.5, bias=0.8)
    z = np.linspace(-2, 3, 41)
    expected = activation.amplitude * ns.lif_rate_noisy(1.5 * z + 0.8, 0.2, tau_m=0.02, tau_ref=0.003)
    np.testing.assert_allclose(activation(z), expected, rtol=1e-13, atol=0)
    assert activation.amplitude == pytest.approx(rn.LIFRate(tau_ref=0.003).amplitude)
    assert activation(np.float32(1.0)).dtype == np.float32


def test_noisy_lif_rate_derivative_passes_central_differences():
    # Central differences with step 1e-5 on a function with O(1) third derivative: error ~1e-10
    # absolute; we allow 1e-6 relative (the Siegert integral itself is accurate to ~1e-12).
    activation = rn.NoisyLIFRate(sigma=0.15)
    z = np.concatenate([np.linspace(-1.5, 4, 56), [-0.3, -0.01, 0.0, 0.01]])
    step = 1e-5
    numeric = (activation(z + step) - activation(z - step)) / (2 * step)
    np.testing.assert_allclose(activation.derivative(z), numeric, rtol=1e-6, atol=1e-12)


def test_a_noisy_lif_network_passes_the_gradient_check():
    net = rn.Network([rn.Dense(5, 7), rn.NoisyLIFRate(sigma=0.1), rn.Dense(7, 6), rn.NoisyLIFRate(sigma=0.3),
                      rn.Dense(6, 3)], loss="softmax_cross_entropy", seed=2)
    rng = np.random.default_rng(0)
    X, y = rng.normal(0, 1, (8, 5)), rng.integers(0, 3, 8)
    assert rn.check_gradients(net, X, y) < 1e-6


def test_noisy_lif_rate_tends_to_the_lif_rate_and_stays_smooth_at_threshold():
    quiet, lif = rn.NoisyLIFRate(sigma=1e-3), rn.LIFRate()
    z = np.array([-1.0, -0.2, 0.2, 1.0, 3.0])                      # away from threshold (z = 0)
    np.testing.assert_allclose(quiet(z), lif(z), rtol=1e-4, atol=1e-12)
    # At threshold the LIF rate has an infinite slope, the noisy rate a finite positive one.
    assert 0 < rn.NoisyLIFRate(sigma=0.1).derivative(np.array([0.0]))[0] < np.inf


def test_noisy_lif_rate_is_registered_and_round_trips_its_config(tmp_path):
    activation = rn.get_activation("noisy_lif_rate", sigma=0.25, tau_m=0.01)
    assert isinstance(activation, rn.NoisyLIFRate) and activation.sigma == 0.25
    rebuilt = rn.get_activation(activation.name, **activation.config())
    assert rebuilt.config() == activation.config()
    net = rn.MLP([3, 4, 2], activation=activation, seed=0)
    net.save(tmp_path / "noisy.npz")
    X = np.random.default_rng(1).normal(0, 1, (5, 3))
    np.testing.assert_array_equal(rn.load(tmp_path / "noisy.npz").forward(X), net.forward(X))
    with pytest.raises(ValueError, match="sigma must be > 0"):
        rn.NoisyLIFRate(sigma=0.0)


def test_the_twin_of_a_noisy_lif_layer_fires_at_the_siegert_rate():
    # LIF neurons receiving the layer's white noise (sigma = 0.3) under constant inputs: their rate
    # is Siegert's. Each of 6 inputs is shown 10 times for 2.8 s (counted after 0.2 s); the mean of a
    # neuron's 10 rates has a standard error below sqrt(r / (2.8 s * 10)) (the interval CV of a
    # noisy LIF is below 1); we allow 4 standard errors + 1 Hz.
    rng = np.random.default_rng(0)
    weights = rng.normal(0.3, 1.0, (12, 4))
    net = rn.Network([rn.Dense(4, 12, weights=weights, bias=np.zeros(12)), rn.NoisyLIFRate(sigma=0.3),
                      rn.Dense(12, 2)], loss="softmax_cross_entropy")
    snet = rn.to_spiking(net)
    assert snet.layers[0].twin.noise == 0.3
    X = np.repeat(rng.uniform(0, 1, (6, 4)), 10, axis=0)
    rates = snet.run(X, t_end=3.0, t_settle=0.2).hidden_rates[0].reshape(6, 10, 12).mean(axis=1)
    expected = ns.lif_rate_noisy(X[::10] @ weights.T + 1.0, 0.3)
    assert np.sum(expected > 20) >= 30
    np.testing.assert_array_less(np.abs(rates - expected), 4 * np.sqrt(expected / 28.0) + 1.0)


def test_a_trained_noisy_lif_network_keeps_its_accuracy_as_noisy_spikes():
    X_train, X_test, y_train, y_test = rn.datasets.digits(seed=0)
    net = rn.MLP([64, 40, 10], activation=rn.NoisyLIFRate(sigma=0.1), output="softmax", seed=0)
    net.fit(X_train, y_train, epochs=12, batch_size=32, optimizer=rn.Adam(lr=2e-3), progress=False)
    X, y = X_test[:180], y_test[:180]
    rate_accuracy = net.score(X, y)
    assert rate_accuracy > 0.9
    assert rn.spiking_accuracy(net, X, y, t_end=0.2) >= rate_accuracy - 0.02
