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
