"""Specifications of ratenet's regularisation: Dropout, BatchNorm, L2/L1 weight penalties, early
stopping with best-weight restoring, the augmentation hook, train/eval modes.

Gradients are compared with central finite differences (step 1e-6, float64): the truncation error
is O(h^2) ~ 1e-12 and the rounding error ~ 1e-16 / 1e-6 = 1e-10 relative to the loss, so a norm-wise
relative error below 1e-6 leaves two orders of margin while any wrong term (a missing mean in the
batch-norm backward, a factor 2 in the weight decay) gives errors of order 1e-2 or more.
"""

import numpy as np
import pytest

import ratenet as rn
from ratenet.gradcheck import relative_error

GRAD_TOLERANCE = 1e-6
EPS = 1e-6


def _numeric_gradients(net, loss_fn):
    """Central differences of ``loss_fn()`` with respect to every array of ``net.parameters()``."""
    result = []
    for param in net.parameters():
        numeric = np.empty_like(param)
        flat, flat_numeric = param.reshape(-1), numeric.reshape(-1)
        for index in range(flat.size):
            original = flat[index]
            flat[index] = original + EPS
            plus = loss_fn()
            flat[index] = original - EPS
            minus = loss_fn()
            flat[index] = original
            flat_numeric[index] = (plus - minus) / (2 * EPS)
        result.append(numeric)
    return result


def _training_loss(net, X, target, before=lambda: None):
    """Loss of one training-mode forward pass (dropout on, batch statistics)."""
    before()
    return net.loss_and_gradients(X, target, training=True)[0]


def _max_relative_error(analytic, numeric):
    """Largest norm-wise relative error over the arrays. An array whose true gradient is zero (the
    bias of a Dense layer followed by BatchNorm: the batch mean cancels it) has no relative error;
    both estimates must then be zero to the finite-difference noise (1e-9 absolute)."""
    errors = []
    for a, n in zip(analytic, numeric, strict=True):
        if np.linalg.norm(a) < 1e-9 and np.linalg.norm(n) < 1e-9:
            continue
        errors.append(relative_error(a, n))
    return max(errors)


@pytest.fixture
def small_batch():
    rng = np.random.default_rng(1)
    return rng.standard_normal((8, 4)), rng.integers(0, 3, size=8)


# ------------------------------------------------------------------------------------- dropout
def test_dropout_gradients_match_finite_differences_with_a_fixed_mask(small_batch):
    X, y = small_batch
    dropout = rn.Dropout(0.4)
    net = rn.Network([rn.Dense(4, 7), rn.Tanh(), dropout, rn.Dense(7, 3)], loss="softmax_cross_entropy",
                     seed=3)
    X, target = net.check_Xy(X, y)

    def fix_mask():  # the same mask on every pass: reseed the layer's generator
        dropout.rng = np.random.default_rng(11)

    fix_mask()
    net.loss_and_gradients(X, target, training=True)
    mask = dropout.mask.copy()
    assert 0 < np.count_nonzero(mask == 0) < mask.size  # some units dropped, some kept
    analytic = [grad.copy() for grad in net.gradients()]
    numeric = _numeric_gradients(net, lambda: _training_loss(net, X, target, fix_mask))
    np.testing.assert_array_equal(dropout.mask, mask)
    assert _max_relative_error(analytic, numeric) < GRAD_TOLERANCE


def test_dropout_keeps_the_expected_activation_and_drops_the_rate():
    # Each output is v / keep with probability keep, else 0: mean v, standard deviation
    # v sqrt(rate / keep). Over n = 20000 samples the mean's standard error is
    # v sqrt(0.3 / 0.7 / 20000) = 0.0046 v; the tolerance is 5 standard errors per unit.
    rate, n = 0.3, 20000
    values = np.linspace(0.5, 3.0, 10)
    x = np.tile(values, (n, 1))
    output = rn.Dropout(rate, seed=0).forward(x, training=True)
    standard_error = values * np.sqrt(rate / (1 - rate) / n)
    assert np.all(np.abs(output.mean(axis=0) - values) < 5 * standard_error)
    dropped = np.mean(output == 0, axis=0)
    assert np.all(np.abs(dropped - rate) < 5 * np.sqrt(rate * (1 - rate) / n))
    # survivors are scaled by 1 / keep; the keep probability is drawn from 16 random bits, so it
    # is 1 - rate to within 2^-17 relative, and the scale with it
    kept = output[output != 0]
    np.testing.assert_allclose(kept, np.tile(values / (1 - rate), (n, 1))[output != 0], rtol=2e-5)


def test_dropout_draws_a_fresh_mask_per_sample_and_step_and_backprops_through_it():
    layer = rn.Dropout(0.5, seed=0)
    x = np.ones((4, 50))
    first = layer.forward(x, training=True).copy()
    grad = layer.backward(np.full((4, 50), 3.0))
    np.testing.assert_array_equal(grad, 3.0 * first)  # dE/dx = dE/dy * mask / keep
    second = layer.forward(x, training=True)
    assert not np.array_equal(first, second)
    assert len({row.tobytes() for row in first}) == 4


def test_dropout_is_the_identity_in_evaluation_and_predictions_ignore_it():
    layer = rn.Dropout(0.5, seed=0)
    x = np.arange(6.0).reshape(2, 3)
    assert layer.forward(x, training=False) is x
    # The dropout stream is spawned after the weights are drawn: the same seed gives the same
    # weights with or without the layer, so predictions must be identical.
    X = np.random.default_rng(0).standard_normal((30, 5))
    with_dropout = rn.Network([rn.Dense(5, 8), rn.ReLU(), rn.Dropout(0.5), rn.Dense(8, 2)], seed=4)
    without = rn.Network([rn.Dense(5, 8), rn.ReLU(), rn.Dense(8, 2)], seed=4)
    np.testing.assert_array_equal(with_dropout.forward(X), without.forward(X))


def test_dropout_masks_follow_the_network_seed():
    def masks(seed):
        dropout = rn.Dropout(0.5)
        net = rn.Network([rn.Dense(3, 6), rn.ReLU(), dropout, rn.Dense(6, 1)], seed=seed)
        net.loss_and_gradients(np.ones((5, 3)), np.ones(5), training=True)
        return dropout.mask.copy()

    np.testing.assert_array_equal(masks(1), masks(1))
    assert not np.array_equal(masks(1), masks(2))


@pytest.mark.parametrize("rate", [1.0, -0.1, 1.5, float("nan")])
def test_dropout_rate_outside_zero_one_is_refused(rate):
    with pytest.raises(ValueError, match=r"rate must be in \[0, 1\)"):
        rn.Dropout(rate)


@pytest.mark.parametrize("rate", ["0.5", None, True])
def test_dropout_rate_must_be_a_number(rate):
    with pytest.raises(TypeError, match="rate must be a number"):
        rn.Dropout(rate)


# ---------------------------------------------------------------------------------- batch norm
def _batch_norm_net(seed=5):
    batch_norm = rn.BatchNorm(6)
    net = rn.Network([rn.Dense(4, 6), batch_norm, rn.Tanh(), rn.Dense(6, 3)],
                     loss="softmax_cross_entropy", seed=seed)
    rng = np.random.default_rng(seed)
    batch_norm.gamma[...] = rng.uniform(0.5, 2.0, 6)
    batch_norm.beta[...] = rng.uniform(-0.5, 0.5, 6)
    return net, batch_norm


def test_batch_norm_gradients_match_finite_differences_in_training_mode(small_batch):
    X, y = small_batch
    net, _ = _batch_norm_net()
    X, target = net.check_Xy(X, y)
    net.loss_and_gradients(X, target, training=True)
    analytic = [grad.copy() for grad in net.gradients()]
    numeric = _numeric_gradients(net, lambda: _training_loss(net, X, target))
    # every array, gamma and beta included, through the batch mean and variance; the first
    # layer's bias is cancelled by the batch mean, so its gradient is zero
    assert len(analytic) == 6
    assert np.abs(analytic[1]).max() < 1e-12
    assert _max_relative_error(analytic, numeric) < GRAD_TOLERANCE


def test_batch_norm_input_gradient_matches_finite_differences_in_training_mode():
    # dE/dx of the layer alone, E = sum(w * y) with fixed random weights w
    rng = np.random.default_rng(2)
    x, weights = rng.standard_normal((5, 3)) * [1.0, 3.0, 0.2], rng.standard_normal((5, 3))
    layer = rn.BatchNorm(3)
    layer.gamma[...] = [0.7, 1.3, 2.0]
    layer.forward(x, training=True)
    analytic = layer.backward(weights).copy()
    numeric = np.empty_like(x)
    for index in np.ndindex(x.shape):
        shifted = x.copy()
        shifted[index] += EPS
        plus = np.sum(weights * layer.forward(shifted, training=True))
        shifted[index] -= 2 * EPS
        minus = np.sum(weights * layer.forward(shifted, training=True))
        numeric[index] = (plus - minus) / (2 * EPS)
    assert relative_error(analytic, numeric) < GRAD_TOLERANCE


def test_batch_norm_gradients_match_finite_differences_in_evaluation_mode(small_batch):
    X, y = small_batch
    net, batch_norm = _batch_norm_net()
    batch_norm.running_mean[...] = np.linspace(-1, 1, 6)
    batch_norm.running_var[...] = np.linspace(0.5, 2, 6)
    check = rn.check_gradients(net, X, y)  # loss_and_gradients runs in evaluation mode
    assert check < GRAD_TOLERANCE
    X, target = net.check_Xy(X, y)
    net.loss_and_gradients(X, y)
    analytic = [batch_norm.dgamma.copy(), batch_norm.dbeta.copy()]
    numeric = _numeric_gradients(net, lambda: net.loss_value(X, target))[2:4]
    assert _max_relative_error(analytic, numeric) < GRAD_TOLERANCE


def test_batch_norm_output_has_zero_mean_and_unit_variance_per_unit_in_training():
    # With gamma = 1, beta = 0 the output is (x - mean) / sqrt(var + eps): mean 0 to rounding and
    # variance exactly var / (var + eps) (biased batch variance), i.e. 1 within eps / var.
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 5)) * [1.0, 2.0, 5.0, 10.0, 100.0] + [0.0, -3.0, 7.0, 50.0, 1e3]
    output = rn.BatchNorm(5, eps=1e-5).forward(x, training=True)
    np.testing.assert_allclose(output.mean(axis=0), 0.0, atol=1e-12)
    variance = x.var(axis=0)
    np.testing.assert_allclose(output.var(axis=0), variance / (variance + 1e-5), rtol=1e-12)
    np.testing.assert_allclose(output.var(axis=0), 1.0, atol=2e-5)
    without_eps = rn.BatchNorm(5, eps=1e-300).forward(x, training=True)
    np.testing.assert_allclose(without_eps.var(axis=0), 1.0, rtol=1e-12)


def test_batch_norm_in_float32_agrees_with_the_textbook_formulas_in_float64():
    # The fused kernels accumulate the per-feature sums in float64 for either dtype; what is left
    # is float32 rounding of the mean and of x - mean, an error in x_hat of about
    # eps32 (1 + |mean| / std) per feature: we allow 8 times that (feature 0 has |mean| = 1e3 std).
    rng = np.random.default_rng(3)
    x = (rng.standard_normal((128, 40)) * rng.uniform(0.1, 3, 40) + rng.uniform(-5, 5, 40))
    x[:, 0] = 1e3 + rng.standard_normal(128)
    g = rng.standard_normal((128, 40))
    layer = rn.BatchNorm(40, dtype=np.float32)
    layer.gamma[...] = rng.uniform(0.5, 2, 40)
    layer.beta[...] = rng.uniform(-1, 1, 40)
    x32, g32 = x.astype(np.float32), g.astype(np.float32)
    gamma, beta = layer.gamma.astype(np.float64), layer.beta.astype(np.float64)
    x, g = x32.astype(np.float64), g32.astype(np.float64)
    mean, var = x.mean(axis=0), x.var(axis=0)
    k = 1 / np.sqrt(var + layer.eps)
    x_hat = (x - mean) * k
    tolerance = 8 * np.finfo(np.float32).eps * (1 + np.abs(mean) * k)        # per feature
    y = layer.forward(x32, training=True)
    dx = layer.backward(g32)
    assert y.dtype == dx.dtype == np.float32
    assert np.all(np.abs(y - (gamma * x_hat + beta)) <= tolerance * (gamma * np.abs(x_hat) + 1))
    dbeta, dgamma = g.sum(axis=0), (g * x_hat).sum(axis=0)
    assert np.all(np.abs(layer.dbeta - dbeta) <= tolerance * np.abs(g).sum(axis=0))
    assert np.all(np.abs(layer.dgamma - dgamma) <= tolerance * np.abs(g * x_hat).sum(axis=0) + tolerance)
    expected_dx = gamma * k * (g - g.mean(axis=0) - x_hat * (g * x_hat).mean(axis=0))
    scale = gamma * k * (np.abs(g) + np.abs(g).mean(axis=0) + np.abs(x_hat) * np.abs(g * x_hat).mean(axis=0))
    assert np.all(np.abs(dx - expected_dx) <= tolerance * scale)


def test_batch_norm_evaluation_uses_the_running_statistics():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((10, 3)) * [1.0, 2.0, 3.0] + [1.0, 0.0, -1.0]
    layer = rn.BatchNorm(3, momentum=0.8, eps=1e-3)
    layer.forward(x, training=True)
    # running = m * initial + (1 - m) * batch, initial mean 0 and variance 1, unbiased variance
    expected_mean = 0.2 * x.mean(axis=0)
    expected_var = 0.8 + 0.2 * x.var(axis=0, ddof=1)
    np.testing.assert_allclose(layer.running_mean, expected_mean, rtol=1e-14)
    np.testing.assert_allclose(layer.running_var, expected_var, rtol=1e-14)
    layer.gamma[...] = [2.0, 0.5, 1.0]
    layer.beta[...] = [0.1, 0.2, 0.3]
    probe = rng.standard_normal((4, 3))
    expected = layer.gamma * (probe - expected_mean) / np.sqrt(expected_var + 1e-3) + layer.beta
    np.testing.assert_allclose(layer.forward(probe, training=False), expected, rtol=1e-13)
    # the running statistics converge to the batch statistics: m^200 = 4e-20
    for _ in range(200):
        layer.forward(x, training=True)
    np.testing.assert_allclose(layer.running_mean, x.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(layer.running_var, x.var(axis=0, ddof=1), rtol=1e-12)
    assert layer.buffers()["running_mean"] is layer.running_mean


def test_fit_trains_in_batch_mode_and_predict_evaluates_sample_by_sample():
    split = rn.datasets.digits()
    net = rn.Network([rn.Dense(64, 32), rn.BatchNorm(32), rn.ReLU(), rn.Dense(32, 10)],
                     loss="softmax_cross_entropy", seed=0)
    net.fit(split.X_train, split.y_train, epochs=10, batch_size=64, progress=False)
    batch_norm = net.layers[1]
    assert not np.allclose(batch_norm.running_mean, 0)  # fit updated the running statistics
    # evaluation mode is a fixed affine map: a sample's output does not depend on its batch
    alone = net.forward(split.X_test[:1])
    np.testing.assert_allclose(net.forward(split.X_test)[:1], alone, rtol=1e-12)
    assert net.score(split.X_test, split.y_test) > 0.8


def test_plain_sgd_steps_batch_norm_parameters_like_the_optimizer_update():
    # fit folds plain SGD into the Dense layers' backward pass and steps gamma and beta itself; a
    # subclass of SGD takes the generic path (dW stored, optimizer.update): same trajectory, to
    # float64 rounding (the fused GEMM adds in another order)
    class GenericSGD(rn.SGD):
        pass

    split = rn.datasets.digits(standardize=True)

    def train(optimizer):
        net = rn.Network([rn.Dense(64, 16), rn.BatchNorm(16), rn.Tanh(), rn.Dropout(0.2),
                          rn.Dense(16, 10)], loss="softmax_cross_entropy", seed=0)
        net.fit(split.X_train[:500], split.y_train[:500], epochs=3, batch_size=50,
                optimizer=optimizer, progress=False, gradient_norm_samples=2)
        return net.parameters() + [net.layers[1].running_var]

    for fused, generic in zip(train(rn.SGD(lr=0.1)), train(GenericSGD(lr=0.1)), strict=True):
        np.testing.assert_allclose(fused, generic, rtol=1e-9, atol=1e-12)


def test_batch_norm_refuses_a_batch_of_one_in_training_but_not_in_evaluation():
    layer = rn.BatchNorm(3)
    with pytest.raises(ValueError, match="at least 2 samples"):
        layer.forward(np.ones((1, 3)), training=True)
    layer.forward(np.ones((1, 3)), training=False)
    net = rn.Network([rn.Dense(2, 3), rn.BatchNorm(3), rn.ReLU(), rn.Dense(3, 1)], seed=0)
    with pytest.raises(ValueError, match="last mini-batch of one sample"):
        net.fit(np.ones((9, 2)), np.ones(9), batch_size=4, progress=False)


def test_batch_norm_width_must_match_the_layer_before_and_he_init_looks_past_it():
    with pytest.raises(ValueError, match="n_features must be 8"):
        rn.Network([rn.Dense(4, 8), rn.BatchNorm(6), rn.ReLU(), rn.Dense(8, 2)])
    with pytest.raises(ValueError, match="n_features"):
        rn.BatchNorm(0)
    with pytest.raises(ValueError, match="momentum"):
        rn.BatchNorm(3, momentum=1.0)
    with pytest.raises(ValueError, match="eps"):
        rn.BatchNorm(3, eps=0.0)
    net = rn.Network([rn.Dense(64, 100), rn.BatchNorm(100), rn.Dropout(0.1), rn.ReLU(),
                      rn.Dense(100, 10)], seed=0, dtype=np.float32)
    weights = net.dense_layers[0].W
    # He uniform bound sqrt(6/64) = 0.306 versus Glorot's sqrt(6/164) = 0.191
    assert 0.29 < np.abs(weights).max() <= np.sqrt(6 / 64)
    assert net.layers[1].gamma.dtype == np.float32 and net.layers[1].running_var.dtype == np.float32
    assert rn.BatchNorm(5).config() == {"n_features": 5, "momentum": 0.9, "eps": 1e-5}
    assert rn.Dropout(0.25).config() == {"rate": 0.25}


# --------------------------------------------------------------------------------- L2 and L1
def test_weight_penalty_value_and_gradients_match_formula_and_finite_differences(small_batch):
    X, y = small_batch
    net = rn.Network([rn.Dense(4, 6, l1=0.03), rn.Tanh(), rn.Dense(6, 5), rn.Tanh(),
                      rn.Dense(5, 3, weight_decay=0.0)], loss="softmax_cross_entropy", seed=2)
    for include_bias in (False, True):
        penalty = rn.WeightPenalty(net, weight_decay=0.05, l1=0.01, include_bias=include_bias)
        first, second, third = net.dense_layers
        # layer 1: its own l1 and the global L2; layer 2: global values; layer 3: its own zero
        # L2 and the global L1
        expected = (0.05 * np.sum(first.W ** 2) + 0.03 * np.sum(np.abs(first.W))
                    + 0.05 * np.sum(second.W ** 2) + 0.01 * np.sum(np.abs(second.W))
                    + 0.01 * np.sum(np.abs(third.W)))
        if include_bias:
            first.b[...], second.b[...], third.b[...] = 0.3, -0.2, 0.1
            expected += (0.05 * np.sum(first.b ** 2) + 0.03 * np.sum(np.abs(first.b))
                         + 0.05 * np.sum(second.b ** 2) + 0.01 * np.sum(np.abs(second.b))
                         + 0.01 * np.sum(np.abs(third.b)))
        assert penalty.value() == pytest.approx(expected, rel=1e-13)
        Xc, target = net.check_Xy(X, y)
        net.loss_and_gradients(X, y)
        penalty.add_gradients()
        analytic = [grad.copy() for grad in net.gradients()]
        numeric = _numeric_gradients(
            net, lambda Xc=Xc, target=target, penalty=penalty: net.loss_value(Xc, target) + penalty.value())
        assert _max_relative_error(analytic, numeric) < GRAD_TOLERANCE


def test_fit_reports_loss_plus_penalty_and_weight_decay_shrinks_weights():
    X, y = rn.datasets.noisy_line(n_points=20)
    X_val, y_val = rn.datasets.noisy_line(n_points=10, seed=1)

    def trained(weight_decay):
        net = rn.MLP([1, 30, 1], activation="tanh", output="linear", seed=0)
        history = net.fit(X, y, epochs=30, batch_size=None, optimizer=rn.SGD(lr=0.05),
                          weight_decay=weight_decay, validation_data=(X_val, y_val), progress=False)
        return net, history

    net, history = trained(0.01)
    weights = sum(np.sum(layer.W ** 2) for layer in net.dense_layers)
    assert history.val_loss[-1] == pytest.approx(net.loss_value(X_val, y_val) + 0.01 * weights,
                                                  rel=1e-12)
    plain, _ = trained(0.0)
    assert weights < sum(np.sum(layer.W ** 2) for layer in plain.dense_layers)


def test_penalty_arguments_are_checked():
    net = rn.MLP([2, 3, 1], output="linear")
    with pytest.raises(ValueError, match="weight_decay"):
        net.fit(np.ones((4, 2)), np.ones(4), weight_decay=-1.0, progress=False)
    with pytest.raises(ValueError, match="l1"):
        rn.Dense(2, 3, l1=-0.1)
    assert rn.Dense(2, 3, weight_decay=0.1).config()["weight_decay"] == 0.1


# ------------------------------------------------------------------------------- early stopping
def test_early_stopping_on_digits_keeps_an_epoch_within_one_point_of_the_best_test_accuracy():
    split = rn.datasets.digits(standardize=True)

    def run(callbacks):
        net = rn.MLP([64, 64, 10], activation="relu", seed=0)
        test_accuracy = []
        record = lambda net, epoch, logs: test_accuracy.append(net.score(split.X_test, split.y_test))  # noqa: E731
        history = net.fit(split.X_train, split.y_train, epochs=60, batch_size=32,
                          optimizer=rn.Adam(lr=3e-3), validation_split=0.2, seed=1,
                          callbacks=[record, *callbacks], progress=False)
        return net, history, test_accuracy

    _, full_history, full_accuracy = run([])  # every epoch, for the best test accuracy
    stopper = rn.EarlyStopping(monitor="val_loss", patience=5, restore_best=True)
    net, history, accuracy = run([stopper])
    assert stopper.stopped_epoch is not None and len(history) < len(full_history)
    np.testing.assert_array_equal(accuracy, full_accuracy[:len(accuracy)])  # same seeded run
    best = history.best_epoch  # numbered from 1
    assert best == int(np.argmin(history.val_loss)) + 1
    assert net.score(split.X_test, split.y_test) == accuracy[best - 1]  # the weights were restored
    assert max(full_accuracy) - accuracy[best - 1] <= 0.01


def test_early_stopping_restores_batch_norm_buffers_and_works_with_plateau_halving():
    split = rn.datasets.digits(standardize=True)
    net = rn.Network([rn.Dense(64, 32), rn.BatchNorm(32), rn.ReLU(), rn.Dense(32, 10)],
                     loss="softmax_cross_entropy", seed=0)
    snapshots = []
    record = lambda net, epoch, logs: snapshots.append(  # noqa: E731
        [array.copy() for array in (*net.parameters(), net.layers[1].running_mean)])
    stopper = rn.EarlyStopping(monitor="val_accuracy", patience=4)
    history = net.fit(split.X_train, split.y_train, epochs=40, batch_size=64,
                      optimizer=rn.Adam(lr=1e-2), validation_split=0.2,
                      schedule=rn.ReduceOnPlateau(monitor="val_loss", factor=0.5),
                      callbacks=[record, stopper], progress=False)
    assert stopper.mode == "max" and history.best_epoch == stopper.best_epoch
    assert min(history.learning_rate) < history.learning_rate[0]  # the plateau halving happened
    assert stopper.best == max(history.val_accuracy)
    assert history.best_epoch == int(np.argmax(history.val_accuracy)) + 1
    assert history.best_epoch < len(history)  # so restoring changes something
    for saved, current in zip(snapshots[history.best_epoch - 1],
                              (*net.parameters(), net.layers[1].running_mean), strict=True):
        np.testing.assert_array_equal(current, saved)


def test_early_stopping_without_validation_falls_back_to_training_values_with_a_warning():
    X, y = rn.datasets.noisy_line(n_points=20)
    stopper = rn.EarlyStopping(patience=2)
    with pytest.warns(UserWarning, match="no validation data"):
        rn.MLP([1, 4, 1], output="linear").fit(X, y, epochs=3, callbacks=[stopper], progress=False)
    with pytest.raises(ValueError, match="patience"):
        rn.EarlyStopping(patience=0)
    with pytest.raises(ValueError, match="mode"):
        rn.EarlyStopping(mode="largest")
    with pytest.raises(ValueError, match="val_f1"):  # before the first epoch
        rn.MLP([1, 4, 1], output="linear").fit(X, y, epochs=2, progress=False,
                                               callbacks=[rn.EarlyStopping("val_f1")])


# ---------------------------------------------------------------------------------- augmentation
def test_augment_is_applied_to_every_training_batch_only():
    X, y = rn.datasets.noisy_line(n_points=40)
    calls = []

    def shift(batch, rng):
        calls.append(batch.shape)
        assert isinstance(rng, np.random.Generator)
        return batch + rng.normal(0.0, 0.01, size=batch.shape)

    def train():
        net = rn.MLP([1, 4, 1], output="linear", seed=0)
        net.fit(X, y, epochs=3, batch_size=16, validation_split=0.25, augment=shift, progress=False)
        return net.forward(X)

    first = train()
    # 30 training samples in batches of 16: two batches (16, 14) per epoch, none for validation
    assert calls == [(16, 1), (14, 1)] * 3
    np.testing.assert_array_equal(train(), first)  # the augmentation's rng is seeded


def test_augment_must_return_a_batch_of_the_same_shape():
    X, y = rn.datasets.noisy_line(n_points=10)
    net = rn.MLP([1, 4, 1], output="linear")
    with pytest.raises(ValueError, match="same shape|batch's shape"):
        net.fit(X, y, augment=lambda batch, rng: batch[:-1], progress=False)
    with pytest.raises(TypeError, match="augment"):
        net.fit(X, y, augment="shift", progress=False)
    with pytest.raises(TypeError, match="None"):
        net.fit(X, y, augment=lambda batch, rng: None, progress=False)
