"""Losses: values against the textbook formulas, gradients against finite differences, stability
where the naive formulas overflow or take log(0), and target validation."""

import numpy as np
import pytest

import ratenet as rn


def _finite_difference(loss, output, target, eps=1e-6):
    """Central differences of loss.value over every entry of ``output`` (error O(eps^2))."""
    numeric = np.empty_like(output)
    for index in np.ndindex(output.shape):
        plus, minus = output.copy(), output.copy()
        plus[index] += eps
        minus[index] -= eps
        numeric[index] = (loss.value(plus, target) - loss.value(minus, target)) / (2 * eps)
    return numeric


@pytest.fixture
def rng():
    return np.random.default_rng(7)


def test_mse_is_mean_over_samples_of_half_sum_of_squares(rng):
    output, target = rng.normal(size=(5, 3)), rng.normal(size=(5, 3))
    value, grad = rn.MSE().value_and_gradient(output, target)
    expected = np.mean(0.5 * np.sum((output - target) ** 2, axis=1))
    assert value == pytest.approx(expected, rel=1e-14)
    np.testing.assert_allclose(grad, (output - target) / 5, rtol=1e-14)


def test_softmax_cross_entropy_matches_naive_formula_for_moderate_logits(rng):
    logits = rng.normal(size=(6, 4))
    labels = np.array([0, 1, 2, 3, 1, 0])
    loss = rn.SoftmaxCrossEntropy()
    target = loss.prepare_target(labels, 4, np.float64)
    value, grad = loss.value_and_gradient(logits, target)
    probability = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    onehot = np.eye(4)[labels]
    assert value == pytest.approx(-np.mean(np.log(probability[np.arange(6), labels])), rel=1e-13)
    # the notes' fused gradient y - t, averaged over the batch
    np.testing.assert_allclose(grad, (probability - onehot) / 6, rtol=1e-12, atol=1e-15)


def test_softmax_cross_entropy_one_hot_targets_equal_label_targets(rng):
    logits = rng.normal(size=(5, 3))
    labels = np.array([2, 0, 1, 1, 2])
    loss = rn.SoftmaxCrossEntropy()
    by_label = loss.value_and_gradient(logits, loss.prepare_target(labels, 3, np.float64))
    by_onehot = loss.value_and_gradient(logits, loss.prepare_target(np.eye(3)[labels], 3, np.float64))
    assert by_label[0] == pytest.approx(by_onehot[0], rel=1e-14)
    np.testing.assert_allclose(by_label[1], by_onehot[1], atol=1e-16)


def test_binary_cross_entropy_on_logits_matches_naive_formula(rng):
    logits, target = rng.normal(size=(5, 2)), rng.integers(0, 2, size=(5, 2)).astype(float)
    value, grad = rn.BinaryCrossEntropy().value_and_gradient(logits, target)
    p = 1 / (1 + np.exp(-logits))
    expected = -np.sum(target * np.log(p) + (1 - target) * np.log(1 - p)) / 5
    assert value == pytest.approx(expected, rel=1e-13)
    np.testing.assert_allclose(grad, (p - target) / 5, rtol=1e-12)


@pytest.mark.parametrize("loss", [rn.MSE(), rn.L1Error(), rn.BinaryCrossEntropy(),
                                  rn.BinaryCrossEntropy(from_logits=False), rn.SoftmaxCrossEntropy()],
                         ids=repr)
def test_loss_gradient_matches_finite_differences(loss, rng):
    # L1 has a kink at output == target; random outputs are far from it (|difference| >> eps).
    if isinstance(loss, rn.BinaryCrossEntropy) and not loss.from_logits:
        output = rng.uniform(0.05, 0.95, size=(4, 3))
    else:
        output = rng.normal(size=(4, 3))
    if isinstance(loss, rn.SoftmaxCrossEntropy):
        target = np.array([0, 2, 1, 2])
    elif isinstance(loss, rn.BinaryCrossEntropy):
        target = rng.integers(0, 2, size=(4, 3)).astype(float)
    else:
        target = rng.normal(size=(4, 3))
    _, grad = loss.value_and_gradient(output, target)
    # central differences with eps = 1e-6 on O(1) values: error ~1e-10 absolute
    np.testing.assert_allclose(grad, _finite_difference(loss, output, target), rtol=1e-6, atol=1e-9)


def test_softmax_cross_entropy_is_finite_for_huge_logits():
    logits = np.array([[1e4, -1e4, 0.0], [-5e3, 5e3, 5e3]])
    loss = rn.SoftmaxCrossEntropy()
    value, grad = loss.value_and_gradient(logits, np.array([1, 0]))
    # exact: sample 0 loses 2e4 (logsumexp = 1e4), sample 1 loses 1e4 + log 2
    assert value == pytest.approx((2e4 + 1e4 + np.log(2)) / 2, rel=1e-12)
    assert np.all(np.isfinite(grad))
    np.testing.assert_allclose(loss.output_to_probability(logits),
                               [[1, 0, 0], [0, 0.5, 0.5]], atol=1e-300)


def test_binary_cross_entropy_is_finite_for_huge_logits_and_saturated_probabilities():
    logits = np.array([[1e4], [-1e4]])
    value, grad = rn.BinaryCrossEntropy().value_and_gradient(logits, np.array([[0.0], [0.0]]))
    assert value == pytest.approx(1e4 / 2, rel=1e-12)  # softplus(1e4) = 1e4, softplus(-1e4) = 0
    np.testing.assert_allclose(grad, [[0.5], [0.0]], atol=1e-300)
    value, grad = rn.BinaryCrossEntropy(from_logits=False).value_and_gradient(
        np.array([[0.0], [1.0]]), np.array([[1.0], [0.0]]))
    assert np.isfinite(value) and np.all(np.isfinite(grad))  # clipped: no log(0), no division by 0


def test_l1_error_value_and_sign_gradient():
    value, grad = rn.L1Error().value_and_gradient(np.array([[1.0], [0.0]]), np.array([[0.0], [0.0]]))
    assert value == 0.5
    np.testing.assert_array_equal(grad, [[0.5], [0.0]])


def test_labels_outside_the_class_range_are_rejected():
    loss = rn.SoftmaxCrossEntropy()
    with pytest.raises(ValueError, match="class range"):
        loss.prepare_target(np.array([0, 3]), 3, np.float64)
    with pytest.raises(ValueError, match="integer class labels"):
        loss.prepare_target(np.array([0.5, 1.0]), 3, np.float64)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        rn.BinaryCrossEntropy().prepare_target(np.array([0, 2]), 1, np.float64)
    with pytest.raises(ValueError, match="finite"):
        rn.MSE().prepare_target(np.array([0, np.nan]), 1, np.float64)


def test_unknown_loss_name_lists_the_choices():
    with pytest.raises(ValueError, match="softmax_cross_entropy"):
        rn.get_loss("hinge")
    assert isinstance(rn.get_loss("bce"), rn.BinaryCrossEntropy)


# ------------------------------------------------------------------------------ sparsemax loss
def _sparsemax_threshold_by_bisection(z):
    """tau with sum_j max(z_j - tau, 0) = 1, by bisection on [max z - 1, max z] (the sum falls
    from >= 1 to 0 there); independent of the library's sort-based sparsemax."""
    low, high = z.max() - 1.0, z.max()
    for _ in range(200):
        middle = 0.5 * (low + high)
        if np.maximum(z - middle, 0).sum() > 1:
            low = middle
        else:
            high = middle
    return 0.5 * (low + high)


def _sparsemax_loss_reference(z, q):
    """Martins & Astudillo (2016) Eq. 18-19 for one sample, straight from the paper's formula:
    L = -q.z + 1/2 sum_{j in S} (z_j^2 - tau^2) + 1/2 ||q||^2, gradient sparsemax(z) - q."""
    tau = _sparsemax_threshold_by_bisection(z)
    support = z > tau
    value = -q @ z + 0.5 * np.sum(z[support] ** 2 - tau**2) + 0.5 * q @ q
    return value, np.maximum(z - tau, 0) - q


@pytest.mark.parametrize("scale", [0.3, 1.0, 5.0])
def test_sparsemax_loss_matches_the_papers_formula_with_labels_and_distributions(rng, scale):
    logits = scale * rng.normal(size=(8, 5))
    labels = rng.integers(0, 5, size=8)
    distributions = rng.dirichlet(np.ones(5), size=8)
    loss = rn.SparsemaxLoss()
    for target in (labels, distributions):
        rows = np.eye(5)[target] if target.ndim == 1 else target
        references = [_sparsemax_loss_reference(z, q) for z, q in zip(logits, rows, strict=True)]
        value, grad = loss.value_and_gradient(logits, loss.prepare_target(target, 5, np.float64))
        assert value == pytest.approx(np.mean([r[0] for r in references]), rel=1e-12, abs=1e-14)
        np.testing.assert_allclose(grad, np.array([r[1] for r in references]) / 8, atol=1e-12)


def test_sparsemax_loss_gradient_matches_finite_differences(rng):
    logits = rng.normal(size=(6, 4))
    labels = np.array([0, 1, 2, 3, 1, 0])
    loss = rn.SparsemaxLoss()
    target = loss.prepare_target(labels, 4, np.float64)
    _, grad = loss.value_and_gradient(logits, target)
    np.testing.assert_allclose(grad, _finite_difference(loss, logits, target), atol=1e-9)


def test_sparsemax_loss_is_zero_exactly_when_the_prediction_is_the_one_hot_target():
    loss = rn.SparsemaxLoss()
    target = np.array([0, 2])
    # the right class leads by >= 1: sparsemax gives it probability 1, and the loss is 0
    value, grad = loss.value_and_gradient(np.array([[3.0, 1.0, 2.0], [0.0, -4.0, 1.0]]), target)
    assert value == 0.0
    np.testing.assert_array_equal(grad, np.zeros((2, 3)))
    # by hand for z = (1, 0.5, -3), label 0: support {0, 1}, tau = (1 + 0.5 - 1) / 2 = 0.25,
    # p = (0.75, 0.25, 0); L = -z0 + 1/2 (z0^2 + z1^2 - 2 tau^2) + 1/2 = -1 + 0.5625 + 0.5 = 0.0625
    value, grad = loss.value_and_gradient(np.array([[1.0, 0.5, -3.0]]), np.array([0]))
    assert value == pytest.approx(0.0625, rel=1e-14)
    np.testing.assert_allclose(grad, [[-0.25, 0.25, 0.0]], atol=1e-15)


def test_sparsemax_loss_ignores_a_constant_added_to_the_logits_and_survives_huge_ones(rng):
    logits = rng.normal(size=(4, 6))
    labels = np.array([1, 5, 0, 2])
    loss = rn.SparsemaxLoss()
    reference = loss.value_and_gradient(logits, labels)
    shifted = loss.value_and_gradient(logits + 1e6, labels)
    assert shifted[0] == pytest.approx(reference[0], rel=1e-9)
    np.testing.assert_allclose(shifted[1], reference[1], atol=1e-10)
    value, grad = loss.value_and_gradient(np.array([[1e300, -1e300, 0.0]]), np.array([1]))
    assert np.isfinite(grad).all() and value > 0


def test_a_network_with_the_sparsemax_loss_predicts_argmax_and_sparse_probabilities(tmp_path):
    corners, _ = rn.datasets.logical_or()
    rng = np.random.default_rng(0)
    X = np.repeat(corners, 10, axis=0) + 0.05 * rng.normal(size=(40, 2))
    y = np.repeat(corners.sum(axis=1), 10).astype(int)   # three classes: how many inputs are on
    net = rn.Network([rn.Dense(2, 8), rn.Tanh(), rn.Dense(8, 3)], loss="sparsemax", seed=0)
    assert isinstance(net.loss, rn.SparsemaxLoss) and net.loss.is_classification
    assert rn.check_gradients(net, X[:6], y[:6]) < 1e-6
    net.fit(X, y, epochs=300, batch_size=None, optimizer=rn.Adam(lr=0.05), progress=False)
    assert net.score(X, y) == 1.0
    probability = net.predict_proba(X)
    np.testing.assert_allclose(probability.sum(axis=1), 1.0, rtol=1e-12)
    assert (probability == 0).any() and (probability >= 0).all()
    np.testing.assert_array_equal(net.predict(X), probability.argmax(axis=1))
    np.testing.assert_array_equal(net.predict(X), net.forward(X).argmax(axis=1))
    net.save(tmp_path / "sparse.npz")
    loaded = rn.load(tmp_path / "sparse.npz")
    assert isinstance(loaded.loss, rn.SparsemaxLoss)
    np.testing.assert_array_equal(loaded.predict_proba(X), probability)
