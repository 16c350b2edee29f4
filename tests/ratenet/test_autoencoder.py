"""Autoencoders: gradients against finite differences (tied and untied, both losses), the tied
gradient as the sum of its encoder and decoder parts, the losses against their formulas, masking
noise, training on digits, the fused SGD step, and bad input."""

import copy

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import ratenet as rn  # noqa: E402
from ratenet.image_plots import plot_features, plot_reconstructions  # noqa: E402


def _finite_difference_gradients(autoencoder, X, target=None, eps=1e-6):
    """Central differences of the reconstruction loss for every parameter entry (error O(eps^2))."""
    numeric = []
    for param in autoencoder.parameters():
        grad = np.empty_like(param)
        flat, flat_grad = param.reshape(-1), grad.reshape(-1)
        for index in range(flat.size):
            original = flat[index]
            flat[index] = original + eps
            plus, _ = autoencoder.loss_and_gradients(X, target)
            flat[index] = original - eps
            minus, _ = autoencoder.loss_and_gradients(X, target)
            flat[index] = original
            flat_grad[index] = (plus - minus) / (2 * eps)
        numeric.append(grad)
    return numeric


def _relative_error(analytic, numeric):
    return np.linalg.norm(analytic - numeric) / (np.linalg.norm(analytic) + np.linalg.norm(numeric))


@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "soft_lif_rate"])
@pytest.mark.parametrize("loss", ["cross_entropy", "squared_error"])
@pytest.mark.parametrize("tied", [True, False])
def test_gradients_match_central_differences(tied, loss, activation):
    # float64, eps = 1e-6: truncation error ~eps^2 and rounding ~1e-16/eps leave the norm-wise
    # relative error near 1e-9; 1e-6 leaves a wide margin yet catches any wrong term (a missing
    # decoder share of the tied W alone is an O(1) relative error).
    rng = np.random.default_rng(3)
    X = rng.random((6, 7))
    autoencoder = rn.Autoencoder(7, 4, activation, loss=loss, tied=tied, seed=1)
    for param in autoencoder.parameters()[1:]:
        param[...] = rng.normal(scale=0.3, size=param.shape)  # nonzero biases exercise their terms
    _, analytic = autoencoder.loss_and_gradients(X)
    numeric = _finite_difference_gradients(autoencoder, X)
    assert len(analytic) == (3 if tied else 4)
    for grad, reference in zip(analytic, numeric, strict=True):
        assert _relative_error(grad, reference) < 1e-6


def test_denoising_objective_gradients_match_central_differences():
    rng = np.random.default_rng(4)
    X = rng.random((5, 6))
    autoencoder = rn.Autoencoder(6, 3, "sigmoid", tied=True, corruption=0.4, seed=0)
    corrupted = autoencoder.corrupt(X, seed=1)
    _, analytic = autoencoder.loss_and_gradients(corrupted, target=X)
    numeric = _finite_difference_gradients(autoencoder, corrupted, target=X)
    for grad, reference in zip(analytic, numeric, strict=True):
        assert _relative_error(grad, reference) < 1e-6


def test_tied_gradient_is_the_sum_of_the_encoder_and_decoder_gradients():
    # An untied autoencoder whose decoder holds W^T computes the same function; the tied dE/dW
    # must be its encoder dE/dW plus the transpose of its decoder dE/dV (to rounding, 1e-12).
    rng = np.random.default_rng(5)
    X = rng.random((9, 8))
    tied = rn.Autoencoder(8, 5, "sigmoid", tied=True, seed=2)
    tied.visible_bias[...] = rng.normal(size=8)
    untied = rn.Autoencoder(8, 5, "sigmoid", tied=False, seed=2)
    untied.encoder.set_weights(tied.encoder.W, tied.encoder.b)
    untied.decoder.set_weights(tied.encoder.W.T, tied.visible_bias)
    value_tied, (dW, db, dc) = tied.loss_and_gradients(X)
    value_untied, (dW_encoder, db_untied, dV, dc_untied) = untied.loss_and_gradients(X)
    assert value_tied == pytest.approx(value_untied, rel=1e-12)
    np.testing.assert_allclose(dW, dW_encoder + dV.T, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(db, db_untied, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(dc, dc_untied, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("loss", ["cross_entropy", "squared_error"])
def test_reconstruction_error_is_the_notes_loss_summed_over_units_and_averaged_over_samples(loss):
    rng = np.random.default_rng(6)
    X = rng.random((10, 5))
    autoencoder = rn.Autoencoder(5, 3, "tanh", loss=loss, tied=False, seed=0)
    autoencoder.decoder.b[...] = rng.normal(size=5)
    # direct evaluation, independent of the fused loss code
    hidden = np.tanh(X @ autoencoder.encoder.W.T + autoencoder.encoder.b)
    logits = hidden @ autoencoder.decoder.W.T + autoencoder.decoder.b
    if loss == "cross_entropy":
        reconstruction = 1 / (1 + np.exp(-logits))
        per_sample = -np.sum(X * np.log(reconstruction) + (1 - X) * np.log(1 - reconstruction), axis=1)
    else:
        reconstruction = logits
        per_sample = 0.5 * np.sum((reconstruction - X) ** 2, axis=1)
    assert autoencoder.reconstruction_error(X) == pytest.approx(per_sample.mean(), rel=1e-12)
    np.testing.assert_allclose(autoencoder.reconstruct(X), reconstruction, rtol=1e-12)
    np.testing.assert_allclose(autoencoder.encode(X), hidden, rtol=1e-12)


def test_masking_noise_zeroes_the_requested_fraction_reproducibly():
    autoencoder = rn.Autoencoder(50, 10, corruption=0.25, seed=0)
    X = np.full((400, 50), 0.5)
    corrupted = autoencoder.corrupt(X, seed=7)
    zeroed = np.mean(corrupted == 0)
    # 20,000 independent entries: the fraction's standard deviation is sqrt(0.25 * 0.75 / 2e4) = 0.003
    assert abs(zeroed - 0.25) < 5 * 0.0031
    assert np.all((corrupted == 0) | (corrupted == 0.5))
    np.testing.assert_array_equal(corrupted, autoencoder.corrupt(X, seed=7))
    assert not np.array_equal(corrupted, autoencoder.corrupt(X, seed=8))


@pytest.fixture(scope="module")
def digits_images():
    return rn.datasets.digits(seed=0).X_train[:600]


@pytest.mark.parametrize("activation", ["sigmoid", "lif_rate"])
def test_training_on_digits_lowers_the_reconstruction_error(digits_images, activation):
    autoencoder = rn.Autoencoder(64, 32, activation, tied=True, corruption=0.1, seed=0)
    before = autoencoder.reconstruction_error(digits_images)
    history = autoencoder.fit(digits_images, epochs=6, batch_size=32, optimizer=rn.Adam(lr=0.01),
                              validation_data=digits_images[:100], progress=False)
    after = autoencoder.reconstruction_error(digits_images)
    assert len(history) == 6 and len(history.val_reconstruction_error) == 6
    assert history.reconstruction_error[-1] < history.reconstruction_error[0]
    # the pixels' own Bernoulli entropy (~17 nats per image here) bounds the error from below; a
    # useful 32-unit code removes well over a third of the initial ~44 nats
    assert after < 0.65 * before
    assert "reconstruction_error" in repr(history)


def test_same_seed_same_training(digits_images):
    runs = []
    for _ in range(2):
        autoencoder = rn.Autoencoder(64, 16, "sigmoid", corruption=0.2, seed=3)
        autoencoder.fit(digits_images[:200], epochs=2, batch_size=20, progress=False)
        runs.append(autoencoder.encoder.W.copy())
    np.testing.assert_array_equal(runs[0], runs[1])


@pytest.mark.parametrize("tied", [True, False])
def test_plain_sgd_fused_into_the_products_equals_the_generic_optimizer_step(digits_images, tied):
    class GenericSGD(rn.SGD):
        """Same update, but not the SGD type, so fit takes the generic gradients-then-update path."""

    fused = rn.Autoencoder(64, 16, "sigmoid", tied=tied, corruption=0.1, seed=0)
    generic = copy.deepcopy(fused)
    fused.fit(digits_images[:200], epochs=2, batch_size=32, optimizer=rn.SGD(lr=0.1), progress=False)
    generic.fit(digits_images[:200], epochs=2, batch_size=32, optimizer=GenericSGD(lr=0.1), progress=False)
    for a, b in zip(fused.parameters(), generic.parameters(), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
    assert fused.history.reconstruction_error == pytest.approx(generic.history.reconstruction_error,
                                                               rel=1e-12)


def test_float32_training_stays_float32(digits_images):
    autoencoder = rn.Autoencoder(64, 16, dtype=np.float32, seed=0)
    autoencoder.fit(digits_images[:100], epochs=1, optimizer=rn.SGD(lr=0.1), progress=False)
    assert all(param.dtype == np.float32 for param in autoencoder.parameters())
    assert autoencoder.encode(digits_images[:5]).dtype == np.float32


def test_inputs_outside_the_unit_interval_are_refused_by_the_bernoulli_loss():
    autoencoder = rn.Autoencoder(4, 2, loss="cross_entropy")
    with pytest.raises(ValueError, match=r"\[0, 1\].*squared_error"):
        autoencoder.fit(np.array([[0.0, 0.5, 1.5, 0.2]]), progress=False)
    # the squared error takes any real input
    rn.Autoencoder(4, 2, loss="squared_error").fit(np.array([[-3.0, 0.5, 1.5, 0.2]]), epochs=1,
                                                   progress=False)


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="corruption"):
        rn.Autoencoder(4, 2, corruption=1.0)
    with pytest.raises(ValueError, match="loss"):
        rn.Autoencoder(4, 2, loss="hinge")
    with pytest.raises(ValueError, match="element-wise"):
        rn.Autoencoder(4, 2, activation="softmax")
    with pytest.raises(ValueError, match=r"shape \(n_samples, 4\)"):
        rn.Autoencoder(4, 2).encode(np.zeros((3, 5)))
    with pytest.raises(ValueError, match="finite"):
        rn.Autoencoder(4, 2, loss="squared_error").encode(np.full((1, 4), np.nan))
    with pytest.raises(FloatingPointError, match="learning rate"):
        rn.Autoencoder(4, 8, "linear", loss="squared_error", seed=0).fit(
            np.full((8, 4), 1e3), epochs=5, optimizer=rn.SGD(lr=10.0), progress=False)


def test_feature_and_reconstruction_plots_draw_one_mosaic_each(digits_images):
    autoencoder = rn.Autoencoder(64, 12, seed=0)
    figure, (left, right) = plt.subplots(1, 2)
    assert plot_features(autoencoder, (8, 8), ax=left) is left
    image = left.get_images()[0].get_array()
    assert image.shape == (3 * 9 - 1, 4 * 9 - 1)  # 12 features: 3 rows of 4 images 8x8, 1-pixel gaps
    assert plot_reconstructions(digits_images[:5], autoencoder.reconstruct(digits_images[:5]),
                                ax=right, n_images=5) is right
    assert right.get_images()[0].get_array().shape == (2 * 9 - 1, 5 * 9 - 1)
    with pytest.raises(ValueError, match="image_shape"):
        plot_features(autoencoder.encoder.W, (7, 7))
    plt.close(figure)
