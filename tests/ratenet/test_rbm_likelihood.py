"""RBM log-likelihood: exact enumeration of one layer against brute force over both layers' joint
states, AIS against exact enumeration, refusals, and monitoring a training run."""

import itertools
import math

import numpy as np
import pytest

import ratenet as rn
from ratenet import rbm_likelihood


def _random_rbm(n_visible, n_hidden, scale=1.0, seed=0):
    rng = np.random.default_rng(seed)
    rbm = rn.RBM(n_visible, n_hidden, seed=seed)
    rbm.W[...] = rng.normal(scale=scale, size=rbm.W.shape)
    rbm.hidden_bias[...] = rng.normal(size=n_hidden) - scale
    rbm.visible_bias[...] = rng.normal(size=n_visible)
    return rbm


def _all_states(n):
    return np.array(list(itertools.product([0.0, 1.0], repeat=n)))


def _brute_force(rbm):
    """log Z and log p(x) for every visible state from the energy E(x, h) = -h.W x - c.x - b.h
    summed over all joint states (x, h), with no free energy involved."""
    visible, hidden = _all_states(rbm.n_visible), _all_states(rbm.n_hidden)
    negative_energy = (hidden @ rbm.W @ visible.T + (visible @ rbm.visible_bias)[None, :]
                       + (hidden @ rbm.hidden_bias)[:, None])          # (hidden states, visible states)
    largest = negative_energy.max()
    log_partition = largest + math.log(np.exp(negative_energy - largest).sum())
    log_marginal = largest + np.log(np.exp(negative_energy - largest).sum(axis=0))
    return log_partition, visible, log_marginal - log_partition


def test_exact_likelihood_equals_brute_force_over_both_layers():
    rbm = _random_rbm(5, 4, scale=1.5)
    log_partition, visible, log_probability = _brute_force(rbm)
    assert float(rbm.log_partition_function()) == pytest.approx(log_partition, rel=1e-13)
    for over in ("hidden", "visible"):
        exact = rbm_likelihood.exact_log_partition(rbm.W, rbm.hidden_bias, rbm.visible_bias, over=over)
        assert float(exact) == pytest.approx(log_partition, rel=1e-13)
    result = rbm.log_likelihood(visible)
    np.testing.assert_allclose(result.per_sample, log_probability, rtol=1e-12)
    assert float(result) == pytest.approx(log_probability.mean(), rel=1e-12)
    assert result.standard_error == 0 and result.method == "exact"
    # a distribution: the probabilities of all 32 visible states sum to 1
    assert np.exp(result.per_sample).sum() == pytest.approx(1.0, rel=1e-12)


def test_enumerating_either_layer_gives_the_same_log_partition():
    rbm = _random_rbm(11, 9, scale=1.0, seed=3)
    hidden = rbm_likelihood.exact_log_partition(rbm.W, rbm.hidden_bias, rbm.visible_bias, over="hidden")
    visible = rbm_likelihood.exact_log_partition(rbm.W, rbm.hidden_bias, rbm.visible_bias, over="visible")
    assert float(hidden) == pytest.approx(float(visible), rel=1e-13)


def test_a_model_without_weights_has_the_product_partition_function_and_ais_is_exact_on_it():
    # W = 0: Z = 2^{n_h}-fold product over hidden units (1 + e^{b_j}) times that over visible units;
    # annealing from the base model with the same visible biases then has constant weights
    rbm = rn.RBM(30, 25, weight_scale=0.0)
    rbm.hidden_bias[...] = np.linspace(-1, 1, 25)
    rbm.visible_bias[...] = np.linspace(-2, 2, 30)
    expected = np.logaddexp(0, rbm.hidden_bias).sum() + np.logaddexp(0, rbm.visible_bias).sum()
    estimate = rbm.log_partition_function("ais", n_steps=50, n_runs=10)
    assert float(estimate) == pytest.approx(expected, rel=1e-12)
    assert estimate.standard_error < 1e-12 and estimate.effective_sample_size == pytest.approx(10)


@pytest.mark.parametrize("seed", range(4))
def test_ais_agrees_with_exact_enumeration_within_its_standard_error(seed):
    # a peaked model (weights of std 3, log Z ~ 76): AIS with 3,000 steps and 100 runs gives a
    # standard error of ~0.04 nats here; over 16 seeds its z-scores stayed within 3 (calibrated)
    rbm = _random_rbm(16, 12, scale=3.0)
    exact = float(rbm.log_partition_function())
    estimate = rbm.log_partition_function("ais", n_steps=3000, seed=seed)
    assert estimate.standard_error < 0.07
    assert abs(float(estimate) - exact) < 3.5 * estimate.standard_error, (float(estimate), exact)
    assert estimate.effective_sample_size > 10


def test_ais_log_likelihood_uses_the_datas_base_rate_and_matches_exact():
    rbm = _random_rbm(14, 10, scale=1.0, seed=5)
    X = (np.random.default_rng(6).random((40, 14)) < 0.3).astype(float)
    exact = rbm.log_likelihood(X)
    estimate = rbm.log_likelihood(X, method="ais", n_steps=2000, seed=1)
    assert abs(float(estimate) - float(exact)) < 3.5 * estimate.standard_error < 0.1
    # the data term is exact: the per-sample values differ from exact by the same log Z offset
    offset = estimate.per_sample - exact.per_sample
    np.testing.assert_allclose(offset, offset[0], atol=1e-12)
    assert "ais" in repr(estimate) and "nats per sample" in repr(estimate)


def test_ais_is_seeded():
    rbm = _random_rbm(10, 8)
    first = rbm.log_partition_function("ais", n_steps=200, seed=4)
    assert float(rbm.log_partition_function("ais", n_steps=200, seed=4)) == float(first)
    assert float(rbm.log_partition_function("ais", n_steps=200, seed=5)) != float(first)


def test_ais_schedule_is_salakhutdinov_and_murrays_for_14500_steps():
    betas = rbm_likelihood.ais_schedule(14500)
    assert betas[0] == 0 and betas[-1] == 1 and betas.size == 14501
    np.testing.assert_allclose(np.diff(betas[:500]), 1e-3, rtol=1e-9)
    np.testing.assert_allclose(np.diff(betas[500:4500]), 1e-4, rtol=1e-9)
    np.testing.assert_allclose(np.diff(betas[4500:]), 1e-5, rtol=1e-6)


def test_exact_enumeration_too_large_is_refused_with_advice():
    rbm = rn.RBM(30, 25)
    with pytest.raises(ValueError, match="2\\*\\*25.*max_units=20.*method='ais'"):
        rbm.log_likelihood(np.zeros((2, 30)))
    # within a raised limit it runs (the hidden layer of 8 is the one enumerated here)
    assert math.isfinite(rn.RBM(30, 8).log_likelihood(np.zeros((2, 30)), max_units=8))


def test_bad_arguments_are_refused():
    rbm = rn.RBM(6, 4)
    with pytest.raises(ValueError, match="binary"):
        rbm.log_likelihood(np.full((2, 6), 0.5))
    with pytest.raises(ValueError, match="method"):
        rbm.log_likelihood(np.zeros((2, 6)), method="exact-ish")
    with pytest.raises(ValueError, match="base_rate must hold 6 probabilities"):
        rbm.log_partition_function("ais", base_rate=np.ones(6))
    with pytest.raises(ValueError, match="n_steps"):
        rbm.log_partition_function("ais", n_steps=0)


def test_float32_models_are_evaluated_in_float64():
    rbm64 = _random_rbm(8, 6)
    rbm32 = rn.RBM(8, 6, dtype=np.float32)
    rbm32.W[...], rbm32.hidden_bias[...], rbm32.visible_bias[...] = (rbm64.W, rbm64.hidden_bias,
                                                                      rbm64.visible_bias)
    X = _all_states(8)
    result = rbm32.log_likelihood(X)
    assert result.per_sample.dtype == np.float64
    assert np.exp(result.per_sample).sum() == pytest.approx(1.0, rel=1e-9)


def test_log_likelihood_monitors_training_epoch_by_epoch():
    # the docstring's loop: one epoch at a time with one optimiser and one generator
    rng = np.random.default_rng(0)
    prototypes = (rng.random((3, 12)) < 0.5).astype(float)
    X = prototypes[rng.integers(0, 3, size=300)]
    flips = rng.random(X.shape) < 0.05
    X = np.abs(X - flips)
    rbm = rn.RBM(12, 6, seed=0)
    generator, optimizer = np.random.default_rng(1), rn.SGD(lr=0.5)
    curve = [float(rbm.log_likelihood(X))]
    for _ in range(15):
        rbm.fit(X, epochs=1, batch_size=20, optimizer=optimizer, seed=generator, progress=False)
        curve.append(float(rbm.log_likelihood(X)))
    # from uniform (-12 log 2 = -8.3 nats) towards minus the data's entropy (log 3 + 12 H(0.05)
    # = 3.5 nats): measured -8.3, -5.5 after one epoch, -3.8 after 15
    assert curve[0] == pytest.approx(-12 * math.log(2), abs=0.01)
    assert curve[-1] > curve[1] + 1.0 and curve[-1] > -4.5
    ais = rbm.log_likelihood(X, method="ais", n_steps=1000, seed=0)
    assert abs(float(ais) - curve[-1]) < 3.5 * ais.standard_error + 1e-3
