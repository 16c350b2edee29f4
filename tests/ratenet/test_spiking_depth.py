"""Deep and mixed conversions: three hidden layers of different LIF neurons convert, each layer's
spikes follow its rates (against the analytic LIF rate of the input each layer really receives,
and against the rate network), BatchNorm and Dropout are read as at inference, and activations
without a spiking twin are refused by name."""

import numpy as np
import pytest

import neurosim as ns
import ratenet as rn


def _deep_net():
    activations = [rn.LIFRate(), rn.SoftLIFRate(sigma=0.02, tau_ref=0.003), rn.LIFRate(tau_m=0.01, gain=1.5)]
    sizes = [8, 30, 25, 20, 4]
    layers = []
    for index, activation in enumerate(activations):
        layers += [rn.Dense(sizes[index], sizes[index + 1]), activation]
    return rn.Network(layers + [rn.Dense(20, 4)], loss="softmax_cross_entropy", seed=3)


def test_every_layer_of_a_deep_mixed_twin_follows_its_rates():
    # Each hidden layer l > 1 is driven by the filtered spikes of layer l - 1: given the rates that
    # layer really fired at, its neurons' mean input is v = g (W A r + b) + c and, away from
    # threshold (more than 3 sigma of the input's shot noise, Campbell's theorem, tau_s = 0.1 s),
    # they fire at the analytic LIF rate of v: within 0.01 in h (the window holds >= 2.2 s of
    # spikes). Against the rate network itself the errors of the layers below add up: every layer
    # still correlates with it (r >= 0.97) with a slope within [0.9, 1.05].
    net = _deep_net()
    X = np.random.default_rng(0).uniform(0, 1, (20, 8))
    tau_s = 0.1
    snet = rn.to_spiking(net, ns.PSC(tau_s), allow_untrained=True)
    assert [layer.twin.kind for layer in snet.layers] == ["LIF", "LIF", "LIF"]
    assert [(layer.twin.tau_m, layer.twin.tau_ref) for layer in snet.layers] == [
        (0.02, 0.002), (0.02, 0.003), (0.01, 0.002)]
    diagnosis = rn.diagnose(snet, X, t_end=3.0, t_settle=0.8)
    for below, layer, measured_below, record in zip(snet.layers, snet.layers[1:], diagnosis.layers,
                                                    diagnosis.layers[1:], strict=False):
        rates_in = measured_below.measured
        sigma = layer.twin.gain * np.sqrt(rates_in @ ((below.twin.amplitude * layer.weights) ** 2).T
                                          / (2 * tau_s))
        v_in = layer.twin.input_of(below.twin.amplitude * rates_in @ layer.weights.T + layer.bias)
        expected = ns.lif_rate(v_in, tau_m=layer.twin.tau_m, tau_ref=layer.twin.tau_ref)
        far = np.abs(v_in - 1) > 3 * sigma
        assert far.sum() >= 50
        np.testing.assert_allclose(layer.twin.amplitude * record.measured[far],
                                   layer.twin.amplitude * expected[far], rtol=0, atol=0.01)
    for record in diagnosis.layers:
        assert record.correlation >= 0.97
        assert 0.9 <= record.slope <= 1.05


def test_a_trained_three_hidden_layer_soft_lif_network_keeps_its_accuracy():
    X_train, X_test, y_train, y_test = rn.datasets.digits(seed=0)
    net = rn.MLP([64, 48, 48, 48, 10], activation=rn.SoftLIFRate(sigma=0.02), output="softmax", seed=0)
    net.fit(X_train, y_train, epochs=25, batch_size=32, optimizer=rn.Adam(lr=1e-3), progress=False)
    X, y = X_test[:180], y_test[:180]
    rate_accuracy = net.score(X, y)
    assert rate_accuracy > 0.93
    assert rn.spiking_accuracy(net, X, y, t_end=0.2) >= rate_accuracy - 0.02


def test_batch_norm_is_folded_and_dropout_dropped_as_at_inference():
    layers = [rn.Dense(6, 10), rn.BatchNorm(10), rn.LIFRate(), rn.Dropout(0.3), rn.Dense(10, 8),
              rn.LIFRate(), rn.Dense(8, 3), rn.Dense(3, 2)]
    net = rn.Network(layers, loss="softmax_cross_entropy", seed=0)
    norm = layers[1]
    rng = np.random.default_rng(1)
    norm.gamma[:] = rng.uniform(0.5, 2.0, 10)
    norm.beta[:] = rng.normal(0.0, 0.5, 10)
    norm.running_mean[:] = rng.normal(0.0, 0.3, 10)
    norm.running_var[:] = rng.uniform(0.2, 3.0, 10)
    X = rng.uniform(0, 1, (9, 6))
    snet = rn.to_spiking(net, allow_untrained=True)
    assert [layer.n for layer in snet.layers] == [10, 8]
    assert snet.output.weights.shape == (2, 8)                  # two Dense layers in a row, composed
    _, outputs = snet.rate_forward(X)
    np.testing.assert_allclose(outputs, net.forward(X), rtol=1e-10, atol=1e-12)


def test_a_network_ending_with_an_activation_reads_it_after_the_readout():
    net = rn.Network([rn.Dense(3, 6), rn.LIFRate(), rn.Dense(6, 2), rn.Sigmoid()], loss="mse", seed=0)
    X = np.random.default_rng(2).uniform(0, 1, (4, 3))
    snet = rn.to_spiking(net, allow_untrained=True)
    assert isinstance(snet.output.activation, rn.Sigmoid)
    _, outputs = snet.rate_forward(X)
    np.testing.assert_allclose(outputs, net.forward(X), rtol=1e-12)
    result = snet.run(X, t_end=0.05)
    assert np.all((result.outputs > 0) & (result.outputs < 1))


@pytest.mark.parametrize(("hidden", "position", "name"), [
    (rn.Sigmoid(), 3, "Sigmoid"), (rn.Tanh(), 3, "Tanh"), (rn.Softmax(), 3, "Softmax")])
def test_a_hidden_activation_without_a_twin_is_refused_by_name(hidden, position, name):
    net = rn.Network([rn.Dense(4, 5), rn.LIFRate(), rn.Dense(5, 5), hidden, rn.Dense(5, 2)],
                     loss="softmax_cross_entropy")
    with pytest.raises(ValueError, match=rf"hidden layer 2 \(layer {position}, {name}.*no spiking twin"):
        rn.to_spiking(net, allow_untrained=True)


def test_layers_that_are_not_read_as_a_chain_are_refused():
    with pytest.raises(ValueError, match="at least one hidden layer"):
        rn.to_spiking(rn.Network([rn.Dense(4, 2)], loss="mse"), allow_untrained=True)
    with pytest.raises(TypeError, match="ratenet Network"):
        rn.to_spiking("net")


def test_register_twin_teaches_twin_of_a_new_activation(monkeypatch):
    from ratenet import conversion

    monkeypatch.setattr(conversion, "_TWINS", list(conversion._TWINS))     # the registry is global

    class Shifted(rn.Sigmoid):
        pass

    assert conversion.twin_of(Shifted()) is None
    lif = conversion.twin_of(rn.LIFRate())
    conversion.register_twin(Shifted, lambda activation, context: lif)
    assert conversion.twin_of(Shifted()) is lif
    assert conversion.twin_of(rn.Sigmoid()) is None                          # its parent has none
    with pytest.raises(TypeError, match="activation_type must be an Activation subclass"):
        conversion.register_twin(int, lambda activation, context: None)
    with pytest.raises(TypeError, match="build must be a callable"):
        conversion.register_twin(Shifted, 3)
