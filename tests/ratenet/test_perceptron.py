"""Specifications of ratenet.perceptron: the notes' Chapter-7 threshold unit and its learning rule."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from ratenet import datasets
from ratenet.perceptron import Perceptron, PerceptronConvergenceWarning


def test_perceptron_learns_or_following_the_hand_worked_trace():
    # By hand, from w = (0, 0), b = 0, step(0) = 1, samples in order (0,0), (0,1), (1,0), (1,1):
    # epoch 1: (0,0) fires wrongly -> b = -1; (0,1) silent wrongly -> w = (0,1), b = 0; 2 errors
    # epoch 2: (0,0) -> b = -1; (1,0) silent wrongly -> w = (1,1), b = 0;            2 errors
    # epoch 3: (0,0) -> b = -1;                                                       1 error
    # epoch 4: no error; w = (1, 1), b = -1.
    X, y = datasets.logical_or()
    perceptron = Perceptron(2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # converging must not warn
        result = perceptron.fit(X, y)
    assert result.converged and result.errors == 0 and result.epochs == 4
    assert result.errors_per_epoch == [2, 2, 1, 0]
    np.testing.assert_array_equal(result.weights, [1, 1])
    assert result.bias == -1
    np.testing.assert_array_equal(perceptron.predict(X), y)
    assert "converged after 4 epoch(s)" in repr(result)


def test_perceptron_fails_on_xor_and_reports_it():
    X, y = datasets.xor()
    perceptron = Perceptron(2)
    with pytest.warns(PerceptronConvergenceWarning, match="did not converge in 50 epochs"):
        result = perceptron.fit(X, y, max_epochs=50)
    assert not result.converged
    assert result.epochs == 50 and len(result.errors_per_epoch) == 50
    assert result.errors >= 1 and min(result.errors_per_epoch) >= 1
    # No line separates XOR: whatever weights it ends with, at least one sample is wrong.
    assert np.sum(perceptron.predict(X) != y) >= 1
    assert "did NOT converge" in repr(result)


def test_perceptron_separates_random_linearly_separable_data():
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, size=(200, 3))
    true_w, true_b = np.array([1.0, -2.0, 0.5]), 0.1
    margin = X @ true_w + true_b
    X, y = X[np.abs(margin) > 0.1], (margin[np.abs(margin) > 0.1] >= 0).astype(int)
    # Novikoff's theorem bounds the number of updates by (R / gamma)^2, finite for a positive
    # margin gamma, so the rule must reach an epoch without errors.
    result = Perceptron(3, learning_rate=0.5, seed=1).fit(X, y, max_epochs=1000)
    assert result.converged
    np.testing.assert_array_equal(Perceptron(3, weights=result.weights, bias=result.bias).predict(X), y)


def test_perceptron_rejects_bad_input():
    perceptron = Perceptron(2)
    with pytest.raises(ValueError, match="targets 0 or 1"):
        perceptron.fit(np.zeros((2, 2)), [0, 2])
    with pytest.raises(ValueError, match="2 columns"):
        perceptron.predict(np.zeros((3, 3)))
    with pytest.raises(ValueError, match="one target per sample"):
        perceptron.fit(np.zeros((3, 2)), [0, 1])
    with pytest.raises(ValueError, match="learning_rate"):
        Perceptron(2, learning_rate=0)


def test_perceptron_equals_scikit_learns_rule_off_the_boundary():
    # scikit-learn's Perceptron rule written out by hand (labels y = 2t - 1; update w += eta y x,
    # b += eta y when y (w.x + b) <= 0), samples in order. From random weights no sample lands
    # exactly on the boundary, where (as documented) the two rules differ, so they must agree.
    rng = np.random.default_rng(3)
    X = rng.normal(size=(40, 3))
    t = (X @ np.array([1.0, -1.0, 0.5]) + 0.2 > 0).astype(int)
    ours = Perceptron(3, learning_rate=0.5, seed=7)
    w, b = ours.weights.copy(), ours.bias
    for _ in range(20):
        for x, label in zip(X, 2 * t - 1, strict=True):
            z = x @ w + b
            assert z != 0
            if label * z <= 0:
                w, b = w + 0.5 * label * x, b + 0.5 * label
    result = ours.fit(X, t, max_epochs=20)
    assert result.converged
    np.testing.assert_allclose(result.weights, w, rtol=1e-14)
    assert result.bias == pytest.approx(b, rel=1e-14)


def test_on_the_boundary_the_notes_rule_keeps_a_target_of_one_and_scikit_learns_updates():
    # the documented difference: from zero weights z = 0, step(0) = 1 is right for t = 1
    perceptron = Perceptron(2)
    perceptron.fit(np.array([[1.0, 2.0]]), [1], max_epochs=1)
    np.testing.assert_array_equal(perceptron.weights, [0.0, 0.0])
    # scikit-learn's rule updates there: y z = 0 <= 0 -> w = (1, 2), b = 1
