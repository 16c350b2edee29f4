"""Training plots: the curves drawn are the History's numbers (checked line by line), the
early-stopping point is marked where EarlyStopping put it, activation curves are the textbook
formulas, and bad input is refused."""

import matplotlib.pyplot as plt
import numpy as np
import pytest

import ratenet as rn
from ratenet.plot import plot_activation_curves, plot_gradient_norms, plot_learning_curves


@pytest.fixture(scope="module")
def stopped_history():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((120, 3))
    y = (X[:, 0] + 0.5 * rng.standard_normal(120) > 0).astype(int)
    net = rn.MLP([3, 40, 40, 2], activation="tanh", seed=0)
    history = net.fit(X, y, epochs=80, batch_size=16, optimizer=rn.Adam(lr=0.01), validation_split=0.3,
                      callbacks=[rn.EarlyStopping(patience=5)], progress=False)
    assert history.best_epoch is not None
    return net, history


def test_learning_curves_draw_training_and_validation_and_mark_the_best_epoch(stopped_history):
    net, history = stopped_history
    ax = plot_learning_curves(history)
    train, validation, marker_line, marker_point = ax.get_lines()
    epochs = np.arange(1, len(history) + 1)
    np.testing.assert_array_equal(train.get_xdata(), epochs)
    np.testing.assert_array_equal(train.get_ydata(), history.loss)
    np.testing.assert_array_equal(validation.get_ydata(), history.val_loss)
    assert marker_line.get_xdata()[0] == history.best_epoch  # epochs count from 1 everywhere
    assert marker_point.get_ydata()[0] == history.val_loss[history.best_epoch - 1]
    assert f"best epoch {history.best_epoch}" in marker_line.get_label()
    # a network stands for its last History; accuracy works for classifiers
    ax = plot_learning_curves(net, metric="accuracy", best_epoch=1)
    np.testing.assert_array_equal(ax.get_lines()[1].get_ydata(), history.val_accuracy)
    assert ax.get_lines()[2].get_xdata()[0] == 1


def test_gradient_norms_one_line_per_dense_layer_on_a_log_axis(stopped_history):
    _, history = stopped_history
    _, ax = plt.subplots()
    assert plot_gradient_norms(history, ax=ax) is ax
    lines = ax.get_lines()
    assert len(lines) == 3 and ax.get_yscale() == "log"
    norms = history.gradient_norm_array()
    for index, line in enumerate(lines):
        np.testing.assert_array_equal(line.get_ydata(), norms[:, index])
    assert lines[0].get_label() == "layer 1 (input side)" and lines[-1].get_label() == "layer 3 (output)"


def test_activation_curves_are_the_textbook_functions_and_derivatives():
    z = np.linspace(-6, 6, 121)
    sigmoid = 1 / (1 + np.exp(-z))
    ax = plot_activation_curves(["sigmoid", "tanh", "relu"], z=z)
    curves = [line.get_ydata() for line in ax.get_lines()]
    np.testing.assert_allclose(curves[0], sigmoid, rtol=1e-12)  # rounding of two formulas
    np.testing.assert_allclose(curves[1], np.tanh(z), rtol=1e-12)
    np.testing.assert_array_equal(curves[2], np.maximum(z, 0))
    ax = plot_activation_curves(["sigmoid", rn.Tanh()], z=z, derivative=True)
    derivative = ax.get_lines()[0].get_ydata()
    np.testing.assert_allclose(derivative, sigmoid * (1 - sigmoid), rtol=1e-12)
    assert derivative.max() <= 0.25
    np.testing.assert_allclose(ax.get_lines()[1].get_ydata(), 1 - np.tanh(z) ** 2, rtol=1e-12)
    assert ax.get_lines()[1].get_label() == "Tanh"


def test_plots_refuse_what_they_cannot_draw(stopped_history):
    _, history = stopped_history
    with pytest.raises(TypeError, match="History"):
        plot_learning_curves([1.0, 2.0])
    with pytest.raises(ValueError, match="no epochs"):
        plot_gradient_norms(rn.History())
    with pytest.raises(ValueError, match="metric"):
        plot_learning_curves(history, metric="f1")
    with pytest.raises(ValueError, match="best_epoch"):
        plot_learning_curves(history, best_epoch=len(history) + 1)
    with pytest.raises(ValueError, match="best_epoch"):
        plot_learning_curves(history, best_epoch=0)  # epochs count from 1
    with pytest.raises(ValueError, match="labels"):
        plot_gradient_norms(history, labels=["a"])
    with pytest.raises(ValueError, match="z must be"):
        plot_activation_curves(z=[0.0, np.nan])
    regression = rn.MLP([1, 3, 1], output="linear").fit(np.ones((8, 1)), np.ones(8), epochs=2,
                                                        progress=False)
    with pytest.raises(ValueError, match="no 'accuracy'"):
        plot_learning_curves(regression, metric="accuracy")
