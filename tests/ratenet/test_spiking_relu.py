"""ReLU networks as integrate-and-fire neurons with reset by subtraction, after data-based weight
normalisation (Diehl et al. 2015, Rueckauer et al. 2017). References: an IF neuron with reset by
subtraction counts its input exactly (rate = input for a constant input), and the layer scales are
recomputed here from the data with numpy."""

import numpy as np
import pytest

import neurosim as ns
import ratenet as rn


def _relu_net():
    rng = np.random.default_rng(0)
    layers = [rn.Dense(6, 20, weights=rng.normal(0.2, 1.0, (20, 6)), bias=rng.normal(0, 0.3, 20)),
              rn.ReLU(),
              rn.Dense(20, 15, weights=rng.normal(0.05, 0.4, (15, 20)), bias=rng.normal(0, 0.3, 15)),
              rn.ReLU(), rn.Dense(15, 3)]
    return rn.Network(layers, loss="softmax_cross_entropy")


def test_relu_layers_fire_at_their_normalised_activations():
    # Scale of a layer: the maximum of its positive activations on the data (percentile 100). Layer
    # 1's IF neurons get the constant input J = max_rate z / scale and fire at exactly J Hz: over a
    # 1.5 s window the count is off by less than one spike (1 / 1.5 s). Layer 2 integrates layer 1's
    # filtered spikes, whose mean (after the sampled area) is the rate network's h: an IF neuron
    # integrates exactly, so its count follows the mean input within two spikes (the start and the
    # synaptic filter's tail).
    net = _relu_net()
    X = np.random.default_rng(1).uniform(0, 1, (8, 6))
    W1, b1, W2, b2 = net.layers[0].W, net.layers[0].b, net.layers[2].W, net.layers[2].b
    z1 = X @ W1.T + b1
    h1 = np.maximum(z1, 0)
    z2 = h1 @ W2.T + b2
    scales = [z1[z1 > 0].max(), z2[z2 > 0].max()]
    max_rate = 400.0
    snet = rn.to_spiking(net, normalize_on=X, percentile=100, max_rate=max_rate)
    assert [layer.twin.kind for layer in snet.layers] == ["IF", "IF"]
    np.testing.assert_allclose([layer.twin.scale for layer in snet.layers], scales, rtol=1e-12)
    result = snet.run(X, t_end=1.6, t_settle=0.1)
    np.testing.assert_allclose(result.hidden_rates[0], max_rate * h1 / scales[0], rtol=0, atol=1 / 1.5)
    np.testing.assert_allclose(result.hidden_rates[1], max_rate * np.maximum(z2, 0) / scales[1], rtol=0,
                               atol=2 / 1.5)


@pytest.fixture(scope="module")
def trained_relu_net():
    X_train, X_test, y_train, y_test = rn.datasets.digits(seed=0)
    net = rn.MLP([64, 64, 64, 10], activation="relu", output="softmax", seed=0)
    net.fit(X_train, y_train, epochs=25, batch_size=32, optimizer=rn.Adam(lr=1e-3), progress=False)
    return net, X_train, X_test, y_train, y_test


def test_normalisation_keeps_every_layer_within_its_rate_budget_on_the_training_data(trained_relu_net):
    # With the maximum as scale, no training sample drives a neuron above max_rate: every layer's
    # measured rates stay within the budget (up to the counting resolution 1 / 0.9 s) and none is
    # saturated. A scale too small (the median of the activations) sends many past it.
    net, X_train, *_ = trained_relu_net
    X = X_train[:200]
    snet = rn.to_spiking(net, normalize_on=X_train, percentile=100, max_rate=300.0)
    diagnosis = rn.diagnose(snet, X, t_end=1.0, t_settle=0.1, saturation=1.0)
    for layer in diagnosis.layers:
        assert layer.max_rate == 300.0
        assert layer.measured.max() <= 300.0 + 1 / 0.9
        assert layer.saturated_fraction < 0.002
        assert layer.correlation > 0.999
    too_small = rn.to_spiking(net, normalize_on=X_train, percentile=50, max_rate=300.0)
    overdriven = rn.diagnose(too_small, X, t_end=0.2, saturation=1.0)
    assert all(layer.saturated_fraction > 0.05 for layer in overdriven.layers)


def test_a_trained_relu_network_keeps_its_accuracy_as_spikes(trained_relu_net):
    net, X_train, X_test, _, y_test = trained_relu_net
    X, y = X_test[:180], y_test[:180]
    rate_accuracy = net.score(X, y)
    assert rate_accuracy > 0.93
    snet = rn.to_spiking(net, normalize_on=X_train)                 # percentile 99.9, 500 Hz
    assert snet.score(X, y, t_end=0.2) >= rate_accuracy - 0.01


def test_a_spike_delivers_its_charge_and_filtered_trains_average_the_sampled_area():
    # One spike at t = 0 through a unit weight into a neuron's input: the network's current probe
    # summed over the steps (times dt) is the spike's charge, 1, for every synapse (the twin's
    # weights need no correction); a filtered probe samples the kernel, whose area on the grid is
    # what the filtered readout divides by.
    for synapse in (ns.PSC(0.005), ns.PSC(0.005, method="euler"), ns.PSC(0.003, order=1)):
        network = ns.SpikingNetwork(dt=1e-3)
        source = network.add_spike_source(trains=ns.SpikeTrains([np.zeros(1)], t_end=0.5))
        target = network.add_lif(1)
        network.connect(source, target, np.ones((1, 1)), synapse=synapse)
        current = network.probe(target, "current")
        filtered = network.probe(source, "filtered", synapse=synapse)
        result = network.run(0.5)
        assert result[current].sum() * 1e-3 == pytest.approx(1.0, rel=1e-12)
        assert synapse.sampled_area(1e-3) == pytest.approx(result[filtered].sum() * 1e-3, rel=1e-9)
    ratio = 1e-3 / 0.005
    assert ns.PSC(0.005).sampled_area(1e-3) == pytest.approx(ratio / -np.expm1(-ratio), rel=1e-12)


def test_relu_conversion_errors_name_what_to_give():
    net = _relu_net()
    with pytest.raises(ValueError, match=r"hidden 1 \(ReLU\).*normalize_on=X_train"):
        rn.to_spiking(net)
    with pytest.raises(ValueError, match=r"normalize_on must have shape \(n_samples, 6\)"):
        rn.to_spiking(net, normalize_on=np.zeros((4, 5)))
    with pytest.raises(ValueError, match="percentile must be in"):
        rn.to_spiking(net, normalize_on=np.zeros((4, 6)), percentile=101)
    silent = rn.Network([rn.Dense(2, 2, weights=np.ones((2, 2)), bias=np.zeros(2)), rn.ReLU(),
                         rn.Dense(2, 2)], loss="softmax_cross_entropy")
    with pytest.raises(ValueError, match="never active"):
        rn.to_spiking(silent, normalize_on=-np.ones((4, 2)))
