"""Conversion diagnostics: one call returns per-layer rates against the rate network, histograms,
silent and saturated units and accuracy against presentation time; plots draw them on an Axes."""

import matplotlib.pyplot as plt
import numpy as np
import pytest

import neurosim as ns
import ratenet as rn


def _constructed_net():
    """One hidden layer of 4 LIF neurons with known inputs v_in = w x + 1 for x = 1: a silent neuron
    (v_in = -2), two ordinary ones (v_in = 2, 4), and one driven to 0.95 of its ceiling 500 Hz."""
    # G(v) = 1 / (tau_ref + tau_m ln(1 + 1/(v - 1))) = 475 Hz needs ln(1 + 1/(v-1)) = (1/475 - 0.002)/0.02
    v_saturated = 1 + 1 / np.expm1((1 / 475 - 0.002) / 0.02)
    v_in = np.array([-2.0, 2.0, 4.0, v_saturated])
    layers = [rn.Dense(1, 4, weights=(v_in - 1)[:, None], bias=np.zeros(4)), rn.LIFRate(),
              rn.Dense(4, 2, weights=np.array([[1.0, 0, 0, 0], [0, 0, 1.0, 0]]), bias=np.zeros(2))]
    return rn.Network(layers, loss="softmax_cross_entropy"), v_in


def test_diagnose_counts_silent_and_saturated_units_against_the_analytic_rates():
    net, v_in = _constructed_net()
    snet = rn.to_spiking(net)
    X = np.ones((3, 1))
    diagnosis = rn.diagnose(snet, X, t_end=1.0, t_settle=0.1, saturation=0.9)
    (layer,) = diagnosis.layers
    expected = ns.lif_rate(v_in)
    np.testing.assert_allclose(layer.predicted, np.tile(expected, (3, 1)), rtol=1e-12)
    np.testing.assert_allclose(layer.measured, np.tile(expected, (3, 1)), rtol=0.01, atol=1 / 0.9)
    assert (layer.silent_units, layer.silent_but_predicted) == (1, 0)
    assert layer.saturated_units == 1 and layer.saturated_fraction == pytest.approx(0.25)
    assert layer.max_rate == 500.0 and layer.bin_edges[-1] == 500.0
    assert layer.histogram.sum() == 12
    assert layer.correlation > 0.999 and layer.slope == pytest.approx(1.0, abs=0.01)
    assert diagnosis.rate_accuracy is None and diagnosis.times.size == 0
    assert "hidden 1" in diagnosis.summary() and "LIF" in repr(layer)


def test_diagnose_reports_accuracies_from_the_same_run():
    X_train, X_test, y_train, y_test = rn.datasets.digits(seed=0)
    net = rn.MLP([64, 40, 10], activation=rn.SoftLIFRate(), output="softmax", seed=0)
    net.fit(X_train, y_train, epochs=15, batch_size=32, optimizer=rn.Adam(lr=2e-3), progress=False)
    snet = rn.to_spiking(net)
    X, y = X_test[:90], y_test[:90]
    diagnosis = rn.diagnose(snet, X, y, t_end=0.1, n_points=5, seed=2)
    assert diagnosis.rate_accuracy == pytest.approx(net.score(X, y))
    assert diagnosis.spiking_accuracy == pytest.approx(snet.score(X, y, t_end=0.1, seed=2))
    assert diagnosis.accuracy[-1] == pytest.approx(diagnosis.spiking_accuracy)
    np.testing.assert_allclose(diagnosis.times, [0.02, 0.04, 0.06, 0.08, 0.1])
    rates, _ = snet.rate_forward(X)
    np.testing.assert_array_equal(diagnosis.layers[0].predicted, rates[0])
    assert "accuracy: rate" in diagnosis.summary()

    fig, axes = plt.subplots(1, 3)
    assert rn.plot_rate_scatter(diagnosis, 0, ax=axes[0]) is axes[0]
    assert len(axes[0].collections) == 1 and axes[0].get_xlabel() == "rate network's rate (Hz)"
    assert rn.plot_rate_histogram(diagnosis, -1, ax=axes[1]) is axes[1]
    assert rn.plot_accuracy_over_time(diagnosis, ax=axes[2]) is axes[2]
    np.testing.assert_allclose(axes[2].lines[0].get_xdata(), diagnosis.times * 1e3)
    assert rn.plot_rate_scatter(diagnosis, max_points=50).collections[0].get_offsets().shape == (50, 2)


def test_diagnostics_refuse_what_they_cannot_use():
    net, _ = _constructed_net()
    snet = rn.to_spiking(net)
    diagnosis = rn.diagnose(snet, np.ones((2, 1)), t_end=0.05)
    with pytest.raises(TypeError, match="SpikingClassifier"):
        rn.diagnose(net, np.ones((2, 1)))
    with pytest.raises(ValueError, match="saturation must be in"):
        rn.diagnose(snet, np.ones((2, 1)), saturation=1.5)
    with pytest.raises(ValueError, match="index of the 1 hidden layers"):
        rn.plot_rate_scatter(diagnosis, layer=1)
    with pytest.raises(TypeError, match="matplotlib Axes"):
        rn.plot_rate_histogram(diagnosis, ax="axes")
    with pytest.raises(ValueError, match="with labels"):
        rn.plot_accuracy_over_time(diagnosis)
